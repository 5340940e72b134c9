"""Every subcommand against the same mistakes: one message form, one exit status (the
README's rule), no traceback, and no input or previous output ever changed.

The rule: 0 ok; 1 the input is damaged or holds no record; 2 usage, an input that cannot
be read (missing, unreadable, a directory where a file is needed) or an output refused;
130 interrupted (Ctrl-C), 143 terminated (SIGTERM).
"""

from __future__ import annotations

import bz2
import fcntl
import gzip
import hashlib
import json
import lzma
import os
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard

from conftest import DATA, OWN_GROUP, OWN_PASSWD, drain_terminal

BSM = [sys.executable, "-m", "bsmtrail"]
TRAIL = DATA / "gen-1.bsm"

#: How each command is run on one input, writing (where it writes) to ``out``.
Command = Callable[[str, str], list[str]]
COMMANDS: dict[str, Command] = {
    "print": lambda inp, out: ["print", "-n", inp],
    "summary": lambda inp, out: ["summary", inp],
    "verify": lambda inp, out: ["verify", "-q", inp],
    "reduce": lambda inp, out: ["reduce", "-A", "-w", out, inp],
    "convert": lambda inp, out: ["convert", "-q", inp, "-o", out],
    "stats": lambda inp, out: ["stats", "-q", "--plot", out, inp],
}
#: The commands that write a file, and the name they write.
WRITERS = {"reduce": "out.bsm", "convert": "out.parquet", "stats": "out.png"}
#: The commands that read the trails of a directory (the others need a file).
READ_DIRECTORIES = {"verify", "reduce", "convert", "stats"}


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [*BSM, *args], capture_output=True, cwd=cwd, env={**os.environ, "TZ": "UTC"}
    )


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(d: Path) -> dict[str, str]:
    """Every file below ``d`` (dot files included) and its hash."""
    return {
        str(p.relative_to(d)): digest(p) if p.is_file() else "dir"
        for p in sorted(d.rglob("*"))
        if not p.is_symlink()
    }


def clean(p: subprocess.CompletedProcess[bytes]) -> str:
    err = p.stderr.decode()
    assert "Traceback" not in err, err
    return err


@pytest.fixture
def case(tmp_path: Path) -> Path:
    """A case directory with the trail, its compressed forms and the usual mistakes."""
    data = TRAIL.read_bytes()
    (tmp_path / "t.bsm").write_bytes(data)
    (tmp_path / "t.bsm.gz").write_bytes(gzip.compress(data))
    (tmp_path / "t.bsm.bz2").write_bytes(bz2.compress(data))
    (tmp_path / "t.bsm.xz").write_bytes(lzma.compress(data))
    (tmp_path / "t.bsm.zst").write_bytes(zstandard.ZstdCompressor().compress(data))
    (tmp_path / "empty.bsm").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("this is not an audit trail\n")
    d = tmp_path / "audit"
    d.mkdir()
    (d / "20231201220847.20231201220910").write_bytes(data)
    (d / "current").symlink_to("20231201220847.20231201220910")
    (d / "audit_control").write_text("dir:/var/audit\n")
    (tmp_path / "out").mkdir()
    return tmp_path


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_missing_file(command: str, case: Path) -> None:
    before = snapshot(case)
    p = run(COMMANDS[command]("nope.bsm", f"out/{WRITERS.get(command, 'x')}"), case)
    assert p.returncode == 2
    assert clean(p).endswith(f"bsmtrail {command}: nope.bsm: No such file or directory\n")
    assert snapshot(case) == before  # no empty output left behind


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_directory(command: str, case: Path) -> None:
    before = snapshot(case)
    out = f"out/{WRITERS.get(command, 'x')}"
    p = run(COMMANDS[command]("audit", out), case)
    err = clean(p)
    if command not in READ_DIRECTORIES:
        assert p.returncode == 2
        assert f"bsmtrail {command}: audit: Is a directory" in err
        assert snapshot(case) == before
        return
    # The trails of the directory are read; the live-trail link and the control file are
    # passed over, each with a note; the result is that of the one trail.
    assert p.returncode == 0, err
    assert f"bsmtrail {command}: note: audit/current: skipped (a link to " in err
    assert f"bsmtrail {command}: note: audit/audit_control: skipped (not a BSM trail" in err
    assert f"bsmtrail {command}: note: audit: 1 trail read, 2 other files skipped\n" in err
    alone = run(COMMANDS[command]("t.bsm", out + ".alone"), case)
    if command == "reduce":
        assert (case / out).read_bytes() == (case / (out + ".alone")).read_bytes()
    elif command == "verify":
        assert p.stdout.count(b": OK\n") == 1 == alone.stdout.count(b": OK\n")
        # and the directory, as auditd's trail set of one
        assert b"audit (trail set of 1): OK, 2023-12-01 22:08:47 to " in p.stdout
        assert b"trail set" not in alone.stdout


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize(
    ("name", "why"),
    [("empty.bsm", "no records: empty file"), ("notes.txt", "no records: not a BSM trail")],
)
def test_a_file_without_records(command: str, name: str, why: str, case: Path) -> None:
    inputs = {n: digest(case / n) for n in ("empty.bsm", "notes.txt")}
    p = run(COMMANDS[command](name, f"out/{WRITERS.get(command, 'x')}"), case)
    assert p.returncode == 1
    assert f"bsmtrail {command}: {name}: {why}" in clean(p)
    assert {n: digest(case / n) for n in inputs} == inputs


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz", ".zst"])
def test_compressed_trails(command: str, suffix: str, case: Path) -> None:
    name = "t.bsm" + suffix
    packed = case / "packed"
    (case / name).rename(packed)  # recognised by content, not by name
    plain = run(COMMANDS[command]("t.bsm", "out/plain"), case)
    got = run(COMMANDS[command]("packed", "out/packed"), case)
    assert (plain.returncode, got.returncode) == (0, 0), clean(got)
    if command == "print":
        assert got.stdout == plain.stdout
    elif command in ("summary", "verify"):
        assert got.stdout.replace(b"packed", b"t.bsm") == plain.stdout
    elif command == "reduce":
        assert (case / "out/packed").read_bytes() == (case / "out/plain").read_bytes()
    elif command == "convert":
        pq = pytest.importorskip("pyarrow.parquet")
        a, b = pq.read_table(case / "out/plain"), pq.read_table(case / "out/packed")
        assert a.drop_columns(["source"]).equals(b.drop_columns(["source"]))
    else:
        assert (case / "out/packed").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("command", sorted(WRITERS))
@pytest.mark.parametrize("how", ["same", "symlink", "hardlink", "inside"])
def test_an_output_that_is_an_input(command: str, how: str, case: Path) -> None:
    (case / "link").symlink_to("t.bsm")
    os.link(case / "t.bsm", case / "hard")
    inp, out = {
        "same": ("t.bsm", "t.bsm"),
        "symlink": ("t.bsm", "link"),
        "hardlink": ("hard", "t.bsm"),
        "inside": ("audit", "audit/new.out"),
    }[how]
    before = snapshot(case)
    p = run(COMMANDS[command](inp, out), case)
    assert p.returncode == 2
    assert f"bsmtrail {command}: {out}: refusing to " in clean(p)
    assert snapshot(case) == before


@pytest.mark.parametrize("command", sorted(WRITERS))
def test_an_output_in_a_missing_directory(command: str, case: Path) -> None:
    before = snapshot(case)
    p = run(COMMANDS[command]("t.bsm", "missing/out.x"), case)
    assert p.returncode == 2
    assert f"bsmtrail {command}: missing/out.x: no such directory" in clean(p)
    assert snapshot(case) == before


def test_convert_partitioned_over_an_input_directory_is_refused(case: Path) -> None:
    before = snapshot(case)
    p = run(["convert", "-q", "audit/", "-o", ".", "--partition-by", "day"], case)
    assert p.returncode == 2 and "refusing to replace a directory that holds" in clean(p)
    assert snapshot(case) == before


def _unread(fd: int) -> int:
    buf = bytearray(4)
    fcntl.ioctl(fd, termios.FIONREAD, buf)
    return int.from_bytes(buf, sys.byteorder)


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_mid_run(command: str, sig: signal.Signals, case: Path) -> None:
    """The command reads a pipe that has sent half a trail: interrupted there, it says so
    in one line, exits 130 (143), and leaves the previous output and no partial file."""
    out = case / "out" / WRITERS.get(command, "x")
    out.write_bytes(b"the previous output")
    fifo = case / "pipe"
    os.mkfifo(fifo)
    before = snapshot(case)
    # O_RDWR: opening the write end does not wait for the reader.
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        proc = subprocess.Popen(
            [*BSM, *COMMANDS[command]("pipe", str(out))],
            cwd=case,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        os.write(fd, TRAIL.read_bytes()[:30_000])
        deadline = time.monotonic() + 60
        while _unread(fd) and time.monotonic() < deadline:  # the command is reading
            time.sleep(0.02)
        time.sleep(0.2)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        os.close(fd)
    word, status = ("interrupted", 130) if sig == signal.SIGINT else ("terminated", 143)
    assert proc.returncode == status
    assert err.decode() == f"bsmtrail {command}: {word}\n"
    assert snapshot(case) == before


@pytest.mark.parametrize("command", ["convert", "reduce"])
def test_interrupted_while_writing(command: str, tmp_path: Path) -> None:
    """Interrupted after the temporary output exists: it is removed, the previous file is
    untouched."""
    big = tmp_path / "big.bsm"
    assert subprocess.run([*BSM, "gen", "-q", "--size", "60MB", str(big)]).returncode == 0
    out = tmp_path / ("o.parquet" if command == "convert" else "o.bsm")
    out.write_bytes(b"previous")
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    # reduce writes big.bsm's records, then waits on the pipe; convert is slow enough.
    inputs = [str(big), str(fifo)] if command == "reduce" else [str(big)]
    args = (
        ["reduce", "-A", "-w", str(out), *inputs]
        if command == "reduce"
        else (["convert", "-q", str(big), "-o", str(out)])
    )
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        proc = subprocess.Popen([*BSM, *args], stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".o.*.partial")) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert list(tmp_path.glob(".o.*.partial")), "the temporary output never appeared"
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        os.close(fd)
    assert (proc.returncode, err) == (130, f"bsmtrail {command}: interrupted\n".encode())
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["big.bsm", out.name, "pipe"])


# -- the other rules of the issue, through the command line --------------------------------


def test_reduce_pipes_into_print_under_pipefail(case: Path) -> None:
    p = subprocess.run(
        [
            "bash",
            "-o",
            "pipefail",
            "-c",
            f"{' '.join(BSM)} reduce -m AUE_EXECVE t.bsm | {' '.join(BSM)} print -ln",
        ],
        capture_output=True,
        cwd=case,
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.count(b"\n") >= 1 and b"execve" in p.stdout


def test_print_says_where_names_come_from(case: Path) -> None:
    p = run(["print", "-l", "t.bsm"], case)
    assert p.returncode == 0
    err = clean(p)
    assert err.count("\n") == 1 and "names come from this machine" in err
    # The evidence's passwd without its group: groups are numbers, never this machine's.
    p = run(["print", "-l", "--passwd", str(OWN_PASSWD), "t.bsm"], case)
    assert "groups are shown as numbers" in clean(p)
    p_named = run(
        ["print", "-l", "--passwd", str(OWN_PASSWD), "--group", str(OWN_GROUP), "t.bsm"], case
    )
    assert b",staff," in p_named.stdout and b",staff," not in p.stdout
    assert b",alice," in p.stdout and b",alice," in p_named.stdout
    assert run(["print", "-ln", "t.bsm"], case).stderr == b""


def test_stats_names_only_from_the_evidence(case: Path) -> None:
    got = json.loads(run(["stats", "--json", "-q", "t.bsm"], case).stdout)
    assert {u["name"] for u in got["users"]["auid"]} <= {"", "(unset: -1)", "(no subject)"}
    got = json.loads(
        run(["stats", "--json", "-q", "--passwd", str(OWN_PASSWD), "t.bsm"], case).stdout
    )
    assert "alice" in {u["name"] for u in got["users"]["auid"]}


def test_convert_names_its_format_or_refuses(case: Path) -> None:
    p = run(["convert", "t.bsm", "-o", "out/x.txt"], case)
    assert p.returncode == 2 and "unknown extension '.txt'" in clean(p)
    assert not (case / "out" / "x.txt").exists()
    p = run(["convert", "t.bsm", "-o", "out/noext"], case)
    assert p.returncode == 0 and "writing parquet to out/noext (no --format" in clean(p)
    assert (case / "out" / "noext").read_bytes()[:4] == b"PAR1"


def test_xml_strict_keeps_utf8_text(tmp_path: Path) -> None:
    from bsmtrail.writer import RecordBuilder, write_trail

    trail = tmp_path / "u.bsm"
    write_trail(trail, [RecordBuilder(72, time=1_700_000_000).text("café 日本語").return_()])
    p = run(["print", "-xn", "--xml-strict", str(trail)], tmp_path)
    assert "<text>café 日本語</text>" in p.stdout.decode()


def test_missing_optional_packages_name_what_to_install(case: Path) -> None:
    code = (
        "import sys; sys.modules['matplotlib'] = None; sys.modules['dask'] = None\n"
        "from bsmtrail.cli import main\n"
        "status = main(['stats', '-q', '--plot', 'out/p.png', 't.bsm'])\n"
        "import bsmtrail.dask\n"
        "try:\n    bsmtrail.dask.read_trails('t.bsm')\n"
        "except ImportError as e:\n    print(e)\n"
        "sys.exit(status)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=case)
    assert p.returncode == 2
    assert "pip install matplotlib" in p.stderr.decode()
    assert "pip install 'dask[dataframe,distributed]'" in p.stdout.decode()
    assert "bsmtrail[" not in p.stderr.decode() + p.stdout.decode()


def _on_terminal(args: list[str], cwd: Path, *, stdin_tty: bool) -> tuple[int, bytes, bytes]:
    """Run with stdout on a pseudo-terminal (and stdin too when ``stdin_tty``, closed
    at once: Ctrl-D); stderr is captured apart."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*BSM, *args],
        cwd=cwd,
        stdin=slave if stdin_tty else subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
    )
    os.close(slave)
    if stdin_tty:
        time.sleep(1.0)
        os.write(master, b"\x04")  # end of input on the terminal
    out = drain_terminal(master, time.monotonic() + 60)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def test_reduce_refuses_binary_on_a_terminal(case: Path) -> None:
    status, out, err = _on_terminal(["reduce", "-A", "t.bsm"], case, stdin_tty=False)
    assert status == 2 and out == b""
    assert b"refusing to write binary records to a terminal" in err


def test_print_and_reduce_say_they_read_stdin_from_a_terminal(case: Path) -> None:
    status, _, err = _on_terminal(["print", "-n"], case, stdin_tty=True)
    assert status == 0 and b"bsmtrail print: reading a trail from standard input" in err
    status, _, err = _on_terminal(["reduce", "-A", "-w", "out/x.bsm"], case, stdin_tty=True)
    assert b"bsmtrail reduce: reading a trail from standard input" in err


def test_verify_exit_1_means_damage_only(tmp_path: Path) -> None:
    from bsmtrail.writer import RecordBuilder, write_trail

    trail = tmp_path / "mac.bsm"
    records = [RecordBuilder(ev, time=1_700_000_000).subject(0).return_() for ev in (44901, 72)]
    write_trail(trail, records)
    p = run(["verify", str(trail)], tmp_path)
    assert p.returncode == 0, p.stdout
    assert b": OK" in p.stdout and b"note: events unknown to the event database: 44901 (1)" in (
        p.stdout
    )
    with trail.open("ab") as f:
        f.write(b"\x14\x00\x00")  # a cut record: damage
    p = run(["verify", "--json", str(trail)], tmp_path)
    got = json.loads(p.stdout)
    assert p.returncode == 1 and not got["ok"] and got["truncated_tail"]
    assert got["notes"] and got["unknown_events"] == {"44901": 1}


def test_follow_ends_on_ctrl_c_with_the_document_closed(tmp_path: Path) -> None:
    live = tmp_path / "current"
    live.write_bytes(TRAIL.read_bytes())
    proc = subprocess.Popen(
        [*BSM, "print", "-n", "-x", "--xml-strict", "-f", "--poll", "0.01", str(live)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    seen = b""
    while seen.count(b"</record>") < 444:  # every record of the file is out: now waiting
        line = proc.stdout.readline()
        assert line, seen[-200:]
        seen += line
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (130, b"bsmtrail print: interrupted\n")
    assert seen.startswith(b"<?xml") and out == b"</audit>\n"


def test_hostile_evidence_files_are_noted_not_fatal(case: Path) -> None:
    evil = case / "passwd"
    evil.write_bytes(OWN_PASSWD.read_bytes() + b"evil:*:" + b"9" * 5000 + b":0::/:/bin/sh\n")
    for args in (
        ["print", "-l", "--passwd", str(evil), "--group", str(OWN_GROUP), "t.bsm"],
        ["stats", "-q", "--passwd", str(evil), "t.bsm"],
        ["reduce", "-u", "alice", "--passwd", str(evil), "-w", "out/a.bsm", "t.bsm"],
        ["convert", "-q", "t.bsm", "--where", "-u alice", "--passwd", str(evil), "-o", "out/a.pq"],
    ):
        p = run(args, case)
        assert p.returncode == 0, p.stderr
        assert f"note: {evil}: 1 line(s) without a valid id skipped (line 6)" in clean(p)


def test_openblas_gets_one_thread_unless_the_user_chose() -> None:
    """numpy's OpenBLAS threads spin on the cores the command's workers need: the command
    line sets OPENBLAS_NUM_THREADS=1 before anything imports numpy, and keeps a user's."""
    code = (
        "import os, sys; import bsmtrail.cli; import numpy;"
        "print(os.environ.get('OPENBLAS_NUM_THREADS'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    for given, want in ((None, "1"), ("3", "3")):
        e = env if given is None else {**env, "OPENBLAS_NUM_THREADS": given}
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, env=e, timeout=60)
        assert p.returncode == 0, p.stderr
        assert p.stdout.decode().strip() == want

"""``bsmtrail print`` as a subprocess: praudit's command-line rules (§1.8), stdin and
streaming, closed pipes, exit statuses."""

from __future__ import annotations

import os
import select
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest


def bsmtrail() -> list[str]:
    """The installed console script (falls back to ``python -m bsmtrail``)."""
    exe = shutil.which("bsmtrail")
    return [exe] if exe else [sys.executable, "-m", "bsmtrail"]


@pytest.fixture
def tables(etc_dir: Path) -> list[str]:
    return [
        "--events",
        str(etc_dir / "audit_event"),
        "--passwd",
        str(etc_dir / "passwd"),
        "--group",
        str(etc_dir / "group"),
    ]


def run(
    args: list[str], stdin: bytes | None = None, tz: str = "UTC"
) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "TZ": tz}
    return subprocess.run(
        [*bsmtrail(), "print", *args],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=env,
        check=False,
        timeout=60,
    )


def record(payload: bytes = b"hi\0") -> bytes:
    tok = struct.pack(">BH", 0x28, len(payload)) + payload
    n = 18 + len(tok) + 7
    return (
        struct.pack(">BIBHHII", 0x14, n, 11, 45029, 0, 1230477138, 131)
        + tok
        + struct.pack(">BHI", 0x13, 0xB105, n)
    )


def test_files_match_golden_and_exit_zero(
    shared_trails: dict[str, Path], golden_dir: Path, tables: list[str]
) -> None:
    p = run(["-l", *tables, str(shared_trails["openbsm"]), str(shared_trails["apple"])])
    assert p.returncode == 0
    assert p.stderr == b""
    golden = (golden_dir / "openbsm.l.txt").read_bytes() + (golden_dir / "apple.l.txt").read_bytes()
    assert p.stdout == golden


def test_stdin_exits_zero_without_xml_footer(
    shared_trails: dict[str, Path], golden_dir: Path, tables: list[str]
) -> None:
    data = shared_trails["apple"].read_bytes()
    p = run(["-l", *tables], stdin=data)
    # praudit exits 1 after reading stdin; bsmtrail keeps its output, not that accident
    # (`reduce ... | print -l` under `set -o pipefail`).
    assert p.returncode == 0
    assert p.stdout == (golden_dir / "apple.l.txt").read_bytes()
    p = run(["-x", *tables], stdin=data)
    assert p.returncode == 0
    golden_x = (golden_dir / "apple.x.txt").read_bytes()
    assert p.stdout + b"</audit>\n" == golden_x
    # `-` is stdin as a file argument: praudit's file-argument rules apply.
    p = run(["-x", *tables, "-"], stdin=data)
    assert p.returncode == 0
    assert p.stdout == golden_x
    # --xml-strict always closes the document.
    p = run(["-x", "--xml-strict", *tables], stdin=data)
    assert p.stdout.endswith(b"</audit>\n")


def test_unopenable_file_is_reported_and_skipped(
    tmp_path: Path, shared_trails: dict[str, Path], golden_dir: Path, tables: list[str]
) -> None:
    missing = tmp_path / "nope.bsm"
    p = run(["-x", *tables, str(missing), str(shared_trails["openbsm"])])
    assert p.returncode == 2  # the README's rule: an input that cannot be read
    assert p.stderr == f"bsmtrail print: {missing}: No such file or directory\n".encode()
    assert p.stdout == (golden_dir / "openbsm.x.txt").read_bytes()


def test_raw_with_short_is_a_usage_error() -> None:
    p = run(["-r", "-s", "x.bsm"])
    assert p.returncode == 2
    assert b"usage:" in p.stderr
    assert p.stdout == b""


def test_combined_flags_delimiter_and_resync(tmp_path: Path, tables: list[str]) -> None:
    f = tmp_path / "junk.bsm"
    f.write_bytes(b"\x00\x15junk" + record() + record(b"yo\0"))
    assert run(["-l", *tables, str(f)]).stdout == b""
    p = run(["-lp", "-d", "", *tables, str(f)])
    assert p.returncode == 0
    lines = p.stdout.splitlines()
    assert lines == [
        b"header3111audit crash recovery0Sun Dec 28 15:12:18 2008 + 131 msectexthitrailer31",
        b"header3111audit crash recovery0Sun Dec 28 15:12:18 2008 + 131 msectextyotrailer31",
    ]
    p = run(["-rlp", str(f)])
    assert p.stdout.splitlines()[0] == b"20,31,11,45029,0,1230477138,131,40,hi,19,31,"
    # -p with no 0x14 at all ends at end of input (praudit would loop forever).
    none = tmp_path / "none.bsm"
    none.write_bytes(b"\x00" * 4096)
    assert run(["-p", str(none)]).stdout == b""


def test_local_time_zone(tmp_path: Path) -> None:
    f = tmp_path / "r.bsm"
    f.write_bytes(record())
    assert b"Sun Dec 28 10:12:18 2008" in run([str(f)], tz="XST+5").stdout
    assert b"Sun Dec 28 15:12:18 2008" in run(["--utc", str(f)], tz="XST+5").stdout


def test_apple_option(tmp_path: Path, tables: list[str]) -> None:
    ident = struct.pack(">BIH", 0xED, 0, 2) + b"a\0" + b"\0" + struct.pack(">H", 1) + b"\0\0"
    ident += struct.pack(">H", 2) + b"\xab\xcd"
    tok = ident
    n = 18 + len(tok) + 7
    data = (
        struct.pack(">BIBHHII", 0x14, n, 11, 45029, 0, 1230477138, 131)
        + tok
        + struct.pack(">BHI", 0x13, 0xB105, n)
    )
    f = tmp_path / "apple.bsm"
    f.write_bytes(data)
    assert b",unknown,0x" in run(["-l", *tables, str(f)]).stdout
    assert (
        b",identity,0,a,complete,,complete,0xabcd,"
        in run(["-l", "--apple", *tables, str(f)]).stdout
    )


def test_closed_pipe_ends_quietly(tmp_path: Path, shared_trails: dict[str, Path]) -> None:
    big = tmp_path / "big.bsm"
    big.write_bytes(b"".join(p.read_bytes() for p in shared_trails.values()) * 300)
    with subprocess.Popen(
        [*bsmtrail(), "print", "-n", str(big)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "TZ": "UTC"},
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().startswith(b"header,")
        proc.stdout.close()
        err = proc.stderr.read()
        assert proc.wait(timeout=60) == 0
    assert err == b""


def test_stdin_records_print_as_they_arrive(tables: list[str]) -> None:
    """Like ``tail -f trail | praudit -l``: a record prints before the input ends."""
    with subprocess.Popen(
        [*bsmtrail(), "print", "-l", *tables],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "TZ": "UTC"},
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        rec = record()
        proc.stdin.write(rec[:10])
        proc.stdin.flush()
        proc.stdin.write(rec[10:])
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "no output before end of input"
        assert proc.stdout.readline().endswith(b",text,hi,trailer,31,\n")
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0


def test_fifo_argument_is_streamed(tmp_path: Path, tables: list[str]) -> None:
    """A FIFO (like /dev/auditpipe) is read as it produces records, not mapped."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with subprocess.Popen(
        [*bsmtrail(), "print", "-l", *tables, str(fifo)],
        stdout=subprocess.PIPE,
        env={**os.environ, "TZ": "UTC"},
    ) as proc:
        assert proc.stdout is not None
        with open(fifo, "wb", buffering=0) as w:
            w.write(record())
            ready, _, _ = select.select([proc.stdout], [], [], 30)
            assert ready, "no output before the writer closed"
            assert proc.stdout.readline().endswith(b",text,hi,trailer,31,\n")
        assert proc.wait(timeout=30) == 0


def test_standard_output_gets_the_same_bytes_as_the_pieces(tmp_path: Path) -> None:
    """A file printed to the real standard output goes from Rust's buffers to the
    descriptor; the bytes equal the in-process pieces, for 1, 2 and 4 threads, every
    output style, small chunks (many pieces, reused buffers) and a cut last record."""
    from bsmtrail.render import XML_FOOTER, XML_HEADER, Renderer
    from bsmtrail.writer import generate_trail

    trail = tmp_path / "g.bsm"
    generate_trail(trail, 300_000, 3)
    cut = tmp_path / "cut.bsm"
    cut.write_bytes(trail.read_bytes()[:-11])
    for path in (trail, cut):
        for style in ([], ["-l"], ["-x"], ["-r", "-d", "|"]):
            renderer = Renderer(
                raw="-r" in style,
                numeric=True,
                oneline="-l" in style,
                xml="-x" in style,
                delimiter="|" if "-d" in style else ",",
                utc=True,
            )
            want = b"".join(renderer.chunks(path, threads=1))
            for threads in ("1", "2", "4"):
                args = [*style, "-n", "--utc", "--threads", threads, "--chunk-size", "4093"]
                p = run([*args, str(path)])
                assert p.returncode == 0, p.stderr
                body = p.stdout
                if "-x" in style:
                    body = body.removeprefix(XML_HEADER).removesuffix(XML_FOOTER)
                assert body == want, (path.name, style, threads)

"""Hostile input, round two: each finding of the red-team pass, from a minimal
reproduction built here. Memory is asserted as the peak resident set of a child process
(``os.wait4``'s rusage for that child alone), never by timing."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bsmtrail
from bsmtrail import _native
from bsmtrail.errors import REASON_CLASSES, BSMError, RecordSizeError

#: The acceptance bound on peak RSS for a command over hostile input.
RSS_LIMIT_MB = 400


def rec(text: bytes = b"", *, seconds: int = 1_700_000_000) -> bytes:
    """A header32 record (event 1), with a text token when ``text`` is given."""
    body = (b"\x28" + struct.pack(">H", len(text)) + text) if text else b""
    n = 18 + len(body) + 7
    head = b"\x14" + struct.pack(">IBHHII", n, 11, 1, 0, seconds, 5)
    return head + body + b"\x13\xb1\x05" + struct.pack(">I", n)


#: Runs a command and writes its peak RSS (KiB) and exit status to the file named first.
#: The command is started from this small process, not from pytest: a forked child's peak
#: includes the pages it shared with its parent before exec.
_MEASURE = (
    "import json, os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[2:])\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "with open(sys.argv[1], 'w') as f:\n"
    "    json.dump([usage.ru_maxrss, os.waitstatus_to_exitcode(status)], f)\n"
)


def run_measured(args: list[str]) -> tuple[float, int, str, str]:
    """Run ``args`` in a child and return (peak RSS in MB, exit status, stdout, stderr)."""
    with tempfile.NamedTemporaryFile(suffix=".json") as result:
        p = subprocess.run(
            [sys.executable, "-c", _MEASURE, result.name, *args],
            capture_output=True,
            check=False,
        )
        assert p.returncode == 0, p.stderr
        rss_kib, status = json.loads(Path(result.name).read_text())
    return (
        rss_kib / 1024,
        status,
        p.stdout.decode(errors="replace"),
        p.stderr.decode(errors="replace"),
    )


CLI = [sys.executable, "-m", "bsmtrail"]


@pytest.fixture(scope="module")
def damage_everywhere(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """100 MB of 25-byte records, each followed by one junk byte: 3.8 million damaged
    regions (the red-team pass's shape)."""
    unit = rec() + b"\x00"
    n = 100_000_000 // len(unit)
    path = tmp_path_factory.mktemp("hostile") / "damage-everywhere.bsm"
    path.write_bytes(unit * n)
    return path, n


@pytest.mark.parametrize(
    "command",
    [
        ["verify", "--json"],
        ["stats", "--json"],
        ["convert", "-o", "{out}"],
    ],
    ids=["verify", "stats", "convert"],
)
def test_damage_after_every_record_stays_within_bounded_memory(
    damage_everywhere: tuple[Path, int], command: list[str], tmp_path: Path
) -> None:
    path, n = damage_everywhere
    args = [a.format(out=tmp_path / "out.parquet") for a in command]
    rss, status, out, err = run_measured([*CLI, args[0], str(path), *args[1:]])
    assert status == 1, err
    assert rss <= RSS_LIMIT_MB, f"{args[0]}: peak RSS {rss:.0f} MB"
    if args[0] == "verify":
        report = json.loads(out)
        assert report["damage_total"]["regions"] == n
        assert report["damage_total"]["bytes"] == n
        assert report["records"] == n
        assert len(report["damage"]) == bsmtrail.tally.DEFAULT_KEEP
    elif args[0] == "stats":
        report = json.loads(out)
        assert report["records"] == n
        assert report["damage"]["regions"] == n
    else:
        assert pq.read_metadata(tmp_path / "out.parquet").num_rows == n
        assert f"damaged input: {n} damaged region(s) ({n} bytes skipped)" in err


def test_recover_iteration_counts_every_region_in_bounded_memory(
    damage_everywhere: tuple[Path, int],
) -> None:
    path, n = damage_everywhere
    code = (
        "import bsmtrail, json;"
        f"t = bsmtrail.open({str(path)!r}, mode='recover');"
        "k = sum(1 for _ in t); d = t.damage;"
        "print(json.dumps([k, len(d), len(d.kept), d.bytes, d.omitted, d.by_reason]))"
    )
    rss, status, out, err = run_measured([sys.executable, "-c", code])
    assert status == 0, err
    assert rss <= RSS_LIMIT_MB
    assert json.loads(out) == [n, n, 1000, n, n - 1000, {"not_a_record": [n, n]}]


def test_damage_log_keeps_first_regions_and_exact_totals() -> None:
    data = b"".join(rec(b"x") + b"\x00" * (i % 3 + 1) for i in range(30))
    t = bsmtrail.open(data, mode="recover")
    assert sum(1 for _ in t) == 30
    d = t.damage
    assert (len(d), d.bytes) == (30, sum(i % 3 + 1 for i in range(30)))
    assert [x.offset for x in d][:2] == [len(rec(b"x")), 2 * len(rec(b"x")) + 1]
    # A reader with a small log keeps only its first entries but counts all.
    log = _native.DamageLog(keep=4)
    assert sum(1 for _ in _native.Reader(data).records("recover", damage=log)) == 30
    assert (log.count, len(log.regions()), log.bytes) == (30, 4, d.bytes)
    assert log.last() is not None and log.last()[0] == d.last.offset  # type: ignore[union-attr]
    full = bsmtrail.open(data, mode="recover").errors_table()
    assert full.num_rows == 30  # the complete list is the errors view


@pytest.fixture(scope="module")
def sparse_claim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """10 records, a header claiming 1.5 GB whose trailer is really there (the bytes
    between are a hole: 8 KB on disk), then 10 more records."""
    claim = 1_500_000_000
    path = tmp_path_factory.mktemp("sparse") / "claim.bsm"
    with open(path, "wb") as f:
        f.write(b"".join(rec(b"a%d" % i) for i in range(10)))
        start = f.tell()
        f.write(b"\x14" + struct.pack(">IBHHII", claim, 11, 1, 0, 1_700_000_000, 5))
        f.seek(start + claim - 7)
        f.write(b"\x13\xb1\x05" + struct.pack(">I", claim))
        f.write(b"".join(rec(b"b%d" % i) for i in range(10)))
    return path


@pytest.mark.parametrize("how", ["verify", "iterate"])
def test_a_sparse_file_claiming_a_huge_record_is_read_in_bounded_memory(
    sparse_claim: Path, how: str
) -> None:
    # The claim is damage; scanning the 1.5 GB hole for the next record releases the
    # mapped pages behind it, so the resident set stays small.
    if how == "verify":
        args = [*CLI, "verify", "--json", str(sparse_claim)]
    else:
        code = (
            "import bsmtrail, json;"
            f"t = bsmtrail.open({str(sparse_claim)!r}, mode='recover');"
            "print(json.dumps({'records': sum(1 for _ in t),"
            " 'damage_total': {'regions': len(t.damage), 'bytes': t.damage.bytes}}))"
        )
        args = [sys.executable, "-c", code]
    rss, status, out, err = run_measured(args)
    assert rss <= RSS_LIMIT_MB, f"peak RSS {rss:.0f} MB"
    assert status == (1 if how == "verify" else 0), err
    report = json.loads(out)
    assert report["records"] == 20
    assert report["damage_total"]["regions"] == 1
    assert report["damage_total"]["bytes"] == 1_500_000_000


@pytest.mark.parametrize("threads", ["1", "2"])
def test_reduce_of_a_sparse_file_claiming_a_huge_record_is_bounded(
    sparse_claim: Path, tmp_path: Path, threads: str
) -> None:
    """Recovering reduce scans the 1.5 GB hole on its framing thread, releasing the pages
    behind it, whether the verdicts are given there or on workers."""
    out = tmp_path / "kept.bsm"
    args = [*CLI, "reduce", "--recover", "--threads", threads, "-w", str(out), str(sparse_claim)]
    rss, status, _, err = run_measured(args)
    assert rss <= RSS_LIMIT_MB, f"peak RSS {rss:.0f} MB"
    assert status == 1, err  # damage skipped
    assert len(list(bsmtrail.open(out))) == 20


@pytest.mark.parametrize("how", ["convert", "to_parquet"])
def test_a_sparse_file_claiming_a_huge_record_keeps_every_intact_record(
    sparse_claim: Path, tmp_path: Path, how: str
) -> None:
    out = tmp_path / "out.parquet"
    if how == "convert":
        args = [*CLI, "convert", str(sparse_claim), "-o", str(out)]
    else:
        code = (
            "import bsmtrail;"
            f"bsmtrail.open({str(sparse_claim)!r}, mode='recover').to_parquet({str(out)!r})"
        )
        args = [sys.executable, "-c", code]
    rss, status, _, err = run_measured(args)
    assert rss <= RSS_LIMIT_MB, f"peak RSS {rss:.0f} MB"
    assert status == (1 if how == "convert" else 0), err
    texts = pq.read_table(out, columns=["record_offset"]).num_rows
    assert texts == 20
    if how == "convert":
        assert "1 damaged region(s)" in err


def test_a_huge_claim_is_damage_with_its_reason(sparse_claim: Path) -> None:
    t = bsmtrail.open(sparse_claim, mode="recover")
    first = next(iter(t))
    assert first.offset == 0
    with open(sparse_claim, "rb") as f:
        head = f.read(10 * len(rec(b"a0")) + 5)
    with pytest.raises(RecordSizeError) as caught:
        list(bsmtrail.open(head + b"\x00" * 40))
    assert caught.value.reason == "record_too_large"
    assert caught.value.record_offset == 10 * len(rec(b"a0"))


def _records_in_a_file_name(tmp_path: Path) -> tuple[Path, list[int]]:
    """A file token whose name length reaches over two whole records and ends on a NUL
    (so it looks like a name), then a third record: the three records' offsets."""
    r1, r2, r3 = rec(b"one"), rec(b"two"), rec(b"three")
    name = b"/x" + r1 + r2 + b"\x00"
    data = b"\x11" + struct.pack(">IIH", 1_700_000_000, 0, len(name)) + name + r3
    path = tmp_path / "t.bsm"
    path.write_bytes(data)
    return path, [13, 13 + len(r1), len(data) - len(r3)]


@pytest.mark.parametrize("reader", ["iterate", "table", "threads", "time", "stream", "verify"])
def test_a_file_token_hides_no_record_in_its_name(tmp_path: Path, reader: str) -> None:
    """Found by the follow property test: praudit reads a file token's claimed length
    whatever it holds, so a name spanning records swallowed them, with no damage said.
    A name is one C string: checked framing refuses a NUL before its end, and every
    reader reads the records and reports the bytes around them as damage."""
    path, offsets = _records_in_a_file_name(tmp_path)
    damage: list[tuple[int, int]]
    if reader == "iterate":
        t = bsmtrail.open(path, mode="recover")
        got = [x.offset for x in t.items()]
        damage = [(d.offset, d.length) for d in t.damage.kept]
    elif reader == "verify":
        report = bsmtrail.open(path).verify()
        assert report.records == 3 and report.file_tokens == 0
        assert report.damage.by_reason["file_name_nul"] == (1, 13)
        got, damage = offsets, [(d.offset, d.length) for d in report.damage.kept]
    else:
        options: dict[str, Any] = {
            "table": {},
            "threads": {"threads": 2, "batch_size": 1},
            "time": {"order": "time"},
            "stream": {},
        }[reader]
        s = bsmtrail.arrow.stream([("t", str(path))], **options)
        got = s.read_all().column("record_offset").to_pylist()
        damage = [(o, n) for r in s.report() for o, n, _ in r.damage.regions()]
    assert got == offsets
    assert damage == [(0, 13), (offsets[2] - 1, 1)]


def test_strict_reading_names_the_file_token_whose_name_hides_records(tmp_path: Path) -> None:
    path, _ = _records_in_a_file_name(tmp_path)
    with pytest.raises(BSMError) as caught:
        list(bsmtrail.open(path, mode="strict"))
    e = caught.value
    assert (e.reason, e.record_offset, e.offset, e.token_id) == ("file_name_nul", 0, 14, 0x11)
    assert isinstance(e, REASON_CLASSES["file_name_nul"])


def test_the_maximum_record_size_is_configurable() -> None:
    big = rec(b"y" * 3000)
    before = bsmtrail.max_record_size()
    assert before == 16 << 20
    try:
        assert bsmtrail.max_record_size(1000) == before
        t = bsmtrail.open(rec(b"x") + big + rec(b"z"), mode="recover")
        assert [r.offset for r in t] == [0, len(rec(b"x")) + len(big)]
        assert [d.reason for d in t.damage] == ["record_too_large"]
        # Every path applies it: the Arrow pipeline too.
        table = bsmtrail.open(rec(b"x") + big, mode="recover").errors_table()
        assert table.column("reason").to_pylist() == ["record_too_large"]
        with pytest.raises(ValueError):
            bsmtrail.max_record_size(10)
    finally:
        bsmtrail.max_record_size(before)
    assert len(list(bsmtrail.open(big))) == 1


def test_a_fifo_given_as_a_path_is_read_not_taken_for_an_empty_trail(tmp_path: Path) -> None:
    trail = b"".join(rec(b"f%d" % i) for i in range(5))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "wb") as f:
            f.write(trail)

    for args in (["verify"], ["summary"]):
        writer = threading.Thread(target=feed)
        writer.start()
        _, status, out, err = run_measured([*CLI, *args, str(fifo)])
        writer.join()
        assert status == 0, err
        assert "5" in out
    writer = threading.Thread(target=feed)
    writer.start()
    assert _native.Reader(str(fifo)).nbytes == len(trail)
    writer.join()


def test_an_interrupt_while_an_error_is_built_propagates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Interrupting(BSMError):
        def __init__(self, *args: object) -> None:
            raise KeyboardInterrupt

    monkeypatch.setitem(REASON_CLASSES, "not_a_record", Interrupting)
    bad = rec(b"x") + b"\x00" + rec(b"y")
    with pytest.raises(KeyboardInterrupt):
        list(bsmtrail.open(bad))  # strict: the error raised
    t = bsmtrail.open(bad, mode="recover")
    assert len(list(t)) == 2
    with pytest.raises(KeyboardInterrupt):
        t.damage  # noqa: B018 -- the errors are built here
    with pytest.raises(KeyboardInterrupt):
        t.verify()
    with pytest.raises(KeyboardInterrupt):
        bsmtrail.open(bad).scan()


SIGBUS_CASES = {
    "iteration": "t = bsmtrail.open(p); it = iter(t); next(it); cut(); list(it)",
    "recover": "t = bsmtrail.open(p, mode='recover'); it = iter(t); next(it); cut(); list(it)",
    "verify": "t = bsmtrail.open(p); cut(); t.verify()",
    "scan": "t = bsmtrail.open(p); cut(); t.scan()",
    "raw": "rs = list(bsmtrail.open(p)); cut(); rs[-1].raw",
    "tokens": "rs = list(bsmtrail.open(p)); cut(); rs[-1].tokens",
    "to_arrow": (
        "s = bsmtrail.open(p).arrow_stream(map_files=True, batch_size=100);"
        "it = iter(s); next(it); cut(); list(it)"
    ),
    "windowed": (
        "s = bsmtrail.open(p).arrow_stream(batch_size=100);it = iter(s); next(it); cut(); list(it)"
    ),
    "print": (
        "from bsmtrail.render import Renderer;r = Renderer(); c = r.chunks(p); cut(); b''.join(c)"
    ),
}


@pytest.mark.parametrize("case", sorted(SIGBUS_CASES))
def test_a_file_truncated_while_mapped_is_an_error_not_a_crash(tmp_path: Path, case: str) -> None:
    """Reading a mapped page past the new end of a truncated file is SIGBUS: the process
    survives and the reader raises an error naming the file and the offset."""
    path = tmp_path / "shrinking.bsm"
    path.write_bytes(b"".join(rec(b"t" * 200 + b"%d" % i) for i in range(20_000)))
    code = (
        "import os, bsmtrail\n"
        f"p = {str(path)!r}\n"
        "def cut():\n"
        "    os.truncate(p, 4096)\n"
        "try:\n"
        f"    {SIGBUS_CASES[case]}\n"
        "except OSError as e:\n"
        "    print('OSError', e)\n"
        "else:\n"
        "    print('no error')\n"
    )
    _, status, out, err = run_measured([sys.executable, "-c", code])
    assert status == 0, f"status {status}: {err}"
    assert out.startswith("OSError"), out + err
    assert "shrinking.bsm" in out and "changed while it was read" in out


def rec64(seconds: int) -> bytes:
    """A header64 record (event 1) at ``seconds`` (signed)."""
    n = 26 + 7
    head = b"\x74" + struct.pack(">IBHH", n, 11, 1, 0) + struct.pack(">qQ", seconds, 0)
    return head + b"\x13\xb1\x05" + struct.pack(">I", n)


YEAR_1, YEAR_9999 = -62_135_596_800, 253_402_300_799


@pytest.mark.parametrize(
    "times",
    [
        [YEAR_1, YEAR_9999],  # the red-team trail: 66 bytes, nothing plausible
        [YEAR_1, *(1_700_000_000 + 60 * i for i in range(500)), YEAR_9999],
        [0, 220_000_000_000],  # 1970 and year 8941: drawable, capped at MAX_BINS bins
    ],
    ids=["only-extremes", "outliers", "wide"],
)
def test_stats_plot_survives_extreme_times(tmp_path: Path, times: list[int]) -> None:
    trail = tmp_path / "times.bsm"
    trail.write_bytes(b"".join(rec64(t) for t in times))
    png = tmp_path / "chart.png"
    rss, status, out, err = run_measured([*CLI, "stats", str(trail), "--plot", str(png)])
    assert status == 0, err
    assert rss <= RSS_LIMIT_MB
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"records: {len(times)}" in out


def test_the_plotted_span_leaves_outliers_out() -> None:
    import numpy as np

    from bsmtrail.cli.stats_cmd import DRAWABLE, _plausible_span

    secs = np.array([YEAR_1, *range(1_700_000_000, 1_700_086_400, 60), YEAR_9999])
    counts = np.ones(len(secs), dtype=np.int64)
    lo, hi = _plausible_span(secs, counts)
    assert (lo, hi) == (1_700_000_000, 1_700_086_340)
    # Nothing drawable: an empty span, so every record is counted as an outlier.
    lo, hi = _plausible_span(np.array([YEAR_1, YEAR_9999]), np.ones(2, dtype=np.int64))
    assert lo > hi and (lo, hi) == (DRAWABLE[1], DRAWABLE[0])


ESC_TITLE = b"\x1b]0;owned\x07"
FORGED = b"\nforged: line\n"


@pytest.fixture
def injecting_trail(tmp_path: Path) -> Path:
    """Records whose strings hold terminal escapes, a forged line, a bidi override and
    spreadsheet formulas (an exec of ``=HYPERLINK``), in a file whose name holds an
    escape too."""
    recs = [
        bsmtrail.RecordBuilder(23, time=1_700_000_000)  # AUE_EXECVE
        .subject(auid=1001, euid=0, egid=0, ruid=1001, rgid=1001, pid=42, sid=1)
        .exec_args([b'=HYPERLINK("http://x")', b"-rf", b"@sum"])
        .path(b"/tmp/" + ESC_TITLE + b"evil" + FORGED + b"\xe2\x80\xaetxt.exe")
        .zone(b"=cmd|' /C calc'!A0" if i < 2 else b"global")
        .return_(0, 0)
        .build()
        for i in range(3)
    ]
    path = tmp_path / "trail\x1b[2J.bsm"
    path.write_bytes(b"".join(recs))
    return path


@pytest.mark.parametrize("command", ["stats", "summary", "verify"])
def test_evidence_strings_cannot_act_on_the_terminal(injecting_trail: Path, command: str) -> None:
    p = subprocess.run([*CLI, command, str(injecting_trail)], capture_output=True, check=False)
    text = p.stdout + p.stderr
    assert p.returncode in (0, 1), p.stderr
    assert b"\x1b" not in text and b"\x07" not in text
    assert b"\xe2\x80\xae" not in text  # no right-to-left override
    assert b"\nforged: line" not in text  # no forged line
    if command != "verify":
        assert b"\\x1b]0;owned\\x07evil\\x0aforged: line\\x0a\\u202etxt.exe" in text
    if command != "stats":  # stats names no trail in its text report
        assert b"trail\\x1b[2J.bsm" in text


def test_a_forged_damage_line_is_escaped_in_damage_reports(tmp_path: Path) -> None:
    good = rec(b"x")
    path = tmp_path / "x\ndamage: none\x1b[1A.bsm"
    path.write_bytes(good + b"\x00" + good)
    p = subprocess.run(
        [*CLI, "convert", str(path), "-o", str(tmp_path / "o.parquet")],
        capture_output=True,
        check=False,
    )
    assert p.returncode == 1
    assert b"\x1b" not in p.stderr and b"\ndamage: none" not in p.stderr
    assert b"x\\x0adamage: none\\x1b[1A.bsm @29" in p.stderr


@pytest.mark.parametrize("raw", [False, True])
def test_csv_cells_that_look_like_formulas(
    injecting_trail: Path, tmp_path: Path, raw: bool
) -> None:
    import csv

    out = tmp_path / "out.csv"
    args = [*CLI, "convert", str(injecting_trail), "--columns", "event,zone,exec_args"]
    args += ["-o", str(out), *(["--csv-raw"] if raw else [])]
    p = subprocess.run(args, capture_output=True, check=False)
    assert p.returncode == 0, p.stderr
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    formula = "=cmd|' /C calc'!A0"
    assert [r["zone"] for r in rows] == [formula if raw else "'" + formula] * 2 + ["global"]
    # List cells are JSON text (they begin with "["), never formulas; their values stay.
    assert json.loads(rows[0]["exec_args"]) == ['=HYPERLINK("http://x")', "-rf", "@sum"]
    assert rows[0]["event"] == "23"


def test_a_decompression_bomb_stops_at_the_limit(tmp_path: Path) -> None:
    import bz2

    bomb = tmp_path / "bomb.bsm.bz2"
    bomb.write_bytes(bz2.compress(bytes(256 << 20)))  # 256 MiB of zeros in ~200 bytes
    assert bomb.stat().st_size < 1000
    before = set(os.listdir(tempfile.gettempdir()))
    rss, status, _, err = run_measured([*CLI, "verify", str(bomb)])
    assert status == 2, err
    assert "decompression limit" in err and "bomb.bsm.bz2" in err
    assert rss <= RSS_LIMIT_MB
    left = {f for f in set(os.listdir(tempfile.gettempdir())) - before if "bsmtrail" in f}
    assert not left, left
    # In memory too, and the limit is adjustable.
    with pytest.raises(OSError, match="decompression limit"):
        bsmtrail.open(bomb.read_bytes())
    old = bsmtrail.sources.LIMITS.floor
    bsmtrail.sources.LIMITS.floor = 512 << 20
    try:
        assert bsmtrail.open(bomb.read_bytes()).nbytes == 256 << 20
    finally:
        bsmtrail.sources.LIMITS.floor = old


def test_real_compressed_trails_are_well_within_the_limit(tmp_path: Path) -> None:
    import gzip

    trail = b"".join(rec(b"r%d" % i) for i in range(50_000))
    packed = tmp_path / "t.bsm.gz"
    packed.write_bytes(gzip.compress(trail))
    assert len(trail) / packed.stat().st_size < 1000
    assert bsmtrail.open(packed).nbytes == len(trail)


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_a_signal_while_decompressing_leaves_no_copy(tmp_path: Path, sig: str) -> None:
    import gzip
    import signal as signals
    import time

    trail = b"".join(rec(b"r%d" % i) for i in range(20_000))
    packed = tmp_path / "t.bsm.gz"
    packed.write_bytes(gzip.compress(trail * 40))  # ~24 MB decompressed
    fifo = tmp_path / "slow"
    os.mkfifo(fifo)
    env = dict(os.environ, TMPDIR=str(tmp_path / "tmp"))
    os.mkdir(tmp_path / "tmp")
    p = subprocess.Popen([*CLI, "verify", str(fifo)], env=env, stderr=subprocess.PIPE)
    with open(fifo, "wb") as f:
        data = packed.read_bytes()
        f.write(data[: len(data) // 2])
        f.flush()
        deadline = time.monotonic() + 20
        while not os.listdir(tmp_path / "tmp") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.listdir(tmp_path / "tmp"), "no temporary copy was made"
        p.send_signal(getattr(signals, sig))
        _, err = p.communicate(timeout=30)
    assert p.returncode == 128 + getattr(signals, sig), err
    assert os.listdir(tmp_path / "tmp") == []


def test_partition_by_day_keeps_few_files_open(tmp_path: Path) -> None:
    """700 days, each twice far apart, under a 128-descriptor limit: every record lands in
    its day, in bounded memory. (One writer per day kept every day's file open: a 155 KB
    trail of 5,000 days hit EMFILE at 1,024 descriptors and took 1.2 GB, losing every
    record.)"""
    import pyarrow.dataset as ds

    day, n = 86_400, 700
    times = [1_000_000_000 + day * (i % n) for i in range(2 * n)]
    trail = tmp_path / "days.bsm"
    trail.write_bytes(b"".join(rec(b"d", seconds=t) for t in times))
    out = tmp_path / "dataset"
    cmd = " ".join([*CLI, "convert", str(trail), "-o", str(out), "--partition-by", "day", "-q"])
    rss, status, _, err = run_measured(["sh", "-c", f"ulimit -n 128 && exec {cmd}"])
    assert status == 0, err
    assert rss <= RSS_LIMIT_MB
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 2 * n
    assert len(list(out.iterdir())) == n
    # A day's rows are its records, whichever part file they went to.
    first = table.filter(ds.field("day") == "2001-09-09")
    assert sorted(first.column("record_offset").to_pylist()) == [0, n * len(rec(b"d"))]


@pytest.fixture(scope="module")
def damage_everywhere_10mb(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """10 MB of the red-team shape: a record, a junk byte, again (385,000 regions)."""
    unit = rec() + b"\x00"
    n = 10_000_000 // len(unit)
    path = tmp_path_factory.mktemp("hostile") / "damage-everywhere-10mb.bsm"
    path.write_bytes(unit * n)
    return path, n


@pytest.mark.parametrize("fmt", ["ocsf-parquet", "ocsf", "ecs", "timesketch"])
def test_the_record_shapes_keep_every_record_of_a_damaged_trail(
    damage_everywhere_10mb: tuple[Path, int], fmt: str, tmp_path: Path
) -> None:
    """Damage after every record: every intact record is an event, the damage is
    reported, and memory stays bounded."""
    import pyarrow.dataset as ds

    path, n = damage_everywhere_10mb
    out = tmp_path / ("lake" if fmt == "ocsf-parquet" else "out.jsonl")
    rss, status, _, err = run_measured(
        [*CLI, "convert", str(path), "--format", fmt, "-o", str(out), "-q"]
    )
    assert status == 1, err
    assert rss <= RSS_LIMIT_MB, f"{fmt}: peak RSS {rss:.0f} MB"
    assert f"damaged input: {n} damaged region(s) ({n} bytes skipped)" in err
    if fmt == "ocsf-parquet":
        rows = ds.dataset(out, format="parquet", partitioning="hive").count_rows()
    else:
        with out.open("rb") as f:
            rows = sum(1 for _ in f)
    assert rows == n


def test_the_lake_keeps_few_files_open_and_every_day(tmp_path: Path) -> None:
    """700 days, each twice far apart, under a 128-descriptor limit: every record is an
    event in its class and day, in bounded memory."""
    import pyarrow.dataset as ds

    day, n = 86_400, 700
    times = [1_000_000_000 + day * (i % n) for i in range(2 * n)]
    trail = tmp_path / "days.bsm"
    trail.write_bytes(b"".join(rec(b"d", seconds=t) for t in times))
    out = tmp_path / "lake"
    args = [*CLI, "convert", str(trail), "--format", "ocsf-parquet", "-o", str(out), "-q"]
    rss, status, _, err = run_measured(["sh", "-c", f"ulimit -n 128 && exec {' '.join(args)}"])
    assert status == 0, err
    assert rss <= RSS_LIMIT_MB
    root = out / "ocsf_class=process_activity"  # event 1: exit
    table = ds.dataset(root, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 2 * n
    assert len(list(root.iterdir())) == n
    first = table.filter(ds.field("eventDay") == 20010909)
    assert first.column("time").to_pylist() == [1_000_000_000_005] * 2  # rec(): 5 ms


# -- follow mode ---------------------------------------------------------------------------


def _follow_in_thread(path: Path, **kw: object) -> tuple[list[int], threading.Thread, Any]:
    """Follow ``path`` on a thread; the offsets of records seen, the thread, the stream."""
    seen: list[int] = []
    s = bsmtrail.follow(path, poll_interval=0.02, **kw)  # type: ignore[arg-type]

    def run() -> None:
        for r in s:
            seen.append(r.offset)

    t = threading.Thread(target=run)
    t.start()
    return seen, t, s


def _wait_for(cond: Any, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cond()


def test_follow_after_copytruncate_reads_the_new_content(tmp_path: Path) -> None:
    r = rec(b"one")
    path = tmp_path / "current"
    path.write_bytes(r * 3)
    seen, t, _ = _follow_in_thread(path, idle_timeout=1.5)
    _wait_for(lambda: len(seen) == 3)
    # logrotate's copytruncate: same inode, shorter file, then new records.
    with open(path, "r+b") as f:
        f.truncate(0)
    import time

    time.sleep(0.1)
    with open(path, "ab") as f:
        f.write(r * 2)
    t.join()
    assert seen == [0, len(r), 2 * len(r), 0, len(r)]


def test_follow_is_not_held_back_by_planted_bytes(tmp_path: Path) -> None:
    """Five bytes claiming a 16 MiB record, then whole records: after a quiet poll the
    claim is given up as damage and the records come (they used to wait for 16 MB more)."""
    r = rec(b"x")
    liar = b"\x14" + struct.pack(">I", 16 << 20)
    path = tmp_path / "current"
    path.write_bytes(r + liar + r + r)
    seen, t, s = _follow_in_thread(path, idle_timeout=1.0)
    t.join()
    assert seen == [0, len(r) + 5, 2 * len(r) + 5]
    assert [(d.offset, d.length) for d in s.damage] == [(len(r), 5)]


def test_follow_keeps_its_max_record_across_rotation(tmp_path: Path) -> None:
    small = rec(b"z")
    path = tmp_path / "current"
    path.write_bytes(small)
    seen, t, s = _follow_in_thread(path, idle_timeout=1.5, max_record=256)
    _wait_for(lambda: len(seen) == 1)
    path.rename(tmp_path / "old")
    path.write_bytes(small)
    _wait_for(lambda: len(seen) == 2)
    # The decoder made for the new file waits for records of 256 bytes at most, as the
    # caller asked (it used to get the default, 16 MiB).
    assert s._decoder.max_record == 256
    t.join()
    assert seen == [0, 0]


PRINT_F = [*CLI, "print", "-f", "-n", "--utc", "--poll", "0.02"]


def test_print_follow_reads_on_past_a_junk_byte(tmp_path: Path) -> None:
    r = rec(b"hello")
    path = tmp_path / "current"
    path.write_bytes(r + b"\x00" + r)
    p = subprocess.run(
        [*PRINT_F, "--idle-timeout", "0.5", str(path)], capture_output=True, check=False
    )
    assert p.stdout.count(b"hello") == 2, p.stdout
    assert p.returncode == 1
    assert b"skipped 1 damaged region(s) (1 bytes)" in p.stderr


def test_print_follow_drains_the_old_file_on_rotation(tmp_path: Path) -> None:
    import time

    path = tmp_path / "current"
    path.write_bytes(rec(b"first"))
    proc = subprocess.Popen(
        [*PRINT_F, "--idle-timeout", "1.5", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    time.sleep(0.5)
    # The last record goes into the old file just before it is rotated away.
    with open(path, "ab") as f:
        f.write(rec(b"last-of-old"))
    path.rename(tmp_path / "old")
    path.write_bytes(rec(b"first-of-new"))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    texts = [line for line in out.split(b"\n") if line.startswith(b"text,")]
    assert texts == [b"text,first", b"text,last-of-old", b"text,first-of-new"], out


# -- what else grows with the input ---------------------------------------------------------


def test_undecided_records_are_counted_in_bounded_memory() -> None:
    """Every record hides its subject behind a token nobody can decode: the selection
    reports all of them, keeping the first offsets only."""
    from bsmtrail.select import reduce, selection

    unknown = rec(b"x")
    body = unknown[:18] + b"\x99\x00\x01\x02" + unknown[18:]
    n = len(body)
    hidden = body[:1] + struct.pack(">I", n) + body[5:-4] + struct.pack(">I", n)
    res = reduce(hidden * 5000, selection(auid=0), io.BytesIO())
    assert (res.kept, res.seen) == (0, 5000)
    assert len(res.undecided) == 5000 and len(res.undecided.kept) == 1000
    assert res.undecided.kept[:2] == (0, n)


def test_stream_readers_hold_at_most_the_maximum_record(tmp_path: Path) -> None:
    """print from a pipe buffered whatever a header claimed (``print -p /dev/urandom``
    grew to 2.1 GB); reduce read all of stdin into memory."""
    noise = tmp_path / "noise"
    noise.write_bytes(os.urandom(64 << 20))
    trail = tmp_path / "t.bsm"
    trail.write_bytes(rec(b"keep") * 400_000)  # 12 MB
    for cmd, src in (
        ([*CLI, "print", "-p"], noise),
        ([*CLI, "reduce", "-m", "1"], trail),
    ):
        line = " ".join(cmd) + f" < {src} > /dev/null"
        rss, status, _, err = run_measured(["sh", "-c", f"exec {line}"])
        assert rss <= RSS_LIMIT_MB, f"{cmd[3]}: {rss:.0f} MB"
        assert status in (0, 1), err


def test_a_record_of_the_maximum_size_converts(tmp_path: Path) -> None:
    """Text that is not UTF-8, as much as the 16 MiB maximum allows (256 text tokens of
    64 KiB of 0xff): one row, no Arrow offset overflow, bounded memory."""
    body = (b"\x28" + struct.pack(">H", 0xFFFF) + b"\xff" * 0xFFFF) * 255
    n = 18 + len(body) + 7
    big = b"\x14" + struct.pack(">IBHHII", n, 11, 1, 0, 1_700_000_000, 5) + body
    big += b"\x13\xb1\x05" + struct.pack(">I", n)
    assert n <= bsmtrail.max_record_size()
    trail = tmp_path / "big.bsm"
    trail.write_bytes(rec(b"a") + big + rec(b"b"))
    out = tmp_path / "out.parquet"
    rss, status, _, err = run_measured([*CLI, "convert", str(trail), "-o", str(out)])
    assert status == 0, err
    assert rss <= RSS_LIMIT_MB
    assert pq.read_metadata(out).num_rows == 3


def _stats_batch(paths: list[list[str]]) -> Any:
    """A records-view batch with the columns stats reads: one row per entry of ``paths``."""
    import pyarrow as pa

    n = len(paths)
    return pa.record_batch(
        {
            "size": pa.array([100] * n, pa.uint32()),
            "event": pa.array([1] * n, pa.uint16()),
            "time": pa.array([1_700_000_000_000] * n, pa.timestamp("ms", tz="UTC")),
            "auid": pa.array([7] * n, pa.uint32()),
            "euid": pa.array([None] * n, pa.uint32()),
            "return_status": pa.array([0] * n, pa.uint8()),
            "paths": pa.array(paths, pa.list_(pa.field("item", pa.string(), False))),
            "exec_args": pa.array([None] * n, pa.list_(pa.field("item", pa.string(), False))),
            "error": pa.array([None] * n, pa.dictionary(pa.int32(), pa.string())),
        }
    )


def test_stats_counts_keep_a_bounded_number_of_distinct_values() -> None:
    """A distinct path per record made stats hold every one (589 MB for 100 MB): counts
    keep the most frequent values up to a cap and say when they are approximate."""
    from bsmtrail import _native

    heavy = ["/etc/passwd"] * 50 + ["/bin/sh"] * 30
    c = _native.StatsTally([], cap=10)
    for i in range(20):
        rows = [*heavy[i * 4 : i * 4 + 4], *(f"/u/{i}/{k}" for k in range(9))]
        c.add(_stats_batch([[p] for p in rows]))
    got = c.result()
    assert len(got["paths"]) <= 10 and got["records"] == 20 * 13
    keys, records = got["approximate"]["paths"]
    assert keys > 0 and records > 0 and "auid" not in got["approximate"]
    top = dict(got["paths"])
    # The heavy hitters stay, and their counts are never more than the truth.
    assert 0 < top["/etc/passwd"] <= 50 and 0 < top["/bin/sh"] <= 30
    assert got["auid"] == [(7, 260)] and got["euid"] == [(None, 260)]
    exact = _native.StatsTally([], cap=1000)
    exact.add(_stats_batch([[p] for p in heavy]))
    got = exact.result()
    assert got["approximate"] == {} and got["paths"] == [("/etc/passwd", 50), ("/bin/sh", 30)]
    with pytest.raises(ValueError, match="paths"):
        exact.add(_stats_batch([["x"]]).drop_columns(["paths"]))


@settings(max_examples=40, deadline=None)
@given(
    batches=st.lists(
        st.lists(st.lists(st.sampled_from(["/a", "/b", "/c", "", "/é", "/tmp/x"]), max_size=3)),
        min_size=1,
        max_size=8,
    ),
    cap=st.integers(1, 4),
)
def test_stats_counts_do_not_depend_on_the_threads_even_past_the_cap(
    batches: list[list[list[str]]], cap: int
) -> None:
    """Batches are counted on workers and merged in order: 1, 2 and 4 threads give the
    same tally, exact or (past a tiny cap) approximate, and ``top`` is its first rows."""
    from bsmtrail import _native

    results = []
    for threads in (1, 2, 4):
        tally = _native.StatsTally([], cap=cap, threads=threads)
        for rows in batches:
            tally.add(_stats_batch(rows))
        full = tally.result()
        top = tally.result(top=1, minutes=False)
        assert top["paths"] == full["paths"][:1] and "minutes" not in top
        assert top["approximate"] == full["approximate"]
        results.append(full)
    assert results[0] == results[1] == results[2]
    every = [p for rows in batches for row in rows for p in row]
    if len(set(every)) <= cap:  # nothing dropped: exact counts
        want = sorted(((p, every.count(p)) for p in set(every)), key=lambda r: (-r[1], r[0]))
        assert results[0]["paths"] == want


def test_the_command_line_sets_the_maximum_record_size(tmp_path: Path) -> None:
    trail = tmp_path / "t.bsm"
    big = rec(b"b" * 500)
    trail.write_bytes(rec(b"a") + big + rec(b"c"))
    p = subprocess.run(
        [*CLI, "--max-record", "200", "verify", "--json", str(trail)],
        capture_output=True,
        check=False,
    )
    report = json.loads(p.stdout)
    assert p.returncode == 1
    assert (report["records"], report["damage"][0]["reason"]) == (2, "record_too_large")
    assert subprocess.run([*CLI, "verify", str(trail)], capture_output=True).returncode == 0
    p = subprocess.run([*CLI, "--max-record", "10", "verify", str(trail)], capture_output=True)
    assert p.returncode == 2 and b"--max-record" in p.stderr

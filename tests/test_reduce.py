"""auditreduce-compatible selection: every golden case of ../shared/data/golden/reduce,
both the corrected answers (every token variant) and auditreduce's own output
(``variants="auditreduce"``), plus criteria on hand-built records and error handling."""

from __future__ import annotations

import csv
import io
import os
import shlex
import struct
import subprocess
import sys
from pathlib import Path

import pytest

import bsmtrail
from bsmtrail.select import SelectionError, parse_auditreduce_args, reduce, selection
from conftest import ETC, GOLDEN, OWN_EVENTS, OWN_GROUP, OWN_PASSWD, TRAILS, shared_params

CASES_TSV = GOLDEN / "reduce" / "CASES.tsv"


def _cases() -> list[tuple[str, str, str, int, str]]:
    with CASES_TSV.open() as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert len(rows) == 57
    return [
        (
            r["trail"],
            r["case"],
            r["auditreduce_args"],
            int(r["auditreduce_records"]),
            r["expected"],
        )
        for r in rows
    ]


CASES = shared_params(_cases, 5)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()


def _run(trail: str, args: str, variants: str) -> bytes:
    crit = parse_auditreduce_args(shlex.split(args))
    sel = selection(
        **crit.options,  # type: ignore[arg-type]
        variants=variants,  # type: ignore[arg-type]
        event_db=ETC / "audit_event",
        passwd=ETC / "passwd",
        group=ETC / "group",
    )
    outs = []
    for threads in (1, 4):  # the same bytes whoever judged the records
        out = io.BytesIO()
        res = reduce(TRAILS / trail, sel, out, threads=threads)
        assert res.error is None
        outs.append(out.getvalue())
    assert outs[0] == outs[1]
    return outs[0]


@pytest.mark.parametrize(("trail", "case", "args", "n", "expected"), CASES)
def test_corrected_output_is_byte_identical(
    trail: str, case: str, args: str, n: int, expected: str, golden_dir: Path
) -> None:
    stem = trail.removesuffix(".bsm")
    want_file = golden_dir / "reduce" / f"{stem}.{case}.bsm"
    if expected != "same":
        want_file = golden_dir / "reduce" / f"{stem}.{case}.expected.bsm"
        n = int(expected.split(":")[1])
    want = want_file.read_bytes()
    got = _run(trail, args, "all")
    assert got == want
    assert sum(1 for _ in bsmtrail.open(got)) == n


@pytest.mark.parametrize(("trail", "case", "args", "n", "expected"), CASES)
def test_auditreduce_variant_reproduces_auditreduce(
    trail: str, case: str, args: str, n: int, expected: str, golden_dir: Path
) -> None:
    stem = trail.removesuffix(".bsm")
    want = (golden_dir / "reduce" / f"{stem}.{case}.bsm").read_bytes()
    assert _run(trail, args, "auditreduce") == want


# -- hand-built records: every criterion on every variant ---------------------------------


def header(hid: int, body_len: int, event: int, secs: int) -> tuple[bytes, int]:
    if hid == 0x14:
        size = 18
        h = struct.pack(">BIBHHII", hid, 0, 11, event, 0, secs, 0)
    elif hid == 0x74:
        size = 26
        h = struct.pack(">BIBHHQQ", hid, 0, 11, event, 0, secs, 0)
    elif hid == 0x15:
        size = 26
        h = struct.pack(">BIBHHI4sII", hid, 0, 11, event, 0, 4, b"\n\0\0\1", secs, 0)
    else:
        size = 34
        h = struct.pack(">BIBHHI4sQQ", hid, 0, 11, event, 0, 4, b"\n\0\0\1", secs, 0)
    count = size + body_len + 7
    return h[:1] + struct.pack(">I", count) + h[5:], count


def record(hid: int, body: bytes, event: int = 72, secs: int = 1_700_000_000) -> bytes:
    h, count = header(hid, len(body), event, secs)
    return h + body + struct.pack(">BHI", 0x13, 0xB105, count)


def subject(tid: int, auid: int, euid: int, egid: int, ruid: int, rgid: int, pid: int) -> bytes:
    ids = struct.pack(">7I", auid, euid, egid, ruid, rgid, pid, 7)
    if tid in (0x24, 0x26):
        term = struct.pack(">I4s", 0, b"\1\2\3\4")
    elif tid in (0x75, 0x77):
        term = struct.pack(">Q4s", 0, b"\1\2\3\4")
    elif tid in (0x7A, 0x7B):
        term = struct.pack(">II16s", 0, 16, bytes(15) + b"\1")
    else:
        term = struct.pack(">QI16s", 0, 16, bytes(15) + b"\1")
    return bytes([tid]) + ids + term


def ret(tid: int, status: int) -> bytes:
    return (
        struct.pack(">BBI", 0x27, status, 0)
        if tid == 0x27
        else struct.pack(">BBQ", 0x72, status, 0)
    )


def kept(data: bytes, **criteria: object) -> list[int]:
    sel = selection(event_db=OWN_EVENTS, **criteria)  # type: ignore[arg-type]
    out = io.BytesIO()
    reduce(data, sel, out)
    return [r.event for r in bsmtrail.open(out.getvalue())]


@pytest.mark.parametrize("hid", [0x14, 0x15, 0x74, 0x79])
@pytest.mark.parametrize("sid", [0x24, 0x75, 0x7A, 0x7C])
@pytest.mark.parametrize("rid", [0x27, 0x72])
def test_every_header_subject_return_variant(hid: int, sid: int, rid: int) -> None:
    # event 72 = AUE_OPEN_R (class fr); 1 = AUE_EXIT (pc).
    body_ok = subject(sid, 1000, 0, 20, 1000, 20, 555) + ret(rid, 0)
    body_fail = subject(sid, 1000, 0, 20, 1000, 20, 555) + ret(rid, 2)
    data = record(hid, body_ok, 72) + record(hid, body_fail, 1) + record(hid, b"", 72)
    assert kept(data, auid=1000) == [72, 1]
    assert kept(data, euid=0, egid=20, ruid=1000, rgid=20) == [72, 1]
    assert kept(data, pid=555) == [72, 1]
    assert kept(data, euid=5) == []
    assert kept(data, events=["AUE_OPEN_R"]) == [72, 72]
    assert kept(data, classes="+pc") == []
    assert kept(data, classes="-pc") == [1]
    assert kept(data, classes="fr") == [72, 72]
    assert kept(data, after=1_700_000_001) == []
    assert kept(data, before=1_700_000_000, invert=True) == []
    # auditreduce's own view sees only the 32-bit forms: -u needs a subject32, -m a
    # header32, and -c's success/failure refinement a return32.
    assert kept(data, auid=1000, variants="auditreduce") == ([72, 1] if sid == 0x24 else [])
    want_m = [72, 72] if hid == 0x14 else []
    assert kept(data, events=[72], variants="auditreduce") == want_m
    # Without a return token (the third record, or return64 unseen) only the header's
    # both-masks check applies, so the successful open passes there.
    want_c = ([1, 72] if rid == 0x27 else [72, 1, 72]) if hid == 0x14 else []
    assert kept(data, classes="-pc,-fr", variants="auditreduce") == want_c


def test_process_tokens_and_object_pid() -> None:
    proc = subject(0x77, 1, 2, 3, 4, 5, 4242)
    data = record(0x14, proc, 72) + record(0x14, subject(0x24, 1, 2, 3, 4, 5, 4242), 1)
    assert kept(data, object_pid=4242) == [72]
    assert kept(data, pid=4242) == [1]
    assert kept(data, auid=1) == [72, 1]


def test_files_zone_and_ipc() -> None:
    def path(p: bytes) -> bytes:
        return struct.pack(">BH", 0x23, len(p) + 1) + p + b"\0"

    def zone(z: bytes) -> bytes:
        return struct.pack(">BH", 0x60, len(z) + 1) + z + b"\0"

    data = (
        record(0x14, path(b"/etc/master.passwd"), 1)
        + record(0x14, path(b"/tmp/x,y") + zone(b"web1"), 2)
        + record(0x14, struct.pack(">BBI", 0x22, 3, 99), 3)
    )
    assert kept(data, files="master") == [1]
    assert kept(data, files=r"^/tmp/x\,y$") == [2]
    assert kept(data, files="~^/etc,.") == [2]
    assert kept(data, zone="web*") == [2]
    assert kept(data, shmid=99) == [3]
    assert kept(data, msgqid=99) == []


def test_names_resolve_from_the_evidence_machines_files() -> None:
    data = record(0x14, subject(0x24, 501, 0, 20, 501, 20, 1), 1)
    opts = {"passwd": OWN_PASSWD, "group": OWN_GROUP}
    assert kept(data, auid="alice", egid="staff", **opts) == [1]
    assert kept(data, euid="root", **opts) == [1]


@pytest.mark.parametrize(
    ("criteria", "option"),
    [
        ({"classes": "lo,bogus"}, "-c"),
        ({"classes": " lo"}, "-c"),
        ({"after": "2013-11-04"}, "-a"),
        ({"before": "20131399"}, "-b"),
        ({"day": "201311"}, "-d"),
        ({"files": "(unclosed"}, "-o file"),
        ({"auid": "no-such-user-xyz"}, "-u"),
        ({"egid": "no-such-group-xyz"}, "-f"),
        ({"events": ["AUE_NOPE"]}, "-m"),
    ],
)
def test_bad_criteria_name_the_option(criteria: dict[str, object], option: str) -> None:
    with pytest.raises(SelectionError) as e:
        selection(event_db=OWN_EVENTS, passwd=OWN_PASSWD, group=OWN_GROUP, **criteria)  # type: ignore[arg-type]
    assert e.value.option == option


@pytest.mark.conformance
def test_cli_pipes_into_print_and_exits_2_on_bad_criteria(tmp_path: Path) -> None:
    env = {**os.environ, "TZ": "UTC"}
    cmd = [sys.executable, "-m", "bsmtrail", "reduce"]
    base = ["--events", str(ETC / "audit_event"), "--passwd", str(ETC / "passwd")]
    res = subprocess.run(
        [*cmd, "-m", "AUE_audit_startup", *base, str(TRAILS / "apple.bsm")],
        capture_output=True,
        env=env,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == (GOLDEN / "reduce" / "apple.m_event_name.bsm").read_bytes()
    printed = subprocess.run(
        [sys.executable, "-m", "bsmtrail", "print", "-l", "--events", str(ETC / "audit_event")],
        input=res.stdout,
        capture_output=True,
        env=env,
    )
    assert printed.stdout.startswith(b"header,59,11,audit startup,0,")
    out = tmp_path / "o.bsm"
    res = subprocess.run(
        [*cmd, "-c", "-all", "-w", str(out), *base, str(TRAILS / "apple.bsm")], env=env
    )
    assert res.returncode == 0
    assert out.read_bytes() == (GOLDEN / "reduce" / "apple.c_failure_only.bsm").read_bytes()
    for bad in (["-c", "nosuch"], ["-u", "nobody-xyz"], ["-a", "yesterday"], ["-o", "file=("]):
        res = subprocess.run([*cmd, *bad, *base, str(TRAILS / "apple.bsm")], capture_output=True)
        assert res.returncode == 2, bad
        assert res.stderr.startswith(b"bsmtrail reduce: " + bad[0].encode())


@pytest.mark.conformance
def test_cli_recover_reports_damage(tmp_path: Path) -> None:
    data = (TRAILS / "apple.bsm").read_bytes()
    bad = tmp_path / "bad.bsm"
    bad.write_bytes(data[:500] + b"\0junk" + data[500:])
    cmd = [sys.executable, "-m", "bsmtrail", "reduce", "-m", "45025"]
    strict = subprocess.run([*cmd, str(bad)], capture_output=True)
    assert strict.returncode == 1 and b"stopped" in strict.stderr
    rec = subprocess.run([*cmd, "--recover", str(bad)], capture_output=True)
    assert rec.returncode == 1 and b"skipped 1 damaged region" in rec.stderr
    assert len(list(bsmtrail.open(rec.stdout))) > len(list(bsmtrail.open(strict.stdout)))


# -- the same selection on the Arrow path -------------------------------------------------


@pytest.mark.parametrize(("trail", "case", "args", "n", "expected"), CASES[:19])
@pytest.mark.conformance
def test_trail_select_and_arrow_where_keep_the_golden_records(
    trail: str, case: str, args: str, n: int, expected: str
) -> None:
    from bsmtrail.arrow import read_trails

    if expected != "same":
        n = int(expected.split(":")[1])
    crit = parse_auditreduce_args(shlex.split(args))
    sel = selection(
        **crit.options,  # type: ignore[arg-type]
        event_db=ETC / "audit_event",
        passwd=ETC / "passwd",
        group=ETC / "group",
    )
    want = _run(trail, args, "all")
    data = (TRAILS / trail).read_bytes()
    picked = list(bsmtrail.open(TRAILS / trail).select(sel))
    assert [r.raw for r in picked] == [r.raw for r in bsmtrail.open(want)]
    # Offsets are positions in the original trail, not in the selection.
    assert all(data[r.offset : r.offset + r.size] == r.raw for r in picked)
    table = read_trails(TRAILS / trail, ["record_offset", "event", "size"], where=sel, events=False)
    assert table.num_rows == n
    assert table.column("event").to_pylist() == [r.event for r in bsmtrail.open(want)]
    assert table.column("record_offset").to_pylist() == [r.offset for r in picked]


@pytest.mark.parametrize(("trail", "case", "args", "n", "expected"), CASES)
@pytest.mark.conformance
def test_every_selection_path_keeps_what_reduce_keeps(
    trail: str, case: str, args: str, n: int, expected: str, tmp_path: Path
) -> None:
    """``bsmtrail reduce``'s records for each shared case, through every other path that
    selects: a Trail view, read_trails, convert --where, bsmtrail.chunks, bsmtrail.dask."""
    import dask
    import pyarrow.parquet as pq

    import bsmtrail.dask as bdask
    from bsmtrail.arrow import read_trails
    from bsmtrail.chunks import read_trail
    from bsmtrail.cli import main

    crit = parse_auditreduce_args(shlex.split(args))
    sel = selection(
        **crit.options,  # type: ignore[arg-type]
        event_db=ETC / "audit_event",
        passwd=ETC / "passwd",
        group=ETC / "group",
    )
    path = TRAILS / trail
    data = path.read_bytes()
    reduced = list(bsmtrail.open(_run(trail, args, "all")))
    picked = list(bsmtrail.open(path).select(sel))
    assert [r.raw for r in picked] == [r.raw for r in reduced]
    offsets = [r.offset for r in picked]
    assert [data[o : o + r.size] for o, r in zip(offsets, reduced, strict=True)] == [
        r.raw for r in reduced
    ]
    cols = ["record_offset", "event"]
    assert (
        read_trails(path, cols, where=sel, events=False).column("record_offset").to_pylist()
        == offsets
    )
    assert (
        read_trail(path, 3, columns=cols, where=sel).column("record_offset").to_pylist() == offsets
    )
    with dask.config.set(scheduler="synchronous"):
        frame = bdask.read_trails(path, cols, where=sel, chunk_bytes=4096).compute()
    assert [int(o) for o in frame["record_offset"]] == offsets
    out = tmp_path / "sel.parquet"
    where = f"--where={args}"
    files = ["--events", str(ETC / "audit_event"), "--passwd", str(ETC / "passwd")]
    status = main(
        ["convert", str(path), "-o", str(out), where, *files, "--group", str(ETC / "group"), "-q"]
    )
    assert status in (0, 1)
    assert pq.read_table(out).column("record_offset").to_pylist() == offsets


@pytest.mark.conformance
def test_select_keywords_and_strict_errors() -> None:
    t = bsmtrail.open(TRAILS / "apple.bsm")
    assert len(list(t.select(events=[45025]))) == 20
    with pytest.raises(TypeError):
        t.select(selection(events=[1]), auid=0)
    data = (TRAILS / "apple.bsm").read_bytes()
    damaged = data[:500] + b"\0junk" + data[500:]
    with pytest.raises(bsmtrail.BSMError):
        bsmtrail.open(damaged).select(events=[45025])
    recovering = bsmtrail.open(damaged, mode="recover")
    intact = [r.raw for r in recovering if r.event == 45025]
    assert len(intact) == 19  # the record the junk lands in is lost
    assert [r.raw for r in recovering.select(events=[45025])] == intact


@pytest.mark.conformance
def test_selected_offsets_point_into_the_original_everywhere(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from bsmtrail.arrow import read_trails

    path = TRAILS / "apple.bsm"
    every = {r.offset: r.raw for r in bsmtrail.open(path)}
    sel = selection(events=[45025], event_db=ETC / "audit_event")
    once = bsmtrail.open(path).select(sel)
    twice = once.select(events=[45025], event_db=ETC / "audit_event")
    offsets = [r.offset for r in once]
    assert [r.offset for r in twice] == offsets
    assert all(every[o] == r.raw for o, r in zip(offsets, once, strict=True))
    for t in (once, twice):
        assert t.to_arrow(columns=["record_offset"]).column("record_offset").to_pylist() == offsets
    assert (
        read_trails(path, ["record_offset"], where=sel, events=False)
        .column("record_offset")
        .to_pylist()
        == offsets
    )
    out = tmp_path / "sel.parquet"
    cmd = [sys.executable, "-m", "bsmtrail", "convert", str(path), "-o", str(out)]
    res = subprocess.run(
        [*cmd, "--where=-m 45025", "--columns", "record_offset,event"], capture_output=True
    )
    assert res.returncode == 0, res.stderr
    assert pq.read_table(out).column("record_offset").to_pylist() == offsets

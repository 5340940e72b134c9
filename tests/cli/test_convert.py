"""``bsmtrail convert`` as a subprocess: every format, view, selection and input kind, with
the rows checked against the praudit goldens and the Python API."""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest

import bsmtrail
from conftest import ETC, GOLDEN, SHARED_TRAILS, TRAILS, shared_params

ENV = {**os.environ, "TZ": "UTC"}
APPLE = SHARED_TRAILS["apple"]


def bsm(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bsmtrail", *args],
        capture_output=True,
        env=ENV,
        input=stdin,
        timeout=300,
    )


def golden_headers(stem: str) -> list[tuple[int, int, int, int]]:
    """(size, event, seconds, msec) of each record from praudit -rl (header32 lines)."""
    out = []
    for line in (GOLDEN / f"{stem}.rl.txt").read_text("utf-8", "surrogateescape").splitlines():
        f = line.split(",")
        assert f[0] == "20", "the shared goldens hold header32 records only"
        out.append((int(f[1]), int(f[3]), int(f[5]), int(f[6])))
    return out


def jsonl(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


@pytest.mark.conformance
@pytest.mark.parametrize("stem", ["apple", "openbsm", "reference-all", "execve-long-args"])
def test_parquet_rows_match_praudit(stem: str, tmp_path: Path) -> None:
    out = tmp_path / "t.parquet"
    p = bsm("convert", str(SHARED_TRAILS[stem]), "-o", str(out), "-q")
    assert p.returncode == 0, p.stderr
    t = pq.read_table(out)
    gold = golden_headers(stem)
    assert t.num_rows == len(gold)
    ms = t.column("time").cast(pa.int64()).to_pylist()
    got = list(zip(t.column("size").to_pylist(), t.column("event").to_pylist(), ms, strict=True))
    assert got == [(s, e, sec * 1000 + msec) for s, e, sec, msec in gold]
    assert p.stderr == b""  # -q: no summary line
    assert t.schema.metadata[b"bsmtrail.view"] == b"records"


@pytest.mark.conformance
def test_apple_has_54_records_in_every_format(tmp_path: Path) -> None:
    recs = list(bsmtrail.open(APPLE))
    assert len(recs) == 54
    want_names = [r.event for r in recs]
    for fmt, name in [
        ("parquet", "a.parquet"),
        ("feather", "a.feather"),
        ("csv", "a.csv"),
        ("jsonl", "a.jsonl"),
        (None, "a.arrow"),
        (None, "a.ndjson"),
    ]:
        out = tmp_path / name
        p = bsm("convert", str(APPLE), "-o", str(out), *(["--format", fmt] if fmt else []))
        assert p.returncode == 0, p.stderr
        if out.suffix in (".parquet",):
            events = pq.read_table(out).column("event").to_pylist()
        elif out.suffix in (".feather", ".arrow"):
            assert out.read_bytes()[:6] == b"ARROW1"
            events = feather.read_table(out).column("event").to_pylist()
        elif out.suffix == ".csv":
            rows = list(csv.DictReader(io.StringIO(out.read_text())))
            events = [int(r["event"]) for r in rows]
            # Lists and structs are JSON text; timestamps ISO.
            assert json.loads(rows[0]["paths"]) == ["/var/audit/20131104171720.crash_recovery"]
            assert rows[0]["time"].startswith("2013-11-04 18:36:20.381")
        else:
            rows = jsonl(out.read_bytes())
            events = [r["event"] for r in rows]
            assert rows[0]["time"] == "2013-11-04T18:36:20.381Z"
            assert rows[0]["paths"] == ["/var/audit/20131104171720.crash_recovery"]
            assert rows[0]["event_name"] == "AUE_audit_recovery"
        assert events == want_names, out


@pytest.mark.conformance
def test_stdout_csv_with_columns_and_values() -> None:
    p = bsm("convert", str(APPLE), "-o", "-", "--format", "csv", "--columns", "event_name,euid")
    assert p.returncode == 0, p.stderr
    rows = list(csv.reader(io.StringIO(p.stdout.decode())))
    assert rows[0] == ["event_name", "euid"]
    recs = list(bsmtrail.open(APPLE))
    assert len(rows) == 55
    euids = []
    for r in recs:
        subj = [t for t in r.tokens if t["type"].startswith("subject")]
        euids.append(str(subj[0]["euid"]) if subj else "")
    assert [r[1] for r in rows[1:]] == euids
    assert rows[2][0] == "AUE_audit_startup"


@pytest.mark.conformance
def test_jsonl_stdout_tokens_view() -> None:
    p = bsm("convert", str(APPLE), "--view", "tokens", "-o", "-", "--format", "jsonl", "-q")
    assert p.returncode == 0, p.stderr
    rows = jsonl(p.stdout)
    want = sum(len(r.tokens) for r in bsmtrail.open(APPLE))
    assert len(rows) == want
    assert rows[0]["type"] == "header32" and rows[0]["raw"].startswith("14")
    assert json.loads(rows[0]["fields"])["event"] == 45029


@pytest.mark.conformance
def test_compressed_inputs_directories_and_globs(tmp_path: Path) -> None:
    d = tmp_path / "audit"
    d.mkdir()
    data = APPLE.read_bytes()
    (d / "20131104.a.gz").write_bytes(gzip.compress(data))
    (d / "20131104.b.bz2").write_bytes(bz2.compress(SHARED_TRAILS["openbsm"].read_bytes()))
    shutil.copy(APPLE, d / "20131104.c")
    (d / ".hidden").write_bytes(b"not a trail")
    for spec in ([str(d)], [str(d / "2013*")]):
        out = tmp_path / "all.parquet"
        p = bsm("convert", *spec, "-o", str(out))
        assert p.returncode == 0, p.stderr
        t = pq.read_table(out)
        assert t.num_rows == 54 + 50 + 54
        sources = t.column("source").to_pylist()
        assert sources[0].endswith("20131104.a.gz") and sources[-1].endswith("20131104.c")
        assert (
            t.column("record_offset").to_pylist()[:54]
            == t.column("record_offset").to_pylist()[104:]
        )


@pytest.mark.conformance
def test_partition_by_day(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    trails = [str(SHARED_TRAILS[s]) for s in ("apple", "openbsm", "reference-all")]
    p = bsm("convert", *trails, "-o", str(out), "--partition-by", "day")
    assert p.returncode == 0, p.stderr
    parts = sorted(str(f.relative_to(out)) for f in out.rglob("*.parquet"))
    assert all(f.startswith("day=") and f.endswith("/part-0.parquet") for f in parts)
    table = ds.dataset(out, format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 54 + 50 + 56
    days = table.column("day").to_pylist()
    times = table.column("time").to_pylist()
    assert days == [t.strftime("%Y-%m-%d") for t in times]
    assert "day=2013-11-04/part-0.parquet" in parts


def _where_cases() -> list[list[str]]:
    return [
        line.split("\t")
        for line in (GOLDEN / "reduce" / "CASES.tsv").read_text().splitlines()[1:]
        if line.startswith(("apple.bsm", "openbsm.bsm"))
    ]


@pytest.mark.conformance
@pytest.mark.parametrize(
    "case",
    shared_params(_where_cases),
    ids=lambda c: f"{c[0]}-{c[1]}" if c else "needs-shared",
)
def test_where_matches_auditreduce(case: list[str]) -> None:
    trail, _name, args, records, expected = case
    want = int(expected.split(":")[1]) if expected.startswith("corrected") else int(records)
    p = bsm(
        "convert",
        str(TRAILS / trail),
        f"--where={args}",
        "--events",
        str(ETC / "audit_event"),
        "--passwd",
        str(ETC / "passwd"),
        "--group",
        str(ETC / "group"),
        "-o",
        "-",
        "--format",
        "jsonl",
        "--columns",
        "record_offset,event",
    )
    assert p.returncode == 0, p.stderr
    rows = jsonl(p.stdout)
    assert len(rows) == want
    # Offsets are positions in the original trail (the audit startup record is apple's
    # second, after the 104-byte crash-recovery record), not in the selected copy.
    if trail == "apple.bsm" and args == "-m AUE_audit_startup":
        assert rows == [{"record_offset": 104, "event": 45000}]


@pytest.mark.conformance
def test_damage_recover_exit_1_strict_exit_1_no_output(tmp_path: Path) -> None:
    data = bytearray(APPLE.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 7] = b"\xff" * 7
    bad = tmp_path / "bad.bsm"
    bad.write_bytes(data)
    # Framing damage too: garbage between two records.
    data2 = APPLE.read_bytes()[:104] + b"\x00garbage!" + APPLE.read_bytes()[104:]
    bad2 = tmp_path / "bad2.bsm"
    bad2.write_bytes(data2)
    out = tmp_path / "o.parquet"
    p = bsm("convert", str(bad), str(bad2), "-o", str(out))
    assert p.returncode == 1
    err = p.stderr.decode()
    assert "damaged input: 1 damaged region(s) (9 bytes skipped), 1 record(s) failing" in err
    assert f"{bad} @3202 (0xc82) record" in err and f"{bad2} @104 (0x68) damage 9 bytes" in err
    t = pq.read_table(out)
    assert t.num_rows == 108 and t.column("error").null_count == 107
    errors = tmp_path / "e.csv"
    p = bsm("convert", str(bad), str(bad2), "--view", "errors", "-o", str(errors))
    assert p.returncode == 1
    rows = list(csv.DictReader(io.StringIO(errors.read_text())))
    assert [(r["kind"], r["region_offset"]) for r in rows] == [
        ("record", "3202"),
        ("damage", "104"),
    ]
    strict = tmp_path / "s.parquet"
    p = bsm("convert", str(bad), "-o", str(strict), "--mode", "strict")
    assert p.returncode == 1
    assert p.stderr.decode().startswith("bsmtrail convert: truncated: needs 255 bytes")
    assert "Traceback" not in p.stderr.decode()
    assert not strict.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--columns", "time,nope"], "--columns: unknown column(s) nope"),
        (["--where", "-m AUE_NOPE"], "--where -m: unknown event 'AUE_NOPE'"),
        (["--where=-x"], "--where -x: option -x not recognized"),
        (["--format", "parquet", "-o", "-"], "parquet cannot go to standard output"),
        (["--partition-by", "day", "--format", "csv"], "--partition-by writes parquet"),
        (["--view", "tokens", "--columns", "time"], "--columns applies to the records view"),
    ],
)
def test_usage_errors_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    out = [] if "-o" in args else ["-o", str(tmp_path / "x.parquet")]
    p = bsm("convert", str(APPLE), *out, *args)
    assert p.returncode == 2, p.stderr
    assert p.stderr.decode().strip() == f"bsmtrail convert: {message}" or message in (
        p.stderr.decode()
    )
    assert "Traceback" not in p.stderr.decode()


def test_missing_input_exit_2(tmp_path: Path) -> None:
    p = bsm("convert", str(tmp_path / "nope.bsm"), "-o", str(tmp_path / "x.parquet"))
    assert p.returncode == 2
    assert p.stderr.decode().strip().endswith("nope.bsm: No such file or directory")
    assert bsm("convert", "--help").stdout.decode().count("bsmtrail convert") >= 4


def test_demo_runs_the_arrow_path(tmp_path: Path) -> None:
    kept = tmp_path / "demo.parquet"
    p = bsm("demo", "-n", "3", "-o", str(kept))
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    records = bsmtrail.open(bsmtrail.demo_path()).scan().records
    assert out.startswith(f"demo.bsm: {records} records")
    assert "Parquet (" in out
    assert f": {records} rows (one per record; the trail has {records})" in out
    assert "event_name, event_description" in out and "other_tokens, error, error_offset" in out
    lines = out.splitlines()
    i = next(n for n, line in enumerate(lines) if line.startswith("first 3 rows"))
    assert lines[i + 1].split()[:3] == ["record_offset", "event_name", "time"]
    assert lines[i + 3].split()[:2] == ["52", "AUE_audit_startup"]
    # The Parquet file is left where the demo says, and the next steps follow.
    assert lines[i + 6 : i + 10] == ["", f"the Parquet file is at {kept}", "", "next steps:"]
    assert pq.read_table(kept).num_rows == records
    assert str(kept) in lines[-1]
    assert "bsmtrail gen --size" in out and "bsmtrail convert" in out
    none = tmp_path / "none"
    p = bsm("demo", "-n", "1", "--no-keep", "-o", str(none))
    assert p.returncode == 0 and not none.exists() and "next steps:" in p.stdout.decode()


@pytest.mark.parametrize("threads", ["1", "2", "4"])
def test_labels_names_and_a_column_subset_written_whole(tmp_path: Path, threads: str) -> None:
    """`convert` to Parquet and JSON Lines encodes each batch where it was decoded, with
    the derived columns added there: the rows must be the records table's."""
    a, b = tmp_path / "a.bsm", tmp_path / "b.bsm"
    for path, seed in ((a, "5"), (b, "6")):
        assert bsm("gen", "-q", "--size", "300KB", "--seed", seed, str(path)).returncode == 0
    passwd, group = tmp_path / "passwd", tmp_path / "group"
    passwd.write_text("root:*:0:0::/root:/bin/sh\nalice:*:501:20::/home/alice:/bin/sh\n")
    group.write_text("wheel:*:0:root\nstaff:*:20:alice\n")
    common = ["--label", f"web={a}", "--label", f"db={b}", "--threads", threads, "-q"]
    common += ["--passwd", str(passwd), "--group", str(group)]
    want = bsmtrail.read_trails(
        {"web": [str(a)], "db": [str(b)]}, passwd=str(passwd), group=str(group), threads=1
    )
    out = tmp_path / "all.parquet"
    assert bsm("convert", *common, "-o", str(out)).returncode == 0
    got = pq.read_table(out)
    assert got.column_names == want.column_names
    assert got.to_pylist() == want.to_pylist()
    assert {"web", "db"} == set(got.column("label").to_pylist())
    assert "alice" in got.column("auid_name").to_pylist()
    cols = "label,auid_name,egid_name,event_name,record_offset"
    p = bsm("convert", *common, "--columns", cols, "--format", "jsonl", "-o", "-")
    assert p.returncode == 0, p.stderr
    rows = jsonl(p.stdout)
    assert [list(r) for r in rows[:1]] == [cols.split(",")]
    assert rows == want.select(cols.split(",")).to_pylist()

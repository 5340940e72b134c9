"""``bsmtrail stats`` as a subprocess: figures checked against records decoded by the
Python API, the chart's PNG, damage and usage exit statuses, and the progress bar under a
pseudo-terminal (for convert and stats)."""

from __future__ import annotations

import gzip
import json
import os
import pty
import struct
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import bsmtrail
from bsmtrail.cli.stats_cmd import PLOT_SIZE
from bsmtrail.events import load_events
from conftest import ETC, SHARED_TRAILS, drain_terminal

ENV = {**os.environ, "TZ": "UTC"}
APPLE = SHARED_TRAILS["apple"]
OPENBSM = SHARED_TRAILS["openbsm"]


def bsm(*args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bsmtrail", *args], capture_output=True, env=ENV, timeout=300
    )


def stats_json(*args: str) -> dict[str, Any]:
    p = bsm("stats", "--json", *args)
    assert p.returncode == 0, p.stderr
    result: dict[str, Any] = json.loads(p.stdout)
    return result


def expected(paths: list[Path]) -> dict[str, Any]:
    """The same figures from the record-by-record Python API."""
    db = load_events()
    events: Counter[str] = Counter()
    auids: Counter[int | None] = Counter()
    paths_c: Counter[str] = Counter()
    success = failure = none = 0
    times = []
    n = 0
    for p in paths:
        for r in bsmtrail.open(p):
            n += 1
            times.append(r.time)
            e = db.get(r.event) if hasattr(db, "get") else None
            events[e.name if e else str(r.event)] += 1
            subj = [t for t in r.tokens if t["type"].startswith("subject")]
            auids[subj[0]["auid"] if subj else None] += 1
            rets = [t for t in r.tokens if t["type"] in ("return32", "return64")]
            if not rets:
                none += 1
            elif rets[0]["status"] == 0:
                success += 1
            else:
                failure += 1
            paths_c.update(t["path"] for t in r.tokens if t["type"] == "path")
    return {
        "records": n,
        "events": events,
        "auids": auids,
        "paths": paths_c,
        "returns": {"success": success, "failure": failure, "none": none},
        "first": min(times),
        "last": max(times),
    }


@pytest.mark.conformance
def test_json_figures_match_the_python_api() -> None:
    got = stats_json("--top", "100", str(APPLE), str(OPENBSM))
    want = expected([APPLE, OPENBSM])
    assert got["records"] == want["records"] == 104
    assert got["returns"] == want["returns"]
    assert got["first_time"] == want["first"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    assert got["last_time"] == want["last"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    got_events = {(e["name"] or str(e["event"])): e["records"] for e in got["events"]}
    assert got_events == dict(want["events"])
    assert {u["id"]: u["records"] for u in got["users"]["auid"]} == dict(want["auids"])
    assert {p["path"]: p["records"] for p in got["paths"]} == dict(want["paths"])
    assert got["damage"] == {"regions": 0, "bytes_skipped": 0, "failing_records": 0, "entries": []}
    assert sum(c["records"] for c in got["classes"]) >= got["records"] - got["returns"]["none"]


def full_expectation(paths: list[Path]) -> dict[str, Any]:
    """Every table stats reports, from the record-by-record Python API: events (by name),
    classes (records, failures), auid, euid, paths, processes, returns, bytes, span."""
    db = load_events()
    events: Counter[tuple[int, str | None]] = Counter()
    classes: dict[str, list[int]] = {}
    users: dict[str, Counter[int | None]] = {"auid": Counter(), "euid": Counter()}
    paths_c: Counter[str] = Counter()
    procs: Counter[str] = Counter()
    returns = {"success": 0, "failure": 0, "none": 0}
    size = n = 0
    times = []
    for p in paths:
        for r in bsmtrail.open(p):
            n += 1
            size += len(r.raw)
            times.append(r.time)
            e = db.get(r.event)
            events[(r.event, e.name if e else None)] += 1
            subj = [t for t in r.tokens if t["type"].startswith("subject")]
            for key in users:
                users[key][subj[0][key] if subj else None] += 1
            rets = [t for t in r.tokens if t["type"] in ("return32", "return64")]
            failed = bool(rets) and rets[0]["status"] != 0
            returns["none" if not rets else "failure" if failed else "success"] += 1
            for cls in e.classes if e and e.classes else ["(none)"]:
                row = classes.setdefault(cls, [0, 0])
                row[0] += 1
                row[1] += failed
            record_paths = [t["path"] for t in r.tokens if t["type"] == "path"]
            paths_c.update(record_paths)
            args = [t["args"] for t in r.tokens if t["type"] == "exec_args"]
            if args and args[0]:
                procs[args[0][0]] += 1
            elif e and "EXEC" in e.name.upper() and record_paths:
                procs[record_paths[0]] += 1
    return {
        "records": n,
        "record_bytes": size,
        "events": events,
        "classes": classes,
        "users": users,
        "paths": paths_c,
        "processes": procs,
        "returns": returns,
        "first": min(times),
        "last": max(times),
    }


def iso_ms(t: Any) -> str:
    return str(t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]) + "Z"


def test_every_table_matches_the_python_api_on_1_2_and_4_threads(tmp_path: Path) -> None:
    """Generated trails (five hosts, exec, file, socket, login records, failures): every
    count stats reports equals the record-by-record API's, whatever the thread count."""
    trails = [tmp_path / "a.bsm", tmp_path / "b.bsm"]
    for seed, t in enumerate(trails):
        assert bsm("gen", "-q", "--size", "400KB", "--seed", str(seed), str(t)).returncode == 0
    want = full_expectation(trails)
    runs = [
        stats_json("--top", "100000", "--threads", str(k), *map(str, trails)) for k in (1, 2, 4)
    ]
    assert runs[0] == runs[1] == runs[2]
    got = runs[0]
    assert got["records"] == want["records"] and got["record_bytes"] == want["record_bytes"]
    assert got["returns"] == want["returns"]
    assert (got["first_time"], got["last_time"]) == (iso_ms(want["first"]), iso_ms(want["last"]))
    assert {(e["event"], e["name"]): e["records"] for e in got["events"]} == dict(want["events"])
    assert got["distinct_events"] == len(want["events"])
    assert {c["class"]: [c["records"], c["failures"]] for c in got["classes"]} == want["classes"]
    for key in ("auid", "euid"):
        assert {u["id"]: u["records"] for u in got["users"][key]} == dict(want["users"][key])
    assert {p["path"]: p["records"] for p in got["paths"]} == dict(want["paths"])
    assert {p["process"]: p["records"] for p in got["processes"]} == dict(want["processes"])
    assert len(want["processes"]) > 5 and got["approximate"] == {}
    # Most frequent first, ties by value.
    for table, key in ((got["paths"], "path"), (got["processes"], "process")):
        assert table == sorted(table, key=lambda r: (-r["records"], r[key]))
    top = stats_json("--top", "3", *map(str, trails))
    assert top["paths"] == got["paths"][:3] and top["events"] == got["events"][:3]


def test_plot_from_own_trails(tmp_path: Path) -> None:
    trail = tmp_path / "g.bsm"
    assert bsm("gen", "-q", "--size", "200KB", "--seed", "2", str(trail)).returncode == 0
    png = tmp_path / "events.png"
    p = bsm("stats", "--plot", str(png), str(trail))
    assert p.returncode == 0, p.stderr
    assert png_size(png) == PLOT_SIZE and png.stat().st_size > 10_000


@pytest.mark.conformance
def test_top_limits_rows_and_names_come_from_the_evidence_passwd(tmp_path: Path) -> None:
    trail = tmp_path / "g.bsm"
    assert bsm("gen", "-q", "--size", "300KB", "--seed", "5", str(trail)).returncode == 0
    got = stats_json("--top", "3", "--passwd", str(ETC / "passwd"), str(trail))
    assert len(got["events"]) == 3 and len(got["paths"]) == 3
    assert got["events"][0]["records"] >= got["events"][1]["records"] >= got["events"][2]["records"]
    names = {u["id"]: u["name"] for u in got["users"]["euid"]}
    passwd = {
        int(f[2]): f[0]
        for f in (line.split(":") for line in (ETC / "passwd").read_text().splitlines())
        if len(f) > 3 and f[2].isdigit()
    }
    for uid, name in names.items():
        assert name == passwd.get(uid, ""), uid
    assert 0 in names and names[0] == passwd[0]
    # Processes: exec_args[0] (or the path) of exec records.
    procs = [p["process"] for p in got["processes"]]
    assert len(procs) == 3 and all(procs)
    table = bsmtrail.open(trail).to_arrow(columns=["exec_args"])
    firsts = Counter(a[0] for a in table.column("exec_args").to_pylist() if a)
    assert got["processes"][0]["records"] >= firsts.most_common(1)[0][1]


@pytest.mark.conformance
def test_text_tables_are_aligned_and_gzip_and_directories_work(tmp_path: Path) -> None:
    d = tmp_path / "audit"
    d.mkdir()
    (d / "a.gz").write_bytes(gzip.compress(APPLE.read_bytes()))
    (d / "b").write_bytes(OPENBSM.read_bytes())
    p = bsm("stats", str(d))
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode()
    assert "records: 104 (" in out and "damage: none" in out
    assert "events by name" in out and "top users by audit user (auid)" in out
    lines = out.splitlines()
    i = lines.index("events by class:")
    header, rule = lines[i + 1], lines[i + 2]
    assert header.split() == ["class", "records", "failures"]
    assert set(rule.strip()) == {"-", " "}
    # Numbers are right-aligned under their headers.
    end = header.index("records") + len("records")
    assert all(line[end - 1].isdigit() for line in lines[i + 3 : i + 6])


@pytest.mark.conformance
def test_where_selects_before_counting() -> None:
    got = stats_json("--where=-m AUE_audit_startup", str(APPLE))
    assert got["records"] == 1
    assert got["events"] == [{"event": 45000, "name": "AUE_audit_startup", "records": 1}]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    w, h = struct.unpack(">II", data[16:24])
    return w, h


@pytest.mark.conformance
def test_plot_writes_a_png_of_the_fixed_size(tmp_path: Path) -> None:
    trail = tmp_path / "g.bsm"
    assert bsm("gen", "-q", "--size", "200KB", "--seed", "2", str(trail)).returncode == 0
    png = tmp_path / "events.png"
    p = bsm("stats", "--plot", str(png), str(trail), str(APPLE))
    assert p.returncode == 0, p.stderr
    assert png_size(png) == PLOT_SIZE == (1200, 600)
    assert png.stat().st_size > 10_000
    empty = tmp_path / "empty.png"
    p = bsm("stats", "--plot", str(empty), "--where=-m 1", str(APPLE))
    assert p.returncode == 0, p.stderr
    assert png_size(empty) == (1200, 600)


@pytest.mark.conformance
def test_damage_exit_1_and_usage_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bsm"
    data = APPLE.read_bytes()
    bad.write_bytes(data[:104] + b"\x00garbage!" + data[104:])
    p = bsm("stats", "--json", str(bad))
    assert p.returncode == 1
    got = json.loads(p.stdout)
    assert got["records"] == 54
    assert got["damage"]["regions"] == 1 and got["damage"]["bytes_skipped"] == 9
    assert got["damage"]["entries"][0]["offset"] == 104
    for args in (
        ["--top", "0", str(APPLE)],
        [str(tmp_path / "missing")],
        ["--where=-m AUE_NOPE", str(APPLE)],
        ["--plot", str(tmp_path / "no" / "dir.png"), str(APPLE)],
    ):
        p = bsm("stats", *args)
        assert p.returncode == 2, (args, p.stderr)
        err = p.stderr.decode()
        assert err.startswith("bsmtrail stats: ") and err.count("\n") == 1, err
    assert "examples:" in bsm("stats", "--help").stdout.decode()


def run_in_pty(args: list[str], timeout: float = 120) -> tuple[int, bytes]:
    """Run with stderr (and stdout) on a pseudo-terminal; return status and output."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bsmtrail", *args],
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        env=ENV,
    )
    os.close(slave)
    out = drain_terminal(master, time.monotonic() + timeout)
    return proc.wait(timeout=30), out


@pytest.mark.parametrize("command", ["convert", "stats"])
def test_progress_bar_only_on_a_terminal(command: str, tmp_path: Path) -> None:
    trail = tmp_path / "g.bsm"
    assert bsm("gen", "-q", "--size", "2MB", "--seed", "1", str(trail)).returncode == 0
    extra = ["-o", str(tmp_path / "o.parquet")] if command == "convert" else []
    status, out = run_in_pty([command, str(trail), *extra])
    assert status == 0, out
    text = out.decode("utf-8", "replace")
    assert f"\r{command} [" in text and "MB/s" in text and "100.0%" in text
    assert "2.0/2.0 MB" in text
    # Not on a pipe, nor with --quiet on a terminal.
    p = bsm(command, str(trail), *extra)
    assert p.returncode == 0 and b"MB/s" not in p.stderr
    status, out = run_in_pty([command, "-q", str(trail), *extra])
    assert status == 0 and b"MB/s" not in out


def test_decompression_has_its_own_bar_and_selection_none(tmp_path: Path) -> None:
    trail = tmp_path / "g.bsm"
    assert bsm("gen", "-q", "--size", "2MB", "--seed", "1", str(trail)).returncode == 0
    gz = tmp_path / "g.bsm.gz"
    gz.write_bytes(gzip.compress(trail.read_bytes()))
    out = str(tmp_path / "o.parquet")
    status, text = run_in_pty(["convert", str(gz), "-o", out])
    assert status == 0, text
    assert b"\rdecompress [" in text and b"\rconvert [" in text
    # Selection is a stage of the stats pass itself (judged in Rust before any column is
    # built), not a pass of its own before it.
    status, text = run_in_pty(["stats", "--where=-c lo", str(trail)])
    assert status == 0, text
    assert b"\rselect [" not in text and b"\rstats [" in text


def test_verify_bar_is_erased_around_its_reports(tmp_path: Path) -> None:
    a, b = tmp_path / "a.bsm", tmp_path / "b.bsm"
    for seed, path in (("1", a), ("2", b)):
        assert bsm("gen", "-q", "--size", "1MB", "--seed", seed, str(path)).returncode == 0
    # Damage at the end of each trail: verify reports it (status 1).
    for path in (a, b):
        with path.open("ab") as f:
            f.write(b"\x14junk")
    status, text = run_in_pty(["verify", "--limit", "1", str(a), str(b)])
    assert status == 1, text
    assert text.count(b"  records 6") == 2 and b"\rverify [" in text
    # The bar is erased before each report, so reports start on a clean line.
    assert b"\r\x1b[K" + str(b).encode() + b": PROBLEMS FOUND" in text
    p = bsm("verify", str(a))
    assert p.returncode == 1 and p.stderr == b""


def test_progress_unit() -> None:
    import io

    from bsmtrail.cli.progress import Progress, progress_wanted

    quiet = io.StringIO()
    with Progress(10_000_000, "x", enabled=False, stream=quiet) as bar:
        bar.update(5_000_000)
    assert quiet.getvalue() == ""
    assert not progress_wanted(False, quiet) and not progress_wanted(True, quiet)
    s = io.StringIO()
    with Progress(10_000_000, "x", stream=s, min_interval=0) as bar:
        bar.update(2_500_000)
        assert "  25.0% 2.5/10.0 MB" in bar.line() and "ETA " in bar.line()
        bar.advance(2_500_000)
        bar.update(1)  # never goes backwards
        assert bar.done == 5_000_000
        bar.clear()
    text = s.getvalue()
    assert text.startswith("\rx [") and text.endswith("\x1b[K\n")
    assert "\r\x1b[K\rx [" in text  # cleared, then the final line
    assert "  50.0% 5.0/10.0 MB" in text.splitlines()[-1]

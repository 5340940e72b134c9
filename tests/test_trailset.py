"""Trail sets (``bsmtrail.trailset``, ``bsmtrail verify DIR``): directories built with the
project's writer as auditd lays them out, then damaged the ways evidence is; verify must
report exactly what was done to them (files, intervals, offsets) and nothing on the intact
ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

from bsmtrail.trailset import TrailSetReport, check, parse_name
from bsmtrail.writer import RecordBuilder, write_trail

DATA = Path(__file__).parent / "data"

CMD = [sys.executable, "-m", "bsmtrail", "verify", "-q"]
T0 = int(datetime(2026, 11, 30, 0, 0, tzinfo=timezone.utc).timestamp())
HOUR = 3600


def _stamp(t: int) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y%m%d%H%M%S")


def _records(start: int, end: int, n: int, seq0: int) -> list[bytes]:
    """``n`` records spread over [start, end), numbered by seq tokens from ``seq0``."""
    step = (end - start) / n
    return [
        RecordBuilder(23, time=start + int(i * step))  # AUE_EXECVE-ish event number
        .subject(auid=1001, euid=0, egid=0, ruid=1001, rgid=1001, pid=400 + i, sid=7)
        .path(f"/bin/cmd{i}")
        .seq(seq0 + i)
        .return_(0, 0)
        .build()
        for i in range(n)
    ]


def _host(root: Path, hours: int, *, last: str = "not_terminated") -> list[str]:
    """A host's audit directory: ``hours`` trails of one hour, chained, the last one in
    state ``last``; the ``current`` link names it. Returns the file names in order."""
    root.mkdir(parents=True)
    names = []
    seq = 0
    for h in range(hours):
        start, end = T0 + h * HOUR, T0 + (h + 1) * HOUR
        tail = _stamp(end) if h + 1 < hours else last
        name = f"{_stamp(start)}.{tail}"
        write_trail(root / name, _records(start, end, 20, seq))
        seq += 20
        names.append(name)
    os.symlink(root / names[-1], root / "current")
    return names


def _kinds(report: TrailSetReport | None) -> list[tuple[str, tuple[str, ...]]]:
    assert report is not None
    return [(f.kind, f.files) for f in report.findings]


def test_names_are_read_as_auditd_writes_them() -> None:
    t = parse_name("20261130000000.20261130010000")
    assert t is not None and t.state == "terminated"
    assert t.end is not None and (t.end - t.start).total_seconds() == HOUR
    assert parse_name("20261130000000.not_terminated").state == "not_terminated"  # type: ignore[union-attr]
    assert parse_name("20261130000000.crash_recovery.gz").state == "crash_recovery"  # type: ignore[union-attr]
    for bad in ["current", "20261130000000", "20261399000000.not_terminated", "x.20261130000000"]:
        assert parse_name(bad) is None


def test_an_intact_set_has_no_findings(tmp_path: Path) -> None:
    names = _host(tmp_path / "a", 4)
    r = check(tmp_path / "a")
    assert r is not None and r.ok, r

    assert [t.name for t in r.trails] == names
    assert r.notes and names[-1] in r.notes[0]  # the live trail, noted only
    res = subprocess.run([*CMD, str(tmp_path / "a")], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"{tmp_path / 'a'} (trail set of 4): OK" in res.stdout


def test_three_hosts_each_tampered_one_way(tmp_path: Path) -> None:
    a = _host(tmp_path / "a", 5)
    b = _host(tmp_path / "b", 4, last="crash_recovery")
    c = _host(tmp_path / "c", 3)
    # a: a trail deleted from the middle.
    os.remove(tmp_path / "a" / a[2])
    # b: crash_recovery last (built so); a trail renamed; a stray note (not a finding).
    os.rename(tmp_path / "b" / b[1], tmp_path / "b" / "old.bsm")
    (tmp_path / "b" / "audit_control").write_text("dir:/var/audit\n")
    # c: a trail whose records fall outside its name's hour (replaced by earlier ones).
    write_trail(tmp_path / "c" / c[1], _records(T0 - 5 * HOUR, T0 - 4 * HOUR, 20, 0))

    ra = check(tmp_path / "a")
    assert ra is not None
    gap = ra.findings[0]
    assert _kinds(ra) == [("gap", (a[1], a[3]))]
    assert (gap.start, gap.end) == (ra.trails[1].end, ra.trails[2].start)
    assert gap.end is not None and gap.start is not None
    assert (gap.end - gap.start).total_seconds() == HOUR

    rb = check(tmp_path / "b")
    assert _kinds(rb) == [
        ("stray_trail", ("old.bsm",)),
        ("gap", (b[0], b[2])),
        ("crash_recovery", (b[3],)),
    ]
    assert rb is not None and rb.notes == ["other files, not trails: audit_control"]
    rc = check(tmp_path / "c")
    assert _kinds(rc) == [("outside_interval", (c[1],))]
    assert rc is not None
    wrong = rc.findings[0]
    assert wrong.start is not None and wrong.end is not None
    assert wrong.start.timestamp() == T0 - 5 * HOUR

    res = subprocess.run(
        [*CMD, "--json", str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "c")],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 1
    sets = [d for d in map(json.loads, res.stdout.splitlines()) if "trail_set" in d]
    assert [d["trail_set"] for d in sets] == [str(tmp_path / x) for x in "abc"]
    assert [[f["kind"] for f in d["findings"]] for d in sets] == [
        ["gap"],
        ["stray_trail", "gap", "crash_recovery"],
        ["outside_interval"],
    ]
    assert sets[0]["findings"][0]["start"] == gap.start.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_damage_inside_trails_is_reported_with_the_set(tmp_path: Path) -> None:
    """A trail cut inside its last record, one with records out of order, and the live
    trail cut mid-record: each trail's report says where (offsets), the set is whole."""
    names = _host(tmp_path / "a", 4)
    d = tmp_path / "a"
    cut = d / names[1]
    recs = _records(T0 + HOUR, T0 + 2 * HOUR, 20, 20)
    cut.write_bytes(b"".join(recs)[: -len(recs[-1]) // 2])
    swapped = _records(T0 + 2 * HOUR, T0 + 3 * HOUR, 20, 40)
    # Record 12 written fifth: time runs back after it (at 6) and again at 12.
    swapped[5], swapped[12] = swapped[12], swapped[5]
    write_trail(d / names[2], swapped)
    live = d / names[3]
    live.write_bytes(live.read_bytes()[:-30])
    res = subprocess.run([*CMD, "--json", str(d)], capture_output=True, text=True)
    assert res.returncode == 1
    out = list(map(json.loads, res.stdout.splitlines()))
    by_name = {os.path.basename(x["trail"]): x for x in out if "trail" in x}
    assert by_name[names[0]]["ok"]
    last_at = sum(map(len, recs[:-1]))
    assert by_name[names[1]]["truncated_tail"]
    assert [x["offset"] for x in by_name[names[1]]["damage"]] == [last_at]
    back = by_name[names[2]]["time_backwards"]
    assert [x["offset"] for x in back] == [sum(map(len, swapped[:k])) for k in (6, 12)]
    assert by_name[names[3]]["truncated_tail"]
    assert [x["offset"] for x in by_name[names[3]]["damage"]] == [
        sum(map(len, _records(T0 + 3 * HOUR, T0 + 4 * HOUR, 20, 60)[:-1]))
    ]
    (whole,) = [x for x in out if "trail_set" in x]
    assert whole["ok"] and whole["findings"] == []


def test_unclosed_and_duplicate_trails(tmp_path: Path) -> None:
    names = _host(tmp_path / "a", 3)
    # The middle trail was never closed (auditd killed), and a copy of the first one sits
    # beside it under its open name.
    mid = names[1]
    os.rename(tmp_path / "a" / mid, tmp_path / "a" / f"{mid[:14]}.not_terminated")
    first = (tmp_path / "a" / names[0]).read_bytes()
    (tmp_path / "a" / f"{names[0][:14]}.not_terminated").write_bytes(first)
    r = check(tmp_path / "a")
    assert _kinds(r) == [
        ("duplicate_start", (names[0], f"{names[0][:14]}.not_terminated")),
        ("not_terminated", (f"{names[0][:14]}.not_terminated",)),
        ("not_terminated", (f"{mid[:14]}.not_terminated",)),
    ]


def test_empty_trail_and_verify_reports_inside_files(tmp_path: Path) -> None:
    names = _host(tmp_path / "a", 3)
    (tmp_path / "a" / names[1]).write_bytes(b"")
    r = check(tmp_path / "a")
    assert _kinds(r) == [("empty", (names[1],))]


def test_a_record_far_outside_in_the_middle_of_a_trail(tmp_path: Path) -> None:
    """The span of a trail's records is their earliest and latest times, wherever they
    are: one record from the day before, planted in the middle, is outside."""
    names = _host(tmp_path / "a", 2)
    recs = _records(T0, T0 + HOUR, 10, 0)
    planted = RecordBuilder(23, time=T0 - 86_400).seq(99).return_(0, 0).build()
    write_trail(tmp_path / "a" / names[0], [*recs[:5], planted, *recs[5:]])
    r = check(tmp_path / "a")
    assert _kinds(r) == [("outside_interval", (names[0],))]
    assert r is not None and r.findings[0].start is not None
    assert r.findings[0].start.timestamp() == T0 - 86_400


@pytest.mark.parametrize("tolerance", [0, 1000])
def test_records_just_after_a_rotation_are_within_tolerance(tmp_path: Path, tolerance: int) -> None:
    names = _host(tmp_path / "a", 2)
    # One record stamped 0.5 s before the second trail's start (its event began before
    # the rotation): normal within the default tolerance.
    recs = _records(T0 + HOUR, T0 + 2 * HOUR, 5, 100)
    early = RecordBuilder(23, time=(T0 + HOUR - 1, 500)).seq(99).return_(0, 0).build()
    write_trail(tmp_path / "a" / names[1], [early, *recs])
    assert _kinds(check(tmp_path / "a", tolerance_ms=tolerance)) == (
        [] if tolerance else [("outside_interval", (names[1],))]
    )


def test_a_folder_of_evidence_files_is_no_trail_set(tmp_path: Path) -> None:
    """Files under other names (an analyst's folder): only the trails are verified, no
    set findings, no 'not a trail' for every file."""
    folder = tmp_path / "case"
    folder.mkdir()
    write_trail(folder / "host1.bsm", _records(T0, T0 + HOUR, 5, 0))
    (folder / "notes.txt").write_text("seized 2026-12-01")
    assert check(folder) is None
    res = subprocess.run([*CMD, "--json", str(folder)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert not [d for d in map(json.loads, res.stdout.splitlines()) if "trail_set" in d]


@pytest.mark.parametrize(
    ("name", "renamed"),
    [
        ("20231201220847.20231201220909", False),  # as its closing token names it
        ("20231201220847.20231201220910", False),  # a second later: the same close
        ("20231201220847.20231201230909", True),  # an hour later: not what auditd wrote
    ],
)
def test_a_rename_is_told_from_a_second_of_stamping(
    tmp_path: Path, name: str, renamed: bool
) -> None:
    # gen-1.bsm closes with a file token naming it 20231201220847.20231201220909.
    (tmp_path / name).write_bytes((DATA / "gen-1.bsm").read_bytes())
    kinds = _kinds(check(tmp_path))
    assert kinds == ([("renamed", (name,))] if renamed else [])

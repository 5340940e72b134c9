"""Trail sets as one timeline (``bsmtrail.timeline``, ``order="time"``, ``print --merge``,
``reduce --merge``, ``convert --sort time``) and their file-token chains (``verify DIR``).

The expectation for every merge is independent of it: the records of all inputs, read
one trail at a time, sorted by (time, msec, input order) in Python."""

from __future__ import annotations

import json
import os
import random
import struct
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bsmtrail
from bsmtrail import timeline
from bsmtrail.render import Renderer
from bsmtrail.trailset import check
from bsmtrail.writer import RecordBuilder, write_trail

T0 = int(datetime(2026, 11, 30, 0, 0, tzinfo=timezone.utc).timestamp())
HOUR = 3600
BSM = [sys.executable, "-m", "bsmtrail"]


def _stamp(t: int) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y%m%d%H%M%S")


def _rec(t: int | tuple[int, int], tag: str, seq: int | None = None) -> bytes:
    b = RecordBuilder(23, time=t).subject(auid=1001, euid=0, egid=0, ruid=1001, rgid=1001, pid=7)
    b.text(tag)
    if seq is not None:
        b.seq(seq)
    return b.return_(0, 0).build()


def _file(t: int, name: str) -> dict[str, object]:
    return {"type": "file", "seconds": t, "msec": 0, "name": name}


def _host(
    root: Path, hours: int, *, convention: str, last: str = "not_terminated", n: int = 12
) -> list[str]:
    """An audit directory of ``hours`` one-hour trails chained by file tokens: each trail
    names itself as it opens and closes (``self``), or its neighbours (``linked``, as
    Solaris auditd does). The last trail is left in state ``last`` without a closing
    token. Returns the file names in order."""
    root.mkdir(parents=True)
    starts = [T0 + h * HOUR for h in range(hours + 1)]
    names = [
        f"{_stamp(starts[h])}.{_stamp(starts[h + 1]) if h + 1 < hours else last}"
        for h in range(hours)
    ]
    seq = 0
    for h in range(hours):
        start, end = starts[h], starts[h + 1]
        recs: list[object] = []
        if convention == "self":
            recs.append(_file(start, f"/var/audit/{_stamp(start)}.not_terminated"))
        else:
            prev = names[h - 1] if h else ""
            recs.append(_file(start, f"/var/audit/{prev}"))
        step = HOUR // n
        for i in range(n):
            recs.append(_rec(start + i * step, f"{root.name}-{h}-{i}", seq))
            seq += 1
        if h + 1 < hours:
            closing = names[h] if convention == "self" else names[h + 1]
            recs.append(_file(end, f"/var/audit/{closing}"))
        write_trail(root / names[h], recs)  # type: ignore[arg-type]
    return names


def _kinds(root: Path) -> list[tuple[str, tuple[str, ...]]]:
    r = check(root)
    assert r is not None
    return [(f.kind, f.files) for f in r.findings]


@pytest.mark.parametrize("convention", ["self", "linked"])
def test_an_intact_chained_set_has_no_findings(tmp_path: Path, convention: str) -> None:
    _host(tmp_path / "h", 4, convention=convention)
    assert _kinds(tmp_path / "h") == []


def test_three_chained_hosts_tampered(tmp_path: Path) -> None:
    """The issue's acceptance set: three hosts chained by file tokens, one trail deleted
    from the middle of one, another truncated at a record boundary, a not_terminated
    trail cut inside its last record, a crash_recovery trail, and out-of-order records;
    verify reports exactly those, with files, intervals and offsets."""
    a = _host(tmp_path / "a", 4, convention="linked")
    b = _host(tmp_path / "b", 3, convention="self", last="crash_recovery")
    c = _host(tmp_path / "c", 3, convention="self")
    # a: trail 1 deleted from the middle; the live trail cut inside its last record.
    os.remove(tmp_path / "a" / a[1])
    live = tmp_path / "a" / a[3]
    data = live.read_bytes()
    live.write_bytes(data[:-20])
    # b: trail 0 loses its last two records and its closing token (a record boundary).
    first = tmp_path / "b" / b[0]
    keep = first.read_bytes()
    recs = [_rec(T0 + i * 300, f"b-0-{i}", i) for i in range(12)]
    cut_at = len(keep) - len(recs[-1]) - len(recs[-2]) - (11 + len(f"/var/audit/{b[0]}") + 1)
    first.write_bytes(keep[:cut_at])
    # c: trail 1's records 3 and 8 swapped (time runs back at 4 and at 8).
    start = T0 + HOUR
    swapped = [_rec(start + i * 300, f"c-1-{i}", 12 + i) for i in range(12)]
    swapped[3], swapped[8] = swapped[8], swapped[3]
    write_trail(
        tmp_path / "c" / c[1],
        [
            _file(start, f"/var/audit/{_stamp(start)}.not_terminated"),
            *swapped,
            _file(start + HOUR, f"/var/audit/{c[1]}"),
        ],  # type: ignore[list-item]
    )

    res = subprocess.run(
        [*BSM, "verify", "-q", "--json", *(str(tmp_path / x) for x in "abc")],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 1
    out = list(map(json.loads, res.stdout.splitlines()))
    sets = {os.path.basename(d["trail_set"]): d for d in out if "trail_set" in d}
    trails = {
        (os.path.basename(os.path.dirname(d["trail"])), os.path.basename(d["trail"])): d
        for d in out
        if "trail" in d
    }
    # Set findings: exactly these.
    assert [(f["kind"], f["files"]) for f in sets["a"]["findings"]] == [
        ("missing_trail", [a[0], a[1], a[2]])
    ]
    missing = sets["a"]["findings"][0]
    assert (missing["start"], missing["end"]) == (
        datetime.fromtimestamp(T0 + HOUR, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        datetime.fromtimestamp(T0 + 2 * HOUR, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    assert [(f["kind"], f["files"]) for f in sets["b"]["findings"]] == [
        ("unclosed", [b[0]]),
        ("crash_recovery", [b[2]]),
    ]
    assert str(cut_at) in sets["b"]["findings"][0]["message"]
    assert sets["c"]["findings"] == [] and sets["c"]["ok"]
    # Per-trail findings: the cut live trail, the swapped records; nothing else.
    bad = {k: d for k, d in trails.items() if not d["ok"]}
    assert sorted(bad) == [("a", a[3]), ("c", c[1])]
    cut = bad[("a", a[3])]
    assert cut["truncated_tail"]
    assert [x["offset"] + x["length"] for x in cut["damage"]] == [len(data) - 20]
    back = bad[("c", c[1])]["time_backwards"]
    token = 11 + len(f"/var/audit/{_stamp(start)}.not_terminated") + 1
    assert [x["offset"] for x in back] == [token + sum(map(len, swapped[:k])) for k in (4, 8)]


def _expected(paths: list[Path]) -> list[tuple[int, int, int, int, bytes]]:
    """Every record of ``paths``, read trail by trail, sorted by (time, msec, input
    order): (seconds, msec, input, offset, bytes)."""
    rows = []
    for i, p in enumerate(paths):
        for r in bsmtrail.open(p):
            rows.append((r.seconds, r.msec, i, r.offset, r.raw))
    return sorted(rows)


def _trails(tmp: Path, spec: list[list[tuple[int, int]]]) -> list[Path]:
    paths = []
    for i, times in enumerate(spec):
        p = tmp / f"t{i:03d}.bsm"
        write_trail(p, [_rec((T0 + s, ms), f"{i}-{k}") for k, (s, ms) in enumerate(times)])
        paths.append(p)
    return paths


# Trails nearly in order: each record at most 5 s behind the newest before it.
_nearly = st.lists(
    st.tuples(st.integers(0, 4), st.integers(0, 5), st.integers(0, 999)), min_size=1, max_size=25
).map(lambda xs: _walk(xs))


def _walk(xs: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    t, out = 0, []
    for step, back, ms in xs:
        t += step
        out.append((max(0, t - back), ms))
    return out


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(spec=st.lists(_nearly, min_size=1, max_size=6), threads=st.sampled_from([1, 2, 4]))
def test_merges_equal_a_full_sort(tmp_path_factory: pytest.TempPathFactory, spec, threads) -> None:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("m")
    paths = _trails(tmp, spec)
    want = _expected(paths)
    # The Python iterator.
    with timeline.Timeline(paths, window_ms=10_000) as tl:
        got = [(str(n), off, item.raw) for n, off, item in tl.records()]
        assert all(not r.late for r in tl.report())
    assert got == [(str(paths[i]), off, raw) for _, _, i, off, raw in want]
    # The Arrow table.
    t = bsmtrail.read_trails(
        paths, order="time", window_ms=10_000, columns=["source", "record_offset"], threads=threads
    )
    assert t.to_pylist() == [
        {"source": str(paths[i]), "record_offset": off} for _, _, i, off, _ in want
    ]
    # print --merge: byte-identical to printing the sorted records as one trail.
    joined = tmp / "sorted.bsm"
    joined.write_bytes(b"".join(raw for *_, raw in want))
    r = Renderer(oneline=True, numeric=True, utc=True)
    assert _print_merge(paths, threads) == (r.render(joined) if want else b"")


def _print_merge(paths: list[Path], threads: int) -> bytes:
    res = subprocess.run(
        [
            *BSM,
            "print",
            "-ln",
            "--utc",
            "--merge",
            "--window-ms",
            "10000",
            "--threads",
            str(threads),
            "--chunk-size",
            "100",
            *map(str, paths),
        ],
        capture_output=True,
    )
    return res.stdout


def test_two_hundred_trails_print_and_reduce_merged(tmp_path: Path) -> None:
    rng = random.Random(7)
    spec = [
        _walk([(rng.randint(0, 60), rng.randint(0, 3), rng.randint(0, 999)) for _ in range(10)])
        for _ in range(200)
    ]
    paths = _trails(tmp_path, spec)
    want = _expected(paths)
    joined = tmp_path / "sorted.bsm"
    joined.write_bytes(b"".join(raw for *_, raw in want))
    assert _print_merge(paths, 2) == Renderer(oneline=True, numeric=True, utc=True).render(joined)
    # reduce --merge writes whole records in time order: the sorted trail, selected.
    out = tmp_path / "reduced.bsm"
    res = subprocess.run(
        [*BSM, "reduce", "--merge", "-m", "23", "-w", str(out), *map(str, paths)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert out.read_bytes() == joined.read_bytes()
    # convert --sort time: the same order in the table.
    pq = tmp_path / "t.parquet"
    res = subprocess.run(
        [
            *BSM,
            "convert",
            "-q",
            "--sort",
            "time",
            "-o",
            str(pq),
            "--columns",
            "source,record_offset",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    import pyarrow.parquet as papq

    rows = papq.read_table(pq).to_pylist()
    assert rows == [{"source": str(paths[i]), "record_offset": off} for _, _, i, off, _ in want]


def test_an_inversion_beyond_the_window_is_reported_not_reordered(tmp_path: Path) -> None:
    # The clock set back by an hour in the middle of a trail.
    paths = _trails(tmp_path, [[(10, 0), (20, 0), (20 - HOUR, 0), (30, 0)], [(15, 0), (25, 0)]])
    with timeline.Timeline(paths) as tl:
        got = [(os.path.basename(n), off) for n, off, _ in tl.records()]
        reports = tl.report()
    size = len(_rec((T0, 0), "0-0"))
    # The late record stays right after the one before it in its trail.
    assert got == [
        ("t000.bsm", 0),
        ("t001.bsm", 0),
        ("t000.bsm", size),
        ("t000.bsm", 2 * size),
        ("t001.bsm", size),
        ("t000.bsm", 3 * size),
    ]
    assert reports[0].late.total == 1
    assert reports[0].late[0] == (2 * size, (T0 + 20 - HOUR, 0), (T0 + 20, 0))
    with pytest.warns(bsmtrail.BSMWarning, match="out of time order"):
        bsmtrail.read_trails(paths, order="time")
    res = subprocess.run(
        [*BSM, "print", "-l", "--merge", *map(str, paths)], capture_output=True, text=True
    )
    assert res.returncode == 0
    assert "t000.bsm: 1 record(s) out of time order by more than 30000 ms" in res.stderr
    assert f"@{2 * size} stamped" in res.stderr


def test_labels_name_each_hosts_rows(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    a = _trails(tmp_path / "a", [[(1, 0), (3, 0)]])
    b_dir = tmp_path / "b"
    b_dir.mkdir()
    _trails(b_dir, [[(2, 0)]])
    t = bsmtrail.read_trails(
        {"web": a, "db": str(b_dir)}, order="time", columns=["label", "record_offset"]
    )
    assert t.column("label").to_pylist() == ["web", "db", "web"]
    assert pa.types.is_dictionary(t.schema.field("label").type)
    with pytest.raises(ValueError, match="labelled inputs"):
        bsmtrail.read_trails(a, columns=["label"])
    out = tmp_path / "o.csv"
    res = subprocess.run(
        [
            *BSM,
            "convert",
            "-q",
            "--sort",
            "time",
            "--label",
            f"web={a[0]}",
            "--label",
            f"db={b_dir}",
            "--columns",
            "label,record_offset",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert out.read_text().splitlines() == [
        '"label","record_offset"',
        '"web",0',
        '"db",0',
        f'"web",{len(_rec((T0, 0), "0-0"))}',
    ]


def test_a_thousand_trails_merge_in_bounded_memory(tmp_path: Path) -> None:
    """1,000 rotated trails of 100 KB (100 MB in all), one after another in time as
    auditd leaves them, and four hosts' sets interleaved: the merge's memory is the lanes'
    windows, one step of mapped pages per lane and one chunk, never the trails."""
    rec = bytearray(_rec((T0, 0), "x" * 100))
    per = 100_000 // len(rec)
    for i in range(1000):
        out = bytearray()
        for k in range(per):
            # Host i % 4; each host's trails follow one another in time.
            struct.pack_into(">I", rec, 10, T0 + (i // 4) * per + k)
            out += rec
        (tmp_path / f"{i:04d}.bsm").write_bytes(out)
    total = 1000 * per * len(rec)
    code = (
        "import resource, sys, glob\n"
        "from bsmtrail import timeline\n"
        "paths = sorted(glob.glob(sys.argv[1] + '/*.bsm'))\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "n = 0\n"
        "last = 0\n"
        "with timeline.Timeline(paths) as tl:\n"
        "    for c in tl.chunks():\n"
        "        n += len(c.offsets)\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(n, after - before)\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    n, grown_kib = map(int, res.stdout.split())
    assert n == 1000 * per
    assert grown_kib * 1024 < total // 4, (grown_kib, total)


@pytest.mark.parametrize("command", ["print", "reduce"])
def test_a_missing_input_is_said_as_every_command_says_it(tmp_path: Path, command: str) -> None:
    trail = tmp_path / "a.bsm"
    trail.write_bytes((Path(__file__).parent / "data" / "gen-1.bsm").read_bytes())
    res = subprocess.run(
        [*BSM, command, "--merge", "nope.bsm", str(trail)],
        cwd=tmp_path,
        capture_output=True,
        check=False,
    )
    assert res.returncode == 2
    assert res.stdout == b""
    assert res.stderr.decode().endswith(
        f"bsmtrail {command}: nope.bsm: No such file or directory\n"
    )


def _reduce_cli(args: list[str], out: Path) -> bytes:
    res = subprocess.run(
        [*BSM, "reduce", "--variants", "auditreduce", "-c", "lo", "-w", str(out), *args],
        capture_output=True,
        text=True,
    )
    assert res.returncode in (0, 1), res.stderr
    return out.read_bytes()


def _login32(t: int) -> bytes:
    return RecordBuilder(6152, time=(t, 0)).subject(501).return_().build()


def _exec64(t: int) -> bytes:
    """A header64 execve with a return token: auditreduce's -c judges it by the event of
    the last header32 record it read, whatever record that was."""
    b = RecordBuilder(23, time=(t, 0), header="header64").path("/bin/sh").exec_args(["sh"])
    return b.subject(501).return_().build()


def test_reduce_merge_judges_auditreduces_class_in_the_merged_order(tmp_path: Path) -> None:
    """``reduce --merge --variants auditreduce -c``, whose verdicts depend on the records
    before them, keeps what a reduce of the merged trail itself keeps: across the merge's
    chunks (about 8 MiB; its state once started afresh at each) and through a header32
    record the class rejects (the merge's header check once dropped it before the class
    saw its event)."""
    exit32 = RecordBuilder(1, time=(T0, 0)).subject(501).return_().build()
    group = _login32(T0) + _exec64(T0) * 20 + exit32 + _exec64(T0) * 3
    a, b = tmp_path / "a.bsm", tmp_path / "b.bsm"
    a.write_bytes(group * (9_000_000 // len(group)))  # past one chunk
    b.write_bytes(group * 3)
    merged = tmp_path / "merged.bsm"
    merged.write_bytes(a.read_bytes() + b.read_bytes())  # equal times: input order
    want = _reduce_cli([str(merged)], tmp_path / "want.bsm")
    # The class keeps the login and the execs after it, not those after the exit.
    assert want.count(_exec64(T0)) == 20 * (len(a.read_bytes()) // len(group) + 3)
    got = _reduce_cli(["--merge", str(a), str(b)], tmp_path / "got.bsm")
    assert got == want

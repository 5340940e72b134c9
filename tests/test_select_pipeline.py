"""Selection as a stage of the Rust Arrow pipeline: the same rows whatever the thread count
and batch size, offsets in the original trail, damage reported by the stream itself (the
same regions as recover-mode iteration), and a selective convert that writes nothing but
its output and calls no Python code per record."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bsmtrail
from bsmtrail.arrow import iter_trails, read_trails
from bsmtrail.select import selection
from bsmtrail.writer import generate_trail

EVENTS = [23, 72, 43190, 45029, 2, 27]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gen") / "g.bsm"
    generate_trail(path, 600_000, 7)
    return path


def _damaged(clean: bytes, cuts: list[int]) -> bytes:
    """``clean`` with a few junk bytes inserted at each fraction-of-length in ``cuts``."""
    out, last = [], 0
    for c in sorted(cuts):
        at = c % max(len(clean), 1)
        out += [clean[last:at], b"\x00\xffjunk"]
        last = at
    return b"".join([*out, clean[last:]])


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    events=st.lists(st.sampled_from(EVENTS), min_size=1, max_size=3, unique=True),
    invert=st.booleans(),
    cuts=st.lists(st.integers(0, 10**9), max_size=4),
    batch=st.sampled_from([1, 7, 100, 65_536]),
)
def test_selected_rows_are_the_same_for_1_2_4_threads(
    generated: Path, events: list[int], invert: bool, cuts: list[int], batch: int
) -> None:
    data = _damaged(generated.read_bytes(), cuts)
    sel = selection(events=events, invert=invert)
    cols = ["record_offset", "size", "event", "error"]
    tables = [
        bsmtrail.open(data, mode="recover")
        .select(sel)
        .to_arrow(cols, events=False, batch_size=batch, threads=n)
        for n in (1, 2, 4)
    ]
    assert tables[0].to_pylist() == tables[1].to_pylist() == tables[2].to_pylist()
    # The rows are exactly the records iteration keeps, at their offsets in `data`.
    view = bsmtrail.open(data, mode="recover").select(sel)
    want = [(r.offset, r.size, r.event) for r in view]
    got = [(r["record_offset"], r["size"], r["event"]) for r in tables[0].to_pylist()]
    assert got == want
    assert all(r.raw == data[r.offset : r.offset + r.size] for r in view)


def test_batches_of_a_selective_query_are_joined_up_to_the_batch_size(generated: Path) -> None:
    sel = selection(events=[23, 72])
    total = read_trails(generated, ["record_offset"], where=sel, events=False).num_rows
    assert total > 300
    stream = iter_trails(generated, ["record_offset"], where=sel, events=False, batch_size=300)
    sizes = [b.num_rows for b in stream]
    assert sum(sizes) == total and all(n == 300 for n in sizes[:-1]) and 0 < sizes[-1] <= 300


def test_stream_report_equals_recover_iteration(generated: Path, tmp_path: Path) -> None:
    data = _damaged(generated.read_bytes(), [1000, 250_000, 599_000])
    bad = tmp_path / "bad.bsm"
    bad.write_bytes(data)
    trail = bsmtrail.open(bad, mode="recover")
    records = sum(1 for _ in trail)
    want = [(d.offset, d.length, d.error.reason) for d in trail.damage]
    assert len(want) == 3
    for where in (None, selection(events=[23])):
        s = iter_trails(bad, ["record_offset"], where=where, events=False, batch_size=1000)
        for _ in s:
            pass
        assert s.report_finished
        (r,) = s.report()
        assert r.records == records
        got = [(o, n, e.reason) for o, n, e in r.damage.regions()]
        assert got == want
    # And the command line reports those regions.
    out = subprocess.run(
        [sys.executable, "-m", "bsmtrail", "stats", "--json", str(bad)],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1, out.stderr
    damage = json.loads(out.stdout)["damage"]
    entries = damage["entries"]
    regions = [(d["offset"], d["length"], d["reason"]) for d in entries if d["kind"] == "damage"]
    assert regions == want


SELECTIVE_CONVERT = textwrap.dedent(
    """
    import os, sys
    from bsmtrail.cli import main

    small, large, out = sys.argv[1], sys.argv[2], sys.argv[3]
    written = []

    def hook(event, args):
        if event == "open" and args[1] is not None and any(c in str(args[1]) for c in "wax+"):
            written.append(os.fspath(args[0]))

    calls = [0]

    def profile(frame, event, arg):
        if event == "call":
            calls[0] += 1

    def convert(trail):
        calls[0] = 0
        sys.setprofile(profile)
        status = main(["convert", trail, "--where=-m 45025", "-o", out, "-q"])
        sys.setprofile(None)
        return status, calls[0]

    convert(small)  # imports, the event database: paid once per process
    os.unlink(out)
    sys.addaudithook(hook)
    print(*convert(small), *convert(large))
    for w in written:
        print(w)
    """
)


def test_selective_convert_writes_only_its_output_and_calls_no_python_per_record(
    generated: Path, tmp_path: Path
) -> None:
    small = tmp_path / "small.bsm"
    generate_trail(small, 60_000, 7)
    records = bsmtrail.open(generated).scan(decode=False).records
    few = bsmtrail.open(small).scan(decode=False).records
    sel = selection(events=[45025])
    kept = read_trails(generated, ["record_offset"], where=sel, events=False).num_rows
    assert 0 < kept < records / 100 and records > 5 * few
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    out = tmp_path / "out" / "sel.parquet"
    out.parent.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp))
    res = subprocess.run(
        [sys.executable, "-c", SELECTIVE_CONVERT, str(small), str(generated), str(out)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert res.returncode == 0, res.stderr
    status_small, calls_small, status, calls, *written = res.stdout.split()
    assert status_small == status == "0"
    # Nothing in the temporary directory, nothing beside the output but the output, and
    # no file opened for writing but the output's own temporary name (renamed into place),
    # once per run.
    assert list(tmp.iterdir()) == []
    assert [p.name for p in out.parent.iterdir()] == ["sel.parquet"]
    # (pyarrow writes Parquet to the path itself: Python opens nothing at all.)
    assert len(written) <= 2
    assert all(Path(w).parent == out.parent for w in written)
    assert all(Path(w).name.startswith(".sel.parquet.") for w in written)
    # Python work is per command and per batch, never per record: ten times the records
    # cost (almost) no more Python calls.
    assert int(calls) - int(calls_small) < (records - few) / 10, (calls_small, calls)


def _undecidable(n: int) -> bytes:
    """``n`` records whose second token is one bsmtrail cannot decode (id 0xee)."""
    body = bytes([0xEE, 1, 2, 3])
    count = 18 + len(body) + 7
    head = bytes([0x14]) + count.to_bytes(4, "big") + bytes([11, 0, 1]) + bytes(10)
    rec = head + body + bytes([0x13, 0xB1, 0x05]) + count.to_bytes(4, "big")
    return rec * n


def test_undecided_records_are_reported_by_every_selection_path(tmp_path: Path) -> None:
    data = _undecidable(3)
    size = len(data) // 3
    sel = selection(auid=0)  # a criterion the unknown token could hide
    view = bsmtrail.open(data, mode="recover").select(sel)
    assert list(view) == []
    assert len(view.undecided) == 3 and view.undecided.kept == (0, size, 2 * size)
    s = view.arrow_stream(columns=["record_offset"], events=False)
    assert s.read_all().num_rows == 0
    (r,) = s.report()
    assert (r.undecided_total, r.undecided, r.records, r.rows) == (3, [0, size, 2 * size], 3, 0)
    path = tmp_path / "u.bsm"
    path.write_bytes(data)
    with pytest.warns(bsmtrail.BSMWarning, match="3 record"):
        assert read_trails(path, ["record_offset"], where=sel, events=False).num_rows == 0


@pytest.mark.parametrize("columns", [None, "time", "record_offset,event"])
def test_failing_records_are_reported_whatever_the_columns(
    generated: Path, tmp_path: Path, columns: str | None
) -> None:
    data = bytearray(generated.read_bytes())
    rec = list(bsmtrail.open(bytes(data)))[5]
    second = rec.tokens[1]["offset"]
    data[second] = 0xEE  # an unknown token id: the record frames, its tokens do not decode
    bad = tmp_path / "bad.bsm"
    bad.write_bytes(data)
    (want,) = bsmtrail.open(bytes(data), mode="recover").errors_table().to_pylist()
    cmd = [sys.executable, "-m", "bsmtrail", "convert", str(bad), "-o", str(tmp_path / "o.pq")]
    cmd += ["--format", "parquet", "-q"] + (["--columns", columns] if columns else [])
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 1
    assert "1 record(s) failing validation" in res.stderr
    assert (
        f"@{want['region_offset']} (0x{want['region_offset']:x}) record {want['length']} bytes"
        in res.stderr
    )
    assert want["message"] in res.stderr

"""Merging a trail set into one timeline against reading the same trails one after another.

Sets: 100 trails, 100 MB in all (1 GB with ``BSMTRAIL_BENCH_1GB=1``), of two kinds
(``gen_fixtures.trail_set``): ``rotated`` (each trail's times follow the previous one's, as
in a /var/audit directory: the merge mostly reads one trail at a time) and ``interleaved``
(one generated trail dealt record by record into the 100 files: every trail spans the same
time, so the merge switches input at nearly every record). Each pair of benchmarks runs the
same work unmerged (``order="input"``, one trail after another) and merged; the issue's
target is merged >= 0.5x unmerged. Reproduce with
``pytest benches/bench_merge.py --benchmark-only`` (figures in BENCHMARKS.md)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from gen_fixtures import trail_set

from bsmtrail import timeline
from bsmtrail.arrow import iter_trails
from bsmtrail.select import reduce, selection
from conftest import report

SIZES = [100, *([1000] if os.environ.get("BSMTRAIL_BENCH_1GB") == "1" else [])]
KINDS = ["rotated", "interleaved"]
PARTS = 100
ROUNDS = {100: 3, 1000: 2}


def _nbytes(paths: list[Path]) -> int:
    return sum(p.stat().st_size for p in paths)


def _reduce_each(paths: list[Path], out: Any) -> int:
    sel = selection(events=["AUE_OPEN_R"])
    return sum(reduce(p, sel, out).seen for p in paths)


def _reduce_merged(paths: list[Path], out: Any) -> int:
    sel = selection(events=["AUE_OPEN_R"])
    return timeline.reduce(paths, sel, out).seen


@pytest.mark.parametrize("merged", [False, True], ids=["each", "merged"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mb", SIZES)
def test_reduce(benchmark: Any, mb: int, kind: str, merged: bool) -> None:
    """auditreduce's job (whole records of one event out): per trail, or merged by time."""
    paths = trail_set(mb, PARTS, kind)
    run = _reduce_merged if merged else _reduce_each
    with open(os.devnull, "wb") as out:
        seen = benchmark.pedantic(lambda: run(paths, out), rounds=ROUNDS[mb], iterations=1)
    report(benchmark, _nbytes(paths), seen)


@pytest.mark.parametrize("order", ["input", "time"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("mb", SIZES)
def test_records_batches(benchmark: Any, mb: int, kind: str, order: str) -> None:
    """The records table as streamed batches (what ``convert`` writes), in input or time
    order."""
    paths = trail_set(mb, PARTS, kind)

    def run() -> int:
        return sum(b.num_rows for b in iter_trails(paths, order=order))  # type: ignore[arg-type]

    rows = benchmark.pedantic(run, rounds=ROUNDS[mb], iterations=1)
    report(benchmark, _nbytes(paths), rows)

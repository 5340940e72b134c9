"""``follow`` catching up: a live trail directory whose current trail already holds 64 MB
(the shared real trails concatenated) read by ``bsmtrail.live.Follower`` to its end, with
and without the JSON text, side by side with ``read_trails`` of the same file (the same
Arrow stream read in one piece).

Reproduce with ``pytest benches/bench_follow.py --benchmark-only``; figures go in
BENCHMARKS.md with the trail and build."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import bsmtrail
from bsmtrail.export import jsonl_lines
from bsmtrail.live import Follower
from conftest import report

MB_TRAIL = 64


@pytest.fixture(scope="module")
def audit_dir(
    concat_trail: Callable[[int], Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    d = tmp_path_factory.mktemp("audit")
    (d / "20261202100000.not_terminated").symlink_to(concat_trail(MB_TRAIL))
    return d


def _catch_up(audit: Path, text: bool) -> int:
    state = {"stop": False}

    def sleep(_: float) -> None:
        state["stop"] = True  # the first quiet poll: everything is read

    f = Follower(audit, stop=lambda: state["stop"], sleep=sleep)
    n = 0
    for batch in f:
        for b in batch.batches:
            n += sum(map(len, jsonl_lines(b))) if text else b.num_rows
        f.commit(batch)
    return n


def _records(path: Path) -> int:
    return int(bsmtrail.open(path).scan(decode=False).records)


@pytest.mark.parametrize("text", [False, True], ids=["rows", "jsonl"])
def test_follow_catch_up(benchmark: Any, audit_dir: Path, text: bool) -> None:
    trail = audit_dir / "20261202100000.not_terminated"
    produced = benchmark.pedantic(_catch_up, args=(audit_dir, text), rounds=3, iterations=1)
    assert produced > 0
    report(benchmark, trail.stat().st_size, _records(trail))


def test_read_trails_same_file(benchmark: Any, audit_dir: Path) -> None:
    trail = audit_dir / "20261202100000.not_terminated"
    rows = benchmark.pedantic(
        lambda: bsmtrail.read_trails([str(trail)]).num_rows, rounds=3, iterations=1
    )
    assert rows == _records(trail)
    report(benchmark, trail.stat().st_size, rows)

"""A selective query (auditreduce criteria pushed into the Rust reader) against building the
full records table, on the same trail.

Trail: whole copies of the shared real trails; the query keeps AUE_audit_startup records,
1 in 161 (0.62%). 256 MB by default; 1 GB with ``BSMTRAIL_BENCH_1GB=1``. Reproduce with
``pytest benches/bench_select.py --benchmark-only`` (figures in BENCHMARKS.md)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import bsmtrail
from bsmtrail.arrow import read_trails
from bsmtrail.select import selection
from conftest import ROOT, report

ETC = ROOT.parent / "shared" / "data" / "etc"
SIZES = [256, *([1024] if os.environ.get("BSMTRAIL_BENCH_1GB") == "1" else [])]


@pytest.mark.parametrize("mb", SIZES)
def test_full_records_table(benchmark: Any, concat_trail: Callable[[int], Path], mb: int) -> None:
    path = concat_trail(mb)
    table = benchmark.pedantic(
        lambda: read_trails(path, events=ETC / "audit_event"), rounds=3, iterations=1
    )
    report(benchmark, path.stat().st_size, table.num_rows)


@pytest.mark.parametrize("mb", SIZES)
def test_selective_query(benchmark: Any, concat_trail: Callable[[int], Path], mb: int) -> None:
    path = concat_trail(mb)
    sel = selection(events=["AUE_audit_startup"], event_db=ETC / "audit_event")
    table = benchmark.pedantic(
        lambda: read_trails(path, where=sel, events=ETC / "audit_event"), rounds=3, iterations=1
    )
    total = bsmtrail.open(path).scan(decode=False).records
    assert 0 < table.num_rows < total / 100
    report(benchmark, path.stat().st_size, total)
    benchmark.extra_info["kept"] = table.num_rows

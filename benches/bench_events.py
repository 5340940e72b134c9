"""Vectorised event-database lookups (bsmtrail.events) over 10 million event numbers.

Pure Python + numpy/pyarrow: one 65,536-entry table lookup per column, no per-row Python.
Reproduce with ``pytest benches/bench_events.py --benchmark-only``."""

from __future__ import annotations

from typing import Any

import pytest

from bsmtrail.events import load_events

N = 10_000_000

np = pytest.importorskip("numpy")
pa = pytest.importorskip("pyarrow")


@pytest.fixture(scope="module")
def numbers() -> Any:
    """10M uint16 event numbers: mostly real events, 1 in 16 unknown, 1 in 64 null."""
    db = load_events()
    rng = np.random.default_rng(4)
    known = np.fromiter(db.events.by_number, dtype=np.uint16)
    values = known[rng.integers(0, len(known), N)]
    unknown = rng.integers(0, 16, N) == 0
    values[unknown] = rng.integers(0, 65536, int(unknown.sum()), dtype=np.uint16)
    nulls = rng.integers(0, 64, N) == 0
    return pa.array(values, type=pa.uint16(), mask=nulls)


def _report(benchmark: Any) -> None:
    mean = benchmark.stats.stats.mean
    benchmark.extra_info["rows"] = N
    benchmark.extra_info["Mrows/s"] = round(N / mean / 1e6, 1)


def test_arrow_all_columns(benchmark: Any, numbers: Any) -> None:
    """name, description, classes (dictionary<int32, string>) and mask (uint32)."""
    db = load_events()
    db.arrow_columns(numbers[:1])  # build the tables outside the timing
    cols = benchmark.pedantic(lambda: db.arrow_columns(numbers), rounds=5, iterations=1)
    assert len(cols["name"]) == N and cols["name"].null_count >= numbers.null_count
    _report(benchmark)


def test_arrow_name_column(benchmark: Any, numbers: Any) -> None:
    db = load_events()
    db.arrow_columns(numbers[:1], ("name",))
    cols = benchmark.pedantic(lambda: db.arrow_columns(numbers, ("name",)), rounds=5, iterations=1)
    assert len(cols["name"]) == N
    _report(benchmark)


def test_numpy_codes(benchmark: Any, numbers: Any) -> None:
    db = load_events()
    values = numbers.fill_null(0).to_numpy()
    codes, _ = benchmark.pedantic(lambda: db.codes(values), rounds=5, iterations=1)
    assert len(codes) == N
    _report(benchmark)


def test_build_tables(benchmark: Any) -> None:
    """One-time cost: parse the embedded files and build every lookup table."""
    from bsmtrail.events import EventDatabase

    db = load_events()
    raw_event, raw_class = db.events.raw, db.audit_class_bytes()

    def build() -> Any:
        fresh = EventDatabase.from_bytes(raw_event, raw_class)
        fresh.arrow_columns(pa.array([0], pa.uint16()))
        return fresh

    benchmark.pedantic(build, rounds=5, iterations=1)

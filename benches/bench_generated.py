"""Generated trails (seed 2024): generation speed, framing + trailer validation, full
decode, the Python token-dict and writer paths, and plaso's BSM parser for comparison.

Sizes: 1 MB and 100 MB; add 1 GB with ``BSMTRAIL_BENCH_1GB=1``. Figures go in
BENCHMARKS.md; reproduce with ``pytest benches/bench_generated.py --benchmark-only``.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import pytest
from gen_fixtures import (
    PLASO_MISSING,
    SEED,
    SIZES_MB,
    generated_path,
    plaso_parse,
    plaso_parser,
    plaso_subset,
)

import bsmtrail
from bsmtrail.writer import generate_trail, write_trail
from conftest import CACHE, MB, SHARED_TRAILS, report

#: Fixed rounds per size: enough for a stable mean, bounded for the 1 GB runs.
ROUNDS = {1: 10, 100: 3, 1000: 2}


@pytest.mark.parametrize("mb", SIZES_MB)
def test_generate(benchmark: Any, mb: int) -> None:
    """Generation into a file (page cache), GIL released."""
    CACHE.mkdir(parents=True, exist_ok=True)
    out = CACHE / f"gen-speed-{mb}MB.tmp"
    try:
        result = benchmark.pedantic(
            lambda: generate_trail(out, mb * MB, SEED), rounds=ROUNDS[mb], iterations=1
        )
    finally:
        out.unlink(missing_ok=True)
    report(benchmark, result.bytes, result.records)


@pytest.mark.parametrize("mb", SIZES_MB)
def test_frame_and_validate_trailers(benchmark: Any, mb: int) -> None:
    trail = bsmtrail.open(generated_path(mb))
    result = benchmark.pedantic(lambda: trail.scan(decode=False), rounds=ROUNDS[mb], iterations=1)
    assert result.ok
    report(benchmark, trail.nbytes, result.records)


@pytest.mark.parametrize("mb", SIZES_MB)
def test_decode_every_token(benchmark: Any, mb: int) -> None:
    trail = bsmtrail.open(generated_path(mb))
    result = benchmark.pedantic(lambda: trail.scan(decode=True), rounds=ROUNDS[mb], iterations=1)
    assert result.ok
    assert len(result.token_counts) == len(bsmtrail.token_ids())
    report(benchmark, trail.nbytes, result.records)


def _token_dicts(data: bytes) -> int:
    return sum(len(rec.tokens) for rec in bsmtrail.open(data))


def test_python_token_dicts(benchmark: Any) -> None:
    """Every token of every record as a Python dict (the per-record Python path)."""
    data = generated_path(1).read_bytes()
    records = bsmtrail.open(data).scan().records
    benchmark.pedantic(lambda: _token_dicts(data), rounds=5, iterations=1)
    report(benchmark, len(data), records)


def test_write_trail_from_dicts(benchmark: Any) -> None:
    """The writer on token dicts: every record re-encoded from its decoded dicts."""
    path = generated_path(1)
    recs = list(bsmtrail.open(path))
    dicts = [r.tokens for r in recs]
    expect = b"".join(r.raw for r in recs)

    def run() -> bytes:
        out = io.BytesIO()
        write_trail(out, dicts)
        return out.getvalue()

    assert benchmark.pedantic(run, rounds=5, iterations=1) == expect
    report(benchmark, len(expect), len(recs))


def test_write_trail_from_records(benchmark: Any) -> None:
    """The writer on Record objects (copied as they are)."""
    recs = list(bsmtrail.open(generated_path(1)))
    nbytes = sum(r.size for r in recs)

    def run() -> int:
        return write_trail(io.BytesIO(), recs).bytes

    assert benchmark.pedantic(run, rounds=5, iterations=1) == nbytes
    report(benchmark, nbytes, len(recs))


# ---- plaso -------------------------------------------------------------------------------

plaso = pytest.mark.skipif(PLASO_MISSING is not None, reason=PLASO_MISSING or "")


def _best(f: Callable[[], object], rounds: int = 5) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - start)
    return best


def _compare(benchmark: Any, data: bytes, expect_records: int, rounds: int) -> None:
    """Time plaso on ``data`` and put bsmtrail's times on the same bytes beside it."""
    parser = plaso_parser()
    produced = benchmark.pedantic(lambda: plaso_parse(parser, data), rounds=rounds, iterations=1)
    assert produced == expect_records
    report(benchmark, len(data), produced)
    plaso_s = benchmark.stats.stats.min
    scan_s = _best(lambda: bsmtrail.open(data).scan())
    dicts_s = _best(lambda: _token_dicts(data))
    benchmark.extra_info["bsmtrail scan s"] = scan_s
    benchmark.extra_info["bsmtrail dicts s"] = dicts_s
    benchmark.extra_info["plaso/bsmtrail scan"] = round(plaso_s / scan_s)
    benchmark.extra_info["plaso/bsmtrail dicts"] = round(plaso_s / dicts_s, 1)


@plaso
def test_plaso_generated(benchmark: Any) -> None:
    """plaso's BSMParser on the records of the 1 MB generated trail that it can read."""
    subset = plaso_subset(generated_path(1))
    data = subset.read_bytes()
    _compare(benchmark, data, bsmtrail.open(data).scan().records, rounds=2)


@plaso
@pytest.mark.parametrize(
    ("name", "plaso_records"),
    [("apple.bsm", 54), ("openbsm.bsm", 50), ("reference-all.bsm", 54)],
)
def test_plaso_shared(benchmark: Any, name: str, plaso_records: int) -> None:
    """plaso on the shared real trails (reference-all: plaso lacks the UUID tokens of two
    records; execve-long-args is version 10, which plaso refuses)."""
    data = (SHARED_TRAILS / name).read_bytes()
    _compare(benchmark, data, plaso_records, rounds=5)

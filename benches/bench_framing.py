"""Framing + trailer validation, and full token decoding, over whole trails (Rust, no GIL).

Figures go in BENCHMARKS.md; reproduce with ``pytest benches/bench_framing.py
--benchmark-only``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import bsmtrail
from conftest import report


@pytest.mark.parametrize("mb", [1, 128])
def test_frame_and_validate_trailers(
    benchmark: Any, concat_trail: Callable[[int], Path], mb: int
) -> None:
    trail = bsmtrail.open(concat_trail(mb))
    result = benchmark.pedantic(lambda: trail.scan(decode=False), rounds=5, iterations=1)
    assert result.ok
    report(benchmark, trail.nbytes, result.records)


@pytest.mark.parametrize("mb", [1, 128])
def test_decode_every_token(benchmark: Any, concat_trail: Callable[[int], Path], mb: int) -> None:
    trail = bsmtrail.open(concat_trail(mb))
    result = benchmark.pedantic(lambda: trail.scan(decode=True), rounds=5, iterations=1)
    assert result.ok
    report(benchmark, trail.nbytes, result.records)


def test_python_record_iteration(benchmark: Any, concat_trail: Callable[[int], Path]) -> None:
    """The per-record Python path (lazy views, header fields only)."""
    trail = bsmtrail.open(concat_trail(1))

    def run() -> int:
        n = 0
        for rec in trail:
            n += rec.event >= 0
        return n

    records = benchmark.pedantic(run, rounds=5, iterations=1)
    report(benchmark, trail.nbytes, records)

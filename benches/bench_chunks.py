"""Byte-range chunks over one 256 MB trail (release build): the full records table decoded
as 2 chunks on 1 worker thread, then on 2, each chunk decoded on one thread
(``bsmtrail.chunks.read_trail``); plus the cost of finding the chunk boundaries.

Figures go in BENCHMARKS.md; reproduce with::

    pytest benches/bench_chunks.py --benchmark-only
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bsmtrail.chunks import chunk_boundaries, read_trail
from conftest import report


@pytest.fixture(scope="module")
def trail256(concat_trail: Callable[[int], Path]) -> Path:
    return concat_trail(256)


@pytest.mark.parametrize("workers", [1, 2], ids=["1-core", "2-cores"])
def test_chunked_records_table(benchmark: Any, trail256: Path, workers: int) -> None:
    """The full records view (every Rust column, no event columns), 2 chunks."""
    table = benchmark.pedantic(
        lambda: read_trail(trail256, 2, workers=workers, events=False),
        rounds=7,
        iterations=1,
        warmup_rounds=1,
    )
    report(benchmark, trail256.stat().st_size, table.num_rows)


def test_boundaries(benchmark: Any, trail256: Path) -> None:
    """Finding 64 chunk boundaries (a 1 MiB walk before each split point)."""
    bounds = benchmark.pedantic(lambda: chunk_boundaries(trail256, 64), rounds=5, iterations=1)
    assert len(bounds) == 65

"""The sessions and processes views (``bsmtrail.lineage``) of a generated trail, against
``md5sum`` of the same file in the same run (the issue's target: >= 0.5x md5sum).

100 MB by default; 1 GB with ``BSMTRAIL_BENCH_1GB=1``. Reproduce with
``pytest benches/bench_lineage.py --benchmark-only`` (figures in BENCHMARKS.md)."""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest
from gen_fixtures import generated_path

from bsmtrail.lineage import lineage
from conftest import report

SIZES = [100, *([1000] if os.environ.get("BSMTRAIL_BENCH_1GB") == "1" else [])]
ROUNDS = {100: 3, 1000: 2}


@pytest.mark.parametrize("how", ["md5sum", "both", "sessions", "processes"])
@pytest.mark.parametrize("mb", SIZES)
def test_lineage_views(benchmark: Any, mb: int, how: str) -> None:
    path = generated_path(mb)

    def run() -> int:
        if how == "md5sum":
            subprocess.run(["md5sum", str(path)], check=True, capture_output=True)
            return 1
        s, p = lineage(path, sessions=how != "processes", processes=how != "sessions")
        return (0 if s is None else s.num_rows) + (0 if p is None else p.num_rows)

    rows = benchmark.pedantic(run, rounds=ROUNDS[mb], iterations=1)
    assert rows > 0
    report(benchmark, path.stat().st_size, rows)

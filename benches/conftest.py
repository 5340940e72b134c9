"""Benchmark fixtures. Run with:

    pip install -e '.[bench]'   # release build of the extension
    pytest benches --benchmark-only

The suite refuses to run on a debug build. Large trails are built once per machine by
concatenating the shared real trails (../shared/data/trails), and cached in
``.benchmarks/trails`` (git-ignored).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import bsmtrail

ROOT = Path(__file__).resolve().parent.parent
SHARED_TRAILS = ROOT.parent / "shared" / "data" / "trails"
CACHE = ROOT / ".benchmarks" / "trails"
MB = 1_000_000


def pytest_configure(config: pytest.Config) -> None:
    if bsmtrail.build_profile != "release":
        raise pytest.UsageError(
            "benchmarks need a release build of bsmtrail._native "
            f"(this one is {bsmtrail.build_profile!r}): pip install -e '.[bench]'"
        )


def _real_mix() -> bytes:
    parts = []
    for name in ("apple.bsm", "openbsm.bsm", "execve-long-args.trail", "reference-all.bsm"):
        p = SHARED_TRAILS / name
        if not p.exists():
            raise FileNotFoundError(f"shared trail missing: {p}")
        parts.append(p.read_bytes())
    return b"".join(parts)


@pytest.fixture(scope="session")
def concat_trail() -> Callable[[int], Path]:
    """``concat_trail(mb)``: a trail of at least ``mb`` MB made of whole copies of the
    shared real trails (about 200 records per 11 KB copy)."""

    def make(mb: int) -> Path:
        CACHE.mkdir(parents=True, exist_ok=True)
        path = CACHE / f"shared-concat-{mb}MB.bsm"
        mix = _real_mix()
        copies = -(-mb * MB // len(mix))
        if not path.exists() or path.stat().st_size != copies * len(mix):
            tmp = path.with_suffix(".tmp")
            with tmp.open("wb") as f:
                for _ in range(copies):
                    f.write(mix)
            tmp.replace(path)
        return path

    return make


def report(benchmark: Any, nbytes: int, records: int) -> None:
    """Put MB/s and records/s (from the mean round) into the benchmark's extra_info."""
    mean = benchmark.stats.stats.mean
    benchmark.extra_info["bytes"] = nbytes
    benchmark.extra_info["records"] = records
    benchmark.extra_info["MB/s"] = round(nbytes / mean / MB, 1)
    benchmark.extra_info["records/s"] = round(records / mean)

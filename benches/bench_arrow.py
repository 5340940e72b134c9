"""Arrow export over a 256 MB trail (release build): framing + validation only, the full
records table on one thread and on every core, and streaming to Parquet; plus the peak
resident set of a streaming Parquet conversion of a 1 GB trail, measured with
``/usr/bin/time -v`` in a child process.

Figures go in BENCHMARKS.md; reproduce with::

    pytest benches/bench_arrow.py --benchmark-only

One fresh-process records table (what ``test_records_table_first_call`` runs)::

    python benches/bench_arrow.py records TRAIL THREADS

The RSS measurement alone (what the benchmark runs)::

    /usr/bin/time -v python benches/bench_arrow.py parquet TRAIL OUT.parquet
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import bsmtrail
from conftest import report

MB = 1_000_000


@pytest.fixture(scope="module")
def trail256(concat_trail: Callable[[int], Path]) -> Path:
    return concat_trail(256)


def _records(path: Path) -> int:
    return bsmtrail.open(path).scan(decode=False).records


def _cpu(benchmark: Any, fn: Callable[[], Any], nbytes: int) -> Any:
    """Run ``fn`` under the benchmark and also record its process CPU time (every
    thread): on a shared machine wall time depends on the neighbours, CPU time less.

    One warm-up round first: the first table built in a process takes fresh pages from
    the kernel (about 200,000 page faults for the 770 MB records table of a 256 MB
    trail), later ones mostly reuse the allocator's memory. These rounds are the steady
    state; ``test_records_table_first_call`` measures a fresh process."""
    spent: list[float] = []

    def run() -> Any:
        t0 = time.process_time()
        out = fn()
        spent.append(time.process_time() - t0)
        return out

    out = benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info["cpu_s"] = round(min(spent), 3)
    benchmark.extra_info["MB/s per CPU-second"] = round(nbytes / min(spent) / MB, 1)
    return out


def test_framing_and_validation_only(benchmark: Any, trail256: Path) -> None:
    """Every record framed and every token decoded and checked, nothing built (the
    errors view over a clean trail: zero rows)."""
    trail = bsmtrail.open(trail256)
    table = _cpu(benchmark, lambda: trail.errors_table(threads=1), trail.nbytes)
    assert table.num_rows == 0
    report(benchmark, trail.nbytes, _records(trail256))


@pytest.mark.parametrize("threads", [1, None], ids=["1-thread", "all-cores"])
def test_records_table(benchmark: Any, trail256: Path, threads: int | None) -> None:
    """The full records view (every Rust column, no event columns) as a pyarrow.Table."""
    trail = bsmtrail.open(trail256)
    table = _cpu(benchmark, lambda: trail.to_arrow(events=False, threads=threads), trail.nbytes)
    report(benchmark, trail.nbytes, table.num_rows)


def test_records_table_with_event_columns(benchmark: Any, trail256: Path) -> None:
    """The same on every core, plus the three event-database columns (numpy take)."""
    trail = bsmtrail.open(trail256)
    table = _cpu(benchmark, trail.to_arrow, trail.nbytes)
    report(benchmark, trail.nbytes, table.num_rows)


@pytest.mark.parametrize("threads", [1, 2], ids=["1-thread", "2-threads"])
def test_records_table_first_call(benchmark: Any, trail256: Path, threads: int) -> None:
    """The first ``to_arrow`` of a fresh process (what a one-shot script pays): a child
    process times one full records table. The benchmark's own time is the child's
    whole run; ``first_call_s`` and ``first_call_MB/s`` are the call alone."""
    cmd = [sys.executable, __file__, "records", str(trail256), str(threads)]
    calls: list[float] = []

    def run() -> None:
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        calls.append(float(done.stdout.split()[0]))

    benchmark.pedantic(run, rounds=3, iterations=1)
    best = min(calls)
    benchmark.extra_info["first_call_s"] = round(best, 3)
    benchmark.extra_info["first_call_MB/s"] = round(trail256.stat().st_size / best / MB, 1)


def test_streaming_to_parquet(benchmark: Any, trail256: Path, tmp_path: Path) -> None:
    trail = bsmtrail.open(trail256)
    out = tmp_path / "t.parquet"
    rows = _cpu(benchmark, lambda: trail.to_parquet(out), trail.nbytes)
    report(benchmark, trail.nbytes, rows)
    benchmark.extra_info["parquet_bytes"] = out.stat().st_size


def test_parquet_peak_rss_1gb(
    benchmark: Any, concat_trail: Callable[[int], Path], tmp_path: Path
) -> None:
    """Peak RSS (``/usr/bin/time -v``) of converting a 1 GB trail to Parquet in a fresh
    process. Reported, never asserted."""
    time_bin = shutil.which("time") or "/usr/bin/time"
    if not Path(time_bin).exists():
        pytest.fail("/usr/bin/time is missing (apt-get install time)")
    path = concat_trail(1000)
    out = tmp_path / "t.parquet"
    cmd = [time_bin, "-v", sys.executable, __file__, "parquet", str(path), str(out)]

    def run() -> int:
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
        assert m is not None, done.stderr
        return int(m.group(1))

    kb = benchmark.pedantic(run, rounds=1, iterations=1)
    report(benchmark, path.stat().st_size, _records(path))
    benchmark.extra_info["peak_rss_MB"] = round(kb * 1024 / MB, 1)


def _main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "parquet":
        rows = bsmtrail.open(argv[1]).to_parquet(argv[2])
        print(f"{rows} rows")
        return 0
    if len(argv) == 3 and argv[0] == "records":
        trail = bsmtrail.open(argv[1])
        t0 = time.perf_counter()
        table = trail.to_arrow(events=False, threads=int(argv[2]))
        print(f"{time.perf_counter() - t0:.4f} s, {table.num_rows} rows")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

"""A selective notebook query, lazily (``bsmtrail.polars.scan_trails``, DuckDB over
``bsmtrail.duckdb.register``) against eager (``read_trails``, then polars filters).

Query: the ``time`` and ``auid`` of AUE_SETUID records (0.9% of a generated trail, seed
2024). 100 MB by default; 1 GB with ``BSMTRAIL_BENCH_1GB=1``. The issue's target: lazy
>= 5x faster than eager-then-filter in the same run. Reproduce with
``pytest benches/bench_lazy.py --benchmark-only`` (figures in BENCHMARKS.md)."""

from __future__ import annotations

import os
from typing import Any

import duckdb
import polars as pl
import pytest
from gen_fixtures import generated_path

import bsmtrail.duckdb as bsm_duckdb
from bsmtrail.arrow import read_trails
from bsmtrail.polars import scan_trails
from conftest import report

SIZES = [100, *([1000] if os.environ.get("BSMTRAIL_BENCH_1GB") == "1" else [])]
ROUNDS = {100: 3, 1000: 2}
PRED = pl.col("event_name") == "AUE_SETUID"


def _eager(path: Any) -> pl.DataFrame:
    df = pl.from_arrow(read_trails(path))
    assert isinstance(df, pl.DataFrame)
    return df.filter(PRED).select("time", "auid")


def _lazy(path: Any) -> pl.DataFrame:
    return scan_trails(path).filter(PRED).select("time", "auid").collect()


def _duckdb(path: Any) -> Any:
    con = duckdb.connect()
    bsm_duckdb.register(con, "trails", path)
    # DuckDB does not push filters on dictionary text: ask by event number.
    return con.sql("select time, auid from trails where event = 200").fetchall()


@pytest.mark.parametrize("how", ["eager", "lazy", "duckdb"])
@pytest.mark.parametrize("mb", SIZES)
def test_selective_query(benchmark: Any, mb: int, how: str) -> None:
    path = generated_path(mb)
    run = {"eager": _eager, "lazy": _lazy, "duckdb": _duckdb}[how]
    out = benchmark.pedantic(lambda: run(path), rounds=ROUNDS[mb], iterations=1)
    assert len(out) > 0
    report(benchmark, path.stat().st_size, len(out))

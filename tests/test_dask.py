"""bsmtrail.dask: trails as a Dask dataframe, equal to the single-process Arrow read."""

from __future__ import annotations

from pathlib import Path

import dask.dataframe as dd
import fsspec
import pandas as pd
import pyarrow as pa
import pytest
from dask import distributed

import bsmtrail.arrow
import bsmtrail.dask
from bsmtrail.select import selection
from bsmtrail.writer import generate_trail


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("trails")
    for seed, size in ((1, 1_500_000), (2, 600_000), (3, 2_000_000)):
        generate_trail(d / f"trail{seed}.bsm", size, seed=seed)
    return d


def aggregates(df: pd.DataFrame) -> tuple[object, ...]:
    per_event = df.groupby("event").size().sort_index()
    return (
        len(df),
        {int(k): int(v) for k, v in per_event.items()},
        int(df["size"].astype("int64").sum()),
        df["time"].min(),
        df["time"].max(),
        int(df["auid"].dropna().astype("int64").sum()),
    )


def expected(paths: object, **kw: object) -> pd.DataFrame:
    table = bsmtrail.arrow.read_trails(paths, **kw)  # type: ignore[arg-type]
    return table.to_pandas(types_mapper=pd.ArrowDtype)


def test_meta_and_partitions_without_reading(
    collection: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("a trail was read while building the graph")

    monkeypatch.setattr(bsmtrail.dask, "read_chunk", no_reading)
    monkeypatch.setattr(bsmtrail.dask._native, "chunk_span", no_reading)
    ddf = bsmtrail.dask.read_trails(str(collection / "*.bsm"), chunk_bytes=500_000)
    # 1.5 MB -> 3 (+1 for the generator's overshoot), 0.6 MB -> 2, 2 MB -> 4 (+1)
    sizes = [p.stat().st_size for p in sorted(collection.glob("*.bsm"))]
    assert ddf.npartitions == sum(-(-s // 500_000) for s in sizes)
    schema = bsmtrail.arrow.records_schema()
    assert list(ddf.columns) == schema.names
    assert all(isinstance(t, pd.ArrowDtype) for t in ddf.dtypes)
    assert isinstance(ddf, dd.DataFrame)


def test_local_cluster_matches_single_process(collection: Path) -> None:
    cols = ["event", "size", "time", "auid", "record_offset", "source"]
    ddf = bsmtrail.dask.read_trails(collection, columns=cols, chunk_bytes=400_000)
    assert ddf.npartitions > 3
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            dashboard_address=None,
            silence_logs=40,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        got = client.compute(ddf).result()
        sel = selection(classes="fr,fw")
        picked = client.compute(
            bsmtrail.dask.read_trails(collection, cols, where=sel, chunk_bytes=400_000)
        ).result()
    want = expected(collection, columns=cols)
    assert aggregates(got) == aggregates(want)
    got = got.reset_index(drop=True)
    assert got["record_offset"].tolist() == want["record_offset"].tolist()
    assert got["source"].astype(str).tolist() == want["source"].astype(str).tolist()
    want_sel = expected(collection, columns=cols, where=sel)
    assert 0 < len(picked) < len(got)
    assert aggregates(picked) == aggregates(want_sel)


def test_memory_url(collection: Path) -> None:
    fs = fsspec.filesystem("memory")
    paths = sorted(collection.glob("*.bsm"))
    for p in paths:
        fs.pipe(f"/bsm/{p.name}", p.read_bytes())
    cols = ["event", "size", "time", "auid", "record_offset", "other_tokens"]
    ddf = bsmtrail.dask.read_trails(
        "memory://bsm/*.bsm", columns=cols, chunk_bytes=300_000, lookback=4096, ahead=4096
    )
    got = ddf.compute(scheduler="sync").reset_index(drop=True)
    want = expected(paths, columns=cols)
    assert aggregates(got) == aggregates(want)
    assert got["record_offset"].tolist() == want["record_offset"].tolist()
    got_tokens = pa.array(got["other_tokens"]).to_pylist()
    assert got_tokens == pa.array(want["other_tokens"]).to_pylist()


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        bsmtrail.dask.read_trails(str(tmp_path / "none*.bsm"))
    with pytest.raises(ValueError):
        bsmtrail.dask.read_trails(tmp_path, chunk_bytes=0)

"""Lazy scans (``bsmtrail.polars.scan_trails``, ``bsmtrail.duckdb.register``) against the
eager path: every query gives exactly the rows of ``read_trails`` filtered by polars or
DuckDB, and the pushable part of each filter is shown to reach the reader (the scan's log
says what was pushed, and fewer rows were built than records framed)."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bsmtrail.duckdb as bsm_duckdb
from bsmtrail import BSMWarning
from bsmtrail.arrow import read_trails
from bsmtrail.polars import ScanLog, scan_trails
from bsmtrail.pushdown import split
from bsmtrail.select import selection
from bsmtrail.writer import generate_trail

DATA = Path(__file__).parent / "data"
UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lazy") / "g.bsm"
    generate_trail(path, 1_500_000, 11)
    return path


@pytest.fixture(scope="module")
def eager(trail: Path) -> pl.DataFrame:
    return pl.from_arrow(read_trails(trail, passwd=DATA / "passwd", group=DATA / "group"))  # type: ignore[return-value]


def _bounds(eager: pl.DataFrame) -> tuple[dt.datetime, dt.datetime]:
    lo, hi = eager.select(pl.col("time").min().alias("lo"), pl.col("time").max().alias("hi")).row(0)
    return lo, hi


def _a_path(eager: pl.DataFrame, k: int) -> str:
    """The k-th most common path of the trail (some records have it, most do not)."""
    counts = eager["paths"].explode().drop_nulls().value_counts(sort=True)
    return str(counts[min(k, counts.height - 1), 0]) if counts.height else "/"


def _queries(eager: pl.DataFrame) -> list[tuple[str, Any, bool]]:
    """(id, predicate, whether something of it can be pushed)."""
    lo, hi = _bounds(eager)
    mid = lo + (hi - lo) / 2
    odd = mid + dt.timedelta(microseconds=1500)  # not a whole ms
    execve = pl.col("event_name") == "AUE_EXECVE"
    return [
        ("time>=", pl.col("time") >= mid, True),
        ("time>", pl.col("time") > mid, True),
        ("time<", pl.col("time") < mid, True),
        ("time<=", pl.col("time") <= mid, True),
        ("time>odd", pl.col("time") > odd, True),
        ("time<=odd", pl.col("time") <= odd, True),
        ("time==", pl.col("time") == eager["time"][eager.height // 2], True),
        ("time==odd", pl.col("time") == odd, True),
        ("time between", pl.col("time").is_between(lo, mid, closed="left"), True),
        ("lit<col", pl.lit(mid) < pl.col("time"), True),
        ("event==", pl.col("event") == 23, True),
        ("event in", pl.col("event").is_in([23, 2, 72]), True),
        ("event_name==", execve, True),
        ("event_name in", pl.col("event_name").is_in(["AUE_EXECVE", "AUE_OPEN_R"]), True),
        ("event_name unknown", pl.col("event_name") == "AUE_NO_SUCH_EVENT", True),
        ("event_description==", pl.col("event_description") == "execve(2)", True),
        ("auid==", pl.col("auid") == 501, True),
        ("auid unset", pl.col("auid") == 4294967295, True),
        ("auid in", pl.col("auid").is_in([0, 502, None]), True),
        (
            "auid unset is null",
            pl.col("auid").is_null() & pl.col("subject_type").is_not_null(),
            False,
        ),
        ("success", pl.col("success"), True),
        ("failure", ~pl.col("success"), True),
        ("success==False", pl.col("success") == False, True),  # noqa: E712 (the query as typed)
        ("success is null", pl.col("success").is_null(), False),
        ("class", pl.col("event_classes").list.contains("ex"), True),
        ("class unknown", pl.col("event_classes").list.contains("zz"), True),
        (
            "class and failure",
            pl.col("event_classes").list.contains("fr") & ~pl.col("success"),
            True,
        ),
        ("success and failure", pl.col("success") & ~pl.col("success"), True),
        ("path", pl.col("paths").list.contains(_a_path(eager, 0)), True),
        ("path absent", pl.col("paths").list.contains("/no/such/path"), True),
        (
            "two paths",
            pl.col("paths").list.contains(_a_path(eager, 0))
            & pl.col("paths").list.contains(_a_path(eager, 1)),
            True,
        ),
        ("path with backslash", pl.col("paths").list.contains("/a\\x41"), False),
        ("euid==", pl.col("euid") == 0, True),
        ("egid==", pl.col("egid") == 20, True),
        ("ruid==", pl.col("ruid") == 501, True),
        ("rgid==", pl.col("rgid") == 0, True),
        ("pid in", pl.col("pid").is_in(eager["pid"].head(50).to_list()), True),
        ("auid_name==", pl.col("auid_name") == "alice", True),
        ("egid_name in", pl.col("egid_name").is_in(["staff", "wheel"]), True),
        ("combination", execve & (pl.col("auid") == 501) & (pl.col("time") < mid), True),
        ("twice", (pl.col("auid") == 501) & pl.col("auid").is_in([501, 0]), True),
        ("or", (pl.col("auid") == 501) | (pl.col("event") == 23), False),
        ("not", ~(pl.col("auid") == 501), False),
        ("!=", pl.col("auid") != 501, False),
        ("paths", pl.col("paths").list.len() > 1, False),
        ("arithmetic", (pl.col("pid") + 1) == 100, False),
        ("size", pl.col("size") > 200, False),
        ("partly", execve & ((pl.col("pid") % 2) == 0), True),
        (
            "or inside and",
            (pl.col("event") == 23) & ((pl.col("auid") == 0) | (pl.col("auid") == 501)),
            True,
        ),
    ]


def _scan(trail: Path, log: ScanLog | None = None, **kw: Any) -> pl.LazyFrame:
    return scan_trails(trail, passwd=DATA / "passwd", group=DATA / "group", log=log, **kw)


def test_query_matrix_equals_eager_filtering(trail: Path, eager: pl.DataFrame) -> None:
    cols = ["record_offset", "time", "event_name", "event_classes", "success", "auid", "pid"]
    cols.append("auid_name")
    for name, pred, pushable in _queries(eager):
        log = ScanLog()
        lazy = _scan(trail, log).filter(pred).select(cols).collect()
        want = eager.filter(pred).select(cols)
        assert lazy.equals(want), name
        (scan,) = log.scans
        assert bool(scan.pushed.conjuncts) == pushable, (name, scan.pushed)
        if pushable:
            # Pushdown happened: the reader built rows only for records that can pass.
            assert scan.rows < scan.records, name
            assert scan.rows >= len(want), name
        else:
            assert scan.rows == scan.records == eager.height, name


def test_projection_builds_only_the_columns_asked(trail: Path, eager: pl.DataFrame) -> None:
    log = ScanLog()
    got = _scan(trail, log).select("event", "auid_name").collect()
    assert got.equals(eager.select("event", "auid_name"))
    assert log.scans[0].columns == ["event", "auid_name"]
    whole = _scan(trail).collect()
    assert whole.equals(eager)


@pytest.mark.parametrize("n", [0, 1, 7, 70_000])
def test_head_stops_early(trail: Path, eager: pl.DataFrame, n: int) -> None:
    log = ScanLog()
    got = _scan(trail, log, batch_size=1000).head(n).collect()
    assert got.equals(eager.head(n))
    if 0 < n < 1000:
        # One batch of 1,000 rows was enough: not every record was framed and built.
        assert log.scans[0].rows_out == n
        assert not log.scans[0].reports or log.scans[0].rows < eager.height
    filtered = _scan(trail, batch_size=1000).filter(pl.col("auid") == 501).head(n).collect()
    assert filtered.equals(eager.filter(pl.col("auid") == 501).head(n))


def test_split_reads_the_predicate_as_the_columns_mean_it() -> None:
    t = dt.datetime(2024, 1, 2, 3, 4, 5, 678_901, tzinfo=UTC)
    ms = int(t.timestamp() * 1000)  # 678.901 ms: floor 678
    p = split(
        (pl.col("time") > t)
        & (pl.col("time") <= t + dt.timedelta(seconds=1))
        & (pl.col("auid") == 501)
        & pl.col("auid").is_in([501, 502])
        & pl.col("event").is_in([1, 2])
        & (pl.col("event") == 2),
        ["time", "auid", "event"],
    )
    assert p.time_ms == (ms + 1, ms + 1000)
    assert p.subject == {"auid": {501}}
    assert p.events == {2}
    assert len(p.conjuncts) == 6
    # A column the scan does not have, a value out of the column's range, a naive time:
    # nothing pushed.
    for pred in [
        pl.col("zzz") == 1,
        pl.col("auid") == -1,
        pl.col("event") == 70_000,
        pl.col("time") > dt.datetime(2024, 1, 1),
    ]:
        assert split(pred, ["time", "auid", "event", "pid"]).empty, pred


def test_where_and_pushed_filter_combine(trail: Path, eager: pl.DataFrame) -> None:
    sel = selection(classes="ex")
    base = pl.from_arrow(read_trails(trail, where=sel))
    assert isinstance(base, pl.DataFrame)
    got = scan_trails(trail, where=sel).filter(pl.col("auid") == 501).collect()
    assert got.equals(base.filter(pl.col("auid") == 501))
    assert 0 < got.height < base.height


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_threads_give_the_same_rows(trail: Path, eager: pl.DataFrame, threads: int) -> None:
    pred = (pl.col("event_name") == "AUE_OPEN_R") & (pl.col("time") >= _bounds(eager)[0])
    got = _scan(trail, threads=threads, batch_size=4096).filter(pred).collect()
    assert got.equals(eager.filter(pred))


def test_labelled_merged_inputs(tmp_path: Path) -> None:
    for i, host in enumerate(["h1", "h2"]):
        (tmp_path / host).mkdir()
        generate_trail(tmp_path / host / "20231101000000.20231102000000", 200_000, 20 + i)
    inputs = {"host1": tmp_path / "h1", "host2": tmp_path / "h2"}
    eager = pl.from_arrow(read_trails(inputs, order="time"))
    assert isinstance(eager, pl.DataFrame)
    pred = (pl.col("label") == "host2") & (pl.col("auid") == 501)
    got = scan_trails(inputs, order="time").filter(pred).collect()
    assert got.equals(eager.filter(pred))
    assert got.height > 0


def test_streaming_engine_and_sink(trail: Path, eager: pl.DataFrame, tmp_path: Path) -> None:
    pred = pl.col("event") == 23
    got = (
        _scan(trail, batch_size=2048)
        .filter(pred)
        .select("record_offset", "pid")
        .collect(engine="streaming")
    )
    assert got.equals(eager.filter(pred).select("record_offset", "pid"))
    out = tmp_path / "x.parquet"
    _scan(trail, batch_size=2048).filter(pred).select("record_offset", "pid").sink_parquet(out)
    assert pl.read_parquet(out).equals(got)


def test_damaged_records_are_warned_of_when_a_pushed_filter_cannot_judge(tmp_path: Path) -> None:
    path = tmp_path / "d.bsm"
    generate_trail(path, 100_000, 3)
    data = bytearray(path.read_bytes())
    # Corrupt the id of the second token of some records: the subject cannot be found.
    eager = pl.from_arrow(read_trails(path))
    assert isinstance(eager, pl.DataFrame)
    offsets = eager.filter(pl.col("auid") == 501)["record_offset"].head(3).to_list()
    for off in offsets:
        data[off + 18] = 0xEE  # header32 is 18 bytes; its next token's id
    path.write_bytes(bytes(data))
    eager = pl.from_arrow(read_trails(path))
    assert isinstance(eager, pl.DataFrame)
    # Without a pushable filter, the lazy rows are the eager rows, damage and all.
    assert (
        scan_trails(path)
        .filter(pl.col("size") > 0)
        .collect()
        .equals(eager.filter(pl.col("size") > 0))
    )
    with pytest.warns(BSMWarning, match="left out of the selection"):
        got = scan_trails(path).filter(pl.col("auid") == 501).collect()
    want = eager.filter(pl.col("auid") == 501)
    assert set(got["record_offset"]) <= set(want["record_offset"])


def test_duckdb_register_pushes_projection_and_filters(trail: Path, eager: pl.DataFrame) -> None:
    con = duckdb.connect()
    log = ScanLog()
    bsm_duckdb.register(con, "trails", trail, passwd=DATA / "passwd", log=log)
    con.register("eager", eager.to_arrow())
    lo, hi = _bounds(eager)
    mid = lo + (hi - lo) / 2
    queries = [
        "select record_offset as o, pid from {t} where auid = 501 order by o",
        "select count(*) from {t} where event in (23, 2, 72)",
        f"select record_offset as o from {{t}} where time >= TIMESTAMPTZ '{mid.isoformat()}' "
        "and euid = 0 order by o",
        "select event_name, count(*) as n from {t} where auid in (0, 501) group by 1 order by 1",
        "select record_offset as o from {t} where auid_name = 'alice' order by o",
    ]
    for q in queries:
        before = len(log.scans)
        got = con.sql(q.format(t="trails")).fetchall()
        assert got == con.sql(q.format(t="eager")).fetchall(), q
        scan = log.scans[before]
        assert scan.columns is not None and len(scan.columns) < eager.width, q
        if "auid_name" not in q:
            assert scan.pushed.conjuncts and scan.rows < scan.records, q


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_random_conjunctions_equal_eager(
    trail: Path, eager: pl.DataFrame, data: st.DataObject
) -> None:
    lo, hi = _bounds(eager)
    span = int((hi - lo).total_seconds() * 1000)
    atoms = st.one_of(
        st.builds(
            lambda c, v: pl.col(c) == v,
            st.sampled_from(["auid", "euid", "ruid", "egid", "rgid"]),
            st.sampled_from([0, 1, 20, 501, 502, 4294967295]),
        ),
        st.builds(
            lambda op, ms: op(pl.col("time"), lo + dt.timedelta(milliseconds=ms)),
            st.sampled_from(
                [lambda a, b: a < b, lambda a, b: a <= b, lambda a, b: a > b, lambda a, b: a >= b]
            ),
            st.integers(-10, span + 10),
        ),
        st.builds(
            lambda vs: pl.col("event").is_in(vs),
            st.lists(st.sampled_from([2, 23, 72, 43190, 45029, 27, 5]), min_size=1, max_size=3),
        ),
        st.builds(lambda v: pl.col("pid") == v, st.sampled_from(eager["pid"].head(20).to_list())),
        st.builds(lambda v: pl.col("size") > v, st.integers(0, 400)),
        st.sampled_from([pl.col("success"), ~pl.col("success"), pl.col("success").is_null()]),
        st.builds(
            lambda c: pl.col("event_classes").list.contains(c),
            st.sampled_from(["ex", "fr", "fw", "lo", "pc", "zz"]),
        ),
        st.builds(lambda k: pl.col("paths").list.contains(_a_path(eager, k)), st.integers(0, 5)),
    )
    parts = data.draw(st.lists(atoms, min_size=1, max_size=4))
    pred = parts[0]
    for p in parts[1:]:
        pred = pred & p
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = _scan(trail, batch_size=5000).filter(pred).select("record_offset", "auid").collect()
    assert got.equals(eager.filter(pred).select("record_offset", "auid"))


def test_globs_directories_and_compressed_inputs(tmp_path: Path, trail: Path) -> None:
    import gzip

    (tmp_path / "a.bsm").write_bytes(trail.read_bytes())
    (tmp_path / "b.bsm.gz").write_bytes(gzip.compress((DATA / "gen-1.bsm").read_bytes()))
    pred = pl.col("auid") == 501
    for inputs in [tmp_path, str(tmp_path / "*.bsm*"), [tmp_path / "b.bsm.gz", trail]]:
        eager = pl.from_arrow(read_trails(inputs))
        assert isinstance(eager, pl.DataFrame)
        got = scan_trails(inputs).filter(pred).select("source", "record_offset").collect()
        assert got.equals(eager.filter(pred).select("source", "record_offset")), inputs
        assert got["source"].n_unique() == 2


def test_shared_real_trails_equal_eager(shared_trails: dict[str, Path]) -> None:
    """The real trails (macOS, OpenBSM, FreeBSD-style exec args, every token type): each
    query of the matrix gives the rows of filtering ``read_trails``."""
    for name, path in shared_trails.items():
        eager = pl.from_arrow(read_trails(path))
        assert isinstance(eager, pl.DataFrame)
        for qname, pred, _ in _queries(eager):
            if "name" in qname and "event" not in qname:
                continue  # *_name columns need passwd/group: covered on generated trails
            got = scan_trails(path).filter(pred).collect()
            assert got.equals(eager.filter(pred)), (name, qname)
        assert scan_trails(path).head(3).collect().equals(eager.head(3)), name
        cols = ["record_offset", "event_classes", "success"]
        assert scan_trails(path).select(cols).collect().equals(eager.select(cols)), name

"""Schema 2 answers an analyst's first queries as typed, in DuckDB, polars and pandas:
no column needs quoting, class membership is a list test, ``success`` says whether the
call succeeded, and the unset audit id is null (docs/arrow-schema.md, "What changed in
version 2"). Expected values come from the record API's token dicts and the event
database, not from the table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import bsmtrail
from bsmtrail.arrow import read_trails, to_pandas
from bsmtrail.events import load_events
from bsmtrail.writer import generate_trail

DATA = Path(__file__).parent / "data"
UNSET = 0xFFFFFFFF


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    gen = tmp_path_factory.mktemp("schema") / "g.bsm"
    generate_trail(gen, 400_000, 5)
    return [bsmtrail.demo_path(), gen]


@pytest.fixture(scope="module")
def table(paths: list[Path]) -> pa.Table:
    return read_trails(paths, passwd=DATA / "passwd", group=DATA / "group")


def _one(con: duckdb.DuckDBPyConnection, query: str) -> tuple[Any, ...]:
    """The query's one row."""
    (row,) = con.sql(query).fetchall()
    return row


def _first(tokens: list[dict[str, Any]], prefix: tuple[str, ...]) -> dict[str, Any] | None:
    return next((t for t in tokens if t["type"].startswith(prefix)), None)


@pytest.fixture(scope="module")
def truth(paths: list[Path]) -> list[dict[str, Any]]:
    """Per record, from the token dicts: the first subject's auid, whether it has one,
    the first return token's status, and the event's classes from the event database."""
    db = load_events()
    out = []
    for path in paths:
        for rec in bsmtrail.open(path, mode="recover"):
            sub = _first(rec.tokens, ("subject",))
            ret = _first(rec.tokens, ("return32", "return64"))
            ev = db.get(rec.event)
            out.append(
                {
                    "subject": sub is not None,
                    "auid": None if sub is None else sub["auid"],
                    "status": None if ret is None else ret["status"],
                    "classes": None if ev is None else list(ev.classes),
                }
            )
    return out


def test_no_name_needs_quoting_in_duckdb(table: pa.Table, paths: list[Path]) -> None:
    views = {
        "r": table,
        "k": bsmtrail.open(paths[0]).tokens_table(),
        "e": read_trails(paths, view="errors"),
    }
    con = duckdb.connect()
    for name, t in views.items():
        con.register(name, t)
        assert "offset" not in t.column_names
        for field in t.schema:
            c = field.name
            con.sql(f"select {c} from {name} where {c} is not null limit 1").fetchall()
            inner = field.type.value_type if pa.types.is_list(field.type) else field.type
            if pa.types.is_struct(inner):
                for sub in inner:
                    get = (
                        f"list_transform({c}, lambda x: x.{sub.name})"
                        if pa.types.is_list(field.type)
                        else f"{c}.{sub.name}"
                    )
                    con.sql(f"select {get} from {name} limit 1").fetchall()


def test_unset_auid_is_null(table: pa.Table, truth: list[dict[str, Any]]) -> None:
    want = [None if t["auid"] == UNSET else t["auid"] for t in truth]
    assert table.column("auid").to_pylist() == want
    unset = sum(t["auid"] == UNSET for t in truth)
    assert unset > 0  # the inputs do hold unattributed records
    con = duckdb.connect()
    con.register("trails", table)
    q = "select count(*) from trails where auid is null and subject_type is not null"
    assert _one(con, q) == (unset,)
    (top,) = _one(con, "select max(auid) from trails")
    assert top == max(a for a in want if a is not None) and top < UNSET
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    assert (
        df.filter(pl.col("auid").is_null() & pl.col("subject_type").is_not_null()).height == unset
    )
    # The names follow the ids: an unset auid has no name.
    assert df.filter(pl.col("auid").is_null())["auid_name"].null_count() == df["auid"].null_count()
    # pandas: NA, never a float or the sentinel.
    auids = to_pandas(table)["auid"]
    assert auids.dtype == pd.ArrowDtype(pa.uint32())
    assert int(auids.isna().sum()) == df["auid"].null_count() and auids.max() < UNSET


def test_success_is_the_first_return_status(table: pa.Table, truth: list[dict[str, Any]]) -> None:
    want = [None if t["status"] is None else t["status"] == 0 for t in truth]
    assert table.column("success").to_pylist() == want
    failures = sum(w is False for w in want)
    assert 0 < failures < len(want)
    con = duckdb.connect()
    con.register("trails", table)
    assert _one(con, "select count(*) from trails where not success") == (failures,)
    df = to_pandas(table)
    assert int((df["success"] == False).sum()) == failures  # noqa: E712 (as a user types it)


def test_event_classes_is_a_list(table: pa.Table, truth: list[dict[str, Any]]) -> None:
    assert table.column("event_classes").to_pylist() == [t["classes"] for t in truth]
    want = {c: sum(c in (t["classes"] or []) for t in truth) for c in ("ex", "fr", "lo", "zz")}
    assert want["ex"] > 0 and want["zz"] == 0
    con = duckdb.connect()
    con.register("trails", table)
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    for cls, n in want.items():
        q = f"select count(*) from trails where list_contains(event_classes, '{cls}')"
        assert _one(con, q) == (n,), cls
        assert df.filter(pl.col("event_classes").list.contains(cls)).height == n, cls
    by_class = dict(
        con.sql(
            "select c, count(*) from (select unnest(event_classes) c from trails) group by c"
        ).fetchall()
    )
    assert by_class["ex"] == want["ex"] and by_class["lo"] == want["lo"]

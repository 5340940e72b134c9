"""Dataframe filters pushed into the reader: the parts of a polars predicate on the
records view that bsmtrail's selection can test in Rust, before any column is built.

:func:`split` walks the predicate's top-level conjunction (``a & b & ...``) and turns each
conjunct it recognises into row criteria with the **columns'** meaning: the ``time``
column's range in ms, the ``event`` number (``event_name`` and ``event_description``
resolved through the same event database as the columns, and ``event_classes``'
``list.contains`` to the events in a class), ``success`` (the first return token's
status), ``paths``' ``list.contains`` (some path token equal to the text), and the first
subject's ``auid``/``euid``/``egid``/``ruid``/``rgid``/``pid`` (and ``*_name`` through
the evidence's passwd/group, as the name columns are made). Every recognised conjunct
keeps a superset of the rows the full predicate keeps, so the caller still applies the
whole predicate to what the reader gives; anything else (``|``, negation, arithmetic,
casts of the column, other list and text functions, other columns) is simply not pushed.

Only the expression tree's node kinds are read from polars' serialized form (its
top-level key and operator); operands are taken apart with ``Expr.meta`` and literals
evaluated by polars itself, so a change in how polars serializes literals costs nothing
but, at worst, a conjunct not pushed."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ._native import Selection
from .lazy import module

#: The first subject's id columns (and ``pid``) whose values can be pushed.
SUBJECT_COLUMNS = ("auid", "euid", "egid", "ruid", "rgid", "pid")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_U32 = 1 << 32
_FLIP = {"Lt": "Gt", "LtEq": "GtEq", "Gt": "Lt", "GtEq": "LtEq", "Eq": "Eq"}


@dataclass
class Pushed:
    """What :func:`split` pushed: value sets per column (None: not constrained), the
    ``time`` range in ms (inclusive), and the conjuncts pushed, as text."""

    events: set[int] | None = None
    subject: dict[str, set[int]] = field(default_factory=dict)
    time_ms: tuple[int, int] | None = None
    success: bool | None = None
    paths: set[str] | None = None
    conjuncts: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.conjuncts

    def selection(self) -> Selection | None:
        """The native selection keeping every record whose row may pass, or None."""
        if self.empty:
            return None
        return Selection(
            events=None if self.events is None else sorted(self.events),
            time_ms=self.time_ms,
            first_subject={k: sorted(v) for k, v in self.subject.items()} or None,
            success=self.success,
            paths=None if self.paths is None else sorted(p.encode() for p in self.paths),
        )

    def _values(self, column: str, values: set[int]) -> None:
        if column == "event":
            self.events = values if self.events is None else self.events & values
        else:
            old = self.subject.get(column)
            self.subject[column] = values if old is None else old & values

    def _success(self, value: bool) -> None:
        if self.success is not None and self.success != value:
            self.events = set()  # success and failure at once: no row
        self.success = value

    def _time(self, lo: int, hi: int) -> None:
        if self.time_ms is not None:
            lo, hi = max(lo, self.time_ms[0]), min(hi, self.time_ms[1])
        self.time_ms = (lo, hi)


class Lookups:
    """How text columns map back to the numbers the reader tests. This base knows none;
    a scan gives one that answers from the same event database and passwd/group files
    as its columns."""

    def event_numbers(self, column: str, texts: list[str]) -> set[int] | None:
        """The event numbers whose ``column`` (``event_name``, ...) is one of ``texts``;
        None when ``column`` is not such a column."""
        return None

    def name_ids(self, column: str, texts: list[str]) -> tuple[str, set[int]] | None:
        """For a ``*_name`` column: the id column it names and the ids named one of
        ``texts``; None when ``column`` is not such a column."""
        return None

    def class_events(self, name: str) -> set[int] | None:
        """The event numbers whose ``event_classes`` list holds ``name``; None when the
        scan has no such column."""
        return None


def _pl() -> Any:
    return module("polars")


def _node(expr: Any) -> tuple[str, Any]:
    """The expression's top-level kind and its payload in polars' serialized form."""
    tree = json.loads(expr.meta.serialize(format="json"))
    if not isinstance(tree, dict) or len(tree) != 1:
        return "", None
    ((kind, body),) = tree.items()
    return kind, body


def _inputs(expr: Any) -> list[Any]:
    # meta.pop() lists a node's inputs last first.
    return list(reversed(expr.meta.pop()))


def _column(expr: Any) -> str | None:
    """The column an operand reads as it is: a bare column, or a time column whose unit
    alone is changed (as DuckDB compares times in microseconds)."""
    if expr.meta.is_column():
        return str(expr.meta.output_name())
    kind, body = _node(expr)
    if kind == "Function" and isinstance(body, dict):
        fn = body.get("function")
        temporal = fn.get("TemporalExpr") if isinstance(fn, dict) else None
        if isinstance(temporal, dict) and "CastTimeUnit" in temporal:
            (inner,) = _inputs(expr)
            return _column(inner)
    return None


def _is_null_or_false(tree: Any) -> bool:
    scalar = tree.get("Literal", {}).get("Scalar") if isinstance(tree, dict) else None
    return isinstance(scalar, dict) and ("Null" in scalar or scalar.get("Boolean") is False)


def _child(expr: Any, tree: Any) -> Any:
    """The input of ``expr`` whose serialized form is ``tree``."""
    want = json.dumps(tree, sort_keys=True)
    for e in expr.meta.pop():
        if json.dumps(json.loads(e.meta.serialize(format="json")), sort_keys=True) == want:
            return e
    return None


def _literal(expr: Any) -> list[Any] | None:
    """The values of an expression that reads no column (a scalar, a list, a Series)."""
    if expr.meta.root_names():
        return None
    pl = _pl()
    try:
        series = pl.select(expr).to_series()
    except Exception:  # anything polars cannot evaluate is simply not pushed
        return None
    if isinstance(series.dtype, pl.List):
        series = series.explode()
    return list(series.to_list())


def _ints(values: Iterable[Any], limit: int) -> set[int] | None:
    out = set()
    for v in values:
        if v is None:
            continue  # null never equals anything, nor is it in a list (nulls_equal off)
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < limit:
            return None
        out.add(v)
    return out


def _micros(value: Any) -> int | None:
    """An aware datetime as microseconds since the epoch (exact); None otherwise."""
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        return None
    return (value - _EPOCH) // dt.timedelta(microseconds=1)


def _time_range(op: str, us: int) -> tuple[int, int]:
    """The ms values ``m`` of the ``time`` column with ``m * 1000 <op> us``."""
    lo, hi = -(1 << 63), (1 << 63) - 1
    floor, ceil = us // 1000, -(-us // 1000)
    if op == "Gt":
        return floor + 1, hi
    if op == "GtEq":
        return ceil, hi
    if op == "Lt":
        return lo, ceil - 1
    if op == "LtEq":
        return lo, floor
    return ceil, floor  # Eq: empty unless a whole ms


class _Splitter:
    def __init__(self, columns: set[str], lookups: Lookups) -> None:
        self.columns = columns
        self.lookups = lookups
        self.out = Pushed()

    def conjunct(self, expr: Any) -> None:
        kind, body = _node(expr)
        if kind == "Column" and body == "success" and "success" in self.columns:
            self.out._success(True)  # filter(pl.col("success")), DuckDB `where success`
            self.out.conjuncts.append(str(expr))
            return
        if kind == "BinaryExpr" and isinstance(body, dict):
            op = body.get("op")
            if op in ("And", "LogicalAnd"):
                for part in _inputs(expr):
                    self.conjunct(part)
                return
            if op in _FLIP:
                left, right = _inputs(expr)
                if self.compare(left, op, right) or self.compare(right, _FLIP[op], left):
                    self.out.conjuncts.append(str(expr))
            return
        if kind == "Ternary" and isinstance(body, dict) and _is_null_or_false(body.get("truthy")):
            # when(c).then(null).otherwise(x) keeps no row that x drops (DuckDB writes
            # `IN` so).
            falsy = _child(expr, body.get("falsy"))
            if falsy is not None:
                self.conjunct(falsy)
            return
        if kind == "Function" and isinstance(body, dict):
            fn = body.get("function")
            boolean = fn.get("Boolean") if isinstance(fn, dict) else None
            if boolean == "Not":
                (inner,) = _inputs(expr)
                if _column(inner) == "success" and "success" in self.columns:
                    self.out._success(False)
                    self.out.conjuncts.append(str(expr))
                return
            listed = fn.get("ListExpr") if isinstance(fn, dict) else None
            if isinstance(listed, dict) and "Contains" in listed:
                col, item = _inputs(expr)
                if self.contains(col, item):
                    self.out.conjuncts.append(str(expr))
                return
            if isinstance(boolean, dict) and "IsIn" in boolean:
                col, values = _inputs(expr)
                if self.member(col, values):
                    self.out.conjuncts.append(str(expr))
            elif isinstance(boolean, dict) and "IsBetween" in boolean:
                col, lower, upper = _inputs(expr)
                closed = boolean["IsBetween"].get("closed", "Both")
                low_op = "GtEq" if closed in ("Both", "Left") else "Gt"
                high_op = "LtEq" if closed in ("Both", "Right") else "Lt"
                if self.compare(col, low_op, lower) and self.compare(col, high_op, upper):
                    self.out.conjuncts.append(str(expr))

    def compare(self, col_expr: Any, op: str, value_expr: Any) -> bool:
        col = _column(col_expr)
        if col is None or col not in self.columns:
            return False
        values = _literal(value_expr)
        if values is None or len(values) != 1:
            return False
        if col == "time":
            us = _micros(values[0])
            if us is None:
                return False
            self.out._time(*_time_range(op, us))
            return True
        return op == "Eq" and self.equals(col, values)

    def member(self, col_expr: Any, values_expr: Any) -> bool:
        col = _column(col_expr)
        if col is None or col not in self.columns or col == "time":
            return False
        values = _literal(values_expr)
        return values is not None and self.equals(col, values)

    def contains(self, col_expr: Any, item_expr: Any) -> bool:
        """``col.list.contains(item)`` on ``event_classes`` or ``paths``."""
        col = _column(col_expr)
        if col not in ("event_classes", "paths") or col not in self.columns:
            return False
        values = _literal(item_expr)
        if values is None or len(values) != 1 or not isinstance(values[0], str):
            return False
        if col == "paths":
            # A path's column text equals its bytes unless it held invalid UTF-8, which
            # the column writes with backslash escapes: a literal without a backslash is
            # compared byte for byte exactly. One set only: a second contains() would
            # need both paths, which "any of a set" cannot say (it is left to polars).
            if "\\" in values[0] or self.out.paths is not None:
                return False
            self.out.paths = {values[0]}
            return True
        events = self.lookups.class_events(values[0])
        if events is None:
            return False
        self.out._values("event", events)
        return True

    def equals(self, col: str, values: list[Any]) -> bool:
        """``col`` is one of ``values``."""
        if col == "success":
            flags = {v for v in values if v is not None}
            if len(flags) != 1 or not all(isinstance(v, bool) for v in flags):
                return False
            self.out._success(flags.pop())
            return True
        if col == "event":
            ints = _ints(values, 1 << 16)
            if ints is None:
                return False
            self.out._values("event", ints)
            return True
        if col in SUBJECT_COLUMNS:
            ints = _ints(values, _U32)
            if ints is None:
                return False
            self.out._values(col, ints)
            return True
        texts = [v for v in values if v is not None]
        if not all(isinstance(v, str) for v in texts):
            return False
        events = self.lookups.event_numbers(col, texts)
        if events is not None:
            self.out._values("event", events)
            return True
        named = self.lookups.name_ids(col, texts)
        if named is not None:
            self.out._values(*named)
            return True
        return False


def split(predicate: Any, columns: Iterable[str], lookups: Lookups | None = None) -> Pushed:
    """What of ``predicate`` (a ``polars.Expr`` on the records view) the reader can test:
    see the module. ``columns``: the columns the scan has (a pushed conjunct must name
    one of them); ``lookups``: text columns' values back to numbers."""
    s = _Splitter(set(columns), lookups or Lookups())
    s.conjunct(predicate)
    return s.out

"""Lazy polars scans of trails: ``scan_trails(paths)`` is a ``polars.LazyFrame`` whose
query decides what bsmtrail reads.

Through polars' IO-plugin interface the scan learns, when the query is collected, which
columns it needs (only those are built, in Rust), its filter (the conjuncts that
:mod:`bsmtrail.pushdown` recognises become a native selection, tested on each framed
record before any column is built; the whole filter is then applied to what is read, so
the rows are exactly those of filtering :func:`~bsmtrail.arrow.read_trails`), and a row
limit (``head``, ``limit``: reading stops once it is reached). Batches stream, so a query
over more trails than fit in memory runs (``collect(engine="streaming")`` or
``sink_parquet``). DuckDB reads the same scan lazily (:mod:`bsmtrail.duckdb`).

Records that a pushed filter could not judge (a token bsmtrail cannot decode hides the
subject, in a damaged or hostile trail) are left out, with a ``BSMWarning``, as
``read_trails(where=...)`` does: an eager read would give them as rows with ``error``
set."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._native import InputReport, Selection
from .arrow import (
    DEFAULT_BATCH_SIZE,
    MERGE_WINDOW_MS,
    NAME_COLUMNS,
    InputsArg,
    Order,
    iter_trails,
    label_inputs,
    names_option,
    records_schema,
    warn_late,
    warn_undecided,
)
from .lazy import module
from .pushdown import Lookups, Pushed, split
from .types import EventsOption, Mode
from .userdb import NamesArg

__all__ = ["Scan", "ScanLog", "scan_trails"]


@dataclass
class Scan:
    """One collection of a scan: the columns built, what of the filter was pushed
    (``pushed.conjuncts``; empty when nothing was), the row limit, and per input what
    was read (``records`` framed, ``rows`` built: rows < records when the pushed filter
    or the selection skipped records before their columns were built)."""

    columns: list[str] | None
    pushed: Pushed
    n_rows: int | None
    reports: list[InputReport] = field(default_factory=list)
    rows_out: int = 0

    @property
    def records(self) -> int:
        return sum(r.records for r in self.reports)

    @property
    def rows(self) -> int:
        return sum(r.rows for r in self.reports)


class ScanLog:
    """Collects a :class:`Scan` for each time a scan is collected (pass one to
    :func:`scan_trails`): what a query made bsmtrail read."""

    def __init__(self) -> None:
        self.scans: list[Scan] = []
        self._lock = threading.Lock()

    def add(self, scan: Scan) -> None:
        with self._lock:
            self.scans.append(scan)


def _pl() -> Any:
    return module("polars")


class _ScanLookups(Lookups):
    """Text back to numbers from the scan's own event database and passwd/group files,
    built on first use: the event columns as the scan builds them for all 65,536 event
    numbers (so the numbers pushed are exactly the rows'), and each name's ids as the
    name columns give names (the first entry of an id wins; ``backslashreplace``)."""

    def __init__(self, events: EventsOption, passwd: NamesArg, group: NamesArg) -> None:
        self._events = events
        self._passwd = passwd
        self._group = group

    def event_numbers(self, column: str, texts: list[str]) -> set[int] | None:
        if column not in _EVENT_KINDS or self._events is False:
            return None
        pa, pc = module("pyarrow"), module("pyarrow.compute")
        hit = pc.is_in(self._event_values[column], value_set=pa.array(texts, pa.string()))
        return {i for i, v in enumerate(hit.to_pylist()) if v}

    def name_ids(self, column: str, texts: list[str]) -> tuple[str, set[int]] | None:
        names = self._names
        if names is None or column not in names.columns:
            return None
        return NAME_COLUMNS[column], names.ids_named(column, texts)

    def class_events(self, name: str) -> set[int] | None:
        if self._events is False:
            return None
        return self._class_members.get(name, set())

    @functools.cached_property
    def _class_members(self) -> dict[str, set[int]]:
        """Each class name's events, read from the ``event_classes`` column as the scan
        builds it for every event number."""
        from .events import load_events

        pa, pc = module("pyarrow"), module("pyarrow.compute")
        db = load_events(None if self._events is False else self._events)
        classes = db.arrow_columns(pa.array(range(1 << 16), pa.uint16()), ("classes",))
        lists = classes["classes"]
        events = pc.list_parent_indices(lists).to_pylist()
        names = lists.flatten().dictionary_decode().to_pylist()
        out: dict[str, set[int]] = {}
        for event, cls in zip(events, names, strict=True):
            out.setdefault(cls, set()).add(event)
        return out

    @functools.cached_property
    def _event_values(self) -> dict[str, Any]:
        """Each event text column's value for every event number, as the scan builds it."""
        from .events import load_events

        pa = module("pyarrow")
        numbers = pa.array(range(1 << 16), pa.uint16())
        db = load_events(None if self._events is False else self._events)
        looked = db.arrow_columns(numbers, tuple(_EVENT_KINDS.values()))
        return {c: looked[k].dictionary_decode() for c, k in _EVENT_KINDS.items()}

    @functools.cached_property
    def _names(self) -> Any:
        """The name columns' tables (``arrow.names_option``), or None without files."""
        return names_option(self._passwd, self._group)


#: The event columns a filter on text can name, and the lookup kind behind each.
_EVENT_KINDS = {"event_name": "name", "event_description": "description"}


def scan_trails(
    paths: InputsArg,
    mode: Mode = "recover",
    *,
    where: Selection | None = None,
    events: EventsOption = None,
    passwd: NamesArg = None,
    group: NamesArg = None,
    order: Order = "input",
    window_ms: int = MERGE_WINDOW_MS,
    threads: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    log: ScanLog | None = None,
) -> Any:
    """The records view of ``paths`` (as :func:`~bsmtrail.arrow.read_trails` takes them:
    files, directories, globs, compressed files, ``{label: paths}``) as a
    ``polars.LazyFrame``; nothing is read until the query is collected (see the module).
    ``where`` (a :class:`~bsmtrail.select.Selection`) selects records first, as
    ``read_trails(where=...)`` does. ``log``: a :class:`ScanLog` told what each
    collection read."""
    pl = _pl()
    plugins = module("polars.io.plugins")
    _, labels = label_inputs(paths)
    arrow_schema = records_schema(
        events=events, passwd=passwd, group=group, label=labels is not None
    )
    schema = pl.from_arrow(arrow_schema.empty_table()).schema
    lookups = _ScanLookups(events, passwd, group)

    def source(
        with_columns: list[str] | None,
        predicate: Any,
        n_rows: int | None,
        batch_hint: int | None,
    ) -> Iterator[Any]:
        pushed = Pushed()
        if predicate is not None:
            pushed = split(predicate, schema.names(), lookups)
        build: list[str] | None = None
        if with_columns is not None:
            wanted = set(with_columns)
            if predicate is not None:
                wanted.update(predicate.meta.root_names())
            build = [c for c in schema.names() if c in wanted]
        native = pushed.selection()
        sel = native if where is None else (where if native is None else where & native)
        scan = Scan(with_columns, pushed, n_rows)
        if log is not None:
            log.add(scan)
        if n_rows == 0:
            return
        stream = iter_trails(
            paths,
            build,
            mode,
            batch_size=min(batch_size, batch_hint) if batch_hint else batch_size,
            threads=threads,
            events=events,
            where=sel,
            passwd=passwd,
            group=group,
            order=order,
            window_ms=window_ms,
        )
        try:
            for batch in stream:
                df = pl.from_arrow(batch)
                if predicate is not None:
                    df = df.filter(predicate)
                if with_columns is not None:
                    df = df.select(with_columns)
                if n_rows is not None:
                    df = df.head(n_rows - scan.rows_out)
                scan.rows_out += df.height
                yield df
                if n_rows is not None and scan.rows_out >= n_rows:
                    return
        finally:
            if stream.report_finished:
                scan.reports = stream.report()
                warn_undecided(scan.reports, stacklevel=3)
                warn_late(scan.reports, stacklevel=3)
            else:
                scan.reports = stream.report()

    return plugins.register_io_source(
        source, schema=schema, is_pure=True, explain_name="bsmtrail", explain_detail=_detail(paths)
    )


def _detail(paths: InputsArg) -> str:
    if isinstance(paths, (str, bytes)) or not isinstance(paths, (Sequence, dict)):
        return str(paths)
    return f"{len(paths)} inputs"

"""Records as OCSF events (Open Cybersecurity Schema Framework, version
:data:`OCSF_VERSION`): the shape security data lakes read.

Each record of the records view becomes one event. Its class and activity come from the
mapping table kept as data (``bsmtrail/data/ocsf_map``: event name or pattern -> class,
activity), by event name: Process Activity (1007), File System Activity (1001),
Authentication (3002), Network Activity (4001); every other record is a Base Event
(class 0, activity 99 Other), never dropped. docs/ocsf.md gives the mapping, its sources
and every choice made where BSM and OCSF do not line up.

Identity is kept apart as BSM keeps it: the audit user (auid, which survives su and
sudo) is the accountable ``actor.user``; the effective uid is the user the process ran
as (``actor.process.user``); real ids, the effective gid, the record's trail offset,
header version and modifier go to ``unmapped.bsm``, with anything else OCSF has no home
for. ``metadata.log_name`` (the trail) and ``unmapped.bsm.offset`` lead back to the
record's bytes.

The events are built in Rust (``rust/ocsf.rs``), one batch at a time in one pass over its
rows, from what is handed over once (:func:`bsmtrail.derive.native_tables`: the mapping,
the event database's names, the events that fork, kill, connect or rename, the classes'
attributes):
:func:`from_records` maps one records-view batch, :func:`iter_events` streams trails, and
``bsmtrail convert --format ocsf`` writes JSON lines (null members left out)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from . import _native
from .arrow import InputsArg, Order
from .derive import RECORD_COLUMNS, native_tables
from .derive import Converter as _Shapes
from .ocsf_map import CLASS_ATTRIBUTES, CLASSES, OCSF_VERSION, Mapping, load_mapping
from .pool import ordered_map
from .types import EventsOption, Mode
from .userdb import NamesArg

if TYPE_CHECKING:
    from .events import EventDatabase

__all__ = [
    "CLASSES",
    "CLASS_ATTRIBUTES",
    "CLASS_NAMES",
    "COLUMNS",
    "OCSF_VERSION",
    "Converter",
    "Mapping",
    "class_columns",
    "from_records",
    "iter_events",
    "load_mapping",
    "write_lake",
]


#: The records-view columns an event is built from.
COLUMNS = list(RECORD_COLUMNS)


# -- building the events ------------------------------------------------------------------


def from_records(
    batch: Any,
    *,
    mapping: Mapping | None = None,
    db: EventDatabase | None = None,
    tables: tuple[Any, Any] | None = None,
    only_class: int | None = None,
) -> Any:
    """One records-view batch (with :data:`COLUMNS`; ``label`` and the ``*_name``
    columns are used when present) as a batch of OCSF events, row for row. With
    ``only_class`` (every record of that class), only that class's columns."""
    from .events import load_events  # the event tables: only when events are built

    db = db if db is not None else load_events(None)
    return _native.ocsf_events(batch, native_tables(db, tables, mapping), only_class)


#: OCSF's own names of the classes: the Parquet layout's directories.
CLASS_NAMES = {
    0: "base_event",
    1001: "file_activity",
    1007: "process_activity",
    3002: "authentication",
    4001: "network_activity",
}


def class_columns(schema: Any, class_uid: int) -> list[str]:
    """The columns of ``schema`` (an events schema) that events of ``class_uid`` carry."""
    only = {a for attrs in CLASS_ATTRIBUTES.values() for a in attrs}
    mine = set(CLASS_ATTRIBUTES[class_uid])
    return [n for n in schema.names if n not in only or n in mine]


def write_lake(
    parts: Iterable[list[tuple[int, str, Any]]],
    root: str | os.PathLike[str],
    *,
    compression: str = "zstd",
    threads: int | None = None,
) -> int:
    """Events as Parquet in Amazon Security Lake's layout: one file set per event class,
    ``ROOT/ocsf_class=NAME/eventDay=YYYYMMDD/part-N.parquet`` (OCSF's class name, the
    UTC day of ``time``), each class with its own columns, OCSF objects as structs.
    ``parts`` are :meth:`Converter.lake_parts` of each records batch, in order
    (``Converter().lake(batches)`` makes them on worker threads). ``root`` is written
    whole under a temporary name and renamed into place (a previous dataset there is
    replaced). Returns the events written."""
    from .export import DaySinks
    from .outputs import atomic_directory

    sinks: dict[int, DaySinks] = {}
    rows = 0
    with atomic_directory(root) as target:
        try:
            for batch_parts in parts:
                for class_uid, day, events in batch_parts:
                    sink = sinks.get(class_uid)
                    if sink is None:
                        sink = sinks[class_uid] = DaySinks(
                            os.path.join(target, f"ocsf_class={CLASS_NAMES[class_uid]}"),
                            events.schema,
                            "parquet",
                            compression=compression,
                            threads=threads,
                            key="eventDay",
                            day_format="%Y%m%d",
                            # A class's day is closed when its next day comes: the
                            # lake's memory holds one writer a class, not one a
                            # class and day (a day's rows arriving again later go
                            # to its next part-N file).
                            max_open=1,
                        )
                    sink.write_day(day, events)
                    rows += events.num_rows
        finally:
            for sink in sinks.values():
                sink.close()
    return rows


class Converter(_Shapes):
    """Records-view batches to OCSF event batches, with one event database and mapping
    table (built once: call it on each batch); :attr:`counts` are the events made so far
    by class_uid."""

    COLUMNS = tuple(COLUMNS)
    count_by = "class_uid"

    def shape(self, batch: Any) -> Any:
        return _native.ocsf_events(batch, self.native)

    def lake_parts(self, batch: Any) -> list[tuple[int, str, Any]]:
        """One records-view batch's events for the lake (:func:`write_lake`): a
        ``(class_uid, day, events)`` for each class and UTC day (``YYYYMMDD``;
        ``unknown`` without a time) in it, each with its class's columns only, rows in
        input order within each."""
        parts = _native.ocsf_lake_parts(batch, self.native)
        with self._lock:  # batches may be split on several threads (lake)
            for class_uid, _, events in parts:
                self.counts[class_uid] += events.num_rows
        return parts

    def lake(self, batches: Iterable[Any], threads: int | None = None) -> Iterator[Any]:
        """:meth:`lake_parts` of ``batches``, in order, on ``threads`` workers (None:
        every core)."""
        return ordered_map(self.lake_parts, batches, threads)

    def summary(self) -> str:
        """The counts by class, as ``events by class: 1007 Process Activity: 12, ...``."""
        counts = sorted(self.counts.items())
        return "events by class: " + ", ".join(f"{uid} {CLASSES[uid][0]}: {n}" for uid, n in counts)


def iter_events(
    paths: InputsArg,
    mode: Mode = "recover",
    *,
    mapping: Mapping | None = None,
    where: _native.Selection | None = None,
    events: EventsOption = None,
    passwd: NamesArg = None,
    group: NamesArg = None,
    threads: int | None = None,
    order: Order = "input",
) -> Iterator[Any]:
    """The OCSF events of ``paths`` (inputs and options as
    :func:`~bsmtrail.arrow.read_trails`), one batch per records-view batch."""
    convert = Converter(mapping=mapping, events=events)
    return convert.stream(
        paths, mode, where=where, passwd=passwd, group=group, threads=threads, order=order
    )

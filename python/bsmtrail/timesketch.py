"""Records as a Timesketch timeline: one flat row per record with the columns Timesketch
requires (``message``, ``datetime``, ``timestamp``, ``timestamp_desc``) and the fields an
analyst filters on, each record's trail and byte offset among them.

``bsmtrail convert TRAIL... --format timesketch -o OUT.jsonl`` (or ``OUT.csv``) writes
it; :func:`from_records` maps one records-view batch (Arrow compute, no row loop, and the
facts the shapes share: :attr:`bsmtrail.derive.Batch.facts`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _native
from .arrays import iso_times, nth, text
from .derive import Batch, native_tables
from .derive import Converter as _Shapes
from .lazy import module

if TYPE_CHECKING:
    from .events import EventDatabase

__all__ = ["COLUMNS", "TIMESTAMP_DESC", "Converter", "from_records"]

#: What the time of a BSM record is: when the kernel (or the program) wrote the record.
TIMESTAMP_DESC = "Event Recorded"

#: The records-view columns a row is built from.
COLUMNS = [
    "source",
    "record_offset",
    "event",
    "time",
    "host",
    "auid",
    "euid",
    "ruid",
    "egid",
    "pid",
    "sid",
    "tid_addr",
    "return_errno",
    "return_value",
    "success",
    "paths",
    "exec_args",
    "texts",
]


class Converter(_Shapes):
    """Records-view batches to Timesketch rows with one event database (call it on each
    batch, :meth:`map` a stream on worker threads, or :meth:`stream` trails)."""

    COLUMNS = tuple(COLUMNS)

    def shape(self, batch: Any) -> Any:
        return from_records(batch, self.db, self.native)


def from_records(batch: Any, db: EventDatabase, native: _native.OcsfTables | None = None) -> Any:
    """One records-view batch (with :data:`COLUMNS`; ``label`` and ``*_name`` used when
    present) as Timesketch rows, row for row. ``native``: the tables the shared facts
    are computed from (:func:`bsmtrail.derive.native_tables`; the package's mapping when
    not given)."""
    pa, pc = module("pyarrow"), module("pyarrow.compute")
    names = batch.schema.names

    def col(name: str) -> Any:
        return batch.column(name)

    def name_or_id(name: str, ids: str) -> Any:
        number = text(col(ids))
        return pc.coalesce(text(col(name)), number) if name in names else number

    b = Batch(batch, native if native is not None else native_tables(db), db)
    millis = b.millis
    user = name_or_id("auid_name", "auid")
    args = b.command_line
    path = nth(col("paths"))

    def part(prefix: str, value: Any, suffix: str = "") -> Any:
        """``prefix value suffix``, or empty text where ``value`` is null."""
        joined = pc.binary_join_element_wise(prefix, value, suffix, "")
        return pc.fill_null(joined, "")

    null_text = pa.nulls(batch.num_rows, pa.string())
    message = pc.binary_join_element_wise(
        b.event_name,
        part(" by ", user),
        part(" pid ", text(col("pid"))),
        part(": ", path),
        part(" [", args, "]"),
        part(" failed: ", b.errno),
        "",
    )
    out = {
        "message": message,
        "datetime": iso_times(pc.fill_null(millis, 0), "+00:00"),
        "timestamp": pc.multiply(pc.fill_null(millis, 0), 1000),
        "timestamp_desc": pa.DictionaryArray.from_arrays(
            pa.array(module("numpy").zeros(batch.num_rows, dtype="int32")),
            pa.array([TIMESTAMP_DESC]),
        ),
        "time_invalid": pc.is_null(millis),
        "event": col("event"),
        "event_name": b.event_names,
        "auid": col("auid"),
        "euid": col("euid"),
        "ruid": col("ruid"),
        "egid": col("egid"),
        "pid": col("pid"),
        "session": col("sid"),
        "terminal": col("tid_addr"),
        "path": path,
        "args": args,
        "errno": b.errno,
        "return_value": col("return_value"),
        "success": col("success"),
        "text": pc.if_else(
            pc.greater(pc.fill_null(pc.list_value_length(col("texts")), 0), 0),
            pc.binary_join(pc.cast(col("texts"), pa.list_(pa.string())), " | "),
            null_text,
        ),
        "machine": col("host"),
        "source": col("source"),
        "offset": col("record_offset"),
    }
    for n in ("auid_name", "euid_name", "ruid_name", "egid_name"):
        if n in names:
            out[n] = col(n)
    if "label" in names:
        out["host"] = col("label")
    return pa.RecordBatch.from_arrays(list(out.values()), names=list(out))

"""Export: record batches to Parquet, Arrow IPC (Feather), CSV, JSON Lines, or a dataset
partitioned by day.

Every output format ``bsmtrail convert`` offers lives here, so a notebook writes exactly
what the command writes: :func:`export` takes any stream of record batches (a
:class:`~bsmtrail.arrow.BatchStream`, or batches already filtered) and writes it whole,
under a temporary name renamed into place when complete (``bsmtrail.outputs``), or to
standard output for the text formats.

* **parquet**: zstd (level 1; or lz4, snappy, none), one row group per batch, encoded on
  every core in Rust (``bsmtrail._native.BatchWriter``); statistics and the page index
  on every column. **feather**: the Arrow IPC file format, zstd.
* **csv**: dictionary columns as text, binary as hex, lists and structs as JSON text. A
  text cell beginning with ``= + - @``, tab or CR gets a ``'`` in front, so a spreadsheet
  shows it instead of running it as a formula (the trail's strings are the attacker's);
  ``csv_raw=True`` writes cells exactly as decoded.
* **jsonl**: one JSON object per row, every column (nulls too); times as ISO 8601 UTC text
  to the millisecond, bytes as hex; built on every core in Rust. **jsonl_sparse**: the
  same with null members left out (OCSF events, ``bsmtrail.ocsf``).
* ``partition_by="day"``: ``OUT/day=YYYY-MM-DD/part-N.parquet`` (or ``.arrow``) by the UTC
  day of the ``time`` column, ``day=unknown`` for records without one.
"""

from __future__ import annotations

import os
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from . import _native
from .arrays import day_names
from .lazy import module as _mod
from .outputs import atomic_directory, atomic_file, check_output
from .types import worker_threads

if TYPE_CHECKING:
    from .arrow import BatchStream

__all__ = [
    "COMPRESSIONS",
    "EXTENSIONS",
    "FORMATS",
    "MAX_OPEN_DAYS",
    "WRITERS",
    "Format",
    "Writer",
    "check_compression",
    "export",
    "format_for",
    "jsonl_lines",
    "write_parquet",
]

Format = Literal["parquet", "feather", "csv", "jsonl"]
FORMATS: tuple[Format, ...] = ("parquet", "feather", "csv", "jsonl")
#: What :func:`export` writes: the formats, and JSON Lines with null members left out
#: (``jsonl_sparse``, for event schemas such as OCSF's, whose absent attributes are absent).
Writer = Literal["parquet", "feather", "csv", "jsonl", "jsonl_sparse"]
WRITERS: tuple[Writer, ...] = (*FORMATS, "jsonl_sparse")
#: Output file extensions and the format each means.
EXTENSIONS: dict[str, Format] = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".feather": "feather",
    ".arrow": "feather",
    ".ipc": "feather",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}

#: Day partitions with a writer open at once (``partition_by="day"``).
MAX_OPEN_DAYS = 64
#: Parquet column chunk codecs (``zstd:LEVEL`` too, 1-22; plain ``zstd`` is level 1).
COMPRESSIONS = ("zstd", "lz4", "snappy", "none")


def check_compression(compression: str) -> None:
    """Raise ValueError unless ``compression`` is one of :data:`COMPRESSIONS` or
    ``zstd:LEVEL`` (1-22)."""
    _native.check_compression(compression)


def format_for(path: str | os.PathLike[str]) -> Format | None:
    """The format an output's extension names, or None when it names none."""
    return EXTENSIONS.get(os.path.splitext(os.fspath(path))[1].lower())


# -- sinks ------------------------------------------------------------------------------------


class Sink:
    """Writes batches of one schema to one file (or stdout)."""

    def __init__(
        self,
        fmt: str,
        path: str,
        schema: Any,
        *,
        csv_raw: bool = False,
        compression: str = "zstd",
        threads: int | None = None,
    ) -> None:
        self.fmt = fmt
        self.path = path
        self.rows = 0
        self._close: Callable[[], object]
        self._write: Callable[[Any], None]
        #: The native writer (None for Feather, written by pyarrow).
        self._native: _native.BatchWriter | None = None
        if fmt == "feather":
            pa = _mod("pyarrow")
            opts = pa.ipc.IpcWriteOptions(compression="zstd")
            iw = pa.ipc.new_file(path, schema, options=opts)
            self._write, self._close = iw.write_batch, iw.close
            return
        # Parquet, JSON Lines and CSV: each batch is encoded on a worker while the next
        # ones come, and written in order.
        if path == "-":
            sys.stdout.flush()  # whatever Python printed comes first
        w = _native.BatchWriter(
            path,
            schema,
            format=fmt,
            compression=compression,
            csv_raw=csv_raw,
            threads=threads or 0,
        )
        self._write, self._close = w.write, w.close
        self._native = w

    def write(self, batch: Any) -> None:
        self._write(_unsliced(batch))
        self.rows += batch.num_rows

    def write_stream(self, stream: BatchStream, progress: Callable[[], object] | None) -> None:
        """Every batch of ``stream`` (of this sink's schema), each encoded on the worker
        that decoded it (:meth:`BatchStream.drain_into`); closes the sink."""
        assert self._native is not None  # only for the formats written natively
        self.rows += stream.drain_into(self._native, progress)

    def close(self) -> None:
        self._close()


def _holds_struct(t: Any, pa: Any) -> bool:
    """Whether type ``t`` has a struct nested inside a struct (at any depth)."""
    if pa.types.is_struct(t):
        return any(pa.types.is_struct(f.type) or _holds_struct(f.type, pa) for f in t)
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return _holds_struct(t.value_type, pa)
    return False


def _unsliced(batch: Any) -> Any:
    """``batch``, copied when a column of nested structs starts at an offset: arrow-rs
    cannot import those (apache/arrow-rs#9235), and a copy starts at 0."""
    pa = _mod("pyarrow")
    sliced = any(c.offset and _holds_struct(c.type, pa) for c in batch.columns)
    if not sliced:
        return batch
    return batch.take(pa.array(range(batch.num_rows), pa.int64()))


class DaySinks:
    """``OUT/day=YYYY-MM-DD/part-N.parquet``, by UTC day of ``time``; records without a
    time go to ``day=unknown``.

    At most ``max_open`` (default :data:`MAX_OPEN_DAYS`) writers are open at once (a
    hostile trail can span thousands of days, and each writer holds a file descriptor and
    buffers): the least recently written day is closed to make room, and a day that comes
    back later gets its next ``part-N`` file. Each batch is sorted by day (stably, so rows
    keep their order within a day) and written a run of days at a time."""

    def __init__(
        self,
        root: str,
        schema: Any,
        fmt: str,
        *,
        compression: str = "zstd",
        threads: int | None = None,
        key: str = "day",
        day_format: str = "%Y-%m-%d",
        max_open: int = MAX_OPEN_DAYS,
    ) -> None:
        os.makedirs(root, exist_ok=True)
        self.root, self.schema, self.fmt = root, schema, fmt
        #: The partition directories' names: ``{key}={day as day_format}`` (``day=``
        #: and ISO dates by default; Security Lake's ``eventDay=YYYYMMDD`` for OCSF).
        self.key, self.day_format = key, day_format
        self._options: dict[str, Any] = {"compression": compression, "threads": threads}
        #: Writers open at once (each holds a file, its pool of encoders and the
        #: metadata of its row groups until it is closed).
        self.max_open = max_open
        self.open: OrderedDict[str, Sink] = OrderedDict()
        #: Files written per day so far (the next part number).
        self.parts: dict[str, int] = {}
        self.rows = 0

    def _sink(self, day: str) -> Sink:
        sink = self.open.get(day)
        if sink is not None:
            self.open.move_to_end(day)
            return sink
        if len(self.open) >= self.max_open:
            _, oldest = self.open.popitem(last=False)
            oldest.close()
        n = self.parts.get(day, 0)
        self.parts[day] = n + 1
        d = os.path.join(self.root, f"{self.key}={day}")
        os.makedirs(d, exist_ok=True)
        ext = "parquet" if self.fmt == "parquet" else "arrow"
        path = os.path.join(d, f"part-{n}.{ext}")
        sink = self.open[day] = Sink(self.fmt, path, self.schema, **self._options)
        return sink

    def write(self, batch: Any, time: Any) -> None:
        pc = _mod("pyarrow.compute")

        days = pc.fill_null(day_names(time, self.day_format), "unknown")
        order = pc.sort_indices(days)  # a stable sort
        runs = pc.run_end_encode(days.take(order))
        start = 0
        for end, day in zip(runs.run_ends.to_pylist(), runs.values.to_pylist(), strict=True):
            # A take per day, not slices of one: a copy starts at offset 0 (see _unsliced).
            self.write_day(day, batch.take(order.slice(start, end - start)))
            start = end

    def write_day(self, day: str, batch: Any) -> None:
        """``batch``, every row of ``day`` (as the partition names it), to that day's file."""
        self._sink(day).write(batch)
        self.rows += batch.num_rows

    def close(self) -> None:
        while self.open:
            self.open.popitem(last=False)[1].close()


def jsonl_lines(batch: Any, *, threads: int | None = None) -> list[bytes]:
    """One batch as JSON Lines, the ``jsonl`` format's text, encoded now, in pieces to
    write in order (for a writer that must have each batch written before it goes on, as
    ``follow`` does); a large batch's pieces are encoded on ``threads`` workers (None:
    every core)."""
    return _native.jsonl_pieces(batch, threads=worker_threads(threads))


# -- whole exports ---------------------------------------------------------------------------


def export(
    batches: Iterable[Any],
    schema: Any,
    output: str | os.PathLike[str],
    *,
    format: Writer,
    columns: Sequence[str] | None = None,
    partition_by: Literal["day"] | None = None,
    csv_raw: bool = False,
    compression: str = "zstd",
    threads: int | None = None,
    progress: Callable[[], object] | None = None,
) -> int:
    """Write ``batches`` (of ``schema``) to ``output`` in ``format`` and return the rows
    written. ``batches`` given as a :class:`~bsmtrail.arrow.BatchStream`, written whole
    (no ``columns`` subset, no partition) in Parquet, CSV or JSON Lines, are each encoded
    on the worker that decoded them: no decoded batch waits for an encoder.
    ``progress()`` runs after each batch written. ``columns`` keeps those columns, in
    that order (a day partition still reads ``time`` from each batch). ``output`` ``"-"``
    is standard output (csv and jsonl only).
    A file is written under a temporary name and renamed into place when complete; a
    dataset directory likewise, replacing a previous dataset whole. Parquet row groups are
    encoded on ``threads`` workers (None: every core) with ``compression`` (one of
    :data:`COMPRESSIONS`, or ``zstd:LEVEL``)."""
    if format not in WRITERS:
        raise ValueError(f"format must be one of {', '.join(WRITERS)}, not {format!r}")
    out_schema = schema
    if columns is not None:
        pa = _mod("pyarrow")
        out_schema = pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)
    if partition_by is not None:
        if partition_by != "day":
            raise ValueError(f"partition_by must be 'day' or None, not {partition_by!r}")
        if format not in ("parquet", "feather"):
            raise ValueError("a day partition is written as parquet or feather files")
        if "time" not in schema.names:
            raise ValueError("a day partition needs the time column in the batches")
    if os.fspath(output) == "-":
        if format in ("parquet", "feather") or partition_by is not None:
            raise ValueError(f"{format} cannot go to standard output; use csv or jsonl")
        return _write_all(
            batches, Sink(format, "-", out_schema, csv_raw=csv_raw), columns, progress
        )
    check_output(output, [], directory=partition_by is not None)
    if partition_by is not None:
        with atomic_directory(output) as target:
            days = DaySinks(target, out_schema, format, compression=compression, threads=threads)
            return _write_all(batches, days, columns, progress)
    with atomic_file(output) as target:
        sink = Sink(
            format, target, out_schema, csv_raw=csv_raw, compression=compression, threads=threads
        )
        return _write_all(batches, sink, columns, progress)


def _write_all(
    batches: Iterable[Any],
    sink: Sink | DaySinks,
    columns: Sequence[str] | None,
    progress: Callable[[], object] | None = None,
) -> int:
    from .arrow import BatchStream

    try:
        if isinstance(sink, Sink) and sink.fmt != "feather" and columns is None:
            if isinstance(batches, BatchStream) and not batches.closed:
                sink.write_stream(batches, progress)
                return sink.rows
        for batch in batches:
            out = batch.select(list(columns)) if columns is not None else batch
            if isinstance(sink, DaySinks):
                sink.write(out, batch.column("time"))
            else:
                sink.write(out)
            if progress is not None:
                progress()
    finally:
        sink.close()
    return sink.rows


def write_parquet(
    stream: BatchStream,
    path: str | os.PathLike[str],
    *,
    compression: str = "zstd",
    threads: int | None = None,
) -> int:
    """Write a stream to a Parquet file batch by batch (one row group per batch), so
    memory stays bounded whatever the trail's size; the row groups are encoded on
    ``threads`` workers (None: every core) and written in order. ``compression`` is one of
    :data:`COMPRESSIONS` or ``zstd:LEVEL``. Returns the number of rows written. The file
    is written under a temporary name and renamed into place when complete
    (``bsmtrail.outputs``)."""
    check_output(path, [])
    with atomic_file(path) as tmp:
        sink = Sink("parquet", tmp, stream.schema, compression=compression, threads=threads)
        return _write_all(stream, sink, None)

"""Export: record batches to Parquet, Arrow IPC (Feather), CSV, JSON Lines, or a dataset
partitioned by day.

Every output format ``bsmtrail convert`` offers lives here, so a notebook writes exactly
what the command writes: :func:`export` takes any stream of record batches (a
:class:`~bsmtrail.arrow.BatchStream`, or batches already filtered) and writes it whole,
under a temporary name renamed into place when complete (``bsmtrail.outputs``), or to
standard output for the text formats.

* **parquet**: zstd (level 1; or lz4, snappy, none), one row group per batch, encoded on
  every core in Rust (``bsmtrail._native.ParquetWriter``); statistics and the page index
  on every column. **feather**: the Arrow IPC file format, zstd.
* **csv**: dictionary columns as text, binary as hex, lists and structs as JSON text. A
  text cell beginning with ``= + - @``, tab or CR gets a ``'`` in front, so a spreadsheet
  shows it instead of running it as a formula (the trail's strings are the attacker's);
  ``csv_raw=True`` writes cells exactly as decoded.
* **jsonl**: one JSON object per row, every column (nulls too); times as ISO 8601 UTC text
  to the millisecond, bytes as hex; built on every core in Rust.
* ``partition_by="day"``: ``OUT/day=YYYY-MM-DD/part-N.parquet`` (or ``.arrow``) by the UTC
  day of the ``time`` column, ``day=unknown`` for records without one.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import IO, TYPE_CHECKING, Any, Literal

from .lazy import module as _mod
from .outputs import atomic_directory, atomic_file, check_output

if TYPE_CHECKING:
    from .arrow import BatchStream

__all__ = [
    "COMPRESSIONS",
    "EXTENSIONS",
    "FORMATS",
    "MAX_OPEN_DAYS",
    "Format",
    "check_compression",
    "export",
    "format_for",
    "write_parquet",
]

Format = Literal["parquet", "feather", "csv", "jsonl"]
FORMATS: tuple[Format, ...] = ("parquet", "feather", "csv", "jsonl")
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
    from . import _native

    _native.check_compression(compression)


def format_for(path: str | os.PathLike[str]) -> Format | None:
    """The format an output's extension names, or None when it names none."""
    return EXTENSIONS.get(os.path.splitext(os.fspath(path))[1].lower())


# -- value conversion for the text formats ---------------------------------------------------


def _json_default(v: object) -> object:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    if isinstance(v, dt.datetime):
        return _iso(v)
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def _iso(v: dt.datetime) -> str:
    if v.tzinfo is not None:
        v = v.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return v.isoformat(timespec="milliseconds") + "Z"


#: One encoder for every value (``json.dumps`` with options builds one per call).
_ENCODER = json.JSONEncoder(default=_json_default, ensure_ascii=False, separators=(",", ":"))


def _dumps(v: object) -> str:
    if v == []:  # most list cells (no path, no text, ...)
        return "[]"
    return _ENCODER.encode(v)


def _is_nested(t: Any) -> bool:
    pa = _mod("pyarrow")

    return bool(
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_struct(t)
        or pa.types.is_map(t)
        or pa.types.is_fixed_size_list(t)
    )


#: A cell a spreadsheet would run as a formula begins with one of these (OWASP's list).
_FORMULA_START = r"^[=+\-@\t\r]"


def _neutralised(col: Any) -> Any:
    """String cells that a spreadsheet would take for a formula, with a ``'`` in front
    (the evidence's strings are the attacker's: ``=HYPERLINK(...)`` in a path)."""
    pa = _mod("pyarrow")
    pc = _mod("pyarrow.compute")
    formula = pc.fill_null(pc.match_substring_regex(col, _FORMULA_START), False)
    if not pc.any(formula).as_py():
        return col
    quoted = pc.binary_join_element_wise(pa.scalar("'"), col, "")
    return pc.if_else(formula, quoted, col)


def _flatten_for_csv(batch: Any, raw: bool = False) -> Any:
    """Dictionary columns as text, binary as hex, lists and structs as JSON text; unless
    ``raw``, string cells beginning like a formula get a ``'`` in front."""
    pa = _mod("pyarrow")
    pc = _mod("pyarrow.compute")

    arrays, names = [], []
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        t = col.type
        if pa.types.is_dictionary(t):
            col = pc.cast(col, pa.string())
        elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
            col = pa.array([None if v is None else v.hex() for v in col.to_pylist()], pa.string())
        elif _is_nested(t):
            col = pa.array([None if v is None else _dumps(v) for v in col.to_pylist()], pa.string())
        if not raw and pa.types.is_string(col.type):
            col = _neutralised(col)
        arrays.append(col)
        names.append(name)
    return pa.RecordBatch.from_arrays(arrays, names=names)


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
        pa = _mod("pyarrow")

        self.fmt = fmt
        self.path = path
        self.rows = 0
        self._close: Callable[[], object]
        self._file: IO[bytes] | None = None
        self._out: IO[bytes] | None = None
        if fmt == "parquet":
            # Written in Rust: each batch's row group is encoded on a worker while the next
            # batches come (bsmtrail._native.ParquetWriter), appended in order.
            from . import _native

            w = _native.ParquetWriter(path, schema, compression=compression, threads=threads or 0)
            self._write: Callable[[Any], None] = w.write
            self._close = w.close
            return
        if fmt == "feather":
            opts = pa.ipc.IpcWriteOptions(compression="zstd")
            iw = pa.ipc.new_file(path, schema, options=opts)
            self._write = iw.write_batch
            self._close = iw.close
            return
        if fmt == "jsonl":
            # Written in Rust: each batch's text is built on a worker, written in order.
            from . import _native

            if path == "-":
                sys.stdout.flush()  # whatever Python printed comes first
            jw = _native.JsonlWriter(path, schema, threads=threads or 0)
            self._write, self._close = jw.write, jw.close
            return
        if path == "-":
            out: IO[bytes] = sys.stdout.buffer
        else:
            out = self._file = open(path, "wb")  # closed in close()
        self._out = out
        pcsv = _mod("pyarrow.csv")

        self._csv: Any = None

        def write_csv(batch: Any) -> None:
            flat = _flatten_for_csv(batch, raw=csv_raw)
            if self._csv is None:
                self._csv = pcsv.CSVWriter(out, flat.schema)
            self._csv.write_batch(flat)

        def close_csv() -> None:
            if self._csv is None:  # no rows: still write the header line
                self._csv = pcsv.CSVWriter(out, _flat_schema(schema))
            self._csv.close()

        self._write, self._close = write_csv, close_csv

    def write(self, batch: Any) -> None:
        self._write(batch)
        self.rows += batch.num_rows

    def close(self) -> None:
        try:
            self._close()
        finally:
            if self._file is not None:
                self._file.close()
            elif self._out is not None:
                self._out.flush()


def _flat_schema(schema: Any) -> Any:
    """The schema of :func:`_flatten_for_csv`'s batches."""
    pa = _mod("pyarrow")

    fields = []
    for f in schema:
        t = f.type
        flat = (
            pa.types.is_dictionary(t)
            or pa.types.is_binary(t)
            or pa.types.is_large_binary(t)
            or _is_nested(t)
        )
        fields.append(pa.field(f.name, pa.string()) if flat else f)
    return pa.schema(fields)


class DaySinks:
    """``OUT/day=YYYY-MM-DD/part-N.parquet``, by UTC day of ``time``; records without a
    time go to ``day=unknown``.

    At most :data:`MAX_OPEN_DAYS` writers are open at once (a hostile trail can span
    thousands of days, and each writer holds a file descriptor and buffers): the least
    recently written day is closed to make room, and a day that comes back later gets its
    next ``part-N`` file. Each batch is sorted by day (stably, so rows keep their order
    within a day) and written a run of days at a time."""

    def __init__(
        self,
        root: str,
        schema: Any,
        fmt: str,
        *,
        compression: str = "zstd",
        threads: int | None = None,
    ) -> None:
        os.makedirs(root, exist_ok=True)
        self.root, self.schema, self.fmt = root, schema, fmt
        self._options: dict[str, Any] = {"compression": compression, "threads": threads}
        self.open: OrderedDict[str, Sink] = OrderedDict()
        #: Files written per day so far (the next part number).
        self.parts: dict[str, int] = {}
        self.rows = 0

    def _sink(self, day: str) -> Sink:
        sink = self.open.get(day)
        if sink is not None:
            self.open.move_to_end(day)
            return sink
        if len(self.open) >= MAX_OPEN_DAYS:
            _, oldest = self.open.popitem(last=False)
            oldest.close()
        n = self.parts.get(day, 0)
        self.parts[day] = n + 1
        d = os.path.join(self.root, f"day={day}")
        os.makedirs(d, exist_ok=True)
        ext = "parquet" if self.fmt == "parquet" else "arrow"
        path = os.path.join(d, f"part-{n}.{ext}")
        sink = self.open[day] = Sink(self.fmt, path, self.schema, **self._options)
        return sink

    def write(self, batch: Any, time: Any) -> None:
        pc = _mod("pyarrow.compute")

        days = pc.fill_null(pc.strftime(time, format="%Y-%m-%d"), "unknown")
        order = pc.sort_indices(days)  # a stable sort
        batch, days = batch.take(order), days.take(order)
        runs = pc.run_end_encode(days)
        start = 0
        for end, day in zip(runs.run_ends.to_pylist(), runs.values.to_pylist(), strict=True):
            self._sink(day).write(batch.slice(start, end - start))
            start = end
        self.rows += batch.num_rows

    def close(self) -> None:
        while self.open:
            self.open.popitem(last=False)[1].close()


# -- whole exports ---------------------------------------------------------------------------


def export(
    batches: Iterable[Any],
    schema: Any,
    output: str | os.PathLike[str],
    *,
    format: Format,
    columns: Sequence[str] | None = None,
    partition_by: Literal["day"] | None = None,
    csv_raw: bool = False,
    compression: str = "zstd",
    threads: int | None = None,
) -> int:
    """Write ``batches`` (of ``schema``) to ``output`` in ``format`` and return the rows
    written. ``columns`` keeps those columns, in that order (a day partition still reads
    ``time`` from each batch). ``output`` ``"-"`` is standard output (csv and jsonl only).
    A file is written under a temporary name and renamed into place when complete; a
    dataset directory likewise, replacing a previous dataset whole. Parquet row groups are
    encoded on ``threads`` workers (None: every core) with ``compression`` (one of
    :data:`COMPRESSIONS`, or ``zstd:LEVEL``)."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
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
        return _write_all(batches, Sink(format, "-", out_schema, csv_raw=csv_raw), columns)
    check_output(output, [], directory=partition_by is not None)
    if partition_by is not None:
        with atomic_directory(output) as target:
            days = DaySinks(target, out_schema, format, compression=compression, threads=threads)
            return _write_all(batches, days, columns)
    with atomic_file(output) as target:
        sink = Sink(
            format, target, out_schema, csv_raw=csv_raw, compression=compression, threads=threads
        )
        return _write_all(batches, sink, columns)


def _write_all(batches: Iterable[Any], sink: Sink | DaySinks, columns: Sequence[str] | None) -> int:
    try:
        for batch in batches:
            out = batch.select(list(columns)) if columns is not None else batch
            if isinstance(sink, DaySinks):
                sink.write(out, batch.column("time"))
            else:
                sink.write(out)
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

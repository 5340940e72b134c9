"""Arrow export: trails as Arrow tables and streams of record batches.

Rust frames and decodes the trail into Arrow record batches (no Python object per record)
and hands them over zero-copy through the Arrow C stream interface; the GIL is released
while Rust works, and large trails decode on every core. Three views:

* **records** -- one row per record (:data:`RECORD_COLUMNS`, plus the event database's
  ``event_name``, ``event_description`` and ``event_classes``, added here by a vectorised,
  dictionary-encoded lookup over the ``event`` column);
* **tokens** -- one row per token: its bytes (``raw``) and its fields as JSON;
* **errors** -- damaged regions and records that fail validation.

The columns are documented in ``docs/arrow-schema.md``; the schema metadata carries
``bsmtrail.schema_version`` (:data:`SCHEMA_VERSION`). Strings are UTF-8: valid text as
stored, and every byte of an invalid sequence written as ``\\xNN`` (Python's
``backslashreplace``); the exact bytes are always in the tokens view's ``raw`` column.

Every stream (:class:`BatchStream`) implements the Arrow PyCapsule interface, so pyarrow,
polars, DuckDB and pandas read it directly; it can be consumed once.
"""

from __future__ import annotations

import importlib
import io
import os
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, Union

from . import _native
from .errors import BSMWarning
from .outputs import atomic_file, check_output
from .sources import Materialized, expand, materialize_all, no_records_reason

if TYPE_CHECKING:
    from ._native import Selection
    from .events import EventDatabase
    from .trail import Mode, Trail

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "EVENT_COLUMNS",
    "RECORD_COLUMNS",
    "SCHEMA_VERSION",
    "BatchStream",
    "View",
    "iter_trails",
    "read_trails",
    "records_schema",
    "write_parquet",
]

#: ``bsmtrail.schema_version`` in every schema's metadata.
SCHEMA_VERSION: str = _native.ARROW_SCHEMA_VERSION
#: The records-view columns built in Rust, in schema order.
RECORD_COLUMNS: tuple[str, ...] = tuple(_native.ARROW_COLUMNS)
#: Event-database columns (dictionary-encoded; null for events the database lacks).
EVENT_COLUMNS: tuple[str, ...] = ("event_name", "event_description", "event_classes")
_EVENT_LOOKUP = {
    "event_name": "name",
    "event_description": "description",
    "event_classes": "classes",
}
#: Records per batch unless told otherwise.
DEFAULT_BATCH_SIZE = 65_536

View = Literal["records", "tokens", "errors"]
#: An event database, an audit_event path, None for the default database, or False for no
#: event columns.
EventsOption = Union["EventDatabase", str, "os.PathLike[str]", None, Literal[False]]
#: Paths: one path, a directory (its files, sorted), a glob pattern, or an iterable of paths.
PathsArg = Union[str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]]


def _pa() -> Any:
    return importlib.import_module("pyarrow")


def _columns(columns: Sequence[str] | None, events: EventsOption) -> tuple[list[str], list[str]]:
    """(output columns, native columns to build). Default: every column."""
    if isinstance(columns, str):
        raise TypeError("columns must be a sequence of names, not a string")
    if columns is None:
        out = list(RECORD_COLUMNS)
        if events is not False:
            at = out.index("event") + 1
            out[at:at] = EVENT_COLUMNS
    else:
        out = list(columns)
        if not out:
            raise ValueError("columns must name at least one column")
        if len(set(out)) != len(out):
            raise ValueError(f"columns named more than once: {out}")
        unknown = [c for c in out if c not in RECORD_COLUMNS and c not in EVENT_COLUMNS]
        if unknown:
            raise ValueError(
                f"unknown records column(s) {unknown}; choose from "
                f"{list(RECORD_COLUMNS) + list(EVENT_COLUMNS)}"
            )
        if events is False and any(c in EVENT_COLUMNS for c in out):
            raise ValueError("event columns were asked for with events=False")
    native = [c for c in out if c not in EVENT_COLUMNS]
    if any(c in EVENT_COLUMNS for c in out) and "event" not in native:
        native.append("event")
    return out, native


class _Enricher:
    """Adds the event-database columns to record batches (vectorised, no row loop)."""

    def __init__(self, native_schema: Any, out: list[str], events: EventsOption) -> None:
        from .events import load_events

        pa = _pa()
        self.db = load_events(None if events is False else events)
        self.out = out
        fields = []
        for name in out:
            if name in EVENT_COLUMNS:
                kind = _EVENT_LOOKUP[name]
                value_type = self.db.vector.dictionary(kind).type
                fields.append(pa.field(name, pa.dictionary(pa.int32(), value_type)))
            else:
                fields.append(native_schema.field(name))
        self.schema = pa.schema(fields, metadata=native_schema.metadata)
        self.kinds = tuple(_EVENT_LOOKUP[c] for c in out if c in EVENT_COLUMNS)

    def _arrays(self, columns: dict[str, Any], events: Any) -> list[Any]:
        looked = self.db.arrow_columns(events, self.kinds)
        return [
            looked[_EVENT_LOOKUP[name]] if name in EVENT_COLUMNS else columns[name]
            for name in self.out
        ]

    def batch(self, batch: Any) -> Any:
        pa = _pa()
        cols = {name: batch.column(name) for name in batch.schema.names}
        arrays = self._arrays(cols, batch.column("event"))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)

    def table(self, table: Any) -> Any:
        pa = _pa()
        cols = {name: table.column(name) for name in table.schema.names}
        arrays = self._arrays(cols, table.column("event"))
        return pa.Table.from_arrays(arrays, schema=self.schema)


class BatchStream:
    """A one-shot stream of ``pyarrow.RecordBatch`` (``batch_size`` records each).

    Iterate it, or hand it to anything that reads the Arrow PyCapsule interface
    (``pyarrow.table(s)``, ``pyarrow.RecordBatchReader.from_stream(s)``,
    ``polars.from_arrow(s)``, ``duckdb.sql("select ... from s")``). Without event
    columns the batches come straight from Rust, GIL-free; with them, each batch gets its
    event columns from one vectorised lookup. After it has been consumed, reading it again
    raises ``OSError``.
    """

    def __init__(
        self,
        native: _native.ArrowStream,
        enricher: _Enricher | _Remap | None = None,
        keep: object = None,
    ) -> None:
        self._native = native
        self._enricher = enricher
        #: What must outlive the stream (decompressed copies of its inputs).
        self._keep = keep

    @property
    def schema(self) -> Any:
        """The ``pyarrow.Schema`` of every batch."""
        if self._enricher is not None:
            return self._enricher.schema
        return self._native.schema

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __iter__(self) -> Iterator[Any]:
        enrich = self._enricher
        for batch in self._native:
            yield batch if enrich is None else enrich.batch(batch)

    def read_all(self) -> Any:
        """Every remaining batch as one ``pyarrow.Table`` (decoded in parallel, GIL-free)."""
        table = self._native.read_all()
        return table if self._enricher is None else self._enricher.table(table)

    def to_reader(self) -> Any:
        """A ``pyarrow.RecordBatchReader`` over this stream (consumes it)."""
        pa = _pa()
        return pa.RecordBatchReader.from_stream(self)

    def __arrow_c_schema__(self) -> object:
        if self._enricher is None:
            return self._native.__arrow_c_schema__()
        return self._enricher.schema.__arrow_c_schema__()

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        if self._enricher is None:
            return self._native.__arrow_c_stream__(requested_schema)
        if self._native.closed:
            # Let the native stream raise its "already consumed" error.
            self._native.__arrow_c_stream__(None)
        pa = _pa()
        reader = pa.RecordBatchReader.from_batches(self._enricher.schema, iter(self))
        return reader.__arrow_c_stream__(requested_schema)

    def __repr__(self) -> str:
        return f"<bsmtrail.arrow.BatchStream {len(self.schema)} columns, closed={self.closed}>"


def _stream(
    inputs: list[tuple[str, object]],
    *,
    view: View = "records",
    columns: Sequence[str] | None = None,
    mode: Mode = "recover",
    batch_size: int = DEFAULT_BATCH_SIZE,
    threads: int | None = None,
    validate: bool = True,
    events: EventsOption = None,
    where: Selection | None = None,
    prefetch: int = 0,
    origins: dict[str, Any] | None = None,
    map_files: bool = False,
    keep: object = None,
) -> BatchStream:
    if mode not in ("strict", "recover"):
        raise ValueError(f"mode must be 'strict' or 'recover', not {mode!r}")
    maps: dict[str, Any] | None = origins
    if where is not None:
        maps = {}
        selected: list[tuple[str, object]] = []
        for name, obj in inputs:
            data, pairs = _selected(obj, where, mode)
            maps[name] = _compose((origins or {}).get(name), pairs)
            selected.append((name, data))
        inputs = selected
    if threads is not None and threads < 0:
        raise ValueError("threads must be None (all cores) or at least 1")
    if view != "records":
        if columns is not None:
            raise ValueError("columns apply to the records view only")
        native = _native.arrow_stream(
            inputs,
            view=view,
            mode=mode,
            batch_size=batch_size,
            threads=threads or 0,
            prefetch=prefetch,
            map_files=map_files,
        )
        return BatchStream(native, keep=keep)
    out, build = _columns(columns, events)
    if maps is not None:
        # The offset column must be mapped back to the input: build it (and the source it
        # belongs to) even when not asked for.
        build = build + [c for c in ("source", "offset") if c not in build]
    native = _native.arrow_stream(
        inputs,
        view="records",
        columns=build,
        mode=mode,
        batch_size=batch_size,
        threads=threads or 0,
        validate=validate,
        prefetch=prefetch,
        map_files=map_files,
    )
    if maps is not None:
        wants_events = any(c in EVENT_COLUMNS for c in out)
        enricher = _Enricher(native.schema, out, events) if wants_events else None
        return BatchStream(native, _Remap(native.schema, out, maps, enricher), keep)
    if out == build:
        return BatchStream(native, keep=keep)
    return BatchStream(native, _Enricher(native.schema, out, events), keep)


def _selected(obj: object, where: Selection, mode: Mode) -> tuple[bytes, Any]:
    """The records of one input that ``where`` selects, whole (Rust: framing, a header-only
    prefilter, then auditreduce's token checks; nothing is decoded into columns yet), and
    for each kept record its (position in those bytes, offset in the input) as a numpy
    ``uint64`` array of shape (n, 2). In strict mode a framing error raises; in recover mode
    damaged regions are skipped."""
    import numpy as np

    buf, pairs = io.BytesIO(), io.BytesIO()
    undecided: list[int] = []
    _kept, _seen, error, n_undecided = _native.reduce(
        obj,  # type: ignore[arg-type]  # a path or bytes, as the Arrow inputs are
        where,
        buf.write,
        recover=mode == "recover",
        offsets=pairs,
        undecided=undecided,
    )
    if error is not None and mode == "strict":
        raise error
    if n_undecided:
        warnings.warn(
            f"{n_undecided} record(s) left out of the selection: a token bsmtrail cannot "
            f"decode hides what the criteria depend on (first at offset {undecided[0]})",
            BSMWarning,
            stacklevel=4,
        )
    return buf.getvalue(), np.frombuffer(pairs.getvalue(), dtype="<u8").reshape(-1, 2)


def _compose(base: Any, pairs: Any) -> Any:
    """Offsets of a selection made from a selection: map through both."""
    if base is None or not len(base) or not len(pairs):
        return pairs
    idx = base[:, 0].searchsorted(pairs[:, 1]).clip(0, len(base) - 1)
    out = pairs.copy()
    out[:, 1] = base[idx, 1]
    return out


class _Remap:
    """Maps the ``offset`` column of rows built from selected records (positions in the
    selection) back to offsets in the original input, per ``source``; then hands the batch
    to the event enricher, or projects it to the requested columns."""

    def __init__(
        self, native_schema: Any, out: list[str], maps: dict[str, Any], then: _Enricher | None
    ) -> None:
        pa = _pa()
        self.maps = maps
        self.out = out
        self.then = then
        self.schema = (
            then.schema
            if then is not None
            else pa.schema([native_schema.field(n) for n in out], metadata=native_schema.metadata)
        )

    def _fixed(self, data: Any) -> Any:
        import numpy as np

        pa = _pa()
        pc = importlib.import_module("pyarrow.compute")
        offset = data.column("offset")
        source = data.column("source")
        new = np.asarray(pc.cast(offset, pa.uint64()).to_numpy(zero_copy_only=False))
        result = new.copy()
        for name in pc.unique(pc.cast(source, pa.string())).to_pylist():
            pairs = self.maps.get(name)
            if pairs is None or len(pairs) == 0:
                continue
            mask = np.asarray(
                pc.equal(pc.cast(source, pa.string()), name).to_numpy(zero_copy_only=False)
            )
            idx = np.searchsorted(pairs[:, 0], new[mask])
            idx = np.minimum(idx, len(pairs) - 1)
            result[mask] = pairs[idx, 1]
        i = data.schema.get_field_index("offset")
        return data.set_column(i, data.schema.field(i), pa.array(result, pa.uint64()))

    def _project(self, data: Any) -> Any:
        return data.select(self.out)

    def batch(self, batch: Any) -> Any:
        pa = _pa()
        fixed = self._fixed(pa.Table.from_batches([batch])).combine_chunks()
        fixed_batch = fixed.to_batches()[0] if fixed.num_rows else batch
        if self.then is not None:
            return self.then.batch(fixed_batch)
        return self._project(fixed_batch)

    def table(self, table: Any) -> Any:
        fixed = self._fixed(table)
        return self.then.table(fixed) if self.then is not None else self._project(fixed)


def _materialized(paths: PathsArg) -> list[Materialized]:
    """Every trail ``paths`` name (``bsmtrail.sources``: directories and globs skip what
    is not a trail, with a :class:`~bsmtrail.BSMWarning` naming it), compressed ones
    decompressed to private temporary files that live as long as the stream reading them."""
    found = expand(paths)
    for note in found.notes():
        warnings.warn(note, BSMWarning, stacklevel=3)
    return materialize_all(found.files)


def _named(copies: list[Materialized]) -> list[tuple[str, object]]:
    return [(m.name, m.path) for m in copies]


def iter_trails(
    paths: PathsArg,
    columns: Sequence[str] | None = None,
    mode: Mode = "recover",
    *,
    view: View = "records",
    batch_size: int = DEFAULT_BATCH_SIZE,
    threads: int | None = None,
    validate: bool = True,
    events: EventsOption = None,
    where: Selection | None = None,
    prefetch: int = 0,
) -> BatchStream:
    """Stream several trails as one sequence of batches (files in the given order; a
    directory or glob in sorted name order). Files are read through a bounded window, so
    memory stays flat whatever their size. The ``source`` column names each row's file.
    ``prefetch`` > 0 decodes up to that many batches ahead on a thread of its own, so the
    consumer's work (writing Parquet, say) overlaps decoding.

    ``where`` (a :class:`bsmtrail.select.Selection`) keeps only the records auditreduce's
    criteria select, before any column is built: rejected records cost little more than
    framing. The selected records of each file are held in memory while it is converted."""
    copies = _materialized(paths)
    return _stream(
        _named(copies),
        view=view,
        columns=columns,
        mode=mode,
        batch_size=batch_size,
        threads=threads,
        validate=validate,
        events=events,
        where=where,
        prefetch=prefetch,
        keep=copies,  # decompressed copies live as long as the stream
    )


def read_trails(
    paths: PathsArg,
    columns: Sequence[str] | None = None,
    mode: Mode = "recover",
    *,
    view: View = "records",
    batch_size: int = DEFAULT_BATCH_SIZE,
    threads: int | None = None,
    validate: bool = True,
    events: EventsOption = None,
    where: Selection | None = None,
) -> Any:
    """Read several trails (paths, a directory, or a glob) into one ``pyarrow.Table``.

    Framing walks each file's headers in order; the records are decoded in parallel on
    every core (``threads``), in chunks that never change the row order. ``mode="recover"``
    (the default) keeps every intact record of damaged files, turns records that fail
    validation into rows with ``error`` set, and skips damaged regions (see
    ``view="errors"``); ``"strict"`` raises :class:`~bsmtrail.BSMError` at the first
    problem. ``where`` selects records first (see :func:`iter_trails`). Each file is
    memory-mapped while it is decoded (the table holds all of it anyway); stream with
    :func:`iter_trails` to keep memory flat.

    Compressed trails (gzip, bzip2, xz, zstd) are read by their content. In recover mode,
    an input that yields no record, or whose records cover less than half of its bytes,
    raises a :class:`~bsmtrail.BSMWarning` naming it (its damage is in
    ``view="errors"``), so nothing comes back empty without a word.
    """
    copies = _materialized(paths)
    try:
        inputs = _named(copies)
        check = mode == "recover" and view == "records" and where is None
        user = None if columns is None else list(columns)
        build = user
        if check and user is not None:
            build = user + [c for c in ("source", "size") if c not in user]
        table = _stream(
            inputs,
            view=view,
            columns=build,
            mode=mode,
            batch_size=batch_size,
            threads=threads,
            validate=validate,
            events=events,
            where=where,
            map_files=True,
        ).read_all()
        if check:
            _warn_thin_inputs(table, copies)
            if user is not None and build != user:
                table = table.select(user)
        return table
    finally:
        for m in copies:
            m.close()


def _warn_thin_inputs(table: Any, copies: list[Materialized]) -> None:
    """A :class:`~bsmtrail.BSMWarning` for each input without records or mostly damage."""
    pc = importlib.import_module("pyarrow.compute")
    counts = table.group_by("source").aggregate([("size", "sum"), ("size", "count")])
    covered = {
        str(s): (int(n), int(b))
        for s, n, b in zip(
            pc.cast(counts.column("source"), _pa().string()).to_pylist(),
            counts.column("size_count").to_pylist(),
            counts.column("size_sum").to_pylist(),
            strict=True,
        )
    }
    for m in copies:
        n, nbytes = covered.get(m.name, (0, 0))
        size = os.path.getsize(m.path)
        if n == 0:
            warnings.warn(f"{m.name}: {no_records_reason(m.path)}", BSMWarning, stacklevel=3)
        elif nbytes * 2 < size:
            warnings.warn(
                f"{m.name}: mostly damage: records cover {nbytes} of {size} bytes "
                "(see view='errors')",
                BSMWarning,
                stacklevel=3,
            )


def write_parquet(stream: BatchStream, path: str | os.PathLike[str], **options: Any) -> int:
    """Write a stream to a Parquet file batch by batch (one row group per batch), so
    memory stays bounded whatever the trail's size. ``options`` go to
    ``pyarrow.parquet.ParquetWriter`` (default ``compression="zstd"``). Returns the
    number of rows written. The file is written under a temporary name and renamed into
    place when complete (``bsmtrail.outputs``)."""
    pq = importlib.import_module("pyarrow.parquet")
    options.setdefault("compression", "zstd")
    rows = 0
    check_output(path, [])
    with atomic_file(path) as tmp, pq.ParquetWriter(tmp, stream.schema, **options) as writer:
        for batch in stream:
            writer.write_batch(batch)
            rows += batch.num_rows
    return rows


def records_schema(columns: Sequence[str] | None = None, *, events: EventsOption = None) -> Any:
    """The records view's ``pyarrow.Schema`` (for ``columns``, default all)."""
    return _stream([("<schema>", b"")], columns=columns, events=events).schema


# -- Trail methods (thin wrappers in trail.py delegate here) ----------------------------


def _trail_input(trail: Trail) -> list[tuple[str, object]]:
    return [(trail.name, trail._arrow_input())]


def trail_stream(
    trail: Trail,
    *,
    view: View = "records",
    columns: Sequence[str] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    threads: int | None = None,
    validate: bool = True,
    events: EventsOption = None,
    mode: Mode | None = None,
    prefetch: int = 0,
    map_files: bool = False,
) -> BatchStream:
    return _stream(
        _trail_input(trail),
        view=view,
        columns=columns,
        mode=trail.mode if mode is None else mode,
        batch_size=batch_size,
        threads=threads,
        validate=validate,
        events=events,
        prefetch=prefetch,
        origins=None if trail._origins is None else {trail.name: trail._origins},
        map_files=map_files,
    )

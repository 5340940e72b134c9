"""Arrow export: trails as Arrow tables and streams of record batches.

Rust frames and decodes the trail into Arrow record batches (no Python object per record)
and hands them over zero-copy through the Arrow C stream interface; the GIL is released
while Rust works, and large trails decode on every core. Three views:

* **records** -- one row per record (:data:`RECORD_COLUMNS`, plus the event database's
  ``event_name``, ``event_description`` and ``event_classes``, dictionary-encoded lookups
  over the ``event`` column, and with ``passwd=``/``group=`` the evidence's names for the
  subject's ids, :data:`NAME_COLUMNS`, looked up likewise: the tables are read here and
  handed to Rust, which adds the columns to each batch on the worker that decoded it);
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
import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from . import _native
from .errors import BSMWarning
from .sources import Materialized, expand, materialize_all, no_records_reason
from .types import EventsOption, Mode, PathsArg
from .userdb import IdNames, NamesArg, resolve_groups, resolve_users

if TYPE_CHECKING:
    from ._native import InputReport, Selection

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "EVENT_COLUMNS",
    "LABEL_COLUMN",
    "MERGE_WINDOW_MS",
    "NAME_COLUMNS",
    "RECORD_COLUMNS",
    "SCHEMA_VERSION",
    "BatchStream",
    "InputsArg",
    "Order",
    "StreamConsumer",
    "View",
    "check_columns",
    "iter_trails",
    "read_trails",
    "records_schema",
    "stream",
    "to_pandas",
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
#: Names of the first subject's ids from the evidence's passwd (``*uid_name``) and group
#: (``*gid_name``) files, with the id column each names: dictionary-encoded, null for an
#: id the file lacks; the first entry for an id wins, as ``getpwuid`` and ``print`` have it.
NAME_COLUMNS: dict[str, str] = {
    "auid_name": "auid",
    "euid_name": "euid",
    "egid_name": "egid",
    "ruid_name": "ruid",
    "rgid_name": "rgid",
}
_GROUP_NAMES = ("egid_name", "rgid_name")
#: The label of each row's input when the inputs are given labelled (``{"host1":
#: paths, ...}``): dictionary-encoded, null for an input given without one. Tells the
#: machines of one case apart in a merged timeline.
LABEL_COLUMN = "label"
#: Paths, or paths by label (``{"host1": "/evidence/host1/audit", ...}``): every file a
#: label's paths name gets the label in the :data:`LABEL_COLUMN`.
InputsArg = PathsArg | Mapping[str, PathsArg]
#: Records per batch unless told otherwise.
DEFAULT_BATCH_SIZE = 65_536

View = Literal["records", "tokens", "errors"]
#: Rows in input order (files one after another), or merged by time across every input.
Order = Literal["input", "time"]
#: A time-ordered read puts right records stamped up to this many milliseconds before one
#: framed ahead of them in the same trail (records are stamped when their event began);
#: an older one is reported (:attr:`InputReport.late`), never silently reordered.
MERGE_WINDOW_MS: int = _native.MERGE_WINDOW_MS


def _pa() -> Any:
    return importlib.import_module("pyarrow")


def check_columns(
    columns: Sequence[str],
    events: EventsOption = None,
    *,
    passwd: bool = False,
    group: bool = False,
    label: bool = False,
) -> list[str]:
    """``columns`` as a list once each names a records-view column (:data:`RECORD_COLUMNS`,
    :data:`EVENT_COLUMNS`, :data:`NAME_COLUMNS` when ``passwd``/``group`` files are
    given, :data:`LABEL_COLUMN` when inputs are labelled) once; else ``ValueError`` naming
    the bad ones. The one place column names are
    checked (the command line's ``--columns`` too)."""
    if isinstance(columns, str):
        raise TypeError("columns must be a sequence of names, not a string")
    out = list(columns)
    if not out:
        raise ValueError("columns must name at least one column")
    if len(set(out)) != len(out):
        raise ValueError(f"columns named more than once: {out}")
    known = [*RECORD_COLUMNS, *EVENT_COLUMNS, *NAME_COLUMNS, LABEL_COLUMN]
    unknown = [c for c in out if c not in known]
    if unknown:
        raise ValueError(
            f"unknown column(s) {', '.join(unknown)} (not records columns); choose from "
            f"{','.join(known)}"
        )
    if events is False and any(c in EVENT_COLUMNS for c in out):
        raise ValueError("event columns were asked for with events=False")
    for c in out:
        if c in NAME_COLUMNS and not (group if c in _GROUP_NAMES else passwd):
            table = "group" if c in _GROUP_NAMES else "passwd"
            raise ValueError(f"{c} needs the trail machine's {table} file ({table}=)")
    if LABEL_COLUMN in out and not label:
        raise ValueError(f"{LABEL_COLUMN} needs labelled inputs ({{label: paths}}, --label)")
    return out


def _columns(
    columns: Sequence[str] | None, events: EventsOption, names: _Names | None, label: bool
) -> list[str]:
    """The output columns (default: every column). Rust decodes what they need: a
    derived column's source too, asked for or not."""
    if columns is None:
        out = list(RECORD_COLUMNS)
        if label:
            out.insert(out.index("source"), LABEL_COLUMN)
        if events is not False:
            at = out.index("event") + 1
            out[at:at] = EVENT_COLUMNS
        if names is not None:
            at = out.index("rgid") + 1
            out[at:at] = names.columns
    else:
        out = check_columns(
            columns,
            events,
            passwd=names is not None and names.users is not None,
            group=names is not None and names.groups is not None,
            label=label,
        )
    return out


#: A derived column's table for ``_native.arrow_stream``: (name, the column it reads,
#: keys, each key's dictionary codes, the dictionary, whether it is a list column).
_DerivedSpec = tuple[str, str, list[int], list[list[int]], Any, bool]


def _label_spec(labels: Sequence[str | None]) -> _DerivedSpec:
    """Each input's label, keyed by the ``source`` column's dictionary index (an input
    given without a label has none: null)."""
    pa = _pa()
    values = sorted({x for x in labels if x is not None})
    at = {v: i for i, v in enumerate(values)}
    keys = [i for i, x in enumerate(labels) if x is not None]
    runs = [[at[x]] for x in labels if x is not None]
    return (LABEL_COLUMN, "source", keys, runs, pa.array(values, pa.string()), False)


class _Names:
    """The evidence's user and group names: sorted ids and their names (the first name of
    an id, as ``getpwuid`` gives it), text as every Arrow string is written
    (``backslashreplace``)."""

    def __init__(self, users: IdNames | None, groups: IdNames | None) -> None:
        self.users = None if users is None else self._arrays(users)
        self.groups = None if groups is None else self._arrays(groups)
        self.columns = [
            c
            for c in NAME_COLUMNS
            if (self.groups if c in _GROUP_NAMES else self.users) is not None
        ]

    @staticmethod
    def _arrays(pairs: IdNames) -> tuple[list[int], list[str]]:
        first: dict[int, bytes] = {}
        for ident, name in pairs:
            first.setdefault(ident, name)
        ids = sorted(first)
        return ids, [first[i].decode("utf-8", "backslashreplace") for i in ids]

    def _table(self, name: str) -> tuple[list[int], list[str]]:
        table = self.groups if name in _GROUP_NAMES else self.users
        assert table is not None  # checked with the columns
        return table

    def spec(self, name: str) -> _DerivedSpec:
        """The table for name column ``name`` (``auid_name``, ...)."""
        pa = _pa()
        ids, names = self._table(name)
        runs = [[i] for i in range(len(ids))]
        return (name, NAME_COLUMNS[name], ids, runs, pa.array(names, pa.string()), False)

    def column(self, name: str, ids: Any) -> Any:
        """Name column ``name`` for an Arrow array of ids (null where the file has no
        entry): for tables built outside a records stream, whose streams get the column
        from Rust."""
        pa, pc = _pa(), importlib.import_module("pyarrow.compute")
        known, names = self._table(name)
        if isinstance(ids, pa.ChunkedArray):
            return pa.chunked_array(
                [self.column(name, c) for c in ids.chunks],
                type=pa.dictionary(pa.int32(), pa.string()),
            )
        index = pc.index_in(ids, value_set=pa.array(known, pa.uint32()))
        return pa.DictionaryArray.from_arrays(index, pa.array(names, pa.string()))

    def ids_named(self, name: str, texts: Sequence[str]) -> set[int]:
        """The ids whose ``name`` column (``auid_name``, ...) shows one of ``texts``."""
        ids, names = self._table(name)
        wanted = set(texts)
        return {i for i, n in zip(ids, names, strict=True) if n in wanted}


def names_option(passwd: NamesArg, group: NamesArg) -> _Names | None:
    """The name tables for ``passwd=``/``group=`` (a passwd or master.passwd file, a
    group file, ``{id: name}`` or pairs; None: no such columns)."""
    if passwd is None and group is None:
        return None
    return _Names(
        None if passwd is None else resolve_users(passwd),
        None if group is None else resolve_groups(group),
    )


def _derived(
    out: Sequence[str],
    events: EventsOption,
    names: _Names | None,
    labels: Sequence[str | None] | None,
) -> list[_DerivedSpec]:
    """The tables of the derived columns in ``out``: event-database columns from the
    event database, name columns from the evidence's passwd/group, the label column."""
    specs: list[_DerivedSpec] = []
    if any(c in EVENT_COLUMNS for c in out):
        from .events import load_events

        vector = load_events(None if events is False else events).vector
        for c in out:
            if c in EVENT_COLUMNS:
                kind = _EVENT_LOOKUP[c]
                keys, runs, values = vector.table(kind)
                specs.append((c, "event", keys, runs, values, kind == "classes"))
    if names is not None:
        specs += [names.spec(c) for c in out if c in NAME_COLUMNS]
    if labels is not None and LABEL_COLUMN in out:
        specs.append(_label_spec(labels))
    return specs


T = TypeVar("T", covariant=True)


class StreamConsumer(Protocol[T]):
    """A Rust consumer of a whole native stream (:meth:`BatchStream.drain_into`)."""

    def consume(
        self, stream: _native.ArrowStream, progress: Callable[[], object] | None = None
    ) -> T: ...


class BatchStream:
    """A one-shot stream of ``pyarrow.RecordBatch`` (``batch_size`` records each).

    Iterate it, or hand it to anything that reads the Arrow PyCapsule interface
    (``pyarrow.table(s)``, ``pyarrow.RecordBatchReader.from_stream(s)``,
    ``polars.from_arrow(s)``, ``duckdb.sql("select ... from s")``). The batches come
    straight from Rust, GIL-free, derived columns (event, name, label) included. After it
    has been consumed, reading it again raises ``OSError``.
    """

    def __init__(self, native: _native.ArrowStream, keep: object = None) -> None:
        self._native = native
        #: What must outlive the stream (decompressed copies of its inputs).
        self._keep = keep

    @property
    def schema(self) -> Any:
        """The ``pyarrow.Schema`` of every batch."""
        return self._native.schema

    @property
    def closed(self) -> bool:
        return self._native.closed

    def __iter__(self) -> Iterator[Any]:
        yield from self._native

    def read_all(self) -> Any:
        """Every remaining batch as one ``pyarrow.Table`` (decoded in parallel, GIL-free)."""
        return self._native.read_all()

    def report(self) -> list[InputReport]:
        """What the stream found in each input, in input order: records framed and rows
        made, damaged regions skipped, records failing validation, records a selection
        could not decide (each list bounded, every entry counted). Complete once the
        stream has been read to its end (:attr:`report_finished`), however it was read
        (iteration, :meth:`read_all`, or a consumer of ``__arrow_c_stream__``)."""
        return self._native.report()

    @property
    def report_finished(self) -> bool:
        return self._native.report_finished

    def drain_into(
        self, consumer: StreamConsumer[T], progress: Callable[[], object] | None = None
    ) -> T:
        """Hand the whole stream to one of bsmtrail's Rust consumers (the native writer
        of ``bsmtrail.export``, the tally of ``bsmtrail.stats``), which reads it without
        the GIL: each batch is encoded or counted on the worker that decoded it unless
        the stream joins chunks (a selection), so no decoded batch waits in a queue.
        ``progress()`` runs after each batch. Consumes the stream."""
        return consumer.consume(self._native, progress)

    def to_reader(self) -> Any:
        """A ``pyarrow.RecordBatchReader`` over this stream (consumes it)."""
        pa = _pa()
        return pa.RecordBatchReader.from_stream(self)

    def __arrow_c_schema__(self) -> object:
        return self._native.__arrow_c_schema__()

    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object:
        return self._native.__arrow_c_stream__(requested_schema)

    def __repr__(self) -> str:
        return f"<bsmtrail.arrow.BatchStream {len(self.schema)} columns, closed={self.closed}>"


def stream(
    inputs: Sequence[tuple[str, object]],
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
    map_files: bool = False,
    keep: object = None,
    passwd: NamesArg = None,
    group: NamesArg = None,
    order: Order = "input",
    window_ms: int = MERGE_WINDOW_MS,
    labels: Sequence[str | None] | None = None,
) -> BatchStream:
    """The one stream behind every Arrow export: ``inputs`` are ``(name, path or bytes)``
    pairs (paths read through a bounded window, or memory-mapped with ``map_files``).
    ``labels``: each input's label for :data:`LABEL_COLUMN` (None: no such column).
    ``order="time"`` merges every input by (time, msec, input order) instead
    (:func:`iter_trails`).
    ``where`` is tested on each framed record in Rust, on the worker threads, before any
    column is built; rows keep their offsets in their input. ``keep`` is held as long as
    the stream (temporary copies it reads). ``passwd``/``group``: the trail machine's
    files (or ``{id: name}``), for :data:`NAME_COLUMNS`."""
    if threads is not None and threads < 0:
        raise ValueError("threads must be None (all cores) or at least 1")
    if order not in ("input", "time"):
        raise ValueError(f"order must be 'input' or 'time', not {order!r}")
    if window_ms < 0:
        raise ValueError("window_ms must be at least 0")
    common: dict[str, Any] = {
        "mode": mode,
        "batch_size": batch_size,
        "threads": threads or 0,
        "prefetch": prefetch,
        "map_files": map_files,
        "selection": where,
        "merge_window_ms": window_ms if order == "time" else None,
    }
    if view != "records":
        if columns is not None or passwd is not None or group is not None:
            raise ValueError("columns and names apply to the records view only")
        return BatchStream(_native.arrow_stream(list(inputs), view=view, **common), keep=keep)
    names = names_option(passwd, group)
    if labels is not None and len(labels) != len(inputs):
        raise ValueError("labels must give one label (or None) per input")
    out = _columns(columns, events, names, labels is not None)
    native = _native.arrow_stream(
        list(inputs),
        view="records",
        columns=out,
        derived=_derived(out, events, names, labels),
        validate=validate,
        **common,
    )
    return BatchStream(native, keep=keep)


def warn_undecided(reports: Sequence[InputReport], stacklevel: int = 2) -> None:
    """A :class:`~bsmtrail.BSMWarning` for records a selection left out because a token
    bsmtrail cannot decode hides what its criteria depend on (never guessed)."""
    total = sum(r.undecided_total for r in reports)
    if total:
        first = next(r for r in reports if r.undecided)
        warnings.warn(
            f"{total} record(s) left out of the selection: a token bsmtrail cannot decode "
            f"hides what the criteria depend on (first in {first.name} at offset "
            f"{first.undecided[0]})",
            BSMWarning,
            stacklevel=stacklevel + 1,
        )


def warn_late(reports: Sequence[InputReport], stacklevel: int = 2) -> None:
    """A :class:`~bsmtrail.BSMWarning` for records a time-ordered read could not put in
    their place: stamped earlier than a record its trail had already given out, beyond
    the window (a clock set back, a record inserted); they are kept right after the
    record before them in their trail."""
    total = sum(r.late_total for r in reports)
    if total:
        first = next(r for r in reports if r.late)
        offset, (secs, msec), _ = first.late[0]
        warnings.warn(
            f"{total} record(s) out of time order beyond the merge window, left where their "
            f"trail has them (first in {first.name} at offset {offset}, stamped {secs}.{msec:03d})",
            BSMWarning,
            stacklevel=stacklevel + 1,
        )


def open_inputs(paths: PathsArg, *, stacklevel: int = 2) -> list[Materialized]:
    """Every trail ``paths`` name (``bsmtrail.sources.expand``: directories and globs skip
    what is not a trail, with a :class:`~bsmtrail.BSMWarning` naming it), compressed ones
    decompressed to private temporary files (close each when done)."""
    found = expand(paths)
    for note in found.notes():
        warnings.warn(note, BSMWarning, stacklevel=stacklevel + 1)
    return materialize_all(found.files)


def label_inputs(paths: InputsArg) -> tuple[list[str], list[str | None] | None]:
    """``paths`` as a flat list of paths and, when they are given by label, each one's
    label (files a label's paths name, in order; the labels in the mapping's order)."""
    if not isinstance(paths, Mapping):
        return list(_flat(paths)), None
    flat: list[str] = []
    labels: list[str | None] = []
    for label, group in paths.items():
        if not isinstance(label, str) or not label:
            raise ValueError(f"labels must be non-empty strings, not {label!r}")
        found = expand(group)
        for note in found.notes():
            warnings.warn(note, BSMWarning, stacklevel=3)
        flat += found.files
        labels += [label] * len(found.files)
    return flat, labels


def _flat(paths: PathsArg) -> list[str]:
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    return [os.fspath(p) for p in paths]


def _named(copies: list[Materialized]) -> list[tuple[str, object]]:
    return [(m.name, m.path) for m in copies]


def iter_trails(
    paths: InputsArg,
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
    passwd: NamesArg = None,
    group: NamesArg = None,
    order: Order = "input",
    window_ms: int = MERGE_WINDOW_MS,
) -> BatchStream:
    """Stream several trails as one sequence of batches (files in the given order; a
    directory or glob in sorted name order). Files are read through a bounded window, so
    memory stays flat whatever their size. The ``source`` column names each row's file.

    ``order="time"`` gives one timeline instead: the rows of every input merged by
    (time, msec, input order), with a bounded-memory k-way merge over the files (each is
    mapped; memory grows with the number of files, not their size). Records are stamped
    when their event began, so a trail is only nearly in order: inversions inside a trail
    up to ``window_ms`` are put right; an older record is kept right after the record
    before it in its trail and reported (:attr:`InputReport.late`), never silently
    reordered.

    ``paths`` given by label (``{"host1": "/evidence/host1/audit", "host2": ...}``) add
    the :data:`LABEL_COLUMN` naming each row's label: the machines of one case told
    apart in one timeline.
    ``prefetch`` > 0 decodes up to that many batches ahead on a thread of its own, so the
    consumer's work (writing Parquet, say) overlaps decoding.

    ``where`` (a :class:`bsmtrail.select.Selection`) keeps only the records auditreduce's
    criteria select, tested in Rust on each framed record before any column is built:
    rejected records cost little more than framing. What the stream skipped or could not
    decide is in :meth:`BatchStream.report`.

    ``passwd``/``group``: the trail machine's passwd (or master.passwd) and group files,
    or ``{id: name}``; the rows then name the subject's ids (:data:`NAME_COLUMNS`) as the
    evidence does, never as the machine reading it does."""
    flat, labels = label_inputs(paths)
    copies = open_inputs(flat)
    return stream(
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
        passwd=passwd,
        group=group,
        order=order,
        window_ms=window_ms,
        labels=labels,
        # A selective stream is mostly framing: mapped, the workers frame byte ranges in
        # parallel, and pages behind the reader are released (memory stays flat).
        map_files=where is not None,
        keep=copies,  # decompressed copies live as long as the stream
    )


def read_trails(
    paths: InputsArg,
    columns: Sequence[str] | None = None,
    mode: Mode = "recover",
    *,
    view: View = "records",
    batch_size: int = DEFAULT_BATCH_SIZE,
    threads: int | None = None,
    validate: bool = True,
    events: EventsOption = None,
    where: Selection | None = None,
    passwd: NamesArg = None,
    group: NamesArg = None,
    order: Order = "input",
    window_ms: int = MERGE_WINDOW_MS,
) -> Any:
    """Read several trails (paths, a directory, or a glob) into one ``pyarrow.Table``;
    ``order="time"`` merges them into one timeline (see :func:`iter_trails`; records
    left out of order beyond ``window_ms`` raise a :class:`~bsmtrail.BSMWarning`).

    Framing walks each file's headers in order; the records are decoded in parallel on
    every core (``threads``), in chunks that never change the row order. ``mode="recover"``
    (the default) keeps every intact record of damaged files, turns records that fail
    validation into rows with ``error`` set, and skips damaged regions (see
    ``view="errors"``); ``"strict"`` raises :class:`~bsmtrail.BSMError` at the first
    problem. ``where`` selects records first (see :func:`iter_trails`); records it cannot
    decide raise a :class:`~bsmtrail.BSMWarning`; ``passwd``/``group`` name the subject's
    ids (see :func:`iter_trails`). Each file is memory-mapped while it is
    decoded (the table holds all of it anyway); stream with :func:`iter_trails` to keep
    memory flat.

    Compressed trails (gzip, bzip2, xz, zstd) are read by their content. In recover mode,
    an input that yields no record, or whose records cover less than half of its bytes,
    raises a :class:`~bsmtrail.BSMWarning` naming it (its damage is in
    ``view="errors"``), so nothing comes back empty without a word.
    """
    flat, labels = label_inputs(paths)
    copies = open_inputs(flat)
    try:
        s = stream(
            _named(copies),
            view=view,
            columns=columns,
            mode=mode,
            batch_size=batch_size,
            threads=threads,
            validate=validate,
            events=events,
            where=where,
            map_files=True,
            passwd=passwd,
            group=group,
            order=order,
            window_ms=window_ms,
            labels=labels,
        )
        table = s.read_all()
        reports = s.report()
        warn_undecided(reports)
        warn_late(reports)
        if mode == "recover" and view == "records" and where is None:
            _warn_thin_inputs(reports, copies)
        return table
    finally:
        for m in copies:
            m.close()


def _warn_thin_inputs(reports: Sequence[InputReport], copies: list[Materialized]) -> None:
    """A :class:`~bsmtrail.BSMWarning` for each input without records or mostly damage."""
    for m, r in zip(copies, reports, strict=True):
        size = os.path.getsize(m.path)
        if r.records == 0:
            warnings.warn(f"{m.name}: {no_records_reason(m.path)}", BSMWarning, stacklevel=3)
        elif r.record_bytes * 2 < size:
            warnings.warn(
                f"{m.name}: mostly damage: records cover {r.record_bytes} of {size} bytes "
                "(see view='errors')",
                BSMWarning,
                stacklevel=3,
            )


def to_pandas(data: Any) -> Any:
    """A bsmtrail table (a ``pyarrow.Table``, or a :class:`BatchStream`, read whole) as a
    ``pandas.DataFrame`` to use as it comes: dictionary columns as categoricals, times as
    ``datetime64[ms, UTC]``, integers exact and nullable (pyarrow-backed: pandas' default
    turns an integer column with a null into float64, and an auid is an id, not a
    measure), text, lists and structs pyarrow-backed (no Python object per cell)."""
    pa = _pa()
    pd = importlib.import_module("pandas")
    table = data.read_all() if isinstance(data, BatchStream) else data
    if not isinstance(table, pa.Table):
        raise TypeError(f"to_pandas takes a pyarrow.Table or a BatchStream, not {type(data)}")

    def dtype(t: Any) -> Any:
        if pa.types.is_dictionary(t) or pa.types.is_timestamp(t):
            return None  # pandas' own: Categorical, datetime64[ms, UTC]
        return pd.ArrowDtype(t)

    return table.to_pandas(types_mapper=dtype)


def records_schema(
    columns: Sequence[str] | None = None,
    *,
    events: EventsOption = None,
    passwd: NamesArg = None,
    group: NamesArg = None,
    label: bool = False,
) -> Any:
    """The records view's ``pyarrow.Schema`` (for ``columns``, default all; ``label``:
    with the :data:`LABEL_COLUMN` that labelled inputs add)."""
    return stream(
        [("<schema>", b"")],
        columns=columns,
        events=events,
        passwd=passwd,
        group=group,
        labels=["<schema>"] if label else None,
    ).schema

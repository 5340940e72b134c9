"""Opening trails and iterating their records.

A :class:`Trail` wraps the native reader: files are memory-mapped, ``bytes`` are shared
without copying, and framing, trailer checks and token decoding run in Rust. Iteration
yields lazy :class:`~bsmtrail._native.Record` views; nothing is decoded into Python objects
until a record's ``tokens`` are asked for.
"""

from __future__ import annotations

import builtins
import copy
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import _native
from ._native import Record
from .errors import BSMError
from .sources import Materialized, decompressed_bytes, materialize
from .tally import Bounded, Damage, DamageLog
from .types import EventsArg, EventsOption, Mode, Source, worker_threads

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._native import Selection
    from .arrow import BatchStream, View
    from .stream import Stream

__all__ = [
    "Damage",
    "FileToken",
    "Mode",
    "Record",
    "ScanResult",
    "Source",
    "Trail",
    "VerifyReport",
    "open",
    "parse_record",
]


@dataclass(frozen=True)
class FileToken:
    """A standalone file token (0x11) between records: auditd writes one when it opens a
    trail and one when it closes it, naming the trail's file. ``raw`` is its bytes as they
    are in the trail, so writing it back (:func:`bsmtrail.write_trail`) is lossless;
    ``name`` is the file name decoded as the token dicts decode strings."""

    offset: int
    seconds: int
    msec: int
    name: str
    raw: bytes

    @classmethod
    def _from_native(cls, d: dict[str, Any], raw: bytes) -> FileToken:
        return cls(d["offset"], d["seconds"], d["msec"], d["name"], raw)


@dataclass(frozen=True)
class VerifyReport:
    """Integrity of a whole trail (see :meth:`Trail.verify`)."""

    name: str
    nbytes: int
    records: int
    file_tokens: int
    bytes: int
    #: Damaged regions: the first ones in full, every one counted (:mod:`bsmtrail.tally`).
    damage: DamageLog
    truncated_tail: bool
    #: (offset of the sequence token, expected number, number found); bounded as damage.
    seq_gaps: Bounded[tuple[int, int, int]]
    #: (record offset, previous (seconds, msec), this record's (seconds, msec)); seconds
    #: are signed (64-bit headers), as :attr:`Record.time` reads them.
    time_backwards: Bounded[tuple[int, tuple[int, int], tuple[int, int]]]
    #: event number -> how many valid records carry it
    events: dict[int, int]
    #: event numbers absent from the event database (filled by :meth:`Trail.verify`)
    unknown_events: dict[int, int]
    #: Times of the first and last records in file order.
    first_time: tuple[int, int] | None
    last_time: tuple[int, int] | None
    token_counts: dict[str, int]
    #: The earliest and latest record times anywhere in the trail.
    earliest: tuple[int, int] | None = None
    latest: tuple[int, int] | None = None
    #: The standalone file tokens auditd writes as it opens and closes a trail, when the
    #: trail begins (ends) with one: (offset, (seconds, msec), name).
    opening: tuple[int, tuple[int, int], builtins.bytes] | None = None
    closing: tuple[int, tuple[int, int], builtins.bytes] | None = None

    @property
    def empty(self) -> bool:
        """No record and no file token: an empty file, or one that is not a trail."""
        return self.records == 0 and self.file_tokens == 0

    @property
    def ok(self) -> bool:
        """No evidence of damage or tampering: every byte framed and decoded, no sequence
        gaps, time never ran backwards beyond the tolerance, and the trail is not empty.
        Events unknown to the event database are :attr:`notes`, not problems (a newer
        system's events are not damage)."""
        return (
            not (self.damage or self.seq_gaps or self.time_backwards or self.empty)
            and self.bytes == self.nbytes
        )

    @property
    def notes(self) -> list[str]:
        """What is worth knowing but is not a problem."""
        if not self.unknown_events:
            return []
        listed = ", ".join(f"{k} ({v})" for k, v in sorted(self.unknown_events.items())[:20])
        more = len(self.unknown_events) - 20
        return [
            f"events unknown to the event database: {listed}"
            + (f" and {more} more" if more > 0 else "")
            + " (give the evidence's audit_event with --events to name them)"
        ]


@dataclass(frozen=True)
class ScanResult:
    """What a full pass over a trail found."""

    records: int
    file_tokens: int
    bytes: int
    nbytes: int
    first_seconds: int | None
    last_seconds: int | None
    token_counts: dict[str, int]
    error: BSMError | None

    @property
    def empty(self) -> bool:
        """No record and no file token: an empty file, or one that is not a trail."""
        return self.records == 0 and self.file_tokens == 0

    @property
    def ok(self) -> bool:
        """True when the whole input framed and decoded cleanly."""
        return self.error is None and self.bytes == self.nbytes


class Trail:
    """A BSM trail. Iterate it for records; errors raise :class:`BSMError` subclasses
    carrying the byte offset where decoding failed."""

    def __init__(self, source: Source, *, name: str | None = None, mode: Mode = "strict") -> None:
        if mode not in ("strict", "recover"):
            raise ValueError(f"mode must be 'strict' or 'recover', not {mode!r}")
        self.mode: Mode = mode
        #: Regions skipped so far by iteration in ``"recover"`` mode (bounded).
        self._damage = _native.DamageLog()
        #: Offsets of records the selection could not decide in the last iteration.
        self._undecided: list[int] = []
        self._iteration: _native.RecordIter | None = None
        self._path: str | None = None
        #: What :meth:`select` keeps (None: every record).
        self._where: Selection | None = None
        #: The input bytes when not opened from a path (for the Arrow export).
        self._data: bytes | bytearray | memoryview | None = None
        #: A decompressed (or drained) copy of a path input, removed with the trail.
        self._copy: Materialized | None = None
        if hasattr(source, "read"):
            data = source.read()
            if not isinstance(data, (bytes, bytearray)):
                raise TypeError("file objects must be opened in binary mode")
            self.name = name or str(getattr(source, "name", "<stream>"))
            self._data = decompressed_bytes(data) or bytes(data)
            self._reader = _native.Reader(self._data)
        elif isinstance(source, (str, os.PathLike)):
            # Compressed files and pipes become a private regular file (bsmtrail.sources);
            # offsets are then offsets in the decompressed trail.
            self._copy = materialize(source)
            self.name = name or os.fspath(source)
            self._path = self._copy.path
            self._reader = _native.Reader(self._path)
        else:
            self.name = name or "<bytes>"
            unpacked = decompressed_bytes(source)
            self._data = source if unpacked is None else unpacked
            self._reader = _native.Reader(self._data)

    @property
    def damage(self) -> DamageLog:
        """What the last ``"recover"`` iteration skipped (empty in strict mode): the first
        regions in full and every one counted (see :mod:`bsmtrail.tally`)."""
        return DamageLog.of(self._damage)

    @property
    def nbytes(self) -> int:
        """Size of the input in bytes."""
        return self._reader.nbytes

    @property
    def undecided(self) -> Bounded[int]:
        """Offsets of the records the last iteration of a :meth:`select` view left out
        because a token bsmtrail cannot decode hides what the criteria depend on (never
        guessed): the first ones, every one counted."""
        total = 0 if self._iteration is None else self._iteration.undecided_total
        return Bounded(tuple(self._undecided), total)

    def _records(self, files: Callable[[dict[str, Any], bytes], Any] | None) -> Iterator[Any]:
        recover = self.mode == "recover"
        self._damage = _native.DamageLog()
        self._undecided = []
        self._iteration = self._reader.records(
            self.mode,
            damage=self._damage if recover else None,
            files=files,
            selection=self._where,
            undecided=self._undecided,
        )
        return self._iteration

    def __iter__(self) -> Iterator[Record]:
        if self._where is None and self.mode == "strict":
            return iter(self._reader)
        return self._records(None)

    def items(self) -> Iterator[Record | FileToken]:
        """Records and standalone file tokens, in trail order (in ``"recover"`` mode,
        damage is skipped and listed in :attr:`damage`). Everything that framed is
        yielded, so ``write_trail(out, trail.items())`` copies the trail byte for byte."""
        return self._records(FileToken._from_native)

    def __repr__(self) -> str:
        return f"<Trail {self.name!r} {self.nbytes} bytes>"

    def file_tokens(self) -> list[dict[str, object]]:
        """The standalone file tokens (0x11) between records, in order."""
        return self._reader.file_tokens()

    def follow(
        self,
        *,
        poll_interval: float = 0.25,
        idle_timeout: float | None = None,
        stop: Callable[[], bool] | None = None,
    ) -> Stream:
        """Follow this trail's file as it grows (``tail -f``), from its first record: a
        record cut at the current end of the file is waited for and read whole. Only for
        trails opened from a path."""
        from .stream import follow

        if self._path is None:
            raise TypeError("follow() needs a trail opened from a path")
        return follow(self._path, poll_interval=poll_interval, idle_timeout=idle_timeout, stop=stop)

    def select(self, where: Selection | None = None, **criteria: Any) -> Trail:
        """A view of this trail holding only the records auditreduce's criteria select
        (iterate it, or ``to_arrow()``/``to_parquet()`` it): nothing is copied, and records
        and rows keep their offsets in this trail. Pass a compiled
        :class:`bsmtrail.select.Selection`, or the keyword criteria of
        :func:`bsmtrail.select.selection` (``auid="alice"``, ``classes="lo"``, ...); a
        view's ``select`` keeps what both select. Each record is judged in Rust before
        anything else is decoded. In ``"strict"`` mode the trail is framed here, so a
        framing error raises now; in ``"recover"`` mode damage is skipped (and listed in
        :attr:`damage` after iteration)."""
        from .select import selection

        if where is None:
            where = selection(**criteria)
        elif criteria:
            raise TypeError("give a Selection or keyword criteria, not both")
        if self.mode == "strict":
            framed = self._reader.scan(decode=False)
            if framed.error is not None:
                raise framed.error
        picked = copy.copy(self)  # shares the reader, its bytes and any temporary copy
        picked.name = f"{self.name} (selected)"
        picked._where = where if self._where is None else self._where & where
        picked._damage = _native.DamageLog()
        picked._undecided, picked._iteration = [], None
        return picked

    def verify(
        self,
        *,
        events: EventsArg = None,
        backwards_tolerance_ms: int = 1000,
        threads: int | None = None,
    ) -> VerifyReport:
        """Integrity report: records, bytes covered, damaged regions, a truncated tail,
        sequence-token gaps, time running backwards, unknown tokens (as damage) and events
        unknown to the event database (``events``: an :class:`~bsmtrail.events.EventDatabase`,
        an audit_event path, or None for the default). Records may legitimately be up to
        a few milliseconds out of order (stamped at event start, written at its end), so
        time running backwards counts only beyond ``backwards_tolerance_ms``. Records are
        walked on ``threads`` workers (None: every core); the report is the same."""
        return _verify(self, events, backwards_tolerance_ms, worker_threads(threads))

    def scan(self, *, decode: bool = True) -> ScanResult:
        """Frame (and with ``decode``, fully decode) the whole trail in Rust without the
        GIL. Problems are reported in ``error``, not raised."""
        s = self._reader.scan(decode=decode)
        return ScanResult(
            records=s.records,
            file_tokens=s.file_tokens,
            bytes=s.bytes,
            nbytes=s.nbytes,
            first_seconds=s.first_seconds,
            last_seconds=s.last_seconds,
            token_counts=dict(s.token_counts),
            error=s.error,
        )

    # -- Arrow export (bsmtrail.arrow; columns in docs/arrow-schema.md) -----------------

    def to_arrow(
        self,
        columns: Sequence[str] | None = None,
        *,
        events: EventsOption = None,
        batch_size: int = 65_536,
        threads: int | None = None,
        validate: bool = True,
    ) -> Any:
        """The records view as a ``pyarrow.Table``: one row per record, decoded in Rust on
        every core (``threads``), GIL-free. ``columns`` picks and orders columns; only
        what they need is decoded (with ``validate=False``, header-only columns skip the
        token walk). ``events`` adds ``event_name``/``event_description``/
        ``event_classes`` from that event database (``False``: none). In ``"recover"``
        mode a record that fails validation is a row with ``error`` set; in ``"strict"``
        mode the first problem raises :class:`BSMError`. A trail opened from a path is
        memory-mapped while the table is built (use :meth:`iter_batches` for flat
        memory)."""
        return self.arrow_stream(
            columns=columns,
            events=events,
            batch_size=batch_size,
            threads=threads,
            validate=validate,
            map_files=True,
        ).read_all()

    def iter_batches(
        self,
        batch_size: int = 65_536,
        *,
        columns: Sequence[str] | None = None,
        events: EventsOption = None,
        threads: int | None = None,
        validate: bool = True,
    ) -> BatchStream:
        """The records view as a one-shot stream of ``pyarrow.RecordBatch`` of
        ``batch_size`` records; it implements ``__arrow_c_stream__`` for pyarrow, polars
        and DuckDB. A trail opened from a path is read through a bounded window."""
        return self.arrow_stream(
            columns=columns,
            events=events,
            batch_size=batch_size,
            threads=threads,
            validate=validate,
        )

    def to_parquet(
        self,
        path: str | os.PathLike[str],
        *,
        columns: Sequence[str] | None = None,
        events: EventsOption = None,
        batch_size: int = 65_536,
        threads: int | None = None,
        compression: str = "zstd",
    ) -> int:
        """Write the records view to Parquet, streaming batch by batch (one row group per
        batch): ``threads`` workers (None: every core) decode batches and encode their
        row groups, written in order, so memory stays bounded whatever the trail's size.
        ``compression``: ``zstd`` (level 1), ``zstd:LEVEL``, ``lz4``, ``snappy`` or
        ``none``. Returns the rows written. The file is written
        under a temporary name and renamed into place when complete; a path that is this
        trail's own file is refused (:class:`~bsmtrail.outputs.OutputError`)."""
        from .export import write_parquet
        from .outputs import check_output

        if self._copy is not None:
            check_output(path, [self._copy.name])  # never over the trail it reads
        stream = self.arrow_stream(
            columns=columns,
            events=events,
            batch_size=batch_size,
            threads=threads,
            prefetch=1,
        )
        return write_parquet(stream, path, compression=compression, threads=threads)

    def tokens_table(self, *, batch_size: int = 65_536, threads: int | None = None) -> Any:
        """The tokens view as a ``pyarrow.Table``: one row per token, with its bytes
        (``raw``) and its fields as JSON (``fields``)."""
        return self.arrow_stream(
            view="tokens", batch_size=batch_size, threads=threads, map_files=True
        ).read_all()

    def errors_table(self, *, threads: int | None = None) -> Any:
        """Damaged regions and records that fail validation, as a ``pyarrow.Table``
        (whatever the trail's mode: this is a report, it never raises for bad input)."""
        return self.arrow_stream(
            view="errors", threads=threads, mode="recover", map_files=True
        ).read_all()

    def arrow_stream(
        self,
        *,
        view: View = "records",
        columns: Sequence[str] | None = None,
        batch_size: int = 65_536,
        threads: int | None = None,
        validate: bool = True,
        events: EventsOption = None,
        mode: Mode | None = None,
        prefetch: int = 0,
        map_files: bool = False,
    ) -> BatchStream:
        """The stream behind this trail's Arrow methods (:func:`bsmtrail.arrow.stream`):
        any view, in this trail's mode unless ``mode`` is given, holding only the
        records of a :meth:`select` view. A trail opened from a path is read through a
        bounded window, or memory-mapped with ``map_files``."""
        from .arrow import stream

        source = self._path if self._path is not None else self._data
        return stream(
            [(self.name, source)],
            view=view,
            columns=columns,
            mode=self.mode if mode is None else mode,
            batch_size=batch_size,
            threads=threads,
            validate=validate,
            events=events,
            where=self._where,
            prefetch=prefetch,
            map_files=map_files,
        )


def _verify(trail: Trail, events: EventsArg, tolerance_ms: int, threads: int) -> VerifyReport:
    from .events import load_events

    v = trail._reader.verify(backwards_tolerance_ms=tolerance_ms, threads=threads)
    db = load_events(events)
    seen = dict(v.events)
    return VerifyReport(
        name=trail.name,
        nbytes=v.nbytes,
        records=v.records,
        file_tokens=v.file_tokens,
        bytes=v.bytes,
        damage=DamageLog.of(v.damage),
        truncated_tail=v.truncated_tail,
        seq_gaps=Bounded(tuple(v.seq_gaps), v.seq_gaps_total),
        time_backwards=Bounded(tuple(v.time_backwards), v.time_backwards_total),
        events=seen,
        unknown_events={e: n for e, n in seen.items() if e not in db},
        first_time=v.first_time,
        last_time=v.last_time,
        token_counts=dict(v.token_counts),
        earliest=v.earliest,
        latest=v.latest,
        opening=v.opening,
        closing=v.closing,
    )


def open(source: Source, *, name: str | None = None, mode: Mode = "strict") -> Trail:
    """Open a trail from a path, ``bytes``/``bytearray``/``memoryview``, or a binary file
    object. ``mode="recover"`` keeps every intact record of a damaged trail."""
    return Trail(source, name=name, mode=mode)


def parse_record(data: bytes | bytearray | memoryview) -> Record:
    """Decode exactly one record (for example from DTrace's dtaudit ``bsm()`` probe)."""
    return _native.parse_record(data)

"""What the event shapes (``bsmtrail.ocsf``, ``bsmtrail.ecs``, ``bsmtrail.timesketch``)
derive alike from a records-view batch, each fact decided once: the OCSF class and
activity of each record (the mapping table ``ocsf_map`` is the one place that says what
kind of action an event is), the process a fork or kill acts on, which side of a socket is
the source and which the destination, whether a terminal is remote, whether a record
loads an image. Those facts are computed in Rust (``rust/ocsf.rs``: ``facts``, which the
OCSF events are built from too) from the tables :func:`native_tables` hands over; the
rest here is Arrow compute on whole columns. :class:`Converter` is the batch-stream
machinery the shapes' converters share."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from . import _native
from .arrays import text
from .arrow import InputsArg, Order, iter_trails, label_inputs
from .lazy import module
from .ocsf_map import CLASS_ATTRIBUTES, CLASSES, OCSF_VERSION, load_mapping
from .pool import ordered_map
from .types import EventsOption, Mode
from .userdb import NamesArg

if TYPE_CHECKING:
    from .events import EventDatabase
    from .ocsf_map import Mapping

__all__ = [
    "FORKS",
    "KILLS",
    "RECORD_COLUMNS",
    "RENAMES",
    "SPAWNS",
    "TO_PEER",
    "Batch",
    "Converter",
    "native_tables",
]

#: The records-view columns the event shapes (OCSF, ECS) are built from: the record's
#: place, header, first subject and return, and the token lists they read.
RECORD_COLUMNS = (
    "source",
    "record_offset",
    "size",
    "header_type",
    "version",
    "event",
    "modifier",
    "time",
    "host",
    "subject_type",
    "auid",
    "euid",
    "egid",
    "ruid",
    "rgid",
    "pid",
    "sid",
    "tid_port",
    "tid_addr",
    "return_status",
    "return_value",
    "return_errno",
    "success",
    "paths",
    "texts",
    "exec_args",
    "attrs",
    "sockets",
    "processes",
    "seq",
    "zone",
    "identity",
)

#: Events that make a process: the child's pid is the call's return value.
FORKS = ("AUE_FORK", "AUE_FORK1", "AUE_VFORK", "AUE_RFORK", "AUE_PDFORK")
SPAWNS = ("AUE_POSIX_SPAWN",)
#: Events whose target process is the record's process token.
KILLS = ("AUE_KILL", "AUE_KILLPG")
#: Events whose sockinet token is the peer's address (else it is the local end).
TO_PEER = ("AUE_CONNECT", "AUE_CONNECTAT")
#: Events whose second path is the new name (OCSF's ``file_result``).
RENAMES = ("AUE_RENAME", "AUE_RENAMEAT", "AUE_LINK", "AUE_LINKAT", "AUE_SYMLINK", "AUE_SYMLINKAT")


def native_tables(
    db: EventDatabase,
    tables: tuple[Any, Any] | None = None,
    mapping: Mapping | None = None,
) -> _native.OcsfTables:
    """What each event number means, for the Rust builder: ``tables``
    (:meth:`~bsmtrail.ocsf_map.Mapping.tables`: class and activity; when None, those of
    ``mapping``, by default the package's), the event database's names, the events of
    each role (:data:`FORKS` and the others, by name) and the OCSF classes
    (:data:`~bsmtrail.ocsf_map.CLASSES`, with their own attributes)."""
    if tables is None:
        tables = (mapping or load_mapping()).tables(db)
    classes, activities = tables
    by_number = db.events.by_number
    names = [(n, e.name) for n, e in by_number.items() if 0 <= n < 1 << 16]

    def numbers(wanted: tuple[str, ...]) -> list[int]:
        return [n for n, e in by_number.items() if e.name in wanted and 0 <= n < 1 << 16]

    roles = {
        "fork": numbers(FORKS),
        "spawn": numbers(SPAWNS),
        "kill": numbers(KILLS),
        "to_peer": numbers(TO_PEER),
        "rename": numbers(RENAMES),
    }
    described = [
        (uid, name, cat, cat_name, list(acts.items()), list(CLASS_ATTRIBUTES[uid]))
        for uid, (name, cat, cat_name, acts) in CLASSES.items()
    ]
    return _native.OcsfTables(
        classes.tolist(), activities.tolist(), names, roles, described, OCSF_VERSION
    )


class Batch:
    """One records-view batch and the columns derived from it. ``native`` is what each
    event number means (:func:`native_tables`): needed only for the facts computed in
    Rust (:attr:`facts` and the properties that read it)."""

    def __init__(self, batch: Any, native: _native.OcsfTables | None, db: EventDatabase) -> None:
        self.pa = module("pyarrow")
        self.pc = module("pyarrow.compute")
        self.np = module("numpy")
        self.b = batch
        self.n = batch.num_rows
        self.db = db
        self.native = native

    @cached_property
    def facts(self) -> Any:
        """The facts every shape derives alike, a column each (``rust/ocsf.rs``:
        ``facts``): ``class_uid``, ``activity_id``, ``remote``, ``execs``,
        ``child_pid``, ``target_pid``, ``command_line``, ``path_name``, ``src_ip``,
        ``src_port``, ``dst_ip``, ``dst_port``."""
        if self.native is None:
            raise ValueError("a Batch without the mapping's tables has no derived facts")
        return _native.record_facts(self.b, self.native)

    def fact(self, name: str) -> Any:
        return self.facts.column(name)

    @property
    def class_uid(self) -> Any:
        """Each record's OCSF class_uid (int32), by the mapping table."""
        return self.fact("class_uid")

    @property
    def activity(self) -> Any:
        """Each record's OCSF activity_id (int32), by the mapping table."""
        return self.fact("activity_id")

    # -- generic helpers --------------------------------------------------------------------

    def col(self, name: str) -> Any:
        return self.b.column(name)

    def has(self, name: str) -> bool:
        return name in self.b.schema.names

    def name_of(self, column: str) -> Any:
        """A ``*_name`` column as text, or None when the batch has no names."""
        return text(self.col(column)) if self.has(column) else None

    def is_class(self, uid: int) -> Any:
        return self.pc.equal(self.class_uid, uid)

    def always(self) -> Any:
        """True on every row (an object present on every event)."""
        return self.const(True, self.pa.bool_())

    def struct(self, fields: dict[str, Any], valid: Any = None) -> Any:
        """A struct of ``fields`` (None entries left out), null where ``valid`` is not
        true (None: null where every field is null)."""
        pa, pc = self.pa, self.pc
        kept = {k: v for k, v in fields.items() if v is not None}
        arrays = list(kept.values())
        if valid is None:
            for a in arrays:
                v = pc.is_valid(a)
                valid = v if valid is None else pc.or_kleene(valid, v)
        if valid is None:
            valid = self.const(True, pa.bool_())
        mask = pc.invert(pc.fill_null(valid, False))
        return pa.StructArray.from_arrays(arrays, names=list(kept), mask=mask)

    def where(self, cond: Any, array: Any) -> Any:
        """``array`` where ``cond`` holds, null elsewhere."""
        null = self.pa.nulls(self.n, array.type)
        return self.pc.if_else(self.pc.fill_null(cond, False), array, null)

    def const(self, value: Any, type_: Any) -> Any:
        """``value`` on every row: text as a one-word dictionary (no copy per row)."""
        pa, np = self.pa, self.np
        if pa.types.is_string(type_):
            zeros = pa.array(np.zeros(self.n, dtype=np.int32))
            return pa.DictionaryArray.from_arrays(zeros, pa.array([value], pa.string()))
        return pa.array(np.full(self.n, value), type_)

    def lookup(self, keys: Any, names: dict[int, str]) -> Any:
        """The name of each key (null for a key ``names`` lacks), as a dictionary."""
        pa, pc = self.pa, self.pc
        known = pa.array(list(names), keys.type)
        index = pc.index_in(keys, value_set=known)
        return pa.DictionaryArray.from_arrays(index, pa.array(list(names.values()), pa.string()))

    def uid_text(self, ids: Any) -> Any:
        """Ids as text: each distinct id formatted once (a dictionary)."""
        pa, pc = self.pa, self.pc
        if pa.types.is_dictionary(ids.type):
            return ids
        enc = pc.dictionary_encode(ids)
        return pa.DictionaryArray.from_arrays(enc.indices, pc.cast(enc.dictionary, pa.string()))

    @property
    def path_name(self) -> Any:
        """The first path's last component: what follows its last ``/``."""
        return self.fact("path_name")

    def non_empty(self, lists: Any) -> Any:
        """``lists``, null where a list is empty."""
        return self.where(self.pc.greater(self.pc.list_value_length(lists), 0), lists)

    def event_is(self, names: tuple[str, ...]) -> Any:
        """Rows whose event has one of ``names``."""
        numbers = [n for n, e in self.db.events.by_number.items() if e.name in names]
        return self.pc.is_in(self.col("event"), value_set=self.pa.array(numbers, self.pa.uint16()))

    # -- derived facts ----------------------------------------------------------------------

    @cached_property
    def event_names(self) -> Any:
        """The event's name in the event database, as text (null for an unknown event)."""
        return text(self.db.arrow_columns(self.col("event"), ("name",))["name"])

    @cached_property
    def event_name(self) -> Any:
        """The event's name, else its number, as text."""
        return self.pc.coalesce(self.event_names, text(self.col("event")))

    @cached_property
    def outcome(self) -> Any:
        """0 without a return token, 1 success, 2 failure (int32: OCSF's status_id)."""
        pa, pc = self.pa, self.pc
        success = self.col("success")
        none, one, two = (pa.scalar(k, pa.int32()) for k in (0, 1, 2))
        return pc.if_else(pc.is_null(success), none, pc.if_else(success, one, two))

    @cached_property
    def failed(self) -> Any:
        """Whether the call failed (false without a return token)."""
        return self.pc.fill_null(self.pc.equal(self.col("success"), False), False)

    @cached_property
    def errno(self) -> Any:
        """The failure's BSM errno name (null unless it failed)."""
        return self.where(self.failed, text(self.col("return_errno")))

    @cached_property
    def millis(self) -> Any:
        """The record's time in ms since the epoch (int64; null for an invalid time)."""
        pa, pc = self.pa, self.pc
        return pc.cast(pc.cast(self.col("time"), pa.timestamp("ms")), pa.int64())

    @property
    def remote(self) -> Any:
        """Whether the subject's terminal is remote: an address other than the
        unspecified and loopback ones (null without an address)."""
        return self.fact("remote")

    @property
    def child_pid(self) -> Any:
        """The pid a fork or posix_spawn made (its return value when positive), int64."""
        return self.fact("child_pid")

    @property
    def target_pid(self) -> Any:
        """A kill's target: its process token's pid (int64; null elsewhere)."""
        return self.fact("target_pid")

    @property
    def execs(self) -> Any:
        """Records that load an image: exec args present, not a fork or a kill."""
        return self.fact("execs")

    @property
    def command_line(self) -> Any:
        """The exec args joined by spaces (null without exec args)."""
        return self.fact("command_line")

    @property
    def socket_ends(self) -> tuple[Any, Any, Any, Any]:
        """``(source ip, source port, destination ip, destination port)`` from the first
        socket token (ports int32): a ``socket_ex`` token's local end is the source; a
        ``sockinet`` token's address is the peer of a connect (destination), else the
        local end of a bind or listen or the peer an accept took (source)."""
        f = self.fact
        return f("src_ip"), f("src_port"), f("dst_ip"), f("dst_port")


class Converter:
    """Records-view batches to another shape with one event database and mapping table
    (built once): call it on each batch, :meth:`map` a stream on worker threads, or
    :meth:`stream` trails. A subclass says which records-view columns it reads
    (:attr:`COLUMNS`) and how one batch is shaped (:meth:`shape`)."""

    #: The records-view columns a shaped row is built from (the evidence's names and the
    #: input labels are added when there are some: :meth:`columns`).
    COLUMNS: tuple[str, ...] = ()
    #: The column of a shaped batch whose values :attr:`counts` tallies (None: none).
    count_by: str | None = None

    def __init__(self, *, mapping: Mapping | None = None, events: EventsOption = None) -> None:
        from .events import load_events  # the event tables: only when shapes are built

        self.db = load_events(None if events is False else events)
        self.tables = (mapping or load_mapping()).tables(self.db)
        #: The mapping and event database as the Rust builder takes them.
        self.native = native_tables(self.db, self.tables)
        #: Rows made so far, by the value of :attr:`count_by`.
        self.counts: Counter[Any] = Counter()
        self._lock = threading.Lock()

    def shape(self, batch: Any) -> Any:
        """One records-view batch (with :meth:`columns`) shaped, row for row."""
        raise NotImplementedError

    def __call__(self, batch: Any) -> Any:
        out = self.shape(batch)
        if self.count_by is not None:
            counts = module("pyarrow.compute").value_counts(out.column(self.count_by))
            with self._lock:  # batches may be converted on several threads (map)
                for c in counts.to_pylist():
                    self.counts[c["values"]] += c["counts"]
        return out

    def columns(
        self, *, label: bool = False, passwd: bool = False, group: bool = False
    ) -> list[str]:
        """The records-view columns to build: :attr:`COLUMNS`, and the input labels and
        the evidence's names when there are some."""
        names = (["auid_name", "euid_name", "ruid_name"] if passwd else []) + (
            ["egid_name", "rgid_name"] if group else []
        )
        return [*self.COLUMNS, *(["label"] if label else []), *names]

    def summary(self) -> str | None:
        """What was made, in words, for the command to report (None: nothing to say)."""
        return None

    def map(self, batches: Iterable[Any], threads: int | None = None) -> Iterator[Any]:
        """The shaped ``batches``, in order, converted on ``threads`` workers (None: every
        core): :func:`bsmtrail.pool.ordered_map`."""
        return ordered_map(self, batches, threads)

    def schema(self, records: Any) -> Any:
        """The shaped batches' schema for records-view batches of schema ``records``."""
        pa = module("pyarrow")
        # Empty columns made with ``nulls``: ``from_pylist`` (as any ``pa.array``) has
        # pyarrow import pandas, a quarter of a second, when it is installed.
        empty = [pa.nulls(0, f.type) for f in records]
        return self(pa.RecordBatch.from_arrays(empty, schema=records)).schema

    def stream(
        self,
        paths: InputsArg,
        mode: Mode = "recover",
        *,
        where: _native.Selection | None = None,
        passwd: NamesArg = None,
        group: NamesArg = None,
        threads: int | None = None,
        order: Order = "input",
    ) -> Iterator[Any]:
        """The shaped rows of ``paths`` (inputs and options as
        :func:`~bsmtrail.arrow.read_trails`), one batch per records-view batch."""
        _, labels = label_inputs(paths)
        wanted = self.columns(
            label=labels is not None, passwd=passwd is not None, group=group is not None
        )
        batches = iter_trails(
            paths,
            wanted,
            mode,
            threads=threads,
            events=False,
            where=where,
            passwd=passwd,
            group=group,
            order=order,
        )
        yield from map(self, batches)

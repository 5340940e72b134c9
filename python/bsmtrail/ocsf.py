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

The events are built column by column with Arrow compute, one batch at a time (no row
loop): :func:`from_records` maps one records-view batch, :func:`iter_events` streams trails,
and ``bsmtrail convert --format ocsf`` writes JSON lines (null members left out)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from . import _native
from .arrays import day_names, nth, text
from .arrow import InputsArg, Order
from .derive import RECORD_COLUMNS, Batch
from .derive import Converter as _Shapes
from .lazy import module
from .ocsf_map import CLASSES, Mapping, load_mapping
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

#: The OCSF release the events follow (``metadata.version``).
OCSF_VERSION = "1.7.0"


#: The records-view columns an event is built from.
COLUMNS = list(RECORD_COLUMNS)

#: File type (attr token mode's S_IFMT bits) -> OCSF file type_id: regular file 1,
#: folder 2, character device 3, block device 4, local socket 5, named pipe 6, symbolic
#: link 7; anything else 0 (Unknown).
_FILE_TYPES = {0o100000: 1, 0o040000: 2, 0o020000: 3, 0o060000: 4, 0o140000: 5, 0o010000: 6}
_FILE_TYPES[0o120000] = 7
_FILE_TYPE_NAMES = {
    0: "Unknown",
    1: "Regular File",
    2: "Folder",
    3: "Character Device",
    4: "Block Device",
    5: "Local Socket",
    6: "Named Pipe",
    7: "Symbolic Link",
}


# -- building the columns -----------------------------------------------------------------


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
    if tables is None:
        tables = (mapping or load_mapping()).tables(db)
    b = Batch(batch, tables, db)
    pa, pc = b.pa, b.pc
    cols: dict[str, Any] = {}
    class_uid, activity = b.class_uid, b.activity
    cols["class_uid"] = class_uid
    cols["class_name"] = b.lookup(class_uid, {k: v[0] for k, v in CLASSES.items()})
    category = _lookup_int(b, class_uid, {k: v[1] for k, v in CLASSES.items()})
    cols["category_uid"] = category
    cols["category_name"] = b.lookup(class_uid, {k: v[2] for k, v in CLASSES.items()})
    cols["activity_id"] = activity
    cols["activity_name"] = _activity_names(b, class_uid, activity)
    cols["type_uid"] = pc.add(pc.multiply(pc.cast(class_uid, pa.int64()), 100), activity)
    cols["type_name"] = _type_names(b, class_uid, activity)
    cols["severity_id"] = b.const(1, pa.int32())
    cols["severity"] = b.const("Informational", pa.string())
    cols["time"] = pc.fill_null(b.millis, 0)  # required: 0 (and unmapped.bsm.time_invalid)
    cols["status_id"] = b.outcome
    cols["status"] = b.lookup(b.outcome, {0: "Unknown", 1: "Success", 2: "Failure"})
    cols["status_code"] = b.errno
    cols["message"] = b.event_name
    cols["metadata"] = b.struct(
        {
            "version": b.const(OCSF_VERSION, pa.string()),
            "product": b.struct(
                {
                    "name": b.const("bsmtrail", pa.string()),
                    "vendor_name": b.const("bsmtrail", pa.string()),
                    "version": b.const(_native.__version__, pa.string()),
                }
            ),
            "log_name": b.col("source"),
            "log_provider": b.const("audit(4) BSM", pa.string()),
            # The Host profile's device and actor are on every event (the Base Event
            # has them through the profile only).
            "profiles": pa.ListArray.from_arrays(
                pa.array(b.np.arange(b.n + 1, dtype="int32")),
                pa.array(["host"]).take(pa.array(b.np.zeros(b.n, dtype="int32"))),
            ),
            "event_code": cols["message"],
        },
        valid=b.always(),
    )
    cols["device"] = _device(b)
    cols["actor"] = _actor(b)
    # With ``only_class``, only that class's attributes are built.
    wanted = CLASS_ATTRIBUTES[only_class] if only_class is not None else ("process", "file", "user")
    if "process" in wanted:
        cols |= _process(b)
    if "file" in wanted:
        cols |= _file(b)
    if "user" in wanted:
        cols |= _authentication(b)
    if only_class is None or "src_endpoint" in wanted:
        cols |= _endpoints(b)
    cols["unmapped"] = _unmapped(b)
    out = pa.RecordBatch.from_arrays(list(cols.values()), names=list(cols))
    return out if only_class is None else out.select(class_columns(out.schema, only_class))


def _type_names(b: Batch, class_uid: Any, activity: Any) -> Any:
    pa, pc = b.pa, b.pc
    names = {
        c * 1000 + a: f"{v[0]}: {name}" for c, v in CLASSES.items() for a, name in v[3].items()
    }
    keys = pc.add(pc.multiply(pc.cast(class_uid, pa.int64()), 1000), activity)
    return b.lookup(keys, names)


def _lookup_int(b: Batch, keys: Any, values: dict[int, int]) -> Any:
    pa, pc = b.pa, b.pc
    index = pc.index_in(keys, value_set=pa.array(list(values), keys.type))
    return pa.array(list(values.values()), pa.int32()).take(index)


def _activity_names(b: Batch, class_uid: Any, activity: Any) -> Any:
    pa, pc = b.pa, b.pc
    pairs = {(c, a): name for c, v in CLASSES.items() for a, name in v[3].items()}
    keys = pc.add(pc.multiply(pc.cast(class_uid, pa.int64()), 1000), activity)
    return b.lookup(keys, {c * 1000 + a: name for (c, a), name in pairs.items()})


def _device(b: Batch) -> Any:
    pa = b.pa
    hostname = text(b.col("label")) if b.has("label") else None
    return b.struct(
        {
            "type_id": b.const(0, pa.int32()),
            "type": b.const("Unknown", pa.string()),
            "hostname": hostname,
            "ip": b.col("host"),
        },
        valid=b.always(),
    )


def _user(b: Batch, ids: Any, names: Any) -> Any:
    return b.struct({"uid": b.uid_text(ids), "name": names})


def _actor(b: Batch) -> Any:
    pa, pc = b.pa, b.pc
    has_subject = pc.is_valid(b.col("euid"))
    addr = b.col("tid_addr")
    terminal = pc.binary_join_element_wise(text(b.col("tid_port")), addr, " ")
    session = b.struct(
        {
            "uid": text(b.col("sid")),
            "terminal": terminal,
            "is_remote": b.remote,
        },
        valid=has_subject,
    )
    process = b.struct(
        {
            "pid": pc.cast(b.col("pid"), pa.int64()),
            "user": _user(b, b.col("euid"), b.name_of("euid_name")),
        },
        valid=has_subject,
    )
    return b.struct(
        {
            "user": _user(b, b.col("auid"), b.name_of("auid_name")),
            "session": session,
            "process": process,
        },
        valid=b.always(),
    )


def _process(b: Batch) -> dict[str, Any]:
    """Process Activity: ``process`` (required) is the process acted on: the new image
    for an exec, the child for a fork (its pid the call's return value), the subject for
    an exit or a setuid, the target of a kill (its process token, else the subject)."""
    pa, pc = b.pa, b.pc
    mine = b.is_class(1007)
    subject_pid = pc.cast(b.col("pid"), pa.int64())
    pid = pc.coalesce(b.target_pid, b.child_pid, subject_pid)
    path = nth(b.col("paths"))
    execs = b.execs
    image = b.struct(
        {
            "name": b.basename(path),
            "path": path,
            "type_id": b.const(1, pa.int32()),
            "type": b.const("Regular File", pa.string()),
        },
        valid=pc.and_kleene(execs, pc.is_valid(path)),
    )
    process = b.struct(
        {
            "pid": pid,
            "cmd_line": b.where(execs, b.command_line),
            "file": image,
            "user": _user(b, b.col("euid"), b.name_of("euid_name")),
            "parent_process": b.struct(
                {"pid": subject_pid}, valid=pc.and_kleene(mine, b.makes_process)
            ),
        },
        valid=mine,
    )
    return {"process": process}


def _attr_type(b: Batch, attr: Any) -> Any:
    pa, pc = b.pa, b.pc
    mode = pc.struct_field(attr, "mode")
    fmt = pc.bit_wise_and(mode, pa.scalar(0o170000, mode.type))
    index = pc.index_in(fmt, value_set=pa.array(list(_FILE_TYPES), mode.type))
    type_id = pa.array(list(_FILE_TYPES.values()), pa.int32()).take(index)
    return pc.fill_null(type_id, 0)


def _file(b: Batch) -> dict[str, Any]:
    """File System Activity: ``file`` is the first path (name required: empty when the
    record has no path, as for an fd-only call), typed by the first attr token;
    ``file_result`` is the second path of a rename or link (the new name)."""
    pa, pc = b.pa, b.pc
    mine = b.is_class(1001)
    paths = b.col("paths")
    path = nth(paths)
    attr = nth(b.col("attrs"))
    type_id = _attr_type(b, attr)
    owner = b.struct({"uid": text(pc.struct_field(attr, "uid"))}, valid=pc.is_valid(attr))
    file = b.struct(
        {
            "name": pc.fill_null(b.basename(path), ""),
            "path": path,
            "type_id": type_id,
            "type": b.lookup(type_id, _FILE_TYPE_NAMES),
            "owner": owner,
        },
        valid=mine,
    )
    second = nth(paths, 1)
    renames = b.event_is(
        ("AUE_RENAME", "AUE_RENAMEAT", "AUE_LINK", "AUE_LINKAT", "AUE_SYMLINK", "AUE_SYMLINKAT"),
    )
    result = b.struct(
        {
            "name": pc.fill_null(b.basename(second), ""),
            "path": second,
            "type_id": b.const(0, pa.int32()),
            "type": b.const("Unknown", pa.string()),
        },
        valid=pc.and_kleene(pc.and_kleene(mine, renames), pc.is_valid(second)),
    )
    return {"file": file, "file_result": result}


def _authentication(b: Batch) -> dict[str, Any]:
    """Authentication: ``user`` (required) is the audit user the record attributes;
    the session and, for a remote terminal, ``src_endpoint`` come from the subject."""
    mine = b.is_class(3002)
    remote = b.remote
    user = b.struct({"uid": b.uid_text(b.col("auid")), "name": b.name_of("auid_name")}, valid=mine)
    return {"user": user, "is_remote": b.where(mine, remote)}


def _endpoints(b: Batch) -> dict[str, Any]:
    """``src_endpoint`` and ``dst_endpoint``. Authentication: the subject's terminal
    address, when remote, is the source. Network Activity: the first socket token's ends
    (:attr:`bsmtrail.derive.Batch.socket_ends`)."""
    pc = b.pc
    mine = b.is_class(4001)
    remote = pc.fill_null(pc.and_kleene(b.is_class(3002), b.remote), False)
    src_ip, src_port, dst_ip, dst_port = b.socket_ends
    src = b.struct(
        {"ip": pc.if_else(remote, b.col("tid_addr"), src_ip), "port": b.where(mine, src_port)},
        valid=pc.or_kleene(remote, pc.and_kleene(mine, pc.is_valid(src_ip))),
    )
    dst = b.struct({"ip": dst_ip, "port": dst_port}, valid=pc.and_kleene(mine, pc.is_valid(dst_ip)))
    return {"src_endpoint": src, "dst_endpoint": dst}


def _unmapped(b: Batch) -> Any:
    """What OCSF has no attribute for: the record's place and header, the ids OCSF's
    objects do not carry, the return token as BSM wrote it, every path and text."""
    pa, pc = b.pa, b.pc
    auid = b.col("auid")
    bsm = b.struct(
        {
            "offset": b.col("record_offset"),
            "size": b.col("size"),
            "event": b.col("event"),
            "modifier": b.col("modifier"),
            "version": b.col("version"),
            "header_type": text(b.col("header_type")),
            "time_invalid": b.where(pc.is_null(b.millis), b.const(True, pa.bool_())),
            "subject_type": text(b.col("subject_type")),
            "auid_unset": b.where(
                pc.and_kleene(pc.is_null(auid), pc.is_valid(b.col("euid"))),
                b.const(True, pa.bool_()),
            ),
            "ruid": b.col("ruid"),
            "rgid": b.col("rgid"),
            "egid": b.col("egid"),
            "return_status": b.col("return_status"),
            "return_value": b.col("return_value"),
            "paths": b.non_empty(b.col("paths")),
            "texts": b.non_empty(b.col("texts")),
            "exec_args": b.col("exec_args"),
            "seq": b.col("seq"),
            "zone": b.col("zone"),
            "signing_id": pc.struct_field(b.col("identity"), "signing_id"),
            "team_id": pc.struct_field(b.col("identity"), "team_id"),
        },
        valid=b.always(),
    )
    return b.struct({"bsm": bsm}, valid=b.always())


#: OCSF's own names of the classes: the Parquet layout's directories.
CLASS_NAMES = {
    0: "base_event",
    1001: "file_activity",
    1007: "process_activity",
    3002: "authentication",
    4001: "network_activity",
}
#: The attributes only some classes' events carry (the others every event has).
CLASS_ATTRIBUTES: dict[int, tuple[str, ...]] = {
    0: (),
    1001: ("file", "file_result"),
    1007: ("process",),
    3002: ("user", "is_remote", "src_endpoint"),
    4001: ("src_endpoint", "dst_endpoint"),
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
        return from_records(batch, db=self.db, tables=self.tables)

    def lake_parts(self, batch: Any) -> list[tuple[int, str, Any]]:
        """One records-view batch's events for the lake (:func:`write_lake`): a
        ``(class_uid, day, events)`` for each class and UTC day (``YYYYMMDD``;
        ``unknown`` without a time) in it, each with its class's columns only, rows in
        input order within each."""
        pa, pc = module("pyarrow"), module("pyarrow.compute")
        b = Batch(batch, self.tables, self.db)
        stamp = pc.cast(b.millis, pa.timestamp("ms", tz="UTC"))
        days = pc.fill_null(day_names(stamp, "%Y%m%d"), "unknown")
        keys = pa.table({"class_uid": b.class_uid, "day": days})
        groups = keys.group_by(["class_uid", "day"], use_threads=False).aggregate([]).to_pylist()
        parts = []
        for group in groups:
            class_uid, day = group["class_uid"], group["day"]
            mine = pc.and_(pc.equal(b.class_uid, class_uid), pc.equal(days, day))
            records = batch.filter(mine)
            events = from_records(records, db=self.db, tables=self.tables, only_class=class_uid)
            parts.append((class_uid, day, events))
        with self._lock:  # batches may be split on several threads (lake)
            for class_uid, _, events in parts:
                self.counts[class_uid] += events.num_rows
        return sorted(parts, key=lambda p: (p[0], p[1]))

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

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

import fnmatch
import os
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from typing import TYPE_CHECKING, Any

from . import _native
from .arrays import nth, text
from .arrow import InputsArg, Order, iter_trails, label_inputs
from .lazy import module
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

#: class_uid -> (class name, category_uid, category name, {activity_id: name}).
CLASSES: dict[int, tuple[str, int, str, dict[int, str]]] = {
    0: ("Base Event", 0, "Uncategorized", {0: "Unknown", 99: "Other"}),
    1001: (
        "File System Activity",
        1,
        "System Activity",
        {
            1: "Create",
            2: "Read",
            3: "Update",
            4: "Delete",
            5: "Rename",
            6: "Set Attributes",
            7: "Set Security",
            8: "Get Attributes",
            9: "Get Security",
            10: "Encrypt",
            11: "Decrypt",
            12: "Mount",
            13: "Unmount",
            14: "Open",
            99: "Other",
        },
    ),
    1007: (
        "Process Activity",
        1,
        "System Activity",
        {1: "Launch", 2: "Terminate", 3: "Open", 4: "Inject", 5: "Set User ID", 99: "Other"},
    ),
    3002: (
        "Authentication",
        3,
        "Identity & Access Management",
        {1: "Logon", 2: "Logoff", 7: "Account Switch", 99: "Other"},
    ),
    4001: (
        "Network Activity",
        4,
        "Network Activity",
        {1: "Open", 2: "Close", 3: "Reset", 4: "Fail", 5: "Refuse", 6: "Traffic", 7: "Listen"}
        | {99: "Other"},
    ),
}

#: The records-view columns an event is built from.
COLUMNS = [
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
]

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
#: BSM's unset audit id: no accountable user.
_UNSET = 4294967295


@dataclass(frozen=True)
class Mapping:
    """The mapping table: ``(pattern, class_uid, activity_id)`` rules, first match wins."""

    rules: tuple[tuple[str, int, int], ...]
    source: str

    def classify(self, name: str | None) -> tuple[int, int]:
        """``(class_uid, activity_id)`` for an event name (Base Event, Other: no rule)."""
        if name is not None:
            for pattern, class_uid, activity in self.rules:
                if fnmatch.fnmatchcase(name, pattern):
                    return class_uid, activity
        return 0, 99

    def tables(self, db: EventDatabase) -> tuple[Any, Any]:
        """Per event number (0..65535): class_uid and activity_id arrays (numpy)."""
        np = module("numpy")
        classes = np.zeros(1 << 16, dtype=np.int32)
        activities = np.full(1 << 16, 99, dtype=np.int32)
        for number, entry in db.events.by_number.items():
            if 0 <= number < 1 << 16:
                classes[number], activities[number] = self.classify(entry.name)
        return classes, activities


def load_mapping(path: str | os.PathLike[str] | None = None) -> Mapping:
    """The mapping table at ``path`` (default: the one in the package). Lines are
    ``EVENT CLASS_UID ACTIVITY_ID``; ``#`` starts a comment. A class or activity OCSF
    does not define is refused (ValueError naming the line)."""
    if path is None:
        text = resources.files("bsmtrail").joinpath("data/ocsf_map").read_text()
        source = "bsmtrail/data/ocsf_map"
    else:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        source = os.fspath(path)
    rules = []
    for n, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        try:
            pattern, class_uid, activity = fields[0], int(fields[1]), int(fields[2])
        except (IndexError, ValueError):
            raise ValueError(f"{source}:{n}: want EVENT CLASS_UID ACTIVITY_ID") from None
        if len(fields) != 3 or class_uid not in CLASSES or activity not in CLASSES[class_uid][3]:
            raise ValueError(f"{source}:{n}: no OCSF class {fields[1]} activity {fields[2]}")
        rules.append((pattern, class_uid, activity))
    return Mapping(tuple(rules), source)


# -- building the columns -----------------------------------------------------------------


class _Builder:
    """One records-view batch's OCSF columns."""

    def __init__(self, batch: Any, tables: tuple[Any, Any], db: EventDatabase) -> None:
        self.pa = module("pyarrow")
        self.pc = module("pyarrow.compute")
        self.np = module("numpy")
        self.b = batch
        self.n = batch.num_rows
        self.db = db
        event = batch.column("event")
        numbers = self.pc.fill_null(event, 0).to_numpy(zero_copy_only=False).astype("int64")
        self.class_uid = self.pa.array(tables[0][numbers], self.pa.int32())
        self.activity = self.pa.array(tables[1][numbers], self.pa.int32())

    def col(self, name: str) -> Any:
        return self.b.column(name)

    @cached_property
    def remote(self) -> Any:
        """Whether the subject's terminal is remote: an address other than the
        unspecified and loopback ones (null without an address)."""
        pa, pc = self.pa, self.pc
        addr = self.col("tid_addr")
        local = pc.is_in(addr, value_set=pa.array(["0.0.0.0", "::", "127.0.0.1", "::1"]))
        return self.where(pc.is_valid(addr), pc.invert(local))

    def has(self, name: str) -> bool:
        return name in self.b.schema.names

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

    def uid_text(self, ids: Any) -> Any:
        """Ids as OCSF's text: each distinct id formatted once (a dictionary)."""
        pa, pc = self.pa, self.pc
        if pa.types.is_dictionary(ids.type):
            return ids
        enc = pc.dictionary_encode(ids)
        return pa.DictionaryArray.from_arrays(enc.indices, pc.cast(enc.dictionary, pa.string()))

    def name_of(self, column: str) -> Any:
        return text(self.col(column)) if self.has(column) else None

    def basename(self, paths: Any) -> Any:
        return self.pc.replace_substring_regex(paths, pattern=r"^.*/", replacement="")


def from_records(
    batch: Any,
    *,
    mapping: Mapping | None = None,
    db: EventDatabase | None = None,
    tables: tuple[Any, Any] | None = None,
) -> Any:
    """One records-view batch (with :data:`COLUMNS`; ``label`` and the ``*_name``
    columns are used when present) as a batch of OCSF events, row for row."""
    from .events import load_events  # the event tables: only when events are built

    db = db if db is not None else load_events(None)
    if tables is None:
        tables = (mapping or load_mapping()).tables(db)
    b = _Builder(batch, tables, db)
    pa, pc = b.pa, b.pc
    cols: dict[str, Any] = {}
    class_uid, activity = b.class_uid, b.activity
    cols["class_uid"] = class_uid
    cols["class_name"] = _lookup(b, class_uid, {k: v[0] for k, v in CLASSES.items()})
    category = _lookup_int(b, class_uid, {k: v[1] for k, v in CLASSES.items()})
    cols["category_uid"] = category
    cols["category_name"] = _lookup(b, class_uid, {k: v[2] for k, v in CLASSES.items()})
    cols["activity_id"] = activity
    cols["activity_name"] = _activity_names(b, class_uid, activity)
    cols["type_uid"] = pc.add(pc.multiply(pc.cast(class_uid, pa.int64()), 100), activity)
    cols["type_name"] = _type_names(b, class_uid, activity)
    cols["severity_id"] = b.const(1, pa.int32())
    cols["severity"] = b.const("Informational", pa.string())
    time = b.col("time")
    millis = pc.cast(pc.cast(time, pa.timestamp("ms")), pa.int64())
    cols["time"] = pc.fill_null(millis, 0)  # required: 0 (and unmapped.bsm.time_invalid)
    success = b.col("success")
    status_id = pc.if_else(
        pc.is_null(success),
        pa.scalar(0, pa.int32()),
        pc.if_else(success, pa.scalar(1, pa.int32()), pa.scalar(2, pa.int32())),
    )
    cols["status_id"] = status_id
    cols["status"] = _lookup(b, status_id, {0: "Unknown", 1: "Success", 2: "Failure"})
    errno = text(b.col("return_errno"))
    cols["status_code"] = b.where(pc.equal(success, False), errno)
    event_names = db.arrow_columns(b.col("event"), ("name",))["name"]
    event_name = text(event_names)
    cols["message"] = pc.coalesce(event_name, text(b.col("event")))
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
    cols |= _process(b)
    cols |= _file(b)
    cols |= _authentication(b)
    cols |= _endpoints(b)
    cols["unmapped"] = _unmapped(b, time)
    return pa.RecordBatch.from_arrays(list(cols.values()), names=list(cols))


def _lookup(b: _Builder, keys: Any, names: dict[int, str]) -> Any:
    """The name of each key (null for a key ``names`` lacks), as a dictionary."""
    pa, pc = b.pa, b.pc
    known = pa.array(list(names), keys.type)
    index = pc.index_in(keys, value_set=known)
    return pa.DictionaryArray.from_arrays(index, pa.array(list(names.values()), pa.string()))


def _type_names(b: _Builder, class_uid: Any, activity: Any) -> Any:
    pa, pc = b.pa, b.pc
    names = {
        c * 1000 + a: f"{v[0]}: {name}" for c, v in CLASSES.items() for a, name in v[3].items()
    }
    keys = pc.add(pc.multiply(pc.cast(class_uid, pa.int64()), 1000), activity)
    return _lookup(b, keys, names)


def _lookup_int(b: _Builder, keys: Any, values: dict[int, int]) -> Any:
    pa, pc = b.pa, b.pc
    index = pc.index_in(keys, value_set=pa.array(list(values), keys.type))
    return pa.array(list(values.values()), pa.int32()).take(index)


def _activity_names(b: _Builder, class_uid: Any, activity: Any) -> Any:
    pa, pc = b.pa, b.pc
    pairs = {(c, a): name for c, v in CLASSES.items() for a, name in v[3].items()}
    keys = pc.add(pc.multiply(pc.cast(class_uid, pa.int64()), 1000), activity)
    return _lookup(b, keys, {c * 1000 + a: name for (c, a), name in pairs.items()})


def _device(b: _Builder) -> Any:
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


def _user(b: _Builder, ids: Any, names: Any) -> Any:
    return b.struct({"uid": b.uid_text(ids), "name": names})


def _actor(b: _Builder) -> Any:
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


def _event_is(b: _Builder, names: tuple[str, ...]) -> Any:
    """Rows whose event has one of ``names``."""
    numbers = [n for n, e in b.db.events.by_number.items() if e.name in names]
    return b.pc.is_in(b.col("event"), value_set=b.pa.array(numbers, b.pa.uint16()))


def _process(b: _Builder) -> dict[str, Any]:
    """Process Activity: ``process`` (required) is the process acted on: the new image
    for an exec, the child for a fork (its pid the call's return value), the subject for
    an exit or a setuid, the target of a kill (its process token, else the subject)."""
    pa, pc = b.pa, b.pc
    mine = b.is_class(1007)
    forks = _event_is(b, ("AUE_FORK", "AUE_FORK1", "AUE_VFORK", "AUE_RFORK", "AUE_PDFORK"))
    spawn = _event_is(b, ("AUE_POSIX_SPAWN",))
    kills = _event_is(b, ("AUE_KILL", "AUE_KILLPG"))
    subject_pid = pc.cast(b.col("pid"), pa.int64())
    ret = b.col("return_value")
    child = b.where(pc.and_kleene(pc.or_kleene(forks, spawn), pc.greater(ret, 0)), ret)
    target = nth(b.col("processes"))
    target_pid = pc.cast(pc.struct_field(target, "pid"), pa.int64())
    pid = pc.coalesce(
        b.where(kills, target_pid), b.where(pc.or_kleene(forks, spawn), child), subject_pid
    )
    args = b.col("exec_args")
    cmd = pc.binary_join(pc.cast(args, pa.list_(pa.string())), " ")
    path = nth(b.col("paths"))
    execs = pc.and_kleene(pc.is_valid(args), pc.invert(pc.or_kleene(forks, kills)))
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
            "cmd_line": b.where(execs, cmd),
            "file": image,
            "user": _user(b, b.col("euid"), b.name_of("euid_name")),
            "parent_process": b.struct(
                {"pid": subject_pid}, valid=pc.and_kleene(mine, pc.or_kleene(forks, spawn))
            ),
        },
        valid=mine,
    )
    return {"process": process}


def _attr_type(b: _Builder, attr: Any) -> Any:
    pa, pc = b.pa, b.pc
    mode = pc.struct_field(attr, "mode")
    fmt = pc.bit_wise_and(mode, pa.scalar(0o170000, mode.type))
    index = pc.index_in(fmt, value_set=pa.array(list(_FILE_TYPES), mode.type))
    type_id = pa.array(list(_FILE_TYPES.values()), pa.int32()).take(index)
    return pc.fill_null(type_id, 0)


def _file(b: _Builder) -> dict[str, Any]:
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
            "type": _lookup(b, type_id, _FILE_TYPE_NAMES),
            "owner": owner,
        },
        valid=mine,
    )
    second = nth(paths, 1)
    renames = _event_is(
        b,
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


def _authentication(b: _Builder) -> dict[str, Any]:
    """Authentication: ``user`` (required) is the audit user the record attributes;
    the session and, for a remote terminal, ``src_endpoint`` come from the subject."""
    mine = b.is_class(3002)
    remote = b.remote
    user = b.struct({"uid": b.uid_text(b.col("auid")), "name": b.name_of("auid_name")}, valid=mine)
    return {"user": user, "is_remote": b.where(mine, remote)}


def _endpoints(b: _Builder) -> dict[str, Any]:
    """``src_endpoint`` and ``dst_endpoint``. Authentication: the subject's terminal
    address, when remote, is the source. Network Activity: the first socket token. A
    ``socket_ex`` token has both sides (local: source); a ``sockinet`` token has the
    call's address: the peer of a connect (destination) or an accept (source), the local
    end of a bind or listen (source)."""
    pa, pc = b.pa, b.pc
    mine = b.is_class(4001)
    auth = b.is_class(3002)
    addr = b.col("tid_addr")
    remote = pc.and_kleene(auth, b.remote)
    sock = nth(b.col("sockets"))
    kind = pc.struct_field(sock, "kind")
    laddr, lport = pc.struct_field(sock, "laddr"), pc.struct_field(sock, "lport")
    raddr, rport = pc.struct_field(sock, "raddr"), pc.struct_field(sock, "rport")
    inet = pc.starts_with(pc.fill_null(kind, ""), "sockinet")
    both = pc.equal(kind, "socket_ex")
    to_peer = _event_is(b, ("AUE_CONNECT", "AUE_CONNECTAT"))

    def endpoint(ip: Any, port: Any, valid: Any) -> Any:
        return b.struct(
            {"ip": ip, "port": pc.cast(port, pa.int32())},
            valid=pc.and_kleene(pc.and_kleene(mine, valid), pc.is_valid(ip)),
        )

    src_inet = pc.and_kleene(inet, pc.invert(to_peer))
    net_src = pc.and_kleene(mine, pc.or_kleene(both, src_inet))
    src = b.struct(
        {
            "ip": pc.if_else(pc.fill_null(remote, False), addr, laddr),
            "port": b.where(net_src, pc.cast(lport, pa.int32())),
        },
        valid=pc.or_kleene(pc.fill_null(remote, False), pc.and_kleene(net_src, pc.is_valid(laddr))),
    )
    dst_ip = pc.if_else(pc.fill_null(both, False), raddr, laddr)
    dst_port = pc.if_else(pc.fill_null(both, False), rport, lport)
    dst = endpoint(dst_ip, dst_port, pc.or_kleene(both, pc.and_kleene(inet, to_peer)))
    return {"src_endpoint": src, "dst_endpoint": dst}


def _unmapped(b: _Builder, time: Any) -> Any:
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
            "time_invalid": b.where(pc.is_null(time), b.const(True, pa.bool_())),
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
            "paths": _non_empty(b, b.col("paths")),
            "texts": _non_empty(b, b.col("texts")),
            "exec_args": b.col("exec_args"),
            "seq": b.col("seq"),
            "zone": b.col("zone"),
            "signing_id": pc.struct_field(b.col("identity"), "signing_id"),
            "team_id": pc.struct_field(b.col("identity"), "team_id"),
        },
        valid=b.always(),
    )
    return b.struct({"bsm": bsm}, valid=b.always())


def _non_empty(b: _Builder, lists: Any) -> Any:
    return b.where(b.pc.greater(b.pc.list_value_length(lists), 0), lists)


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
    batches: Iterable[Any],
    schema: Any,
    root: str | os.PathLike[str],
    *,
    compression: str = "zstd",
    threads: int | None = None,
) -> int:
    """Events as Parquet in Amazon Security Lake's layout: one file set per event class,
    ``ROOT/ocsf_class=NAME/eventDay=YYYYMMDD/part-N.parquet`` (OCSF's class name, the
    UTC day of ``time``), each class with its own columns, OCSF objects as structs.
    ``root`` is written whole under a temporary name and renamed into place (a previous
    dataset there is replaced). Returns the events written."""
    pa, pc = module("pyarrow"), module("pyarrow.compute")
    from .export import DaySinks
    from .outputs import atomic_directory

    sinks: dict[int, DaySinks] = {}
    rows = 0
    with atomic_directory(root) as target:
        try:
            for batch in batches:
                uids = batch.column("class_uid")
                for uid in pc.unique(uids).to_pylist():
                    part = batch.filter(pc.equal(uids, uid)).select(class_columns(schema, uid))
                    sink = sinks.get(uid)
                    if sink is None:
                        sink = sinks[uid] = DaySinks(
                            os.path.join(target, f"ocsf_class={CLASS_NAMES[uid]}"),
                            part.schema,
                            "parquet",
                            compression=compression,
                            threads=threads,
                            key="eventDay",
                            day_format="%Y%m%d",
                        )
                    day = pc.cast(part.column("time"), pa.timestamp("ms", tz="UTC"))
                    sink.write(part, day)
                    rows += part.num_rows
        finally:
            for sink in sinks.values():
                sink.close()
    return rows


def columns(*, label: bool = False, passwd: bool = False, group: bool = False) -> list[str]:
    """The records-view columns to build for events: :data:`COLUMNS`, and the input
    labels and the evidence's names when there are some."""
    names = (["auid_name", "euid_name", "ruid_name"] if passwd else []) + (
        ["egid_name", "rgid_name"] if group else []
    )
    return [*COLUMNS, *(["label"] if label else []), *names]


class Converter:
    """Records-view batches to OCSF event batches, with one event database and mapping
    table (built once: call it on each batch)."""

    def __init__(self, *, mapping: Mapping | None = None, events: EventsOption = None) -> None:
        from .events import load_events  # the event tables: only when events are built

        self.db = load_events(None if events is False else events)
        self.tables = (mapping or load_mapping()).tables(self.db)
        #: Events made so far, by class_uid.
        self.counts: Counter[int] = Counter()
        self._lock = threading.Lock()

    def __call__(self, batch: Any) -> Any:
        out = from_records(batch, db=self.db, tables=self.tables)
        counts = module("pyarrow.compute").value_counts(out.column("class_uid"))
        with self._lock:  # batches may be converted on several threads (map)
            for c in counts.to_pylist():
                self.counts[c["values"]] += c["counts"]
        return out

    def summary(self) -> str:
        """The counts by class, as ``1007 Process Activity: 12, ...``."""
        return ", ".join(f"{uid} {CLASSES[uid][0]}: {n}" for uid, n in sorted(self.counts.items()))

    def map(self, batches: Iterable[Any], threads: int | None = None) -> Iterator[Any]:
        """The events of ``batches``, in order, converted on ``threads`` workers (None:
        every core): :func:`bsmtrail.pool.ordered_map`."""
        return ordered_map(self, batches, threads)

    def schema(self, records: Any) -> Any:
        """The events' schema for records-view batches of schema ``records``."""
        pa = module("pyarrow")
        return self(pa.RecordBatch.from_pylist([], schema=records)).schema


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
    _, labels = label_inputs(paths)
    wanted = columns(label=labels is not None, passwd=passwd is not None, group=group is not None)
    stream = iter_trails(
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
    yield from map(convert, stream)

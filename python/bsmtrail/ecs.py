"""Records as Elastic Common Schema documents (ECS :data:`ECS_VERSION`), following
auditbeat's conventions for audit data, so that Elasticsearch/OpenSearch and Kibana's
audit views read BSM trails as they read Linux audit.

Each record of the records view becomes one document. What kind of action an event is
comes from the same mapping table as OCSF (``bsmtrail/data/ocsf_map``): its class and
activity give ``event.category`` and ``event.type`` (:data:`CATEGORIZATION`); the event's
name is ``event.action`` and its number ``event.code``.

Identity is kept apart as BSM keeps it, as auditbeat does for Linux audit: ``user.id`` is
the real uid, ``user.effective.id`` the effective uid, ``user.audit.id`` the audit user
(auid, which survives su and sudo; auditbeat's field, not ECS's), each group beside its
user. ``log.file.path`` (the trail) and ``bsm.offset`` lead back to the record's bytes;
what ECS has no field for is under ``bsm`` (:data:`CUSTOM_FIELDS` lists every field this
module writes that ECS does not define). docs/ecs.md gives the fields, their sources and
every choice made where BSM and ECS do not line up.

Built column by column with Arrow compute (no row loop): :func:`from_records` shapes one
records-view batch, ``Converter().stream(paths)`` streams trails, and ``bsmtrail convert
--format ecs`` writes JSON lines (null members left out)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _native
from .arrays import format_distinct, iso_times, nth, text
from .derive import RECORD_COLUMNS, Batch, native_tables
from .derive import Converter as _Shapes

if TYPE_CHECKING:
    from .events import EventDatabase
    from .ocsf_map import Mapping

__all__ = [
    "CATEGORIZATION",
    "COLUMNS",
    "CUSTOM_FIELDS",
    "ECS_VERSION",
    "Converter",
    "from_records",
]

#: The ECS release the documents follow (``ecs.version``).
ECS_VERSION = "8.7.0"

#: (OCSF class_uid, activity_id) -> (``event.category``, ``event.type``), ECS's allowed
#: values in the combinations ECS expects. A Base Event (class 0) has no categorization.
CATEGORIZATION: dict[tuple[int, int], tuple[tuple[str, ...], tuple[str, ...]]] = {
    # Process Activity: Launch, Terminate, Open, Inject, Set User ID, Other.
    (1007, 1): (("process",), ("start",)),
    (1007, 2): (("process",), ("end",)),
    (1007, 3): (("process",), ("access",)),
    (1007, 4): (("process",), ("change",)),
    (1007, 5): (("process",), ("change",)),
    (1007, 99): (("process",), ("info",)),
    # File System Activity.
    (1001, 1): (("file",), ("creation",)),
    # ECS 8.7 expects change, creation, deletion or info of a file: a read or an open
    # is info (later releases add access).
    (1001, 2): (("file",), ("info",)),
    (1001, 3): (("file",), ("change",)),
    (1001, 4): (("file",), ("deletion",)),
    (1001, 5): (("file",), ("change",)),
    (1001, 6): (("file",), ("change",)),
    (1001, 7): (("file",), ("change",)),
    (1001, 8): (("file",), ("info",)),
    (1001, 9): (("file",), ("info",)),
    (1001, 10): (("file",), ("change",)),
    (1001, 11): (("file",), ("change",)),
    (1001, 12): (("file",), ("change",)),
    (1001, 13): (("file",), ("change",)),
    (1001, 14): (("file",), ("info",)),
    (1001, 99): (("file",), ("info",)),
    # Authentication: a logon starts a session, a logoff ends it; su and sudo
    # authenticate to another account.
    (3002, 1): (("authentication", "session"), ("start",)),
    (3002, 2): (("authentication", "session"), ("end",)),
    (3002, 7): (("authentication",), ("start",)),
    (3002, 99): (("authentication",), ("info",)),
    # Network Activity: Open, Close, Reset, Fail, Refuse, Traffic, Listen, Other.
    (4001, 1): (("network",), ("connection", "start")),
    (4001, 2): (("network",), ("connection", "end")),
    (4001, 3): (("network",), ("connection", "end")),
    (4001, 4): (("network",), ("connection", "info")),
    (4001, 5): (("network",), ("connection", "denied")),
    (4001, 6): (("network",), ("connection", "protocol")),
    (4001, 7): (("network",), ("start",)),
    (4001, 99): (("network",), ("info",)),
}

#: The records-view columns a document is built from.
COLUMNS = list(RECORD_COLUMNS)

#: Every field written that ECS does not define: auditbeat's audit user, and BSM's own
#: facts under ``bsm``.
CUSTOM_FIELDS = frozenset(
    {
        "user.audit.id",
        "user.audit.name",
        "bsm.offset",
        "bsm.size",
        "bsm.header_type",
        "bsm.version",
        "bsm.modifier",
        "bsm.time_invalid",
        "bsm.subject_type",
        "bsm.auid_unset",
        "bsm.session_id",
        "bsm.terminal.port",
        "bsm.terminal.address",
        "bsm.return.status",
        "bsm.return.value",
        "bsm.target.pid",
        "bsm.paths",
        "bsm.texts",
        "bsm.zone",
        "bsm.identity.signer_type",
        "bsm.identity.cdhash",
    }
)

#: File type (the attr token mode's S_IFMT bits) -> ``file.type`` (ECS: file, dir,
#: symlink; other kinds of file are left without a type).
_FILE_TYPES = {0o100000: "file", 0o040000: "dir", 0o120000: "symlink"}
_LINKS = ("AUE_LINK", "AUE_LINKAT", "AUE_SYMLINK", "AUE_SYMLINKAT")


def from_records(
    batch: Any,
    *,
    mapping: Mapping | None = None,
    db: EventDatabase | None = None,
    tables: tuple[Any, Any] | None = None,
    native: _native.OcsfTables | None = None,
) -> Any:
    """One records-view batch (with :data:`COLUMNS`; ``label`` and the ``*_name``
    columns are used when present) as a batch of ECS documents, row for row: one struct
    column per top-level field, which a JSON writer nests as ECS's objects. ``native``
    (:func:`bsmtrail.derive.native_tables`, made from ``tables`` when not given) is what
    the facts the shapes share are computed from."""
    from .events import load_events  # the event tables: only when documents are built

    db = db if db is not None else load_events(None)
    b = Batch(batch, native if native is not None else native_tables(db, tables, mapping), db)
    pa, pc = b.pa, b.pc
    cols: dict[str, Any] = {
        # Required: the epoch for a record whose time is not one (bsm.time_invalid).
        "@timestamp": iso_times(pc.fill_null(b.millis, 0), "Z"),
        "ecs": b.struct({"version": b.const(ECS_VERSION, pa.string())}, valid=b.always()),
        "event": _event(b),
        "process": _process(b),
        "user": _user(b),
        "host": _host(b),
        "file": _file(b),
    }
    cols |= _endpoints(b)
    cols["error"] = b.struct({"code": b.errno})
    cols["log"] = b.struct(
        {"file": b.struct({"path": b.col("source")}, valid=b.always())}, valid=b.always()
    )
    cols["bsm"] = _bsm(b)
    return pa.RecordBatch.from_arrays(list(cols.values()), names=list(cols))


def _lists(b: Batch, keys: Any, values: dict[int, tuple[str, ...]]) -> Any:
    """The list of words of each key (null for a key ``values`` lacks)."""
    pa, pc = b.pa, b.pc
    index = pc.index_in(keys, value_set=pa.array(list(values), keys.type))
    table = pa.array([list(v) for v in values.values()], pa.list_(pa.string()))
    return table.take(index)


def _event(b: Batch) -> Any:
    pa, pc = b.pa, b.pc
    keys = pc.add(pc.multiply(pc.cast(b.class_uid, pa.int64()), 1000), b.activity)
    category = _lists(b, keys, {c * 1000 + a: v[0] for (c, a), v in CATEGORIZATION.items()})
    kind = _lists(b, keys, {c * 1000 + a: v[1] for (c, a), v in CATEGORIZATION.items()})
    return b.struct(
        {
            "kind": b.const("event", pa.string()),
            "category": category,
            "type": kind,
            "action": b.event_name,
            "code": b.uid_text(b.col("event")),
            "outcome": b.lookup(b.outcome, {0: "unknown", 1: "success", 2: "failure"}),
            "sequence": pc.cast(b.col("seq"), pa.int64()),
        },
        valid=b.always(),
    )


def _process(b: Batch) -> Any:
    """The process the record is about: the subject's, except that a fork or
    posix_spawn is about the child it made (its pid the call's return value), whose
    parent is the subject. An exec's image, arguments and command line; Apple's signing
    identity."""
    pa, pc = b.pa, b.pc
    subject_pid = pc.cast(b.col("pid"), pa.int64())
    child = b.child_pid
    execs = b.execs
    executable = b.where(execs, nth(b.col("paths")))
    name = b.where(execs, b.path_name)
    args = pc.cast(b.col("exec_args"), pa.list_(pa.string()))
    identity = b.col("identity")
    signed = pc.is_valid(identity)
    return b.struct(
        {
            "pid": pc.coalesce(child, subject_pid),
            "parent": b.struct({"pid": subject_pid}, valid=pc.is_valid(child)),
            "executable": executable,
            "name": name,
            "args": b.where(execs, args),
            "args_count": b.where(execs, pc.cast(pc.list_value_length(args), pa.int64())),
            "command_line": b.where(execs, b.command_line),
            "code_signature": b.struct(
                {
                    "exists": b.where(signed, b.always()),
                    "signing_id": pc.struct_field(identity, "signing_id"),
                    "team_id": pc.struct_field(identity, "team_id"),
                },
                valid=signed,
            ),
        }
    )


def _user(b: Batch) -> Any:
    """auditbeat's users: the real one at ``user``, the effective one at
    ``user.effective``, the audit user at ``user.audit``, each with its group."""

    def one(ids: str, names: str, group: Any = None) -> Any:
        return b.struct({"id": b.uid_text(b.col(ids)), "name": b.name_of(names), "group": group})

    return b.struct(
        {
            "id": b.uid_text(b.col("ruid")),
            "name": b.name_of("ruid_name"),
            "group": one("rgid", "rgid_name"),
            "effective": one("euid", "euid_name", one("egid", "egid_name")),
            "audit": one("auid", "auid_name"),
        }
    )


def _host(b: Batch) -> Any:
    """The machine: its input label (``--label``) as ``host.name``, the ``_ex`` header's
    address in ``host.ip`` (ECS: a list)."""
    pa, pc, np = b.pa, b.pc, b.np
    addr = b.col("host")
    valid = pc.is_valid(addr)
    counts = valid.to_numpy(zero_copy_only=False).astype("int32")
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype("int32"))
    ips = pa.ListArray.from_arrays(offsets, addr.drop_null(), mask=pc.invert(valid))
    return b.struct({"name": b.name_of("label"), "ip": ips})


def _file(b: Batch) -> Any:
    """The first path and the first attr token; a link's second path is its target."""
    pa, pc = b.pa, b.pc
    paths = b.col("paths")
    path = nth(paths)
    directory = pc.replace_substring_regex(path, pattern=r"/[^/]*$", replacement="")
    directory = pc.if_else(pc.equal(directory, ""), pa.scalar("/"), directory)
    attr = nth(b.col("attrs"))
    mode = pc.struct_field(attr, "mode")
    fmt = pc.bit_wise_and(mode, pa.scalar(0o170000, mode.type))
    return b.struct(
        {
            "path": path,
            "name": b.path_name,
            "directory": b.where(pc.match_substring(path, "/"), directory),
            "target_path": b.where(b.event_is(_LINKS), nth(paths, 1)),
            "type": b.lookup(fmt, _FILE_TYPES),
            # Permission bits as ECS's octal text (``0644``).
            "mode": format_distinct(
                pc.bit_wise_and(mode, pa.scalar(0o7777, mode.type)), lambda m: f"{m:04o}"
            ),
            "uid": b.uid_text(pc.struct_field(attr, "uid")),
            "gid": b.uid_text(pc.struct_field(attr, "gid")),
            "inode": b.uid_text(pc.struct_field(attr, "nodeid")),
            "device": b.uid_text(pc.struct_field(attr, "device")),
        },
        valid=pc.is_valid(path),
    )


def _endpoints(b: Batch) -> dict[str, Any]:
    """``source`` and ``destination``: the first socket token's ends
    (:attr:`bsmtrail.derive.Batch.socket_ends`), on any record that has one; for an
    authentication from a remote terminal, the terminal's address is the source."""
    pa, pc = b.pa, b.pc
    remote = pc.fill_null(pc.and_kleene(b.is_class(3002), b.remote), False)
    src_ip, src_port, dst_ip, dst_port = b.socket_ends
    return {
        "source": b.struct(
            {
                "ip": pc.if_else(remote, b.col("tid_addr"), src_ip),
                "port": pc.cast(b.where(pc.invert(remote), src_port), pa.int64()),
            }
        ),
        "destination": b.struct({"ip": dst_ip, "port": pc.cast(dst_port, pa.int64())}),
    }


def _bsm(b: Batch) -> Any:
    """What ECS has no field for: the record's place and header, the subject's session
    and terminal, the return token as BSM wrote it, every path and text, a kill's
    target."""
    pc = b.pc
    auid = b.col("auid")
    identity = b.col("identity")
    cdhash = pc.struct_field(identity, "cdhash")
    addr = b.col("tid_addr")
    return b.struct(
        {
            "offset": b.col("record_offset"),
            "size": b.col("size"),
            "header_type": text(b.col("header_type")),
            "version": b.col("version"),
            "modifier": b.col("modifier"),
            "time_invalid": b.where(pc.is_null(b.millis), b.always()),
            "subject_type": text(b.col("subject_type")),
            "auid_unset": b.where(
                pc.and_kleene(pc.is_null(auid), pc.is_valid(b.col("euid"))), b.always()
            ),
            "session_id": b.col("sid"),
            "terminal": b.struct(
                {"port": b.where(pc.is_valid(addr), b.col("tid_port")), "address": addr}
            ),
            "return": b.struct({"status": b.col("return_status"), "value": b.col("return_value")}),
            "target": b.struct({"pid": b.target_pid}),
            "paths": b.non_empty(b.col("paths")),
            "texts": b.non_empty(b.col("texts")),
            "zone": b.col("zone"),
            "identity": b.struct(
                {
                    "signer_type": pc.struct_field(identity, "signer_type"),
                    "cdhash": format_distinct(cdhash, bytes.hex),
                },
                valid=pc.is_valid(identity),
            ),
        },
        valid=b.always(),
    )


class Converter(_Shapes):
    """Records-view batches to ECS document batches, with one event database and mapping
    table (built once: call it on each batch)."""

    COLUMNS = tuple(COLUMNS)

    def shape(self, batch: Any) -> Any:
        return from_records(batch, db=self.db, tables=self.tables, native=self.native)

"""Who did what: audit sessions and process lifetimes as tables.

:func:`sessions` gives one row per audit session (host, ``asid``, ``auid``: what
setaudit_addr(2) set at login and every descendant inherits, the auid surviving su and
sudo) with its span, login and logout records, terminal, counts, commands and the ids
seen; records whose audit id is unset form their own row per asid. :func:`processes`
gives one row per process lifetime (host, ``pid``, ``start`` to ``end``): its parent
from the fork/vfork/posix_spawn record that returned its pid, every image it executed
in order, its exit, and counts of its file, network and failing records. A pid that
exits and reappears is a new process; one a fork hands out again while it still looked
alive ended unaudited (``end_reason`` ``reused``). Rows still open at the end of the
input say so (``open``). ``id``/``parent_id`` link processes unambiguously, pid reuse or
not; :func:`tree_lines` draws them.

Both are built in Rust (``_native.Lineage``) in one pass over the records view, merged
in time across inputs by default; memory holds the open sessions and processes and the
rows made. Which events fork, spawn, exec, exit, log in or out, or touch files or the
network comes from the event database (:func:`event_kinds`)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from . import _native
from .arrow import (
    MERGE_WINDOW_MS,
    InputsArg,
    Order,
    iter_trails,
    label_inputs,
    names_option,
    warn_late,
    warn_undecided,
)
from .errors import BSMWarning
from .lazy import module
from .types import EventsOption, Mode
from .userdb import NamesArg

if TYPE_CHECKING:
    from .events import EventDatabase

__all__ = ["command_line", "event_kinds", "lineage", "processes", "sessions", "tree_lines"]

#: Events that create a process whose pid is the return value, by name.
FORK_EVENTS = ("AUE_FORK", "AUE_VFORK", "AUE_RFORK", "AUE_PDFORK", "AUE_FORK1")
#: Events that create a process and execute an image in it.
SPAWN_EVENTS = ("AUE_POSIX_SPAWN",)
#: Events that replace the calling process's image.
EXEC_EVENTS = ("AUE_EXECVE", "AUE_EXEC", "AUE_FEXECVE", "AUE_MAC_EXECVE")
EXIT_EVENTS = ("AUE_EXIT",)
#: Classes whose events touch files or the network.
FILE_CLASSES = ("fr", "fw", "fc", "fd", "fm", "fa")
NETWORK_CLASSES = ("nt",)


def event_kinds(db: EventDatabase) -> list[tuple[int, int]]:
    """(event number, ``_native.Lineage`` flags) for ``db``: forks, spawns, execs and
    exits by name; logins are the login/logout class (``lo``) and ``AUE_sudo``, logouts
    the ``lo`` events named ``*logout*``; file and network events by class."""
    L = _native.Lineage
    named = {
        **dict.fromkeys(FORK_EVENTS, L.FORK),
        **dict.fromkeys(SPAWN_EVENTS, L.SPAWN),
        **dict.fromkeys(EXEC_EVENTS, L.EXEC),
        **dict.fromkeys(EXIT_EVENTS, L.EXIT),
    }
    out = []
    for number, entry in db.events.by_number.items():
        flags = named.get(entry.name, 0)
        classes = set(entry.classes)
        if "lo" in classes:
            flags |= L.LOGOUT if "logout" in entry.name.lower() else L.LOGIN
        if entry.name == "AUE_sudo":
            flags |= L.LOGIN
        if classes & set(FILE_CLASSES):
            flags |= L.FILE
        if classes & set(NETWORK_CLASSES):
            flags |= L.NETWORK
        if flags:
            out.append((number, flags))
    return out


def lineage(
    paths: InputsArg,
    mode: Mode = "recover",
    *,
    sessions: bool = True,
    processes: bool = True,
    where: _native.Selection | None = None,
    events: EventsOption = None,
    passwd: NamesArg = None,
    group: NamesArg = None,
    order: Order = "time",
    window_ms: int = MERGE_WINDOW_MS,
    threads: int | None = None,
    first_commands: int = 10,
) -> tuple[Any, Any]:
    """Both views in one pass: ``(sessions, processes)`` as ``pyarrow.Table`` (None for
    a view not asked for). Inputs and options as :func:`~bsmtrail.arrow.read_trails`;
    ``order="time"`` (the default) merges the inputs into one timeline, which a process
    crossing a rotation needs."""
    from .events import load_events  # the event tables: only when a view is built

    pa = module("pyarrow")
    db = load_events(None if events is False else events)
    native = _native.Lineage(
        event_kinds(db), sessions=sessions, processes=processes, first_commands=first_commands
    )
    _, labels = label_inputs(paths)
    columns = list(_native.Lineage.COLUMNS) + (["label"] if labels is not None else [])
    stream = iter_trails(
        paths,
        columns,
        mode,
        threads=threads,
        events=False,
        where=where,
        order=order,
        window_ms=window_ms,
    )
    for batch in stream:
        native.add(batch)
    reports = stream.report()
    warn_undecided(reports, stacklevel=3)
    warn_late(reports, stacklevel=3)
    _warn_damage(reports)
    names = names_option(passwd, group)
    out: list[Any] = []
    for batch in (native.sessions(), native.processes()):
        if batch is None:
            out.append(None)
            continue
        table = pa.Table.from_batches([batch])
        out.append(_named(table, db, names))
    return out[0], out[1]


def _warn_damage(reports: Sequence[_native.InputReport]) -> None:
    """Views counted around damage say so: a skipped region's records are in no row."""
    for r in reports:
        lost, failing = r.damage, r.failing
        if lost.count or failing.count:
            warnings.warn(
                f"{r.name}: {lost.count} damaged region(s) ({lost.bytes} bytes) skipped and "
                f"{failing.count} record(s) failing validation: the views count the intact "
                "records only (bsmtrail verify says where)",
                BSMWarning,
                stacklevel=4,
            )


def _named(table: Any, db: EventDatabase, names: Any) -> Any:
    """``table`` with the event names of its event columns and, with passwd, the audit
    user's name, each right after its column."""
    for col in ("login_event", "logout_event"):
        if col in table.column_names:
            at = table.column_names.index(col) + 1
            name = db.arrow_columns(table.column(col), ("name",))["name"]
            table = table.add_column(at, f"{col}_name", name)
    if names is not None and "auid_name" in names.columns:
        at = table.column_names.index("auid") + 1
        table = table.add_column(at, "auid_name", names.column("auid_name", table.column("auid")))
    return table


def sessions(paths: InputsArg, mode: Mode = "recover", **options: Any) -> Any:
    """The sessions view of ``paths`` as a ``pyarrow.Table`` (see the module; options as
    :func:`lineage`)."""
    return lineage(paths, mode, sessions=True, processes=False, **options)[0]


def processes(paths: InputsArg, mode: Mode = "recover", **options: Any) -> Any:
    """The processes view of ``paths`` as a ``pyarrow.Table`` (see the module; options as
    :func:`lineage`)."""
    return lineage(paths, mode, sessions=False, processes=True, **options)[1]


def command_line(execs: Sequence[dict[str, Any]]) -> str:
    """A process's ``execs`` as one line: each image's arguments (else its path, else
    ``?``), ``=>`` between successive images; ``?`` when it executed nothing."""
    if not execs:
        return "?"
    images = []
    for e in execs:
        args = e.get("args") or []
        images.append(" ".join(args) if args else (e.get("path") or "?"))
    return " => ".join(images)


def tree_lines(
    table: Any, *, asid: int | None = None, host: str | None = None, width: int = 0
) -> Iterator[str]:
    """The processes view drawn as trees, like ``pstree``: each process under the one
    that forked it, with its pid, what it executed (``=>`` between successive images),
    its audit user and effective uid, and how it ended. ``asid``/``host`` keep the
    processes of one session (their ancestors outside it are not drawn: each kept
    process whose parent is not kept is a root). ``width`` > 0 cuts lines to it."""
    rows = [
        r
        for r in table.to_pylist()
        if (asid is None or r["asid"] == asid) and (host is None or r["host"] == host)
    ]
    kept = {r["id"] for r in rows}
    children: dict[int | None, list[dict[str, Any]]] = {}
    for r in rows:
        parent = r["parent_id"] if r["parent_id"] in kept else None
        children.setdefault(parent, []).append(r)

    def label(r: dict[str, Any]) -> str:
        who = "auid -" if r["auid"] is None else f"auid {r['auid']}"
        if r["open"]:
            end = "open"
        elif r["end_reason"] == "exit":
            end = f"exit {r['exit_status']}" if r["exit_status"] is not None else "exit"
        else:
            end = str(r["end_reason"])
        return f"{r['pid']} {command_line(r['execs'])} [{who} euid {r['euid']}, {end}]"

    def walk(r: dict[str, Any], prefix: str, last: bool, root: bool) -> Iterator[str]:
        line = label(r) if root else f"{prefix}{'`-- ' if last else '|-- '}{label(r)}"
        yield line[:width] if width > 0 else line
        kids = children.get(r["id"], [])
        inner = "" if root else prefix + ("    " if last else "|   ")
        for i, k in enumerate(kids):
            yield from walk(k, inner, i == len(kids) - 1, False)

    for r in children.get(None, []):
        yield from walk(r, "", True, True)

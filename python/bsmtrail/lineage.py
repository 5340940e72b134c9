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
in time across inputs by default. Memory holds the open processes, the sessions and the
rows made; :func:`iter_processes` hands the processes' rows out as they are made, so
writing that view holds only the open processes. Which events fork, spawn, exec, exit,
log in or out, or touch files or the network comes from the event database
(:func:`event_kinds`)."""

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

__all__ = [
    "command_line",
    "event_kinds",
    "iter_processes",
    "lineage",
    "processes",
    "sessions",
    "tree_lines",
]

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


class _Pass:
    """One pass over the inputs building the views asked for: :meth:`batches` reads the
    input and yields the processes view's batches as processes end (none without that
    view); then :attr:`sessions` holds the sessions view."""

    def __init__(
        self,
        paths: InputsArg,
        mode: Mode,
        *,
        sessions: bool,
        processes: bool,
        where: _native.Selection | None = None,
        events: EventsOption = None,
        passwd: NamesArg = None,
        group: NamesArg = None,
        order: Order = "time",
        window_ms: int = MERGE_WINDOW_MS,
        threads: int | None = None,
        first_commands: int = 10,
        batch_rows: int = 65536,
    ) -> None:
        from .events import load_events  # the event tables: only when a view is built

        self.db = load_events(None if events is False else events)
        self.names = names_option(passwd, group)
        self.native = _native.Lineage(
            event_kinds(self.db),
            sessions=sessions,
            processes=processes,
            first_commands=first_commands,
            batch_rows=batch_rows,
        )
        _, labels = label_inputs(paths)
        columns = list(_native.Lineage.COLUMNS) + (["label"] if labels is not None else [])
        self.stream = iter_trails(
            paths,
            columns,
            mode,
            threads=threads,
            events=False,
            where=where,
            order=order,
            window_ms=window_ms,
            # Decoding runs ahead on a thread of its own while the views take a batch.
            prefetch=PREFETCH,
        )
        self.sessions: Any = None

    def batches(self) -> Iterator[Any]:
        native = self.native
        for batch in self.stream:
            native.add(batch)
            for done in native.take_processes():
                yield self._named(done)
        reports = self.stream.report()
        warn_undecided(reports, stacklevel=4)
        warn_late(reports, stacklevel=4)
        _warn_damage(reports)
        for done in native.processes() or []:
            yield self._named(done)
        sessions = native.sessions()
        if sessions is not None:
            self.sessions = module("pyarrow").Table.from_batches([self._named(sessions)])

    def _named(self, batch: Any) -> Any:
        """``batch`` with the event names of its event columns and, with passwd, the
        audit user's name, each right after its column."""
        for col in ("login_event", "logout_event"):
            if col in batch.schema.names:
                name = self.db.arrow_columns(batch.column(col), ("name",))["name"]
                batch = _insert_after(batch, col, f"{col}_name", name)
        if self.names is not None and "auid_name" in self.names.columns:
            name = self.names.column("auid_name", batch.column("auid"))
            batch = _insert_after(batch, "auid", "auid_name", name)
        return batch


#: Batches decoded ahead of the views (a batch of the 14 columns is a few MB).
PREFETCH = 4


def _insert_after(batch: Any, after: str, name: str, array: Any) -> Any:
    """``batch`` with ``array`` as column ``name`` right after ``after`` (the other
    fields as they were, nullability included)."""
    pa = module("pyarrow")
    at = batch.schema.get_field_index(after) + 1
    schema = batch.schema.insert(at, pa.field(name, array.type))
    arrays = list(batch.columns)
    arrays.insert(at, array)
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


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
    batch_rows: int = 65536,
) -> tuple[Any, Any]:
    """Both views in one pass: ``(sessions, processes)`` as ``pyarrow.Table`` (None for
    a view not asked for). Inputs and options as :func:`~bsmtrail.arrow.read_trails`;
    ``order="time"`` (the default) merges the inputs into one timeline, which a process
    crossing a rotation needs. Process rows come in the order the processes ended, those
    still open at the end last, in order of appearance (sort by ``id`` for the order of
    appearance); ``batch_rows`` processes make a record batch."""
    run = _Pass(
        paths,
        mode,
        sessions=sessions,
        processes=processes,
        where=where,
        events=events,
        passwd=passwd,
        group=group,
        order=order,
        window_ms=window_ms,
        threads=threads,
        first_commands=first_commands,
        batch_rows=batch_rows,
    )
    batches = list(run.batches())
    table = module("pyarrow").Table.from_batches(batches) if processes else None
    return run.sessions, table


def iter_processes(paths: InputsArg, mode: Mode = "recover", **options: Any) -> Iterator[Any]:
    """The processes view of ``paths`` as ``pyarrow.RecordBatch``es made while the input
    is read, for writing a view larger than memory: each batch holds processes that
    ended, in the order they ended; the processes still open at the end come last, in
    order of appearance. At least one batch (maybe empty, for the schema). Memory holds
    the open processes and one batch. Options as :func:`lineage`."""
    yield from _Pass(
        paths,
        mode,
        **{**options, "sessions": False, "processes": True},
    ).batches()


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
    rows = sorted(
        (
            r
            for r in table.to_pylist()
            if (asid is None or r["asid"] == asid) and (host is None or r["host"] == host)
        ),
        key=lambda r: r["id"],  # children in the order they appeared
    )
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

"""Selecting records the way OpenBSM ``auditreduce`` does, in the Rust reader.

:func:`selection` turns criteria into a compiled :class:`Selection`: user and group names
are resolved (from the trail machine's passwd/group files when given), dates are read in
the local time zone, class flags and event names go through the event database. Every
criterion applies to every header, subject, process and return variant (64-bit, ``_ex``);
``variants="auditreduce"`` reproduces auditreduce's 32-bit-only view exactly.

Bad criteria raise :class:`SelectionError` naming the auditreduce option.

>>> from bsmtrail.select import selection, reduce
>>> sel = selection(auid="alice", classes="lo", passwd="evidence/etc/passwd")  # doctest: +SKIP
>>> reduce("trail.bsm", sel, "logins.bsm")                                    # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Literal

from . import _native
from ._native import Selection
from .errors import BSMError
from .outputs import atomic_file, check_output
from .sources import materialize
from .tally import Bounded, DamageLog
from .userdb import IdNames, read_group, read_passwd

if TYPE_CHECKING:
    from .events import EventDatabase
    from .types import EventsArg, Mode

__all__ = [
    "ReduceResult",
    "Selection",
    "SelectionError",
    "parse_auditreduce_args",
    "reduce",
    "selection",
]

Variants = Literal["all", "auditreduce"]
TimeArg = str | dt.datetime | int | float | None
IdArg = str | int | None


class SelectionError(ValueError):
    """A criterion that cannot be used; ``option`` is the auditreduce option (``-u``)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


_DATE = re.compile(r"^(\d{4})(\d{2})(\d{2})(?:(\d{2})(?:(\d{2})(\d{2})?)?)?$")


def parse_time(value: TimeArg, option: str) -> int | None:
    """``YYYYMMDD[HH[MM[SS]]]`` in local time (as auditreduce's ``strptime``+``mktime``
    with ``tm_isdst = 0``), an aware or naive ``datetime``, or epoch seconds."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    m = _DATE.match(value)
    if not m:
        raise SelectionError(option, f"malformed date {value!r} (YYYYMMDD[HH[MM[SS]]])")
    y, mo, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    try:
        dt.datetime(y, mo, d, h, mi, s)  # range check (month 13, hour 25, ...)
        return int(time.mktime((y, mo, d, h, mi, s, 0, 0, 0)))
    except (ValueError, OverflowError) as e:
        raise SelectionError(option, f"invalid date {value!r}: {e}") from None


def _strtol_int(text: str) -> int | None:
    """The value auditreduce's ``strtol(optarg, &end, 10)`` accepts when ``*end == 0``."""
    t = text.strip(" \t\n\v\f\r") if text[:1].isspace() else text
    if re.fullmatch(r"[+-]?\d+", t):
        return int(t)
    return None


def _resolve_id(value: IdArg, table: IdNames | None, kind: str, option: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value & 0xFFFFFFFF
    n = _strtol_int(value)
    if n is not None:
        return n & 0xFFFFFFFF
    if table is None:
        # This machine's users are not the trail's: a name means nothing without the
        # evidence's own file.
        needs = "passwd" if kind == "user" else "group"
        raise SelectionError(
            option,
            f"{kind} name {value!r} needs the evidence machine's {needs} file "
            f"(--{needs} FILE, or {needs}= in the API); or give the number",
        )
    want = os.fsencode(value)
    for num, name in table:
        if name == want:
            return num
    raise SelectionError(option, f"unknown {kind} {value!r}")


def _events_table(db: EventDatabase) -> list[tuple[int, int]]:
    return sorted(db.events.preselect_masks.items())


def _event_number(value: int | str, db: EventDatabase) -> int:
    if isinstance(value, int):
        return value & 0xFFFF
    n = _strtol_int(value)
    if n is not None and n != 0:
        return n & 0xFFFF
    try:
        return db.number(value)
    except KeyError:
        raise SelectionError("-m", f"unknown event {value!r}") from None


def selection(
    *,
    after: TimeArg = None,
    before: TimeArg = None,
    day: str | dt.date | None = None,
    all: bool = False,
    classes: str | None = None,
    events: Iterable[int | str] | None = None,
    euid: IdArg = None,
    egid: IdArg = None,
    rgid: IdArg = None,
    ruid: IdArg = None,
    auid: IdArg = None,
    pid: int | None = None,
    object_pid: int | None = None,
    msgqid: int | None = None,
    semid: int | None = None,
    shmid: int | None = None,
    files: str | None = None,
    zone: str | bytes | None = None,
    invert: bool = False,
    variants: Variants = "all",
    event_db: EventsArg = None,
    passwd: str | os.PathLike[str] | None = None,
    group: str | os.PathLike[str] | None = None,
) -> Selection:
    """Compile auditreduce criteria (option letters in brackets).

    after [-a], before [-b], day [-d]: time bounds; all [-A] overrides them. classes [-c]:
    class flags (``lo,+ex,-fr``), success/failure aware. events [-m]: numbers or AUE names.
    euid [-e], egid [-f], rgid [-g], ruid [-r], auid [-u]: numbers or names; names are
    looked up only in the evidence's ``passwd``/``group`` files (never this machine's), so
    a name without its file is a :class:`SelectionError`. pid [-j]: the subject's pid.
    object_pid, msgqid, semid, shmid [-o pid=/msgqid=/semid=/shmid=]. files [-o file=]:
    comma-separated extended regular expressions, ``~`` excludes, first match wins,
    ``\\,`` escapes a comma. zone [-z]: fnmatch pattern. invert [-v].
    """
    from .events import AuditFlagsError, load_events

    if day is not None:
        if after is not None or before is not None:
            raise SelectionError("-d", "'d' is exclusive with 'a' and 'b'")
        text = day.strftime("%Y%m%d") if isinstance(day, dt.date) else day
        if not re.fullmatch(r"\d{8}", text):
            raise SelectionError("-d", f"malformed date {text!r} (YYYYMMDD)")
        after, before = text, text + "235959"
    db: EventDatabase | None = None

    def get_db() -> EventDatabase:
        nonlocal db
        if db is None:
            db = load_events(event_db)
        return db

    class_mask = None
    event_classes = None
    if classes is not None:
        try:
            m = get_db().parse_flags(classes)
        except AuditFlagsError as e:
            raise SelectionError("-c", f"incorrect class flags {classes!r}: {e}") from None
        class_mask = (m.success, m.failure)
        event_classes = _events_table(get_db())
    event_list = None
    if events is not None:
        event_list = [_event_number(e, get_db()) for e in events]
        if not event_list:
            raise SelectionError("-m", "no events given")
    users = read_passwd(passwd) if passwd is not None else None
    groups = read_group(group) if group is not None else None
    zone_b = os.fsencode(zone) if isinstance(zone, str) else zone
    try:
        return Selection(
            variants=variants,
            all=all,
            after=parse_time(after, "-a"),
            before=parse_time(before, "-b"),
            class_mask=class_mask,
            event_classes=event_classes,
            events=event_list,
            euid=_resolve_id(euid, users, "user", "-e"),
            egid=_resolve_id(egid, groups, "group", "-f"),
            rgid=_resolve_id(rgid, groups, "group", "-g"),
            ruid=_resolve_id(ruid, users, "user", "-r"),
            auid=_resolve_id(auid, users, "user", "-u"),
            subject_pid=None if pid is None else pid & 0xFFFFFFFF,
            object_pid=None if object_pid is None else object_pid & 0xFFFFFFFF,
            msgqid=None if msgqid is None else msgqid & 0xFFFFFFFF,
            semid=None if semid is None else semid & 0xFFFFFFFF,
            shmid=None if shmid is None else shmid & 0xFFFFFFFF,
            files=files,
            zone=zone_b,
            invert=invert,
        )
    except ValueError as e:
        if isinstance(e, SelectionError):
            raise
        option = "-o file" if "-o file" in str(e) else "selection"
        raise SelectionError(option, str(e).removeprefix("-o file: ")) from None


@dataclass
class Criteria:
    """auditreduce's command line, parsed (see :func:`parse_auditreduce_args`)."""

    options: dict[str, object] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def _int_option(value: str, option: str) -> int:
    n = _strtol_int(value)
    if n is None:
        raise SelectionError(option, f"not a number: {value!r}")
    return n


def parse_auditreduce_args(argv: Sequence[str]) -> Criteria:
    """Parse auditreduce's options (``-Aa:b:c:d:e:f:g:j:m:o:r:u:vz:``) into keyword
    arguments for :func:`selection`, plus file operands."""
    import getopt

    try:
        opts, files = getopt.getopt(list(argv), "Aa:b:c:d:e:f:g:j:m:o:r:u:vz:")
    except getopt.GetoptError as e:
        raise SelectionError(f"-{e.opt}" if e.opt else "usage", e.msg) from None
    c = Criteria(files=files)
    o = c.options
    simple = {"-e": "euid", "-f": "egid", "-g": "rgid", "-r": "ruid", "-u": "auid"}
    for opt, val in opts:
        if opt == "-A":
            o["all"] = True
        elif opt in ("-a", "-b"):
            key = "after" if opt == "-a" else "before"
            if key in o or "day" in o:
                raise SelectionError(opt, "d is exclusive with a and b")
            o[key] = val
        elif opt == "-d":
            if "after" in o or "before" in o:
                raise SelectionError("-d", "'d' is exclusive with 'a' and 'b'")
            o["day"] = val
        elif opt == "-c":
            o["classes"] = val
        elif opt == "-m":
            o.setdefault("events", [])
            o["events"].append(val)  # type: ignore[attr-defined]
        elif opt in simple:
            o[simple[opt]] = val
        elif opt == "-j":
            o["pid"] = _int_option(val, "-j")
        elif opt == "-v":
            o["invert"] = True
        elif opt == "-z":
            o["zone"] = val
        elif opt == "-o":
            name, eq, value = val.partition("=")
            if not eq:
                raise SelectionError("-o", f"expected objecttype=value, not {val!r}")
            if name == "file":
                o["files"] = value
            elif name in ("pid", "msgqid", "semid", "shmid"):
                o["object_pid" if name == "pid" else name] = _int_option(value, f"-o {name}")
            elif name == "sock":
                raise SelectionError(
                    "-o sock", "auditreduce accepts sock= but never matches it; not supported"
                )
            else:
                raise SelectionError("-o", f"unknown object type {name!r}")
    return c


@dataclass(frozen=True)
class ReduceResult:
    """What :func:`reduce` kept: records ``kept`` of ``seen``; ``error`` ended a strict
    read early; ``damage`` counts regions skipped in recover mode; ``undecided`` the
    offsets of records left out because a token bsmtrail cannot decode hides what a
    criterion depends on (reported, never guessed). Both are bounded
    (:mod:`bsmtrail.tally`): the first entries kept, every one counted."""

    kept: int
    seen: int
    error: BSMError | None
    damage: DamageLog
    undecided: Bounded[int] = field(default_factory=Bounded)


def reduce(
    source: str | os.PathLike[str] | bytes,
    sel: Selection,
    out: str | os.PathLike[str] | BinaryIO | None = None,
    *,
    mode: Mode = "strict",
    threads: int | None = None,
) -> ReduceResult:
    """Write the selected records of ``source`` (whole, byte for byte, like auditreduce)
    to ``out``: a path, a binary file object, or None for standard output. A path source
    may be compressed (``bsmtrail.sources``). A path output may not be the source; it is
    written under a temporary name and renamed into place when complete, so an error or
    interrupt leaves any previous file there untouched. ``mode="strict"`` frames as
    auditreduce does and stops at the first framing error (in ``error``);
    ``"recover"`` resynchronises past damage (in ``damage``). Records are judged on
    ``threads`` workers (None: every core) and written in input order: the output is the
    same bytes whatever the thread count."""
    damage = _native.DamageLog()

    def run(data: str | bytes, f: str | BinaryIO) -> ReduceResult:
        # Rust writes the selected spans itself: to a path, or in 1 MiB pieces to `f`.
        kept, seen, err, undecided, n_undecided = _native.reduce(
            data, sel, f, mode=mode, damage=damage, threads=threads or 0
        )
        return ReduceResult(
            kept, seen, err, DamageLog.of(damage), Bounded(tuple(undecided), n_undecided)
        )

    with contextlib.ExitStack() as stack:
        data: str | bytes
        if isinstance(source, (str, os.PathLike)):
            data = stack.enter_context(materialize(source)).path
        else:
            data = source
        if out is None:
            res = run(data, sys.stdout.buffer)
            sys.stdout.buffer.flush()
            return res
        if isinstance(out, (str, os.PathLike)):
            inputs = [source] if isinstance(source, (str, os.PathLike)) else []
            check_output(out, inputs)
            with atomic_file(out) as tmp:
                return run(data, tmp)
        return run(data, out)
    raise AssertionError("unreachable")  # pragma: no cover

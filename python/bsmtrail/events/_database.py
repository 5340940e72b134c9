"""EventDatabase: audit_event plus audit_class, where they come from, and the cache."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import IO, Any, TypeAlias

from ._classes import ClassTable, parse_audit_class
from ._control import (
    AuditControl,
    AuditUsers,
    parse_audit_control,
    parse_audit_user,
    user_mask,
)
from ._events import EventTable, PrauditEntry, parse_audit_event, praudit_entries
from ._masks import format_flags, format_flags_compat, parse_flags
from ._model import (
    PRS_BOTH,
    PRS_FAILURE,
    PRS_SUCCESS,
    AuditClass,
    AuditEvent,
    AuditMask,
    EventDatabaseError,
)
from ._vector import COLUMNS, VectorLookup

#: A file given by the caller: a path, or an open binary file.
Source: TypeAlias = str | os.PathLike[str] | IO[bytes]

SYSTEM_DIR = Path("/etc/security")
DATA_DIR = Path(__file__).resolve().parent.parent / "data"
ENV_EVENT = "BSMTRAIL_AUDIT_EVENT"
ENV_CLASS = "BSMTRAIL_AUDIT_CLASS"
ENV_CONTROL = "BSMTRAIL_AUDIT_CONTROL"
ENV_USER = "BSMTRAIL_AUDIT_USER"
ENV_ETC = "BSMTRAIL_ETC"
EMBEDDED = "<embedded>"


class EventDatabase:
    """OpenBSM's event and class tables, with the lookups bsmtrail needs.

    Build one with :func:`load_events` (cached) or :meth:`from_bytes`. Lookups are
    dictionary reads; the vectorised methods build 65,536-entry tables on first use.
    """

    def __init__(self, events: EventTable, classes: ClassTable) -> None:
        self.events = events
        self.classes = classes
        self._vector: VectorLookup | None = None
        self._praudit: list[PrauditEntry] | None = None
        self._by_class: dict[str, tuple[AuditEvent, ...]] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_bytes(
        cls,
        audit_event: bytes,
        audit_class: bytes,
        *,
        strict: bool = True,
        event_source: str = "audit_event",
        class_source: str = "audit_class",
    ) -> EventDatabase:
        """Parse file contents; ``*_source`` name the files in error messages."""
        classes = parse_audit_class(audit_class, source=class_source, strict=strict)
        events = parse_audit_event(audit_event, classes, source=event_source, strict=strict)
        return cls(events, classes)

    def __repr__(self) -> str:
        return (
            f"<EventDatabase {len(self.events)} events from {self.events.source}, "
            f"{len(self.classes)} classes from {self.classes.source}>"
        )

    @property
    def problems(self) -> tuple[EventDatabaseError, ...]:
        """Lines libbsm skips or stops at (only non-empty for ``strict=False``)."""
        return self.classes.problems + self.events.problems

    # -- events ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.events)

    def __contains__(self, number: object) -> bool:
        return number in self.events.by_number

    def get(self, number: int) -> AuditEvent | None:
        """The event with this number (the first line for it, as in praudit), or ``None``."""
        return self.events.by_number.get(number)

    def __getitem__(self, number: int) -> AuditEvent:
        entry = self.events.by_number.get(number)
        if entry is None:
            raise KeyError(number)
        return entry

    def by_name(self, name: str) -> AuditEvent | None:
        """``getauevnam``: the first event called ``name`` (``AUE_...``)."""
        return self.events.by_name.get(name)

    def number(self, name: str) -> int:
        """``getauevnonam``: the number of event ``name``; ``KeyError`` if unknown."""
        entry = self.events.by_name.get(name)
        if entry is None:
            raise KeyError(name)
        return entry.number

    def name(self, number: int) -> str | None:
        entry = self.events.by_number.get(number)
        return None if entry is None else entry.name

    def description(self, number: int) -> str | None:
        entry = self.events.by_number.get(number)
        return None if entry is None else entry.description

    def praudit_entries(self) -> list[PrauditEntry]:
        """``(number, name, description)`` bytes as praudit's event lookup sees the file.

        In file order with duplicates and praudit's parse quirks (see
        :func:`bsmtrail.events.praudit_entries`); the first entry for a number wins.
        Independent of ``strict``.
        """
        if self._praudit is None:
            self._praudit = praudit_entries(self.events.raw)
        return list(self._praudit)

    # -- classes -----------------------------------------------------------------------

    def class_mask(self, name: str) -> int:
        """The mask of class ``name``; ``KeyError`` if unknown."""
        return self.classes.mask(name)

    def class_for_mask(self, mask: int) -> AuditClass | None:
        """The first class whose mask is exactly ``mask``."""
        return self.classes.by_mask(mask)

    def events_in_class(self, name: str) -> tuple[AuditEvent, ...]:
        """Events whose class mask shares a bit with class ``name`` (``all`` = every
        classified event; ``no``, mask 0, = events with no class bits)."""
        hit = self._by_class.get(name)
        if hit is None:
            mask = self.classes.mask(name)
            entries = self.events.by_number.values()
            if mask == 0:
                hit = tuple(e for e in entries if e.mask == 0)
            else:
                hit = tuple(e for e in entries if e.mask & mask)
            self._by_class[name] = hit
        return hit

    def unknown_classes(self) -> dict[str, tuple[int, ...]]:
        """Class names used in audit_event but missing from audit_class, with the numbers
        of the events using them (such events get class mask 0, as in libbsm; OpenBSM's
        stock file has ``ua``)."""
        found: dict[str, list[int]] = {}
        for entry in self.events:
            for item in entry.classes:
                name = item.lstrip("^")
                name = name[1:] if name[:1] in ("+", "-") else name
                if name not in self.classes:
                    found.setdefault(name, []).append(entry.number)
        return {name: tuple(numbers) for name, numbers in found.items()}

    def parse_flags(self, flags: str | bytes) -> AuditMask:
        """``getauditflagsbin``; raises :class:`AuditFlagsError` for invalid strings."""
        return parse_flags(flags, self.classes)

    def format_flags(self, mask: AuditMask) -> str:
        """A flag string that parses back to exactly ``mask``."""
        return format_flags(mask, self.classes)

    def format_flags_compat(self, mask: AuditMask, *, verbose: bool = False) -> str:
        """``getauditflagschar`` byte for byte (no ``+``/``-`` prefixes: libbsm's bug)."""
        return format_flags_compat(mask, self.classes, verbose=verbose)

    # -- preselection ------------------------------------------------------------------

    def au_preselect(self, event: int, mask: AuditMask, sorf: int = PRS_BOTH) -> int:
        """libbsm's ``au_preselect``: 1 selected, 0 not, -1 event unknown.

        ``sorf`` is ``PRS_SUCCESS`` (1), ``PRS_FAILURE`` (2) or both. Uses libbsm's
        enumeration view of audit_event (for a duplicated number, the *last* line).
        """
        klass = self.events.preselect_masks.get(event)
        if klass is None:
            return -1
        return 1 if mask.selects(klass, sorf) else 0

    def is_preselected(self, event: int, mask: AuditMask, *, success: bool) -> bool:
        """Would a successful (or failed) ``event`` be audited under ``mask``?"""
        return self.au_preselect(event, mask, PRS_SUCCESS if success else PRS_FAILURE) == 1

    def user_mask(
        self,
        user: str | None,
        control: AuditControl | None = None,
        users: AuditUsers | None = None,
    ) -> AuditMask:
        """``au_user_mask``: ``flags`` + ``always`` - ``never``; ``user=None`` gives the
        non-attributable mask (``naflags``)."""
        return user_mask(user, control, users, self.classes)

    def user_preselected(
        self,
        event: int,
        user: str | None,
        *,
        success: bool,
        control: AuditControl | None = None,
        users: AuditUsers | None = None,
    ) -> bool:
        """Preselection of ``event`` for ``user`` (``None``: non-attributable)."""
        return self.is_preselected(event, self.user_mask(user, control, users), success=success)

    # -- vectorised --------------------------------------------------------------------

    @property
    def vector(self) -> VectorLookup:
        """The 65,536-entry lookup tables (needs numpy), built once."""
        if self._vector is None:
            with self._lock:
                if self._vector is None:
                    self._vector = VectorLookup(self.events.by_number, self.events.preselect_masks)
        return self._vector

    def arrow_columns(self, numbers: Any, columns: tuple[str, ...] = COLUMNS) -> dict[str, Any]:
        """Arrow columns ``name``/``description``/``classes`` (dictionary-encoded) and
        ``mask`` (uint32) for an array of event numbers; null for unknown events."""
        return self.vector.arrow_columns(numbers, columns)

    def class_masks(self, numbers: Any) -> Any:
        """numpy uint32 class masks for an array of event numbers (0 when unknown)."""
        return self.vector.take_masks(numbers)

    def codes(self, numbers: Any, column: str = "name") -> tuple[Any, list[str]]:
        """numpy int32 dictionary codes (-1 unknown) and the dictionary for ``column``."""
        return self.vector.take_codes(numbers, column), list(self.vector.values[column])

    def preselected_array(self, numbers: Any, mask: AuditMask, success: Any) -> Any:
        """Vectorised :meth:`is_preselected`; ``success`` is a bool or boolean array."""
        return self.vector.preselected(numbers, mask, success)

    # -- writing -----------------------------------------------------------------------

    def audit_event_bytes(self) -> bytes:
        """audit_event written back (byte-identical for a clean, canonical file)."""
        return self.events.to_bytes()

    def audit_class_bytes(self) -> bytes:
        return self.classes.to_bytes()


# -- where the files come from ---------------------------------------------------------


def _env_file(env: str, name: str) -> Path | None:
    """``$env`` if set (it must exist), else ``$BSMTRAIL_ETC/name`` if that exists."""
    value = os.environ.get(env)
    if value:
        path = Path(value)
        if not path.is_file():
            raise FileNotFoundError(f"${env} names {value!r}, which is not a file")
        return path
    etc = os.environ.get(ENV_ETC)
    if etc and (Path(etc) / name).is_file():
        return Path(etc) / name
    return None


def resolve(name: str, explicit: Source | None, env: str, *, embedded: bool) -> Source | None:
    """Where ``name`` comes from: caller, environment, /etc/security, embedded copy."""
    if explicit is not None:
        return explicit
    found = _env_file(env, name)
    if found is not None:
        return found
    system = SYSTEM_DIR / name
    if system.is_file() and os.access(system, os.R_OK):
        return system
    if embedded:
        return DATA_DIR / name
    return None


class _Input:
    """One configuration file to read: its cache key is known before reading it."""

    def __init__(self, source: Source, name: str) -> None:
        self.source = source
        self.name = name
        self.key: tuple[Any, ...] | None = None  # None: a file object, never cached
        if not hasattr(source, "read"):
            path = Path(os.fspath(source))
            st = path.stat()
            self.key = (str(path.resolve()), st.st_mtime_ns, st.st_size, st.st_ino)

    def read(self) -> tuple[bytes, str]:
        """The bytes and a display name for error messages."""
        if hasattr(self.source, "read"):
            data = self.source.read()
            if not isinstance(data, bytes):
                raise TypeError(f"{self.name}: file object must be opened in binary mode")
            return data, str(getattr(self.source, "name", f"<{self.name}>"))
        path = Path(os.fspath(self.source))
        display = f"{EMBEDDED}/{self.name}" if path.parent == DATA_DIR else str(path)
        return path.read_bytes(), display


def _read(source: Source, name: str) -> tuple[bytes, str]:
    return _Input(source, name).read()


_cache: dict[tuple[Any, ...], EventDatabase] = {}
_cache_lock = threading.Lock()


def load_events(
    path: Source | EventDatabase | None = None,
    *,
    audit_class: Source | None = None,
    strict: bool = False,
) -> EventDatabase:
    """The event database, loaded once per file and cached.

    ``path`` is the audit_event file; without it, ``$BSMTRAIL_AUDIT_EVENT``, then
    ``$BSMTRAIL_ETC/audit_event``, then ``/etc/security/audit_event``, then the OpenBSM
    copy shipped in the package. ``audit_class`` resolves the same way
    (``$BSMTRAIL_AUDIT_CLASS``). An :class:`EventDatabase` passed as ``path`` is returned
    as is. A variable naming a missing file is an error; a ``$BSMTRAIL_ETC`` without the
    file falls through to the next place. Cached per file (path, mtime, size, inode); file
    objects are never cached.

    The default ``strict=False`` reads the files exactly as libbsm and praudit do, so any
    file praudit accepts works here (skipped lines are listed in ``problems``);
    ``strict=True`` raises :class:`EventDatabaseError` naming file and line instead.
    """
    if isinstance(path, EventDatabase):
        return path
    event_src = resolve("audit_event", path, ENV_EVENT, embedded=True)
    class_src = resolve("audit_class", audit_class, ENV_CLASS, embedded=True)
    assert event_src is not None and class_src is not None
    event_in, class_in = _Input(event_src, "audit_event"), _Input(class_src, "audit_class")
    key = None
    if event_in.key is not None and class_in.key is not None:
        key = (event_in.key, class_in.key, strict)
        with _cache_lock:
            hit = _cache.get(key)
        if hit is not None:
            return hit
    event_data, event_name = event_in.read()
    class_data, class_name = class_in.read()
    db = EventDatabase.from_bytes(
        event_data, class_data, strict=strict, event_source=event_name, class_source=class_name
    )
    if key is not None:
        with _cache_lock:
            db = _cache.setdefault(key, db)
    return db


def clear_cache() -> None:
    """Forget every cached database."""
    with _cache_lock:
        _cache.clear()


def load_control(
    path: Source | None = None, classes: ClassTable | None = None, *, strict: bool = True
) -> AuditControl | None:
    """audit_control from ``path``, ``$BSMTRAIL_AUDIT_CONTROL``, ``$BSMTRAIL_ETC`` or
    /etc/security; ``None`` when there is none. ``flags``/``naflags`` are checked against
    ``classes`` (default: those of :func:`load_events`)."""
    source = resolve("audit_control", path, ENV_CONTROL, embedded=False)
    if source is None:
        return None
    data, name = _read(source, "audit_control")
    if classes is None:
        classes = load_events().classes
    return parse_audit_control(data, classes, source=name, strict=strict)


def load_users(
    path: Source | None = None, classes: ClassTable | None = None, *, strict: bool = True
) -> AuditUsers | None:
    """audit_user, resolved like :func:`load_control`; ``None`` when there is none."""
    source = resolve("audit_user", path, ENV_USER, embedded=False)
    if source is None:
        return None
    data, name = _read(source, "audit_user")
    if classes is None:
        classes = load_events().classes
    return parse_audit_user(data, classes, source=name, strict=strict)

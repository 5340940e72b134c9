"""OpenBSM's event, class, control and user databases, read the way libbsm reads them.

* :func:`load_events` gives the :class:`EventDatabase` (audit_event + audit_class) from the
  caller's path, ``$BSMTRAIL_AUDIT_EVENT``/``$BSMTRAIL_AUDIT_CLASS``, ``$BSMTRAIL_ETC``,
  ``/etc/security`` or the OpenBSM copy shipped in ``bsmtrail/data``, cached per file.
* Lookups: number -> :class:`AuditEvent` (name, description, classes, class mask), name ->
  number, class name <-> mask, events in a class.
* :meth:`EventDatabase.praudit_entries` reproduces praudit's reading of audit_event, quirks
  included, for the text renderer.
* Class-mask strings (``lo,+ex,-fr,^fw``): :meth:`EventDatabase.parse_flags`
  (``getauditflagsbin``), :meth:`~EventDatabase.format_flags` (round-trips) and
  :meth:`~EventDatabase.format_flags_compat` (``getauditflagschar``, bug included).
* Preselection: :meth:`EventDatabase.au_preselect` for a mask, and :class:`Preselector`
  (or :meth:`~EventDatabase.user_mask`) for a user under audit_control and audit_user.
* Vectorised: :meth:`EventDatabase.arrow_columns` and friends map whole arrays of event
  numbers with one table lookup (numpy/pyarrow, imported lazily).

Strictness: with ``strict=True`` a malformed line raises :class:`EventDatabaseError` (a
``ValueError``) naming file and line; with ``strict=False`` the files are read exactly as
libbsm reads them (invalid lines skipped by lookups, enumeration stopping at the first one)
and the lines are listed in ``problems``. The parsers, :meth:`EventDatabase.from_bytes`,
:func:`load_control` and :func:`load_users` default to strict; :func:`load_events`
defaults to ``strict=False`` because the praudit renderer must accept every file praudit
accepts. Blank lines are skipped in strict mode (libbsm stops reading at them).
"""

from __future__ import annotations

from ._classes import ClassTable, format_class, parse_audit_class
from ._control import (
    AuditControl,
    AuditUser,
    AuditUsers,
    ExpireAfter,
    parse_audit_control,
    parse_audit_user,
    user_mask,
)
from ._database import (
    EventDatabase,
    clear_cache,
    load_control,
    load_events,
    load_users,
)
from ._events import EventTable, PrauditEntry, format_event, parse_audit_event, praudit_entries
from ._masks import format_flags, format_flags_compat, is_valid_flags, parse_flags
from ._model import (
    PRS_BOTH,
    PRS_FAILURE,
    PRS_SUCCESS,
    AuditClass,
    AuditEvent,
    AuditFlagsError,
    AuditMask,
    EventDatabaseError,
)
from ._preselect import Preselector

__all__ = [
    "PRS_BOTH",
    "PRS_FAILURE",
    "PRS_SUCCESS",
    "AuditClass",
    "AuditControl",
    "AuditEvent",
    "AuditFlagsError",
    "AuditMask",
    "AuditUser",
    "AuditUsers",
    "ClassTable",
    "EventDatabase",
    "EventDatabaseError",
    "EventTable",
    "ExpireAfter",
    "PrauditEntry",
    "Preselector",
    "clear_cache",
    "format_class",
    "format_event",
    "format_flags",
    "format_flags_compat",
    "is_valid_flags",
    "load_control",
    "load_events",
    "load_users",
    "parse_audit_class",
    "parse_audit_control",
    "parse_audit_event",
    "parse_audit_user",
    "parse_flags",
    "praudit_entries",
    "user_mask",
]

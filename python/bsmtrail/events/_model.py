"""Value types and errors shared by the event-database modules."""

from __future__ import annotations

from typing import NamedTuple

#: ``AU_PRS_SUCCESS``, ``AU_PRS_FAILURE`` and ``AU_PRS_BOTH``: the ``sorf`` argument of
#: ``au_preselect``.
PRS_SUCCESS = 1
PRS_FAILURE = 2
PRS_BOTH = PRS_SUCCESS | PRS_FAILURE

#: libbsm's field limits (``bsm/libbsm.h``): a field this long or longer makes a line invalid.
EVENT_NAME_MAX = 30
EVENT_DESC_MAX = 50
CLASS_NAME_MAX = 8
CLASS_DESC_MAX = 72
USER_NAME_MAX = 50

ALL_BITS = 0xFFFFFFFF


class EventDatabaseError(ValueError):
    """A line of audit_event, audit_class, audit_control or audit_user is malformed.

    ``source`` names the file (a path, or ``<embedded>/audit_event`` and the like),
    ``line`` is the 1-based physical line number (``None`` when the problem is not tied to
    one line) and ``reason`` says what is wrong, without the location.
    """

    def __init__(self, source: str, line: int | None, reason: str) -> None:
        self.source = source
        self.line = line
        self.reason = reason
        where = source if line is None else f"{source}:{line}"
        super().__init__(f"{where}: {reason}")

    def __reduce__(self) -> tuple[type[EventDatabaseError], tuple[str, int | None, str]]:
        return (type(self), (self.source, self.line, self.reason))


class AuditFlagsError(ValueError):
    """A class-mask string such as ``lo,+ex,-fr`` is invalid (``getauditflagsbin`` fails).

    ``flags`` is the whole string and ``item`` the comma-separated item that failed.
    ``partial`` holds the masks as libbsm leaves them when it gives up half-way
    (``lo,bogus`` fails with ``lo`` already set).
    """

    def __init__(self, flags: str, item: str, partial: AuditMask) -> None:
        self.flags = flags
        self.item = item
        self.partial = partial
        super().__init__(f"invalid audit flags {flags!r}: unknown class {item!r}")

    def __reduce__(self) -> tuple[type[AuditFlagsError], tuple[str, str, AuditMask]]:
        return (type(self), (self.flags, self.item, self.partial))


class AuditMask(NamedTuple):
    """``au_mask_t``: the success and failure preselection masks (32-bit each)."""

    success: int = 0
    failure: int = 0

    def __or__(self, other: object) -> AuditMask:
        if not isinstance(other, AuditMask):
            return NotImplemented
        return AuditMask(self.success | other.success, self.failure | other.failure)

    def without(self, other: AuditMask) -> AuditMask:
        """Clear ``other``'s bits (libbsm's ``SUBMASK``)."""
        return AuditMask(self.success & ~other.success, self.failure & ~other.failure)

    def selects(self, class_mask: int, sorf: int = PRS_BOTH) -> bool:
        """The core of ``au_preselect``: does an event with ``class_mask`` get audited?"""
        hit = 0
        if sorf & PRS_SUCCESS:
            hit |= self.success & class_mask
        if sorf & PRS_FAILURE:
            hit |= self.failure & class_mask
        return hit != 0


class AuditClass(NamedTuple):
    """One audit_class entry: ``mask:name:description``."""

    mask: int
    name: str
    description: str
    line: int


class AuditEvent(NamedTuple):
    """One audit_event entry: ``number:name:description:classes``.

    ``classes`` are the comma-separated items of the class field as written (usually bare
    class names); ``mask`` is the success mask they parse to, or 0 when any item is unknown
    (libbsm's rule: OpenBSM's own file uses the undefined class ``ua``).
    """

    number: int
    name: str
    description: str
    classes: tuple[str, ...]
    mask: int
    line: int


def decode(raw: bytes) -> str:
    """Bytes from a configuration file as ``str``; undecodable bytes survive as surrogates."""
    return raw.decode("utf-8", "surrogateescape")


def encode(text: str) -> bytes:
    """Inverse of :func:`decode`."""
    return text.encode("utf-8", "surrogateescape")

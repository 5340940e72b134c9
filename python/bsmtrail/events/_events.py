"""audit_event: ``number:name:description:classes`` lines.

libbsm reads this file in two ways, and they disagree on odd files:

* **Lookup** (``getauevnum``/``getauevnam``, what praudit uses for every header): every
  line, comments included, goes through ``strtok``; invalid lines are skipped and the
  **first** match wins.
* **Enumeration** (``getauevent``, what ``au_preselect`` caches): ``#`` lines are skipped,
  reading **stops at the first invalid line** (a blank line included), and because the
  cache is a list built by inserting at the head, the **last** entry for a number wins.

:class:`EventTable` keeps both views. In strict mode a malformed line raises instead, so
both views come from the same clean list of entries.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ._classes import ClassTable
from ._clib import atoi, fgets_lines, strtok
from ._lines import LineKeeper, check_line, is_blank, physical_lines
from ._masks import parse_flags
from ._model import (
    EVENT_DESC_MAX,
    EVENT_NAME_MAX,
    AuditEvent,
    AuditFlagsError,
    EventDatabaseError,
    decode,
    encode,
)

_DECIMAL = re.compile(rb"[0-9]+")

#: One praudit-visible entry: (event number, name bytes, description bytes).
PrauditEntry = tuple[int, bytes, bytes]


class EventTable:
    """Parsed audit_event entries with libbsm's lookup and enumeration semantics."""

    def __init__(
        self,
        entries: list[AuditEvent],
        enumerated: list[AuditEvent],
        *,
        source: str,
        raw: bytes,
        problems: list[EventDatabaseError],
        keeper: LineKeeper,
    ) -> None:
        self.source = source
        self.raw = raw
        #: Entries in file order, as number/name lookups see them.
        self.entries: tuple[AuditEvent, ...] = tuple(entries)
        #: What strict mode would have rejected (lenient mode only).
        self.problems: tuple[EventDatabaseError, ...] = tuple(problems)
        self._keeper = keeper
        self.by_number: dict[int, AuditEvent] = {}
        self.by_name: dict[str, AuditEvent] = {}
        for entry in entries:
            self.by_number.setdefault(entry.number, entry)
            self.by_name.setdefault(entry.name, entry)
        #: ``au_preselect``'s view: event number -> class mask, the last entry winning.
        self.preselect_masks: dict[int, int] = {e.number: e.mask for e in enumerated}

    def __iter__(self) -> Iterator[AuditEvent]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def to_bytes(self) -> bytes:
        """The table written back in audit_event format, comments and blank lines included.

        Byte-identical to the input for a strict-clean file in OpenBSM's layout; for a
        lenient table it is the entries libbsm sees, not the original file.
        """
        return self._keeper.merge({e.line: format_event(e) for e in self.entries})


def format_event(entry: AuditEvent) -> bytes:
    """One audit_event line: ``number:name:description:classes``."""
    return b"%d:%s:%s:%s" % (
        entry.number,
        encode(entry.name),
        encode(entry.description),
        encode(",".join(entry.classes)),
    )


class _MaskCache:
    """Class field -> success mask, 0 when the field does not parse (libbsm's rule)."""

    def __init__(self, classes: ClassTable) -> None:
        self._classes = classes
        self._cache: dict[bytes, int] = {}

    def __call__(self, field: bytes | None) -> int:
        if field is None:
            return 0
        mask = self._cache.get(field)
        if mask is None:
            try:
                mask = parse_flags(field, self._classes).success
            except AuditFlagsError:
                mask = 0
            self._cache[field] = mask
        return mask


def _entry(fields: list[bytes], lineno: int, masks: _MaskCache) -> AuditEvent:
    desc = fields[2] if len(fields) > 2 else b""
    klass = fields[3] if len(fields) > 3 else None
    items = tuple(decode(t) for t in strtok(klass, b",")) if klass is not None else ()
    return AuditEvent(
        atoi(fields[0]) & 0xFFFF, decode(fields[1]), decode(desc), items, masks(klass), lineno
    )


def _lenient_reason(fields: list[bytes]) -> str | None:
    """``eventfromstr``'s checks on ``strtok`` fields (only the first four are looked at)."""
    if len(fields) < 2:
        return "blank line" if not fields else "1 field, at least 2 needed"
    if len(fields[1]) >= EVENT_NAME_MAX:
        return f"event name is {len(fields[1])} bytes (limit {EVENT_NAME_MAX - 1})"
    if len(fields) > 2 and len(fields[2]) >= EVENT_DESC_MAX:
        return f"event description is {len(fields[2])} bytes (limit {EVENT_DESC_MAX - 1})"
    return None


def parse_audit_event(
    data: bytes, classes: ClassTable, *, source: str = "audit_event", strict: bool = True
) -> EventTable:
    """Parse an audit_event file; class fields are resolved against ``classes``.

    ``strict=True`` raises :class:`EventDatabaseError` naming file and line for anything
    libbsm would skip or read differently from how it looks: fewer than three or more than
    four fields, an empty name or description, a number that is not plain decimal in
    0..65535, a name of 30 bytes or more or a description of 50 or more, an over-long
    line, NUL or CR. Comment and blank lines are skipped. A class field naming an unknown
    class is *not* an error (OpenBSM's own file uses ``ua``): the event's mask is 0, as in
    libbsm. ``strict=False`` reproduces libbsm exactly and records problems instead.
    """
    masks = _MaskCache(classes)
    keeper = LineKeeper()
    if strict:
        entries = _parse_strict(data, source, masks, keeper)
        return EventTable(entries, entries, source=source, raw=data, problems=[], keeper=keeper)
    entries = []
    problems: list[EventDatabaseError] = []
    stopped = False  # has au_preselect's enumeration stopped yet?
    for lineno, line in fgets_lines(data):
        fields = strtok(line, b":")
        reason = _lenient_reason(fields)
        comment = line.startswith(b"#")
        if reason is None:
            entry = _entry(fields, lineno, masks)
            entries.append(entry)
            if comment:
                problems.append(
                    EventDatabaseError(
                        source,
                        lineno,
                        f"comment line parses as event {entry.number} ({entry.name!r}) "
                        "for lookups by number or name",
                    )
                )
        elif comment:
            keeper.skip(lineno, line)
        else:
            tail = "lookups skip it" if stopped else "lookups skip it; au_preselect stops here"
            stopped = True
            problems.append(EventDatabaseError(source, lineno, f"{reason}; {tail}"))
    enumerated: list[AuditEvent] = []
    for lineno, line in fgets_lines(data):
        if line.startswith(b"#"):
            continue
        fields = strtok(line, b":")
        if _lenient_reason(fields) is not None:
            break
        enumerated.append(_entry(fields, lineno, masks))
    return EventTable(
        entries, enumerated, source=source, raw=data, problems=problems, keeper=keeper
    )


def _parse_strict(
    data: bytes, source: str, masks: _MaskCache, keeper: LineKeeper
) -> list[AuditEvent]:
    entries: list[AuditEvent] = []
    for lineno, line in physical_lines(data):
        if line.startswith(b"#") or is_blank(line):
            keeper.skip(lineno, line)
            continue
        check_line(source, lineno, line)
        fields = line.split(b":")
        if not 3 <= len(fields) <= 4:
            raise EventDatabaseError(
                source,
                lineno,
                f"expected number:name:description:classes, got {len(fields)} field(s)",
            )
        for index, what in ((0, "number"), (1, "name"), (2, "description")):
            if not fields[index]:
                raise EventDatabaseError(source, lineno, f"empty {what} field")
        if _DECIMAL.fullmatch(fields[0]) is None or int(fields[0]) > 0xFFFF:
            raise EventDatabaseError(
                source, lineno, f"event number {decode(fields[0])!r} is not in 0..65535"
            )
        reason = _lenient_reason(fields)
        if reason is not None:
            raise EventDatabaseError(source, lineno, reason)
        entries.append(_entry(fields, lineno, masks))
    return entries


def praudit_entries(data: bytes) -> list[PrauditEntry]:
    """``(number, name, description)`` for every line praudit's event lookup can match.

    File order, duplicates kept (praudit takes the first match). This is
    ``getauevnum``'s parse: 255-byte line chunks, ``strtok`` fields with empty fields
    vanishing, comment lines *not* skipped, name >= 30 or description >= 50 bytes making a
    line invalid, ``atoi`` cut to 16 bits, ``\\r`` kept, missing description empty.
    """
    out: list[PrauditEntry] = []
    for _, line in fgets_lines(data):
        fields = strtok(line, b":")
        if _lenient_reason(fields) is None:
            desc = fields[2] if len(fields) > 2 else b""
            out.append((atoi(fields[0]) & 0xFFFF, fields[1], desc))
    return out

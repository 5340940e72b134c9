"""audit_class: ``mask:name:description`` lines, parsed as libbsm's ``getauclassent``."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ._clib import fgets_lines, strtok, strtoul0
from ._lines import LineKeeper, check_line, is_blank, physical_lines
from ._model import (
    CLASS_DESC_MAX,
    CLASS_NAME_MAX,
    AuditClass,
    EventDatabaseError,
    decode,
    encode,
)

_C_INTEGER = re.compile(rb"0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*")


class ClassTable:
    """The classes libbsm can see, in file order, with name and mask lookups.

    libbsm enumerates audit_class from the top for every lookup and **stops at the first
    invalid line** (a blank line included), so classes after such a line do not exist for
    it. In strict mode an invalid line raises instead, and blank lines are skipped.
    """

    def __init__(
        self,
        classes: list[AuditClass],
        *,
        source: str,
        problems: list[EventDatabaseError],
        keeper: LineKeeper,
    ) -> None:
        self.source = source
        self.classes: tuple[AuditClass, ...] = tuple(classes)
        #: What strict mode would have rejected (lenient mode only).
        self.problems: tuple[EventDatabaseError, ...] = tuple(problems)
        self._keeper = keeper
        self._by_name: dict[str, AuditClass] = {}
        self._by_mask: dict[int, AuditClass] = {}
        for entry in classes:  # getauclassnam/getauclassnum: the first match wins
            self._by_name.setdefault(entry.name, entry)
            self._by_mask.setdefault(entry.mask, entry)

    def __iter__(self) -> Iterator[AuditClass]:
        return iter(self.classes)

    def __len__(self) -> int:
        return len(self.classes)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def get(self, name: str) -> AuditClass | None:
        """``getauclassnam``: the first class called ``name``."""
        return self._by_name.get(name)

    def by_mask(self, mask: int) -> AuditClass | None:
        """``getauclassnum``: the first class whose mask equals ``mask`` exactly."""
        return self._by_mask.get(mask)

    def mask(self, name: str) -> int:
        """The mask of class ``name``; ``KeyError`` when there is no such class."""
        entry = self._by_name.get(name)
        if entry is None:
            raise KeyError(name)
        return entry.mask

    def to_bytes(self) -> bytes:
        """The table written back in audit_class format, skipped lines included."""
        emitted = {c.line: format_class(c) for c in self.classes}
        return self._keeper.merge(emitted)


def format_class(entry: AuditClass) -> bytes:
    """One audit_class line in OpenBSM's own layout (``0x%08x:name:description``)."""
    return b"0x%08x:%s:%s" % (entry.mask, encode(entry.name), encode(entry.description))


def parse_audit_class(
    data: bytes, *, source: str = "audit_class", strict: bool = True
) -> ClassTable:
    """Parse an audit_class file.

    ``strict=True`` raises :class:`EventDatabaseError` for any line libbsm would reject or
    read differently from how it looks (too few or empty fields, bad mask, long name or
    description, over-long line, NUL or CR, duplicate name). ``strict=False`` reproduces
    libbsm: the enumeration ends at the first invalid line, which is recorded in
    ``problems``.
    """
    keeper = LineKeeper()
    if strict:
        return _parse_strict(data, source, keeper)
    classes: list[AuditClass] = []
    problems: list[EventDatabaseError] = []
    for lineno, line in fgets_lines(data):
        if line.startswith(b"#"):
            keeper.skip(lineno, line)
            continue
        fields = strtok(line, b":")
        reason = _lenient_reason(fields)
        if reason is not None:
            problems.append(
                EventDatabaseError(source, lineno, reason + "; libbsm stops reading here")
            )
            break
        mask = strtoul0(fields[0])[0] & 0xFFFFFFFF
        classes.append(AuditClass(mask, decode(fields[1]), decode(fields[2]), lineno))
    return ClassTable(classes, source=source, problems=problems, keeper=keeper)


def _lenient_reason(fields: list[bytes]) -> str | None:
    if len(fields) < 3:
        return "blank line" if not fields else f"{len(fields)} field(s), 3 needed"
    if len(fields[1]) >= CLASS_NAME_MAX:
        return f"class name is {len(fields[1])} bytes (limit {CLASS_NAME_MAX - 1})"
    if len(fields[2]) >= CLASS_DESC_MAX:
        return f"class description is {len(fields[2])} bytes (limit {CLASS_DESC_MAX - 1})"
    return None


def _parse_strict(data: bytes, source: str, keeper: LineKeeper) -> ClassTable:
    classes: list[AuditClass] = []
    seen: dict[bytes, int] = {}
    for lineno, line in physical_lines(data):
        if line.startswith(b"#") or is_blank(line):
            keeper.skip(lineno, line)
            continue
        check_line(source, lineno, line)
        fields = line.split(b":")
        if len(fields) != 3 or not all(fields):
            raise EventDatabaseError(
                source,
                lineno,
                f"expected mask:name:description, got {len(fields)} field(s)"
                + ("" if all(fields) else " with an empty one"),
            )
        reason = _lenient_reason(fields)
        if reason is not None:
            raise EventDatabaseError(source, lineno, reason)
        if _C_INTEGER.fullmatch(fields[0]) is None:
            raise EventDatabaseError(
                source, lineno, f"class mask {decode(fields[0])!r} is not a C integer literal"
            )
        mask = strtoul0(fields[0])[0]
        if mask > 0xFFFFFFFF:
            raise EventDatabaseError(source, lineno, f"class mask {mask:#x} exceeds 32 bits")
        if fields[1] in seen:
            raise EventDatabaseError(
                source,
                lineno,
                f"class {decode(fields[1])!r} already defined on line {seen[fields[1]]}",
            )
        seen[fields[1]] = lineno
        classes.append(AuditClass(mask, decode(fields[1]), decode(fields[2]), lineno))
    return ClassTable(classes, source=source, problems=[], keeper=keeper)

"""audit_control (``key:value``) and audit_user (``user:always:never``), as libbsm reads them.

These two drive preselection: ``flags`` in audit_control is the system-wide mask,
``naflags`` the mask for non-attributable events, and audit_user adds (``always``) and
removes (``never``) classes per user (``au_user_mask``/``getfauditflags``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

from ._classes import ClassTable
from ._clib import atoi, fgets_lines, scan_ulong, strtok, strtok_first, wrap_signed64
from ._lines import check_line, is_blank, physical_lines
from ._masks import parse_flags
from ._model import USER_NAME_MAX, AuditFlagsError, AuditMask, EventDatabaseError, decode

#: ``au_strtopol``'s policy names and bits (``sys/bsm/audit.h``).
POLICIES: dict[str, int] = {
    "cnt": 0x0001,
    "ahlt": 0x0002,
    "argv": 0x0004,
    "arge": 0x0008,
    "seq": 0x0010,
    "windata": 0x0020,
    "user": 0x0040,
    "group": 0x0080,
    "trail": 0x0100,
    "path": 0x0200,
    "scnt": 0x0400,
    "public": 0x0800,
    "zonename": 0x1000,
    "perzone": 0x2000,
}
MIN_AUDIT_FILE_SIZE = 512 * 1024
AQ_MAXHIGH = 10000
_SPACE_MULT = {"B": 1, " ": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
_TIME_MULT = {"s": 1, "h": 3600, "d": 86400}


class ExpireAfter(NamedTuple):
    """``getacexpire``: trail age (seconds) and/or total size (bytes), and whether both apply."""

    age: int
    size: int
    both: bool


class AuditControl:
    """audit_control: the first value of each key wins, except ``dir`` which may repeat."""

    def __init__(self, entries: list[tuple[str, str, int]], *, source: str) -> None:
        self.source = source
        #: ``(key, value, line)`` in file order.
        self.entries: tuple[tuple[str, str, int], ...] = tuple(entries)
        self._first: dict[str, tuple[str, int]] = {}
        for key, value, line in entries:
            self._first.setdefault(key, (value, line))

    def get(self, key: str) -> str | None:
        """The value of the first ``key:`` line (libbsm's ``getstrfromtype``)."""
        hit = self._first.get(key)
        return None if hit is None else hit[0]

    def line_of(self, key: str) -> int | None:
        hit = self._first.get(key)
        return None if hit is None else hit[1]

    def __contains__(self, key: object) -> bool:
        return key in self._first

    @property
    def dirs(self) -> list[str]:
        """Every ``dir:`` value in order (``getacdir`` enumerates them)."""
        return [value for key, value, _ in self.entries if key == "dir"]

    @property
    def flags(self) -> str:
        """System audit flags (``getacflg``); empty when the key is missing."""
        return self.get("flags") or ""

    @property
    def naflags(self) -> str:
        """Flags for non-attributable events (``getacna``)."""
        return self.get("naflags") or ""

    @property
    def host(self) -> str | None:
        return self.get("host")

    @property
    def dist(self) -> bool:
        """``getacdist``: true for ``on`` or ``yes`` (any case)."""
        return (self.get("dist") or "").lower() in ("on", "yes")

    @property
    def minfree(self) -> int | None:
        """``getacmin``: ``atoi`` of the value (percent of free space)."""
        value = self.get("minfree")
        return None if value is None else atoi(value.encode("utf-8", "surrogateescape"))

    @property
    def policy(self) -> int:
        """``au_strtopol`` of the ``policy`` value; ``ValueError`` for an unknown name."""
        value = self.get("policy")
        return 0 if value is None else parse_policy(value)

    @property
    def filesz(self) -> int | None:
        """``getacfilesz`` in bytes (0: no rotation); ``ValueError`` when invalid."""
        value = self.get("filesz")
        return None if value is None else parse_filesz(value)

    @property
    def expire_after(self) -> ExpireAfter | None:
        """``getacexpire``; ``ValueError`` when invalid."""
        value = self.get("expire-after")
        return None if value is None else parse_expire_after(value)

    @property
    def qsize(self) -> int | None:
        value = self.get("qsize")
        return None if value is None else parse_qsize(value)


def parse_qsize(value: str) -> int:
    """``getacqsize``: ``sscanf("%d")``, then 0..AQ_MAXHIGH."""
    match = re.match(r"[ \t]*([+-]?\d+)", value)
    if match is None:
        raise ValueError(f"qsize {value!r} is not a number")
    size = int(match.group(1))
    if not 0 <= size <= AQ_MAXHIGH:
        raise ValueError(f"qsize {size} is not in 0..{AQ_MAXHIGH}")
    return size


def parse_policy(value: str) -> int:
    bits = 0
    for name in value.split(","):  # strsep: empty items are kept, and are errors
        if name not in POLICIES:
            raise ValueError(f"unknown audit policy {name!r}")
        bits |= POLICIES[name]
    return bits


def _space(value: int, mult: str) -> int | None:
    """``au_spacetobytes``: bytes as a ``size_t`` (wrapping), ``None`` for a bad unit."""
    factor = _SPACE_MULT.get(mult)
    return None if factor is None else value * factor & 0xFFFFFFFFFFFFFFFF


def _seconds(value: int, mult: str) -> int | None:
    """``au_timetosec``: seconds as a ``time_t`` (wrapping), ``None`` for a bad unit."""
    years = wrap_signed64(value)
    if mult == "y":  # 364 days a year plus a day for every fourth year
        quarter = abs(years) // 4 * (1 if years >= 0 else -1)
        return wrap_signed64(years * 86400 * 364 + quarter * 86400)
    factor = _TIME_MULT.get(mult)
    return None if factor is None else wrap_signed64(years * factor)


def parse_filesz(value: str) -> int:
    """``getacfilesz``: ``sscanf("%ju%c")``; 0 (no rotation) or at least 512 KiB."""
    scanned = scan_ulong(value.lstrip(" \t"))
    if scanned is None:
        raise ValueError(f"filesz {value!r} is not a size")
    number, rest = scanned
    mult = rest[:1] or "B"
    size = _space(number, mult)
    if size is None:
        raise ValueError(f"filesz {value!r}: unknown unit {mult!r}")
    if 0 < size < MIN_AUDIT_FILE_SIZE:
        raise ValueError(f"filesz {value!r} is below the minimum {MIN_AUDIT_FILE_SIZE} bytes")
    return size


def _scan_expire(value: str) -> list[str | int]:
    """``sscanf(value, "%lu%c%[ \\tadnorADNOR]%lu%c")``: the fields it converts, in order."""
    fields: list[str | int] = []
    rest = value.lstrip(" \t")
    for step in ("ulong", "char", "set", "ulong", "char"):
        if step == "ulong":
            scanned = scan_ulong(rest)
            if scanned is None:
                break
            fields.append(scanned[0])
            rest = scanned[1]
            continue
        match = re.match(r"(.)" if step == "char" else r"([ \tadnorADNOR]+)", rest, re.S)
        if match is None:
            break
        fields.append(match.group(1))
        rest = rest[match.end() :]
    return fields


def parse_expire_after(value: str) -> ExpireAfter:
    """``getacexpire``: ``10M``, ``30d``, ``1y and 5G``, ``2G or 7d``..."""
    fields = _scan_expire(value)
    if len(fields) not in (1, 2, 5):
        raise ValueError(f"expire-after {value!r} is not understood")
    age = size = 0
    conds = [(fields[0], fields[1] if len(fields) > 1 else "B")]
    if len(fields) == 5:
        conds.append((fields[3], fields[4]))
    for number, mult in conds:
        assert isinstance(number, int) and isinstance(mult, str)
        if "A" <= mult <= "Z" or mult == " ":  # C isupper(), ASCII only
            got = _space(number, mult)
            if got is None:
                raise ValueError(f"expire-after {value!r}: unknown unit {mult!r}")
            size = got
        else:
            got = _seconds(number, mult)
            if got is None:
                raise ValueError(f"expire-after {value!r}: unknown unit {mult!r}")
            age = got
    both = False
    if len(fields) == 5:
        andor = str(fields[2]).lower()
        if "and" in andor:
            both = True
        elif "or" not in andor:
            raise ValueError(f"expire-after {value!r}: expected 'and' or 'or'")
    return ExpireAfter(age, size, both)


_VALIDATORS = {
    "policy": parse_policy,
    "filesz": parse_filesz,
    "expire-after": parse_expire_after,
    "qsize": parse_qsize,
}


def parse_audit_control(
    data: bytes,
    classes: ClassTable | None = None,
    *,
    source: str = "audit_control",
    strict: bool = True,
) -> AuditControl:
    """Parse audit_control.

    Lines are ``key:value``; ``#`` lines are skipped and trailing spaces, tabs and newlines
    removed, as in libbsm. ``strict=True`` raises :class:`EventDatabaseError` for a line
    without a key or colon, a repeated key other than ``dir`` (libbsm would ignore it), and
    invalid ``flags``/``naflags`` (checked when ``classes`` is given), ``minfree``,
    ``policy``, ``filesz``, ``expire-after`` and ``qsize`` values.
    """
    entries: list[tuple[str, str, int]] = []
    if not strict:
        for lineno, line in fgets_lines(data):
            if line.startswith(b"#"):
                continue
            first, rest = strtok_first(line.rstrip(b" \t\n"), b":")
            if first is not None:
                entries.append((decode(first), decode(rest), lineno))
        return AuditControl(entries, source=source)
    seen: dict[str, int] = {}
    for lineno, line in physical_lines(data):
        if line.startswith(b"#") or is_blank(line):
            continue
        line = line.rstrip(b" \t")
        check_line(source, lineno, line)
        key_b, colon, rest = line.partition(b":")
        if not colon or not key_b:
            raise EventDatabaseError(source, lineno, "expected key:value")
        key, value = decode(key_b), decode(rest)
        if key in seen and key != "dir":
            raise EventDatabaseError(
                source, lineno, f"{key!r} already set on line {seen[key]}; libbsm uses the first"
            )
        seen[key] = lineno
        _check_value(key, value, classes, source, lineno)
        entries.append((key, value, lineno))
    return AuditControl(entries, source=source)


def _check_value(
    key: str, value: str, classes: ClassTable | None, source: str, lineno: int
) -> None:
    try:
        if key in ("flags", "naflags") and classes is not None:
            parse_flags(value, classes)
        elif key == "minfree":
            if re.fullmatch(r"\d+", value) is None or int(value) > 100:
                raise ValueError(f"minfree {value!r} is not a percentage")
        elif key in _VALIDATORS:
            _VALIDATORS[key](value)
    except ValueError as exc:
        raise EventDatabaseError(source, lineno, str(exc)) from exc


class AuditUser(NamedTuple):
    """One audit_user entry: classes always and never audited for ``name``."""

    name: str
    always: AuditMask
    never: AuditMask
    always_flags: str
    never_flags: str
    line: int


class AuditUsers:
    """audit_user entries; lookups take the first entry for a name."""

    def __init__(self, users: list[AuditUser], *, source: str) -> None:
        self.source = source
        self.users: tuple[AuditUser, ...] = tuple(users)
        self._by_name: dict[str, AuditUser] = {}
        for user in users:
            self._by_name.setdefault(user.name, user)

    def get(self, name: str) -> AuditUser | None:
        """``getauusernam``."""
        return self._by_name.get(name)

    def __iter__(self) -> Iterator[AuditUser]:
        return iter(self.users)

    def __len__(self) -> int:
        return len(self.users)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name


def parse_audit_user(
    data: bytes, classes: ClassTable, *, source: str = "audit_user", strict: bool = True
) -> AuditUsers:
    """Parse audit_user (``user:always:never``; ``never`` may not be empty, write ``no``).

    libbsm stops enumerating at the first invalid line (blank lines included), which hides
    every user after it; ``strict=False`` reproduces that, ``strict=True`` raises
    :class:`EventDatabaseError` instead and skips blank lines. Strict mode also rejects a
    user listed twice.
    """
    users: list[AuditUser] = []
    if not strict:
        for lineno, line in fgets_lines(data):
            if line.startswith(b"#"):
                continue
            try:
                users.append(_user(strtok(line, b":"), lineno, classes))
            except ValueError:
                break
        return AuditUsers(users, source=source)
    seen: dict[str, int] = {}
    for lineno, line in physical_lines(data):
        if line.startswith(b"#") or is_blank(line):
            continue
        check_line(source, lineno, line)
        fields = line.split(b":")
        if len(fields) != 3 or not all(fields):
            raise EventDatabaseError(
                source,
                lineno,
                "expected user:always:never with no empty field (write 'no' for none)",
            )
        try:
            user = _user(fields, lineno, classes)
        except ValueError as exc:
            raise EventDatabaseError(source, lineno, str(exc)) from exc
        if user.name in seen:
            raise EventDatabaseError(
                source, lineno, f"user {user.name!r} already listed on line {seen[user.name]}"
            )
        seen[user.name] = lineno
        users.append(user)
    return AuditUsers(users, source=source)


def _user(fields: list[bytes], lineno: int, classes: ClassTable) -> AuditUser:
    if len(fields) < 3:
        raise ValueError(f"{len(fields)} field(s), 3 needed")
    if len(fields[0]) >= USER_NAME_MAX:
        raise ValueError(f"user name is {len(fields[0])} bytes (limit {USER_NAME_MAX - 1})")
    always_s, never_s = decode(fields[1]), decode(fields[2])
    try:
        always = parse_flags(always_s, classes)
        never = parse_flags(never_s, classes)
    except AuditFlagsError as exc:
        raise ValueError(str(exc)) from exc
    return AuditUser(decode(fields[0]), always, never, always_s, never_s, lineno)


def system_mask(control: AuditControl | None, classes: ClassTable, key: str = "flags") -> AuditMask:
    """The masks of audit_control's ``flags`` (or ``naflags``); zero when absent."""
    if control is None:
        return AuditMask()
    value = control.get(key) or ""
    try:
        return parse_flags(value, classes)
    except AuditFlagsError as exc:
        line = control.line_of(key)
        raise EventDatabaseError(control.source, line, f"{key}: {exc}") from exc


def user_mask(
    user: str | None,
    control: AuditControl | None,
    users: AuditUsers | None,
    classes: ClassTable,
) -> AuditMask:
    """``au_user_mask``: the preselection mask for ``user``.

    A user listed in audit_user gets the system ``flags`` plus ``always`` minus ``never``
    (``getfauditflags``); anyone else gets the system ``flags``. ``user=None`` stands for
    non-attributable events, which use ``naflags``. Missing files count as empty.
    """
    if user is None:
        return system_mask(control, classes, "naflags")
    entry = users.get(user) if users is not None else None
    base = system_mask(control, classes)
    if entry is None:
        return base
    return (base | entry.always).without(entry.never)

"""User and group databases for rendering uids and gids as names (praudit's ``getpwuid`` /
``getgrgid``, ``docs/bsm-format.md`` §3.2).

By default the names come from the system database (``pwd.getpwall()`` /
``grp.getgrall()``), as praudit's do. A file in ``passwd`` format (7 fields), FreeBSD's
``master.passwd`` format (10 fields) or ``group`` format can be given instead, which makes
the output independent of the machine. As with ``getpwuid``, the **first** entry for an id
wins; the renderer keeps the first of each id, so the lists keep file order.

Names are bytes (the user database is not guaranteed to be UTF-8).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path

from .errors import BSMWarning

__all__ = [
    "IdNames",
    "NamesArg",
    "PathArg",
    "parse_group",
    "parse_passwd",
    "read_group",
    "read_passwd",
    "resolve_groups",
    "resolve_users",
    "system_groups",
    "system_users",
]

#: ``(id, name)`` pairs in lookup order: the first pair for an id wins.
IdNames = list[tuple[int, bytes]]
PathArg = str | os.PathLike[str]
#: What the renderers accept for a user or group table.
NamesArg = None | PathArg | Mapping[int, str | bytes] | Iterable[tuple[int, str | bytes]]


#: Digits of the largest id strtoul reads without overflow (2**64 - 1); a longer field is
#: no id any system wrote, and converting it would cost quadratic time.
_MAX_DIGITS = 20


def _c_uint(field: bytes) -> int | None:
    """A uid/gid field as glibc's files backend reads it: decimal digits with an optional
    sign, converted to ``uid_t`` (so ``-1`` is 4294967295); anything else skips the line.
    A number beyond 2**64 - 1 (strtoul's overflow) also skips it."""
    text = field.strip()
    neg = text.startswith(b"-")
    digits = text[1:] if neg or text.startswith(b"+") else text
    if not digits.isdigit() or len(digits.lstrip(b"0")) > _MAX_DIGITS:
        return None
    value = int(digits)
    if value >= 1 << 64:
        return None
    return (-value if neg else value) & 0xFFFFFFFF


def _parse(data: bytes, id_field: int, min_fields: int, source: str = "") -> IdNames:
    """The (id, name) pairs of a passwd-like file. Lines whose id is not a number are
    skipped, as the C library does; each is named in a :class:`~bsmtrail.BSMWarning`
    (``source`` names the file), since an evidence file is attacker-controlled."""
    out: IdNames = []
    skipped: list[int] = []
    for number, line in enumerate(data.splitlines(), start=1):
        # Comments, blank lines and NIS compat entries (+name, -name) are not users.
        if not line or line.startswith((b"#", b"+", b"-")):
            continue
        fields = line.split(b":")
        if len(fields) < min_fields or not fields[0]:
            continue
        ident = _c_uint(fields[id_field])
        if ident is None:
            skipped.append(number)
            continue
        out.append((ident, fields[0]))
    if skipped:
        lines = ", ".join(map(str, skipped[:10])) + (" ..." if len(skipped) > 10 else "")
        warnings.warn(
            f"{source or 'names'}: {len(skipped)} line(s) without a valid id skipped "
            f"(line {lines})",
            BSMWarning,
            stacklevel=3,
        )
    return out


def parse_passwd(data: bytes, source: str = "") -> IdNames:
    """``(uid, name)`` from a ``passwd`` (7 fields) or ``master.passwd`` (10 fields) file."""
    return _parse(data, 2, 4, source)


def parse_group(data: bytes, source: str = "") -> IdNames:
    """``(gid, name)`` from a ``group`` file (``name:password:gid:members``)."""
    return _parse(data, 2, 3, source)


def read_passwd(path: PathArg) -> IdNames:
    return parse_passwd(Path(path).read_bytes(), os.fspath(path))


def read_group(path: PathArg) -> IdNames:
    return parse_group(Path(path).read_bytes(), os.fspath(path))


def system_users() -> IdNames:
    """Every user of the system database, in its order (empty where there is none)."""
    try:
        import pwd
    except ImportError:  # pragma: no cover - not a POSIX system
        return []
    return [(p.pw_uid & 0xFFFFFFFF, os.fsencode(p.pw_name)) for p in pwd.getpwall()]


def system_groups() -> IdNames:
    try:
        import grp
    except ImportError:  # pragma: no cover - not a POSIX system
        return []
    return [(g.gr_gid & 0xFFFFFFFF, os.fsencode(g.gr_name)) for g in grp.getgrall()]


def _pairs(names: Mapping[int, str | bytes] | Iterable[tuple[int, str | bytes]]) -> IdNames:
    items = names.items() if isinstance(names, Mapping) else names
    return [(int(i) & 0xFFFFFFFF, n if isinstance(n, bytes) else os.fsencode(n)) for i, n in items]


def resolve_users(users: NamesArg) -> IdNames:
    """``None`` → the system database; a path → a passwd/master.passwd file; a mapping or
    pairs → used as given."""
    if users is None:
        return system_users()
    if isinstance(users, (str, os.PathLike)):
        return read_passwd(users)
    return _pairs(users)


def resolve_groups(groups: NamesArg) -> IdNames:
    """``None`` → the system database; a path → a group file; a mapping or pairs → as
    given."""
    if groups is None:
        return system_groups()
    if isinstance(groups, (str, os.PathLike)):
        return read_group(groups)
    return _pairs(groups)

"""Text from the evidence, made safe to show on a terminal.

File names, paths, process names, user and event names in a trail from a compromised
machine are the attacker's: an escape sequence in one can clear the screen, set the window
title or move the cursor, and a newline or carriage return can forge a line of our own
output ("damage: none"). Every human-readable output except praudit-compatible text
(``print``, whose bytes must be praudit's) passes such strings through :func:`printable`:
control characters (C0, DEL, C1), line and paragraph separators, bidirectional overrides
and other invisible format characters become ``\\xNN``/``\\uNNNN`` escapes, bytes that
were not UTF-8 (decoded with ``surrogateescape``) become ``\\xNN``, and a backslash
becomes ``\\\\`` so that an escape is never ambiguous with the same text in a name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["printable", "text_table"]

_UNSAFE = re.compile(
    "[\\x00-\\x1f\\x7f-\\x9f\\\\\u061c\u200b-\u200f\u2028\u2029\u202a-\u202e"
    "\u2060-\u2069\ufeff\ud800-\udfff]"
)


def _escape(m: re.Match[str]) -> str:
    c = m.group()
    if c == "\\":
        return "\\\\"
    o = ord(c)
    if 0xDC80 <= o <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{o - 0xDC00:02x}"
    return f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}"


def printable(text: object) -> str:
    """``str(text)`` with every character that could act on a terminal escaped."""
    return _UNSAFE.sub(_escape, str(text))


def aligned_table(rows: Iterable[Sequence[object]], header: Sequence[str]) -> str:
    """Rows under a header, each column left-aligned to its widest cell, cells escaped."""
    cells = [list(header), *([printable(c) for c in r] for r in rows)]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join(lines) + "\n"


def text_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An aligned text table (numbers right-aligned)."""
    if not rows:
        return f"{title}: none\n"
    cells = [[("" if v is None else printable(v)) for v in r] for r in rows]
    numeric = [
        all(isinstance(r[i], int) or str(r[i]).endswith("%") for r in rows)
        for i in range(len(headers))
    ]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def fmt(row: Sequence[str]) -> str:
        parts = [
            (v.rjust(w) if num else v.ljust(w))
            for v, w, num in zip(row, widths, numeric, strict=True)
        ]
        return "  " + "  ".join(parts).rstrip()

    lines = [f"{title}:", fmt(headers), fmt(["-" * w for w in widths])]
    lines += [fmt(r) for r in cells]
    return "\n".join(lines) + "\n"

"""Line-level checks shared by the strict parsers."""

from __future__ import annotations

import re
from collections.abc import Iterator

from ._clib import LINE_MAX
from ._model import EventDatabaseError

_BLANK = re.compile(rb"[ \t\v\f\r]*")


def physical_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """``(line_number, line)`` for every ``\\n``-terminated line (the last may lack it)."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    yield from enumerate(lines, start=1)


def is_blank(line: bytes) -> bool:
    return _BLANK.fullmatch(line) is not None


def check_line(source: str, lineno: int, line: bytes) -> None:
    """Reject what libbsm would read differently from how the line looks (strict mode)."""
    if len(line) + 1 > LINE_MAX - 1:
        raise EventDatabaseError(
            source,
            lineno,
            f"line is {len(line)} bytes long; libbsm reads at most {LINE_MAX - 2} bytes "
            "plus the newline and would parse the rest as another line",
        )
    if b"\0" in line:
        raise EventDatabaseError(source, lineno, "NUL byte in line; libbsm stops reading there")
    if b"\r" in line:
        raise EventDatabaseError(
            source,
            lineno,
            "carriage return in line (CRLF line ending?); libbsm keeps it in the last field",
        )


class LineKeeper:
    """Remembers skipped lines (comments, blank lines) so a table can be written back out."""

    def __init__(self) -> None:
        self.skipped: dict[int, bytes] = {}

    def skip(self, lineno: int, line: bytes) -> None:
        self.skipped[lineno] = line

    def merge(self, emitted: dict[int, bytes]) -> bytes:
        every = dict(self.skipped)
        every.update(emitted)
        return b"".join(every[n] + b"\n" for n in sorted(every))

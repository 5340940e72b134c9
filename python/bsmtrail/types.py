"""The argument types the public API shares, in one place.

Every module that takes a trail, a list of paths, an event database or a mode uses these
aliases, so a function's signature means the same thing wherever it appears.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, BinaryIO, Literal, Union

if TYPE_CHECKING:
    from .events import EventDatabase

__all__ = ["EventsArg", "EventsOption", "Mode", "PathsArg", "Source", "worker_threads"]

#: ``"strict"`` raises at the first problem; ``"recover"`` skips damage, resynchronises on
#: the next record whose header count lands on a valid trailer, and reports what it skipped.
Mode = Literal["strict", "recover"]

#: One trail: a path, its bytes, or a binary file object.
Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, BinaryIO]

#: Trails by name: one path, a directory (its trails, sorted), a glob pattern, or an
#: iterable of those (``bsmtrail.sources.expand`` says the rule).
PathsArg = Union[str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]]

#: An event database, an audit_event path, or None for the default lookup order.
EventsArg = Union["EventDatabase", str, "os.PathLike[str]", None]

#: As :data:`EventsArg`, or False for no event columns at all.
EventsOption = Union["EventDatabase", str, "os.PathLike[str]", None, Literal[False]]


def worker_threads(threads: int | None) -> int:
    """A public ``threads`` argument (None: every core; else at least 1) as the native
    code takes it (0: every core); ``ValueError`` for anything else."""
    if threads is not None and threads < 1:
        raise ValueError("threads must be None (every core) or at least 1")
    return threads or 0

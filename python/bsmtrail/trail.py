"""Opening trails and iterating their records.

A :class:`Trail` wraps the native reader: files are memory-mapped, ``bytes`` are shared
without copying, and framing, trailer checks and token decoding run in Rust. Iteration
yields lazy :class:`~bsmtrail._native.Record` views; nothing is decoded into Python objects
until a record's ``tokens`` are asked for.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Union

from . import _native
from ._native import Record
from .errors import BSMError

Source = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, BinaryIO]

__all__ = ["Record", "ScanResult", "Source", "Trail", "open", "parse_record"]


@dataclass(frozen=True)
class ScanResult:
    """What a full pass over a trail found."""

    records: int
    file_tokens: int
    bytes: int
    nbytes: int
    first_seconds: int | None
    last_seconds: int | None
    token_counts: dict[str, int]
    error: BSMError | None

    @property
    def ok(self) -> bool:
        """True when the whole input framed and decoded cleanly."""
        return self.error is None and self.bytes == self.nbytes


class Trail:
    """A BSM trail. Iterate it for records; errors raise :class:`BSMError` subclasses
    carrying the byte offset where decoding failed."""

    def __init__(self, source: Source, *, name: str | None = None) -> None:
        if hasattr(source, "read"):
            data = source.read()
            if not isinstance(data, (bytes, bytearray)):
                raise TypeError("file objects must be opened in binary mode")
            self.name = name or str(getattr(source, "name", "<stream>"))
            self._reader = _native.Reader(bytes(data))
        else:
            if isinstance(source, (str, os.PathLike)):
                self.name = name or os.fspath(source)
            else:
                self.name = name or "<bytes>"
            self._reader = _native.Reader(source)

    @property
    def nbytes(self) -> int:
        """Size of the input in bytes."""
        return self._reader.nbytes

    def __iter__(self) -> Iterator[Record]:
        return iter(self._reader)

    def __repr__(self) -> str:
        return f"<Trail {self.name!r} {self.nbytes} bytes>"

    def file_tokens(self) -> list[dict[str, object]]:
        """The standalone file tokens (0x11) between records, in order."""
        return self._reader.file_tokens()

    def scan(self, *, decode: bool = True) -> ScanResult:
        """Frame (and with ``decode``, fully decode) the whole trail in Rust without the
        GIL. Problems are reported in ``error``, not raised."""
        d = self._reader.scan(decode=decode)
        return ScanResult(
            records=d["records"],
            file_tokens=d["file_tokens"],
            bytes=d["bytes"],
            nbytes=d["nbytes"],
            first_seconds=d["first_seconds"],
            last_seconds=d["last_seconds"],
            token_counts=dict(d["token_counts"]),
            error=d["error"],
        )


def open(source: Source, *, name: str | None = None) -> Trail:
    """Open a trail from a path, ``bytes``/``bytearray``/``memoryview``, or a binary file
    object."""
    return Trail(source, name=name)


def parse_record(data: bytes | bytearray | memoryview) -> Record:
    """Decode exactly one record (for example from DTrace's dtaudit ``bsm()`` probe)."""
    return _native.parse_record(data)

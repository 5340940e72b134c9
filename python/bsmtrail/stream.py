"""Records from input that arrives in pieces: stdin, pipes, sockets, auditpipe(4), and a
trail that is still being written (follow mode).

Framing happens in Rust (:class:`bsmtrail._native.StreamDecoder`): a record cut at the
current end of input is held until its last byte arrives, never reported as damage; real
damage is skipped and listed in :attr:`Stream.damage`. Memory stays bounded by
``max_record`` whatever the input claims.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from typing import IO, BinaryIO

from . import _native
from ._native import Record
from .sources import decompressing_stream
from .tally import DamageLog

__all__ = ["Stream", "follow", "stream"]

DEFAULT_CHUNK = 1 << 16


class Stream:
    """Iterate the records of a binary stream as they arrive.

    ``source`` is a binary file object (``sys.stdin.buffer``, a socket's ``makefile("rb")``,
    an open file) or a path. With ``follow=True`` the end of input is not the end: the
    stream waits ``poll_interval`` seconds and reads again (``tail -f``), until
    ``idle_timeout`` seconds pass with no new bytes (``None``: forever) or ``stop()`` returns
    true. Following a path also notices rotation (the path now names another file: the
    old one is drained first) and truncation in place (copytruncate: reading starts over
    from the file's start), and after a poll with no new bytes gives up a record still
    waiting if whole records have arrived after it (auditd writes records whole, so a
    header claiming more than was written before later records is damage).
    """

    def __init__(
        self,
        source: BinaryIO | str | os.PathLike[str],
        *,
        follow: bool = False,
        poll_interval: float = 0.25,
        idle_timeout: float | None = None,
        stop: Callable[[], bool] | None = None,
        chunk_size: int = DEFAULT_CHUNK,
        max_record: int | None = None,
    ) -> None:
        self._path: str | None = None
        self._file: BinaryIO | None = None
        if isinstance(source, (str, os.PathLike)):
            self._path = os.fspath(source)
        else:
            self._file = source
        self.follow = follow
        self.poll_interval = poll_interval
        self.idle_timeout = idle_timeout
        self.stop = stop
        self.chunk_size = chunk_size
        self.max_record = max_record
        self._decoder = _native.StreamDecoder(max_record=max_record)
        self._damage = _native.DamageLog()

    @property
    def damage(self) -> DamageLog:
        """Regions skipped so far, with stream offsets (bounded: :mod:`bsmtrail.tally`)."""
        return DamageLog.of(self._damage)

    @property
    def position(self) -> int:
        """Stream offset of the first byte not yet framed."""
        return self._decoder.position

    def _read(self, f: BinaryIO | IO[bytes]) -> bytes:
        read1 = getattr(f, "read1", None)
        data = read1(self.chunk_size) if read1 is not None else f.read(self.chunk_size)
        return data or b""

    def _rotated(self, f: BinaryIO | IO[bytes]) -> bool:
        if self._path is None:
            return False
        try:
            return os.stat(self._path).st_ino != os.fstat(f.fileno()).st_ino
        except (OSError, io.UnsupportedOperation):
            return False

    @staticmethod
    def _truncated(f: BinaryIO | IO[bytes]) -> bool:
        """The file is shorter than what was read of it: truncated in place (logrotate's
        copytruncate), so what comes next is written from its start."""
        try:
            return os.fstat(f.fileno()).st_size < f.tell()
        except (OSError, io.UnsupportedOperation, ValueError):
            return False

    def __iter__(self) -> Iterator[Record]:
        f: BinaryIO | IO[bytes] | None = self._file
        if f is None:
            assert self._path is not None
            f = open(self._path, "rb")
        opened = f  # closed at the end when this stream opened it
        try:
            idle_since = time.monotonic()
            head = b""
            if not self.follow:
                # A compressed stream (gzip, bzip2, xz, zstd) is recognised by its first
                # bytes and read decompressed; a followed file grows, so it is never one.
                head = self._read(f)
                unpacked = decompressing_stream(head, f)
                if unpacked is not None:
                    f, head = unpacked, b""
            while True:
                data = head or self._read(f)
                head = b""
                if data:
                    idle_since = time.monotonic()
                    yield from self._decoder.feed(data, self._damage)
                    continue
                if not self.follow or (self.stop is not None and self.stop()):
                    break
                # Quiet for a poll: a record still waiting is given up if whole records
                # arrived after it (planted bytes claiming megabytes would hold them back).
                yield from self._decoder.settle(self._damage)
                if self._truncated(f):
                    # Truncated in place: what was waiting will never complete; the new
                    # content starts at offset 0.
                    yield from self._decoder.finish(self._damage)
                    f.seek(0)
                    self._decoder = _native.StreamDecoder(max_record=self.max_record)
                    continue
                if self._rotated(f):
                    # Drain what the old file still holds, then switch to the new one.
                    while rest := self._read(f):
                        yield from self._decoder.feed(rest, self._damage)
                    yield from self._decoder.finish(self._damage)
                    f.close()
                    assert self._path is not None
                    f = open(self._path, "rb")
                    self._decoder = _native.StreamDecoder(max_record=self.max_record)
                    continue
                if (
                    self.idle_timeout is not None
                    and time.monotonic() - idle_since >= self.idle_timeout
                ):
                    break
                time.sleep(self.poll_interval)
            yield from self._decoder.finish(self._damage)
        finally:
            if f is not opened:
                f.close()  # the decompressing reader (it leaves the raw file open)
            if self._file is None:
                f.close()
                opened.close()


def stream(
    source: BinaryIO | str | os.PathLike[str],
    *,
    chunk_size: int = DEFAULT_CHUNK,
    max_record: int | None = None,
) -> Stream:
    """Records of a stream read to its end (see :class:`Stream`)."""
    return Stream(source, chunk_size=chunk_size, max_record=max_record)


def follow(
    source: BinaryIO | str | os.PathLike[str],
    *,
    poll_interval: float = 0.25,
    idle_timeout: float | None = None,
    stop: Callable[[], bool] | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    max_record: int | None = None,
) -> Stream:
    """Records of a trail that is still being written, as they are written."""
    return Stream(
        source,
        follow=True,
        poll_interval=poll_interval,
        idle_timeout=idle_timeout,
        stop=stop,
        chunk_size=chunk_size,
        max_record=max_record,
    )

"""Audit records captured from DTrace's dtaudit provider.

FreeBSD's kernel (12.0 and later, ``options KDTRACE_HOOKS``, ``kldload dtaudit``) fires
``audit:event:<name>:bsm`` for every audit record it converts to BSM, whether or not the
audit configuration writes it to a trail: ``args[0]`` is the event's name (lower case),
``args[2]`` the record's bytes and ``args[3]`` their length. :func:`script` is a D script
that prints each record; :func:`read` reads what ``dtrace -s script.d -o capture.txt``
wrote back into the exact records, and every command line input accepts such a capture
like a trail (:func:`bsmtrail.sources.materialize` converts it).

The capture format (version 1) is what DTrace prints for the script:

* a first line ``bsmtrail-dtaudit 1 max-bytes=N`` (``BEGIN``);
* per record, a line ``bsmtrail-record NAME LENGTH`` followed by ``tracemem()``'s raw
  dump of the bytes: libdtrace's ``dt_print_bytes`` with ``forceraw`` prints a column
  header (``  0  1 ... f  0123456789abcdef``) and then, for every 16 bytes, the offset as
  ``%5x:`` after a five-space margin, `` %02x`` per byte, padding, and the bytes as
  characters; then an empty line.

At most ``max-bytes`` of a record are dumped (``tracemem``'s static size; the kernel's
largest record is 32,767 bytes, ``MAX_AUDIT_RECORD_SIZE``), so a longer record arrives
cut, and a capture stopped mid-record ends inside a dump: both are reported as incomplete
(:attr:`CapturedRecord.complete` false), never passed off as records. Lines between
records that are not the script's (``dtrace:`` messages when standard error was captured
too, other probes' output) are skipped and counted.

A capture comes from a machine an attacker may control, so nothing is allocated from what
it claims: a line is never held beyond 4 KiB, a record's bytes never beyond its stated
length and the script's ``max-bytes`` (itself at most 32,767), and a dump that goes
further, or whose offsets skip, is an error naming the line.
"""

from __future__ import annotations

import errno
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, BinaryIO, Protocol

from .errors import BSMWarning

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "CaptureFormatError",
    "CaptureSummary",
    "CapturedRecord",
    "complete_records",
    "read",
    "script",
    "write_trail",
]

#: The first bytes of a capture (also how :func:`bsmtrail.sources.sniff_bytes` knows one).
MAGIC = b"bsmtrail-dtaudit"
#: The capture format :func:`script` prints and :func:`read` reads.
FORMAT_VERSION = 1
#: The kernel's largest audit record (``MAX_AUDIT_RECORD_SIZE`` in ``<bsm/audit.h>``).
MAX_RECORD = 32767
#: Lines longer than this are not the script's (a dump line is 79 bytes).
_MAX_LINE = 4096

_FIRST = re.compile(rb"^bsmtrail-dtaudit (\d+) max-bytes=(\d+)\s*$")
_RECORD = re.compile(rb"^bsmtrail-record (\S*) (\d+)\s*$")
#: The dump's column header, without its margin.
_COLUMNS = b"  ".join(b"%x" % i for i in range(16)) + b"  0123456789abcdef"
_DATA = re.compile(rb"^ *([0-9a-f]+):((?: [0-9a-f]{2}){1,16})(?:   |  |$)")
#: Probe names are event names: letters, digits and underscores (``aue_execve``).
_EVENT_NAME = re.compile(r"^[a-z0-9_*]+$")


class _Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class CaptureFormatError(ValueError):
    """Input that is not a dtaudit capture written by :func:`script`'s D script, or a
    dump line that contradicts the format (an offset out of sequence)."""


@dataclass(frozen=True)
class CapturedRecord:
    """One record from a capture: the probe's event name, the length the probe gave, the
    bytes dumped, the capture line its ``bsmtrail-record`` line is on (1-based), and
    whether the bytes are the whole record (``reason`` says why not)."""

    event: str
    length: int
    data: bytes
    line: int
    reason: str | None = None

    @property
    def complete(self) -> bool:
        return self.reason is None


@dataclass
class CaptureSummary:
    """What :func:`write_trail` wrote and what it left out."""

    records: int = 0
    bytes: int = 0
    #: Records not written: cut by the script's ``max-bytes`` or by the capture's end.
    incomplete: list[CapturedRecord] = field(default_factory=list)
    #: Lines that were not the script's, skipped.
    other_lines: int = 0


def script(events: Sequence[str] = (), *, max_bytes: int = MAX_RECORD) -> str:
    """The D script: run it as ``dtrace -s bsmtrail.d -o capture.txt`` (as root, with the
    ``dtaudit`` module loaded). ``events`` limits it to those events (names as in
    ``audit_event``, any case, ``*`` allowed: ``AUE_EXECVE``, ``aue_open*``); ``max_bytes``
    is the most of one record it dumps (``tracemem``'s static size)."""
    if not 25 <= max_bytes <= MAX_RECORD:
        raise ValueError(f"max_bytes must be between 25 and {MAX_RECORD}, not {max_bytes}")
    names = [e.lower() for e in events] or ["*"]
    for n in names:
        if not _EVENT_NAME.match(n):
            raise ValueError(f"not an event name: {n!r} (letters, digits, _ and *)")
    probes = ",\n".join(f"audit:event:{n}:bsm" for n in names)
    return f"""\
#!/usr/sbin/dtrace -s
/*
 * bsmtrail dtaudit capture, format {FORMAT_VERSION}: every BSM record the kernel builds,
 * as handed to the dtaudit provider's bsm() probe (FreeBSD 12.0 and later; load the
 * provider with `kldload dtaudit`). Written by `bsmtrail dtaudit-script`.
 *
 *   dtrace -s bsmtrail.d -o capture.txt
 *   bsmtrail print capture.txt
 *
 * args[0]: event name, args[2]: the record's BSM bytes, args[3]: their length.
 * tracemem() dumps at most {max_bytes} bytes; bsmtrail reports a longer record as cut.
 */

#pragma D option quiet
#pragma D option bufsize=16m
#pragma D option switchrate=10hz

BEGIN
{{
	printf("bsmtrail-dtaudit {FORMAT_VERSION} max-bytes=%d\\n", {max_bytes});
}}

{probes}
{{
	printf("bsmtrail-record %s %d", stringof(args[0]), args[3]);
	tracemem(args[2], {max_bytes}, args[3]);
	printf("\\n");
}}
"""


def _lines(f: _Readable) -> Iterator[tuple[int, bytes | None, bool]]:
    """(line number, line without its end, whether it ended) for each line of ``f``
    (anything with ``read``); the line is ``None`` when longer than :data:`_MAX_LINE`:
    not the script's, and never held whole. Only the last line can be unended (a
    capture stopped there)."""
    number, buf, overlong = 0, b"", False
    # read1 where there is one: a live capture (dtrace piped in) is read as it arrives.
    read = getattr(f, "read1", f.read)
    while chunk := read(1 << 16):
        buf += chunk
        start = 0
        while (end := buf.find(b"\n", start)) >= 0:
            line = buf[start:end]
            start = end + 1
            number += 1
            long = overlong or len(line) > _MAX_LINE
            yield number, None if long else line.rstrip(b"\r"), True
            overlong = False
        buf = buf[start:]
        if len(buf) > _MAX_LINE:
            buf, overlong = b"", True
    if buf or overlong:
        yield number + 1, None if overlong else buf.rstrip(b"\r"), False


def _open(source: str | os.PathLike[str] | BinaryIO) -> tuple[IO[bytes], bool]:
    if isinstance(source, (str, os.PathLike)):
        return open(source, "rb"), True
    return source, False


def read(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    summary: CaptureSummary | None = None,
    head: bytes = b"",
) -> Iterator[CapturedRecord]:
    """The records of a capture (a path or a binary stream, read as it arrives), in the
    order DTrace printed them (per CPU buffer, so not strictly in time). Incomplete records
    are yielded too, flagged; ``summary``, when given, counts the lines skipped; ``head``
    is the stream's first bytes when the caller already read them (to recognise it).
    Raises :class:`CaptureFormatError` for input that is not a capture, naming the line."""
    f, owned = _open(source)
    try:
        src: _Readable = _Prefixed(head, f) if head else f
        yield from _records(src, summary if summary is not None else CaptureSummary())
    finally:
        if owned:
            f.close()


class _Prefixed:
    """``head``, then the rest of a stream read as it arrives."""

    def __init__(self, head: bytes, rest: _Readable) -> None:
        self._head, self._read = head, getattr(rest, "read1", rest.read)

    def read1(self, n: int = -1) -> bytes:
        if self._head:
            out, self._head = self._head, b""
            return out
        return bytes(self._read(n))

    read = read1


def _records(f: _Readable, summary: CaptureSummary) -> Iterator[CapturedRecord]:
    lines = _lines(f)
    max_bytes = _header(lines)
    pending: tuple[str, int, int] | None = None  # event, length, line
    data = bytearray()
    columns = False  # the dump's column header seen

    def finish(reason_at_end: str | None) -> CapturedRecord:
        assert pending is not None
        event, length, at = pending
        got = len(data)
        if got == length:
            reason = None
        elif got == max_bytes:
            reason = f"cut at the script's max-bytes ({max_bytes}) of {length} bytes"
        else:
            reason = reason_at_end or f"{got} of {length} bytes dumped"
        return CapturedRecord(event, length, bytes(data), at, reason)

    for number, line, ended in lines:
        if line is None:
            summary.other_lines += 1
            continue
        # A line the capture stopped in ends nothing: a record line may have lost digits
        # of its length, and a blank start may be a dump's margin.
        m = _RECORD.match(line) if ended else None
        if m is not None or (ended and not line.strip()):
            if pending is not None:
                yield finish(None)
                pending = None
            if m is not None:
                name = m.group(1).decode("ascii", "replace")
                pending, columns = (name, int(m.group(2)), number), False
                data.clear()
            continue
        if pending is not None:
            if not columns and line.strip() == _COLUMNS:
                columns = True
                continue
            d = _DATA.match(line)
            if columns and d is not None:
                offset = int(d.group(1), 16)
                if offset != len(data):
                    raise CaptureFormatError(
                        f"line {number}: dump offset {offset:#x} where {len(data):#x} "
                        f"was expected (record of line {pending[2]})"
                    )
                row = bytes.fromhex(d.group(2).decode("ascii"))
                # tracemem() dumps at most the record's length and the script's limit, so
                # a record's bytes are never held beyond the kernel's largest record.
                if len(data) + len(row) > min(pending[1], max_bytes):
                    raise CaptureFormatError(
                        f"line {number}: more bytes dumped than the record's length "
                        f"({pending[1]}) or the script's max-bytes ({max_bytes}) allow "
                        f"(record of line {pending[2]})"
                    )
                data += row
                continue
        summary.other_lines += 1
    if pending is not None:
        yield finish("the capture ends inside this record's dump")


def _header(lines: Iterator[tuple[int, bytes | None, bool]]) -> int:
    """Check the first line; returns the script's max-bytes."""
    for number, line, _ in lines:
        m = _FIRST.match(line or b"")
        if m is None:
            shown = (line or b"")[:60].decode("utf-8", "backslashreplace")
            raise CaptureFormatError(
                f"line {number}: not a bsmtrail dtaudit capture (it starts with "
                f"{MAGIC.decode()} {FORMAT_VERSION}; this line is {shown!r})"
            )
        version, max_bytes = int(m.group(1)), int(m.group(2))
        if version != FORMAT_VERSION:
            raise CaptureFormatError(
                f"line {number}: capture format {version}; this bsmtrail reads "
                f"format {FORMAT_VERSION}"
            )
        if not 1 <= max_bytes <= MAX_RECORD:
            raise CaptureFormatError(
                f"line {number}: max-bytes={max_bytes} is outside 1..{MAX_RECORD} (the "
                "kernel's largest record): not the script's"
            )
        return max_bytes
    raise CaptureFormatError("empty input: not a bsmtrail dtaudit capture")


def complete_records(
    source: str | os.PathLike[str] | BinaryIO, name: str, *, head: bytes = b""
) -> Iterator[bytes]:
    """What a command reads of capture ``name``: the bytes of each complete record as it
    arrives. An incomplete record is a :class:`~bsmtrail.errors.BSMWarning` naming its
    line, and input that is not a capture an ``OSError`` (``EINVAL``) naming ``name``."""
    try:
        for rec in read(source, head=head):
            if rec.complete:
                yield rec.data
            else:
                warnings.warn(
                    BSMWarning(
                        f"{name}: line {rec.line}: {rec.event or 'unnamed'} record left "
                        f"out: {rec.reason}"
                    ),
                    stacklevel=2,
                )
    except CaptureFormatError as e:
        raise OSError(errno.EINVAL, str(e), name) from None


def write_trail(source: str | os.PathLike[str] | BinaryIO, out: BinaryIO) -> CaptureSummary:
    """Write the complete records of a capture to ``out`` as a trail (their bytes one
    after another); incomplete ones are left out and listed in the summary."""
    summary = CaptureSummary()
    for rec in read(source, summary=summary):
        if rec.complete:
            out.write(rec.data)
            summary.records += 1
            summary.bytes += len(rec.data)
        else:
            summary.incomplete.append(rec)
    return summary

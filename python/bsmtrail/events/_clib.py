"""The few C library behaviours libbsm's file parsers depend on, reproduced exactly.

libbsm reads its configuration files with ``fgets`` into a 256-byte buffer, splits fields
with ``strtok`` and converts numbers with ``atoi``/``strtoul``. Each of those has edge cases
(long lines split in two, empty fields vanishing, junk parsing as 0, silent truncation) that
praudit and ``au_preselect`` expose, so the parsers here build on these helpers rather than
on ``str.split`` and ``int``. Everything works on ``bytes``: nothing in these files is
guaranteed to be UTF-8.
"""

from __future__ import annotations

from collections.abc import Iterator

#: ``AU_LINE_MAX``: libbsm's line buffer. ``fgets`` stores at most 255 bytes plus the NUL.
LINE_MAX = 256

#: ``isspace`` in the C locale.
_C_SPACE = b" \t\n\v\f\r"
_LONG_MAX = (1 << 63) - 1
_LONG_MIN = -(1 << 63)
_ULONG_MAX = (1 << 64) - 1


def fgets_lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """Yield ``(line_number, line)`` as libbsm's ``fgets`` loop sees the file.

    Each chunk holds at most 255 bytes, so a longer physical line comes back as several
    chunks, all carrying the physical line's 1-based number. The chunk is cut at its first
    NUL (C string semantics) and a final ``\\n`` is removed; a ``\\r`` is kept.
    """
    limit = LINE_MAX - 1
    lineno = 0
    pos = 0
    end = len(data)
    while pos < end:
        lineno += 1
        nl = data.find(b"\n", pos)
        stop = end if nl < 0 else nl + 1
        while pos < stop:
            chunk = data[pos : min(stop, pos + limit)]
            pos += len(chunk)
            yield lineno, c_string(chunk)


def c_string(chunk: bytes) -> bytes:
    """A buffer filled by ``fgets`` as the C string code sees it, with its newline removed."""
    nul = chunk.find(b"\0")
    if nul >= 0:
        chunk = chunk[:nul]
    if chunk.endswith(b"\n"):
        chunk = chunk[:-1]
    return chunk


def strtok(text: bytes, delims: bytes) -> list[bytes]:
    """All tokens ``strtok`` would return: runs of delimiters separate, empty fields vanish."""
    if len(delims) == 1:
        return [t for t in text.split(delims) if t]
    table = bytes.maketrans(delims, delims[:1] * len(delims))
    return [t for t in text.translate(table).split(delims[:1]) if t]


def strtok_first(text: bytes, delim: bytes) -> tuple[bytes | None, bytes]:
    """One ``strtok_r`` call: the first token and the rest (``last``) as glibc leaves it."""
    start = 0
    while start < len(text) and text[start : start + 1] == delim:
        start += 1
    if start == len(text):
        return None, b""
    stop = text.find(delim, start)
    if stop < 0:
        return text[start:], b""
    return text[start:stop], text[stop + 1 :]


def _skip_space_sign(text: bytes) -> tuple[int, bool]:
    i = 0
    while i < len(text) and text[i] in _C_SPACE:
        i += 1
    negative = False
    if i < len(text) and text[i] in b"+-":
        negative = text[i] == ord("-")
        i += 1
    return i, negative


def atoi(text: bytes) -> int:
    """glibc ``atoi``: ``(int) strtol(text, NULL, 10)``, clamped to ``long`` then cut to 32 bits.

    Returns a signed 32-bit value; callers that store it in a narrower type truncate further.
    """
    i, negative = _skip_space_sign(text)
    start = i
    while i < len(text) and 0x30 <= text[i] <= 0x39:
        i += 1
    value = int(text[start:i]) if i > start else 0
    if negative:
        value = -value
    value = max(_LONG_MIN, min(_LONG_MAX, value))
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def strtoul0(text: bytes) -> tuple[int, int]:
    """glibc ``strtoul(text, &end, 0)``: returns ``(value, consumed)``.

    Base 0 means ``0x``/``0X`` selects hex, a leading ``0`` octal, anything else decimal.
    Overflow gives ``ULONG_MAX``; a minus sign negates modulo 2**64. ``consumed`` is 0 when
    no digits were found (C leaves ``end`` at the start then).
    """
    i, negative = _skip_space_sign(text)
    base = 10
    if text[i : i + 2] in (b"0x", b"0X") and i + 2 < len(text) and _digit(text[i + 2], 16):
        base = 16
        i += 2
    elif text[i : i + 1] == b"0":
        base = 8
    start = i
    while i < len(text) and _digit(text[i], base):
        i += 1
    if i == start:
        return 0, 0
    value = int(text[start:i], base)
    if value > _ULONG_MAX:
        return _ULONG_MAX, i
    if negative:
        value = -value & _ULONG_MAX
    return value, i


def scan_ulong(text: str) -> tuple[int, str] | None:
    """One ``sscanf`` ``%lu``/``%ju`` conversion: ``(value, rest)`` or ``None`` (no digits).

    Skips white space, takes an optional sign and decimal digits; a minus sign negates
    modulo 2**64 and overflow gives ``ULONG_MAX``, as ``strtoul`` does.
    """
    raw = text.encode("utf-8", "surrogateescape")
    i, negative = _skip_space_sign(raw)
    start = i
    while i < len(raw) and 0x30 <= raw[i] <= 0x39:
        i += 1
    if i == start:
        return None
    value = int(raw[start:i])
    if value > _ULONG_MAX:
        value = _ULONG_MAX
    elif negative:
        value = -value & _ULONG_MAX
    return value, raw[i:].decode("utf-8", "surrogateescape")


def wrap_signed64(value: int) -> int:
    """``value`` as a two's-complement 64-bit integer (C's ``time_t``/``long`` overflow)."""
    value &= _ULONG_MAX
    return value - (1 << 64) if value > _LONG_MAX else value


def _digit(byte: int, base: int) -> bool:
    if 0x30 <= byte <= 0x39:
        return byte - 0x30 < base
    if base == 16:
        return 0x61 <= byte | 0x20 <= 0x66
    return False

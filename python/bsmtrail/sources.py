"""Where a trail's bytes come from: naming inputs, recognising them, and making any of
them readable as a plain trail file.

Every entry point (``open``, ``read_trails``/``iter_trails``, ``chunks``, ``dask``,
``stream`` and every command) goes through here, so one rule holds everywhere:

* **Expansion.** A file named by the user is read as given. A directory is walked
  (recursively, sorted, dot files left out) and a glob is expanded; among what they turn
  up, files that are not trails (an earlier Parquet or CSV output, ``.DS_Store``,
  ``audit_control``, an empty file) and links to a file already in the set (auditd's
  ``current``) are skipped, each with a note saying why (:class:`Expansion`).
* **Recognition by content, never by name.** The first bytes say whether a file is a
  trail (a record header or a file token), gzip, bzip2, xz or zstd, empty, or something
  else (:func:`sniff`).
* **Materialising.** A compressed file, or a pipe or device given as a path, is copied
  (decompressed) into a private temporary file, so everything downstream maps or windows
  a plain regular file and memory stays flat whatever its size (:func:`materialize`).
  Offsets are then offsets in the decompressed trail.

Missing inputs raise ``FileNotFoundError`` (and a directory where a trail file is needed
``IsADirectoryError``) naming the path, before anything is read or written.
"""

from __future__ import annotations

import bz2
import errno
import glob as _glob
import gzip
import importlib
import lzma
import os
import shutil
import stat
import sys
import tempfile
import weakref
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Literal

from . import dtaudit
from .types import PathsArg

__all__ = [
    "COMPRESSIONS",
    "LIMITS",
    "DecompressionLimitError",
    "DecompressionLimits",
    "Expansion",
    "Kind",
    "Materialized",
    "PathsArg",
    "Skipped",
    "decompressed_bytes",
    "decompressing_reader",
    "decompressing_stream",
    "expand",
    "materialize",
    "materialize_all",
    "no_records_reason",
    "require_file",
    "sniff",
    "sniff_bytes",
]

#: What a file holds, from its first bytes.
Kind = Literal["trail", "gzip", "bzip2", "xz", "zstd", "dtaudit", "empty", "other"]

#: Compressed kinds, by magic bytes (gzip RFC 1952, bzip2, xz, zstd RFC 8878 frames).
_MAGIC: tuple[tuple[bytes, Kind], ...] = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)
COMPRESSIONS: tuple[str, ...] = tuple(k for _, k in _MAGIC)

#: Bytes :func:`sniff` reads.
SNIFF = 11
#: Header versions BSM writers have used (docs/bsm-format.md §1.2).
_VERSIONS = frozenset({1, 2, 10, 11})
#: The smallest record: a header32 (18 bytes) and a trailer (7).
_MIN_RECORD = 25

#: Token ids a trail can start with: a file token (auditd writes one when it opens a
#: trail) or one of the four record headers (docs/bsm-format.md §4.1, §4.3).
_TRAIL_FIRST = frozenset({0x11, 0x14, 0x15, 0x74, 0x79})

#: Bytes copied at a time while decompressing.
_COPY = 1 << 20


class DecompressionLimitError(OSError):
    """A compressed input expanding past :data:`LIMITS` (a decompression bomb?)."""


@dataclass
class DecompressionLimits:
    """How far a compressed input may expand: a few hundred bytes of bzip2 can hold a
    gigabyte of zeros. Decompression stops with an error once the output passes both
    ``ratio`` times the compressed bytes read so far and ``floor`` bytes, or passes
    ``size`` (None: no absolute cap). Real trails compress 5-50 times."""

    ratio: int = 1000
    floor: int = 64 << 20
    size: int | None = None

    def check(self, name: str | None, kind: str, out: int, consumed: int) -> None:
        if (out > self.floor and out > self.ratio * max(consumed, 1)) or (
            self.size is not None and out > self.size
        ):
            raise DecompressionLimitError(
                errno.EFBIG,
                f"{kind} input expands past the decompression limit ({out:,} bytes from "
                f"{consumed:,}; ratio {self.ratio}:1 beyond {self.floor:,} bytes"
                + (f", at most {self.size:,} bytes" if self.size is not None else "")
                + "): a decompression bomb? bsmtrail.sources.LIMITS sets the limits",
                name,
            )


#: The limits every decompression applies (change its fields to change them).
LIMITS = DecompressionLimits()


class _Counting:
    """A reader counting the bytes read through it (the compressed side of a pipe)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw, self.count = raw, 0

    def read(self, n: int = -1) -> bytes:
        b = self.raw.read(n)
        self.count += len(b)
        return b

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        pass


def sniff_bytes(head: bytes) -> Kind:
    """The kind of a file whose first bytes are ``head`` (:data:`SNIFF` of them; fewer
    only when the file is shorter). A trail starts with a record header whose version is
    one BSM has used (1, 2, 10, 11) and whose byte count holds at least a header and a
    trailer, or with a file token whose milliseconds are below 1000: text that happens to
    start with ``t`` (0x74, header64) is not taken for a trail."""
    if not head:
        return "empty"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    if head.startswith(dtaudit.MAGIC[:SNIFF]):
        return "dtaudit"
    first = head[0]
    if first not in _TRAIL_FIRST:
        return "other"
    if len(head) < SNIFF:
        return "trail"  # too short to tell more; framing will say what it is
    if first == 0x11:
        msec = int.from_bytes(head[5:9], "big")
        return "trail" if msec < 1000 else "other"
    count, version = int.from_bytes(head[1:5], "big"), head[5]
    return "trail" if version in _VERSIONS and count >= _MIN_RECORD else "other"


def sniff(path: str | os.PathLike[str]) -> Kind:
    """The kind of the regular file at ``path``, from its first bytes."""
    with open(path, "rb") as f:
        return sniff_bytes(f.read(SNIFF))


def require_file(path: str | os.PathLike[str]) -> str:
    """``path`` as a string, after checking it names something readable that is not a
    directory: ``FileNotFoundError``/``IsADirectoryError``/``PermissionError`` name it."""
    p = os.fspath(path)
    try:
        st = os.stat(p)
    except OSError as e:
        raise type(e)(e.errno, e.strerror, p) from None
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(21, "Is a directory (a trail file is needed)", p)
    if not os.access(p, os.R_OK):
        raise PermissionError(13, "Permission denied", p)
    return p


@dataclass(frozen=True)
class Skipped:
    """A file a directory or glob turned up that is not read, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: skipped ({self.reason})"


@dataclass
class Expansion:
    """The files an input list names, in order, and what was passed over."""

    files: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    #: For each directory or glob: (the argument, trails read, files skipped).
    walked: list[tuple[str, int, int]] = field(default_factory=list)

    def notes(self) -> list[str]:
        """One line per skipped file."""
        return [str(s) for s in self.skipped]

    def summaries(self) -> list[str]:
        """One line per directory or glob: how many trails it gave, and how many files
        it held that are not read."""
        return [
            f"{arg}: {n} trail{'s' if n != 1 else ''} read"
            + (f", {k} other file{'s' if k != 1 else ''} skipped" if k else "")
            for arg, n, k in self.walked
        ]


def _candidates(arg: str) -> tuple[list[str], bool]:
    """The paths one argument names, and whether they came from a walk or a glob (so
    are filtered) rather than being named by the user."""
    if os.path.isdir(arg):
        found = []
        for root, dirs, files in os.walk(arg, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            found += [os.path.join(root, f) for f in files if not f.startswith(".")]
        return sorted(found), True
    if os.path.lexists(arg):
        return [arg], False
    if _glob.has_magic(arg):
        found = sorted(f for f in _glob.glob(arg, recursive=True) if not os.path.isdir(f))
        if not found:
            raise FileNotFoundError(2, "No file matches this pattern", arg)
        return found, True
    raise FileNotFoundError(2, "No such file or directory", arg)


def expand(paths: PathsArg) -> Expansion:
    """The trail files ``paths`` name (see the module's rules). A missing path or a glob
    matching nothing raises ``FileNotFoundError``; a directory holding no trail at all
    raises ``FileNotFoundError`` too, so no command quietly reads nothing."""
    given = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    out = Expansion()
    for a in (os.fspath(p) for p in given):
        found, filtered = _candidates(a)
        if not filtered:
            out.files.append(require_file(a))
            continue
        kept_before = len(out.files)
        real: dict[str, str] = {os.path.realpath(f): f for f in out.files}
        links = []
        for f in found:
            if os.path.islink(f):
                links.append(f)  # judged once every real file of the set is known
                continue
            why = _not_a_trail(f)
            if why:
                out.skipped.append(Skipped(f, why))
                continue
            out.files.append(f)
            real.setdefault(os.path.realpath(f), f)
        for f in links:
            target = os.path.realpath(f)
            if target in real:
                out.skipped.append(Skipped(f, f"a link to {real[target]}, read once"))
                continue
            why = _not_a_trail(f) if os.path.exists(f) else "a dangling link"
            if why:
                out.skipped.append(Skipped(f, why))
                continue
            out.files.append(f)
            real[target] = f
        if len(out.files) == kept_before:
            why = "; ".join(s.reason for s in out.skipped[-3:]) or "it is empty"
            raise FileNotFoundError(2, f"No trail found here ({why})", a)
        out.walked.append(
            (a, len(out.files) - kept_before, len(found) - len(out.files) + kept_before)
        )
    return out


#: What a file that is not read as a trail holds, by :func:`sniff`'s kind.
_NOT_A_TRAIL = {
    "empty": "empty file",
    "other": "not a BSM trail (first bytes are not a record or file token)",
}


def _inspect(path: str | os.PathLike[str]) -> tuple[str, int]:
    """``(kind, size)`` of a path: :func:`sniff`'s kind, ``"not regular"``, or
    ``"unreadable: reason"``."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            return "not regular", 0
        return sniff(path), st.st_size
    except OSError as e:
        return f"unreadable: {e.strerror or e}", 0


def _not_a_trail(path: str) -> str:
    """Why a file a directory or glob turned up is not read ('' when it is read)."""
    kind, _ = _inspect(path)
    if kind == "not regular":
        return "not a regular file"
    return kind if kind.startswith("unreadable") else _NOT_A_TRAIL.get(kind, "")


def no_records_reason(path: str | os.PathLike[str]) -> str:
    """The message for an input that yielded no record, saying what it holds."""
    kind, size = _inspect(path)
    if kind in _NOT_A_TRAIL:
        return f"no records: {_NOT_A_TRAIL[kind]}" + (f", {size} bytes" if size else "")
    if kind.startswith("unreadable") or kind == "not regular":
        return f"no records ({kind})"
    if kind in COMPRESSIONS:
        return f"no records: {size} bytes of {kind} data, nothing in it an intact record"
    if kind == "dtaudit":
        return f"no records: a dtaudit capture of {size} bytes without a complete record"
    return f"no records: {size} bytes, none of them an intact record"


# -- decompression ---------------------------------------------------------------------------


def _zstd_reader(raw: IO[bytes]) -> IO[bytes]:
    if sys.version_info >= (3, 14):  # the standard library's own (PEP 784)
        zstd = importlib.import_module("compression.zstd")
        return zstd.ZstdFile(raw, "rb")  # type: ignore[no-any-return]
    try:
        zstandard = importlib.import_module("zstandard")
    except ImportError:
        raise OSError(
            "reading zstd-compressed trails needs the zstandard package: pip install zstandard"
        ) from None
    return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)  # type: ignore[no-any-return]


def _gzip_reader(raw: IO[bytes]) -> IO[bytes]:
    return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]


def _bzip2_reader(raw: IO[bytes]) -> IO[bytes]:
    return bz2.BZ2File(raw, "rb")


def _xz_reader(raw: IO[bytes]) -> IO[bytes]:
    return lzma.LZMAFile(raw, "rb")


_OPENERS: dict[str, Callable[[IO[bytes]], IO[bytes]]] = {
    "gzip": _gzip_reader,
    "bzip2": _bzip2_reader,
    "xz": _xz_reader,
    "zstd": _zstd_reader,
}


def decompressing_reader(raw: IO[bytes], kind: str) -> IO[bytes]:
    """A binary reader of the decompressed bytes of ``raw`` (``kind`` from :func:`sniff`)."""
    return _OPENERS[kind](raw)


def decompressing_stream(head: bytes, raw: IO[bytes]) -> IO[bytes] | None:
    """For a stream whose first bytes ``head`` were already read from ``raw``: a reader
    of its decompressed bytes when ``head`` says it is compressed, else None."""
    kind = sniff_bytes(head[:SNIFF])
    if kind not in COMPRESSIONS:
        return None
    return decompressing_reader(_Prefixed(head, raw), kind)  # type: ignore[arg-type]


def decompressed_bytes(data: object) -> bytes | None:
    """The decompressed content of in-memory ``data`` when it is compressed, else None."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        return None  # a native TrailSlice and the like: already a trail's bytes
    kind = sniff_bytes(bytes(data[:SNIFF]))
    if kind not in COMPRESSIONS:
        return None
    import io

    out = bytearray()
    _expand(io.BytesIO(data), kind, None, out.extend)
    return bytes(out)


def _decompress_errors() -> tuple[type[BaseException], ...]:
    """What a decompressor raises for a corrupt or cut stream: gzip and bz2 raise OSError
    (gzip.BadGzipFile), EOFError or zlib.error; xz LZMAError; zstandard ZstdError."""
    errors: list[type[BaseException]] = [OSError, EOFError, ValueError, lzma.LZMAError, zlib.error]
    try:
        errors.append(importlib.import_module("zstandard").ZstdError)
    except ImportError:
        pass
    return tuple(errors)


_DECOMPRESS_ERRORS = _decompress_errors()


# -- materialising ---------------------------------------------------------------------------


class Materialized:
    """A regular trail file standing for an input: the input itself, or a private
    temporary copy (decompressed, or drained from a pipe) removed by :meth:`close`, when
    the object is collected, or at exit. ``name`` is the input as given, ``path`` the file
    to read, ``kind`` what the input was (``"trail"``, ``"gzip"``, ..., ``"pipe"``)."""

    def __init__(self, name: str, path: str, kind: str, temporary: bool) -> None:
        self.name, self.path, self.kind, self.temporary = name, path, kind, temporary
        self._finalizer = weakref.finalize(self, _remove_quietly, path) if temporary else None

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> Materialized:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Materialized {self.name!r} ({self.kind}) at {self.path!r}>"


def _remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass


def materialize(
    path: str | os.PathLike[str],
    *,
    tmpdir: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> Materialized:
    """A regular, uncompressed trail file for the input at ``path`` (``-``: standard
    input), following the module's rules. ``progress`` is called with the input bytes
    consumed so far while decompressing a file. A compressed stream that is cut short or
    corrupt raises ``OSError`` naming the input."""
    if os.fspath(path) == "-":
        return _copied("<stdin>", sys.stdin.buffer, tmpdir)
    name = require_file(path)
    if not stat.S_ISREG(os.stat(name).st_mode):
        with open(name, "rb") as raw:
            return _copied(name, raw, tmpdir)
    with open(name, "rb") as raw:
        kind = sniff_bytes(raw.peek(SNIFF)[:SNIFF])
        if kind == "dtaudit":
            return _from_capture(name, raw, tmpdir)
        if kind not in COMPRESSIONS:
            return Materialized(name, name, kind, temporary=False)
        return _decompressed(name, raw, kind, tmpdir, progress)


def _from_capture(name: str, raw: IO[bytes], tmpdir: str | None) -> Materialized:
    """A dtaudit capture's complete records as a temporary trail; each incomplete record
    (cut by the script's size limit or by the capture's end) is a warning naming its line."""
    fd, tmp = tempfile.mkstemp(prefix="bsmtrail-", suffix=".bsm", dir=tmpdir)
    done = Materialized(name, tmp, "dtaudit", temporary=True)
    try:
        with os.fdopen(fd, "wb") as dst:
            for record in dtaudit.complete_records(raw, name):  # type: ignore[arg-type]
                dst.write(record)
    except BaseException:
        done.close()
        raise
    return done


def _decompressed(
    name: str,
    raw: IO[bytes],
    kind: str,
    tmpdir: str | None,
    progress: Callable[[int], None] | None,
) -> Materialized:
    fd, tmp = tempfile.mkstemp(prefix="bsmtrail-", suffix=".bsm", dir=tmpdir)
    done = Materialized(name, tmp, kind, temporary=True)
    try:
        with os.fdopen(fd, "wb") as dst:
            _expand(raw, kind, name, dst.write, progress)
    except BaseException:
        done.close()
        raise
    return done


def _expand(
    raw: IO[bytes],
    kind: str,
    name: str | None,
    write: Callable[[bytes], object],
    progress: Callable[[int], None] | None = None,
) -> None:
    """Decompress ``raw`` into ``write`` a chunk at a time, within :data:`LIMITS`;
    ``progress`` gets the compressed bytes read so far. A corrupt or cut stream raises
    ``OSError`` naming ``name``."""
    counted = _Counting(raw)
    written = 0
    try:
        with decompressing_reader(counted, kind) as src:  # type: ignore[arg-type]
            while chunk := src.read(_COPY):
                write(chunk)
                written += len(chunk)
                LIMITS.check(name, kind, written, counted.count)
                if progress is not None:
                    progress(counted.count)
    except DecompressionLimitError:
        raise
    except _DECOMPRESS_ERRORS as e:
        raise OSError(5, f"cannot decompress ({kind}): {e}", name) from None


def _copied(name: str, raw: IO[bytes], tmpdir: str | None) -> Materialized:
    """A pipe or device drained into a temporary file (decompressing it when its first
    bytes say it is compressed): it cannot be mapped or read twice."""
    head = raw.read(SNIFF)
    inner = sniff_bytes(head)
    if inner == "dtaudit":
        done = _from_capture(name, _Prefixed(head, raw), tmpdir)  # type: ignore[arg-type]
        done.kind = "pipe+dtaudit"
        return done
    if inner in COMPRESSIONS:
        done = _decompressed(name, _Prefixed(head, raw), inner, tmpdir, None)  # type: ignore[arg-type]
        done.kind = f"pipe+{inner}"
        return done
    fd, tmp = tempfile.mkstemp(prefix="bsmtrail-", suffix=".bsm", dir=tmpdir)
    done = Materialized(name, tmp, "pipe", temporary=True)
    try:
        with os.fdopen(fd, "wb") as dst:
            dst.write(head)
            # A short first read is the end of input; a terminal would wait for more.
            if len(head) == SNIFF:
                shutil.copyfileobj(raw, dst, _COPY)
    except BaseException:
        done.close()
        raise
    return done


class _Prefixed:
    """A reader that yields ``head`` and then the rest of ``raw`` (a pipe cannot seek
    back over the bytes sniffed)."""

    def __init__(self, head: bytes, raw: IO[bytes]) -> None:
        self._head, self._raw = head, raw

    def read(self, n: int = -1) -> bytes:
        if not self._head:
            return self._raw.read(n)
        if n < 0:
            out, self._head = self._head + self._raw.read(), b""
            return out
        out, self._head = self._head[:n], self._head[n:]
        return out

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        """The raw stream belongs to the caller: closing the reader leaves it open."""


def materialize_all(
    names: Iterable[str],
    *,
    tmpdir: str | None = None,
) -> list[Materialized]:
    """:func:`materialize` each input in turn; on failure the copies made are removed."""
    done: list[Materialized] = []
    try:
        for n in names:
            done.append(materialize(n, tmpdir=tmpdir))
    except BaseException:
        for m in done:
            m.close()
        raise
    return done

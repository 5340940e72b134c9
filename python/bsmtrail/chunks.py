"""Byte-range chunks: one big trail decoded in parallel pieces.

A trail of ``total`` bytes is cut every ``chunk_bytes`` (split points ``s_j = j *
chunk_bytes``). Chunk ``i`` decodes the bytes ``[B_i, B_{i+1})``, where the boundary
``B_i`` is found in Rust from the bytes near ``s_i`` alone (``rust/chunks.rs``): the first
record at or after ``s_i`` of a recovering walk started ``lookback`` bytes earlier. The
chunks always tile the file, so no record is read twice; on real trails the records of all
chunks are exactly those of one sequential recovering pass. The guarantee and its residual
risk (crafted input only) are in ``docs/dask.md``.

* :func:`chunk_boundaries` -- every ``B_i`` of a local trail;
* :func:`chunk_span` -- ``(B_i, B_{i+1})`` of one chunk, reading only the bytes near its
  ends through a callback (remote files);
* :func:`read_chunk` -- one chunk as a ``pyarrow.Table`` (records view, offsets absolute);
* :func:`read_trail` -- a whole trail decoded chunk by chunk on a thread pool.
"""

from __future__ import annotations

import importlib
import itertools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Union

from . import _native
from .arrow import DEFAULT_BATCH_SIZE, stream
from .sources import materialize
from .types import EventsOption, Mode

if TYPE_CHECKING:
    from ._native import Selection

__all__ = [
    "DEFAULT_AHEAD",
    "DEFAULT_LOOKBACK",
    "chunk_boundaries",
    "chunk_span",
    "read_chunk",
    "read_trail",
]

#: Bytes walked before a split point to find the boundary (1 MiB).
DEFAULT_LOOKBACK: int = _native.CHUNK_LOOKBACK
#: Bytes looked at after a split point, doubled until a record is found (1 MiB).
DEFAULT_AHEAD: int = _native.CHUNK_AHEAD

#: A local trail: a path (memory-mapped) or its bytes.
LocalSource = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, "_native.TrailSlice"]
#: ``read(lo, hi)`` returns the file's bytes ``[lo, hi)``.
RangeReader = Callable[[int, int], bytes]


def _pa() -> Any:
    return importlib.import_module("pyarrow")


def chunk_boundaries(
    source: LocalSource,
    n_chunks: int | None = None,
    *,
    chunk_bytes: int | None = None,
    splits: Sequence[int] | None = None,
    lookback: int = DEFAULT_LOOKBACK,
    ahead: int = DEFAULT_AHEAD,
) -> list[int]:
    """The chunk boundaries of a trail, ``0`` to its length: chunk ``i`` is ``[b[i],
    b[i + 1])``. Give ``n_chunks``, ``chunk_bytes`` (split points every ``chunk_bytes``)
    or ``splits`` (any split points). A chunk that owns no record is empty (``b[i] ==
    b[i + 1]``)."""
    if isinstance(source, (str, os.PathLike)):
        source = os.fspath(source)
    return _native.chunk_boundaries(
        source,
        n_chunks,
        chunk_bytes,
        splits=None if splits is None else list(splits),
        lookback=lookback,
        ahead=ahead,
    )


def chunk_span(
    read: RangeReader,
    total: int,
    index: int,
    chunk_bytes: int,
    *,
    lookback: int = DEFAULT_LOOKBACK,
    ahead: int = DEFAULT_AHEAD,
) -> tuple[int, int, bytes, int]:
    """``(start, end, buffer, base)`` for chunk ``index`` of a ``total``-byte file cut every
    ``chunk_bytes``, reading only what the boundaries need through ``read(lo, hi)``:
    ``buffer`` holds the file's bytes from ``base`` and covers ``[start, end)``."""
    if chunk_bytes < 1 or index < 0 or total < 0:
        raise ValueError("chunk_bytes must be at least 1, index and total at least 0")
    lo = min(total, max(0, index * chunk_bytes - lookback))
    hi = max(lo, min(total, (index + 1) * chunk_bytes + ahead))
    buf = read(lo, hi)
    if len(buf) != hi - lo:
        raise OSError(f"short read: wanted bytes [{lo}, {hi}), got {len(buf)}")
    while True:
        start, end, need = _native.chunk_span(
            buf, index, chunk_bytes, base=lo, total=total, lookback=lookback, ahead=ahead
        )
        if need is None:
            return start, end, buf, lo
        nlo, nhi = min(lo, need[0]), max(hi, need[1])
        # Grow geometrically: a few reads at most, whatever the file.
        nhi = min(total, max(nhi, hi + (hi - lo)))
        if nlo < lo:
            buf = read(nlo, lo) + buf
        if nhi > hi:
            buf = buf + read(hi, nhi)
        lo, hi = nlo, nhi
        if len(buf) != hi - lo:
            raise OSError(f"short read: wanted bytes [{lo}, {hi}), got {len(buf)}")


def read_chunk(
    source: LocalSource,
    start: int,
    end: int,
    *,
    name: str | None = None,
    base: int = 0,
    columns: Sequence[str] | None = None,
    mode: Mode = "recover",
    events: EventsOption = None,
    where: Selection | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    threads: int | None = 1,
    validate: bool = True,
) -> Any:
    """The records of ``source[start:end]`` (chunk boundaries from :func:`chunk_boundaries`
    or :func:`chunk_span`) as a ``pyarrow.Table``, the bytes shared without copying.
    ``source`` holds the file's bytes from offset ``base``; ``start``/``end`` are file
    offsets, and so are the offsets in the table (with ``where`` too: selection keeps
    rows, it never moves them)."""
    if isinstance(source, (str, os.PathLike)):
        source = os.fspath(source)
    label = name if name is not None else (source if isinstance(source, str) else "<bytes>")
    piece = _native.TrailSlice(source, start - base, end - base, offset=start)
    return stream(
        [(label, piece)],
        columns=columns,
        mode=mode,
        events=events,
        where=where,
        batch_size=batch_size,
        threads=threads,
        validate=validate,
    ).read_all()


def read_trail(
    path: str | os.PathLike[str],
    chunks: int | None = None,
    *,
    chunk_bytes: int | None = None,
    workers: int | None = None,
    columns: Sequence[str] | None = None,
    mode: Mode = "recover",
    events: EventsOption = None,
    where: Selection | None = None,
    lookback: int = DEFAULT_LOOKBACK,
    ahead: int = DEFAULT_AHEAD,
) -> Any:
    """Read one trail as a ``pyarrow.Table``, cut into ``chunks`` byte ranges (default:
    one per core) decoded on ``workers`` threads (default ``chunks``), one thread each
    (Rust releases the GIL). Rows come in file order; on real trails the result equals
    :func:`bsmtrail.arrow.read_trails` on the file (see ``docs/dask.md``). A compressed
    trail is decompressed to a private temporary file first, then chunked."""
    with materialize(path) as copy:
        return _read_trail(
            copy.name,
            copy.path,
            chunks,
            chunk_bytes=chunk_bytes,
            workers=workers,
            columns=columns,
            mode=mode,
            events=events,
            where=where,
            lookback=lookback,
            ahead=ahead,
        )


def _read_trail(
    name: str,
    p: str,
    chunks: int | None,
    *,
    chunk_bytes: int | None,
    workers: int | None,
    columns: Sequence[str] | None,
    mode: Mode,
    events: EventsOption,
    where: Selection | None,
    lookback: int,
    ahead: int,
) -> Any:
    if chunks is None and chunk_bytes is None:
        chunks = os.cpu_count() or 1
    bounds = chunk_boundaries(
        p,
        chunks if chunk_bytes is None else None,
        chunk_bytes=chunk_bytes,
        lookback=lookback,
        ahead=ahead,
    )
    spans = list(itertools.pairwise(bounds))
    spans = [s for s in spans if s[0] < s[1]] or spans[:1]

    def one(span: tuple[int, int]) -> Any:
        return read_chunk(
            p,
            span[0],
            span[1],
            name=name,
            columns=columns,
            mode=mode,
            events=events,
            where=where,
        )

    n = workers or len(spans)
    if n <= 1 or len(spans) == 1:
        tables = [one(s) for s in spans]
    else:
        with ThreadPoolExecutor(max_workers=n) as pool:
            tables = list(pool.map(one, spans))
    pa = _pa()
    return pa.concat_tables(tables)

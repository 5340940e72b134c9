"""Trails as a Dask dataframe: one partition per byte-range chunk of each trail.

.. code-block:: python

    from dask.distributed import Client
    import bsmtrail.dask

    client = Client("tcp://scheduler:8786")
    df = bsmtrail.dask.read_trails("s3://evidence/audit/*", columns=["event", "time", "auid"],
                                   storage_options={"anon": False})
    df.groupby("event").size().compute()

Each partition is decoded in Rust on its worker (records view, pyarrow-backed pandas
columns, ``pandas.ArrowDtype``). Files larger than ``chunk_bytes`` are split into byte
ranges whose boundaries every worker finds from the bytes near its own range
(:mod:`bsmtrail.chunks`); ``meta`` comes from the records schema, so building the graph
opens no trail. Local paths are memory-mapped; URLs (``s3://``, ``gs://``, ``memory://``,
...) are read through fsspec, each worker fetching only its range and a little around it.
See ``docs/dask.md``.
"""

from __future__ import annotations

import glob as _glob
import importlib
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from . import _native
from .arrow import records_schema
from .chunks import DEFAULT_AHEAD, DEFAULT_LOOKBACK, chunk_span, read_chunk
from .errors import BSMWarning
from .sources import (
    COMPRESSIONS,
    SNIFF,
    decompressing_reader,
    expand,
    materialize,
    sniff,
    sniff_bytes,
)
from .types import EventsOption, Mode

if TYPE_CHECKING:
    from ._native import Selection


__all__ = ["DEFAULT_CHUNK_BYTES", "read_trails"]

#: Bytes per partition before a file is split (128 MiB).
DEFAULT_CHUNK_BYTES = 128 << 20

PathsOrGlob = Union[str, "os.PathLike[str]", Iterable[Union[str, "os.PathLike[str]"]]]


def _is_url(p: str) -> bool:
    head, sep, _ = p.partition("://")
    return bool(sep) and head.isidentifier() and head != "file"


@dataclass(frozen=True)
class _Part:
    """One partition: chunk ``index`` of a file of ``size`` bytes cut every ``chunk_bytes``."""

    name: str
    path: str
    remote: bool
    size: int
    index: int
    chunk_bytes: int
    #: The compression (``bsmtrail.sources.sniff``), or None: a compressed file is one
    #: partition, decompressed on its worker (its byte ranges mean nothing).
    compression: str | None = None


class _ReadPart:
    """The partition function (pickled to the workers)."""

    def __init__(
        self,
        columns: list[str] | None,
        where: Selection | None,
        mode: Mode,
        events: EventsOption,
        storage_options: dict[str, Any],
        lookback: int,
        ahead: int,
        validate: bool,
    ) -> None:
        self.columns = columns
        # A Selection pickles as its constructor's arguments (Selection.__reduce__).
        self.where = where
        self.mode: Mode = mode
        self.events = events
        self.storage_options = storage_options
        self.lookback = lookback
        self.ahead = ahead
        self.validate = validate

    def table(self, part: _Part) -> Any:
        opts: dict[str, Any] = {
            "columns": self.columns,
            "mode": self.mode,
            "events": self.events,
            "where": self.where,
            "validate": self.validate,
            "name": part.name,
        }
        if part.compression is not None:
            return self._decompressed(part, opts)
        if not part.remote:
            start, end, need = _native.chunk_span(
                part.path,
                part.index,
                part.chunk_bytes,
                lookback=self.lookback,
                ahead=self.ahead,
            )
            if need is not None:  # the whole file is mapped: cannot happen
                raise AssertionError(need)
            return read_chunk(part.path, start, end, **opts)
        fsspec = importlib.import_module("fsspec")
        fs, path = fsspec.core.url_to_fs(part.path, **self.storage_options)

        def read(lo: int, hi: int) -> bytes:
            if hi <= lo:
                return b""
            data = fs.cat_file(path, start=lo, end=hi)
            return bytes(data)

        start, end, buf, base = chunk_span(
            read,
            part.size,
            part.index,
            part.chunk_bytes,
            lookback=self.lookback,
            ahead=self.ahead,
        )
        return read_chunk(buf, start, end, base=base, **opts)

    def _decompressed(self, part: _Part, opts: dict[str, Any]) -> Any:
        """A compressed file, whole, from a private decompressed copy on the worker."""
        if not part.remote:
            with materialize(part.path) as copy:
                return read_chunk(copy.path, 0, os.path.getsize(copy.path), **opts)
        fsspec = importlib.import_module("fsspec")
        fs, path = fsspec.core.url_to_fs(part.path, **self.storage_options)
        with tempfile.TemporaryDirectory(prefix="bsmtrail-") as tmp:
            dst = os.path.join(tmp, "trail.bsm")
            with fs.open(path, "rb") as raw, open(dst, "wb") as out:
                assert part.compression is not None
                with decompressing_reader(raw, part.compression) as src:
                    shutil.copyfileobj(src, out, 1 << 20)
            return read_chunk(dst, 0, os.path.getsize(dst), **opts)

    def __call__(self, part: _Part) -> Any:
        pd = importlib.import_module("pandas")
        return self.table(part).to_pandas(types_mapper=pd.ArrowDtype)


def _files(
    paths: PathsOrGlob, storage_options: dict[str, Any]
) -> list[tuple[str, str, bool, int, str | None]]:
    """``(name, path or URL, remote, size, compression)`` of every file, in order. Local
    paths follow ``bsmtrail.sources.expand`` (what is not a trail is skipped with a
    :class:`~bsmtrail.BSMWarning`)."""
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    out: list[tuple[str, str, bool, int, str | None]] = []
    for item in items:
        p = os.fspath(item)
        if p.startswith("file://"):
            p = p[len("file://") :]
        if not _is_url(p):
            found = expand(p)
            for note in found.notes():
                warnings.warn(note, BSMWarning, stacklevel=3)
            for f in found.files:
                kind = sniff(f)
                packed = kind if kind in COMPRESSIONS else None
                out.append((f, f, False, os.path.getsize(f), packed))
            continue
        fsspec = importlib.import_module("fsspec")
        fs, root = fsspec.core.url_to_fs(p, **storage_options)
        if _glob.has_magic(root):
            listed = sorted(fs.glob(root))
            if not listed:
                raise FileNotFoundError(f"no trail matches {p!r}")
        elif fs.isdir(root):
            listed = sorted(
                f for f in fs.ls(root, detail=False) if not os.path.basename(f).startswith(".")
            )
        else:
            listed = [root]
        for f in listed:
            info = fs.info(f)
            if info.get("type") == "directory":
                continue
            url = fs.unstrip_protocol(f)
            kind = sniff_bytes(bytes(fs.cat_file(f, start=0, end=SNIFF)))
            packed = kind if kind in COMPRESSIONS else None
            out.append((url, url, True, int(info["size"]), packed))
    return out


def read_trails(
    paths_or_glob: PathsOrGlob,
    columns: Sequence[str] | None = None,
    where: Selection | None = None,
    *,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    storage_options: dict[str, Any] | None = None,
    mode: Mode = "recover",
    events: EventsOption = None,
    validate: bool = True,
    lookback: int = DEFAULT_LOOKBACK,
    ahead: int = DEFAULT_AHEAD,
) -> Any:
    """Trails (paths, a directory, a glob, or fsspec URLs) as a ``dask.dataframe``.

    One partition per ``chunk_bytes`` of each file (at least one per file), each decoded
    on its worker into pyarrow-backed pandas columns (the records view,
    ``docs/arrow-schema.md``; ``columns`` picks some). ``where`` (a
    :class:`bsmtrail.select.Selection`) runs in each partition before any column is
    built. Partitions follow the files' order and, within a file, byte order; their
    divisions are unknown. ``storage_options`` go to fsspec for URLs.
    """
    if chunk_bytes < 1:
        raise ValueError("chunk_bytes must be at least 1")
    if mode not in ("strict", "recover"):
        raise ValueError(f"mode must be 'strict' or 'recover', not {mode!r}")
    try:
        dd = importlib.import_module("dask.dataframe")
    except ImportError:
        raise ImportError(
            "bsmtrail.dask needs dask: pip install 'dask[dataframe,distributed]'"
        ) from None
    pd = importlib.import_module("pandas")
    cols = None if columns is None else list(columns)
    meta = records_schema(cols, events=events).empty_table().to_pandas(types_mapper=pd.ArrowDtype)
    so = dict(storage_options or {})
    parts = [
        _Part(name, path, remote, size, i, chunk_bytes, packed)
        for name, path, remote, size, packed in _files(paths_or_glob, so)
        for i in range(1 if packed else max(1, -(-size // chunk_bytes)))
    ]
    if not parts:
        raise FileNotFoundError(f"no trail in {paths_or_glob!r}")
    func = _ReadPart(cols, where, mode, events, so, lookback, ahead, validate)
    return dd.from_map(func, parts, meta=meta, label="read-bsm-trails", enforce_metadata=False)

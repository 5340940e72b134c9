"""Generated-trail fixtures for the benchmarks (imported by ``bench_generated.py``).

Trails come from bsmtrail's own seeded generator (``bsmtrail.writer.generate_trail``, the
same as ``bsmtrail gen``) and are cached in ``.benchmarks/trails`` under a name holding the
generator version, the seed and the size, so a changed generator never reuses stale files.
1 MB and 100 MB always; 1 GB only with ``BSMTRAIL_BENCH_1GB=1``.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import bsmtrail
from bsmtrail import _native
from bsmtrail.writer import generate_trail, write_trail
from conftest import CACHE, MB

SEED = 2024
SIZES_MB = [1, 100, *([1000] if os.environ.get("BSMTRAIL_BENCH_1GB") == "1" else [])]


def generated_path(mb: int, seed: int = SEED) -> Path:
    """The cached generated trail of ``mb`` MB, made on first use."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"gen-v{_native.GENERATOR_VERSION}-seed{seed}-{mb}MB.bsm"
    if not path.exists():
        tmp = path.with_suffix(".tmp")
        generate_trail(tmp, mb * MB, seed)
        tmp.replace(path)
    return path


@pytest.fixture(scope="session")
def generated_trail() -> Callable[[int], Path]:
    """``generated_trail(mb)``: a generated trail of at least ``mb`` MB (seed 2024), for
    benchmark modules that take it as a fixture (``from gen_fixtures import
    generated_trail``). ``bench_generated.py`` calls :func:`generated_path` directly:
    importing a fixture into the module that uses it trips ruff's redefinition check."""
    return generated_path


# ---- trail sets (merge benchmarks) -------------------------------------------------------

#: Header token ids (their byte count follows the id as a big-endian u32) and the file token.
_HEADERS = {0x14, 0x15, 0x74, 0x79}
_FILE = 0x11


def _deal(src: Path, outs: list[Path]) -> None:
    """Deal the records of ``src`` round-robin into ``outs`` (standalone file tokens
    dropped): trails whose times all overlap, the hardest case for a merge."""
    data = memoryview(src.read_bytes())
    files = [p.open("wb", buffering=1 << 20) for p in outs]
    try:
        pos, n = 0, 0
        while pos < len(data):
            tid = data[pos]
            if tid == _FILE:
                pos += 11 + int.from_bytes(data[pos + 9 : pos + 11], "big")
                continue
            if tid not in _HEADERS:
                raise ValueError(f"{src}: no record at offset {pos}")
            size = int.from_bytes(data[pos + 1 : pos + 5], "big")
            files[n % len(files)].write(data[pos : pos + size])
            pos += size
            n += 1
    finally:
        for f in files:
            f.close()


def trail_set(mb: int, parts: int, kind: str) -> list[Path]:
    """``parts`` trails of ``mb`` MB in all (cached). ``kind="rotated"``: each generated
    with its own seed, so their times follow one another as a rotated /var/audit does;
    ``"interleaved"``: one generated trail dealt record by record into ``parts`` files, so
    every trail spans the same time."""
    folder = CACHE / f"set-v{_native.GENERATOR_VERSION}-{kind}-{mb}MB-{parts}"
    paths = [folder / f"t{i:04d}.bsm" for i in range(parts)]
    if folder.exists():
        return paths
    tmp = folder.with_suffix(".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    staged = [tmp / p.name for p in paths]
    if kind == "rotated":
        for i, p in enumerate(staged):
            generate_trail(p, mb * MB // parts, SEED + 1 + i)
    elif kind == "interleaved":
        _deal(generated_path(mb), staged)
    else:
        raise ValueError(f"unknown trail-set kind {kind!r}")
    tmp.replace(folder)
    return paths


# ---- plaso (optional) ---------------------------------------------------------------------

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # plaso's dependencies warn on import
        from plaso.lib import errors as plaso_errors
        from plaso.parsers import bsm as plaso_bsm
    PLASO_MISSING: str | None = None
except ImportError as exc:  # pragma: no cover - depends on the machine
    plaso_bsm = None
    plaso_errors = None
    PLASO_MISSING = (
        f"plaso is not installed ({exc}); `pip install plaso` (it builds the libyal "
        "bindings, several minutes) and rerun to compare with plaso's BSM parser"
    )


class _PlasoFile(io.BytesIO):
    """The two dfVFS FileIO methods the BSM parser calls besides seek/read/tell."""

    def get_offset(self) -> int:
        return self.tell()

    def get_size(self) -> int:
        return len(self.getbuffer())


class _Mediator:
    """Counts the event data plaso produces (one per record it parsed)."""

    def __init__(self) -> None:
        self.records = 0

    def ProduceEventData(self, event_data: Any) -> None:  # plaso's method name
        self.records += 1


def plaso_parser() -> Any:
    """A plaso ``BSMParser`` (building one loads its dtfabric definitions, ~70 ms, so a
    benchmark makes it once, as a log2timeline worker does)."""
    assert plaso_bsm is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return plaso_bsm.BSMParser()


def plaso_parse(parser: Any, data: bytes) -> int:
    """Run plaso's parser over ``data`` as ``log2timeline`` does (one ``ParseFileObject``
    call on the file); returns the records it produced."""
    mediator = _Mediator()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parser.ParseFileObject(mediator, _PlasoFile(data))
    return mediator.records


def plaso_subset(path: Path) -> Path:
    """The records of ``path`` that plaso's parser reads correctly, rewritten with
    ``write_trail`` (cached). plaso cannot read a whole generated trail: it rejects a trail
    that starts with a file token, fails on the socket-inet tokens (a typo,
    ``ip_addresss``), misreads groups (a u32 count for the u16 one) and many exec-args
    tokens, lacks ids 0x2e, 0x38, 0x39, 0x84, 0x85 and the Apple tokens, and refuses
    version-10 headers; a failed record throws its walk out of step for the rest of the
    file. Each record is checked with plaso itself."""
    out = path.with_name(path.stem + "-plaso.bsm")
    if out.exists():
        return out
    assert plaso_bsm is not None and plaso_errors is not None
    keep = []
    parser = plaso_parser()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for rec in bsmtrail.open(path):
            try:
                parser._ParseRecord(_Mediator(), _PlasoFile(rec.raw))
            except (plaso_errors.ParseError, AttributeError, ValueError):
                continue
            keep.append(rec)
    tmp = out.with_suffix(".tmp")
    write_trail(tmp, keep)
    tmp.replace(out)
    return out

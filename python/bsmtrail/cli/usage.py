"""What every subcommand says the same way: the usage exception (exit status 2) and the
line naming an input that held no record (exit status 1)."""

from __future__ import annotations

import argparse
import os
import re
import sys

from ..sources import no_records_reason
from .printable import printable

__all__ = ["UsageError", "say_no_records"]


def say_no_records(prog: str, name: str, path: str | os.PathLike[str] | None = None) -> None:
    """``PROG: NAME: no records: ...`` on stderr; ``path`` is the file read for ``name``
    (a decompressed copy), when it is another."""
    reason = no_records_reason(path or name)
    print(f"{prog}: {printable(name)}: {printable(reason)}", file=sys.stderr)


class UsageError(ValueError):
    """Bad arguments: exit status 2."""


_UNITS = {
    "": 1,
    "B": 1,
    "K": 1000,
    "KB": 1000,
    "M": 1000**2,
    "MB": 1000**2,
    "G": 1000**3,
    "GB": 1000**3,
    "KIB": 1024,
    "MIB": 1024**2,
    "GIB": 1024**3,
}


def add_threads_argument(p: argparse.ArgumentParser) -> None:
    """``--threads N``: the workers a whole-trail command uses (default: every core); the
    output is the same for any N."""
    p.add_argument(
        "--threads",
        type=parse_threads,
        metavar="N",
        help="worker threads (default: every core); the output is the same for any N",
    )


def parse_threads(text: str) -> int:
    """``--threads``' value: a whole number, at least 1 (``ArgumentTypeError`` else)."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number, at least 1, not {text!r}")
    return n


def parse_size(text: str) -> int:
    """``"1GB"`` -> 10**9; ``"512MiB"``, ``"100M"``, ``"1.5GB"``, ``"4096"`` (bytes).
    Decimal units (KB, MB, GB) are powers of 1000; KiB, MiB, GiB powers of 1024."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([A-Za-z]*)\s*", text)
    unit = m.group(2).upper() if m else None
    if m is None or unit not in _UNITS:
        raise argparse.ArgumentTypeError(
            f"invalid size {text!r} (examples: 1GB, 100MB, 512MiB, 4096)"
        )
    return int(float(m.group(1)) * _UNITS[unit])

"""``bsmtrail summary``: what is in a trail, and its first records."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import TextIO

from ..render import Renderer
from ..trail import Trail
from ..trail import open as open_trail
from .printable import printable
from .usage import say_no_records


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "summary",
        help="summarise a trail and show its first records",
        description="Frame and decode a whole trail, print counts, time span and token "
        "types, then the first records.\n\nexample: bsmtrail summary /var/audit/current",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("trail", help="trail file (gzip, bzip2, xz or zstd too)")
    p.add_argument("-n", "--records", type=int, default=5, help="records to show (5)")
    p.set_defaults(func=run)


def _fmt_time(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    try:
        return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return str(seconds)


def summarise(trail: Trail, shown: int, out: TextIO) -> int:
    scan = trail.scan()
    status = "all framed and decoded" if scan.ok else "DAMAGED"
    out.write(
        f"{printable(trail.name)}: {scan.records} records, {scan.file_tokens} file tokens, "
        f"{scan.bytes} of {scan.nbytes} bytes ({status})\n"
    )
    out.write(f"time span: {_fmt_time(scan.first_seconds)} .. {_fmt_time(scan.last_seconds)}\n")
    counts = sorted(scan.token_counts.items(), key=lambda kv: (-kv[1], kv[0]))
    out.write("token types: " + ", ".join(f"{k} {v}" for k, v in counts) + "\n")
    if scan.error is not None:
        out.write(f"error: {scan.error}\n")
    if scan.empty:
        say_no_records("bsmtrail summary", trail.name)
        return 1
    if shown > 0:
        out.write(
            f"first {shown} records (praudit -l form, numeric ids, UTC, Apple tokens decoded):\n"
        )
    renderer = Renderer(oneline=True, numeric=True, utc=True, apple=True)
    for i, rec in enumerate(trail):
        if i >= shown:
            break
        line = renderer.render_record(rec.raw).decode("utf-8", "backslashreplace")
        # The record's strings are the evidence's: escaped, with praudit's newline kept.
        out.write(f"  @{rec.offset:<7} {printable(line.rstrip(chr(10)))}\n")
    return 0 if scan.ok else 1


def run(args: argparse.Namespace) -> int:
    return summarise(open_trail(args.trail), args.records, sys.stdout)

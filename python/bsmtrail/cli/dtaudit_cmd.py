"""``bsmtrail dtaudit-script``: print the D script that captures records from DTrace's
dtaudit provider (``bsmtrail.dtaudit``); every command reads its output like a trail."""

from __future__ import annotations

import argparse
import sys

from ..dtaudit import MAX_RECORD, script
from .usage import UsageError

EPILOG = f"""\
examples:
  bsmtrail dtaudit-script > bsmtrail.d
  dtrace -s bsmtrail.d -o capture.txt          # as root; kldload dtaudit first
  bsmtrail dtaudit-script --event AUE_EXECVE --event 'aue_open*' > exec-open.d
  bsmtrail print capture.txt
  bsmtrail convert capture.txt -o capture.parquet

The probe fires for every record the kernel builds (FreeBSD 12.0 and later), including
records the audit configuration does not write to a trail. At most --max-bytes of a record
are captured ({MAX_RECORD}, the kernel's largest record, by default); a longer record, or
one cut off when the capture stopped, is reported and left out.
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "dtaudit-script",
        help="print the DTrace script that captures audit records (dtaudit)",
        description="Print a D script for FreeBSD's dtaudit provider whose output every "
        "bsmtrail command reads as a trail.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--event",
        action="append",
        default=[],
        metavar="NAME",
        help="only this event (AUE_EXECVE, aue_open*); repeat for more (default: all)",
    )
    p.add_argument(
        "--max-bytes",
        type=int,
        default=MAX_RECORD,
        metavar="N",
        help=f"most bytes of one record captured ({MAX_RECORD})",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        text = script(args.event, max_bytes=args.max_bytes)
    except ValueError as e:
        raise UsageError(str(e)) from None
    sys.stdout.write(text)
    return 0

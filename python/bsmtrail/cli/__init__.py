"""The ``bsmtrail`` command line. Each subcommand lives in its own module with
``add_parser(subparsers)`` registering it and setting ``func`` to a ``run(args) -> int``.
This module only dispatches and maps errors to exit statuses: 0 ok, 1 damaged input,
2 usage error."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import BSMError

#: Subcommand modules, in the order ``--help`` lists them.
SUBCOMMANDS = (
    "print_cmd",
    "reduce_cmd",
    "verify_cmd",
    "events_cmd",
    "summary_cmd",
    "convert_cmd",
    "stats_cmd",
    "demo_cmd",
    "gen_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bsmtrail",
        description="Read BSM audit trails (FreeBSD/macOS audit(4)) fast and safely.",
    )
    parser.add_argument("--version", action="version", version=f"bsmtrail {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except BrokenPipeError:
        # `bsmtrail ... | head`: the reader went away; end quietly like a Unix tool.
        _silence_stdout()
        return 0
    except BSMError as e:
        if args.debug:
            raise
        print(f"bsmtrail: {e}", file=sys.stderr)
        return 1
    except OSError as e:
        if args.debug:
            raise
        print(f"bsmtrail: {e}", file=sys.stderr)
        return 1


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass

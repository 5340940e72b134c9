"""The ``bsmtrail`` command line. Each subcommand lives in its own module with
``add_parser(subparsers)`` registering it and setting ``func`` to a ``run(args) -> int``.
This module only dispatches and maps what ended a command to its exit status (see
:func:`main`)."""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from .. import __version__, max_record_size
from ..errors import BSMError, BSMWarning
from ..outputs import OutputError
from .printable import printable
from .usage import UsageError, parse_size

# numpy, which pyarrow imports when a command first needs it, starts OpenBLAS threads that
# spin for a while: on two cores they took about 0.1 s of CPU from a small `convert` or
# `stats`. No command does linear algebra; a value the user set wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

#: Subcommand modules, in the order ``--help`` lists them.
SUBCOMMANDS = (
    "print_cmd",
    "reduce_cmd",
    "verify_cmd",
    "events_cmd",
    "summary_cmd",
    "convert_cmd",
    "stats_cmd",
    "lineage_cmd",
    "follow_cmd",
    "demo_cmd",
    "gen_cmd",
    "dtaudit_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bsmtrail",
        description="Read BSM audit trails (FreeBSD/macOS audit(4)) fast and safely.",
    )
    parser.add_argument("--version", action="version", version=f"bsmtrail {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser.add_argument(
        "--max-record",
        type=parse_size,
        metavar="SIZE",
        help="largest record read as one (16MiB): a header claiming more is damage",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    return parser


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (the terminal went away), raised like Ctrl-C so every
    ``finally``, atomic output and temporary copy cleans up."""

    def __init__(self, signum: int = signal.SIGTERM) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum: int, frame: object) -> None:
    raise Terminated(signum)


#: The signals that end a command as Ctrl-C does, cleaning up first.
_ENDING = (signal.SIGTERM, signal.SIGHUP)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and map what ended it to the exit status (README, "Exit status"):
    0 ok; 1 the input is damaged or holds no records; 2 usage, bad criteria, an input that
    cannot be read (missing, unreadable, a directory where a file is needed) or an output
    refused; 130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 129 hung up (SIGHUP)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    prog = f"bsmtrail {args.command}"
    if args.max_record is not None:
        try:
            max_record_size(args.max_record)
        except ValueError as e:
            print(f"bsmtrail: --max-record: {e}", file=sys.stderr)
            return 2
    previous = {sig: signal.signal(sig, _on_signal) for sig in _ENDING}
    shown = warnings.showwarning
    warnings.showwarning = _notes_for(prog, shown)
    try:
        return int(args.func(args))
    except KeyboardInterrupt as e:
        if args.debug:
            raise
        _flush_quietly()
        if not isinstance(e, Terminated):
            print(f"{prog}: interrupted", file=sys.stderr)
            return 130
        hup = e.signum == signal.SIGHUP
        print(f"{prog}: {'hung up' if hup else 'terminated'}", file=sys.stderr)
        return 128 + e.signum
    except BrokenPipeError:
        # `bsmtrail ... | head`: the reader went away; end quietly like a Unix tool.
        _silence_stdout()
        return 0
    except (UsageError, OutputError) as e:
        if args.debug:
            raise
        print(f"{prog}: {printable(e)}", file=sys.stderr)
        return 2
    except BSMError as e:
        if args.debug:
            raise
        print(f"{prog}: {printable(e)}", file=sys.stderr)
        return 1
    except OSError as e:
        if args.debug:
            raise
        print(f"{prog}: {printable(describe_os_error(e))}", file=sys.stderr)
        return 2
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        warnings.showwarning = shown


def _notes_for(prog: str, fallback: Any) -> Any:
    """A ``warnings.showwarning`` that prints bsmtrail's own warnings (what the library
    says about the evidence) as ``bsmtrail CMD: note: ...`` lines, and others as usual."""

    def show(message: Any, category: type[Warning], *rest: Any, **kw: Any) -> None:
        if issubclass(category, BSMWarning):
            print(f"{prog}: note: {printable(message)}", file=sys.stderr)
        else:
            fallback(message, category, *rest, **kw)

    return show


def describe_os_error(e: OSError) -> str:
    """``FILE: reason``, the one form every command uses for a file it cannot use."""
    reason = e.strerror or str(e)
    return f"{e.filename}: {reason}" if e.filename else reason


def _flush_quietly() -> None:
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        _silence_stdout()


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass

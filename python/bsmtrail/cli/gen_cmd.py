"""``bsmtrail gen``: write a realistic generated trail (for tests and benchmarks)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from ..outputs import atomic_file
from ..scenario import write_scenario
from ..writer import generate_trail
from .usage import UsageError, parse_size


def _seed(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}") from None
    if not 0 <= value < 2**64:
        raise argparse.ArgumentTypeError("the seed is an integer in 0 .. 2**64-1")
    return value


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "gen",
        help="write a realistic generated trail",
        description="Write a deterministic, realistic trail: five hosts (macOS, FreeBSD, "
        "illumos), file/exec/socket/login/... events, ~7%% failures, every token type. "
        "The same seed always gives the same bytes.",
    )
    p.add_argument("output", help="trail file to write")
    p.add_argument(
        "--size",
        type=parse_size,
        default=parse_size("1MB"),
        help="at least this many bytes (1MB; units KB MB GB, KiB MiB GiB)",
    )
    p.add_argument("--seed", type=_seed, default=0, help="random seed (0)")
    p.add_argument(
        "--scenario",
        action="store_true",
        help="write a small machine's life with known truth instead (ssh and console "
        "sessions, su/sudo, pipelines, daemons, pid reuse): for the sessions and "
        "processes views; --size is ignored",
    )
    p.add_argument("--truth", metavar="FILE", help="with --scenario: write its truth here as JSON")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing")
    p.set_defaults(func=run)


def _scenario(args: argparse.Namespace) -> int:
    truth = write_scenario(args.output, args.seed)
    if args.truth is not None:
        with atomic_file(args.truth) as tmp, open(tmp, "w", encoding="utf-8") as f:
            json.dump(truth.to_json(), f, indent=1)
            f.write("\n")
    if not args.quiet:
        print(
            f"{args.output}: scenario (seed {args.seed}): {len(truth.sessions)} sessions, "
            f"{len(truth.processes)} processes",
            file=sys.stderr,
        )
    return 0


def run(args: argparse.Namespace) -> int:
    if args.truth is not None and not args.scenario:
        raise UsageError("--truth goes with --scenario")
    if args.scenario:
        return _scenario(args)
    start = time.perf_counter()
    result = generate_trail(args.output, args.size, args.seed)
    elapsed = time.perf_counter() - start
    if not args.quiet:
        rate = result.bytes / elapsed / 1e6 if elapsed > 0 else float("inf")
        print(
            f"{args.output}: {result.records:,} records, {result.bytes:,} bytes "
            f"(seed {args.seed}) in {elapsed:.2f} s, {rate:,.0f} MB/s",
            file=sys.stderr,
        )
    return 0

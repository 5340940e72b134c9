"""``bsmtrail verify``: integrity report for trails; non-zero exit when anything is wrong."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .. import trailset
from ..sources import no_records_reason
from ..trail import VerifyReport
from ..trail import open as open_trail
from ..trailset import TrailSetReport
from .inputs import expand_paths
from .printable import printable
from .progress import Progress, progress_wanted
from .usage import add_threads_argument, say_no_records

PROG = "bsmtrail verify"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify",
        help="check trails for damage, truncation, sequence gaps and time anomalies",
        description="Read every record (recovering past damage) and report records, bytes "
        "covered, damaged regions with offsets and reasons, a truncated tail, sequence-token "
        "gaps (per host), time running backwards, and as notes the events unknown to the "
        "event database. Exit status 1 only for damage or evidence of tampering (or an "
        "input holding no record); 2 when an input cannot be read."
        "\n\nA directory is also checked as auditd's trail set: trails missing between "
        "others (a gap in the chain of START.END names), overlapping or duplicate trails, "
        "trails never closed or recovered after a crash, records outside their trail's "
        "interval, and files that are not trails (one more report, after its trails')."
        "\n\nexamples:\n  bsmtrail verify /var/audit/*\n"
        "  bsmtrail verify /var/audit\n  bsmtrail verify --json crash_recovery.bsm",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("trails", nargs="+", help="trail files, directories, globs")
    p.add_argument("--json", action="store_true", help="one JSON object per trail (and trail set)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--events", metavar="FILE", help="audit_event file (default: see docs)")
    p.add_argument("--limit", type=int, default=20, help="list at most this many of each (20)")
    p.add_argument(
        "--tolerance-ms",
        type=int,
        default=1000,
        help="time may run backwards this much before it is reported (1000)",
    )
    add_threads_argument(p)
    p.set_defaults(func=run)


def as_json(r: VerifyReport) -> dict[str, Any]:
    return {
        "trail": r.name,
        "ok": r.ok,
        "nbytes": r.nbytes,
        "records": r.records,
        "file_tokens": r.file_tokens,
        "bytes_covered": r.bytes,
        "truncated_tail": r.truncated_tail,
        # Each list holds its first entries (bsmtrail.tally); the totals count them all.
        "damage": [
            {"offset": d.offset, "length": d.length, "reason": d.reason, "message": str(d.error)}
            for d in r.damage
        ],
        "damage_total": {
            "regions": r.damage.total,
            "bytes": r.damage.bytes,
            "by_reason": {
                k: {"regions": n, "bytes": b} for k, (n, b) in r.damage.by_reason.items()
            },
            "listed": len(r.damage.kept),
        },
        "seq_gaps": [{"offset": o, "expected": e, "found": f} for o, e, f in r.seq_gaps],
        "seq_gaps_total": r.seq_gaps.total,
        "time_backwards": [
            {"offset": o, "previous": list(p), "time": list(t)} for o, p, t in r.time_backwards
        ],
        "time_backwards_total": r.time_backwards.total,
        "empty": r.empty,
        "unknown_events": {str(k): v for k, v in sorted(r.unknown_events.items())},
        "notes": r.notes,
        "first_time": list(r.first_time) if r.first_time else None,
        "last_time": list(r.last_time) if r.last_time else None,
        "earliest": list(r.earliest) if r.earliest else None,
        "latest": list(r.latest) if r.latest else None,
        "token_counts": r.token_counts,
    }


def show(r: VerifyReport, limit: int) -> str:
    lines = [
        f"{printable(r.name)}: {'OK' if r.ok else 'PROBLEMS FOUND'}",
        f"  records {r.records}, file tokens {r.file_tokens}, "
        f"bytes covered {r.bytes} of {r.nbytes}",
    ]
    if r.damage:
        lines.append(f"  damaged regions: {r.damage.total} ({r.damage.bytes} bytes)")
        shown = r.damage.kept[:limit]
        for d in shown:
            lines.append(f"    @{d.offset} (0x{d.offset:x}) {d.length} bytes: {d.error}")
        if r.damage.total > len(shown):
            lines.append(f"    ... and {r.damage.total - len(shown)} more")
    if r.truncated_tail:
        lines.append("  truncated tail: the input ends inside a damaged region")
    if r.seq_gaps:
        lines.append(f"  sequence gaps: {r.seq_gaps.total}")
        for o, e, f in r.seq_gaps.kept[:limit]:
            lines.append(f"    @{o}: expected {e}, found {f}")
        if r.seq_gaps.total > limit:
            lines.append(f"    ... and {r.seq_gaps.total - limit} more")
    if r.time_backwards:
        lines.append(f"  time running backwards: {r.time_backwards.total}")
        for o, p, t in r.time_backwards.kept[:limit]:
            lines.append(f"    @{o}: {p[0]}.{p[1]:03d} -> {t[0]}.{t[1]:03d}")
        if r.time_backwards.total > limit:
            lines.append(f"    ... and {r.time_backwards.total - limit} more")
    if r.empty:
        lines.append(f"  {printable(no_records_reason(r.name))}")
    lines += [f"  note: {printable(n)}" for n in r.notes]
    return "\n".join(lines) + "\n"


def show_set(r: TrailSetReport) -> str:
    span = ""
    if r.first is not None and r.last is not None:
        span = f", {r.first:%Y-%m-%d %H:%M:%S} to {r.last:%Y-%m-%d %H:%M:%S} UTC"
    lines = [
        f"{printable(r.directory)} (trail set of {len(r.trails)}): "
        f"{'OK' if r.ok else 'PROBLEMS FOUND'}{span}"
    ]
    lines += [f"  {f.kind}: {printable(f.message)}" for f in r.findings]
    lines += [f"  note: {printable(n)}" for n in r.notes]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    status = 0
    trails = expand_paths(args.trails, PROG)
    sizes = [os.path.getsize(p) for p in trails]
    reports: dict[str, VerifyReport] = {}
    # A bar across the trails (each is verified in one call to Rust): useful for
    # `verify /var/audit/*`; erased while a report is written.
    with Progress(sum(sizes), "verify", progress_wanted(args.quiet)) as bar:
        for i, path in enumerate(trails):
            report = open_trail(path).verify(
                events=args.events, backwards_tolerance_ms=args.tolerance_ms, threads=args.threads
            )
            reports[os.path.abspath(path)] = report
            bar.clear()
            if report.empty:
                say_no_records(PROG, path)
            if args.json:
                sys.stdout.write(json.dumps(as_json(report)) + "\n")
            else:
                sys.stdout.write(show(report, args.limit))
            sys.stdout.flush()
            bar.update(sum(sizes[: i + 1]))
            if not report.ok:
                status = 1
    # A directory is also a trail set: what is missing between its trails.
    for given in args.trails:
        if not os.path.isdir(given):
            continue
        root = os.path.abspath(given)
        mine = {os.path.basename(p): r for p, r in reports.items() if os.path.dirname(p) == root}
        found = trailset.check(given, mine, tolerance_ms=args.tolerance_ms)
        if found is None:
            continue  # no trail named as auditd names them: not an audit directory
        if args.json:
            sys.stdout.write(json.dumps(found.as_dict()) + "\n")
        else:
            sys.stdout.write(show_set(found))
        if not found.ok:
            status = 1
    return status

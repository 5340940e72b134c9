"""``bsmtrail reduce``: auditreduce-compatible selection, writing a BSM trail."""

from __future__ import annotations

import argparse
import contextlib
import getopt
import sys
from collections.abc import Sequence
from typing import Any, BinaryIO

from ..arrow import MERGE_WINDOW_MS
from ..outputs import atomic_file, check_output
from ..select import SelectionError, parse_auditreduce_args, reduce, selection
from ..sources import materialize
from ..timeline import InputReport
from ..timeline import reduce as reduce_timeline
from ..types import Mode
from .inputs import expand_paths, late_lines
from .printable import printable
from .usage import parse_threads, say_no_records

PROG = "bsmtrail reduce"

HELP = """\
usage: bsmtrail reduce [options] [file ...]

Select records like OpenBSM auditreduce and write them, whole and byte for byte, as a BSM
trail to standard output (or -w FILE), so the output pipes into `bsmtrail print` or
praudit. Every criterion applies to every header, subject, process and return variant
(64-bit, _ex); auditreduce itself sees only the 32-bit forms (use --variants auditreduce
to reproduce it exactly). With no file, reads standard input. Files may be compressed
(gzip, bzip2, xz, zstd); a directory or glob reads the trails in it (other files are
skipped with a note). -w FILE is written under a temporary name and renamed into place
when complete; it may not be an input.

auditreduce options:
  -A                  all records (overrides -a, -b, -d)
  -a YYYYMMDD[HH[MM[SS]]]  records at or after this local time
  -b YYYYMMDD[HH[MM[SS]]]  records at or before this local time
  -d YYYYMMDD         records of this local day
  -c FLAGS            class flags, e.g. lo,+ex,-fr (success/failure aware)
  -m EVENT            event number or AUE name (repeatable)
  -e USER / -r USER   effective / real user (number or name)
  -f GROUP / -g GROUP effective / real group (number or name)
  -u USER             audit user (number or name)
  -j PID              subject process id
  -o file=RE[,RE...]  path regular expressions (~ excludes, first match wins, \\, escapes)
  -o pid=N | msgqid=N | semid=N | shmid=N   process / IPC objects
  -z ZONE             zone name (fnmatch pattern)
  -v                  invert the selection

bsmtrail options:
  -w FILE             write to FILE instead of standard output
  --recover           skip damaged regions and resynchronise (default: stop like auditreduce)
  --merge             one timeline: the records of every input merged by time (auditreduce
                      cannot merge); records out of order inside a trail by more than
                      --window-ms MS (default 30000) are reported and left in place
  --variants {all,auditreduce}
  --events FILE       audit_event file          --passwd FILE / --group FILE  the trail
                      machine's files; user and group names in criteria need them
  --threads N         worker threads judging records (default: every core); the output
                      is the same for any N

examples:
  bsmtrail reduce -u alice -a 20240101020000 -b 20240101030000 --passwd etc/passwd t.bsm
  bsmtrail reduce -c -lo /var/audit/* | bsmtrail print -l
  bsmtrail reduce -o file=/etc/master.passwd -w touched.bsm trail.bsm

exit status: 0 ok; 1 damaged input or an input without records; 2 bad criteria, usage,
an unreadable input or a refused output; 130 interrupted
"""

LONG = [
    "recover",
    "merge",
    "window-ms=",
    "variants=",
    "events=",
    "passwd=",
    "group=",
    "threads=",
    "help",
]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    # auditreduce's syntax (`-c -all`, `-c +all`) is not argparse's: take the words raw.
    p = sub.add_parser(
        "reduce",
        help="select records like auditreduce and write a BSM trail",
        prefix_chars="\x00",
        add_help=False,
    )
    p.add_argument("argv", nargs=argparse.REMAINDER)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return main(args.argv)


def main(argv: Sequence[str]) -> int:
    try:
        opts, rest = getopt.gnu_getopt(list(argv), "Aa:b:c:d:e:f:g:j:m:o:r:u:vz:w:h", LONG)
    except getopt.GetoptError as e:
        print(f"{PROG}: {e.msg}", file=sys.stderr)
        return 2
    ours: dict[str, Any] = {}
    theirs: list[str] = []
    for opt, val in opts:
        if opt in ("-h", "--help"):
            sys.stdout.write(HELP)
            return 0
        if opt == "-w":
            ours["out"] = val
        elif opt.startswith("--"):
            ours[opt[2:]] = val if val else True
        else:
            theirs += [opt, val] if val or opt not in ("-A", "-v") else [opt]
    try:
        crit = parse_auditreduce_args(theirs)
        variants = ours.get("variants", "all")
        if variants not in ("all", "auditreduce"):
            raise SelectionError("--variants", f"must be all or auditreduce, not {variants!r}")
        sel = selection(
            **crit.options,  # type: ignore[arg-type]
            variants=variants,
            event_db=ours.get("events"),
            passwd=ours.get("passwd"),
            group=ours.get("group"),
        )
    except SelectionError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    threads: int | None = None
    if "threads" in ours:
        try:
            threads = parse_threads(ours["threads"])
        except argparse.ArgumentTypeError as e:
            print(f"{PROG}: --threads: {e}", file=sys.stderr)
            return 2
    out: str | None = ours.get("out")
    # Every input is checked, and the output refused, before anything is written.
    names = expand_paths(rest, PROG) if rest else ["-"]
    if out is not None:
        check_output(out, rest)
    elif sys.stdout.isatty():
        print(
            f"{PROG}: refusing to write binary records to a terminal; "
            "pipe them (| bsmtrail print -l) or give -w FILE",
            file=sys.stderr,
        )
        return 2
    if not rest and sys.stdin.isatty():
        print(f"{PROG}: reading a trail from standard input (Ctrl-D ends it)", file=sys.stderr)
    mode: Mode = "recover" if ours.get("recover") else "strict"
    window_ms = MERGE_WINDOW_MS
    if "window-ms" in ours:
        try:
            window_ms = int(ours["window-ms"])
            if window_ms < 0:
                raise ValueError
        except ValueError:
            print(f"{PROG}: --window-ms must be a number of milliseconds", file=sys.stderr)
            return 2
    if ours.get("merge") and names == ["-"]:
        print(f"{PROG}: --merge reads trail files, not standard input", file=sys.stderr)
        return 2
    status = 0
    with contextlib.ExitStack() as stack:
        if out is not None:
            sink: BinaryIO = stack.enter_context(open(stack.enter_context(atomic_file(out)), "wb"))
        else:
            sink = sys.stdout.buffer
        if ours.get("merge"):
            merged = reduce_timeline(
                names, sel, sink, mode=mode, window_ms=window_ms, threads=threads
            )
            return _merge_status(merged.inputs, window_ms)
        for name in names:
            src = stack.enter_context(materialize(name))
            res = reduce(src.path, sel, sink, mode=mode, threads=threads)
            if res.error is not None:
                print(f"{PROG}: {printable(src.name)}: stopped: {res.error}", file=sys.stderr)
                status = 1
            if res.damage:
                skipped = res.damage.bytes
                print(
                    f"{PROG}: {printable(src.name)}: skipped {len(res.damage)} damaged regions "
                    f"({skipped} bytes); first at offset {res.damage[0].offset}: "
                    f"{res.damage[0].error}",
                    file=sys.stderr,
                )
                status = 1
            if res.undecided:
                print(
                    f"{PROG}: {printable(src.name)}: {res.undecided.total} record(s) left out: "
                    "a token bsmtrail cannot decode hides what the criteria depend on; first at "
                    f"offset {res.undecided[0]}",
                    file=sys.stderr,
                )
                status = 1
            if res.seen == 0:
                say_no_records(PROG, src.name, src.path)
                status = 1
        sink.flush()
    return status


def _merge_status(reports: list[InputReport], window_ms: int) -> int:
    """``--merge``'s findings on stderr, per input; 1 when any."""
    status = 0
    for r in reports:
        if r.error is not None:
            print(f"{PROG}: {printable(r.name)}: stopped: {r.error}", file=sys.stderr)
            status = 1
        if r.damage:
            print(
                f"{PROG}: {printable(r.name)}: skipped {len(r.damage)} damaged regions "
                f"({r.damage.bytes} bytes); first at offset {r.damage[0].offset}: "
                f"{r.damage[0].error}",
                file=sys.stderr,
            )
            status = 1
        if r.records == 0:
            print(f"{PROG}: {printable(r.name)}: no records", file=sys.stderr)
            status = 1
    for line in late_lines(PROG, [(r.name, r.late) for r in reports], window_ms):
        print(line, file=sys.stderr)
        status = 1
    return status

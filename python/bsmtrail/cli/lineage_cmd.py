"""``bsmtrail sessions``, ``bsmtrail processes`` and ``bsmtrail tree``: who did what
(:mod:`bsmtrail.lineage`)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..arrow import InputsArg
from ..export import Sink, format_for
from ..lineage import command_line, iter_processes, lineage, tree_lines
from ..outputs import atomic_file, check_output
from .inputs import (
    add_label_argument,
    add_merge_arguments,
    add_where_arguments,
    parse_labels,
    parse_where,
)
from .printable import aligned_table, printable
from .usage import UsageError

_SESSION_COLUMNS = ("host", "asid", "auid", "start", "end", "records", "failures")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("trails", nargs="*", help="trail files, directories or globs (compressed too)")
    add_label_argument(p)
    add_where_arguments(p)
    add_merge_arguments(p, None)
    p.add_argument("--mode", choices=("recover", "strict"), default="recover")
    p.add_argument("--threads", type=int, default=None, help="decoding threads (all cores)")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, what in (
        ("sessions", "one row per audit session (host, asid, auid): span, login, commands"),
        ("processes", "one row per process lifetime: parent, execs, exit, counts"),
    ):
        p = sub.add_parser(
            name,
            help=what,
            description=f"{what}. Inputs are merged in time. Prints a table, or with -o "
            "writes every column (.parquet, .csv or .jsonl by the name's ending; - for "
            "JSON lines on stdout).",
        )
        _common(p)
        p.add_argument("-o", "--output", metavar="FILE", help="write the table (see above)")
        p.set_defaults(func=run, view=name)
    p = sub.add_parser(
        "tree",
        help="process trees with their commands, like pstree",
        description="Draw the processes of the trails (or of one audit session) as trees: "
        "pid, commands executed, audit user, effective uid, how each ended.",
    )
    _common(p)
    p.add_argument("--session", type=int, metavar="ASID", help="only this audit session")
    p.add_argument("--host", metavar="NAME", help="only this --label host")
    p.add_argument("--width", type=int, default=0, help="cut lines to this many characters")
    p.set_defaults(func=run, view="tree")


def _inputs(args: argparse.Namespace) -> InputsArg:
    labelled = parse_labels(args.label)
    if labelled and args.trails:
        raise UsageError("give every input a --label, or none")
    if not labelled and not args.trails:
        raise UsageError("no input trails")
    if not labelled:
        return list(args.trails)
    grouped: dict[str, list[str]] = {}
    for name, path in labelled:
        grouped.setdefault(name, []).append(path)
    return grouped


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, list):
        return ",".join(map(str, v))
    return str(v)


def _print_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    sys.stdout.write(aligned_table(([_cell(r.get(c)) for c in columns] for r in rows), columns))


def _write(batches: Iterable[Any], output: str, inputs: Sequence[str]) -> None:
    """``batches`` to ``output`` in the format its name ends in (``-``: JSON lines on
    stdout), through the writers ``convert`` uses, replacing the file atomically."""
    fmt = "jsonl" if output == "-" else format_for(output)
    if fmt not in ("parquet", "csv", "jsonl"):
        raise UsageError(f"-o {output}: end the name in .parquet, .csv or .jsonl")
    if output != "-":
        check_output(output, inputs)
    with atomic_file(output) as tmp:
        sink: Sink | None = None
        try:
            for batch in batches:
                if sink is None:
                    sink = Sink(fmt, tmp, batch.schema)
                sink.write(batch)
        finally:
            if sink is not None:
                sink.close()


def _input_paths(args: argparse.Namespace) -> list[str]:
    return [*args.trails, *(path for _, path in parse_labels(args.label))]


def run(args: argparse.Namespace) -> int:
    inputs = _inputs(args)
    where = parse_where(args.where, events=args.events, passwd=args.passwd, group=args.group)
    view = args.view
    options: dict[str, Any] = {
        "where": where,
        "events": args.events,
        "passwd": args.passwd,
        "group": args.group,
        "window_ms": args.window_ms,
        "threads": args.threads,
    }
    if view == "processes" and args.output is not None:
        # Written as the processes end: memory holds the open ones, not the view.
        batches = iter_processes(inputs, args.mode, **options)
        _write(batches, args.output, _input_paths(args))
        return 0
    sessions, processes = lineage(
        inputs, args.mode, sessions=view == "sessions", processes=view != "sessions", **options
    )
    if view == "tree":
        for line in tree_lines(processes, asid=args.session, host=args.host, width=args.width):
            sys.stdout.write(printable(line) + "\n")
        return 0
    table = sessions if view == "sessions" else processes
    if args.output is not None:
        _write(table.to_batches(), args.output, _input_paths(args))
        return 0
    rows = table.to_pylist()
    if view == "sessions":
        for r in rows:
            r["login"] = r["login_event_name"] or r["login_event"]
            addr = r["tid_addr"] or "-"
            r["terminal"] = (
                f"[{addr}]:{r['tid_port']}" if ":" in addr else f"{addr}:{r['tid_port']}"
            )
        _print_table(rows, [*_SESSION_COLUMNS, "login", "terminal", "processes", "commands"])
    else:
        rows.sort(key=lambda r: r["id"])  # in order of appearance
        for r in rows:
            r["command"] = command_line(r["execs"]) if r["execs"] else ""
        _print_table(
            rows,
            [
                "host",
                "pid",
                "ppid",
                "start",
                "end",
                "origin",
                "end_reason",
                "auid",
                "euid",
                "command",
            ],
        )
    return 0

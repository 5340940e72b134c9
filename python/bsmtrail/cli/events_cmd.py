"""``bsmtrail events`` and ``bsmtrail classes``: look things up in the event database."""

from __future__ import annotations

import argparse
import json
import sys

from ..events import AuditClass, AuditEvent, AuditFlagsError, EventDatabase, load_events
from .printable import aligned_table


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "events",
        help="look up audit events by number, AUE name, class or text",
        description="Look up the event database (audit_event): by number, by AUE name, "
        "by class, or by a case-insensitive text search over names and descriptions. "
        "With no query, list every event.\n\nexamples:\n  bsmtrail events 23 AUE_OPEN_R\n"
        "  bsmtrail events --class lo\n  bsmtrail events --search passwd --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("query", nargs="*", help="event numbers or AUE names")
    p.add_argument("--class", dest="klass", metavar="NAME", help="events in this class")
    p.add_argument("--search", metavar="TEXT", help="text in the name or description")
    _common(p)
    p.set_defaults(func=run_events)

    c = sub.add_parser(
        "classes",
        help="list audit classes, or parse class flags into masks",
        description="List the audit classes (audit_class), or with --flags parse a class "
        "flag string (lo,+ex,-fr,^fw) into its success and failure masks exactly as "
        "libbsm's getauditflagsbin does.\n\nexamples:\n  bsmtrail classes\n"
        "  bsmtrail classes --flags lo,+ex,-fr",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    c.add_argument("--flags", metavar="FLAGS", help="parse a class-flag string")
    _common(c)
    c.set_defaults(func=run_classes)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--events", metavar="FILE", help="audit_event file (default: see docs)")
    p.add_argument("--audit-class", metavar="FILE", help="audit_class file")
    p.add_argument("--json", action="store_true", help="JSON output")


def _db(args: argparse.Namespace) -> EventDatabase:
    return load_events(args.events, audit_class=args.audit_class)


def _event_json(e: AuditEvent) -> dict[str, object]:
    return {
        "number": e.number,
        "name": e.name,
        "description": e.description,
        "classes": list(e.classes),
        "mask": e.mask,
    }


class _Usage(Exception):
    pass


def _find(db: EventDatabase, args: argparse.Namespace) -> list[AuditEvent]:
    found: list[AuditEvent] = []
    for q in args.query:
        e = db.get(int(q, 0)) if q.isdigit() or q.startswith("0x") else db.by_name(q)
        if e is None:
            raise _Usage(f"unknown event {q!r}")
        found.append(e)
    if args.klass is not None:
        if args.klass not in db.classes:
            raise _Usage(f"unknown class {args.klass!r}")
        found.extend(db.events_in_class(args.klass))
    if args.search is not None:
        needle = args.search.lower()
        found.extend(
            e for e in db.events if needle in e.name.lower() or needle in e.description.lower()
        )
    if not (args.query or args.klass is not None or args.search is not None):
        found = list(db.events)
    return found


def run_events(args: argparse.Namespace) -> int:
    db = _db(args)
    try:
        found = _find(db, args)
    except _Usage as e:
        print(f"bsmtrail events: {e}", file=sys.stderr)
        return 2
    if args.json:
        json.dump([_event_json(e) for e in found], sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        rows = ((str(e.number), e.name, e.description, ",".join(e.classes)) for e in found)
        sys.stdout.write(aligned_table(rows, ("number", "name", "description", "classes")))
    return 0


def _class_json(c: AuditClass) -> dict[str, object]:
    return {"name": c.name, "mask": c.mask, "description": c.description}


def run_classes(args: argparse.Namespace) -> int:
    db = _db(args)
    if args.flags is not None:
        try:
            m = db.parse_flags(args.flags)
        except AuditFlagsError as e:
            print(f"bsmtrail classes: --flags: {e}", file=sys.stderr)
            return 2
        if args.json:
            json.dump({"flags": args.flags, "success": m.success, "failure": m.failure}, sys.stdout)
            sys.stdout.write("\n")
        else:
            sys.stdout.write(
                f"success 0x{m.success:08x}\nfailure 0x{m.failure:08x}\n"
                f"as flags: {db.format_flags(m)}\n"
            )
        return 0
    if args.json:
        json.dump([_class_json(c) for c in db.classes], sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        rows = ((c.name, f"0x{c.mask:08x}", c.description) for c in db.classes)
        sys.stdout.write(aligned_table(rows, ("name", "mask", "description")))
    return 0

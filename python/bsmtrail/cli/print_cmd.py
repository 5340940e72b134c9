"""``bsmtrail print``: praudit, byte for byte.

Usage: ``bsmtrail print [-lnprsx] [-d DEL] [--events FILE] [--passwd FILE] [--group FILE]
[--apple] [--xml-strict] [file ...]``. The rules are praudit's (``docs/bsm-format.md``
§1.8): files in order; no file argument means stdin; a file that cannot be opened is
named on stderr and skipped; under ``-x`` the prologue is printed once first and
``</audit>`` only when file arguments were given. Standard output is praudit's byte for
byte; the exit status follows bsmtrail's rule (README), not praudit's accidents: 0 also
for stdin (praudit exits 1, which breaks ``set -o pipefail``), 2 when a file could not be
opened, 1 when one held no record. Beyond praudit: ``-`` names stdin as a file argument,
compressed files (gzip, bzip2, xz, zstd) are read, names resolved from this machine are
announced once on stderr, ``-p`` stops at the end of input when no 0x14 byte turns up
(praudit loops forever), ``-r`` with ``-s`` exits 2 like every other usage error, and
``--xml-strict`` always prints ``</audit>``.
"""

from __future__ import annotations

import argparse
import os
import stat
import sys
from typing import BinaryIO

from .. import dtaudit
from ..render import XML_FOOTER, XML_HEADER, Renderer
from ..sources import SNIFF, materialize, sniff_bytes
from ..stream import follow
from ..timeline import Timeline
from ..timeline import render as render_timeline
from .inputs import add_merge_arguments, expand_paths, late_lines
from .printable import printable
from .usage import add_threads_argument, say_no_records

PROG = "bsmtrail print"

#: Bytes read from a stream at a time.
_READ = 1 << 16


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "print",
        help="print a trail like praudit",
        description="Print BSM audit trails exactly as OpenBSM praudit does.",
    )
    p.add_argument("-l", dest="oneline", action="store_true", help="one line per record")
    p.add_argument("-n", dest="numeric", action="store_true", help="do not resolve ids")
    p.add_argument(
        "-p", dest="resync", action="store_true", help="skip input up to the first 0x14 byte"
    )
    modes = p.add_mutually_exclusive_group()
    modes.add_argument("-r", dest="raw", action="store_true", help="raw numbers")
    modes.add_argument("-s", dest="short", action="store_true", help="AUE_ event names")
    p.add_argument("-x", dest="xml", action="store_true", help="XML")
    p.add_argument("-d", dest="delimiter", default=",", metavar="DEL", help="field delimiter")
    p.add_argument("--events", metavar="FILE", help="audit_event file (default: system/stock)")
    p.add_argument("--passwd", metavar="FILE", help="passwd or master.passwd file for names")
    p.add_argument("--group", metavar="FILE", help="group file for names")
    p.add_argument(
        "--apple",
        action="store_true",
        help="decode Apple identity/krb5/cert-hash tokens (upstream prints them as unknown)",
    )
    p.add_argument(
        "--xml-strict",
        action="store_true",
        help="well-formed XML (praudit's XML is not always); implies nothing without -x",
    )
    p.add_argument("--utc", action="store_true", help="print times in UTC, not the local zone")
    p.add_argument(
        "-f",
        "--follow",
        action="store_true",
        help="follow one growing trail file (tail -f): wait for new records, survive rotation",
    )
    p.add_argument(
        "--poll", type=float, default=0.25, metavar="SECONDS", help="-f: poll interval (0.25)"
    )
    p.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="-f: stop after this long without new bytes (default: never)",
    )
    add_merge_arguments(p, "print")
    add_threads_argument(p)
    # Input bytes per rendering job (tests make it small to exercise many jobs).
    p.add_argument("--chunk-size", type=int, default=1 << 20, help=argparse.SUPPRESS)
    p.add_argument("files", nargs="*", metavar="file", help="trail files (- or none: stdin)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    renderer = Renderer(
        raw=args.raw,
        short=args.short,
        numeric=args.numeric,
        xml=args.xml,
        oneline=args.oneline,
        delimiter=os.fsencode(args.delimiter),
        apple=args.apple,
        xml_strict=args.xml_strict,
        utc=args.utc,
        events=args.events,
        users=args.passwd,
        # With the evidence's passwd but not its group file, groups are numbers: this
        # machine's group names would be mixed with the evidence's user names.
        groups=args.group if args.group is not None or args.passwd is None else [],
    )
    out = sys.stdout.buffer
    if args.merge:
        _say_names_note(args)
        return _merged(renderer, out, args)
    if args.follow:
        if len(args.files) != 1 or args.files[0] == "-":
            print(f"{PROG}: -f follows exactly one trail file", file=sys.stderr)
            return 2
        if args.xml:
            out.write(XML_HEADER)
        try:
            return _follow(renderer, args.files[0], out, args)
        finally:
            # Ctrl-C is how a follow ends: the document is still closed, then the
            # interrupt is reported like every command's (status 130).
            if args.xml and args.xml_strict:
                out.write(XML_FOOTER)
            out.flush()
    _say_names_note(args)
    if args.xml:
        out.write(XML_HEADER)
    status = 0
    files: list[str] = args.files or ["-"]
    if not args.files and sys.stdin.isatty():
        print(f"{PROG}: reading a trail from standard input (Ctrl-D ends it)", file=sys.stderr)
    for name in files:
        if name == "-":
            _render_stream(renderer, sys.stdin.buffer, out, args.resync)
            continue
        try:
            f = open(name, "rb")
        except OSError as e:
            out.flush()
            print(f"{PROG}: {name}: {os.strerror(e.errno) if e.errno else e}", file=sys.stderr)
            status = 2
            continue
        with f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                # FIFOs and devices (/dev/auditpipe) are read as they produce records.
                _render_stream(renderer, f, out, args.resync)
                continue
        # Regular files (decompressed first when compressed) are memory-mapped and
        # rendered in large chunks.
        with materialize(name) as trail:
            rendered = renderer.write(
                trail.path,
                out,
                resync=args.resync,
                chunk_size=args.chunk_size,
                threads=args.threads,
            )
            out.flush()
            if not rendered:
                say_no_records(PROG, name, trail.path)
                status = max(status, 1)
    # praudit prints the epilogue only when file arguments were given.
    if args.xml and (args.files or args.xml_strict):
        out.write(XML_FOOTER)
    out.flush()
    return status


def _merged(renderer: Renderer, out: BinaryIO, args: argparse.Namespace) -> int:
    """``--merge``: every trail read at once and printed as one time-ordered trail, each
    framed as praudit frames a file (it stops silently at its first framing problem)."""
    if args.follow or args.resync or not args.files or "-" in args.files:
        print(f"{PROG}: --merge reads trail files (not stdin), without -f or -p", file=sys.stderr)
        return 2
    if args.window_ms < 0:
        print(f"{PROG}: --window-ms must be at least 0", file=sys.stderr)
        return 2
    # A file that cannot be read is said by the command's one OSError rule.
    names = expand_paths(args.files, PROG)
    if not names:
        print(f"{PROG}: no trail to merge", file=sys.stderr)
        return 1
    with Timeline(names, mode="strict", window_ms=args.window_ms, praudit_framing=True) as tl:
        if args.xml:
            out.write(XML_HEADER)
        render_timeline(tl, renderer, out, threads=args.threads, chunk_size=args.chunk_size)
        if args.xml:
            out.write(XML_FOOTER)
        out.flush()
        reports = tl.report()
    status = 0
    for line in late_lines(PROG, [(r.name, r.late) for r in reports], args.window_ms):
        print(line, file=sys.stderr)
    for r in reports:
        if r.records == 0:
            print(f"{PROG}: {printable(r.name)}: no records", file=sys.stderr)
            status = 1
    return status


def _say_names_note(args: argparse.Namespace) -> None:
    if not (args.numeric or args.raw):
        note = _names_note(args.passwd, args.group)
        if note:
            print(f"{PROG}: note: {note}", file=sys.stderr)


def _names_note(passwd: str | None, group: str | None) -> str:
    """Said once on stderr when ids are named from anything but the evidence's files."""
    if passwd is None:
        return (
            "user and group names come from this machine, not the evidence; give the "
            "trail machine's --passwd FILE and --group FILE, or -n for numbers"
        )
    if group is None:
        return "groups are shown as numbers; give the trail machine's --group FILE to name them"
    return ""


def _render_stream(renderer: Renderer, inp: BinaryIO, out: BinaryIO, resync: bool) -> None:
    """Render a pipe as it arrives, flushing after every read (``tail -f | ... -p``); a
    dtaudit capture (``dtrace -s bsmtrail.d | bsmtrail print``) record by record."""
    stream = renderer.stream(resync=resync)
    read = getattr(inp, "read1", inp.read)
    data = read(_READ)
    # Enough of the first bytes to know a capture by the rule every input follows.
    while data and len(data) < SNIFF and dtaudit.MAGIC.startswith(data):
        more = read(_READ)
        if not more:
            break
        data += more
    if sniff_bytes(data[:SNIFF]) == "dtaudit":
        for record in dtaudit.complete_records(inp, "<stdin>", head=data):
            out.write(renderer.render_record(record))
            out.flush()
        return
    while not stream.done and data:
        rendered = stream.feed(data)
        if rendered:
            out.write(rendered)
            out.flush()
        data = read(_READ)


def _follow(renderer: Renderer, name: str, out: BinaryIO, args: argparse.Namespace) -> int:
    """``-f``: render a trail that is still being written, through the library's follow
    (``bsmtrail.stream.follow``): a record cut at the current end of the file is held
    until the rest arrives; damage is skipped and the trail read on (a junk byte must not
    end a follow); a header claiming more than was written before later records is given
    up after a quiet poll; rotation drains the old file first; truncation in place
    (copytruncate) starts over from the file's start. Skipped damage is reported when the
    follow ends; returns the exit status."""
    stream = follow(name, poll_interval=args.poll, idle_timeout=args.idle_timeout)
    try:
        for rec in stream:
            out.write(renderer.render_record(rec.raw))
            out.flush()
    finally:
        damage = stream.damage
        if damage:
            first = damage.kept[0] if damage.kept else None
            print(
                f"{PROG}: {printable(name)}: skipped {damage.total} damaged region(s) "
                f"({damage.bytes} bytes)"
                + (f"; first at offset {first.offset}: {first.error}" if first else ""),
                file=sys.stderr,
            )
    return 1 if damage else 0

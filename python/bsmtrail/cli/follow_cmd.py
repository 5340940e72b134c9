"""``bsmtrail follow DIR|FILE``: records of a live trail as JSON lines, as they are written,
with a checkpoint to resume from (``bsmtrail.live`` does the following; this module
writes the lines, syncs them before each checkpoint, and turns SIGINT/SIGTERM/SIGHUP into
a clean stop)."""

from __future__ import annotations

import argparse
import os
import select
import signal
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from ..export import jsonl_lines
from ..live import CheckpointError, Follower, LiveBatch, cut_unfinished_line
from ..outputs import check_output, write_all
from .inputs import add_where_arguments, damage_text, parse_columns, parse_where
from .printable import printable
from .usage import UsageError, add_threads_argument

PROG = "bsmtrail follow"

EPILOG = """\
examples:
  bsmtrail follow /var/audit --checkpoint /var/db/bsmtrail.ckpt -o /var/log/audit.jsonl
  bsmtrail follow /var/audit --start end --where "-c lo,aa" | jq .
  bsmtrail follow /var/audit/current --columns time,event_name,auid,paths

DIR is auditd's trail directory: the live trail (the `current` link, or the newest
*.not_terminated) is followed across rotations. A FILE is followed across rotation of its
path and truncation. Each line is one record: the records-view columns, `source` the
trail's name as auditd created it (START.not_terminated, also after it is renamed
START.END; a FILE's name as given, FILE#2 once it is replaced) and `offset` the record's
byte offset in it.

With --checkpoint, the position is saved (atomically, after the lines are written and,
for a file, synced) after each batch; killed at any point and started again with the same
checkpoint, follow loses no record and repeats at most the batch it was writing, with the
same (source, offset). One follower per checkpoint (it holds FILE.lock). -o appends, and
first cuts off an unfinished last line left by a killed run. Damaged regions are reported
on stderr as they pass. SIGINT, SIGTERM and SIGHUP finish the batch being written and
exit 0.
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "follow",
        help="follow a live trail directory or file, writing JSON lines",
        description="Follow auditd's trail directory (or one trail file) as it is written, "
        "one JSON object per record, resuming from a checkpoint.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("target", metavar="DIR|FILE", help="auditd's trail directory or a trail")
    p.add_argument("-o", "--output", default="-", help="append the lines to FILE (stdout)")
    p.add_argument(
        "--checkpoint", metavar="FILE", help="resume from FILE and save the position there"
    )
    p.add_argument(
        "--start",
        choices=("current", "end", "first"),
        default="current",
        help="without a checkpoint: the live trail from its start (current, the default), "
        "from its end (only new records), or the oldest trail in DIR (first)",
    )
    p.add_argument("--columns", metavar="A,B,...", help="records-view columns to write")
    p.add_argument(
        "--interval",
        type=float,
        default=0.25,
        metavar="SECONDS",
        help="how often a quiet trail is looked at again (0.25)",
    )
    add_where_arguments(p)
    add_threads_argument(p)
    p.set_defaults(func=run)


class _Stopper:
    """SIGINT, SIGTERM and SIGHUP ask for a stop instead of raising: the batch being
    written is finished and checkpointed. A signal also wakes the poll's sleep (through
    the wakeup descriptor) so the stop is prompt."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.stopped = False
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)

    def _on_signal(self, signum: int, frame: object) -> None:
        self.stopped = True

    def sleep(self, seconds: float) -> None:
        if self.stopped:
            return
        ready, _, _ = select.select([self._r], [], [], seconds)
        if ready:
            try:
                os.read(self._r, 512)
            except BlockingIOError:
                pass

    @contextmanager
    def installed(self) -> Iterator[_Stopper]:
        previous = {sig: signal.signal(sig, self._on_signal) for sig in self.SIGNALS}
        old_fd = signal.set_wakeup_fd(self._w, warn_on_full_buffer=False)
        try:
            yield self
        finally:
            signal.set_wakeup_fd(old_fd)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            os.close(self._r)
            os.close(self._w)


def run(args: argparse.Namespace) -> int:
    if not os.path.exists(args.target):
        raise FileNotFoundError(2, "No such file or directory", args.target)
    if args.interval <= 0:
        raise UsageError("--interval must be above 0 seconds")
    check_output(args.output, [args.target])
    where = parse_where(args.where, events=args.events, passwd=args.passwd, group=args.group)
    stopper = _Stopper()
    try:
        follower = Follower(
            args.target,
            checkpoint=args.checkpoint,
            start=args.start,
            where=where,
            columns=None
            if args.columns is None
            else parse_columns(
                args.columns, passwd=args.passwd is not None, group=args.group is not None
            ),
            events=args.events,
            passwd=args.passwd,
            group=args.group,
            poll_interval=args.interval,
            threads=args.threads,
            stop=lambda: stopper.stopped,
            sleep=stopper.sleep,
        )
    except ValueError as e:
        raise UsageError(str(e)) from None
    if args.output == "-":
        sys.stdout.flush()
        fd = sys.stdout.fileno()
    else:
        fd = os.open(args.output, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        return _follow(follower, fd, stopper)
    finally:
        if fd != sys.stdout.fileno():
            os.close(fd)


def _follow(follower: Follower, fd: int, stopper: _Stopper) -> int:
    regular = stat.S_ISREG(os.fstat(fd).st_mode)
    cut = cut_unfinished_line(fd) if regular else 0
    if cut:
        print(
            f"{PROG}: note: cut {cut} bytes of an unfinished last line (a run that was "
            "killed while writing; its records come again)",
            file=sys.stderr,
        )
    rows = 0
    with stopper.installed():
        print(
            f"{PROG}: following {printable(follower.given)}{_resuming(follower)}", file=sys.stderr
        )
        try:
            for batch in follower:
                _write_batch(
                    fd, batch, follower.threads, sync=regular and follower.checkpoint is not None
                )
                follower.commit(batch)
                rows += batch.rows
        except CheckpointError as e:
            raise UsageError(str(e)) from None
    pos = follower.position
    where = f"; at {printable(pos.trail)} offset {pos.offset}" if pos is not None else ""
    print(f"{PROG}: stopped: {rows} rows written{where}", file=sys.stderr)
    return 0


def _resuming(follower: Follower) -> str:
    pos = follower.position
    if pos is None:
        return f" (from the {follower.start} trail)" if follower.directory else ""
    return f" from {printable(pos.trail)} offset {pos.offset} (checkpoint)"


def _write_batch(fd: int, batch: LiveBatch, threads: int | None, *, sync: bool) -> None:
    for d in batch.damage:
        print(f"{PROG}: damage: {damage_text(d)}", file=sys.stderr)
    for b in batch.batches:
        for piece in jsonl_lines(b, threads=threads):
            write_all(fd, piece)
    if sync and batch.batches:
        os.fsync(fd)  # the lines are on disk before the checkpoint says so

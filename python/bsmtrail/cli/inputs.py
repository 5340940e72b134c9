"""Trail inputs for the data subcommands (``convert``, ``stats``): the files the arguments
name, the Arrow stream over them with a progress bar, and the damage report on stderr.

Which files the arguments name, and how compressed trails (gzip, bzip2, xz, zstd, by their
magic bytes) and pipes become readable files, is the library's rule (``bsmtrail.sources``);
selection (``--where``) and damage are the stream's (``bsmtrail.arrow.stream``: records are
judged in Rust before any column is built, and the stream reports where it skipped). This
module adds the progress bar and the notes on stderr.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import partial
from typing import Any

from ..arrow import MERGE_WINDOW_MS, BatchStream, Order, View, check_columns, stream
from ..select import Selection, SelectionError, parse_auditreduce_args, selection
from ..sources import COMPRESSIONS, Expansion, Materialized, expand, materialize, sniff
from ..tally import DEFAULT_KEEP, Bounded, DamageEntry, report_entries
from ..timeline import Late
from ..types import Mode
from .printable import printable
from .progress import Progress
from .usage import UsageError, say_no_records

#: Each view's columns for the byte span a row covers (where the progress bar is).
_SPAN = {
    "records": ("record_offset", "size"),
    "tokens": ("token_offset", "length"),
    "errors": ("region_offset", "length"),
}

__all__ = [
    "DamageEntry",
    "DamageReport",
    "Input",
    "Inputs",
    "UsageError",
    "expand_paths",
    "parse_where",
]


@dataclass
class DamageReport:
    """Damage of a command's inputs in bounded memory: the first ``keep`` entries in full,
    exact counts of damaged regions (and their bytes) and of failing or undecided records.
    The full list is ``convert --view errors``."""

    entries: list[DamageEntry] = field(default_factory=list)
    regions: int = 0
    region_bytes: int = 0
    records: int = 0
    keep: int = DEFAULT_KEEP

    def keep_entry(self, entry: DamageEntry) -> None:
        """Keep an entry if there is room (the counts are set by whoever counted it)."""
        if len(self.entries) < self.keep:
            self.entries.append(entry)

    def __len__(self) -> int:
        return self.regions + self.records

    def __bool__(self) -> bool:
        return len(self) > 0


@dataclass
class Input:
    """One trail: ``name`` as given (the ``source`` column), ``path`` the file read (the
    original, or a decompressed copy), ``weight`` its share of the progress bar (bytes on
    disk), ``length`` the size of ``path``."""

    name: str
    path: str
    weight: int
    length: int

    def share(self, pos: int) -> int:
        """The progress bar's bytes for this input read up to byte ``pos`` of ``path``."""
        frac = min(pos / self.length, 1.0) if self.length else 1.0
        return int(self.weight * frac)


def expand_paths(args: Sequence[str], prog: str) -> list[str]:
    """The trail files the arguments name (``bsmtrail.sources.expand``), with a note on
    stderr for each file a directory or glob turned up that is not read, and one saying
    how many trails each directory or glob gave."""
    found: Expansion = expand(list(args))
    for note in found.notes() + found.summaries():
        print(f"{prog}: note: {printable(note)}", file=sys.stderr)
    return found.files


def add_where_arguments(p: argparse.ArgumentParser) -> None:
    """``--where`` and the files it is read against (``--events``, ``--passwd``,
    ``--group``, which also name events, users and groups in the output), for
    :func:`parse_where`."""
    p.add_argument(
        "--where",
        metavar="CRITERIA",
        help='auditreduce options as one string: --where "-u alice -c lo" (write '
        '--where="-o file=..." when it starts with -o)',
    )
    p.add_argument("--events", metavar="FILE", help="audit_event file (names, classes; -m/-c)")
    p.add_argument(
        "--passwd",
        metavar="FILE",
        help="passwd of the trail's machine (user names for -u/-e/-r and the *uid_name columns)",
    )
    p.add_argument(
        "--group",
        metavar="FILE",
        help="group file of the trail's machine (-f/-g and the *gid_name columns)",
    )


def parse_where(
    where: str | None,
    *,
    events: str | None = None,
    passwd: str | None = None,
    group: str | None = None,
) -> Selection | None:
    """``--where "-u alice -c lo"``: auditreduce's options as one string."""
    if where is None:
        return None
    try:
        words = shlex.split(where)
    except ValueError as e:
        raise UsageError(f"--where: {e}") from None
    try:
        crit = parse_auditreduce_args(words)
        if crit.files:
            raise UsageError(f"--where: unexpected operand {crit.files[0]!r} (options only)")
        return selection(
            **crit.options,  # type: ignore[arg-type]
            event_db=events,
            passwd=passwd,
            group=group,
        )
    except SelectionError as e:
        raise UsageError(f"--where {e}") from None


def _moved(bar: Progress, before: int, n: int) -> None:
    bar.update(before + n)


class Inputs:
    """The inputs of one command; compressed ones are decompressed to temporary files
    removed on close (plain trails are read in place: nothing is written).

    ``mode`` is ``"recover"`` (damage is skipped and reported) or ``"strict"`` (the first
    problem raises :class:`~bsmtrail.BSMError`)."""

    def __init__(
        self,
        paths: Sequence[str],
        *,
        prog: str,
        mode: Mode = "recover",
        where: Selection | None = None,
        progress: bool = False,
        threads: int | None = None,
        labelled: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.mode: Mode = mode
        self.threads = threads
        self.where = where
        self._copies: list[Materialized] = []
        self._stream: BatchStream | None = None
        self.items: list[Input] = []
        #: Each input's label (``--label NAME=PATH``), when any input has one.
        self.labels: list[str | None] | None = None
        try:
            names = expand_paths(paths, prog) if paths else []
            if labelled:
                self.labels = [None] * len(names)
                for label, path in labelled:
                    found = expand_paths([path], prog)
                    names += found
                    self.labels += [label] * len(found)
            sizes = [os.path.getsize(n) for n in names]
            # Decompression gets its own bar (it comes before any batch).
            packed = any(sniff(n) in COMPRESSIONS for n in names)
            with Progress(sum(sizes), "decompress", progress and packed) as bar:
                for i, name in enumerate(names):
                    copy = materialize(name, progress=partial(_moved, bar, bar.done))
                    self._copies.append(copy)
                    length = os.path.getsize(copy.path)
                    self.items.append(Input(name, copy.path, sizes[i], length))
                    bar.update(sum(sizes[: i + 1]))
        except BaseException:
            self.close()
            raise
        self.total = sum(it.weight for it in self.items)

    def __enter__(self) -> Inputs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for m in self._copies:
            m.close()
        self._copies = []

    def stream(
        self,
        *,
        view: View = "records",
        columns: Sequence[str] | None = None,
        batch_size: int = 65_536,
        events: str | None = None,
        passwd: str | None = None,
        group: str | None = None,
        order: Order = "input",
        window_ms: int = MERGE_WINDOW_MS,
        mapped: bool = False,
    ) -> BatchStream:
        """One Arrow stream over every input (fixed dictionaries across them), selecting
        with ``where``; ``events`` an audit_event file for the event columns (default:
        bsmtrail's); ``passwd``/``group`` the trail machine's files for the name
        columns. ``mapped``: read the inputs in place, memory-mapped, rather than copied
        through a window (a pass that keeps nothing per record, as ``stats``)."""
        self._stream = stream(
            [(it.name, it.path) for it in self.items],
            view=view,
            columns=columns,
            mode=self.mode,
            batch_size=batch_size,
            events=events,
            where=self.where,
            threads=self.threads,
            passwd=passwd,
            group=group,
            order=order,
            window_ms=window_ms,
            labels=self.labels if view == "records" else None,
            # A selective read is mostly framing: mapped, the workers frame byte ranges
            # of the file in parallel. Pages behind the reader are released as it goes,
            # so a mapped pass holds no more memory than a window.
            map_files=mapped or self.where is not None,
        )
        return self._stream

    def batches(
        self, stream: BatchStream, progress: Progress, *, view: View = "records"
    ) -> Iterator[Any]:
        """The stream's batches, moving ``progress`` by the bytes of input they cover
        (each input weighs its size on disk, compressed or not)."""
        offset_col, size_col = _SPAN[view]
        before = [0]
        for it in self.items:
            before.append(before[-1] + it.weight)
        for batch in stream:
            names = batch.schema.names
            if batch.num_rows and offset_col in names and size_col in names:
                src = batch.column("source").indices[-1].as_py()
                pos = batch.column(offset_col)[-1].as_py() + batch.column(size_col)[-1].as_py()
                progress.update(before[src] + self.items[src].share(pos))
            yield batch
        progress.update(self.total)

    def ticker(self, stream: BatchStream, progress: Progress) -> Callable[[], None] | None:
        """For a stream written whole in Rust (``bsmtrail.export``): a function that moves
        ``progress`` to the input bytes the stream's report has covered (records and
        damage); None when the bar is off."""
        if not progress.enabled:
            return None

        def tick() -> None:
            reports = stream.report()
            progress.update(
                sum(
                    it.share(r.record_bytes + r.damage.bytes)
                    for it, r in zip(self.items, reports, strict=True)
                )
            )

        return tick

    def empty(self) -> list[Input]:
        """The inputs that held no record at all (after the stream has been read): empty
        files, files that are not trails, or nothing but damage."""
        if self._stream is None:
            return []
        reports = self._stream.report()
        return [it for it, r in zip(self.items, reports, strict=True) if r.records == 0]

    def report_empty(self, prog: str) -> bool:
        """Say on stderr which inputs held no record; True when any did."""
        found = self.empty()
        for it in found:
            say_no_records(prog, it.name, it.path)
        return bool(found)

    def late(self) -> list[tuple[str, Bounded[Late]]]:
        """Per input, the records a time-ordered stream could not put in their place."""
        if self._stream is None:
            return []
        return [
            (it.name, Bounded(tuple(r.late), r.late_total))
            for it, r in zip(self.items, self._stream.report(), strict=True)
        ]

    def damage(self) -> DamageReport:
        """What the stream skipped or could not decide, as it reported it: damaged regions,
        records failing validation, records a selection could not decide."""
        out = DamageReport()
        if self._stream is None:
            return out
        for r in self._stream.report():
            out.regions += r.damage.count
            out.region_bytes += r.damage.bytes
            out.records += r.failing.count + r.undecided_total
            # In input order (each list holds its first entries, so the merge does too).
            for entry in report_entries(r):
                out.keep_entry(entry)
        return out


def parse_columns(
    text: str, *, passwd: bool = False, group: bool = False, label: bool = False
) -> list[str]:
    """``--columns A,B,...``: records-view column names, checked (``arrow.check_columns``;
    name columns need ``--passwd``/``--group``, ``label`` needs ``--label``)."""
    cols = [c.strip() for c in text.split(",") if c.strip()]
    try:
        return check_columns(cols, passwd=passwd, group=group, label=label)
    except ValueError as e:
        raise UsageError(f"--columns: {e}") from None


def damage_text(d: DamageEntry) -> str:
    """One damage entry as commands print it: where, what, how long, why."""
    return (
        f"{printable(d.source)} @{d.offset} (0x{d.offset:x}) {d.kind} {d.length} bytes: "
        f"{printable(d.message)}"
    )


def damage_summary(prog: str, damage: DamageReport, limit: int = 10) -> str:
    """The stderr lines for damage found in recover mode."""
    if not damage:
        return ""
    lines = [
        f"{prog}: damaged input: {damage.regions} damaged region(s) "
        f"({damage.region_bytes} bytes skipped), {damage.records} record(s) "
        "failing validation"
    ]
    shown = damage.entries[:limit]
    for d in shown:
        lines.append(f"{prog}:   {damage_text(d)}")
    if len(damage) > len(shown):
        lines.append(f"{prog}:   ... and {len(damage) - len(shown)} more")
    return "\n".join(lines) + "\n"


def add_merge_arguments(p: argparse.ArgumentParser, what: str | None) -> None:
    """``--merge`` (unless ``what`` is None) and ``--window-ms`` (:mod:`bsmtrail.timeline`)."""
    if what is not None:
        p.add_argument(
            "--merge",
            action="store_true",
            help=f"{what} the trails (files, directories, globs) as one timeline, merged by time",
        )
    p.add_argument(
        "--window-ms",
        type=int,
        default=MERGE_WINDOW_MS,
        metavar="MS",
        help="time order: put right records up to this much out of order inside a trail "
        f"(default {MERGE_WINDOW_MS}); older ones are reported and left in place",
    )


def add_label_argument(p: argparse.ArgumentParser) -> None:
    """``--label NAME=PATH`` (repeatable), read by :func:`parse_labels`."""
    p.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="NAME=PATH",
        help="read PATH (a trail, directory or glob) as machine NAME: rows get a host "
        "column (repeatable; with --sort time, one timeline of several machines)",
    )


def parse_labels(values: Sequence[str]) -> list[tuple[str, str]]:
    """``--label`` values as (name, path) pairs; :class:`UsageError` for a bad one."""
    out = []
    for v in values:
        name, sep, path = v.partition("=")
        if not sep or not name or not path:
            raise UsageError(f"--label wants NAME=PATH, not {v!r}")
        out.append((name, path))
    return out


def late_lines(
    prog: str, reports: Sequence[tuple[str, Bounded[Late]]], window_ms: int
) -> list[str]:
    """The stderr lines for records a merge could not put in their place, per input
    ``(name, late records)``."""
    lines = []
    for name, late in reports:
        if not late:
            continue
        offset, (secs, msec), (asecs, amsec) = late[0]
        lines.append(
            f"{prog}: {printable(name)}: {late.total} record(s) out of time order by more "
            f"than {window_ms} ms, left after the record before them; first @{offset} "
            f"stamped {_stamp(secs, msec)} after a record stamped {_stamp(asecs, amsec)}"
        )
    return lines


def _stamp(secs: int, msec: int) -> str:
    try:
        t = datetime.fromtimestamp(secs, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, OSError, ValueError):
        t = f"{secs} s"
    return f"{t}.{msec:03d} UTC"

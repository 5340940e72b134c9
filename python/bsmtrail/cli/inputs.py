"""Trail inputs for the data subcommands (``convert``, ``stats``): expanding files,
directories and globs; compressed trails; auditreduce selection; damage reports; and the
Arrow stream over them all with progress.

Which files the arguments name, and how compressed trails (gzip, bzip2, xz, zstd, by their
magic bytes) and pipes become readable files, is the library's rule (``bsmtrail.sources``);
this module adds the progress bar and the notes on stderr. A selection (``--where``) runs in Rust
(``_native.reduce``: framing, a header prefilter, then auditreduce's token checks) before any
column is built, writing the selected records to a temporary file per input: rejected
records cost only their framing. (``bsmtrail.arrow.iter_trails(where=...)`` does the same in
memory for paths; the CLI does it itself to report the damage selection skipped and to
handle compressed inputs.)
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import shlex
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import _native
from ..arrow import _stream
from ..select import Selection, SelectionError, parse_auditreduce_args, selection
from ..sources import (
    COMPRESSIONS,
    Expansion,
    Materialized,
    expand,
    materialize,
    sniff,
)
from ..tally import DEFAULT_KEEP
from .printable import printable
from .progress import Progress
from .usage import UsageError, say_no_records

__all__ = [
    "DamageEntry",
    "DamageReport",
    "Input",
    "Inputs",
    "UsageError",
    "expand_paths",
    "parse_where",
]


@dataclass(frozen=True)
class DamageEntry:
    """One damaged region (``kind="damage"``) or failing record (``kind="record"``)."""

    source: str
    offset: int
    length: int
    kind: str
    reason: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "offset": self.offset,
            "length": self.length,
            "kind": self.kind,
            "reason": self.reason,
            "message": self.message,
        }


@dataclass
class DamageReport:
    """Damage of a command's inputs in bounded memory: the first ``keep`` entries in full,
    exact counts of damaged regions (and their bytes) and of failing records. The full
    list is ``convert --view errors``."""

    entries: list[DamageEntry] = field(default_factory=list)
    regions: int = 0
    region_bytes: int = 0
    records: int = 0
    keep: int = DEFAULT_KEEP

    def keep_entry(self, entry: DamageEntry) -> None:
        """Keep an entry if there is room (the counts are set by whoever counted it)."""
        if len(self.entries) < self.keep:
            self.entries.append(entry)

    def merge(self, other: DamageReport) -> None:
        self.regions += other.regions
        self.region_bytes += other.region_bytes
        self.records += other.records
        for e in other.entries:
            self.keep_entry(e)

    def __len__(self) -> int:
        return self.regions + self.records

    def __bool__(self) -> bool:
        return len(self) > 0


@dataclass
class Input:
    """One trail: ``name`` as given (the ``source`` column), ``path`` the file read (the
    original, or a decompressed or selected copy), ``weight`` its share of the progress bar
    (bytes on disk), ``length`` the size of ``path``."""

    name: str
    path: str
    weight: int
    length: int
    selected: bool = False
    #: Records selection looked at (for a selected copy; rows count the others).
    seen: int = -1
    damage: DamageReport = field(default_factory=lambda: DamageReport())
    #: For a selected copy: (offset in it, offset in the original) per record (numpy).
    origins: Any = None


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
        "--passwd", metavar="FILE", help="passwd of the trail's machine (user names; -u/-e/-r)"
    )
    p.add_argument("--group", metavar="FILE", help="group file of the trail's machine (-f/-g)")


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


def _mod(name: str) -> Any:
    """Import ``pyarrow`` modules untyped (they ship no type information)."""
    return importlib.import_module(name)


def _damage_of(name: str, path: str, *, records_only: bool = False) -> DamageReport:
    """The damaged regions and failing records of a file (the errors view, read batch by
    batch: counted whole, the first ones kept). ``records_only`` counts failing records
    alone, with no offsets (for a selected copy, whose offsets mean nothing to the user
    and whose framing damage selection already reported)."""
    pc = _mod("pyarrow.compute")
    report = DamageReport()
    for batch in _stream([(name, path)], view="errors"):
        kind = batch.column("kind").cast("string")
        regions = pc.equal(kind, "damage")
        n_regions = pc.sum(regions.cast("int64")).as_py() or 0
        if not records_only:
            report.regions += n_regions
            report.region_bytes += pc.sum(batch.column("length").filter(regions)).as_py() or 0
        report.records += batch.num_rows - n_regions
        room = report.keep - len(report.entries)
        if room <= 0:
            continue
        if records_only:
            batch = batch.filter(pc.invert(regions))
        for r in batch.slice(0, room).to_pylist():
            report.keep_entry(
                DamageEntry(
                    source=name,
                    offset=-1 if records_only else r["offset"],
                    length=r["length"],
                    kind=r["kind"],
                    reason=r["reason"],
                    message=r["message"],
                )
            )
    return report


class Inputs:
    """The inputs of one command, prepared in a temporary directory removed on close.

    ``mode`` is ``"recover"`` (damage is skipped and reported) or ``"strict"`` (the first
    problem raises :class:`~bsmtrail.BSMError`)."""

    def __init__(
        self,
        paths: Sequence[str],
        *,
        prog: str,
        mode: str = "recover",
        where: Selection | None = None,
        progress: bool = False,
    ) -> None:
        self.mode = mode
        self.where = where
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._copies: list[Materialized] = []
        self.items: list[Input] = []
        try:
            names = expand_paths(paths, prog)
            sizes = [os.path.getsize(n) for n in names]
            # Decompression and selection get their own bar (they come before any batch).
            packed = any(sniff(n) in COMPRESSIONS for n in names)
            label = "select" if where is not None else "decompress"
            with Progress(sum(sizes), label, progress and (packed or where is not None)) as bar:
                for i, name in enumerate(names):
                    self.items.append(self._prepare(i, name, bar))
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
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _tmpfile(self, i: int, what: str) -> str:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="bsmtrail-")
        return os.path.join(self._tmp.name, f"{i:06d}.{what}")

    def _prepare(self, i: int, name: str, bar: Progress) -> Input:
        weight = os.path.getsize(name)
        done = bar.done
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="bsmtrail-")
        copy = materialize(name, tmpdir=self._tmp.name, progress=lambda n: bar.update(done + n))
        self._copies.append(copy)
        path = copy.path
        item = Input(name=name, path=path, weight=weight, length=os.path.getsize(path))
        if self.where is not None:
            self._select(i, item)
        return item

    def _select(self, i: int, item: Input) -> None:
        assert self.where is not None
        out = self._tmpfile(i, "selected")
        damage = _native.DamageLog()
        undecided: list[int] = []
        pairs = io.BytesIO()
        with open(out, "wb") as f:
            _kept, item.seen, err, n_undecided = _native.reduce(
                item.path,
                self.where,
                f.write,
                recover=self.mode == "recover",
                damage=damage,
                offsets=pairs,
                undecided=undecided,
            )
        # Rows report offsets in the original trail, not in the selected copy.
        item.origins = _mod("numpy").frombuffer(pairs.getvalue(), dtype="<u8").reshape(-1, 2)
        if err is not None and self.mode == "strict":
            raise err
        report = DamageReport(regions=damage.count, region_bytes=damage.bytes, records=n_undecided)
        for o, n, e in damage.regions():
            report.keep_entry(DamageEntry(item.name, o, n, "damage", e.reason or "damage", str(e)))
        for o in undecided:
            report.keep_entry(
                DamageEntry(
                    item.name,
                    o,
                    0,
                    "record",
                    "selection_undecided",
                    "left out: a token bsmtrail cannot decode hides what --where depends on",
                )
            )
        item.damage = report
        item.path, item.length, item.selected = out, os.path.getsize(out), True

    def stream(
        self,
        *,
        view: str = "records",
        columns: Sequence[str] | None = None,
        batch_size: int = 65_536,
        events: str | None = None,
    ) -> Any:
        """One Arrow stream over every input (fixed dictionaries across them); ``events``
        an audit_event file for the event columns (default: bsmtrail's)."""
        origins = {it.name: it.origins for it in self.items if it.origins is not None}
        return _stream(
            [(it.name, it.path) for it in self.items],
            view=view,  # type: ignore[arg-type]
            columns=columns,
            mode=self.mode,  # type: ignore[arg-type]
            batch_size=batch_size,
            events=events,
            origins=origins if origins and view == "records" else None,
        )

    def batches(
        self,
        stream: Any,
        progress: Progress,
        *,
        view: str = "records",
    ) -> Iterator[Any]:
        """The stream's batches, moving ``progress`` by the bytes of input they cover
        (each input weighs its size on disk, compressed or not). For the records view it
        also notes, vectorised, what :meth:`damage` needs: the gaps between consecutive
        records (bytes framing skipped, or file tokens) and the inputs with failing
        records."""
        size_col = "size" if view == "records" else "length"
        before = [0]
        for it in self.items:
            before.append(before[-1] + it.weight)
        self._tracked = view == "records"
        # Gaps between records, per input: the first few (file tokens, to check), and
        # whether there were more (then the errors view is read anyway).
        self._gaps: dict[int, list[tuple[int, int]]] = {}
        self._many_gaps: set[int] = set()
        self._errors: set[int] = set()
        self._ends: dict[int, int] = {}
        self._rows: dict[int, int] = {}
        last: tuple[int, int] = (-1, 0)  # (input, end) of the previous batch's last row
        for batch in stream:
            if batch.num_rows:
                src = batch.column("source").indices[-1].as_py()
                pos = batch.column("offset")[-1].as_py() + batch.column(size_col)[-1].as_py()
                it = self.items[src]
                frac = min(pos / it.length, 1.0) if it.length else 1.0
                progress.update(before[src] + int(it.weight * frac))
                if self._tracked:
                    last = self._track(batch, last)
            yield batch
        if self._tracked:
            for i, it in enumerate(self.items):
                end = self._ends.get(i, 0)
                if end < it.length:
                    self._gaps.setdefault(i, []).append((end, it.length))
        progress.update(self.total)

    def _track(self, batch: Any, last: tuple[int, int]) -> tuple[int, int]:
        np = _mod("numpy")
        pc = _mod("pyarrow.compute")
        src = batch.column("source").indices.to_numpy(zero_copy_only=False).astype(np.int64)
        off = batch.column("offset").to_numpy(zero_copy_only=False).astype(np.uint64)
        end = off + batch.column("size").to_numpy(zero_copy_only=False).astype(np.uint64)
        prev_src = np.concatenate(([last[0]], src[:-1]))
        prev_end = np.concatenate((np.array([last[1]], np.uint64), end[:-1]))
        prev_end[src != prev_src] = 0  # an input's first record follows its offset 0
        for i in np.nonzero(off != prev_end)[0]:
            gaps = self._gaps.setdefault(int(src[i]), [])
            if len(gaps) < _GAPS_CHECKED:
                gaps.append((int(prev_end[i]), int(off[i])))
            else:
                self._many_gaps.add(int(src[i]))
        tails = np.nonzero(np.append(src[1:] != src[:-1], True))[0]
        for i in tails:
            self._ends[int(src[i])] = int(end[i])
        for i, n in enumerate(np.bincount(src)):
            if n:
                self._rows[i] = self._rows.get(i, 0) + int(n)
        err = batch.column("error")
        if err.null_count < len(err):
            failing = batch.column("source").indices.filter(pc.is_valid(err))
            self._errors.update(pc.unique(failing).to_pylist())
        return int(src[-1]), int(end[-1])

    def empty(self) -> list[Input]:
        """The inputs that held no record at all (after :meth:`batches` has run on the
        records view): empty files, files that are not trails, or nothing but damage."""
        rows = getattr(self, "_rows", {})
        return [
            it
            for i, it in enumerate(self.items)
            if (it.seen if it.selected else rows.get(i, 0)) == 0
        ]

    def report_empty(self, prog: str) -> bool:
        """Say on stderr which inputs held no record; True when any did."""
        found = self.empty()
        for it in found:
            say_no_records(prog, it.name, it.path)
        return bool(found)

    def damage(self) -> DamageReport:
        """Damage of every input in recover mode, after :meth:`batches` has run: what
        selection skipped, plus (from the errors view) framing damage and failing records,
        in bounded memory. The errors view is read only for the inputs that need it: those
        with failing records, or with a gap between records that is not file tokens."""
        out = DamageReport()
        tracked = getattr(self, "_tracked", False)
        for i, it in enumerate(self.items):
            out.merge(it.damage)
            if tracked:
                needed = i in self._errors or (
                    not it.selected
                    and (
                        i in self._many_gaps
                        or not all(
                            _file_tokens_only(it.path, a, b) for a, b in self._gaps.get(i, [])
                        )
                    )
                )
            else:
                needed = True
            if needed:
                out.merge(_damage_of(it.name, it.path, records_only=it.selected))
        return out


#: Gaps between records checked for file tokens per input; past this many, the errors
#: view is read (a trail has a file token at each end, so more gaps mean damage).
_GAPS_CHECKED = 64


def _file_tokens_only(path: str, start: int, end: int) -> bool:
    """Whether bytes ``start:end`` of a trail are whole file tokens (0x11: seconds, msec,
    name length, name; docs/bsm-format.md), which are not records and not damage."""
    with open(path, "rb") as f:
        f.seek(start)
        pos = start
        while pos < end:
            head = f.read(11)
            if len(head) < 11 or head[0] != 0x11:
                return False
            length = int.from_bytes(head[9:11], "big")
            pos += 11 + length
            f.seek(pos)
        return pos == end


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
        at = f"@{d.offset} (0x{d.offset:x})" if d.offset >= 0 else "(selected copy)"
        lines.append(
            f"{prog}:   {printable(d.source)} {at} {d.kind} {d.length} bytes: "
            f"{printable(d.message)}"
        )
    if len(damage) > len(shown):
        lines.append(f"{prog}:   ... and {len(damage) - len(shown)} more")
    return "\n".join(lines) + "\n"

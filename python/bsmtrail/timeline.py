"""One timeline from many trails: records of several trails (files, directories, globs,
compressed rotations, several hosts' directories) merged by time.

OpenBSM's auditreduce cannot merge trails and praudit prints files one after another;
here every input is framed at once and merged in Rust (``crate::merge``) by (time,
msec, input order), with memory bounded by the number of inputs, not their size.

Records are stamped when their event began, not when they were written, so a trail is
only nearly in time order. Inversions inside one trail up to ``window_ms``
(:data:`MERGE_WINDOW_MS` by default) are put right. A record older than one its trail had
already given out (a clock set back, a record inserted by hand) is never silently
reordered: it is kept right after the record before it in its trail and reported
(:attr:`InputReport.late`).

The merged records come as gathered chunks: whole records copied one after another,
which every reader of one trail takes as it is. So :func:`render` prints exactly what
printing the sorted records as one trail prints, and :func:`reduce` writes whole records,
byte for byte, in time order. The Arrow export merges the same way
(``read_trails(..., order="time")``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import BinaryIO

from . import _native
from .arrow import MERGE_WINDOW_MS, open_inputs
from .errors import BSMError
from .outputs import atomic_file, check_output
from .render import Renderer
from .tally import Bounded, DamageLog
from .trail import FileToken, Record
from .types import Mode, PathsArg, worker_threads

__all__ = ["MERGE_WINDOW_MS", "InputReport", "Late", "Timeline", "reduce", "render"]

#: (offset, (seconds, msec) stamped, (seconds, msec) it went out as).
Late = tuple[int, tuple[int, int], tuple[int, int]]


@dataclass(frozen=True)
class InputReport:
    """What the merge found in one input: records framed, damaged regions skipped
    (``mode="recover"``), records it could not put in their place (``late``), and the
    error a strict read of it stopped at."""

    name: str
    records: int
    damage: DamageLog
    late: Bounded[Late]
    error: BSMError | None


class Timeline:
    """The records of ``paths`` (files, directories, globs, compressed trails; directories
    and globs skip what is not a trail, with a warning) merged by time. Iterate
    :meth:`chunks` for gathered chunks, or :meth:`records` for ``(name, offset, item)``
    tuples; :meth:`report` once done. ``praudit_framing`` frames a strict read on the
    header's count alone, as praudit and auditreduce do (each input then stops silently at
    its first framing problem, as praudit stops a file). ``prefilter``: a selection whose
    header check drops records as they are framed (only a first look: :func:`reduce`
    gives the full verdict). Close it (or use ``with``) to remove decompressed copies."""

    def __init__(
        self,
        paths: PathsArg,
        *,
        mode: Mode = "recover",
        window_ms: int = MERGE_WINDOW_MS,
        praudit_framing: bool = False,
        prefilter: _native.Selection | None = None,
    ) -> None:
        if mode not in ("strict", "recover"):
            raise ValueError(f"mode must be 'strict' or 'recover', not {mode!r}")
        if window_ms < 0:
            raise ValueError("window_ms must be at least 0")
        self._copies = open_inputs(paths, stacklevel=3)
        if not self._copies:
            raise FileNotFoundError(f"no trail in {paths!r}")
        #: Each input's name, in input order (ties in time go to the earlier input).
        self.names: list[str] = [m.name for m in self._copies]
        try:
            self._native = _native.Merge(
                [m.path for m in self._copies],
                mode=mode,
                window_ms=window_ms,
                count_framing=praudit_framing,
                selection=prefilter,
            )
        except BaseException:
            self.close()
            raise

    def chunks(self) -> Iterator[_native.MergedChunk]:
        """Gathered chunks (about 8 MiB of records each): ``slice`` holds whole records
        and file tokens in time order; ``inputs[i]`` and ``offsets[i]`` say where its
        ``i``-th item is in which input."""
        return iter(self._native)

    def records(self) -> Iterator[tuple[str, int, Record | FileToken]]:
        """``(input name, offset in it, record or file token)`` in time order."""
        for chunk in self._native:
            items = _native.Reader(chunk.slice).records("strict", files=FileToken._from_native)
            for item, i, offset in zip(items, chunk.inputs, chunk.offsets, strict=True):
                yield self.names[i], offset, item

    def report(self) -> list[InputReport]:
        """Per input, what the merge found so far (complete once it has been read)."""
        error = self._native.error()
        return [
            InputReport(
                name,
                records,
                DamageLog.of(damage),
                Bounded(tuple(late), late_total),
                error[1] if error is not None and error[0] == i else None,
            )
            for i, (name, (records, damage, late, late_total)) in enumerate(
                zip(self.names, self._native.report(), strict=True)
            )
        ]

    def close(self) -> None:
        for m in self._copies:
            m.close()

    def __enter__(self) -> Timeline:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def render(
    timeline: Timeline,
    renderer: Renderer,
    out: BinaryIO,
    *,
    threads: int | None = None,
    chunk_size: int = 1 << 20,
) -> int:
    """Print ``timeline`` with ``renderer`` to ``out`` (runs of ``chunk_size`` bytes
    rendered on ``threads`` workers): exactly the text of the time-sorted records printed
    as one trail. Returns the bytes written."""
    written = 0
    for chunk in timeline.chunks():
        written += renderer.write(chunk.slice, out, chunk_size=chunk_size, threads=threads)
    return written


@dataclass(frozen=True)
class Reduced:
    """What :func:`reduce` kept: records ``kept`` of ``seen`` (every input's records),
    and what the merge found in each input."""

    kept: int
    seen: int
    inputs: list[InputReport]


def reduce(
    paths: PathsArg,
    sel: _native.Selection,
    out: str | os.PathLike[str] | BinaryIO,
    *,
    mode: Mode = "strict",
    window_ms: int = MERGE_WINDOW_MS,
    threads: int | None = None,
) -> Reduced:
    """Write the records of ``paths``, merged by time, that ``sel`` keeps, whole, to
    ``out`` (a path, written under a temporary name and renamed into place when complete;
    or a binary file object): a trail that pipes into ``print`` or praudit. The output
    may not be one of the inputs. ``mode="strict"`` frames each input as auditreduce
    does (it stops at its first framing problem, in its report's ``error``). The
    selection's header check drops records as they are framed; the rest of the verdict
    is given on ``threads`` workers, chunk by chunk."""
    workers = worker_threads(threads)
    with Timeline(
        paths, mode=mode, window_ms=window_ms, praudit_framing=mode == "strict", prefilter=sel
    ) as tl:

        def run(f: BinaryIO) -> Reduced:
            kept = 0
            # The chunks are one stream: a selection whose verdicts depend on the records
            # before them (auditreduce's -c) carries its state from chunk to chunk.
            state = _native.SelectionState()
            for chunk in tl.chunks():
                # Gathered chunks hold whole records only: a strict read never stops.
                n, _, _, _, _ = _native.reduce(
                    chunk.slice, sel, f, mode="strict", threads=workers, state=state
                )
                kept += n
            f.flush()
            reports = tl.report()
            return Reduced(kept, sum(r.records for r in reports), reports)

        if isinstance(out, (str, os.PathLike)):
            check_output(out, tl.names)
            with contextlib.ExitStack() as stack:
                tmp = stack.enter_context(atomic_file(out))
                return run(stack.enter_context(open(tmp, "wb")))
        return run(out)

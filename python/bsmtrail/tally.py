"""Bounded lists of findings: damaged regions, sequence gaps, time running backwards.

A trail from a compromised machine can hold damage after every record: millions of
regions in a few hundred MB. Each list here keeps its first entries in full (1000 by
default) and counts all of them, so memory stays flat whatever the input. ``len()`` and
truth are the exact totals; iterating and indexing give the kept entries, first ones
first; ``omitted`` says how many were only counted. The complete list of damaged regions
is the errors view of the Arrow export, a streamed table
(``bsmtrail.read_trails(paths, view="errors")``, ``bsmtrail convert --view errors``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from . import _native
from .errors import BSMError

__all__ = ["DEFAULT_KEEP", "Bounded", "Damage", "DamageEntry", "DamageLog", "report_entries"]

T = TypeVar("T")

#: Entries kept in full by default.
DEFAULT_KEEP: int = _native.DEFAULT_KEEP


@dataclass(frozen=True)
class Damage:
    """A skipped region: ``length`` bytes from ``offset``, and what was wrong there."""

    offset: int
    length: int
    error: BSMError

    @property
    def reason(self) -> str:
        return self.error.reason or "unknown"


@dataclass(frozen=True, eq=False)
class Bounded(Generic[T]):
    """The first entries of a list in full, and how many there are in all."""

    kept: tuple[T, ...] = ()
    total: int = 0

    def __len__(self) -> int:
        return self.total

    def __bool__(self) -> bool:
        return self.total > 0

    def __iter__(self) -> Iterator[T]:
        return iter(self.kept)

    def __getitem__(self, i: int) -> T:
        return self.kept[i]

    @property
    def omitted(self) -> int:
        """Entries counted but not kept."""
        return self.total - len(self.kept)

    @property
    def complete(self) -> bool:
        """Every entry is kept."""
        return self.omitted == 0

    def __eq__(self, other: object) -> bool:
        # A complete list equals the plain list of its entries (``report.seq_gaps == []``).
        if isinstance(other, Bounded):
            return (self.kept, self.total) == (other.kept, other.total)
        if isinstance(other, (list, tuple)):
            return self.complete and list(self.kept) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        more = f", {self.omitted} more" if self.omitted else ""
        return f"<{type(self).__name__} {list(self.kept)!r}{more}>"


@dataclass(frozen=True, eq=False, repr=False)
class DamageLog(Bounded[Damage]):
    """Damaged regions (and records that framed but failed to decode): the first ones in
    full, exact totals of regions and bytes, by reason too."""

    #: Bytes in every region.
    bytes: int = 0
    #: reason code -> (regions, bytes), over every region.
    by_reason: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: The last region (a truncated tail is the last region reaching the end).
    last: Damage | None = None

    @classmethod
    def of(cls, log: _native.DamageLog) -> DamageLog:
        """A snapshot of a native log."""
        last = log.last()
        return cls(
            kept=tuple(Damage(o, n, e) for o, n, e in log.regions()),
            total=log.count,
            bytes=log.bytes,
            by_reason=dict(log.by_reason()),
            last=None if last is None else Damage(*last),
        )


@dataclass(frozen=True)
class DamageEntry:
    """One damaged region (``kind="damage"``), failing record (``kind="record"``), or
    record a selection could not decide (``kind="record"``, reason ``selection_undecided``),
    with its input's name: what commands report on stderr and in ``--json``."""

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


_UNDECIDED = (
    "selection_undecided",
    "left out: a token bsmtrail cannot decode hides what the selection depends on",
)


def report_entries(report: _native.InputReport) -> list[DamageEntry]:
    """The entries a stream's report on one input holds (each log's kept ones), in input
    order."""
    found = [
        DamageEntry(report.name, o, n, kind, getattr(e, "reason", None) or kind, str(e))
        for kind, log in (("damage", report.damage), ("record", report.failing))
        for o, n, e in log.regions()
    ]
    found += [DamageEntry(report.name, o, 0, "record", *_UNDECIDED) for o in report.undecided]
    return sorted(found, key=lambda d: d.offset)

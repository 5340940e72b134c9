"""Trail sets: auditd's directory as one body of evidence, and what is missing from it.

auditd names each trail by the UTC times it covers (OpenBSM's libauditd): ``START.END``
once closed, ``START.not_terminated`` while it is written, ``START.crash_recovery`` when
auditd found it still open after a crash. A rotation closes one trail and opens the next
at the same instant (the old one is renamed ``START.T``, the new one is ``T.not_terminated``),
so in an intact directory each trail's end is the next one's start. What breaks that chain
is what an analyst must hear about:

* ``gap``: no trail covers an interval between two trails (a trail deleted, or auditing
  stopped and started again);
* ``overlap``: two trails claim the same time;
* ``duplicate_start``: two files for one start time (a copy, or a trail renamed by hand);
* ``not_terminated``: a trail auditd never closed that is not the last one (auditd was
  killed or the machine stopped; the last trail of a live directory is expected open, and
  is only a note);
* ``crash_recovery``: auditd found this trail open when it started again (a crash);
* ``outside_interval``: records whose times fall outside the interval the trail's name
  claims (beyond ``tolerance_ms``: records are stamped when their event began, so a few
  written just after a rotation are normal);
* ``stray_trail``: a file whose name is not a trail's but whose bytes are (or are
  compressed): a renamed trail. Other files are listed in the notes;
* ``empty``: a trail file holding no record;
* ``missing_trail``: the standalone file tokens chaining the trails name one that is not
  there (a trail deleted from the middle of the set);
* ``unclosed``: a trail opened with auditd's file token and named as closed, but without
  the closing token: its end was cut off at a record boundary (a cut inside a record is
  the per-trail report's truncated tail);
* ``renamed``: a trail whose file tokens name another interval than its file name.

The file tokens follow one of two conventions, told apart by what they name: each trail's
own name (``START.not_terminated`` as it opens, ``START.END`` as it closes: bsmtrail's
writer and generator), or its neighbours' (Solaris auditd: the previous trail as it
opens, the next as it closes). Trails without file tokens (FreeBSD's and macOS's auditd
write none) are checked by their names alone.

Damage, a cut tail, sequence gaps and time running backwards inside each trail are the
per-trail report's (:meth:`bsmtrail.Trail.verify`); :func:`check` adds the set's findings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from .sources import sniff
from .trail import VerifyReport
from .trail import open as open_trail

__all__ = ["Finding", "TrailName", "TrailSetReport", "check", "parse_name"]

State = Literal["terminated", "not_terminated", "crash_recovery"]

_NAME = re.compile(
    r"^(?P<start>\d{14})\.(?P<end>\d{14}|not_terminated|crash_recovery)"
    r"(?P<packed>\.(?:gz|bz2|xz|zst))?$"
)
#: Names in an audit directory that are not trails and are expected there.
_EXPECTED = frozenset({"current"})


#: How far a trail name's end may be from its closing file token's before it is a rename.
_RENAME_SLACK = timedelta(seconds=1)


def _kind(path: str) -> str:
    try:
        return sniff(path)
    except OSError:
        return "other"


def _stamp(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)
    except ValueError:
        return None


@dataclass(frozen=True)
class TrailName:
    """What a trail's file name says: the UTC interval it covers and its state."""

    name: str
    start: datetime
    end: datetime | None
    state: State
    #: Compressed after it was closed (``.gz``, ``.bz2``, ``.xz``, ``.zst``).
    compressed: bool = False


def parse_name(name: str) -> TrailName | None:
    """``name`` read as auditd names trails (``START.END``, ``START.not_terminated``,
    ``START.crash_recovery``, optionally compressed), or None."""
    m = _NAME.match(name)
    if m is None:
        return None
    start = _stamp(m["start"])
    if start is None:
        return None
    tail, packed = m["end"], m["packed"] is not None
    if tail in ("not_terminated", "crash_recovery"):
        return TrailName(name, start, None, tail, packed)  # type: ignore[arg-type]
    end = _stamp(tail)
    if end is None:
        return None
    return TrailName(name, start, end, "terminated", packed)


@dataclass(frozen=True)
class Finding:
    """One thing wrong with the set: its ``kind`` (see the module), the files concerned,
    the time interval when there is one, and a sentence for a report."""

    kind: str
    files: tuple[str, ...]
    message: str
    start: datetime | None = None
    end: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "files": list(self.files),
            "start": _iso(self.start),
            "end": _iso(self.end),
            "message": self.message,
        }


@dataclass
class TrailSetReport:
    """The set's findings (empty when its trails chain without a break) and notes."""

    directory: str
    trails: list[TrailName]
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    @property
    def first(self) -> datetime | None:
        return self.trails[0].start if self.trails else None

    @property
    def last(self) -> datetime | None:
        ends = [t.end or t.start for t in self.trails]
        return max(ends) if ends else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "trail_set": self.directory,
            "ok": self.ok,
            "trails": len(self.trails),
            "first": _iso(self.first),
            "last": _iso(self.last),
            "findings": [f.as_dict() for f in self.findings],
            "notes": self.notes,
        }


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


def _ms_time(st: tuple[int, int]) -> datetime:
    return datetime.fromtimestamp(st[0], timezone.utc) + timedelta(milliseconds=st[1])


def check(
    directory: str | os.PathLike[str],
    reports: Mapping[str, VerifyReport] | None = None,
    *,
    tolerance_ms: int = 1000,
) -> TrailSetReport | None:
    """The set's findings for audit directory ``directory``, or None when it holds no
    file named as auditd names trails (not an audit directory: a folder of evidence files
    under other names is no trail set). ``reports`` maps trail file names to their
    :meth:`~bsmtrail.Trail.verify` reports (for the times their records hold, and
    emptiness); a trail without one is verified here."""
    root = os.fspath(directory)
    trails: list[TrailName] = []
    findings: list[Finding] = []
    with os.scandir(root) as it:
        entries = sorted(it, key=lambda e: e.name)
    others: list[str] = []
    for e in entries:
        parsed = parse_name(e.name)
        if parsed is not None and e.is_file():
            trails.append(parsed)
        elif e.name in _EXPECTED and e.is_symlink():
            continue
        elif e.is_file() and (kind := _kind(e.path)) != "other" and kind != "empty":
            what = "a trail" if kind == "trail" else f"{kind} data (perhaps a trail)"
            findings.append(
                Finding(
                    "stray_trail",
                    (e.name,),
                    f"{e.name}: {what} under a name auditd does not give trails (renamed?)",
                )
            )
        else:
            others.append(e.name)
    if not trails:
        return None
    trails.sort(key=lambda t: (t.start, t.name))
    report = TrailSetReport(root, trails)
    if others:
        report.notes.append(f"other files, not trails: {', '.join(others)}")
    given = dict(reports or {})
    tolerance = timedelta(milliseconds=tolerance_ms)
    verified: list[VerifyReport] = []
    for t in trails:
        r = given.get(t.name)
        if r is None:
            r = open_trail(os.path.join(root, t.name)).verify()
        verified.append(r)
    for i, t in enumerate(trails):
        r = verified[i]
        findings += _content(t, r, tolerance)
        findings += _marks(t, r)
        last = i + 1 == len(trails)
        if t.state == "crash_recovery":
            findings.append(
                Finding(
                    "crash_recovery",
                    (t.name,),
                    f"{t.name}: auditd found this trail open when it started again (a crash "
                    f"or a kill); when it ended is unknown",
                    t.start,
                )
            )
        elif t.state == "not_terminated":
            if last:
                report.notes.append(
                    f"{t.name} is still open: the trail auditd was writing (or the machine "
                    "stopped before auditd closed it)"
                )
            else:
                findings.append(
                    Finding(
                        "not_terminated",
                        (t.name,),
                        f"{t.name}: never closed, yet later trails exist (auditd was killed "
                        "or the machine stopped, and the trail was not recovered)",
                        t.start,
                    )
                )
        if last:
            break
        missing = _chain(t, r, trails[i + 1], verified[i + 1])
        findings += missing or _link(t, trails[i + 1])
    report.findings = findings
    return report


def _link(a: TrailName, b: TrailName) -> list[Finding]:
    """What lies between trail ``a`` and the next one, ``b``."""
    if a.start == b.start:
        return [
            Finding(
                "duplicate_start",
                (a.name, b.name),
                f"{a.name} and {b.name} start at the same second ({_text(a.start)})",
                a.start,
            )
        ]
    if a.end is None:
        return []  # an open trail's end is unknown: reported as such
    if a.end < b.start:
        return [
            Finding(
                "gap",
                (a.name, b.name),
                f"no trail from {_text(a.end)} to {_text(b.start)} UTC (between {a.name} "
                f"and {b.name}): a trail removed, or auditing stopped",
                a.end,
                b.start,
            )
        ]
    if a.end > b.start:
        return [
            Finding(
                "overlap",
                (a.name, b.name),
                f"{a.name} ends at {_text(a.end)}, after {b.name} starts ({_text(b.start)})",
                b.start,
                a.end,
            )
        ]
    return []


def _content(t: TrailName, r: VerifyReport, tolerance: timedelta) -> list[Finding]:
    if r.empty or r.records == 0:
        return [Finding("empty", (t.name,), f"{t.name}: holds no record", t.start, t.end)]
    first = _ms_time(r.earliest) if r.earliest else None
    last = _ms_time(r.latest) if r.latest else None
    if first is None or last is None:
        return []
    # The name's end is a whole second taken after the last record was written.
    end = None if t.end is None else t.end + timedelta(seconds=1)
    early = first < t.start - tolerance
    late = end is not None and last > end + tolerance
    if not (early or late):
        return []
    claimed = f"{_text(t.start)} to {_text(t.end)}" if t.end else f"from {_text(t.start)}"
    return [
        Finding(
            "outside_interval",
            (t.name,),
            f"{t.name}: records from {_text(first)} to {_text(last)}, outside the interval "
            f"its name claims ({claimed})",
            first,
            last,
        )
    ]


def _mark(m: tuple[int, tuple[int, int], bytes] | None) -> TrailName | None:
    """The trail a file token names (by its base name), or None."""
    if m is None:
        return None
    return parse_name(os.path.basename(os.fsdecode(m[2])))


def _chain(a: TrailName, ra: VerifyReport, b: TrailName, rb: VerifyReport) -> list[Finding]:
    """What the file tokens linking trail ``a`` and the next one, ``b``, say is missing
    between them (neighbour-naming tokens only; self-naming ones name no neighbour)."""
    named = []
    nxt, prev = _mark(ra.closing), _mark(rb.opening)
    if nxt is not None and nxt.start != a.start and nxt.start != b.start:
        named.append((nxt, f"{a.name} names {nxt.name} as the next trail"))
    if prev is not None and prev.start != b.start and prev.start != a.start:
        named.append((prev, f"{b.name} names {prev.name} as the trail before it"))
    if not named:
        return []
    missing = sorted({n.name for n, _ in named})
    start = a.end or (_ms_time(ra.latest) if ra.latest else a.start)
    return [
        Finding(
            "missing_trail",
            (a.name, *missing, b.name),
            f"{'; '.join(why for _, why in named)}: not in the set (deleted?); nothing "
            f"covers {_text(start)} to {_text(b.start)} UTC",
            start,
            b.start,
        )
    ]


def _marks(t: TrailName, r: VerifyReport) -> list[Finding]:
    """What a trail's own file tokens say against its name."""
    out = []
    opening, closing = _mark(r.opening), _mark(r.closing)
    if t.state == "terminated" and r.opening is not None and r.closing is None:
        if not r.truncated_tail:
            out.append(
                Finding(
                    "unclosed",
                    (t.name,),
                    f"{t.name}: opens with auditd's file token and is named as closed, but "
                    f"has no closing file token: its end was cut off after offset "
                    f"{r.nbytes} (truncated at a record boundary?)",
                    t.start,
                    t.end,
                )
            )
    own = [m for m in (opening, closing) if m is not None and m.start == t.start]
    for m in own:
        # The name's end and the token are stamped a moment apart: a second either way
        # is the same close, not a rename.
        if m.end is not None and t.end is not None and abs(m.end - t.end) > _RENAME_SLACK:
            out.append(
                Finding(
                    "renamed",
                    (t.name,),
                    f"{t.name}: its closing file token names it {m.name}: the file was renamed",
                    t.start,
                    m.end,
                )
            )
    return out

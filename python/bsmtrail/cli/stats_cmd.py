"""``bsmtrail stats``: what happened in trails -- events, classes, outcomes, users, paths,
processes and damage -- as aligned tables, JSON, or an events-over-time chart.

Everything is computed with ``pyarrow.compute`` over the records view, batch by batch and
projected to the columns the statistics read: each batch is reduced to small grouped
counts (no Python code per record), and the counts are merged as the batches come, so
memory stays bounded by the number of distinct values, not of records.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import dataclass, field
from typing import Any

from ..lazy import module as _mod
from ..outputs import atomic_file, check_output
from ..userdb import read_passwd
from .inputs import DamageReport, Inputs, add_where_arguments, parse_where
from .printable import text_table
from .progress import Progress, progress_wanted
from .usage import UsageError, add_threads_argument

PROG = "bsmtrail stats"
#: The records-view columns the statistics read.
COLUMNS = [
    "source",
    "offset",
    "size",
    "event",
    "event_name",
    "event_classes",
    "time",
    "auid",
    "euid",
    "return_status",
    "paths",
    "exec_args",
    "error",
]
#: auditd's "not set" audit user id (AU_DEFAUDITID), praudit's -1.
UNSET_ID = 0xFFFFFFFF
#: Figure size of --plot, in pixels (at 100 dpi).
PLOT_SIZE = (1200, 600)

EPILOG = """\
examples:
  bsmtrail stats /var/audit/*
  bsmtrail stats --passwd evidence/etc/passwd --top 20 evidence/var/audit
  bsmtrail stats --json trail.bsm.gz | jq .events
  bsmtrail stats --where "-c lo" --plot logins.png /var/audit

Users are named from --passwd (the evidence machine's passwd or master.passwd) only;
without it they are numbers (this machine's users are not the trail's). Success and
failure come from each record's return token (records without one count as neither). A
process is an exec record's first argument (exec_args[0]), else its first path.

exit status: 0 ok; 1 damaged input or an input without records (the statistics cover what
could be read); 2 usage, an unreadable input or a refused --plot; 130 interrupted
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "stats",
        help="statistics of trails: events, classes, users, paths, processes, damage",
        description="Summarise trails (files, directories, globs; gzip/bzip2/xz too): "
        "records, time span, events by name and class, successes and failures, top users, "
        "paths and processes, and damaged regions.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("trails", nargs="+", metavar="TRAIL", help="trail files, directories, globs")
    p.add_argument("--json", action="store_true", help="one JSON object for scripts")
    p.add_argument("--top", type=int, default=10, metavar="N", help="rows per table (10)")
    p.add_argument("--plot", metavar="FILE.png", help="events-over-time chart by class")
    add_where_arguments(p)
    add_threads_argument(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


# -- counting -------------------------------------------------------------------------------


class GroupCounts:
    """Counts of key tuples, merged from per-batch ``group_by`` results.

    At most ``cap`` distinct keys are kept (a trail can hold a distinct path per record:
    100 MB of them held 589 MB): past that, each merge keeps the ``cap`` most frequent and
    counts what it drops. The counts are then approximate -- a key dropped and seen again
    starts from zero, so a top count may be low by up to :attr:`dropped_records` -- and
    say so (:attr:`approximate`)."""

    def __init__(self, keys: list[str], merge_every: int = 16, cap: int = 100_000) -> None:
        self.keys = keys
        self.parts: list[Any] = []
        self.merge_every = merge_every
        self.cap = cap
        #: Distinct keys dropped (a key dropped twice counts twice) and their records.
        self.dropped_keys = 0
        self.dropped_records = 0

    @property
    def approximate(self) -> bool:
        return self.dropped_keys > 0

    def add(self, table: Any) -> None:
        if table.num_rows == 0:
            return
        self.parts.append(
            table.group_by(self.keys, use_threads=False).aggregate([([], "count_all")])
        )
        if len(self.parts) >= self.merge_every:
            self.parts = [self._merged()]

    def _merged(self) -> Any:
        pa = _mod("pyarrow")
        pc = _mod("pyarrow.compute")
        t = pa.concat_tables(self.parts)
        t = t.group_by(self.keys, use_threads=False).aggregate([("count_all", "sum")])
        t = t.rename_columns([*self.keys, "count_all"][-t.num_columns :])
        if t.num_rows > self.cap:
            t = t.sort_by([("count_all", "descending")])
            dropped = t.slice(self.cap)
            self.dropped_keys += dropped.num_rows
            self.dropped_records += pc.sum(dropped.column("count_all")).as_py() or 0
            t = t.slice(0, self.cap)
        return t

    def result(self) -> Any:
        """A table of the keys and ``count``, most frequent first (ties by key)."""
        pa = _mod("pyarrow")
        if not self.parts:
            return pa.table({**{k: pa.array([], pa.string()) for k in self.keys}, "count": []})
        t = self._merged() if len(self.parts) > 1 else self.parts[0]
        names = list(t.column_names)
        t = t.rename_columns([("count" if n == "count_all" else n) for n in names])
        t = t.select([*self.keys, "count"])
        return t.sort_by([("count", "descending"), *[(k, "ascending") for k in self.keys]])


@dataclass
class Stats:
    records: int = 0
    bytes: int = 0
    first: Any = None
    last: Any = None
    untimed: int = 0
    success: int = 0
    failure: int = 0
    no_return: int = 0
    record_errors: int = 0
    counts: dict[str, GroupCounts] = field(default_factory=dict)
    damage: DamageReport = field(default_factory=DamageReport)

    def __post_init__(self) -> None:
        self.counts = {
            "events": GroupCounts(["event", "event_name"]),
            "classes": GroupCounts(["event_classes", "failed"]),
            "auid": GroupCounts(["auid"]),
            "euid": GroupCounts(["euid"]),
            "paths": GroupCounts(["path"]),
            "processes": GroupCounts(["process"]),
            "minutes": GroupCounts(["minute", "class", "failed"]),
        }

    def add(self, batch: Any) -> None:
        pa = _mod("pyarrow")
        pc = _mod("pyarrow.compute")
        n = batch.num_rows
        if n == 0:
            return
        self.records += n
        self.bytes += pc.sum(batch.column("size")).as_py() or 0
        time = batch.column("time")
        self.untimed += time.null_count
        mm = pc.min_max(time)
        lo, hi = mm["min"].as_py(), mm["max"].as_py()
        if lo is not None:
            self.first = lo if self.first is None else min(self.first, lo)
            self.last = hi if self.last is None else max(self.last, hi)
        status = batch.column("return_status")
        failed = pc.not_equal(status, 0)  # null without a return token
        n_failed = pc.sum(failed).as_py() or 0
        self.failure += n_failed
        self.no_return += status.null_count
        self.success += n - status.null_count - n_failed
        self.record_errors += n - batch.column("error").null_count

        text = pa.string()
        name = pc.cast(batch.column("event_name"), text)
        classes = pc.fill_null(pc.cast(batch.column("event_classes"), text), "")
        failed_flag = pc.fill_null(failed, False)
        c = self.counts
        c["events"].add(pa.table({"event": batch.column("event"), "event_name": name}))
        c["classes"].add(pa.table({"event_classes": classes, "failed": failed_flag}))
        c["auid"].add(pa.table({"auid": batch.column("auid")}))
        c["euid"].add(pa.table({"euid": batch.column("euid")}))
        paths = pc.list_flatten(batch.column("paths"))
        c["paths"].add(pa.table({"path": paths}))
        c["processes"].add(pa.table({"process": _processes(batch, name)}))
        # The first class of each event, for the chart (so the stacks add up to the total).
        first_class = pc.fill_null(
            pc.list_element(pc.split_pattern(classes, ",", max_splits=1), 0), ""
        )
        minute = pc.floor_temporal(time, unit="minute")
        c["minutes"].add(
            pa.table({"minute": minute, "class": first_class, "failed": failed_flag}).filter(
                pc.is_valid(minute)
            )
        )


def _processes(batch: Any, names: Any) -> Any:
    """exec_args[0] where there is one, else the first path of an exec event."""
    pc = _mod("pyarrow.compute")
    args = batch.column("exec_args")
    has_args = pc.fill_null(pc.greater(pc.list_value_length(args), 0), False)
    paths = batch.column("paths")
    has_path = pc.fill_null(pc.greater(pc.list_value_length(paths), 0), False)
    is_exec = pc.fill_null(pc.match_substring(names, "EXEC", ignore_case=True), False)
    use_path = pc.and_(pc.invert(has_args), pc.and_(is_exec, has_path))
    first_arg = pc.list_element(pc.filter(args, has_args), 0)
    first_path = pc.list_element(pc.filter(paths, use_path), 0)
    return _mod("pyarrow").concat_arrays([first_arg, first_path])


# -- presentation ---------------------------------------------------------------------------


def _iso(t: Any) -> str | None:
    if t is None:
        return None
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return str(t.isoformat(timespec="milliseconds")) + "Z"


def _user_names(passwd: str | None) -> dict[int, str]:
    """Names from the evidence's passwd only: this machine's users are not the trail's."""
    if passwd is None:
        return {}
    table = read_passwd(passwd)
    names: dict[int, str] = {}
    for uid, name in table:
        names.setdefault(uid, name.decode("utf-8", "backslashreplace"))
    return names


def _classes(counts: Any) -> list[dict[str, Any]]:
    """Split the comma-joined class names (over the distinct values only)."""
    totals: dict[str, list[int]] = {}
    for classes, failed, n in zip(
        counts.column("event_classes").to_pylist(),
        counts.column("failed").to_pylist(),
        counts.column("count").to_pylist(),
        strict=True,
    ):
        for cls in (classes or "").split(",") if classes else ["(none)"]:
            t = totals.setdefault(cls, [0, 0])
            t[0] += n
            t[1] += n if failed else 0
    rows = [{"class": k, "records": v[0], "failures": v[1]} for k, v in totals.items()]
    return sorted(rows, key=lambda r: (-r["records"], r["class"]))


def report(s: Stats, top: int, passwd: str | None, inputs: Inputs) -> dict[str, Any]:
    """The statistics as a JSON-ready dict."""
    names = _user_names(passwd)

    def user_rows(key: str) -> list[dict[str, Any]]:
        t = s.counts[key].result()
        rows = []
        for uid, n in zip(t.column(key).to_pylist(), t.column("count").to_pylist(), strict=True):
            if uid is None:
                name = "(no subject)"
            elif uid == UNSET_ID:
                name = "(unset: -1)"
            else:
                name = names.get(uid, "")
            rows.append({"id": uid, "name": name, "records": n})
        return rows[:top]

    def simple(key: str, col: str) -> list[dict[str, Any]]:
        t = s.counts[key].result().slice(0, top)
        return [
            {col: v, "records": n}
            for v, n in zip(t.column(col).to_pylist(), t.column("count").to_pylist(), strict=True)
        ]

    def approximations() -> dict[str, Any]:
        return {
            key: {"dropped_keys": c.dropped_keys, "dropped_records": c.dropped_records}
            for key, c in s.counts.items()
            if c.approximate
        }

    ev = s.counts["events"].result()
    events = [
        {"event": e, "name": nm, "records": n}
        for e, nm, n in zip(
            ev.column("event").to_pylist(),
            ev.column("event_name").to_pylist(),
            ev.column("count").to_pylist(),
            strict=True,
        )
    ]
    return {
        "trails": [it.name for it in inputs.items],
        "input_bytes": inputs.total,
        "records": s.records,
        "record_bytes": s.bytes,
        "first_time": _iso(s.first),
        "last_time": _iso(s.last),
        "untimed_records": s.untimed,
        "returns": {"success": s.success, "failure": s.failure, "none": s.no_return},
        "events": events[:top],
        "distinct_events": len(events),
        "classes": _classes(s.counts["classes"].result())[:top],
        "users": {"auid": user_rows("auid"), "euid": user_rows("euid")},
        "paths": simple("paths", "path"),
        "processes": simple("processes", "process"),
        # Tables past GroupCounts' cap of distinct keys: their counts are approximate.
        "approximate": approximations(),
        "damage": {
            "regions": s.damage.regions,
            "bytes_skipped": s.damage.region_bytes,
            "failing_records": s.record_errors,
            "entries": [d.as_dict() for d in s.damage.entries[:top]],
        },
    }


def _approx(r: dict[str, Any], key: str) -> str:
    """A title's note when a table's counts are approximate."""
    a = r["approximate"].get(key)
    if not a:
        return ""
    return (
        f" (approximate: too many distinct values; {a['dropped_records']:,} records "
        "under values counted then dropped, so a count may be that much low)"
    )


def _pct(n: int, total: int) -> str:
    return f"{100 * n / total:.1f}%" if total else "-"


def render(r: dict[str, Any]) -> str:
    n = r["records"]
    out = [
        f"trails: {len(r['trails'])} ({r['input_bytes']:,} bytes)",
        f"records: {n:,} ({r['record_bytes']:,} bytes of records)",
        f"time span: {r['first_time'] or '-'} .. {r['last_time'] or '-'}"
        + (
            f" ({r['untimed_records']} records without a valid time)"
            if r["untimed_records"]
            else ""
        ),
        f"returns: {r['returns']['success']:,} success ({_pct(r['returns']['success'], n)}), "
        f"{r['returns']['failure']:,} failure ({_pct(r['returns']['failure'], n)}), "
        f"{r['returns']['none']:,} without a return token",
    ]
    d = r["damage"]
    out.append(
        f"damage: {d['regions']} damaged region(s) ({d['bytes_skipped']:,} bytes skipped), "
        f"{d['failing_records']} record(s) failing validation"
        if d["regions"] or d["failing_records"]
        else "damage: none"
    )
    text = "\n".join(out) + "\n\n"
    text += text_table(
        f"events by name ({r['distinct_events']} distinct)",
        ["event", "name", "records", "share"],
        [
            [e["event"], e["name"] or "(unknown)", e["records"], _pct(e["records"], n)]
            for e in r["events"]
        ],
    )
    text += "\n" + text_table(
        "events by class",
        ["class", "records", "failures"],
        [[c["class"], c["records"], c["failures"]] for c in r["classes"]],
    )
    for key, label in (("auid", "audit user (auid)"), ("euid", "effective user (euid)")):
        rows = [
            [
                "" if u["id"] is None else (-1 if u["id"] == UNSET_ID else u["id"]),
                u["name"],
                u["records"],
            ]
            for u in r["users"][key]
        ]
        text += "\n" + text_table(f"top users by {label}", ["id", "name", "records"], rows)
    text += "\n" + text_table(
        "top paths" + _approx(r, "paths"),
        ["records", "path"],
        [[p["records"], p["path"]] for p in r["paths"]],
    )
    text += "\n" + text_table(
        "top processes" + _approx(r, "processes"),
        ["records", "process"],
        [[p["records"], p["process"]] for p in r["processes"]],
    )
    if d["entries"]:
        text += "\n" + text_table(
            "damaged regions and failing records",
            ["trail", "offset", "kind", "bytes", "reason"],
            [
                [
                    e["source"],
                    e["offset"] if e["offset"] >= 0 else "-",
                    e["kind"],
                    e["length"],
                    e["reason"],
                ]
                for e in d["entries"]
            ],
        )
    return text


# -- the chart ------------------------------------------------------------------------------

_STEPS = [
    ("minute", 60),
    ("5 minutes", 300),
    ("15 minutes", 900),
    ("hour", 3600),
    ("6 hours", 21600),
    ("day", 86400),
    ("week", 604800),
    ("30 days", 2592000),
    ("year", 31_536_000),
]
#: Most bins a chart has, whatever the times span.
MAX_BINS = 150
#: Times a chart can draw (1970 to 9000, in seconds): the date axis needs room for its
#: margins inside datetime's years 1-9999, and audit records older than the epoch are
#: broken or hostile anyway. Records outside are counted in a note instead.
DRAWABLE = (0, 221_845_392_000)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def _plausible_span(secs: Any, counts: Any) -> tuple[int, int]:
    """The times the chart covers: those of the middle 99.8% of records, widened by their
    own span (at least a day) on each side, so that a few records with hostile or broken
    times (year 1, year 9999) do not stretch the chart over millennia."""
    import numpy as np

    inside = (secs >= DRAWABLE[0]) & (secs <= DRAWABLE[1])
    if not inside.any():
        return DRAWABLE[1], DRAWABLE[0]  # nothing drawable: an empty span
    secs, counts = secs[inside], counts[inside]
    order = np.argsort(secs, kind="stable")
    s, c = secs[order], np.cumsum(counts[order])
    total = int(c[-1])
    lo = int(s[min(len(s) - 1, np.searchsorted(c, max(1, total * 0.001)))])
    hi = int(s[min(len(s) - 1, np.searchsorted(c, max(1, total * 0.999)))])
    pad = max(hi - lo, 86400)
    return max(int(s[0]), lo - pad), min(int(s[-1]), hi + pad)


def _when(secs: int) -> dt.datetime:
    """A UTC datetime for any second datetime can hold (year 1 to 9999)."""
    return _EPOCH + dt.timedelta(seconds=secs)


def plot(s: Stats, path: str, max_classes: int = 8) -> None:
    """A stacked bar chart of records per time bin by (first) class, failures as a line;
    ``PLOT_SIZE`` pixels whatever the data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    pc = _mod("pyarrow.compute")
    pa = _mod("pyarrow")
    t = s.counts["minutes"].result()
    fig, ax = plt.subplots(figsize=(PLOT_SIZE[0] / 100, PLOT_SIZE[1] / 100), dpi=100)
    try:
        early = late = 0
        secs = np.zeros(0, dtype=np.int64)
        if t.num_rows:
            secs = pc.cast(t.column("minute"), pa.timestamp("s")).cast(pa.int64())
            secs = secs.to_numpy(zero_copy_only=False)
            counts = np.asarray(t.column("count").to_numpy(zero_copy_only=False), dtype=np.int64)
            classes = np.asarray(t.column("class").to_pylist(), dtype=object)
            failed = np.asarray(t.column("failed").to_numpy(zero_copy_only=False), dtype=bool)
            lo, hi = _plausible_span(secs, counts)
            # Records outside the plausible span are counted in a note, not drawn.
            early, late = counts[secs < lo].sum(), counts[secs > hi].sum()
            keep = (secs >= lo) & (secs <= hi)
            secs, counts, classes, failed = secs[keep], counts[keep], classes[keep], failed[keep]
        if t.num_rows == 0 or not len(secs):
            what = "no records with a time" if t.num_rows == 0 else "no plausible times"
            ax.text(0.5, 0.5, what, ha="center", va="center")
            ax.set_axis_off()
        else:
            label, step = next(
                ((lb, st) for lb, st in _STEPS if (hi - lo) / st <= MAX_BINS),
                ("bin", max(1, -(-(hi - lo) // MAX_BINS))),
            )
            if label == "bin":
                label = f"{step / 31_536_000:,.0f} years"
            bins = (secs - lo) // step
            nbins = min(int(bins.max()) + 1, MAX_BINS + 1)
            totals: dict[str, int] = {}
            for cls, n in zip(classes, counts, strict=True):
                totals[cls or "(none)"] = totals.get(cls or "(none)", 0) + int(n)
            ranked = sorted(totals, key=lambda k: (-totals[k], k))
            shown = ranked[:max_classes]
            x = np.array([_when(lo + i * step) for i in range(nbins)])
            width: Any = dt.timedelta(seconds=step * 0.9)
            bottom = np.zeros(nbins, dtype=np.int64)
            groups = [*shown, "other"] if len(ranked) > max_classes else shown
            for g in groups:
                if g == "other":
                    sel = ~np.isin(np.where(classes == "", "(none)", classes), shown)
                else:
                    sel = np.where(classes == "", "(none)", classes) == g
                y = np.bincount(bins[sel], weights=counts[sel], minlength=nbins).astype(np.int64)
                ax.bar(x, y, width=width, bottom=bottom, label=g, align="edge")
                bottom += y
            fails = np.bincount(bins[failed], weights=counts[failed], minlength=nbins)
            ax.plot(
                x + width / 2, fails, color="black", marker=".", linewidth=1.2, label="failures"
            )
            ax.set_ylabel(f"records per {label}")
            ax.set_xlabel("time (UTC)")
            ax.legend(
                title="class (first)",
                fontsize="small",
                loc="upper left",
                bbox_to_anchor=(1.01, 1.0),
            )
            fig.subplots_adjust(left=0.07, right=0.86, bottom=0.15)

            ax.grid(axis="y", alpha=0.3)
            fig.autofmt_xdate()
        if early or late:
            fig.text(
                0.01,
                0.01,
                f"not drawn, times far from the rest: {int(early):,} record(s) earlier, "
                f"{int(late):,} later",
                fontsize="small",
            )
        ax.set_title(f"audit events over time: {s.records:,} records")
        fig.savefig(path, dpi=100, format="png")
    finally:
        plt.close(fig)


# -- the command ----------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    if args.top < 1:
        raise UsageError("--top must be at least 1")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("--plot needs matplotlib: pip install matplotlib") from None
        # Refused before any input is read or anything is opened for writing.
        check_output(args.plot, args.trails)
    where = parse_where(args.where, events=args.events, passwd=args.passwd, group=args.group)
    stats = Stats()
    bars = progress_wanted(args.quiet)
    with Inputs(
        args.trails, prog=PROG, mode="recover", where=where, progress=bars, threads=args.threads
    ) as inputs:
        stream = inputs.stream(columns=COLUMNS, events=args.events)
        with Progress(inputs.total, "stats", bars) as bar:
            for batch in inputs.batches(stream, bar):
                stats.add(batch)
        stats.damage = inputs.damage()
        result = report(stats, args.top, args.passwd, inputs)
        empty = inputs.report_empty(PROG)
    if args.plot:
        with atomic_file(args.plot) as tmp:
            plot(stats, tmp)
    if args.json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render(result))
    return 1 if stats.damage or empty else 0

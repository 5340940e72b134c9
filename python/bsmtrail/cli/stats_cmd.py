"""``bsmtrail stats``: what happened in trails -- events, classes, outcomes, users, paths,
processes and damage -- as aligned tables, JSON, or an events-over-time chart.

The records view is read batch by batch, projected to the columns the statistics read, and
each batch is counted in Rust on the worker that decoded it (``_native.StatsTally``: no
Python code per batch), so memory stays bounded by the number of distinct values, not of
records.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from ..outputs import atomic_file, check_output
from ..stats import COLUMNS as TALLY_COLUMNS
from ..stats import Tally
from ..userdb import read_passwd
from .inputs import DamageReport, Inputs, add_where_arguments, parse_where
from .printable import text_table
from .progress import Progress, progress_wanted
from .usage import UsageError, add_threads_argument

PROG = "bsmtrail stats"
#: The records-view columns the statistics read (events are named at the end).
COLUMNS = TALLY_COLUMNS
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


def _iso_ms(ms: int | None) -> str | None:
    if ms is None:
        return None
    return _iso(_EPOCH + dt.timedelta(milliseconds=ms))


def _classes(s: Tally, events: list[tuple[int | None, int, int]]) -> list[dict[str, Any]]:
    """Records and failures by class: each event's counts go to each of its classes."""
    totals: dict[str, list[int]] = {}
    for event, n, failed in events:
        classes = s.event_text(event)[1]
        for cls in classes.split(",") if classes else ["(none)"]:
            t = totals.setdefault(cls, [0, 0])
            t[0] += n
            t[1] += failed
    rows = [{"class": k, "records": v[0], "failures": v[1]} for k, v in totals.items()]
    return sorted(rows, key=lambda r: (-r["records"], r["class"]))


def report(
    s: Tally, damage: DamageReport, top: int, passwd: str | None, inputs: Inputs
) -> dict[str, Any]:
    """The statistics as a JSON-ready dict."""
    names = _user_names(passwd)
    c = s.top(top)

    def user_rows(key: str) -> list[dict[str, Any]]:
        rows = []
        # Most records first; ties by id, "no subject" (None) last.
        ranked = sorted(c[key], key=lambda r: (-r[1], r[0] is None, r[0] or 0))
        for uid, n in ranked[:top]:
            if uid is None:
                name = "(no subject)"
            elif uid == UNSET_ID:
                name = "(unset: -1)"
            else:
                name = names.get(uid, "")
            rows.append({"id": uid, "name": name, "records": n})
        return rows

    def simple(key: str, col: str) -> list[dict[str, Any]]:
        return [{col: v, "records": n} for v, n in c[key][:top]]

    # Most records first; ties by event number, unknown (None) last.
    by_count = sorted(c["events"], key=lambda e: (-e[1], e[0] is None, e[0] or 0))
    events = [{"event": e, "name": s.event_text(e)[0], "records": n} for e, n, _ in by_count]
    return {
        "trails": [it.name for it in inputs.items],
        "input_bytes": inputs.total,
        "records": c["records"],
        "record_bytes": c["bytes"],
        "first_time": _iso_ms(c["first"]),
        "last_time": _iso_ms(c["last"]),
        "untimed_records": c["untimed"],
        "returns": {"success": c["success"], "failure": c["failure"], "none": c["no_return"]},
        "events": events[:top],
        "distinct_events": len(events),
        "classes": _classes(s, c["events"])[:top],
        "users": {"auid": user_rows("auid"), "euid": user_rows("euid")},
        "paths": simple("paths", "path"),
        "processes": simple("processes", "process"),
        # Tables past the tally's cap of distinct keys: their counts are approximate.
        "approximate": {
            key: {"dropped_keys": keys, "dropped_records": records}
            for key, (keys, records) in c["approximate"].items()
        },
        "damage": {
            "regions": damage.regions,
            "bytes_skipped": damage.region_bytes,
            "failing_records": c["record_errors"],
            "entries": [d.as_dict() for d in damage.entries[:top]],
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


def plot(s: Tally, path: str, max_classes: int = 8) -> None:
    """A stacked bar chart of records per time bin by (first) class, failures as a line;
    ``PLOT_SIZE`` pixels whatever the data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    minutes = s.counts["minutes"]  # (minute in ms, event, failed, records)
    fig, ax = plt.subplots(figsize=(PLOT_SIZE[0] / 100, PLOT_SIZE[1] / 100), dpi=100)
    try:
        early = late = 0
        secs = np.zeros(0, dtype=np.int64)
        if minutes:
            secs = np.array([m[0] // 1000 for m in minutes], dtype=np.int64)
            counts = np.array([m[3] for m in minutes], dtype=np.int64)
            # The first class of each event, so that the stacks add up to the total.
            first_class = {e: s.event_text(e)[1].split(",")[0] for e in {m[1] for m in minutes}}
            classes = np.array([first_class[m[1]] for m in minutes], dtype=object)
            failed = np.array([m[2] for m in minutes], dtype=bool)
            lo, hi = _plausible_span(secs, counts)
            # Records outside the plausible span are counted in a note, not drawn.
            early, late = counts[secs < lo].sum(), counts[secs > hi].sum()
            keep = (secs >= lo) & (secs <= hi)
            secs, counts, classes, failed = secs[keep], counts[keep], classes[keep], failed[keep]
        if not minutes or not len(secs):
            what = "no records with a time" if not minutes else "no plausible times"
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
    from ..events import load_events  # only when counting: every command imports this module

    stats = Tally(load_events(args.events), threads=args.threads)
    bars = progress_wanted(args.quiet)
    with Inputs(
        args.trails, prog=PROG, mode="recover", where=where, progress=bars, threads=args.threads
    ) as inputs:
        # Mapped: the counts keep no record's bytes, and reading in place spares a copy
        # of the whole trail on the thread that frames it.
        stream = inputs.stream(columns=COLUMNS, mapped=True)
        with Progress(inputs.total, "stats", bars) as bar:
            # Each batch is counted on the worker that decoded it.
            stats.add_stream(stream, inputs.ticker(stream, bar))
            bar.update(inputs.total)
        damage = inputs.damage()
        result = report(stats, damage, args.top, args.passwd, inputs)
        empty = inputs.report_empty(PROG)
    if args.plot:
        with atomic_file(args.plot) as tmp:
            plot(stats, tmp)
    if args.json:
        sys.stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render(result))
    return 1 if damage or empty else 0

"""``bsmtrail convert``: trails to Parquet, Arrow IPC (Feather), CSV or JSON Lines."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from ..export import EXTENSIONS, FORMATS, Writer, check_compression, export, format_for
from ..lazy import module
from ..outputs import check_output
from .inputs import (
    DamageReport,
    Inputs,
    add_label_argument,
    add_merge_arguments,
    add_where_arguments,
    damage_summary,
    late_lines,
    parse_columns,
    parse_labels,
    parse_where,
)
from .progress import Progress, progress_wanted
from .usage import UsageError, add_threads_argument

if TYPE_CHECKING:
    from ..derive import Converter as Shapes

PROG = "bsmtrail convert"

EPILOG = """\
formats: parquet (zstd), feather (Arrow IPC file, zstd), csv (list and struct columns as
JSON text; a text cell beginning with = + - @ tab or CR gets a ' in front so that a
spreadsheet shows it instead of running it as a formula; --csv-raw writes cells exactly as
decoded), jsonl (one JSON object per line), ocsf (one OCSF 1.7.0 event per line, JSON:
docs/ocsf.md), ocsf-parquet (OCSF events as Parquet in Amazon Security Lake's layout:
OUT/ocsf_class=NAME/eventDay=YYYYMMDD/part-N.parquet), ecs (one Elastic Common Schema
document per line, auditbeat's conventions: docs/ecs.md), timesketch (a Timesketch
timeline: message, datetime, timestamp, timestamp_desc and flat fields; JSON lines, or
CSV to a .csv name); these only with --format. The format is --format, else the output's
extension (.parquet .pq .feather .arrow .ipc .csv .jsonl .ndjson .json); an output with
another extension needs --format, one without an extension is parquet (and says so).
Compressed trails (gzip, bzip2, xz, zstd) are decompressed on the fly. The output is
written under a temporary name and renamed into place when complete; it may not be (or
lie inside) an input. Columns and views are
described in docs/arrow-schema.md.

examples:
  bsmtrail convert /var/audit/* -o audit.parquet
  bsmtrail convert /var/audit -o dataset --partition-by day
  bsmtrail convert trail.bsm.gz --columns time,event_name,auid,paths -o - --format csv
  bsmtrail convert trail.bsm --where "-u alice -c lo" --passwd evidence/etc/passwd -o a.jsonl
  bsmtrail convert /var/audit/* --where="-o file=/etc/master.passwd" -o touched.parquet
  bsmtrail convert damaged.bsm --view errors -o errors.csv
  bsmtrail convert /var/audit --format ocsf --passwd evidence/etc/passwd -o events.jsonl
  bsmtrail convert /var/audit --format ocsf-parquet -o lake
  bsmtrail convert /var/audit --format ecs --passwd evidence/etc/passwd -o ecs.jsonl
  bsmtrail convert /var/audit --format timesketch --passwd evidence/etc/passwd -o case.csv

exit status: 0 ok; 1 damaged input (recover mode: converted, damage listed on stderr) or an
error (strict mode); 2 usage, bad selection, an unreadable input or a refused output;
130 interrupted
"""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "convert",
        help="convert trails to Parquet, Feather, CSV or JSON Lines",
        description="Decode trails (files, directories, globs; gzip/bzip2/xz too) into one "
        "table, or a dataset partitioned by day, optionally selecting records with "
        "auditreduce's criteria first.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("trails", nargs="*", metavar="TRAIL", help="trail files, directories, globs")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output; - for stdout")
    p.add_argument(
        "--format",
        choices=(*FORMATS, *_EVENT_FORMATS),
        help="output format (default: extension)",
    )
    p.add_argument(
        "--view",
        choices=("records", "tokens", "errors"),
        default="records",
        help="one row per record (default), per token, or per damaged region/failing record",
    )
    p.add_argument("--columns", metavar="A,B,...", help="records-view columns to keep, in order")
    p.add_argument(
        "--sort",
        choices=("input", "time"),
        default="input",
        help="row order: inputs one after another (default), or one timeline merged by time",
    )
    add_merge_arguments(p, None)
    add_label_argument(p)
    p.add_argument(
        "--mode",
        choices=("recover", "strict"),
        default="recover",
        help="recover: skip damage, report it, exit 1 (default); strict: stop at the first",
    )
    p.add_argument(
        "--partition-by",
        choices=("day",),
        help="write OUT/day=YYYY-MM-DD/part-N.parquet (UTC days of the record time)",
    )
    add_where_arguments(p)
    p.add_argument("--batch-size", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument(
        "--csv-raw",
        action="store_true",
        help="CSV cells exactly as decoded; by default a text cell beginning with = + - @ "
        "tab or CR gets a ' in front, so a spreadsheet does not run it as a formula",
    )
    p.add_argument(
        "--compression",
        default="zstd",
        metavar="CODEC",
        help="parquet: zstd (level 1, the default), zstd:LEVEL (1-22), lz4, snappy or none",
    )
    add_threads_argument(p)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


# -- the command ------------------------------------------------------------------------------


#: --format values that are not export formats: records converted to another shape
#: first, and the module whose Converter does it (imported only then).
_SHAPES = {
    "ocsf": "bsmtrail.ocsf",
    "ocsf-parquet": "bsmtrail.ocsf",
    "ecs": "bsmtrail.ecs",
    "timesketch": "bsmtrail.timesketch",
}
_EVENT_FORMATS = tuple(_SHAPES)
#: Records per batch for the event formats: 16,384, since an event's objects are many
#: small columns and smaller batches bound the memory of those converted and encoded at
#: once; the lake's twice that, since it splits each batch five ways by class and a rare
#: class's row groups were a few hundred rows (BENCHMARKS.md: 1 GB at 340 MB peak).
_EVENT_BATCH = {"ocsf-parquet": 32_768}


def _event_writer(fmt: str, output: str) -> Writer:
    """How an event format is written: Timesketch as CSV to a .csv name."""
    if fmt == "timesketch" and format_for(output) == "csv":
        return "csv"
    return "parquet" if fmt == "ocsf-parquet" else "jsonl_sparse"


def _format(args: argparse.Namespace) -> str:
    """--format, else the output's extension; a name without one is parquet (said on
    stderr), an extension bsmtrail does not know is refused rather than guessed."""
    if args.format:
        return str(args.format)
    if args.partition_by:
        return "parquet"
    if args.output == "-":
        raise UsageError("-o -: give --format csv or jsonl for standard output")
    fmt = format_for(args.output)
    if fmt is not None:
        return fmt
    ext = os.path.splitext(args.output)[1].lower()
    if ext:
        raise UsageError(
            f"-o {args.output}: unknown extension {ext!r}; give --format "
            f"({', '.join(FORMATS)}) or use one of {' '.join(EXTENSIONS)}"
        )
    if not args.quiet:
        print(
            f"{PROG}: writing parquet to {args.output} (no --format, no extension)", file=sys.stderr
        )
    return "parquet"


def _columns(args: argparse.Namespace) -> list[str] | None:
    if args.columns is None:
        return None
    if args.view != "records":
        raise UsageError("--columns applies to the records view only")
    return parse_columns(
        args.columns,
        passwd=args.passwd is not None,
        group=args.group is not None,
        label=bool(args.label),
    )


def _internal_columns(user: list[str] | None, view: str, need_time: bool) -> list[str] | None:
    """The columns to build: the user's, plus what the progress bar and a day partition
    read."""
    if view != "records" or user is None:
        return None
    extra = ["source", "record_offset", "size"] + (["time"] if need_time else [])
    return user + [c for c in extra if c not in user]


def run(args: argparse.Namespace) -> int:
    # An output that would overwrite an input is refused before anything else is said
    # about it, and before any input is read or anything is opened for writing.
    directory = bool(args.partition_by) or args.format == "ocsf-parquet"
    check_output(args.output, args.trails, directory=directory)
    fmt = _format(args)
    if fmt in _EVENT_FORMATS:
        if args.view != "records" or args.columns or args.partition_by:
            raise UsageError(f"--format {fmt} writes whole events of the records view")
        if fmt == "ocsf-parquet" and args.output == "-":
            raise UsageError("--format ocsf-parquet writes a directory, not -")
    user_cols = _columns(args)
    if args.output == "-" and fmt in ("parquet", "feather"):
        raise UsageError(f"{fmt} cannot go to standard output; use csv or jsonl, or a file")
    if args.partition_by:
        if args.view != "records":
            raise UsageError("--partition-by day needs the records view (it reads time)")
        if fmt not in ("parquet", "feather"):
            raise UsageError("--partition-by writes parquet or feather files")
        if args.output == "-":
            raise UsageError("--partition-by needs a directory, not -")
    try:
        check_compression(args.compression)
    except ValueError as e:
        raise UsageError(f"--compression: {e}") from None
    if args.batch_size is None:
        args.batch_size = _EVENT_BATCH.get(fmt, 16_384 if fmt in _EVENT_FORMATS else 65_536)
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    labelled = parse_labels(args.label)
    if not args.trails and not labelled:
        raise UsageError("give at least one TRAIL or --label NAME=PATH")
    if labelled and args.view != "records":
        raise UsageError("--label names rows of the records view")
    where = parse_where(args.where, events=args.events, passwd=args.passwd, group=args.group)
    # No bars when the rows themselves go to the same terminal.
    to_tty = args.output == "-" and sys.stdout.isatty()
    bars = progress_wanted(args.quiet or to_tty)
    with Inputs(
        args.trails,
        prog=PROG,
        mode=args.mode,
        where=where,
        progress=bars,
        threads=args.threads,
        labelled=labelled,
    ) as inputs:
        # Written whole in Rust (each batch encoded on the worker that decoded it), with
        # progress from the stream's report: only the user's columns are built.
        whole = fmt in ("parquet", "csv", "jsonl") and not args.partition_by
        build = (
            user_cols if whole else _internal_columns(user_cols, args.view, bool(args.partition_by))
        )
        to_events: Shapes | None = None
        if fmt in _SHAPES:
            to_events = module(_SHAPES[fmt]).Converter(events=args.events)
        if to_events is not None:
            build = to_events.columns(
                label=bool(labelled), passwd=args.passwd is not None, group=args.group is not None
            )
        names = {"passwd": args.passwd, "group": args.group} if args.view == "records" else {}
        stream = inputs.stream(
            view=args.view,
            columns=build,
            batch_size=args.batch_size,
            events=args.events,
            order=args.sort,
            window_ms=args.window_ms,
            **names,
        )
        with Progress(inputs.total, "convert", bars) as bar:
            schema, writer = stream.schema, fmt
            if whole:
                rows = export(
                    stream,
                    schema,
                    args.output,
                    format=fmt,  # type: ignore[arg-type]  # one of the three above
                    csv_raw=args.csv_raw,
                    compression=args.compression,
                    threads=args.threads,
                    progress=inputs.ticker(stream, bar),
                )
                bar.update(inputs.total)
            elif fmt == "ocsf-parquet":
                from .. import ocsf  # imported only for the OCSF formats

                # Split by class and day and shaped on the workers; the lake only writes.
                assert isinstance(to_events, ocsf.Converter)
                batches = inputs.batches(stream, bar, view=args.view)
                parts = to_events.lake(batches, args.threads)
                rows = ocsf.write_lake(
                    parts, args.output, compression=args.compression, threads=args.threads
                )
            else:
                batches = inputs.batches(stream, bar, view=args.view)
                if to_events is not None:
                    batches = to_events.map(batches, args.threads)
                    schema = to_events.schema(stream.schema)
                    writer = _event_writer(fmt, args.output)
                rows = export(
                    batches,
                    schema,
                    args.output,
                    format=writer,  # type: ignore[arg-type]  # a format (argparse) or writer
                    columns=user_cols,
                    partition_by="day" if args.partition_by else None,
                    csv_raw=args.csv_raw,
                    compression=args.compression,
                    threads=args.threads,
                )
        damage = DamageReport()
        if args.mode == "recover" and args.view != "errors":
            damage = inputs.damage()
        empty = args.view == "records" and inputs.report_empty(PROG)
        late = late_lines(PROG, inputs.late(), args.window_ms)
    for line in late:
        print(line, file=sys.stderr)
    if not args.quiet:
        where_to = "standard output" if args.output == "-" else args.output
        print(f"{PROG}: {rows} rows to {where_to} ({fmt})", file=sys.stderr)
        said = to_events.summary() if to_events is not None else None
        if said:
            print(f"{PROG}: {said}", file=sys.stderr)
    if args.view == "errors":
        # The output is the damage list itself.
        if rows:
            print(
                f"{PROG}: damaged input: {rows} damaged region(s) or failing record(s)",
                file=sys.stderr,
            )
        return 1 if rows else 0
    sys.stderr.write(damage_summary(PROG, damage))
    return 1 if damage or empty or late else 0

"""``bsmtrail convert``: trails to Parquet, Arrow IPC (Feather), CSV or JSON Lines."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections import OrderedDict
from collections.abc import Callable
from typing import IO, Any

from ..arrow import EVENT_COLUMNS, RECORD_COLUMNS
from ..outputs import atomic_directory, atomic_file, check_output
from .inputs import (
    DamageReport,
    Inputs,
    _mod,
    add_where_arguments,
    damage_summary,
    parse_where,
)
from .progress import Progress, progress_wanted
from .usage import UsageError

PROG = "bsmtrail convert"
FORMATS = ("parquet", "feather", "csv", "jsonl")
_EXTENSIONS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".feather": "feather",
    ".arrow": "feather",
    ".ipc": "feather",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}

#: Day partitions with a writer open at once (--partition-by day).
MAX_OPEN_DAYS = 64
#: Rows turned into Python objects at a time for JSON Lines.
_JSONL_SLICE = 4096

EPILOG = """\
formats: parquet (zstd), feather (Arrow IPC file, zstd), csv (list and struct columns as
JSON text; a text cell beginning with = + - @ tab or CR gets a ' in front so that a
spreadsheet shows it instead of running it as a formula; --csv-raw writes cells exactly as
decoded), jsonl (one JSON object per line). The format is --format, else the output's
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
    p.add_argument("trails", nargs="+", metavar="TRAIL", help="trail files, directories, globs")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output; - for stdout")
    p.add_argument("--format", choices=FORMATS, help="output format (default: extension)")
    p.add_argument(
        "--view",
        choices=("records", "tokens", "errors"),
        default="records",
        help="one row per record (default), per token, or per damaged region/failing record",
    )
    p.add_argument("--columns", metavar="A,B,...", help="records-view columns to keep, in order")
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
    p.add_argument("--batch-size", type=int, default=65_536, help=argparse.SUPPRESS)
    p.add_argument(
        "--csv-raw",
        action="store_true",
        help="CSV cells exactly as decoded; by default a text cell beginning with = + - @ "
        "tab or CR gets a ' in front, so a spreadsheet does not run it as a formula",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


# -- value conversion for the text formats ---------------------------------------------------


def _json_default(v: object) -> object:
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).hex()
    if isinstance(v, dt.datetime):
        return _iso(v)
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def _iso(v: dt.datetime) -> str:
    if v.tzinfo is not None:
        v = v.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return v.isoformat(timespec="milliseconds") + "Z"


#: One encoder for every value (``json.dumps`` with options builds one per call).
_ENCODER = json.JSONEncoder(default=_json_default, ensure_ascii=False, separators=(",", ":"))


def _dumps(v: object) -> str:
    if v == []:  # most list cells (no path, no text, ...)
        return "[]"
    return _ENCODER.encode(v)


def _times_as_text(batch: Any) -> Any:
    """Top-level timestamps as ISO 8601 UTC text, in Arrow (no ``datetime`` per row)."""
    pa = _mod("pyarrow")
    pc = _mod("pyarrow.compute")
    if not any(pa.types.is_timestamp(f.type) for f in batch.schema):
        return batch
    cols = [
        pc.strftime(c, format="%Y-%m-%dT%H:%M:%SZ") if pa.types.is_timestamp(c.type) else c
        for c in batch.columns
    ]
    return pa.RecordBatch.from_arrays(cols, names=batch.schema.names)


def _is_nested(t: Any) -> bool:
    pa = _mod("pyarrow")

    return bool(
        pa.types.is_list(t)
        or pa.types.is_large_list(t)
        or pa.types.is_struct(t)
        or pa.types.is_map(t)
        or pa.types.is_fixed_size_list(t)
    )


#: A cell a spreadsheet would run as a formula begins with one of these (OWASP's list).
_FORMULA_START = r"^[=+\-@\t\r]"


def _neutralised(col: Any) -> Any:
    """String cells that a spreadsheet would take for a formula, with a ``'`` in front
    (the evidence's strings are the attacker's: ``=HYPERLINK(...)`` in a path)."""
    pa = _mod("pyarrow")
    pc = _mod("pyarrow.compute")
    formula = pc.fill_null(pc.match_substring_regex(col, _FORMULA_START), False)
    if not pc.any(formula).as_py():
        return col
    quoted = pc.binary_join_element_wise(pa.scalar("'"), col, "")
    return pc.if_else(formula, quoted, col)


def _flatten_for_csv(batch: Any, raw: bool = False) -> Any:
    """Dictionary columns as text, binary as hex, lists and structs as JSON text; unless
    ``raw``, string cells beginning like a formula get a ``'`` in front."""
    pa = _mod("pyarrow")
    pc = _mod("pyarrow.compute")

    arrays, names = [], []
    for name, col in zip(batch.schema.names, batch.columns, strict=True):
        t = col.type
        if pa.types.is_dictionary(t):
            col = pc.cast(col, pa.string())
        elif pa.types.is_binary(t) or pa.types.is_large_binary(t):
            col = pa.array([None if v is None else v.hex() for v in col.to_pylist()], pa.string())
        elif _is_nested(t):
            col = pa.array([None if v is None else _dumps(v) for v in col.to_pylist()], pa.string())
        if not raw and pa.types.is_string(col.type):
            col = _neutralised(col)
        arrays.append(col)
        names.append(name)
    return pa.RecordBatch.from_arrays(arrays, names=names)


# -- sinks ------------------------------------------------------------------------------------


class Sink:
    """Writes batches of one schema to one file (or stdout)."""

    def __init__(self, fmt: str, path: str, schema: Any, *, csv_raw: bool = False) -> None:
        pa = _mod("pyarrow")

        self.fmt = fmt
        self.path = path
        self.rows = 0
        self._close: Callable[[], None]
        self._file: IO[bytes] | None = None
        if path == "-":
            out: IO[bytes] = sys.stdout.buffer
        else:
            out = self._file = open(path, "wb")  # closed in close()
        if fmt == "parquet":
            pq = _mod("pyarrow.parquet")

            w = pq.ParquetWriter(out, schema, compression="zstd")
            self._write: Callable[[Any], None] = w.write_batch
            self._close = w.close
        elif fmt == "feather":
            opts = pa.ipc.IpcWriteOptions(compression="zstd")
            iw = pa.ipc.new_file(out, schema, options=opts)
            self._write = iw.write_batch
            self._close = iw.close
        elif fmt == "csv":
            pcsv = _mod("pyarrow.csv")

            self._csv: Any = None

            def write_csv(batch: Any) -> None:
                flat = _flatten_for_csv(batch, raw=csv_raw)
                if self._csv is None:
                    self._csv = pcsv.CSVWriter(out, flat.schema)
                self._csv.write_batch(flat)

            def close_csv() -> None:
                if self._csv is None:  # no rows: still write the header line
                    self._csv = pcsv.CSVWriter(out, _flat_schema(schema))
                self._csv.close()

            self._write, self._close = write_csv, close_csv
        else:

            def write_jsonl(batch: Any) -> None:
                # Python rows a slice at a time: memory bounded by the slice, not the batch.
                batch = _times_as_text(batch)
                for start in range(0, batch.num_rows, _JSONL_SLICE):
                    rows = batch.slice(start, _JSONL_SLICE).to_pylist()
                    text = "".join(_dumps(row) + "\n" for row in rows)
                    out.write(text.encode("utf-8", "surrogateescape"))

            self._write, self._close = write_jsonl, out.flush
        self._out = out

    def write(self, batch: Any) -> None:
        self._write(batch)
        self.rows += batch.num_rows

    def close(self) -> None:
        try:
            self._close()
        finally:
            if self._file is not None:
                self._file.close()
            else:
                self._out.flush()


def _flat_schema(schema: Any) -> Any:
    """The schema of :func:`_flatten_for_csv`'s batches."""
    pa = _mod("pyarrow")

    fields = []
    for f in schema:
        t = f.type
        flat = (
            pa.types.is_dictionary(t)
            or pa.types.is_binary(t)
            or pa.types.is_large_binary(t)
            or _is_nested(t)
        )
        fields.append(pa.field(f.name, pa.string()) if flat else f)
    return pa.schema(fields)


class DaySinks:
    """``OUT/day=YYYY-MM-DD/part-N.parquet``, by UTC day of ``time``; records without a
    time go to ``day=unknown``.

    At most :data:`MAX_OPEN_DAYS` writers are open at once (a hostile trail can span
    thousands of days, and each writer holds a file descriptor and buffers): the least
    recently written day is closed to make room, and a day that comes back later gets its
    next ``part-N`` file. Each batch is sorted by day (stably, so rows keep their order
    within a day) and written a run of days at a time."""

    def __init__(self, root: str, schema: Any, fmt: str) -> None:
        os.makedirs(root, exist_ok=True)
        self.root, self.schema, self.fmt = root, schema, fmt
        self.open: OrderedDict[str, Sink] = OrderedDict()
        #: Files written per day so far (the next part number).
        self.parts: dict[str, int] = {}
        self.rows = 0

    def _sink(self, day: str) -> Sink:
        sink = self.open.get(day)
        if sink is not None:
            self.open.move_to_end(day)
            return sink
        if len(self.open) >= MAX_OPEN_DAYS:
            _, oldest = self.open.popitem(last=False)
            oldest.close()
        n = self.parts.get(day, 0)
        self.parts[day] = n + 1
        d = os.path.join(self.root, f"day={day}")
        os.makedirs(d, exist_ok=True)
        ext = "parquet" if self.fmt == "parquet" else "arrow"
        sink = self.open[day] = Sink(self.fmt, os.path.join(d, f"part-{n}.{ext}"), self.schema)
        return sink

    def write(self, batch: Any, time: Any) -> None:
        pc = _mod("pyarrow.compute")

        days = pc.fill_null(pc.strftime(time, format="%Y-%m-%d"), "unknown")
        order = pc.sort_indices(days)  # a stable sort
        batch, days = batch.take(order), days.take(order)
        runs = pc.run_end_encode(days)
        start = 0
        for end, day in zip(runs.run_ends.to_pylist(), runs.values.to_pylist(), strict=True):
            self._sink(day).write(batch.slice(start, end - start))
            start = end
        self.rows += batch.num_rows

    def close(self) -> None:
        while self.open:
            self.open.popitem(last=False)[1].close()


# -- the command ------------------------------------------------------------------------------


def _format(args: argparse.Namespace) -> str:
    """--format, else the output's extension; a name without one is parquet (said on
    stderr), an extension bsmtrail does not know is refused rather than guessed."""
    if args.format:
        return str(args.format)
    if args.partition_by:
        return "parquet"
    if args.output == "-":
        raise UsageError("-o -: give --format csv or jsonl for standard output")
    ext = os.path.splitext(args.output)[1].lower()
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    if ext:
        raise UsageError(
            f"-o {args.output}: unknown extension {ext!r}; give --format "
            f"({', '.join(FORMATS)}) or use one of {' '.join(_EXTENSIONS)}"
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
    cols = [c.strip() for c in args.columns.split(",") if c.strip()]
    known = list(RECORD_COLUMNS) + list(EVENT_COLUMNS)
    bad = [c for c in cols if c not in known]
    if bad or not cols:
        raise UsageError(
            f"--columns: unknown column(s) {', '.join(bad) or '(none given)'}; "
            f"choose from {','.join(known)}"
        )
    return cols


def _internal_columns(user: list[str] | None, view: str, need_time: bool) -> list[str] | None:
    """The columns to build: the user's, plus what progress and damage reporting read."""
    if view != "records" or user is None:
        return None
    extra = ["source", "offset", "size", "error"] + (["time"] if need_time else [])
    return user + [c for c in extra if c not in user]


def run(args: argparse.Namespace) -> int:
    # An output that would overwrite an input is refused before anything else is said
    # about it, and before any input is read or anything is opened for writing.
    check_output(args.output, args.trails, directory=bool(args.partition_by))
    fmt = _format(args)
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
    if args.batch_size < 1:
        raise UsageError("--batch-size must be at least 1")
    where = parse_where(args.where, events=args.events, passwd=args.passwd, group=args.group)
    # No bars when the rows themselves go to the same terminal.
    to_tty = args.output == "-" and sys.stdout.isatty()
    bars = progress_wanted(args.quiet or to_tty)
    with Inputs(args.trails, prog=PROG, mode=args.mode, where=where, progress=bars) as inputs:
        build = _internal_columns(user_cols, args.view, bool(args.partition_by))
        stream = inputs.stream(
            view=args.view, columns=build, batch_size=args.batch_size, events=args.events
        )
        schema = stream.schema
        keep = user_cols
        if keep is not None:
            schema = _select_schema(schema, keep)
        bar = Progress(inputs.total, "convert", bars)
        atomic = atomic_directory if args.partition_by else atomic_file
        with atomic(args.output) as target:
            sink: Sink | DaySinks = (
                DaySinks(target, schema, fmt)
                if args.partition_by
                else Sink(fmt, target, schema, csv_raw=args.csv_raw)
            )
            try:
                with bar:
                    for batch in inputs.batches(stream, bar, view=args.view):
                        out = batch.select(keep) if keep is not None else batch
                        if isinstance(sink, DaySinks):
                            sink.write(out, batch.column("time"))
                        else:
                            sink.write(out)
            finally:
                sink.close()
        rows = sink.rows
        damage = DamageReport()
        if args.mode == "recover" and args.view != "errors":
            damage = inputs.damage()
        empty = args.view == "records" and inputs.report_empty(PROG)
    if not args.quiet:
        where_to = "standard output" if args.output == "-" else args.output
        print(f"{PROG}: {rows} rows to {where_to} ({fmt})", file=sys.stderr)
    if args.view == "errors":
        # The output is the damage list itself.
        if rows:
            print(
                f"{PROG}: damaged input: {rows} damaged region(s) or failing record(s)",
                file=sys.stderr,
            )
        return 1 if rows else 0
    sys.stderr.write(damage_summary(PROG, damage))
    return 1 if damage or empty else 0


def _select_schema(schema: Any, cols: list[str]) -> Any:
    pa = _mod("pyarrow")

    return pa.schema([schema.field(c) for c in cols], metadata=schema.metadata)

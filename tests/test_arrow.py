"""The Arrow export (bsmtrail.arrow, Trail.to_arrow & co.).

The records view is checked two independent ways: against OpenBSM praudit's raw one-line
goldens (every field praudit prints for header, subject, return, path, text and arg
tokens), and column by column against the token dicts of the record API on every shared
trail and the demo trail (every token type). The tokens view must give every token's
bytes back. Damaged input must show up as error rows and in the errors table, never be
dropped silently. Parquet, polars, pandas and DuckDB each read the data back with values
checked.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bsmtrail
from bsmtrail import arrow as bsa
from bsmtrail.events import load_events
from bsmtrail.writer import generate_trail

TOKEN_IDS = {name: i for i, name in bsmtrail.token_ids().items()}


def _signed32(v: int) -> int:
    return v - (1 << 32) if v >= 1 << 31 else v


def _signed64(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def _text(s: str) -> str:
    """A token-dict string (surrogateescape) as the Arrow text rule writes it."""
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _all_trails(shared_trails: dict[str, Path]) -> dict[str, Path]:
    return {**shared_trails, "demo": bsmtrail.demo_path()}


# -- praudit goldens ---------------------------------------------------------------------


@pytest.mark.parametrize("stem", ["apple", "openbsm", "execve-long-args", "reference-all"])
def test_records_agree_with_praudit_raw_goldens(
    stem: str, shared_trails: dict[str, Path], golden_dir: Path
) -> None:
    """Each row's values, formatted as praudit -rl prints them, appear in the golden line
    of that record: the header exactly at its start, then the subject, return, every path,
    text and argument token."""
    lines = (golden_dir / f"{stem}.rl.txt").read_bytes().decode("utf-8", "surrogateescape")
    golden = lines.split("\n")[:-1]
    table = bsmtrail.open(shared_trails[stem]).to_arrow()
    rows = table.to_pylist()
    assert len(rows) == len(golden) == table.num_rows
    for row, line in zip(rows, golden, strict=True):
        where = f"record at {row['record_offset']}: {line[:80]}"
        t = row["time"]
        seconds = int(t.timestamp()) if t is not None else None
        msec = t.microsecond // 1000 if t is not None else None
        head = f"{TOKEN_IDS[row['header_type']]},{row['size']},{row['version']},"
        head += f"{row['event']},{row['modifier']},{seconds},{msec},"
        assert line.startswith(head), where
        if row["subject_type"] is not None:
            # A null auid is the unset one, praudit's -1.
            ids = [-1 if row["auid"] is None else _signed32(row["auid"])]
            ids += [_signed32(row[k]) for k in ("euid", "egid", "ruid", "rgid")]
            ids += [row["pid"], row["sid"], row["tid_port"], row["tid_addr"]]
            sub = f"{TOKEN_IDS[row['subject_type']]}," + ",".join(map(str, ids)) + ","
            assert sub in line, where
        if row["return_status"] is not None:
            st, v = row["return_status"], row["return_value"]
            assert f",39,{st},{v}," in line or f",114,{st},{v}," in line, where
        for p in row["paths"]:
            assert f",35,{p.replace(chr(0), '')}," in line, where
        for x in row["texts"]:
            assert f",40,{x.replace(chr(0), '')}," in line, where
        for a in row["args"]:
            body = f"{a['num']},{hex(a['value'])},{a['desc'].replace(chr(0), '')},"
            assert f",45,{body}" in line or f",113,{body}" in line, where
        assert row["error"] is None


# -- the record API, column by column ----------------------------------------------------


def _token_bytes(rec: bsmtrail.Record) -> list[tuple[dict[str, Any], bytes]]:
    toks = rec.tokens
    raw = rec.raw
    starts = [t["offset"] - rec.offset for t in toks] + [len(raw)]
    return [(t, raw[starts[i] : starts[i + 1]]) for i, t in enumerate(toks)]


def _socket(t: dict[str, Any]) -> dict[str, Any]:
    s: dict[str, Any] = dict.fromkeys(("family", "sock_type", "lport", "laddr", "rport", "raddr"))
    s["kind"] = t["type"]
    if t["type"] == "socket":
        s.update({k: t[k] for k in ("sock_type", "lport", "laddr", "rport", "raddr")})
    elif t["type"] == "socket_ex":
        s.update({k: t[k] for k in ("sock_type", "lport", "laddr", "rport", "raddr")})
        s["family"] = t["domain"]
    elif t["type"] == "sockunix":
        s.update(family=t["family"], laddr=_text(t["path"]))
    else:
        s.update(family=t["family"], lport=t["port"], laddr=t["addr"])
    return s


SUBJECT_KEYS = ("auid", "euid", "egid", "ruid", "rgid", "pid", "sid")


def expected_row(rec: bsmtrail.Record, source: str) -> dict[str, Any]:
    """The records-view row for ``rec``, written from the documented routing rules."""
    row: dict[str, Any] = {
        "source": source,
        "record_offset": rec.offset,
        "size": rec.size,
        "header_type": rec.header_type,
        "version": rec.version,
        "event": rec.event,
        "modifier": rec.modifier,
        "time": rec.time,
        "host": rec.host,
        "subject_type": None,
        **dict.fromkeys(SUBJECT_KEYS),
        "tid_port": None,
        "tid_addr": None,
        "return_status": None,
        "return_value": None,
        "return_errno": None,
        "success": None,
        "paths": [],
        "texts": [],
        "exec_args": None,
        "exec_env": None,
        "args": [],
        "attrs": [],
        "sockets": [],
        "processes": [],
        "identity": None,
        "groups": None,
        "seq": None,
        "zone": None,
        "other_tokens": [],
        "error": None,
        "error_offset": None,
    }
    first: set[str] = set()
    pairs = _token_bytes(rec)
    for i, (t, raw) in enumerate(pairs):
        ty = t["type"]
        if i == 0 or (ty == "trailer" and i == len(pairs) - 1):
            continue
        group = {
            "subject32": "subject",
            "subject64": "subject",
            "subject32_ex": "subject",
            "subject64_ex": "subject",
            "return32": "return",
            "return64": "return",
        }.get(ty, ty)
        single = group in (
            "subject",
            "return",
            "exec_args",
            "exec_env",
            "identity",
            "groups",
            "seq",
            "zonename",
        )
        if single and group in first:
            ty = group = "other"
        if single:
            first.add(group)
        if group == "subject":
            row["subject_type"] = ty
            row.update({k: t[k] for k in SUBJECT_KEYS})
            row["auid"] = _auid(t["auid"])
            row["tid_port"], row["tid_addr"] = t["port"], t["addr"]
        elif group == "return":
            row["return_status"] = t["status"]
            v = t["value"]
            row["return_value"] = _signed64(v) if ty == "return64" else v
            row["return_errno"] = "?" if t["status"] else None
            row["success"] = t["status"] == 0
        elif ty == "path":
            row["paths"].append(_text(t["path"]))
        elif ty == "text":
            row["texts"].append(_text(t["text"]))
        elif ty == "exec_args":
            row["exec_args"] = [_text(a) for a in t["args"]]
        elif ty == "exec_env":
            row["exec_env"] = [_text(a) for a in t["env"]]
        elif ty in ("arg32", "arg64"):
            row["args"].append({"num": t["num"], "value": t["value"], "desc": _text(t["desc"])})
        elif ty in ("attr32", "attr64"):
            keys = ("mode", "uid", "gid", "fsid", "nodeid", "device")
            row["attrs"].append({k: t[k] for k in keys})
        elif ty in ("socket", "socket_ex", "sockinet32", "sockinet128", "sockunix"):
            row["sockets"].append(_socket(t))
        elif ty.startswith("process"):
            p = {"type": ty, **{k: t[k] for k in SUBJECT_KEYS}, "auid": _auid(t["auid"])}
            p.update(tid_port=t["port"], tid_addr=t["addr"])
            row["processes"].append(p)
        elif ty == "identity":
            row["identity"] = {
                "signer_type": t["signer_type"],
                "signing_id": _text(t["signing_id"]),
                "signing_id_truncated": t["signing_id_truncated"],
                "team_id": _text(t["team_id"]),
                "team_id_truncated": t["team_id_truncated"],
                "cdhash": t["cdhash"],
            }
        elif ty == "groups":
            row["groups"] = t["gids"]
        elif ty == "seq":
            row["seq"] = t["seq"]
        elif ty == "zonename":
            row["zone"] = _text(t["zone"])
        else:
            real = t["type"]
            row["other_tokens"].append(
                {"type": real, "id": t["id"], "token_offset": t["offset"], "data": raw}
            )
    return row


def _auid(value: int) -> int | None:
    """The unset audit id (AU_DEFAUDITID, praudit's -1) is null in the table."""
    return None if value == 0xFFFFFFFF else value


def _compare(got: dict[str, Any], want: dict[str, Any], where: str) -> None:
    if want["return_errno"] == "?":
        assert got["return_errno"] is not None, where
        want = {**want, "return_errno": got["return_errno"]}
    assert got == want, where


def test_every_column_agrees_with_the_record_api(shared_trails: dict[str, Path]) -> None:
    for name, path in _all_trails(shared_trails).items():
        trail = bsmtrail.open(path)
        rows = trail.to_arrow(events=False).to_pylist()
        records = list(trail)
        assert len(rows) == len(records), name
        for row, rec in zip(rows, records, strict=True):
            _compare(row, expected_row(rec, trail.name), f"{name} record at {rec.offset}")


# Records that each carry a random few of the tokens most records lack (their columns
# and lists are written lazily, in bulk, between the records that have them).
_RARE = st.lists(
    st.tuples(
        st.booleans(),  # host (header32_ex)
        st.sets(
            st.sampled_from(
                [
                    *("seq", "zone", "groups", "exec_env", "identity", "exec_args"),
                    *("args", "attr", "sock_inet", "process", "opaque"),
                ]
            )
        ),
        st.booleans(),  # damaged: an unknown token id inside the record
    ),
    min_size=1,
    max_size=40,
)


def _rare_record(i: int, host: bool, tokens: set[str], damaged: bool) -> bytes:
    b = bsmtrail.RecordBuilder(
        23 + i, time=(1_700_000_000 + i, i), host="10.0.0.9" if host else None
    ).subject(i, pid=i)
    if "seq" in tokens:
        b.seq(i)
    if "zone" in tokens:
        b.zone(f"zone{i}")
    if "groups" in tokens:
        b.groups(range(i % 4))
    if "exec_env" in tokens:
        b.exec_env([f"K{i}=v", "X=1"])
    if "exec_args" in tokens:
        b.exec_args(["sh", f"-c{i}"])
    if "args" in tokens:
        b.arg(1, i, "fd").arg(2, i + 1)
    if "attr" in tokens:
        b.attr(0o644, i, 0, 1, i, 2)
    if "sock_inet" in tokens:
        b.sock_inet(80 + i, "10.1.2.3")
    if "process" in tokens:
        b.process(i, pid=i + 1)
    if "opaque" in tokens:
        b.opaque(bytes([i % 256, 1, 2]))
    b.text("t" if damaged else "ok").return_(0, i)
    if "identity" in tokens:
        b.identity(f"com.example.{i}", bytes([i % 256]) * 20, team_id="T")
    rec = bytearray(b.build())
    if damaged:
        rec[rec.index(b"\x28\x00\x02t")] = 0x00  # the text token's id becomes unknown
    return bytes(rec)


@settings(max_examples=60, deadline=None)
@given(
    specs=_RARE,
    batch_size=st.integers(1, 9),
    columns=st.sampled_from(
        [
            None,
            ["host", "seq"],
            ["identity", "error", "record_offset"],
            ["zone", "groups", "exec_env", "exec_args"],
            ["args", "attrs", "sockets", "processes", "other_tokens"],
        ]
    ),
)
def test_sparse_columns_agree_with_the_record_api(
    specs: list[tuple[bool, set[str], bool]], batch_size: int, columns: list[str] | None
) -> None:
    data = b"".join(_rare_record(i, *spec) for i, spec in enumerate(specs))
    trail = bsmtrail.open(data, mode="recover")
    asked = columns
    if columns is not None and "record_offset" not in columns:
        asked = [*columns, "record_offset"]
    table = trail.to_arrow(asked, events=False, batch_size=batch_size, threads=1)
    assert table.num_rows == len(specs)
    rows = {r["record_offset"]: r for r in table.to_pylist()}
    valid = list(trail)  # the record API yields the records that pass validation
    assert len(valid) == sum(not d for _, _, d in specs)
    for rec in valid:
        row = rows[rec.offset]
        want = expected_row(rec, trail.name)
        if "return_errno" not in row:
            want["return_errno"] = None
        _compare({**want, **row}, want, f"record at {rec.offset}")
    errors = trail.to_arrow(["error"], batch_size=batch_size).column("error").to_pylist()
    assert [e is not None for e in errors] == [d for _, _, d in specs]


def test_errno_names(shared_trails: dict[str, Path]) -> None:
    t = bsmtrail.open(shared_trails["reference-all"]).to_arrow(
        ["return_status", "return_errno"], events=False
    )
    pairs = {(s, e) for s, e in zip(*t.to_pydict().values(), strict=True) if s is not None}
    assert (2, "ENOENT") in pairs or (13, "EACCES") in pairs or any(p[0] for p in pairs)
    for status, name in pairs:
        assert (name is None) == (status == 0)
    assert t.schema.field("return_errno").type == pa.dictionary(pa.int32(), pa.string())
    names = bsa.records_schema(["return_errno"]).field("return_errno").type
    assert names.value_type == pa.string()


# -- no token lost -----------------------------------------------------------------------

_LISTS = ("paths", "texts", "args", "attrs", "sockets", "processes", "other_tokens")
_SINGLES = (
    "subject_type",
    "return_status",
    "exec_args",
    "exec_env",
    "identity",
    "groups",
    "seq",
    "zone",
)


def test_demo_trail_loses_no_token() -> None:
    trail = bsmtrail.open(bsmtrail.demo_path())
    records = list(trail)
    table = trail.to_arrow(events=False)
    tokens = trail.tokens_table()
    # Every token type is in the demo trail.
    seen = set(tokens.column("type").to_pylist())
    assert seen == set(bsmtrail.token_ids().values())
    per_record = tokens.filter(pa.compute.is_valid(tokens.column("record_index")))
    counts = per_record.group_by("record_index").aggregate([("token_offset", "count")])
    by_index = dict(zip(counts.column(0).to_pylist(), counts.column(1).to_pylist(), strict=True))
    for i, (row, rec) in enumerate(zip(table.to_pylist(), records, strict=True)):
        typed = 2 + sum(len(row[c]) for c in _LISTS)
        typed += sum(row[c] is not None for c in _SINGLES)
        assert typed == len(rec.tokens) == by_index[i], f"record {i}"
    # Standalone file tokens are rows with no record.
    files = tokens.filter(pa.compute.is_null(tokens.column("record_index")))
    assert files.num_rows == len(trail.file_tokens())


def test_tokens_view_is_lossless(shared_trails: dict[str, Path]) -> None:
    for name, path in _all_trails(shared_trails).items():
        trail = bsmtrail.open(path)
        tokens = trail.tokens_table().to_pylist()
        records = {rec.offset: rec for rec in trail}
        by_record: dict[int, list[dict[str, Any]]] = {}
        for row in tokens:
            if row["record_index"] is not None:
                by_record.setdefault(row["record_offset"], []).append(row)
        assert set(by_record) == set(records), name
        for off, rows in by_record.items():
            rec = records[off]
            assert b"".join(r["raw"] for r in rows) == rec.raw
            for row, (tok, raw) in zip(rows, _token_bytes(rec), strict=True):
                assert (row["token_offset"], row["id"], row["type"]) == (
                    tok["offset"],
                    tok["id"],
                    tok["type"],
                )
                assert row["raw"] == raw and row["length"] == len(raw)
                fields = json.loads(row["fields"])
                want = {k: v for k, v in tok.items() if k not in ("type", "id", "offset")}
                for k, v in want.items():
                    if isinstance(v, bytes):
                        v = v.hex()
                    elif isinstance(v, str):
                        v = _text(v)
                    elif isinstance(v, list):
                        v = [_text(x) if isinstance(x, str) else x for x in v]
                    assert fields[k] == v, (name, off, tok["type"], k)
                assert set(fields) == set(want)


# -- damage ------------------------------------------------------------------------------


def _damaged() -> tuple[bytes, int, int]:
    """demo trail + junk + a record with an unknown token + demo trail."""
    demo = bsmtrail.demo_path().read_bytes()
    bad = bytearray(
        bsmtrail.RecordBuilder(72, time=(1_700_000_000, 5)).text("abc").path("/p").build()
    )
    # The text token's id (after the 18-byte header) becomes an unknown id.
    bad[18] = 0x00
    junk = b"\x00junk\x14\x00"
    data = demo + junk + bytes(bad) + demo
    return data, len(demo), len(demo) + len(junk)


def test_recover_mode_keeps_failing_records_as_rows() -> None:
    data, junk_at, bad_at = _damaged()
    trail = bsmtrail.open(data, mode="recover")
    table = trail.to_arrow(events=False)
    records = len(list(bsmtrail.open(bsmtrail.demo_path())))
    assert table.num_rows == 2 * records + 1
    rows = [r for r in table.to_pylist() if r["error"] is not None]
    assert len(rows) == 1
    row = rows[0]
    assert (row["record_offset"], row["error"], row["error_offset"]) == (
        bad_at,
        "unknown_token",
        bad_at + 18,
    )
    assert row["event"] == 72 and row["texts"] == [] and row["paths"] == []
    (invalid,) = row["other_tokens"]
    assert invalid["type"] == "invalid" and invalid["token_offset"] == bad_at + 18
    assert invalid["data"] == data[bad_at + 18 : bad_at + row["size"]]
    # The errors table has the damaged region and the failing record.
    errors = trail.errors_table().to_pylist()
    assert [(e["kind"], e["region_offset"], e["reason"]) for e in errors] == [
        ("damage", junk_at, "not_a_record"),
        ("record", bad_at, "unknown_token"),
    ]
    assert errors[0]["length"] == bad_at - junk_at
    assert errors[1]["error_offset"] == bad_at + 18
    assert "0x00" in errors[1]["message"]
    # The tokens view ends the record with its undecoded rest.
    tokens = trail.tokens_table()
    rest = [r for r in tokens.to_pylist() if r["type"] == "invalid"]
    assert len(rest) == 1 and rest[0]["raw"] == invalid["data"]


def test_strict_mode_raises() -> None:
    data, _, _ = _damaged()
    trail = bsmtrail.open(data)
    with pytest.raises(bsmtrail.BSMError) as exc:
        trail.to_arrow()
    assert exc.value.offset == len(bsmtrail.demo_path().read_bytes())
    stream = trail.iter_batches(batch_size=10)
    with pytest.raises(bsmtrail.BSMError):
        for _ in stream:
            pass
    # Through the C stream the error is a pyarrow error carrying the message.
    with pytest.raises(Exception, match=r"not_a_record|does not start a record"):
        pa.table(trail.iter_batches(events=False))


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_strict_mode_yields_every_batch_before_the_error(tmp_path: Path, threads: int) -> None:
    """Batches decode on workers ahead of the consumer, yet come out in order, and in
    strict mode the error comes right after the last batch before the damage."""
    data, junk_at, _ = _damaged()
    path = tmp_path / "damaged.bsm"
    path.write_bytes(data)
    offsets: list[int] = []
    stream = bsmtrail.open(path).iter_batches(
        batch_size=2, columns=["record_offset"], events=False, threads=threads
    )
    with pytest.raises(bsmtrail.BSMError) as exc:
        for batch in stream:
            offsets.extend(batch.column("record_offset").to_pylist())
    assert exc.value.offset == junk_at
    assert offsets == [r.offset for r in bsmtrail.open(data[:junk_at])]


def test_mapped_and_windowed_reads_agree(shared_trails: dict[str, Path]) -> None:
    """``to_arrow`` maps the file, ``iter_batches`` reads it through a window."""
    for path in shared_trails.values():
        trail = bsmtrail.open(path, mode="recover")
        streamed = pa.Table.from_batches(list(trail.iter_batches()))
        assert trail.to_arrow().equals(streamed)
        assert bsmtrail.read_trails(path).equals(streamed)
        assert bsmtrail.open(path.read_bytes(), name=str(path)).to_arrow().equals(streamed)


def _thread_names() -> list[str]:
    names = []
    for t in Path("/proc/self/task").iterdir():
        try:
            names.append(t.joinpath("comm").read_text().strip())
        except FileNotFoundError:  # a thread (another test's) ended after the listing
            continue
    return names


def test_parquet_writing_decodes_on_a_thread_of_its_own(tmp_path: Path) -> None:
    """``to_parquet`` hands decoding to a prefetch thread (named ``bsmtrail-ahead``) so
    that writing overlaps decoding."""
    trail = bsmtrail.open(bsmtrail.demo_path())
    stream = trail.arrow_stream(batch_size=2, threads=1, prefetch=1)
    it = iter(stream)
    next(it)
    assert "bsmtrail-ahead" in _thread_names()
    rows = trail.to_parquet(tmp_path / "d.parquet", batch_size=2)
    assert rows == len(list(trail))


def test_truncated_tail_and_empty_input(tmp_path: Path) -> None:
    demo = bsmtrail.demo_path().read_bytes()
    cut = tmp_path / "cut.bsm"
    cut.write_bytes(demo + demo[:40])
    t = bsmtrail.open(cut, mode="recover")
    assert t.to_arrow().num_rows == len(list(bsmtrail.open(demo)))
    (e,) = t.errors_table().to_pylist()
    assert (e["region_offset"], e["length"], e["reason"]) == (len(demo), 40, "truncated")
    empty = bsmtrail.open(b"").to_arrow()
    assert empty.num_rows == 0
    assert empty.schema.metadata[b"bsmtrail.schema_version"] == bsa.SCHEMA_VERSION.encode()


def test_invalid_utf8_is_escaped_not_dropped() -> None:
    rec = (
        bsmtrail.RecordBuilder(1, time=(1, 0))
        .path(b"/tmp/caf\xc3\xa9/\xff\xfeend")
        .exec_args([b"a\x80b", "ok"])
        .build()
    )
    row = bsmtrail.open(rec).to_arrow(["paths", "exec_args"]).to_pylist()[0]
    assert row["paths"] == ["/tmp/café/\\xff\\xfeend"]
    assert row["exec_args"] == ["a\\x80b", "ok"]


def test_time_out_of_range_is_null() -> None:
    big = bsmtrail.RecordBuilder(1, header="header64", time=(2**62, 0)).build()
    neg = bsmtrail.RecordBuilder(1, header="header64", time=(-5, 250)).build()
    times = bsmtrail.open(big + neg).to_arrow(["time"]).column("time").to_pylist()
    assert times[0] is None
    assert times[1] is not None and times[1].timestamp() == -4.75


# -- API ---------------------------------------------------------------------------------


def test_schema_and_projection() -> None:
    trail = bsmtrail.open(bsmtrail.demo_path())
    full = trail.to_arrow()
    assert full.schema.metadata[b"bsmtrail.schema_version"] == b"2"
    assert full.schema.metadata[b"bsmtrail.view"] == b"records"
    assert full.column_names[:9] == [
        "source",
        "record_offset",
        "size",
        "header_type",
        "version",
        "event",
        "event_name",
        "event_description",
        "event_classes",
    ]
    assert full.schema.field("time").type == pa.timestamp("ms", tz="UTC")
    assert full.schema.field("event_name").type == pa.dictionary(pa.int32(), pa.string())
    db = load_events()
    for ev, name in zip(
        full.column("event").to_pylist(), full.column("event_name").to_pylist(), strict=True
    ):
        assert name == db.name(ev)
    part = trail.to_arrow(["event_name", "record_offset"], validate=False)
    assert part.column_names == ["event_name", "record_offset"]
    assert part.column("record_offset").equals(full.column("record_offset"))
    assert part.column("event_name").to_pylist() == full.column("event_name").to_pylist()
    with pytest.raises(ValueError, match=r"unknown column.*not records columns"):
        trail.to_arrow(["nope"])
    with pytest.raises(ValueError, match="more than once"):
        trail.to_arrow(["event", "event"])
    with pytest.raises(ValueError, match="at least one"):
        trail.to_arrow([])
    assert "event_name" not in trail.to_arrow(events=False).column_names


def test_stream_is_consumed_once_and_releases_batches() -> None:
    trail = bsmtrail.open(bsmtrail.demo_path())
    stream = trail.iter_batches(batch_size=3)
    batches = list(stream)
    assert all(b.num_rows <= 3 for b in batches)
    assert sum(b.num_rows for b in batches) == trail.to_arrow().num_rows
    assert stream.closed
    with pytest.raises(OSError, match="read once"):
        pa.table(stream)
    native = trail.iter_batches(events=False)
    pa.table(native)
    with pytest.raises(OSError, match="already exported"):
        next(iter(native))


def test_requested_schema_casts() -> None:
    trail = bsmtrail.open(bsmtrail.demo_path())
    stream = trail.iter_batches(columns=["host", "record_offset"], events=False)
    want = pa.schema([("host", pa.large_string()), ("record_offset", pa.uint64())])
    reader = pa.RecordBatchReader.from_stream(stream, schema=want)
    t = reader.read_all()
    assert t.schema.field("host").type == pa.large_string()


def test_threads_do_not_change_rows(shared_trails: dict[str, Path]) -> None:
    paths = sorted(str(p) for p in shared_trails.values()) * 3
    one = bsa.read_trails(paths, threads=1, batch_size=17)
    many = bsa.read_trails(paths, threads=4, batch_size=5)
    assert one.equals(many)
    sources = one.column("source").to_pylist()
    assert sources[0] == paths[0] and sources[-1] == paths[-1]


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_derived_columns_are_each_rows_lookup_whatever_the_threads(
    tmp_path: Path, threads: int
) -> None:
    """Event, name and label columns are built in Rust on the decoding workers: every
    row must show what the event database (its record-by-record lookup), the passwd and
    group given and the inputs' labels say for that row's event, ids and input."""
    a, b = tmp_path / "a.bsm", tmp_path / "b.bsm"
    generate_trail(str(a), 150_000, 11)
    generate_trail(str(b), 90_000, 12)
    users = {0: "root", 1001: "alice", 1002: "bob"}
    groups = {0: "wheel", 20: "staff"}
    cols = [
        "event",
        "event_name",
        "event_classes",
        "auid_name",
        "auid",
        "egid",
        "egid_name",
        "label",
        "source",
        "event_description",
    ]
    s = bsa.iter_trails(
        {"web": [str(a)], "db": [str(b)]},
        columns=cols,
        threads=threads,
        batch_size=97,
        passwd=users,
        group=groups,
    )
    assert s.schema.names == cols
    t = pa.table(s)
    db = load_events()
    rows = t.to_pylist()
    assert len(rows) > 500
    for row in rows:
        ev = db.get(row["event"]) if row["event"] is not None else None
        assert row["event_name"] == (ev.name if ev else None)
        assert row["event_description"] == (ev.description if ev else None)
        assert row["event_classes"] == (list(ev.classes) if ev else None)
        assert row["auid_name"] == users.get(row["auid"])
        assert row["egid_name"] == groups.get(row["egid"])
        assert row["label"] == ("web" if row["source"] == str(a) else "db")
    assert t.equals(
        bsa.read_trails(
            {"web": [str(a)], "db": [str(b)]}, columns=cols, threads=1, passwd=users, group=groups
        )
    )


def test_stream_dropped_while_workers_decode(shared_trails: dict[str, Path]) -> None:
    """Leaving a stream after one batch, with chunks still decoding on the workers, neither
    hangs nor disturbs the next read."""
    paths = sorted(str(p) for p in shared_trails.values()) * 20
    whole = bsa.read_trails(paths, threads=1)
    for threads in (None, 2, 4):
        stream = bsa.iter_trails(paths, batch_size=7, threads=threads)
        first = next(iter(stream))
        assert first.num_rows == 7
        del stream
    assert bsa.read_trails(paths, threads=2, batch_size=7).equals(whole)


def test_read_trails_glob_and_directory(shared_trails: dict[str, Path], tmp_path: Path) -> None:
    for name, p in shared_trails.items():
        (tmp_path / f"{name}.bsm").write_bytes(p.read_bytes())
    by_glob = bsmtrail.read_trails(str(tmp_path / "*.bsm"))
    by_dir = bsmtrail.read_trails(tmp_path)
    assert by_glob.equals(by_dir)
    assert by_glob.num_rows == sum(len(list(bsmtrail.open(p))) for p in shared_trails.values())
    names = sorted(str(tmp_path / f"{n}.bsm") for n in shared_trails)
    assert by_glob.column("source").unique().to_pylist() == names
    errors = bsmtrail.read_trails(tmp_path, view="errors")
    assert errors.num_rows == 0
    with pytest.raises(FileNotFoundError):
        bsmtrail.read_trails(str(tmp_path / "*.nothing"))


def test_parquet_round_trip(shared_trails: dict[str, Path], tmp_path: Path) -> None:
    trail = bsmtrail.open(bsmtrail.demo_path())
    out = tmp_path / "demo.parquet"
    rows = trail.to_parquet(out, batch_size=4)
    table = trail.to_arrow()
    assert rows == table.num_rows == len(list(trail))
    back = pq.read_table(out)
    assert back.num_rows == rows
    assert back.to_pylist() == table.to_pylist()
    assert back.schema.metadata[b"bsmtrail.schema_version"] == b"2"
    big = bsmtrail.open(shared_trails["apple"])
    big.to_parquet(tmp_path / "apple.parquet")
    back, table = pq.read_table(tmp_path / "apple.parquet"), big.to_arrow()
    # The same types and values (dictionaries are encoded again, so their indices differ).
    assert back.schema.equals(table.schema, check_metadata=True)
    assert back.to_pylist() == table.to_pylist()


@pytest.mark.parametrize("compression", ["zstd", "zstd:7", "lz4", "snappy", "none"])
def test_parquet_reads_back_equal_in_pyarrow_polars_and_duckdb(
    tmp_path: Path, compression: str
) -> None:
    """The Rust writer's file is the records table row for row in every reader, and the
    same bytes whether its row groups were encoded on 1, 2 or 4 threads."""
    import duckdb
    import polars as pl

    trail = tmp_path / "t.bsm"
    generate_trail(trail, 3_000, 11)
    table = bsmtrail.open(trail).to_arrow()
    files = {}
    for threads in (1, 2, 4):
        out = tmp_path / f"t{threads}.parquet"
        rows = bsmtrail.open(trail).to_parquet(
            out, batch_size=250, threads=threads, compression=compression
        )
        assert rows == table.num_rows
        files[threads] = out.read_bytes()
    assert files[1] == files[2] == files[4]
    out = tmp_path / "t1.parquet"
    meta = pq.ParquetFile(out).metadata
    assert meta.num_row_groups == -(-table.num_rows // 250)
    back = pq.read_table(out)
    assert back.schema.equals(table.schema, check_metadata=True)
    assert back.to_pylist() == table.to_pylist()
    assert pl.read_parquet(out).equals(pl.from_arrow(table))
    cols = "record_offset, time, event, auid, paths, event_name"
    got = duckdb.sql(f"select {cols} from '{out}'").fetchall()
    con = duckdb.connect()
    con.register("t", table)
    assert got == con.sql(f"select {cols} from t").fetchall()


def test_polars_pandas_duckdb(shared_trails: dict[str, Path]) -> None:
    pl = importlib.import_module("polars")
    duckdb = importlib.import_module("duckdb")
    trail = bsmtrail.open(shared_trails["openbsm"])
    want = trail.to_arrow()
    events = want.column("event").to_pylist()
    paths = want.column("paths").to_pylist()

    # polars: a table, a RecordBatchReader, and the stream's capsule (DataFrame(...)).
    for df in (
        pl.from_arrow(want),
        pl.from_arrow(trail.iter_batches(batch_size=7).to_reader()),
        pl.DataFrame(trail.iter_batches(batch_size=7)),
    ):
        assert isinstance(df, pl.DataFrame)
        assert df["event"].to_list() == events
        assert df["paths"].to_list() == paths
        assert df["event_name"].to_list() == want.column("event_name").to_pylist()
        assert df["time"].dtype == pl.Datetime("ms", "UTC")
        assert df["time"].to_list() == want.column("time").to_pylist()

    pdf = want.to_pandas()
    assert pdf["event"].tolist() == events
    assert list(pdf["auid"].dropna().astype(int)) == [
        a for a in want.column("auid").to_pylist() if a is not None
    ]

    con = duckdb.connect()
    con.register(
        "tbl", trail.iter_batches(columns=["record_offset", "event", "event_name", "paths"])
    )
    got = con.execute(
        "select event, event_name, record_offset, len(paths) as n from tbl order by record_offset"
    ).fetchall()
    assert [g[0] for g in got] == events
    assert [g[1] for g in got] == want.column("event_name").to_pylist()
    assert [g[3] for g in got] == [len(p) for p in paths]
    con.register("stream", trail.iter_batches(events=False))
    total = con.execute("select sum(size) from stream").fetchone()
    assert total is not None and total[0] == sum(want.column("size").to_pylist())


@pytest.mark.parametrize("view", ["records", "tokens"])
def test_jsonl_is_the_table_row_for_row_whatever_the_threads(tmp_path: Path, view: str) -> None:
    """Each JSON line is the table's row (times as ISO 8601 UTC to the millisecond, bytes as
    hex, dictionaries as values, every column present), in order, and the same bytes on 1, 2
    and 4 threads."""
    import datetime as dt

    from bsmtrail.export import export

    trail = tmp_path / "t.bsm"
    generate_trail(trail, 200_000, 5)
    table = bsa.read_trails([trail], view=view)

    def plain(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        if isinstance(v, bytes):
            return v.hex()
        if isinstance(v, dt.datetime):
            return v.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        return v

    want = [plain(r) for r in table.to_pylist()]
    texts = []
    for threads in (1, 2, 4):
        out = tmp_path / f"t{threads}.jsonl"
        stream = bsa.iter_trails([trail], view=view, batch_size=700)
        rows = export(stream, stream.schema, out, format="jsonl", threads=threads)
        assert rows == table.num_rows
        texts.append(out.read_bytes())
    assert texts[0] == texts[1] == texts[2]
    got = [json.loads(line) for line in texts[0].decode("utf-8").splitlines()]
    assert got == want


@pytest.mark.parametrize("raw", [False, True])
def test_csv_is_the_table_row_for_row_whatever_the_threads(tmp_path: Path, raw: bool) -> None:
    """Each CSV row is the table's row as text (lists and structs as JSON, bytes as hex,
    times as ``YYYY-MM-DD HH:MM:SS.mmmZ``, nulls empty, a formula-like text cell guarded
    with ``'`` unless raw), and the same bytes on 1, 2 and 4 threads."""
    import csv
    import datetime as dt
    import io

    from bsmtrail.export import export
    from bsmtrail.writer import write_trail

    trail = tmp_path / "t.bsm"
    generate_trail(trail, 100_000, 9)
    # Text an attacker chose to look like a formula, in a zone name (a text column).
    evil = tmp_path / "evil.bsm"
    first = next(iter(bsmtrail.open(trail)))
    toks = [dict(t) for t in first.tokens]
    zone = {"type": "zonename", "zone": '=HYPERLINK("http://x")'}
    write_trail(evil, [[*toks[:-2], zone, *toks[-2:]]])
    table = bsa.read_trails([trail, evil])

    def cell(v: Any, t: pa.DataType) -> str:
        if v is None:
            return ""
        if isinstance(v, (list, dict)):
            return json.dumps(
                v, default=lambda b: b.hex(), ensure_ascii=False, separators=(",", ":")
            )
        if isinstance(v, bytes):
            return v.hex()
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dt.datetime):
            return v.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + "Z"
        if isinstance(v, str) and not raw and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
            return "'" + v
        return str(v)

    types = [f.type for f in table.schema]
    want = [[cell(v, t) for v, t in zip(r.values(), types, strict=True)] for r in table.to_pylist()]
    texts = []
    for threads in (1, 2, 4):
        out = tmp_path / f"t{threads}.csv"
        stream = bsa.iter_trails([trail, evil], batch_size=300)
        export(stream, stream.schema, out, format="csv", csv_raw=raw, threads=threads)
        texts.append(out.read_bytes())
    assert texts[0] == texts[1] == texts[2]
    rows = list(csv.reader(io.StringIO(texts[0].decode("utf-8"), newline="")))
    assert rows[0] == table.column_names
    assert rows[1:] == want
    guarded = '\'=HYPERLINK("http://x")'
    assert any(guarded in r for r in rows) != raw


# -- batches arrow-rs cannot import as sliced -------------------------------------------------


def _nested(n: int) -> pa.RecordBatch:
    inner = pa.array([{"uid": str(i)} for i in range(n)])
    outer = pa.StructArray.from_arrays([inner, pa.array(range(n))], names=["user", "pid"])
    return pa.RecordBatch.from_arrays([pa.array(range(n)), outer], names=["i", "actor"])


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "csv"])
def test_sliced_nested_structs_are_written_not_a_panic(tmp_path: Path, fmt: str) -> None:
    """A struct holding a struct, sliced (as pyarrow exports it), makes arrow-rs's import
    panic (apache/arrow-rs#9235): the export copies such batches, and every row is
    written as the slice holds it."""
    from bsmtrail.export import export

    whole = _nested(10)
    parts = [whole.slice(0, 3), whole.slice(3, 4), whole.slice(7, 3)]
    out = tmp_path / f"o.{fmt}"
    assert export(parts, whole.schema, out, format=fmt) == 10  # type: ignore[arg-type]
    if fmt == "parquet":
        assert pq.read_table(out).to_pylist() == whole.to_pylist()
    elif fmt == "jsonl":
        got = [json.loads(line) for line in out.read_text().splitlines()]
        assert got == whole.to_pylist()
    else:
        assert len(out.read_text().splitlines()) == 11


def test_a_batch_arrow_rs_cannot_import_is_a_value_error(tmp_path: Path) -> None:
    """Handed straight to the native writer, the same slice is a ValueError (which
    ``except Exception`` catches), not a PanicException."""
    from bsmtrail import _native

    with pytest.raises(ValueError, match="could not import"):
        _native.jsonl_pieces(_nested(10).slice(3, 4))

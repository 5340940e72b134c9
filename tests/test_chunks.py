"""Byte-range chunks (rust/chunks.rs, bsmtrail.chunks): every record read exactly once,
whatever the split points, and the same records as one sequential recovering pass."""

from __future__ import annotations

import itertools
import pickle
import struct
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bsmtrail
from bsmtrail import _native
from bsmtrail.arrow import stream
from bsmtrail.chunks import chunk_boundaries, chunk_span, read_chunk, read_trail
from bsmtrail.writer import generate_trail

COLS = ["record_offset", "size", "event", "texts", "other_tokens", "error", "error_offset"]
# Small windows so the tests cross them; the records below stay shorter than both.
SMALL = {"lookback": 256, "ahead": 64}


def record(event: int, text: bytes = b"hi\0", *, header: int = 0x14) -> bytes:
    """header32 (or a 64-bit header), one text token, trailer."""
    body = struct.pack(">BH", 0x28, len(text)) + text
    if header == 0x14:
        head_len = 18
        n = head_len + len(body) + 7
        head = struct.pack(">BIBHHII", 0x14, n, 11, event, 0, 1_700_000_000 + event, 5)
    else:
        head_len = 26
        n = head_len + len(body) + 7
        head = struct.pack(">BIBHHQQ", 0x74, n, 11, event, 0, 1_700_000_000, 5)
    return head + body + struct.pack(">BHI", 0x13, 0xB105, n)


def file_token(name: bytes) -> bytes:
    return struct.pack(">BIIH", 0x11, 1_700_000_000, 0, len(name)) + name


# One piece of a trail: a record, a record carrying whole records in its text token,
# junk, a record with a lying count, a cut record, a file token.
piece = st.one_of(
    st.builds(record, st.integers(1, 400), st.binary(max_size=40).map(lambda b: b + b"\0")),
    st.builds(
        lambda e, inner: record(e, b"".join(inner) + b"\0"),
        st.integers(1, 400),
        st.lists(st.builds(record, st.integers(1, 400)), min_size=1, max_size=3),
    ),
    st.builds(record, st.integers(1, 400), st.just(b"x\0"), header=st.just(0x74)),
    st.binary(min_size=1, max_size=30),
    st.builds(lambda e, k: record(e)[:k], st.integers(1, 400), st.integers(1, 30)),
    st.builds(lambda e: record(e)[:1] + b"\0\0\0\x40" + record(e)[5:], st.integers(1, 400)),
    st.builds(file_token, st.binary(max_size=20)),
)


def records_of(data: bytes) -> list[dict[str, Any]]:
    t = stream([("t", data)], columns=COLS, events=False).read_all()
    return t.to_pylist()  # type: ignore[no-any-return]


def chunked_records(data: bytes, bounds: list[int]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for a, b in itertools.pairwise(bounds):
        out += read_chunk(data, a, b, name="t", columns=COLS, events=False).to_pylist()
    return out


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(pieces=st.lists(piece, min_size=1, max_size=30), draw=st.data())
def test_any_split_reads_every_record_once(pieces: list[bytes], draw: st.DataObject) -> None:
    data = b"".join(pieces)
    splits = draw.draw(st.lists(st.integers(0, len(data) + 2), max_size=8), label="splits")
    bounds = chunk_boundaries(data, splits=splits, **SMALL)
    assert bounds[0] == 0 and bounds[-1] == len(data)
    assert bounds == sorted(bounds)
    assert len(bounds) == len(splits) + 2
    assert chunked_records(data, bounds) == records_of(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(piece, min_size=1, max_size=30),
    chunk_bytes=st.integers(1, 400),
)
def test_remote_windows_agree_with_the_whole_file(pieces: list[bytes], chunk_bytes: int) -> None:
    """A worker reading only bytes near its chunk finds the same span as one holding the
    whole file."""
    data = b"".join(pieces)
    bounds = chunk_boundaries(data, chunk_bytes=chunk_bytes, **SMALL)
    reads: list[tuple[int, int]] = []

    def read(lo: int, hi: int) -> bytes:
        reads.append((lo, hi))
        return data[lo:hi]

    for i in range(len(bounds) - 1):
        start, end, buf, base = chunk_span(read, len(data), i, chunk_bytes, **SMALL)
        assert (start, end) == (bounds[i], bounds[i + 1])
        assert buf == data[base : base + len(buf)]
        assert base <= start <= end <= base + len(buf)


def straddling_pair(pad: bytes, inner_pad: bytes) -> bytes:
    """Crafted: record A's text ends with a header whose count lands on a trailer planted
    in record B's text, so a well-formed record straddles A's end (the documented
    residual risk)."""
    head = struct.pack(">B", 0x14)
    a_text_len = len(pad) + 18 + 1
    a_len = 18 + 3 + a_text_len + 7
    x = 18 + 3 + len(pad)  # where the planted record starts, from A's start
    planted_trailer_at = a_len + 18 + 3 + len(inner_pad)  # from A's start
    n = planted_trailer_at + 7 - x
    fake = head + struct.pack(">IBHHII", n, 11, 999, 0, 1_700_000_000, 5) + b"\0"
    a = record(1, pad + fake)
    assert len(a) == a_len
    b = record(2, inner_pad + struct.pack(">BHI", 0x13, 0xB105, n) + b"\0")
    return a + b


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(
        st.one_of(
            piece,
            st.builds(straddling_pair, st.binary(max_size=20), st.binary(max_size=20)),
        ),
        min_size=1,
        max_size=20,
    ),
    draw=st.data(),
)
def test_crafted_input_still_tiles(pieces: list[bytes], draw: st.DataObject) -> None:
    """Guarantee 1 on crafted input: the chunks tile the file, no record is read twice,
    and every row is a record that frames strictly where it stands."""
    data = b"".join(pieces)
    splits = draw.draw(st.lists(st.integers(0, len(data)), max_size=8), label="splits")
    bounds = chunk_boundaries(data, splits=splits, **SMALL)
    assert bounds[0] == 0 and bounds[-1] == len(data) and bounds == sorted(bounds)
    rows = chunked_records(data, bounds)
    offsets = [r["record_offset"] for r in rows]
    assert offsets == sorted(set(offsets))
    for r in rows:
        o, n = r["record_offset"], r["size"]
        rec = data[o : o + n]
        assert len(rec) == n and rec[0] in (0x14, 0x15, 0x74, 0x79)
        assert rec[-7:] == struct.pack(">BHI", 0x13, 0xB105, n)


def test_crafted_straddle() -> None:
    """The documented residual risk, exactly: with a lookback shorter than the crafted
    record A, a split point inside A can land on the planted record, which swallows B;
    with the default lookback the result is the sequential one."""
    data = record(5) + straddling_pair(b"ab", b"cd") + record(3)
    assert [r["event"] for r in records_of(data)] == [5, 1, 2, 3]
    planted = len(record(5)) + 18 + 3 + 2
    bounds = chunk_boundaries(data, splits=[planted - 18], lookback=4, ahead=64)
    assert bounds == [0, planted, len(data)]
    assert [r["event"] for r in chunked_records(data, bounds)] == [5, 999, 3]
    for s in range(len(data) + 1):
        exact = chunk_boundaries(data, splits=[s])
        assert [r["event"] for r in chunked_records(data, exact)] == [5, 1, 2, 3]


def test_embedded_records_are_not_boundaries() -> None:
    """A record whose text token holds whole records: split points inside it never land
    on the embedded ones."""
    inner = record(300) + record(301)
    outer = record(7, inner + b"\0")
    data = record(1) + outer + record(2)
    want = records_of(data)
    assert [r["event"] for r in want] == [1, 7, 2]
    for s in range(len(data) + 1):
        bounds = chunk_boundaries(data, splits=[s], **SMALL)
        assert bounds[1] in (0, len(record(1)), len(record(1)) + len(outer), len(data))
        assert chunked_records(data, bounds) == want


def test_adversarial_embedding_still_tiles() -> None:
    """Documented residual risk: a record longer than the lookback, full of embedded
    records. A boundary may land on an embedded record (the holding record is then cut,
    its bytes reported as damage), but chunks still tile the file: nothing is read twice,
    and with the default lookback the result is exact."""
    inner = b"".join(record(300 + i) for i in range(40))
    data = record(1) + record(7, inner + b"\0") + record(2)
    bounds = chunk_boundaries(data, chunk_bytes=400, lookback=64, ahead=64)
    assert bounds[0] == 0 and bounds[-1] == len(data) and bounds == sorted(bounds)
    got = chunked_records(data, bounds)
    offsets = [r["record_offset"] for r in got]
    assert len(offsets) == len(set(offsets))
    exact = chunk_boundaries(data, chunk_bytes=400)
    assert chunked_records(data, exact) == records_of(data)


def test_hostile_inputs_do_not_panic() -> None:
    for data in (b"", b"\x14", b"\x14" * 5000, b"\x11" * 3000, bytes(range(256)) * 20):
        for n in (1, 2, 7, 50):
            b = chunk_boundaries(data, n, **SMALL)
            assert b[0] == 0 and b[-1] == len(data) and b == sorted(b)
    with pytest.raises(ValueError):
        chunk_boundaries(b"abc")
    with pytest.raises(ValueError):
        chunk_boundaries(b"abc", 2, chunk_bytes=3)
    with pytest.raises(ValueError):
        _native.TrailSlice(b"abc", 2, 5)
    assert _native.chunk_span(b"abc", 0, 10, base=5, total=100)[2] == (0, 100)


def test_trail_slice_is_a_view(tmp_path: Path) -> None:
    p = tmp_path / "t.bsm"
    data = record(1) + record(2) + record(3)
    p.write_bytes(data)
    n = len(record(1))
    s = _native.TrailSlice(str(p), n, 2 * n)
    assert (s.start, s.end, len(s)) == (n, 2 * n, n)
    assert [r.event for r in bsmtrail.open(s)] == [2]


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("gen") / "g.bsm"
    generate_trail(p, 3_000_000, seed=5)
    return p


def test_generated_trail_in_chunks_equals_read_trails(generated: Path) -> None:
    whole = bsmtrail.arrow.read_trails(generated)
    for chunks in (1, 3, 8):
        got = read_trail(generated, chunks)
        assert got.num_rows == whole.num_rows
        assert got.schema == whole.schema
        for name in (
            "record_offset",
            "size",
            "event",
            "event_name",
            "time",
            "auid",
            "paths",
            "other_tokens",
            "error_offset",
        ):
            assert got.column(name).to_pylist() == whole.column(name).to_pylist(), name


def test_read_trail_with_where_and_columns(generated: Path) -> None:
    from bsmtrail.select import selection

    sel = selection(classes="fr,fw,ex", files="~/tmp/.*,/.*")
    cols = ["event", "time", "auid"]
    whole = bsmtrail.arrow.read_trails(generated, cols, where=sel)
    got = read_trail(generated, 4, columns=cols, where=sel)
    assert 0 < got.num_rows < bsmtrail.arrow.read_trails(generated, cols).num_rows
    assert got.to_pylist() == whole.to_pylist()
    # A selection travels to Dask workers pickled: the copy selects the same rows.
    again = pickle.loads(pickle.dumps(sel))
    assert read_trail(generated, 4, columns=cols, where=again).to_pylist() == whole.to_pylist()
    assert pickle.loads(pickle.dumps(again & sel)).matches is not None


def test_rebased_offsets_match_bytes(generated: Path) -> None:
    data = generated.read_bytes()
    b = chunk_boundaries(generated, 4)
    t = read_chunk(generated, b[2], b[3], columns=["record_offset", "size", "other_tokens"])
    for row in t.to_pylist()[:50]:
        rec = data[row["record_offset"] : row["record_offset"] + row["size"]]
        assert rec[0] in (0x14, 0x15, 0x74, 0x79)
        for tok in row["other_tokens"]:
            assert data[tok["token_offset"] : tok["token_offset"] + len(tok["data"])] == tok["data"]
    assert isinstance(t, pa.Table)

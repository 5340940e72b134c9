"""The Python API on hand-built byte vectors: sources, records, and errors with offsets.

Vectors are built here with struct from the spec's layouts (docs/bsm-format.md §1-§4), not
with bsmtrail's own encoder, so a symmetric bug cannot hide."""

from __future__ import annotations

import io
import pickle
import resource
import struct
from pathlib import Path

import pytest

import bsmtrail
from bsmtrail import (
    BSMError,
    FramingError,
    MalformedTokenError,
    RecordSizeError,
    TrailerError,
    TruncatedError,
    UnknownTokenError,
)

TRAILER = 0x13


def text(s: bytes) -> bytes:
    return struct.pack(">BH", 0x28, len(s)) + s


def record(
    body: bytes, *, event: int = 1, sec: int = 1230477138, msec: int = 131, mod: int = 0
) -> bytes:
    count = 18 + len(body) + 7
    head = struct.pack(">BIBHHII", 0x14, count, 11, event, mod, sec, msec)
    return head + body + struct.pack(">BHI", TRAILER, 0xB105, count)


REC = record(text(b"hello\x00"))  # 18 + 9 + 7 = 34 bytes


def test_sources_agree(tmp_path: Path) -> None:
    data = REC + record(text(b"two\x00"), event=2)
    p = tmp_path / "t.bsm"
    p.write_bytes(data)
    sources: list[object] = [
        p,
        str(p),
        data,
        bytearray(data),
        memoryview(data),
        io.BytesIO(data),
    ]
    for src in sources:
        recs = list(bsmtrail.open(src))  # type: ignore[arg-type]
        assert [r.event for r in recs] == [1, 2], src
        assert [r.offset for r in recs] == [0, 34]
        assert recs[1].raw == data[34:]


def test_record_fields_and_tokens() -> None:
    rec = bsmtrail.parse_record(REC)
    assert (rec.offset, rec.size, len(rec), rec.version, rec.event) == (0, 34, 34, 11, 1)
    assert (rec.seconds, rec.msec) == (1230477138, 131)
    assert rec.time is not None and rec.time.isoformat() == "2008-12-28T15:12:18.131000+00:00"
    toks = rec.tokens
    assert [t["type"] for t in toks] == ["header32", "text", "trailer"]
    assert toks[1] == {"type": "text", "id": 0x28, "offset": 18, "text": "hello"}
    assert toks[2] == {"type": "trailer", "id": 0x13, "offset": 27, "magic": 0xB105, "size": 34}


def test_non_utf8_strings_are_lossless() -> None:
    rec = bsmtrail.parse_record(record(text(b"a\xff\x00b\x00")))
    s = rec.tokens[1]["text"]
    assert s.encode("utf-8", "surrogateescape") == b"a\xff\x00b"


def test_token_offsets_are_absolute_in_a_trail() -> None:
    data = REC + REC
    second = list(bsmtrail.open(data))[1]
    assert [t["offset"] for t in second.tokens] == [34, 52, 61]


def test_header64_ex_ipv6_host_and_extreme_time() -> None:
    host = bytes.fromhex("fe800000000000000000000000000001")
    body = text(b"x\x00")
    count = 46 + len(body) + 7
    head = struct.pack(">BIBHHI", 0x79, count, 11, 45029, 0x4000, 16) + host
    head += struct.pack(">QQ", (1 << 64) - 1, 5)
    rec = bsmtrail.parse_record(head + body + struct.pack(">BHI", TRAILER, 0xB105, count))
    assert rec.header_type == "header64_ex"
    assert rec.host == "fe80::1"
    assert rec.modifier == 0x4000
    # 64-bit times are signed (§3.4): 2^64-1 is one second before the epoch.
    assert rec.time is not None and rec.time.isoformat() == "1969-12-31T23:59:59.005000+00:00"
    # Far outside datetime's range: None, not an exception.
    head = head[:-16] + struct.pack(">QQ", 1 << 62, 0)
    rec = bsmtrail.parse_record(head + body + struct.pack(">BHI", TRAILER, 0xB105, count))
    assert rec.time is None


def test_parse_record_rejects_extra_bytes_and_file_tokens() -> None:
    with pytest.raises(MalformedTokenError) as e:
        bsmtrail.parse_record(REC + b"\x00\x00")
    assert (e.value.offset, e.value.reason) == (34, "trailing_bytes")
    file_tok = struct.pack(">BIIH", 0x11, 1, 2, 2) + b"f\x00"
    with pytest.raises(FramingError):
        bsmtrail.parse_record(file_tok)


def test_file_tokens_between_records() -> None:
    file_tok = struct.pack(">BIIH", 0x11, 74565, 424, 5) + b"test\x00"
    trail = bsmtrail.open(file_tok + REC + file_tok)
    assert [r.offset for r in trail] == [16]
    ft = trail.file_tokens()
    assert [(f["offset"], f["name"], f["seconds"], f["msec"]) for f in ft] == [
        (0, "test", 74565, 424),
        (50, "test", 74565, 424),
    ]


def test_truncated_trail_yields_intact_records_then_raises() -> None:
    data = REC + REC[:20]
    it = iter(bsmtrail.open(data))
    assert next(it).offset == 0
    with pytest.raises(TruncatedError) as e:
        next(it)
    err = e.value
    assert (err.offset, err.record_offset, err.token_id, err.reason) == (34, 34, 0x14, "truncated")
    assert "0x22 (34)" in str(err)


def test_record_larger_than_input() -> None:
    bad = bytearray(REC)
    bad[1:5] = struct.pack(">I", 1000)
    with pytest.raises(TruncatedError) as e:
        list(bsmtrail.open(bytes(bad)))
    assert (e.value.offset, e.value.record_offset) == (0, 0)


def test_trailer_disagreeing_with_header() -> None:
    bad = bytearray(REC)
    bad[-4:] = struct.pack(">I", 35)
    with pytest.raises(TrailerError) as e:
        bsmtrail.parse_record(bytes(bad))
    assert (e.value.offset, e.value.reason) == (30, "trailer_mismatch")
    bad = bytearray(REC)
    bad[-6] = 0xB2
    with pytest.raises(TrailerError) as e:
        bsmtrail.parse_record(bytes(bad))
    assert (e.value.offset, e.value.reason) == (28, "bad_trailer_magic")


def test_record_size_smaller_than_a_header() -> None:
    bad = bytearray(REC)
    bad[1:5] = struct.pack(">I", 10)
    with pytest.raises(RecordSizeError) as e:
        bsmtrail.parse_record(bytes(bad))
    assert (e.value.offset, e.value.record_offset, e.value.reason) == (1, 0, "record_too_small")


def test_unknown_token_id() -> None:
    rec = record(b"\x99\x01\x02\x03" + text(b"x\x00"))
    with pytest.raises(UnknownTokenError) as e:
        bsmtrail.parse_record(rec)
    assert (e.value.offset, e.value.token_id, e.value.reason) == (18, 0x99, "unknown_token")
    # In a trail: the records before it are intact and returned first.
    it = iter(bsmtrail.open(REC + rec))
    assert next(it).offset == 0
    with pytest.raises(UnknownTokenError) as e:
        next(it)
    assert e.value.offset == 34 + 18


def test_bad_address_type_and_stray_byte() -> None:
    subj = struct.pack(">B7IIII", 0x7A, *range(7), 9, 6, 0x01020304)
    with pytest.raises(MalformedTokenError) as e:
        bsmtrail.parse_record(record(subj))
    assert (e.value.offset, e.value.token_id, e.value.reason) == (18 + 33, 0x7A, "bad_address_type")
    it = iter(bsmtrail.open(REC + b"\x00" + REC))
    next(it)
    with pytest.raises(FramingError) as e:
        next(it)
    assert (e.value.offset, e.value.reason) == (34, "not_a_record")


def test_errors_pickle_with_their_attributes() -> None:
    try:
        bsmtrail.parse_record(REC[:20])
    except BSMError as err:
        back = pickle.loads(pickle.dumps(err))
        assert type(back) is type(err)
        assert (back.offset, back.record_offset, back.token_id, back.reason) == (
            err.offset,
            err.record_offset,
            err.token_id,
            err.reason,
        )
        assert str(back) == str(err)
    else:
        raise AssertionError("expected an error")


def test_huge_declared_sizes_do_not_allocate() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    four_gb = bytearray(REC + bytes(1024))
    four_gb[1:5] = struct.pack(">I", 0xFFFFFFFF)
    with pytest.raises(RecordSizeError) as caught:
        list(bsmtrail.open(bytes(four_gb)))
    assert caught.value.reason == "record_too_large"
    exec_args = record(struct.pack(">BI", 0x3C, 0xFFFFFFFF) + b"a\x00" * 100)
    with pytest.raises(TruncatedError):
        bsmtrail.parse_record(exec_args)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert after - before < 50 * 1024  # KiB on Linux: under 50 MB


def test_scan_reports_instead_of_raising() -> None:
    s = bsmtrail.open(REC + REC + REC[:5]).scan()
    assert (s.records, s.bytes, s.nbytes, s.ok) == (2, 68, 73, False)
    assert isinstance(s.error, TruncatedError)
    assert s.error.offset == 68
    assert s.token_counts == {"header32": 2, "text": 2, "trailer": 2}
    assert bsmtrail.open(b"").scan().ok


def test_type_errors_for_bad_sources() -> None:
    with pytest.raises(TypeError):
        bsmtrail.open(12345)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        bsmtrail.open("/nonexistent/trail.bsm")


def test_demo_trail_holds_every_token_type() -> None:
    scan = bsmtrail.open(bsmtrail.demo_path()).scan()
    assert scan.ok, scan.error
    assert set(scan.token_counts) == set(bsmtrail.token_ids().values())
    assert len(bsmtrail.token_ids()) == 48
    assert scan.file_tokens == 2

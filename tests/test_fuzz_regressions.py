"""Inputs the fuzzers found (docs/fuzzing.md), kept as Python API regressions. The Rust
side of each fix has its own test next to the code it changed."""

from __future__ import annotations

import io
import struct
import xml.etree.ElementTree as ET

import bsmtrail
from bsmtrail.render import render
from bsmtrail.stream import stream


def record(body: bytes, event: int = 1) -> bytes:
    count = 18 + len(body) + 7
    head = struct.pack(">BIBHHII", 0x14, count, 11, event, 0, 1_700_000_000, 0)
    return head + body + struct.pack(">BHI", 0x13, 0xB105, count)


def text(s: bytes) -> bytes:
    return struct.pack(">BH", 0x28, len(s) + 1) + s + b"\x00"


def test_stream_keeps_records_inside_a_count_cut_by_the_end() -> None:
    # Found by tests/fuzz/atheris_api.py: a header whose count runs past the end of input
    # was waited for, and at the end the records inside the bytes it claimed were dropped
    # with it as a truncated tail; recover mode keeps them.
    liar = bytearray(record(text(b"liar"), 2))
    liar[1:5] = struct.pack(">I", 200)
    good = [record(text(b"x" * i), 3 + i) for i in range(3)]
    data = record(text(b"first")) + bytes(liar[:10]) + b"".join(good) + good[0][:12]
    trail = bsmtrail.open(data, mode="recover")
    want = [r.offset for r in trail]
    assert len(want) == 4
    want_damage = [(d.offset, d.length, d.reason) for d in trail.damage]
    assert want_damage == [(34, 10, "truncated"), (134, 12, "truncated")]
    for piece in (1, 7, 1 << 16):
        s = stream(io.BytesIO(data), chunk_size=piece)
        assert [r.offset for r in s] == want
        assert [(d.offset, d.length, d.reason) for d in s.damage] == want_damage


def test_stream_resync_waits_for_a_record_still_arriving() -> None:
    # Found by tests/fuzz/atheris_api.py (16-byte pieces): after damage, a record that had
    # not fully arrived was skipped and the stream resumed at a smaller record inside it,
    # so the records depended on how the input was split. Recover mode resumes at the
    # outer record.
    inner = record(text(b"inner"), 2)
    outer = record(inner + struct.pack(">BI", 0x2F, 1), 9)
    data = b"\x00" + outer + record(text(b"after"), 3)
    trail = bsmtrail.open(data, mode="recover")
    want = [r.offset for r in trail]
    # The outer record frames but does not decode (a trailer inside it): it is damage too.
    assert want == [1 + len(outer)]
    want_damage = [(d.offset, d.length) for d in trail.damage]
    assert want_damage == [(0, 1), (1, len(outer))]
    for piece in (1, 16, 40, 1 << 16):
        s = stream(io.BytesIO(data), chunk_size=piece)
        assert [r.offset for r in s] == want
        assert [(d.offset, d.length) for d in s.damage] == want_damage


def test_strict_xml_escapes_markup_after_meta_byte() -> None:
    # Found by the render fuzz target: byte 0xbc in an exec arg printed as `\M-<` under
    # --xml-strict, and the document did not parse. praudit's own -x output keeps it.
    args = b"a\xbc>\x00b\xa6\x00"
    data = record(struct.pack(">BI", 0x3C, 2) + args)
    strict = render(data, xml=True, xml_strict=True, raw=True)
    ET.fromstring(strict)
    assert b"<arg>a\\M-&lt;&gt;</arg><arg>b\\M-&amp;</arg>" in strict
    assert b"<arg>a\\M-<&gt;</arg>" in render(data, xml=True, raw=True)

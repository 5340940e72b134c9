"""Atheris harness for bsmtrail's Python API.

    python3 tests/fuzz/atheris_api.py [CORPUS_DIR] [libFuzzer flags, e.g. -max_total_time=60]

The first input byte picks options; the rest is a trail. Each input goes through:

- ``bsmtrail.open(data, mode="strict")``: iteration, every record attribute and
  ``rec.tokens``;
- ``bsmtrail.open(data, mode="recover")``: the same, plus ``damage``; records and damaged
  regions are in order, disjoint and inside the input, and a record that recover mode
  yields never fails to give its tokens;
- ``bsmtrail.stream.stream`` over the bytes in small pieces: the same records as recover
  mode;
- ``bsmtrail.parse_record(data)``, ``Trail.verify()``, ``Trail.scan()``,
  ``Trail.file_tokens()``;
- ``bsmtrail.render.render(data, ...)`` in the mode the option byte picks (plain, -l, -r,
  -s -n, -x, -x --xml-strict, --apple, -p); strict XML must parse with ``xml.etree``;
- ``bsmtrail.dtaudit.read`` of the input as a dtaudit capture's body (after the first
  line): only ``CaptureFormatError`` may be raised, and no record holds more bytes than
  its length or the script's limit.

Malformed input may raise :class:`bsmtrail.BSMError` subclasses and nothing else: any other
exception (``PanicException`` from Rust included) escapes and atheris reports the input.
Only Python code is instrumented (the Rust extension is covered by the cargo-fuzz
targets in ``rust/fuzz``); atheris still steers by the Python paths the input reaches.
"""

from __future__ import annotations

import io
import sys
import xml.etree.ElementTree as ET

import atheris

with atheris.instrument_imports():
    import bsmtrail
    import bsmtrail.render
    from bsmtrail import BSMError, dtaudit
    from bsmtrail.events import load_events
    from bsmtrail.stream import stream

# Tables given explicitly so that no input reads the machine's user database; the event
# table is the packaged one, loaded once.
EVENTS = list(load_events(None).praudit_entries())
NAMES = {"users": {0: "root", 65534: "nobody"}, "groups": {0: "wheel"}, "events": EVENTS}

# (options, resync) per mode; the option byte's low three bits pick one.
MODES: list[tuple[dict[str, object], bool]] = [
    ({}, False),
    ({"oneline": True, "delimiter": "|"}, False),
    ({"raw": True}, False),
    ({"short": True, "numeric": True, "utc": True}, False),
    ({"xml": True}, False),
    ({"xml": True, "xml_strict": True, "apple": True}, False),
    ({"apple": True, "oneline": True}, False),
    ({"xml": True, "xml_strict": True, "oneline": True}, True),
]


def touch(rec: bsmtrail.Record) -> None:
    """Read every attribute of a record, tokens included."""
    assert 0 < rec.size == len(rec.raw) == len(rec)
    for name in ("offset", "header_type", "version", "event", "modifier", "seconds", "msec"):
        getattr(rec, name)
    for name in ("host", "time"):
        getattr(rec, name)
    repr(rec)
    for tok in rec.tokens:
        assert isinstance(tok["type"], str) and isinstance(tok["id"], int)


def strict(data: bytes) -> None:
    try:
        for rec in bsmtrail.open(data, mode="strict"):
            touch(rec)
    except BSMError:
        pass


def recover(data: bytes) -> list[int]:
    trail = bsmtrail.open(data, mode="recover")
    offsets = []
    spans = []
    for rec in trail:
        touch(rec)
        offsets.append(rec.offset)
        spans.append((rec.offset, rec.size))
    for d in trail.damage:
        assert d.length > 0 and isinstance(d.error, BSMError), d
        spans.append((d.offset, d.length))
    end = 0
    for offset, length in sorted(spans):
        assert offset >= end and offset + length <= len(data), (offset, length, end)
        end = offset + length
    return offsets


def streamed(data: bytes, piece: int) -> list[int]:
    s = stream(io.BytesIO(data), chunk_size=piece)
    offsets = [rec.offset for rec in s]
    for d in s.damage:
        assert d.length > 0 and isinstance(d.error, BSMError), d
    return offsets


def whole(data: bytes) -> None:
    try:
        touch(bsmtrail.parse_record(data))
    except BSMError:
        pass
    trail = bsmtrail.open(data)
    report = trail.verify(events=None)
    assert report.nbytes == len(data)
    assert report.bytes + sum(d.length for d in report.damage) == len(data), report
    scan = trail.scan()
    assert scan.bytes <= scan.nbytes == len(data)
    scan_framing = trail.scan(decode=False)
    assert scan_framing.bytes <= len(data)
    try:
        trail.file_tokens()
    except BSMError:
        pass


def render(data: bytes, mode: int) -> None:
    options, resync = MODES[mode]
    out = bsmtrail.render.render(data, resync=resync, **NAMES, **options)
    assert isinstance(out, bytes)
    if options.get("xml_strict"):
        ET.fromstring(out)


def captured(data: bytes, limit: int) -> None:
    head = b"bsmtrail-dtaudit 1 max-bytes=%d\n" % limit
    try:
        for rec in dtaudit.read(io.BytesIO(head + data)):
            assert len(rec.data) <= min(rec.length, limit), rec
            assert rec.complete == (len(rec.data) == rec.length), rec
    except dtaudit.CaptureFormatError:
        pass


def TestOneInput(buf: bytes) -> None:
    if not buf:
        return
    opt, data = buf[0], buf[1:]
    strict(data)
    offsets = recover(data)
    assert streamed(data, 1 + (opt >> 3)) == offsets
    whole(data)
    render(data, opt & 7)
    captured(data, 1 + opt * 16)


def main() -> None:
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

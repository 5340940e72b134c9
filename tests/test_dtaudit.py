"""Captures from DTrace's dtaudit provider (``bsmtrail.dtaudit``).

The captures are built here the way DTrace prints the script's output: the script's own
``printf`` formats (taken from the script text, so script and reader cannot drift apart)
and ``tracemem()``'s raw dump as libdtrace's ``dt_print_bytes`` writes it with
``forceraw`` (a ``"\\n"``, a five-space margin and the column header, then per 16 bytes
``%5x:``, `` %02x`` per byte, three spaces per missing byte, two spaces and the bytes as
characters, ``.`` outside ``' '..'~'``)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bsmtrail
from bsmtrail import dtaudit
from bsmtrail.events import load_events
from bsmtrail.writer import generate_trail

ENV = {**os.environ, "TZ": "UTC"}


def tracemem(data: bytes) -> str:
    """``tracemem(addr, max, len)``'s output for ``data`` (already limited to ``max``)."""
    if not data:
        return ""
    out = ["\n", " " * 5, " " * 6, *(f"  {c}" for c in "0123456789abcdef"), "  0123456789abcdef\n"]
    for i in range(0, len(data), 16):
        row = data[i : i + 16]
        out.append(" " * 5 + f"{i:5x}:")
        out.extend(f" {b:02x}" for b in row)
        out.append("   " * (16 - len(row)) + "  ")
        out.append("".join(chr(b) if 32 <= b <= 126 else "." for b in row))
        out.append("\n")
    return "".join(out)


def script_formats(text: str) -> tuple[str, str, str, int]:
    """The BEGIN printf's format, the record's two printf formats (before and after the
    dump) and tracemem's size, read from the script (checked further by
    ``test_the_script_is_well_formed``)."""
    formats = [f.replace("\\n", "\n") for f in re.findall(r'printf\("((?:[^"\\]|\\.)*)"', text)]
    found = re.search(r"tracemem\(args\[2\], (\d+), args\[3\]\)", text)
    assert found is not None and len(formats) == 3
    return formats[0], formats[1], formats[2], int(found.group(1))


def capture(records: list[tuple[str, bytes]], *, max_bytes: int = dtaudit.MAX_RECORD) -> str:
    """What ``dtrace -s`` prints for the script with these (event, bytes) firings."""
    begin, before, after, size = script_formats(dtaudit.script(max_bytes=max_bytes))
    out = [begin % size]
    for name, data in records:
        out.append(before.replace("%s", name).replace("%d", str(len(data))))
        out.append(tracemem(data[:size]))
        out.append(after)
    return "".join(out)


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, bytes]]:
    trail = tmp_path_factory.mktemp("dt") / "g.bsm"
    generate_trail(trail, 200_000, 11)
    db = load_events()
    out = []
    for r in bsmtrail.open(trail):
        e = db.get(r.event)
        out.append(((e.name if e else f"aue_{r.event}").lower(), r.raw))
    return out


def test_records_read_back_byte_for_byte(records: list[tuple[str, bytes]], tmp_path: Path) -> None:
    text = capture(records)
    got = list(dtaudit.read(io.BytesIO(text.encode())))
    assert [(g.event, g.data) for g in got] == records
    assert all(g.complete and g.length == len(g.data) for g in got)
    out = io.BytesIO()
    summary = dtaudit.write_trail(io.BytesIO(text.encode()), out)
    assert out.getvalue() == b"".join(d for _, d in records)
    assert (summary.records, summary.incomplete, summary.other_lines) == (len(records), [], 0)


def test_records_longer_than_the_scripts_limit_are_reported_cut(
    records: list[tuple[str, bytes]],
) -> None:
    text = capture(records, max_bytes=128)
    got = list(dtaudit.read(io.BytesIO(text.encode())))
    assert len(got) == len(records)
    for g, (name, data) in zip(got, records, strict=True):
        assert g.event == name and g.length == len(data)
        if len(data) <= 128:
            assert g.complete and g.data == data
        else:
            assert not g.complete and g.data == data[:128]
            assert g.reason is not None and "max-bytes (128)" in g.reason
    assert any(not g.complete for g in got) and any(g.complete for g in got)


def test_a_capture_cut_inside_a_record_keeps_the_records_before(
    records: list[tuple[str, bytes]],
) -> None:
    text = capture(records[:5])
    last = text.rindex("bsmtrail-record")
    for cut in (last + 3, last + 40, last + 200, len(text) - 60, len(text) - 30, len(text) - 2):
        got = list(dtaudit.read(io.BytesIO(text[:cut].encode())))
        assert [g.data for g in got[:4]] == [d for _, d in records[:4]]
        assert all(g.complete for g in got[:4])
        if cut > text.index("\n", last):
            # Its record line is whole: the record comes back, whole only when every byte
            # was dumped before the cut (a cut in the last characters column is).
            assert len(got) == 5 and records[4][1].startswith(got[4].data)
            whole = got[4].data == records[4][1]
            body = text.rstrip("\n")
            last_line = body.rsplit("\n", 1)[1]
            in_last_line = len(records[4][1]) % 16 or 16
            hex_end = len(body) - len(last_line) + len(f"     {0:5x}:") + 3 * in_last_line
            assert got[4].complete == whole == (cut >= hex_end)
            if not whole:
                assert got[4].reason == "the capture ends inside this record's dump"
        else:
            assert len(got) == 4


def test_lines_that_are_not_the_scripts_are_skipped_and_counted(
    records: list[tuple[str, bytes]],
) -> None:
    noise = "dtrace: 3 drops on CPU 1\nsomething another clause printed\n\n"
    text = capture(records[:3])
    parts = text.split("bsmtrail-record")
    noisy = parts[0] + noise + "".join("bsmtrail-record" + p + noise for p in parts[1:])
    summary = dtaudit.CaptureSummary()
    got = list(dtaudit.read(io.BytesIO(noisy.encode()), summary=summary))
    assert [g.data for g in got] == [d for _, d in records[:3]] and all(g.complete for g in got)
    assert summary.other_lines == 2 * 4
    # A very long foreign line is skipped without being held.
    long_line = (
        capture(records[:1]) + "x" * 100_000 + "\n" + capture(records[1:2]).split("\n", 1)[1]
    )
    got = list(dtaudit.read(io.BytesIO(long_line.encode())))
    assert [g.data for g in got] == [records[0][1], records[1][1]]


def test_anything_else_is_refused_naming_the_line(tmp_path: Path) -> None:
    for text, message in (
        ("", "empty input"),
        ("hello\n", "line 1: not a bsmtrail dtaudit capture"),
        ("bsmtrail-dtaudit 9 max-bytes=100\n", "capture format 9"),
        ("bsmtrail-dtaudit 1 max-bytes=40000\n", "max-bytes=40000 is outside 1..32767"),
    ):
        with pytest.raises(dtaudit.CaptureFormatError, match=message):
            list(dtaudit.read(io.BytesIO(text.encode())))
    good = capture([("aue_x", bytes(range(40)))])
    bad = good.replace("   10:", "   20:")
    with pytest.raises(dtaudit.CaptureFormatError, match=r"line 5: dump offset 0x20 where 0x10"):
        list(dtaudit.read(io.BytesIO(bad.encode())))
    # More bytes than the record line says (never held past the record's length).
    longer = good.replace("bsmtrail-record aue_x 40", "bsmtrail-record aue_x 20")
    with pytest.raises(dtaudit.CaptureFormatError, match=r"line 5: more bytes dumped"):
        list(dtaudit.read(io.BytesIO(longer.encode())))
    path = tmp_path / "bad.txt"
    path.write_text(bad)
    p = subprocess.run(
        [sys.executable, "-m", "bsmtrail", "print", str(path)], capture_output=True, env=ENV
    )
    assert p.returncode == 2 and b"dump offset 0x20" in p.stderr, p.stderr


NAMES = ["aue_open", "aue_execve", ""]
JUNK = ["dtrace: drops\n", "\n", "   0: 14\n", "bsmtrail-dtaudit 1\n"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["aue_open", "aue_execve", ""]), st.binary(max_size=90)),
        max_size=8,
    ),
    st.integers(min_value=25, max_value=80),
    st.lists(
        st.sampled_from(["dtrace: drops\n", "\n", "   0: 14\n", "bsmtrail-dtaudit 1\n"]), max_size=4
    ),
    st.data(),
)
def test_any_capture_reads_back_what_was_dumped(
    recs: list[tuple[str, bytes]], max_bytes: int, junk: list[str], data: st.DataObject
) -> None:
    """Random records, a random limit, foreign lines between records, and a random cut:
    every record whose dump is whole comes back exactly, the rest flagged, nothing more."""
    text = capture([], max_bytes=max_bytes)
    for name, payload in recs:
        text += capture([(name, payload)], max_bytes=max_bytes).split("\n", 1)[1]
        text += data.draw(st.sampled_from(["", *junk])) if junk else ""
    cut = data.draw(st.integers(min_value=len(text.split("\n", 1)[0]) + 1, max_value=len(text)))
    got = list(dtaudit.read(io.BytesIO(text[:cut].encode())))
    assert len(got) <= len(recs)
    for g, (name, payload) in zip(got, recs, strict=False):
        assert g.event == name and g.length == len(payload)
        assert payload.startswith(g.data) and len(g.data) <= max_bytes
        assert g.complete == (g.data == payload)
    if cut == len(text):
        assert [g.data for g in got] == [p[:max_bytes] for _, p in recs]


def test_every_command_reads_a_capture_like_the_trail(
    records: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    trail = tmp_path / "t.bsm"
    trail.write_bytes(b"".join(d for _, d in records))
    cap = tmp_path / "capture.txt"
    cap.write_text(capture(records))

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [sys.executable, "-m", "bsmtrail", *args], capture_output=True, env=ENV, timeout=120
        )

    for args in (["print", "-n"], ["print", "-xn"], ["verify"], ["summary"]):
        a, b = run(*args, str(trail)), run(*args, str(cap))
        assert a.returncode == b.returncode == 0, b.stderr
        assert a.stdout.replace(str(trail).encode(), b"T") == b.stdout.replace(
            str(cap).encode(), b"T"
        )
    for name in ("a.bsm", "b.bsm"):
        p = run("reduce", "-A", "-w", str(tmp_path / name), str(trail if name == "a.bsm" else cap))
        assert p.returncode == 0, p.stderr
    assert (tmp_path / "b.bsm").read_bytes() == (tmp_path / "a.bsm").read_bytes()
    stats = [json.loads(run("stats", "--json", "-q", str(t)).stdout) for t in (trail, cap)]
    assert stats[0]["records"] == stats[1]["records"] == len(records)
    assert {k: v for k, v in stats[0].items() if k not in ("trails", "input_bytes")} == {
        k: v for k, v in stats[1].items() if k not in ("trails", "input_bytes")
    }
    from_capture = bsmtrail.read_trails(cap).drop_columns(["source"])
    assert from_capture.equals(bsmtrail.read_trails(trail).drop_columns(["source"]))
    # Piped in, too.
    p = subprocess.run(
        [sys.executable, "-m", "bsmtrail", "print", "-n"],
        input=cap.read_bytes(),
        capture_output=True,
        env=ENV,
    )
    assert p.returncode == 0 and p.stdout == run("print", "-n", str(trail)).stdout
    # A record cut by the script's limit is a warning naming its line, and left out.
    cut = tmp_path / "cut.txt"
    cut.write_text(capture(records[:3], max_bytes=50))
    p = run("print", "-n", str(cut))
    assert p.returncode in (0, 1)
    assert b"line 2:" in p.stderr and b"max-bytes (50)" in p.stderr, p.stderr


def test_the_script_is_well_formed() -> None:
    """As far as can be checked without DTrace: balanced braces, known pragmas, four-part
    probe descriptions of the audit provider's bsm probes, printf argument counts equal
    to their conversions, tracemem's static size within the kernel's largest record."""
    text = dtaudit.script(["AUE_EXECVE", "aue_open*"], max_bytes=4096)
    body = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    assert text.startswith("#!/usr/sbin/dtrace -s\n")
    assert body.count("{") == body.count("}") == 2
    pragmas = re.findall(r"^#pragma D option (\w+)(?:=(\S+))?$", body, flags=re.M)
    assert {p for p, _ in pragmas} <= {"quiet", "bufsize", "switchrate", "strsize"}
    clauses = re.findall(r"^([^\s{}#][^{]*?)\s*\{(.*?)\}", body, flags=re.M | re.S)
    assert clauses[0][0].split()[0] == "BEGIN"
    probes = [p.strip() for p in clauses[1][0].split(",")]
    assert probes == ["audit:event:aue_execve:bsm", "audit:event:aue_open*:bsm"]
    for _, statements in clauses:
        for fmt, args in re.findall(r'printf\("((?:[^"\\]|\\.)*)"((?:, [^;]+)?)\);', statements):
            conversions = re.findall(r"%[sd]", fmt)
            assert len(conversions) == (len(args.split(",")) - 1 if args else 0), fmt
    assert re.search(r"tracemem\(args\[2\], 4096, args\[3\]\);", body)
    for bad in (["aue;exec"], ["AUE EXECVE"]):
        with pytest.raises(ValueError, match="not an event name"):
            dtaudit.script(bad)
    with pytest.raises(ValueError, match="max_bytes"):
        dtaudit.script(max_bytes=dtaudit.MAX_RECORD + 1)
    p = subprocess.run(
        [sys.executable, "-m", "bsmtrail", "dtaudit-script", "--event", "AUE_EXECVE"],
        capture_output=True,
        env=ENV,
    )
    assert p.returncode == 0 and p.stdout.decode() == dtaudit.script(["AUE_EXECVE"])
    p = subprocess.run(
        [sys.executable, "-m", "bsmtrail", "dtaudit-script", "--max-bytes", "3"],
        capture_output=True,
        env=ENV,
    )
    assert p.returncode == 2 and b"max_bytes" in p.stderr

"""Streaming input (pipes, sockets, arbitrary chunking) and follow mode.

A writer thread appends records in pieces that split records mid-token; every record must
arrive exactly once, in order, and nothing cut at the current end may be reported as
damage."""

from __future__ import annotations

import io
import os
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

import bsmtrail


def record(i: int) -> bytes:
    text = f"event number {i} with some text".encode() + b"\x00"
    body = struct.pack(">BH", 0x28, len(text)) + text
    body += struct.pack(">BI", 0x2F, i) + struct.pack(">BBI", 0x27, 0, i)
    count = 18 + len(body) + 7
    head = struct.pack(">BIBHHII", 0x14, count, 11, 45000 + i % 30, 0, 1_700_000_000 + i, 0)
    return head + body + struct.pack(">BHI", 0x13, 0xB105, count)


RECORDS = [record(i) for i in range(200)]
DATA = b"".join(RECORDS)


def pieces(data: bytes, sizes: list[int]) -> list[bytes]:
    out, pos, k = [], 0, 0
    while pos < len(data):
        n = sizes[k % len(sizes)]
        out.append(data[pos : pos + n])
        pos += n
        k += 1
    return out


@pytest.mark.parametrize("chunk", [1, 3, 17, 64, 1 << 16])
def test_stream_from_file_object_any_chunking(chunk: int) -> None:
    s = bsmtrail.stream(io.BytesIO(DATA), chunk_size=chunk)
    got = list(s)
    assert [r.raw for r in got] == RECORDS
    assert [r.offset for r in got] == [sum(map(len, RECORDS[:i])) for i in range(200)]
    assert s.damage == []
    assert got[5].tokens[2] == {"type": "seq", "id": 0x2F, "offset": got[5].offset + 51, "seq": 5}


def test_stream_from_a_pipe_written_in_odd_pieces() -> None:
    r, w = os.pipe()

    def writer() -> None:
        with os.fdopen(w, "wb", buffering=0) as f:
            for p in pieces(DATA, [5, 1, 333, 2, 41]):
                f.write(p)

    t = threading.Thread(target=writer)
    t.start()
    with os.fdopen(r, "rb") as f:
        got = [rec.raw for rec in bsmtrail.stream(f)]
    t.join()
    assert got == RECORDS


def test_stream_from_a_socket() -> None:
    a, b = socket.socketpair()

    def writer() -> None:
        with b:
            for p in pieces(DATA, [7, 100, 13]):
                b.sendall(p)

    t = threading.Thread(target=writer)
    t.start()
    with a, a.makefile("rb") as f:
        got = [rec.raw for rec in bsmtrail.stream(f)]
    t.join()
    assert got == RECORDS


def test_stream_reports_damage_and_truncated_tail() -> None:
    data = DATA[:1000] + b"\x00\x01junk" + DATA[1000:] + RECORDS[0][:10]
    s = bsmtrail.stream(io.BytesIO(data), chunk_size=13)
    got = [r.raw for r in s]
    damage = [(d.offset, d.length, d.reason) for d in s.damage]
    # The junk lands inside a record: that record and the junk are one damaged region.
    assert len(got) < len(RECORDS)
    assert set(got) <= set(RECORDS)
    assert damage[-1] == (len(data) - 10, 10, "truncated")
    total = sum(len(r) for r in got) + sum(n for _, n, _ in damage)
    assert total == len(data)


def test_follow_reads_every_record_once_while_the_file_grows(tmp_path: Path) -> None:
    path = tmp_path / "current"
    path.write_bytes(b"")
    done = threading.Event()

    def writer() -> None:
        with path.open("ab", buffering=0) as f:
            for p in pieces(DATA, [23, 5, 97, 1, 250, 11]):
                f.write(p)
                time.sleep(0.001)
        done.set()

    t = threading.Thread(target=writer)
    t.start()
    s = bsmtrail.follow(path, poll_interval=0.01, idle_timeout=2.0, stop=done.is_set)
    got = [r.raw for r in s]
    t.join()
    assert got == RECORDS
    assert s.damage == []


def test_follow_by_trail_and_a_record_cut_at_the_end_is_waited_for(tmp_path: Path) -> None:
    path = tmp_path / "current"
    path.write_bytes(DATA[:150])  # ends inside the third record
    trail = bsmtrail.open(path)
    s = trail.follow(poll_interval=0.01, idle_timeout=1.0)
    it = iter(s)
    first = [next(it).raw for _ in range(2)]
    with path.open("ab") as f:
        f.write(DATA[150:])
    rest = [r.raw for r in it]
    assert first + rest == RECORDS
    assert s.damage == []


def test_follow_continues_across_rotation(tmp_path: Path) -> None:
    path = tmp_path / "current"
    path.write_bytes(DATA[: len(RECORDS[0]) * 0] + b"".join(RECORDS[:50]))
    s = bsmtrail.follow(path, poll_interval=0.01, idle_timeout=1.0)
    it = iter(s)
    got = [next(it).raw for _ in range(50)]
    # auditd rotation: the old file is renamed away, a new one takes the name.
    path.rename(tmp_path / "20240101000000.20240101010000")
    path.write_bytes(b"".join(RECORDS[50:]))
    got += [r.raw for r in it]
    assert got == RECORDS


def test_huge_claimed_record_does_not_raise_memory(tmp_path: Path) -> None:
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    bad = bytearray(RECORDS[0] + bytes(1000))
    bad[1:5] = struct.pack(">I", 0xFFFFFFF0)
    s = bsmtrail.stream(io.BytesIO(bytes(bad) + DATA), chunk_size=100)
    assert [r.raw for r in s] == RECORDS
    assert s.damage[0].offset == 0
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert after - before < 50 * 1024

"""Damaged trails: strict mode raises at the right offset; recover mode returns every
undamaged record (checked record by record) and reports each damaged region.

Records are hand-built with struct (docs/bsm-format.md §1-§4)."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import bsmtrail
from bsmtrail import BSMError


def record(i: int) -> bytes:
    path = f"/var/log/file{i:04d}.log".encode() + b"\x00"
    body = struct.pack(">BH", 0x23, len(path)) + path
    body += struct.pack(">BIIIIIIIII", 0x24, 501, 501, 20, 501, 20, 100 + i, 7, 0, 0x0A000001)
    body += struct.pack(">BI", 0x2F, i)  # sequence token
    body += struct.pack(">BBI", 0x27, 0, 0)
    count = 18 + len(body) + 7
    head = struct.pack(">BIBHHII", 0x14, count, 11, 72, 0, 1_700_000_000 + i, i % 1000)
    return head + body + struct.pack(">BHI", 0x13, 0xB105, count)


RECORDS = [record(i) for i in range(40)]
OFFSETS = [sum(len(r) for r in RECORDS[:i]) for i in range(len(RECORDS))]
CLEAN = b"".join(RECORDS)


def damaged_at(k: int, edit: Callable[[bytes], bytes]) -> bytes:
    """The trail with record k replaced by edit(record k)."""
    return CLEAN[: OFFSETS[k]] + edit(RECORDS[k]) + CLEAN[OFFSETS[k] + len(RECORDS[k]) :]


def recovered(data: bytes) -> tuple[list[bytes], list[bsmtrail.Damage]]:
    trail = bsmtrail.open(data, mode="recover")
    raws = [r.raw for r in trail]
    return raws, trail.damage


def strict_error(data: bytes) -> BSMError:
    with pytest.raises(BSMError) as e:
        list(bsmtrail.open(data))
    return e.value


def test_clean_trail_has_no_damage() -> None:
    raws, damage = recovered(CLEAN)
    assert raws == RECORDS and damage == []
    report = bsmtrail.open(CLEAN).verify()
    assert report.ok and report.records == 40 and report.seq_gaps == []


def test_truncated_tail() -> None:
    data = CLEAN[: OFFSETS[30] + 17]
    assert strict_error(data).offset == OFFSETS[30]
    raws, damage = recovered(data)
    assert raws == RECORDS[:30]
    assert [(d.offset, d.length, d.reason) for d in damage] == [(OFFSETS[30], 17, "truncated")]
    assert bsmtrail.open(data).verify().truncated_tail


@pytest.mark.parametrize("k", [0, 7, 39])
def test_flipped_trailer_byte(k: int) -> None:
    data = damaged_at(k, lambda r: r[:-2] + bytes([r[-2] ^ 0x40]) + r[-1:])
    err = strict_error(data)
    assert (err.offset, err.record_offset, err.reason) == (
        OFFSETS[k] + len(RECORDS[k]) - 4,
        OFFSETS[k],
        "trailer_mismatch",
    )
    raws, damage = recovered(data)
    assert raws == RECORDS[:k] + RECORDS[k + 1 :]
    assert [(d.offset, d.length) for d in damage] == [(OFFSETS[k], len(RECORDS[k]))]


def test_junk_inserted_between_records() -> None:
    junk = b"\x00\x14JUNK\x74\x79\x15" + bytes(range(256))
    data = CLEAN[: OFFSETS[12]] + junk + CLEAN[OFFSETS[12] :]
    err = strict_error(data)
    assert (err.offset, err.reason) == (OFFSETS[12], "not_a_record")
    raws, damage = recovered(data)
    assert raws == RECORDS
    assert [(d.offset, d.length, d.reason) for d in damage] == [
        (OFFSETS[12], len(junk), "not_a_record")
    ]


def test_zero_filled_region_across_records() -> None:
    start, end = OFFSETS[5] + 10, OFFSETS[9] + 3
    data = CLEAN[:start] + bytes(end - start) + CLEAN[end:]
    err = strict_error(data)
    assert err.record_offset == OFFSETS[5]
    raws, damage = recovered(data)
    assert raws == RECORDS[:5] + RECORDS[10:]
    assert [(d.offset, d.offset + d.length) for d in damage] == [(OFFSETS[5], OFFSETS[10])]


@pytest.mark.parametrize("lie", [0, 4, 10, 200, 0xFFFFFFFF])
def test_lying_header_count(lie: int) -> None:
    k = 20
    data = damaged_at(k, lambda r: r[:1] + struct.pack(">I", lie) + r[5:])
    err = strict_error(data)
    assert err.record_offset == OFFSETS[k]
    raws, damage = recovered(data)
    assert raws == RECORDS[:k] + RECORDS[k + 1 :]
    assert [(d.offset, d.length) for d in damage] == [(OFFSETS[k], len(RECORDS[k]))]


def test_lying_string_length_damages_only_its_record() -> None:
    k = 3
    # The path length claims 2000 bytes: the token runs past the record end.
    data = damaged_at(k, lambda r: r[:19] + struct.pack(">H", 2000) + r[21:])
    err = strict_error(data)
    assert (err.offset, err.reason) == (OFFSETS[k] + 21, "truncated")
    raws, damage = recovered(data)
    assert raws == RECORDS[:k] + RECORDS[k + 1 :]
    assert [(d.offset, d.length, d.reason) for d in damage] == [
        (OFFSETS[k], len(RECORDS[k]), "truncated")
    ]


def test_verify_reports_sequence_gap_for_a_removed_record() -> None:
    data = CLEAN[: OFFSETS[8]] + CLEAN[OFFSETS[9] :]
    report = bsmtrail.open(data).verify()
    assert [(e, f) for _, e, f in report.seq_gaps] == [(8, 9)]
    assert not report.ok


def test_verify_cli_exit_status_and_json(tmp_path: Path) -> None:
    good = tmp_path / "good.bsm"
    good.write_bytes(CLEAN)
    bad = tmp_path / "bad.bsm"
    bad.write_bytes(CLEAN[:-5])
    cmd = [sys.executable, "-m", "bsmtrail", "verify"]
    ok = subprocess.run([*cmd, str(good)], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert "OK" in ok.stdout
    res = subprocess.run([*cmd, "--json", str(good), str(bad)], capture_output=True, text=True)
    assert res.returncode == 1
    a, b = (json.loads(line) for line in res.stdout.splitlines())
    assert a["ok"] and a["records"] == 40
    assert not b["ok"] and b["truncated_tail"] and b["records"] == 39
    assert b["damage"][0]["offset"] == OFFSETS[39]

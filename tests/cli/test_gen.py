"""``bsmtrail gen`` as a subprocess, and the generated trails through the reader."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import bsmtrail
from bsmtrail.cli.gen_cmd import parse_size
from bsmtrail.writer import generate_trail


def bsmtrail_cmd() -> list[str]:
    """The installed console script (falls back to ``python -m bsmtrail``)."""
    exe = shutil.which("bsmtrail")
    return [exe] if exe else [sys.executable, "-m", "bsmtrail"]


def gen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*bsmtrail_cmd(), "gen", *args], capture_output=True, text=True, timeout=120
    )


def test_gen_writes_a_valid_trail_with_every_token_type(tmp_path: Path) -> None:
    out = tmp_path / "g.bsm"
    p = gen("--size", "200KB", "--seed", "7", str(out))
    assert p.returncode == 0, p.stderr
    assert p.stdout == ""
    assert "records" in p.stderr and "seed 7" in p.stderr
    data = out.read_bytes()
    assert 200_000 <= len(data) < 240_000
    trail = bsmtrail.open(out)
    scan = trail.scan()
    assert scan.ok, scan.error
    assert scan.file_tokens == 2
    assert set(scan.token_counts) == set(bsmtrail.token_ids().values())
    recs = list(trail)
    assert len(recs) == scan.records > 1000
    assert len({r.event for r in recs}) > 30
    assert {r.header_type for r in recs} == {"header32", "header32_ex", "header64", "header64_ex"}
    names = [f["name"] for f in trail.file_tokens()]
    assert names[0].endswith(".not_terminated") and names[1].startswith("/var/audit/2")

    # Same seed, same bytes; another seed, other bytes.
    again = tmp_path / "again.bsm"
    assert gen("-q", "--size", "200KB", "--seed", "7", str(again)).stderr == ""
    assert again.read_bytes() == data
    other = tmp_path / "other.bsm"
    assert gen("-q", "--size", "200KB", "--seed", "0x8", str(other)).returncode == 0
    assert other.read_bytes() != data


def test_gen_usage_errors(tmp_path: Path) -> None:
    for args in (["--size", "12XB"], ["--seed", "-1"], ["--seed", "abc"], []):
        p = gen(*args, *([str(tmp_path / "x.bsm")] if args else []))
        assert p.returncode == 2, args
    p = gen("--size", "1KB", str(tmp_path / "missing-dir" / "x.bsm"))
    assert p.returncode == 2 and "bsmtrail gen:" in p.stderr and "no such directory" in p.stderr


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1GB", 10**9),
        ("100MB", 10**8),
        ("100M", 10**8),
        ("1.5kb", 1500),
        ("512MiB", 512 * 2**20),
        ("4096", 4096),
        ("2 GiB", 2 * 2**30),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


def test_generate_trail_api(tmp_path: Path) -> None:
    result = generate_trail(tmp_path / "a.bsm", 50_000, seed=3)
    assert result.bytes == (tmp_path / "a.bsm").stat().st_size >= 50_000
    assert result.file_tokens == 2
    assert bsmtrail.open(tmp_path / "a.bsm").scan().records == result.records
    # Generated records round-trip through the writer's dicts byte for byte.
    recs = list(bsmtrail.open(tmp_path / "a.bsm"))
    assert [bsmtrail.writer.encode_record(r.tokens) for r in recs] == [r.raw for r in recs]

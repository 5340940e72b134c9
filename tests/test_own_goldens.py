"""bsmtrail against OpenBSM's own praudit and auditreduce, on trails the project generates.

The goldens in ``tests/data/golden`` were recorded by ``scripts/record_goldens.py`` with
OpenBSM built outside the repository (its ``MANIFEST.json`` lists every case). They need
nothing from ``../shared``, so this suite runs on a fresh clone: every token type (the
first test proves the trails hold them all), every praudit mode, and auditreduce's
criteria, reproduced with ``--variants auditreduce``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest

import bsmtrail
from bsmtrail.cli import main

DATA = Path(__file__).resolve().parent / "data"
GOLDEN = DATA / "golden"
MANIFEST = json.loads((GOLDEN / "MANIFEST.json").read_text())
EVENTS = Path(bsmtrail.__file__).resolve().parent / "data" / "audit_event"
NAMES = ["--events", str(EVENTS), "--passwd", str(DATA / "passwd"), "--group", str(DATA / "group")]


def _trail(name: str) -> Path:
    return bsmtrail.demo_path() if name == "demo.bsm" else DATA / name


def _id(case: dict[str, Any]) -> str:
    return f"{case['trail']}:{' '.join(case['args'])}{' +junk' if 'prefix' in case else ''}"


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    """auditreduce's -a/-b/-d and praudit's times were recorded with TZ=UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_generated_trails_hold_every_token_type() -> None:
    seen: set[int] = set()
    for name in ("gen-1.bsm", "gen-2.bsm"):
        trail = bsmtrail.open(DATA / name)
        for item in trail.items():
            if isinstance(item, bsmtrail.FileToken):
                seen.add(0x11)
                continue
            seen.update(t["id"] for t in item.tokens)
    assert set(bsmtrail.token_ids()) - seen == set()


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize("case", MANIFEST["praudit"], ids=_id)
def test_print_matches_praudit(
    case: dict[str, Any],
    threads: int,
    tmp_path: Path,
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    """Byte for byte on 1, 2 and 4 threads, in runs of about 1,000 input bytes (so the
    workers render many pieces, given back in order)."""
    want = gzip.decompress((GOLDEN / case["golden"]).read_bytes())
    assert hashlib.sha256(want).hexdigest() == case["sha256"]
    trail = _trail(case["trail"])
    if "prefix" in case:
        joined = tmp_path / "joined.bsm"
        joined.write_bytes(bytes.fromhex(case["prefix"]) + trail.read_bytes())
        trail = joined
    parallel = ["--threads", str(threads), "--chunk-size", "997"]
    status = main(["print", *case["args"], "--utc", *NAMES, *parallel, str(trail)])
    got = capsysbinary.readouterr().out
    assert status == 0
    assert got == want


@pytest.mark.parametrize("case", MANIFEST["auditreduce"], ids=_id)
def test_reduce_matches_auditreduce(case: dict[str, Any], tmp_path: Path, utc: None) -> None:
    for threads in ("1", "4"):
        out = tmp_path / f"selected{threads}.bsm"
        args = [*case["args"], "--variants", "auditreduce", *NAMES, "-w", str(out)]
        status = main(["reduce", *args, "--threads", threads, str(_trail(case["trail"]))])
        got = out.read_bytes()
        assert (len(got), hashlib.sha256(got).hexdigest()) == (case["bytes"], case["sha256"])
    # auditreduce stops at the first record it cannot walk; bsmtrail says so with exit 1.
    assert status in (0, 1)

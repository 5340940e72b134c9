"""``convert --format timesketch``: a Timesketch timeline (JSON lines or CSV) with the
columns Timesketch requires on every row, one row per record, in the trail's order."""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import bsmtrail
from bsmtrail.writer import RecordBuilder

#: Timesketch's mandatory columns (its CSV/JSONL importer refuses a timeline without).
MANDATORY = ("message", "datetime", "timestamp", "timestamp_desc")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00$")


def timeline(trail: Path, out: Path, *extra: str) -> list[dict[str, Any]]:
    args = ["convert", str(trail), "--format", "timesketch", "-o", str(out), "-q", *extra]
    res = subprocess.run([sys.executable, "-m", "bsmtrail", *args], capture_output=True, text=True)
    assert res.returncode in (0, 1), res.stderr
    if out.suffix == ".csv":
        with out.open(newline="") as f:
            return list(csv.DictReader(f))
    return [json.loads(line) for line in out.read_text().splitlines()]


@pytest.fixture
def scenario(scenario_trail: Path) -> Path:
    return scenario_trail


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_every_record_is_a_row_with_the_mandatory_columns(
    scenario: Path, tmp_path: Path, suffix: str
) -> None:
    rows = timeline(scenario, tmp_path / f"t{suffix}")
    records = list(bsmtrail.open(scenario))
    assert len(rows) == len(records)
    for row, rec in zip(rows, records, strict=True):
        for c in MANDATORY:
            assert row[c] not in (None, ""), (c, row)
        assert ISO.match(row["datetime"]), row["datetime"]
        when = dt.datetime.fromisoformat(row["datetime"])
        micros = int(row["timestamp"])
        assert micros == round(when.timestamp() * 1_000_000)
        assert micros == (rec.seconds * 1000 + rec.msec) * 1000
        assert int(row["offset"]) == rec.offset
        assert row["source"] == str(scenario)
        assert int(row["event"]) == rec.event


@pytest.mark.parametrize("threads", ["1", "2", "4"])
def test_the_same_timeline_whatever_the_threads(
    scenario: Path, tmp_path: Path, threads: str
) -> None:
    one = (tmp_path / "one.jsonl", tmp_path / f"n{threads}.jsonl")
    a = timeline(scenario, one[0], "--threads", "1", "--batch-size", "5")
    b = timeline(scenario, one[1], "--threads", threads, "--batch-size", "5")
    assert a == b


def test_a_failed_exec_reads_as_a_sentence_with_the_evidence_names(tmp_path: Path) -> None:
    trail = tmp_path / "t.bsm"
    trail.write_bytes(
        RecordBuilder(23, time=(1_700_000_000, 5))
        .path("/usr/bin/sudo")
        .exec_args(["sudo", "-s"])
        .subject(501, euid=501, pid=700, sid=9)
        .return_(13, -1)
        .build()
    )
    passwd = tmp_path / "passwd"
    passwd.write_text("alice:*:501:20::/home/alice:/bin/sh\n")
    (row,) = timeline(trail, tmp_path / "t.jsonl", "--passwd", str(passwd))
    assert row["message"] == "AUE_EXECVE by alice pid 700: /usr/bin/sudo [sudo -s] failed: EACCES"
    assert row["datetime"] == "2023-11-14T22:13:20.005+00:00"
    assert row["timestamp"] == 1_700_000_000_005_000
    assert row["timestamp_desc"] == "Event Recorded"
    assert (row["auid"], row["auid_name"], row["errno"], row["success"]) == (
        501,
        "alice",
        "EACCES",
        False,
    )

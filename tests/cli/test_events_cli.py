"""``bsmtrail events`` and ``bsmtrail classes`` against the OpenBSM tables the package ships
(the files are given explicitly, as a user would give the evidence's)."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import OWN_CLASSES, OWN_EVENTS

BASE = [sys.executable, "-m", "bsmtrail"]
FILES = ["--events", str(OWN_EVENTS), "--audit-class", str(OWN_CLASSES)]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BASE, *args, *FILES], capture_output=True, text=True)


def _event_lines() -> list[list[str]]:
    lines = (OWN_EVENTS).read_text().splitlines()
    return [ln.split(":") for ln in lines if ln and not ln.startswith("#")]


def test_every_event_is_listed_with_its_fields() -> None:
    res = run("events", "--json")
    assert res.returncode == 0
    got = json.loads(res.stdout)
    want = _event_lines()
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert (str(g["number"]), g["name"], g["description"]) == (w[0], w[1], w[2])
        assert ",".join(g["classes"]) == w[3]


def test_lookup_by_number_name_class_and_text() -> None:
    res = run("events", "23", "AUE_OPEN_R")
    assert res.returncode == 0
    rows = res.stdout.splitlines()
    assert rows[1].split()[:2] == ["23", "AUE_EXECVE"]
    assert rows[2].split()[:2] == ["72", "AUE_OPEN_R"]
    lo = json.loads(run("events", "--class", "lo", "--json").stdout)
    want_lo = [w for w in _event_lines() if "lo" in w[3].split(",")]
    assert [e["name"] for e in lo] == [w[1] for w in want_lo]
    found = json.loads(run("events", "--search", "PASSWD", "--json").stdout)
    assert found and all("passwd" in (e["name"] + e["description"]).lower() for e in found)


def test_unknown_queries_exit_2() -> None:
    assert run("events", "AUE_NOPE").returncode == 2
    assert run("events", "--class", "zz").returncode == 2
    assert run("classes", "--flags", "lo,bogus").returncode == 2


def test_classes_and_flags() -> None:
    got = json.loads(run("classes", "--json").stdout)
    lines = [
        ln.split(":")
        for ln in (OWN_CLASSES).read_text().splitlines()
        if ln and not ln.startswith("#")
    ]
    assert [(c["name"], c["mask"]) for c in got] == [(w[1], int(w[0], 16)) for w in lines]
    res = json.loads(run("classes", "--flags", "lo,+ex,-fr,^fw", "--json").stdout)
    assert (res["success"], res["failure"]) == (0x40001000, 0x00001001)

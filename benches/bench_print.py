"""``print -l`` throughput (praudit-compatible text rendering, Rust, GIL released) on a
trail of at least 100 MB made by concatenating the shared real trails.

Reproduce with ``pytest benches/bench_print.py --benchmark-only``; figures go in
BENCHMARKS.md with the trail and build."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import bsmtrail
from bsmtrail.render import Renderer
from conftest import ROOT, report

ETC = ROOT.parent / "shared" / "data" / "etc"
TABLES: dict[str, Any] = {
    "events": ETC / "audit_event",
    "users": ETC / "passwd",
    "groups": ETC / "group",
}


def _records(path: Path) -> int:
    return int(bsmtrail.open(path).scan(decode=False).records)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("l", {"oneline": True}),
        ("default", {}),
        ("x", {"xml": True}),
        ("rl", {"oneline": True, "raw": True}),
    ],
)
def test_render_api(
    benchmark: Any, concat_trail: Callable[[int], Path], name: str, options: dict[str, Any]
) -> None:
    path = concat_trail(128)
    renderer = Renderer(**options, **TABLES)
    with open(os.devnull, "wb") as sink:

        def run() -> int:
            n = 0
            for chunk in renderer.chunks(path):
                n += len(chunk)
                sink.write(chunk)
            return n

        produced = benchmark.pedantic(run, rounds=3, iterations=1)
    assert produced > path.stat().st_size
    benchmark.extra_info["output_bytes"] = produced
    report(benchmark, path.stat().st_size, _records(path))


def test_print_l_cli(benchmark: Any, concat_trail: Callable[[int], Path]) -> None:
    """The whole command, process start included: ``bsmtrail print -l trail > /dev/null``."""
    path = concat_trail(128)
    cmd = [sys.executable, "-m", "bsmtrail", "print", "-l", "--events", str(TABLES["events"])]
    cmd += ["--passwd", str(TABLES["users"]), "--group", str(TABLES["groups"]), str(path)]

    def run() -> None:
        with open(os.devnull, "wb") as sink:
            subprocess.run(cmd, stdout=sink, check=True)

    benchmark.pedantic(run, rounds=3, iterations=1)
    report(benchmark, path.stat().st_size, _records(path))

"""Generated trails through OpenBSM's own praudit, when one is available: its output must
be byte-identical to ``bsmtrail print`` in every mode. This checks the generator (real
praudit reads every record it writes) and the renderer on far more varied records than
the shared trails hold.

Skipped unless ``BSMTRAIL_PRAUDIT`` names a praudit binary or ``praudit`` is on PATH. To
build one (no autotools needed, the release tree ships ``configure``)::

    git clone https://github.com/openbsm/openbsm && cd openbsm
    ./configure && make -C libbsm && make -C bin/praudit
    export BSMTRAIL_PRAUDIT=$PWD/bin/praudit/praudit
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bsmtrail.writer import generate_trail

PRAUDIT = os.environ.get("BSMTRAIL_PRAUDIT") or shutil.which("praudit")

pytestmark = pytest.mark.skipif(
    PRAUDIT is None, reason="no OpenBSM praudit (set BSMTRAIL_PRAUDIT=/path/to/praudit)"
)

#: praudit reads the host's event table, users and groups; bsmtrail is given the same.
SYSTEM_EVENTS = Path("/etc/security/audit_event")


@pytest.fixture(scope="module")
def trails(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    out = tmp_path_factory.mktemp("gen")
    paths = []
    for seed in (1, 2, 3):
        p = out / f"gen-{seed}.bsm"
        generate_trail(p, 300_000, seed)
        paths.append(p)
    return paths


@pytest.mark.parametrize("mode", [["-l"], ["-ln"], ["-rl"], ["-sl"], [], ["-x"], ["-l", "-d", "|"]])
def test_praudit_output_identical(trails: list[Path], mode: list[str], tmp_path: Path) -> None:
    assert PRAUDIT is not None
    events = SYSTEM_EVENTS if SYSTEM_EVENTS.exists() else tmp_path / "no-events"
    events.touch(exist_ok=True)
    env = {**os.environ, "TZ": "UTC"}
    for trail in trails:
        want = subprocess.run(
            [PRAUDIT, *mode, str(trail)], capture_output=True, env=env, check=True, timeout=300
        ).stdout
        got = subprocess.run(
            [
                sys.executable,
                "-m",
                "bsmtrail",
                "print",
                *mode,
                "--events",
                str(events),
                "--passwd",
                "/etc/passwd",
                "--group",
                "/etc/group",
                str(trail),
            ],
            capture_output=True,
            env=env,
            check=True,
            timeout=300,
        ).stdout
        assert got == want, f"{trail.name} {mode}"

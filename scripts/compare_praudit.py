#!/usr/bin/env python3
"""Compare ``bsmtrail print`` with a real OpenBSM praudit on generated trails, in every mode.

praudit is not installed on the project's machines, so this is a manual cross-check rather
than a test: run it wherever an OpenBSM praudit binary exists (a FreeBSD host, a
distribution package), pointing ``--praudit`` (or ``$BSMTRAIL_PRAUDIT``) at it. It writes
three seeded trails with bsmtrail's generator, renders each with both tools in the golden
modes (TZ=UTC, the same event, user and group files), and reports every difference; exit
status 1 if any.

    python scripts/compare_praudit.py --praudit /usr/sbin/praudit
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bsmtrail.writer import generate_trail

MODES = [["-l"], ["-ln"], ["-rl"], ["-sl"], [], ["-x"], ["-l", "-d", "|"]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--praudit", default=os.environ.get("BSMTRAIL_PRAUDIT", "praudit"))
    ap.add_argument(
        "--events",
        default="/etc/security/audit_event",
        help="the audit_event file praudit reads (bsmtrail is given the same)",
    )
    ap.add_argument("--size", type=int, default=300_000, help="bytes per generated trail")
    args = ap.parse_args()
    env = {**os.environ, "TZ": "UTC"}
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for seed in (1, 2, 3):
            trail = Path(tmp) / f"gen-{seed}.bsm"
            generate_trail(trail, args.size, seed)
            for mode in MODES:
                want = subprocess.run(
                    [args.praudit, *mode, str(trail)], capture_output=True, env=env, check=True
                ).stdout
                names = [
                    "--events",
                    args.events,
                    "--passwd",
                    "/etc/passwd",
                    "--group",
                    "/etc/group",
                ]
                got = subprocess.run(
                    [sys.executable, "-m", "bsmtrail", "print", *mode, *names, str(trail)],
                    capture_output=True,
                    env=env,
                    check=True,
                ).stdout
                same = got == want
                failures += not same
                print(
                    f"seed {seed} {' '.join(mode) or 'default':8} {'same' if same else 'DIFFERENT'}"
                )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

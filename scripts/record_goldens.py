#!/usr/bin/env python3
"""Record OpenBSM praudit's and auditreduce's output for trails bsmtrail generates, as the
project's own goldens (``tests/data/golden``), so the test suite checks every token, every
praudit mode and auditreduce's criteria on a fresh clone, without ``../shared``.

OpenBSM is not part of the project: build it outside the repository (its ``configure &&
make`` builds libbsm, ``bin/praudit`` and ``bin/auditreduce`` on Linux) and point this
script at the two programs. praudit names users, groups and events from the machine it
runs on, so each run happens in a private mount namespace (``unshare -m``, as root) where
``tests/data/passwd``, ``tests/data/group`` and the package's ``audit_event`` and
``audit_class`` are bound over this machine's (``/etc``, ``/etc/security``); the tests give
bsmtrail the same files. Times are rendered with ``TZ=UTC``.

    sudo python3 scripts/record_goldens.py \\
        --praudit ~/openbsm/bin/praudit/praudit --auditreduce ~/openbsm/bin/auditreduce/auditreduce

It writes the trails (``tests/data/gen-*.bsm``), one gzip-compressed golden per praudit
case and ``MANIFEST.json`` (cases, arguments, sizes and SHA-256 of every output; for
auditreduce only the SHA-256 and size of the selected trail).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

from bsmtrail import demo_path
from bsmtrail.writer import generate_trail

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
GOLDEN = DATA / "golden"
EVENTS = ROOT / "python" / "bsmtrail" / "data" / "audit_event"
CLASSES = ROOT / "python" / "bsmtrail" / "data" / "audit_class"

#: (trail file, generator size, seed). 70 kB of seed 1 holds every token type bsmtrail
#: decodes (the generator's promise from 64 kB); seed 2 is a second mix.
TRAILS = [("gen-1.bsm", 70_000, 1), ("gen-2.bsm", 20_000, 2)]
#: Bytes put before a trail for the -p case (praudit skips to the first 0x14 byte).
JUNK = b"junk\x00\x01\x02"

#: praudit's modes: every option alone and the usual combinations.
PRAUDIT_MODES: list[list[str]] = [
    [],
    ["-l"],
    ["-n"],
    ["-ln"],
    ["-r"],
    ["-rl"],
    ["-s"],
    ["-sl"],
    ["-x"],
    ["-xn"],
    ["-xl"],
    ["-l", "-d", "|"],
    ["-d", ";"],
]

#: auditreduce criteria (TZ=UTC for -a/-b/-d). bsmtrail reproduces them with
#: ``--variants auditreduce``.
REDUCE_CASES: list[list[str]] = [
    ["-A"],
    ["-m", "AUE_EXECVE"],
    ["-m", "23", "-m", "AUE_OPEN_R"],
    ["-c", "lo"],
    ["-c", "-lo"],
    ["-c", "+fr,-fw"],
    ["-c", "ex,ad"],
    ["-u", "alice"],
    ["-u", "501"],
    ["-e", "0"],
    ["-r", "bob"],
    ["-f", "staff"],
    ["-g", "0"],
    ["-j", "1740"],
    ["-a", "20231201220850", "-b", "20231201220900"],
    ["-a", "20231114221400"],
    ["-d", "20231201"],
    ["-d", "20231114"],
    ["-o", "file=/etc"],
    ["-o", "file=~/tmp,/"],
    ["-z", "*"],
    ["-v", "-c", "fr"],
]


def _namespace_cmd(argv: list[str]) -> list[str]:
    """``argv`` run in a private mount namespace with the test passwd, group and
    audit_event bound over this machine's."""
    binds = [
        (DATA / "passwd", "/etc/passwd"),
        (DATA / "group", "/etc/group"),
    ]
    binds += [(EVENTS, "/etc/security/audit_event"), (CLASSES, "/etc/security/audit_class")]
    # A tmpfs over /etc/security (visible in this namespace only) holds the mount points,
    # so nothing is created on the machine itself.
    script = "set -e; mkdir -p /etc/security; mount -t tmpfs tmpfs /etc/security; "
    script += "touch /etc/security/audit_event /etc/security/audit_class; "
    script += "".join(f"mount --bind {shlex.quote(str(s))} {d}; " for s, d in binds)
    script += "exec " + " ".join(shlex.quote(a) for a in argv)
    return ["unshare", "-m", "sh", "-c", script]


def _run(argv: list[str], stdin: bytes | None = None) -> bytes:
    env = {**os.environ, "TZ": "UTC"}
    p = subprocess.run(_namespace_cmd(argv), input=stdin, capture_output=True, env=env)
    if p.returncode not in (0, 1):  # praudit exits 1 on stdin input and some errors
        sys.exit(f"{argv}: exit {p.returncode}: {p.stderr.decode(errors='replace')}")
    return p.stdout


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--praudit", required=True)
    ap.add_argument("--auditreduce", required=True)
    args = ap.parse_args()
    GOLDEN.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, list[dict[str, object]]] = {"praudit": [], "auditreduce": []}
    trails = []
    for name, size, seed in TRAILS:
        path = DATA / name
        generate_trail(path, size, seed)
        trails.append(path)
    trails.append(demo_path())  # the package's own demo trail ("demo.bsm" in the manifest)
    with tempfile.TemporaryDirectory() as tmp:
        for trail in trails:
            for mode in PRAUDIT_MODES:
                out = _run([args.praudit, *mode, str(trail)])
                stem = f"{trail.stem}.praudit{''.join(mode).replace('|', 'pipe')}"
                stem = stem.replace(";", "semicolon")
                (GOLDEN / f"{stem}.txt.gz").write_bytes(gzip.compress(out, mtime=0))
                manifest["praudit"].append(
                    {
                        "trail": trail.name,
                        "args": mode,
                        "golden": f"{stem}.txt.gz",
                        "sha256": _sha(out),
                        "bytes": len(out),
                    }
                )
        # -p: praudit skips what comes before the first 0x14 byte (a pipe joined mid-way).
        junked = Path(tmp) / "junk.bsm"
        junked.write_bytes(JUNK + (DATA / "gen-2.bsm").read_bytes())
        for mode in (["-p", "-l"], ["-p"]):
            out = _run([args.praudit, *mode, str(junked)])
            stem = f"gen-2-junk.praudit{''.join(mode)}"
            (GOLDEN / f"{stem}.txt.gz").write_bytes(gzip.compress(out, mtime=0))
            manifest["praudit"].append(
                {
                    "trail": "gen-2.bsm",
                    "prefix": JUNK.hex(),
                    "args": mode,
                    "golden": f"{stem}.txt.gz",
                    "sha256": _sha(out),
                    "bytes": len(out),
                }
            )
        for trail in trails:
            for crit in REDUCE_CASES:
                out = _run([args.auditreduce, *crit, str(trail)])
                manifest["auditreduce"].append(
                    {
                        "trail": trail.name,
                        "args": crit,
                        "sha256": _sha(out),
                        "bytes": len(out),
                    }
                )
    (GOLDEN / "MANIFEST.json").write_text(json.dumps(manifest, indent=1) + "\n")
    n = len(manifest["praudit"]) + len(manifest["auditreduce"])
    print(f"recorded {n} cases in {GOLDEN}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Whole commands against ``md5sum`` of the same trail, side by side in one run.

Each command runs ``--repeat`` times, interleaved with ``md5sum`` of the same file (the
file is in the page cache after the first read, for both); the table gives the median
wall time, MB/s, the ratio to md5sum's median in the same run (higher is faster), CPU
time and peak RSS (``/usr/bin/time``). Figures for BENCHMARKS.md come from here, with the
command line, the machine load (printed) and the commit.

    python scripts/bench_commands.py TRAIL [TRAIL ...] [--repeat 3] [--only convert,print-l]
    python scripts/bench_commands.py --small TRAIL     # every subcommand on a tiny trail

``--auditreduce``/``--praudit`` add OpenBSM's tools (built outside the repository) to the
rows they compare with.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

OUT = Path(tempfile.gettempdir()) / "bsmtrail-bench-out"


def commands(trail: str) -> dict[str, list[str]]:
    o = str(OUT)
    return {
        "convert": ["bsmtrail", "convert", "-q", trail, "-o", f"{o}.parquet"],
        "convert-lz4": [
            "bsmtrail",
            "convert",
            "-q",
            trail,
            "-o",
            f"{o}.parquet",
            "--compression",
            "lz4",
        ],
        "convert-feather": ["bsmtrail", "convert", "-q", trail, "-o", f"{o}.arrow"],
        "convert-csv": ["bsmtrail", "convert", "-q", trail, "-o", f"{o}.csv"],
        "convert-jsonl": ["bsmtrail", "convert", "-q", trail, "-o", f"{o}.jsonl"],
        "print-l": ["bsmtrail", "print", "-ln", trail],
        "print-x": ["bsmtrail", "print", "-xn", trail],
        "stats": ["bsmtrail", "stats", "--json", "-q", trail],
        "verify": ["bsmtrail", "verify", "-q", trail],
        "reduce-m": ["bsmtrail", "reduce", "-m", "AUE_EXECVE", trail],
        "reduce-A": ["bsmtrail", "reduce", "--variants", "auditreduce", "-A", trail],
    }


def small(trail: str) -> dict[str, list[str]]:
    o = str(OUT)
    return {
        "print": ["bsmtrail", "print", "-n", trail],
        "summary": ["bsmtrail", "summary", trail],
        "verify": ["bsmtrail", "verify", "-q", trail],
        "reduce": ["bsmtrail", "reduce", "-m", "AUE_EXECVE", trail],
        "convert": ["bsmtrail", "convert", "-q", trail, "-o", f"{o}.parquet"],
        "convert-jsonl": ["bsmtrail", "convert", "-q", trail, "-o", f"{o}.jsonl"],
        "stats": ["bsmtrail", "stats", "--json", "-q", trail],
        "python -c pass": [sys.executable, "-c", "pass"],
    }


def measure(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """(wall s, user+sys s, peak RSS KB) of one run, output to /dev/null."""
    with open(os.devnull, "wb") as null:
        p = subprocess.run(
            ["/usr/bin/time", "-f", "%e %U %S %M", *cmd],
            stdout=null,
            stderr=subprocess.PIPE,
            env=env,
            check=False,
        )
    wall, user, sys_, rss = p.stderr.decode().strip().splitlines()[-1].split()
    return float(wall), float(user) + float(sys_), int(rss)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trails", nargs="+")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--only", help="comma-separated command names")
    ap.add_argument("--small", action="store_true", help="the subcommands on a tiny trail")
    ap.add_argument("--auditreduce", help="OpenBSM auditreduce binary")
    ap.add_argument("--praudit", help="OpenBSM praudit binary")
    args = ap.parse_args()
    env = dict(os.environ)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for trail in args.trails:
        mb = os.path.getsize(trail) / 1e6
        table = small(trail) if args.small else commands(trail)
        if args.auditreduce:
            table["auditreduce -m"] = [args.auditreduce, "-m", "AUE_EXECVE", trail]
            table["auditreduce -A"] = [args.auditreduce, "-A", trail]
        if args.praudit:
            table["praudit -ln"] = [args.praudit, "-ln", trail]
        if args.only:
            keep = set(args.only.split(","))
            table = {k: v for k, v in table.items() if k in keep}
        print(f"\n{trail}: {mb:,.1f} MB")
        print(
            f"| command | wall (median of {args.repeat}) | MB/s | x md5sum | CPU s | peak RSS MB |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        md5: list[float] = []
        for name, cmd in table.items():
            runs = []
            for _ in range(args.repeat):
                md5.append(measure(["md5sum", trail], env)[0])
                runs.append(measure(cmd, env))
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            rss = max(r[2] for r in runs) / 1024
            base = statistics.median(md5[-args.repeat :])
            ratio = base / max(wall, 0.005)
            print(
                f"| {name} | {wall:.2f} s | {mb / max(wall, 0.005):,.0f} | {ratio:.2f}x "
                f"| {cpu:.2f} | {rss:,.0f} |"
            )
        m = statistics.median(md5)
        print(f"| md5sum (all runs) | {m:.2f} s | {mb / max(m, 0.005):,.0f} | 1.00x | | |")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

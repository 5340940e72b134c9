"""Every shared trail in every praudit mode, byte for byte against OpenBSM praudit's output
(``../shared/data/golden``), through the Python API and the installed CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bsmtrail.render import Renderer, render

#: golden mode -> (Renderer options, praudit flags)
MODES: dict[str, tuple[dict[str, object], list[str]]] = {
    "default": ({}, []),
    "l": ({"oneline": True}, ["-l"]),
    "n": ({"numeric": True}, ["-n"]),
    "ln": ({"oneline": True, "numeric": True}, ["-l", "-n"]),
    "rl": ({"oneline": True, "raw": True}, ["-rl"]),
    "sl": ({"oneline": True, "short": True}, ["-sl"]),
    "x": ({"xml": True}, ["-x"]),
    "l-pipe": ({"oneline": True, "delimiter": "|"}, ["-l", "-d", "|"]),
}
TRAILS = ["apple", "openbsm", "execve-long-args", "reference-all"]
CASES = [(t, m) for t in TRAILS for m in MODES]


def _tables(etc: Path) -> dict[str, object]:
    return {
        "events": etc / "audit_event",
        "users": etc / "passwd",
        "groups": etc / "group",
        "utc": True,
    }


@pytest.mark.parametrize(("trail", "mode"), CASES)
def test_api_matches_praudit(
    trail: str, mode: str, shared_trails: dict[str, Path], golden_dir: Path, etc_dir: Path
) -> None:
    options, _ = MODES[mode]
    got = render(shared_trails[trail], **options, **_tables(etc_dir))
    assert got == (golden_dir / f"{trail}.{mode}.txt").read_bytes()


@pytest.mark.parametrize("threads", [1, 2, 4])
@pytest.mark.parametrize(("trail", "mode"), CASES)
def test_chunked_matches_praudit(
    trail: str,
    mode: str,
    threads: int,
    shared_trails: dict[str, Path],
    golden_dir: Path,
    etc_dir: Path,
) -> None:
    """Tiny chunks rendered on 1, 2 or 4 threads, and the stream interface, give the same
    bytes as one piece."""
    options, _ = MODES[mode]
    r = Renderer(**options, **_tables(etc_dir))  # type: ignore[arg-type]
    data = shared_trails[trail].read_bytes()
    golden = (golden_dir / f"{trail}.{mode}.txt").read_bytes()
    prologue = b"<?xml version='1.0' ?>\n<audit>\n" if options.get("xml") else b""
    epilogue = b"</audit>\n" if options.get("xml") else b""
    body = b"".join(r.chunks(data, chunk_size=1, threads=threads))
    assert prologue + body + epilogue == golden
    stream = r.stream()
    fed = b"".join(stream.feed(data[i : i + 7]) for i in range(0, len(data), 7))
    assert prologue + fed + epilogue == golden


@pytest.mark.parametrize(("trail", "mode"), CASES)
def test_cli_matches_praudit(
    trail: str, mode: str, shared_trails: dict[str, Path], golden_dir: Path, etc_dir: Path
) -> None:
    _, flags = MODES[mode]
    cmd = [
        sys.executable,
        "-m",
        "bsmtrail",
        "print",
        *flags,
        "--events",
        str(etc_dir / "audit_event"),
        "--passwd",
        str(etc_dir / "passwd"),
        "--group",
        str(etc_dir / "group"),
        str(shared_trails[trail]),
    ]
    env = {**os.environ, "TZ": "UTC"}
    proc = subprocess.run(cmd, capture_output=True, env=env, check=False)
    assert proc.stderr == b""
    assert proc.returncode == 0
    assert proc.stdout == (golden_dir / f"{trail}.{mode}.txt").read_bytes()

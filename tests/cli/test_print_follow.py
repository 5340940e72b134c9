"""``bsmtrail print -f``: a trail written in pieces (records split mid-token) while it is
followed prints exactly what printing the finished file prints, every record once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import TRAILS

CMD = [sys.executable, "-m", "bsmtrail", "print", "-l", "-n", "--utc"]
ENV = {**os.environ, "TZ": "UTC"}


def _write_in_pieces(path: Path, data: bytes, sizes: list[int], delay: float) -> None:
    with path.open("ab", buffering=0) as f:
        pos, k = 0, 0
        while pos < len(data):
            n = sizes[k % len(sizes)]
            f.write(data[pos : pos + n])
            pos += n
            k += 1
            time.sleep(delay)


@pytest.mark.conformance
def test_follow_prints_every_record_once(tmp_path: Path) -> None:
    data = (TRAILS / "apple.bsm").read_bytes() + (TRAILS / "openbsm.bsm").read_bytes()
    path = tmp_path / "current"
    path.write_bytes(b"")
    proc = subprocess.Popen(
        [*CMD, "-f", "--poll", "0.01", "--idle-timeout", "1.5", str(path)],
        stdout=subprocess.PIPE,
        env=ENV,
    )
    writer = threading.Thread(target=_write_in_pieces, args=(path, data, [7, 1, 90, 3], 0.002))
    writer.start()
    writer.join()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    whole = subprocess.run([*CMD, str(path)], capture_output=True, env=ENV, check=True).stdout
    assert out == whole
    assert out.count(b"\n") == 104


@pytest.mark.conformance
def test_follow_survives_rotation(tmp_path: Path) -> None:
    apple = (TRAILS / "apple.bsm").read_bytes()
    path = tmp_path / "current"
    path.write_bytes(apple)
    proc = subprocess.Popen(
        [*CMD, "-f", "--poll", "0.01", "--idle-timeout", "1.5", str(path)],
        stdout=subprocess.PIPE,
        env=ENV,
    )
    time.sleep(0.5)
    path.rename(tmp_path / "20131104171720.20131104183000")
    path.write_bytes(apple[:1000])
    time.sleep(0.2)
    with path.open("ab") as f:
        f.write(apple[1000:])
    out, _ = proc.communicate(timeout=60)
    assert out.count(b"\n") == 2 * 54


def test_follow_needs_exactly_one_file(tmp_path: Path) -> None:
    res = subprocess.run([*CMD, "-f"], capture_output=True, env=ENV)
    assert res.returncode == 2
    res = subprocess.run([*CMD, "-f", "a", "b"], capture_output=True, env=ENV)
    assert res.returncode == 2

"""Shared test fixtures. The reference material lives in ../shared (beside the repository)
and is never copied in; tests fail loudly, never skip, when it is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
TRAILS = SHARED / "trails"
GOLDEN = SHARED / "golden"
ETC = SHARED / "etc"

#: The four shared trails that have praudit goldens, by golden stem.
SHARED_TRAILS = {
    "apple": TRAILS / "apple.bsm",
    "openbsm": TRAILS / "openbsm.bsm",
    "execve-long-args": TRAILS / "execve-long-args.trail",
    "reference-all": TRAILS / "reference-all.bsm",
}


def _require(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(
            f"shared reference material missing: {path} (expected ../shared beside the repo)"
        )
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return _require(SHARED)


@pytest.fixture(scope="session")
def shared_trails() -> dict[str, Path]:
    return {name: _require(p) for name, p in SHARED_TRAILS.items()}


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    return _require(GOLDEN)


@pytest.fixture(scope="session")
def etc_dir() -> Path:
    return _require(ETC)

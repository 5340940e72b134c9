"""Shared test fixtures.

Two suites live here. The project's own (hand-built vectors, trails the project
generates, praudit and auditreduce output recorded for them under ``tests/data``) runs
everywhere, on a fresh clone. The conformance suite runs against the reference material in
``../shared`` (real trails from other projects, OpenBSM's goldens), never copied in: its
tests are those that use the fixtures below or carry the ``conformance`` mark. When
``../shared`` is missing they are not run, and the run ends by saying so in one line;
with ``BSMTRAIL_REQUIRE_SHARED=1`` (CI sets it) a missing ``../shared`` fails the run
instead. ``BSMTRAIL_SHARED`` names another place for it (a missing one shows what a fresh
clone sees).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_ROOT = Path(os.environ.get("BSMTRAIL_SHARED", ROOT.parent / "shared"))
SHARED = SHARED_ROOT / "data"
TRAILS = SHARED / "trails"
GOLDEN = SHARED / "golden"
ETC = SHARED / "etc"
#: The project's own test data (generated trails, goldens recorded for them).
DATA = Path(__file__).resolve().parent / "data"
#: The files those goldens were recorded with: the package's audit_event and
#: audit_class, and the generated trails' machine's passwd and group.
OWN_EVENTS = ROOT / "python" / "bsmtrail" / "data" / "audit_event"
OWN_CLASSES = ROOT / "python" / "bsmtrail" / "data" / "audit_class"
OWN_PASSWD = DATA / "passwd"
OWN_GROUP = DATA / "group"

#: The four shared trails that have praudit goldens, by golden stem.
SHARED_TRAILS = {
    "apple": TRAILS / "apple.bsm",
    "openbsm": TRAILS / "openbsm.bsm",
    "execve-long-args": TRAILS / "execve-long-args.trail",
    "reference-all": TRAILS / "reference-all.bsm",
}

HAVE_SHARED = SHARED.is_dir()
REQUIRE_SHARED = os.environ.get("BSMTRAIL_REQUIRE_SHARED") == "1"
#: Fixtures that hand out ../shared: a test using one is a conformance test.
SHARED_FIXTURES = frozenset({"shared_data", "shared_trails", "golden_dir", "etc_dir"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "conformance: needs the shared reference material in ../shared"
    )
    if REQUIRE_SHARED and not HAVE_SHARED:
        raise pytest.UsageError(
            f"BSMTRAIL_REQUIRE_SHARED=1 but the shared reference material is missing: {SHARED}"
        )


def _is_conformance(item: pytest.Item) -> bool:
    names = set(getattr(item, "fixturenames", ()))
    return bool(names & SHARED_FIXTURES) or item.get_closest_marker("conformance") is not None


_NOT_RUN: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if HAVE_SHARED:
        return
    kept, dropped = [], []
    for item in items:
        (dropped if _is_conformance(item) else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
        _NOT_RUN.append(
            f"conformance suite not run: {len(dropped)} tests need the shared reference "
            f"material, and {SHARED} does not exist (CI requires it: BSMTRAIL_REQUIRE_SHARED=1)"
        )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _NOT_RUN:
        terminalreporter.write_line(line, yellow=True, bold=True)


def drain_terminal(master: int, deadline: float | None = None) -> bytes:
    """Everything written to a pseudo-terminal's other side until every process closed it
    (or ``deadline``, a ``time.monotonic()`` value, passed); closes ``master``."""
    import select
    import time

    out = bytearray()
    while deadline is None or time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if not ready:
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    return bytes(out)


def shared_params(load: Callable[[], list[Any]], width: int = 1) -> list[Any]:
    """Test parameters read from ../shared while collecting: ``load()`` when it exists,
    else one placeholder marked ``conformance`` (deselected and reported like the rest)."""
    if HAVE_SHARED:
        return load()
    return [pytest.param(*([None] * width), marks=pytest.mark.conformance, id="needs-shared")]


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


@pytest.fixture(scope="session")
def scenario_trail(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A machine's life as a trail (``bsmtrail.scenario``, seed 3): every kind of record
    the exporters map, written once for the run."""
    from bsmtrail.scenario import write_scenario

    path = tmp_path_factory.mktemp("scenario") / "scenario.bsm"
    write_scenario(path, 3)
    return path


# -- the record shapes' tests (OCSF, ECS) ---------------------------------------------------


def convert_lines(
    trail: Path, tmp: Path, fmt: str, *extra: str, label: str | None = None
) -> list[dict[str, Any]]:
    """``bsmtrail convert --format FMT``'s JSON lines, parsed (exit 0, or 1 for a
    damaged input); with ``label``, the trail is given as ``--label LABEL=TRAIL``."""
    out = tmp / f"{trail.name}.{fmt}.jsonl"
    given = [f"--label={label}={trail}"] if label else [str(trail)]
    args = ["convert", *given, "--format", fmt, "-o", str(out), "-q", *extra]
    res = subprocess.run([sys.executable, "-m", "bsmtrail", *args], capture_output=True, text=True)
    assert res.returncode in (0, 1), res.stderr
    return [json.loads(line) for line in out.read_text().splitlines()]


def convert_cases(
    builders: list[Any], tmp: Path, fmt: str
) -> tuple[Path, list[int], list[dict[str, Any]]]:
    """Built records one after another in one trail, converted once: the trail, each
    record's offset, the lines."""
    records = [b.build() for b in builders]
    offsets = [sum(map(len, records[:i])) for i in range(len(records))]
    trail = tmp / "hand.bsm"
    trail.write_bytes(b"".join(records))
    return trail, offsets, convert_lines(trail, tmp, fmt)


def assert_has(doc: dict[str, Any], want: dict[str, Any]) -> None:
    """Every dotted key path of ``want`` has that value in ``doc`` (None: absent)."""
    for path, value in want.items():
        node: Any = doc
        for key in path.split("."):
            node = node.get(key) if isinstance(node, dict) else None
        assert node == value, (path, node, doc)


def sparse(v: Any) -> Any:
    """An Arrow row as the JSON lines write it: null members left out."""
    if isinstance(v, dict):
        return {k: sparse(x) for k, x in v.items() if x is not None}
    return [sparse(x) for x in v] if isinstance(v, list) else v

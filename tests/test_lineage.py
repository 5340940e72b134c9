"""The sessions and processes views (``bsmtrail.lineage``) against the truth of trails
written by ``bsmtrail.scenario`` (every session, every parent link, every exec in
order), against praudit's output for the shared real trails, through labelled and
rotated inputs, threads, damage, random record sequences, and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bsmtrail
from bsmtrail.lineage import iter_processes, lineage, processes, sessions, tree_lines
from bsmtrail.scenario import Truth, write_scenario
from bsmtrail.select import selection
from bsmtrail.writer import RecordBuilder

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    path = tmp_path_factory.mktemp("scenario") / "s.bsm"
    return path, write_scenario(path, seed=3)


def _session_rows(table: pa.Table) -> dict[tuple[int, int | None], dict[str, Any]]:
    return {(r["asid"], r["auid"]): r for r in table.to_pylist()}


def _check_sessions(table: pa.Table, truth: Truth) -> None:
    got = _session_rows(table)
    assert set(got) == set(truth.sessions)
    for key, want in truth.sessions.items():
        row = got[key]
        for k in ("records", "failures", "login_event_name", "logout_event_name", "open"):
            assert row[k] == want[k], (key, k)
        for k in ("tid_addr", "tid_port", "commands", "first_commands"):
            assert row[k] == want[k], (key, k)
        assert row["processes"] == len(want["pids"]), key
        assert row["euids"] == sorted(want["euids"]), key
        assert row["ruids"] == sorted(want["ruids"]), key
        assert row["start"] <= row["end"]


def _check_processes(table: pa.Table, truth: Truth) -> None:
    rows = table.sort_by("id").to_pylist()
    assert len(rows) == len(truth.processes)
    for row, want in zip(rows, truth.processes, strict=True):
        where = (want["index"], want["pid"])
        parent = None if want["parent"] is None else rows[want["parent"]]["id"]
        assert row["parent_id"] == parent, where
        for k in ("pid", "ppid", "origin", "end_reason", "exit_status", "auid", "asid", "euid"):
            assert row[k] == want[k], (where, k)
        for k in ("records", "failures", "file_records", "network_records"):
            assert row[k] == want[k], (where, k)
        assert row["open"] == (want["end_reason"] is None), where
        execs = [{k: e[k] for k in ("path", "args", "auid", "asid", "euid")} for e in row["execs"]]
        assert execs == want["execs"], where
        times = [e["time"] for e in row["execs"]]
        assert times == sorted(times), where


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_views_equal_the_scenarios_truth(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "s.bsm"
    truth = write_scenario(path, seed)
    s, p = lineage(path)
    _check_sessions(s, truth)
    _check_processes(p, truth)
    # The same bytes and truth for the same seed.
    again = tmp_path / "again.bsm"
    assert write_scenario(again, seed) == truth
    assert again.read_bytes() == path.read_bytes()


def test_the_scenario_has_what_the_issue_asks(scenario: tuple[Path, Truth]) -> None:
    """ssh and console sessions, su/sudo, pipelines, daemons, pid reuse, an open session,
    non-attributable records: the generator really writes each."""
    _, truth = scenario
    logins = {s["login_event_name"] for s in truth.sessions.values()}
    assert {"AUE_openssh", "AUE_login"} <= logins
    assert any(not s["open"] for s in truth.sessions.values())
    assert sum(s["open"] for k, s in truth.sessions.items() if k[1] is not None) >= 2
    assert (0, None) in truth.sessions  # the daemons' records
    origins = {p["origin"] for p in truth.processes}
    assert origins == {"seen", "fork", "spawn"}
    assert {p["end_reason"] for p in truth.processes} == {None, "exit", "reused"}
    pids = [p["pid"] for p in truth.processes]
    assert len(set(pids)) < len(pids)  # pid reuse
    assert any(e["euid"] == 0 and e["auid"] == 501 for p in truth.processes for e in p["execs"])


def test_labelled_hosts_and_rotated_trails(tmp_path: Path) -> None:
    truths = {}
    for i, host in enumerate(["web", "db"]):
        (tmp_path / host).mkdir()
        whole = tmp_path / f"{host}.bsm"
        truths[host] = write_scenario(whole, seed=10 + i)
        # Rotate it: two files cut between records (a process lives across both).
        records = list(bsmtrail.open(whole))
        cut = len(records) // 2
        data = whole.read_bytes()
        (tmp_path / host / "20231101000000.20231102000000").write_bytes(data[: records[cut].offset])
        (tmp_path / host / "20231102000000.not_terminated").write_bytes(data[records[cut].offset :])
    inputs = {"web": tmp_path / "web", "db": tmp_path / "db"}
    s, p = lineage(inputs)
    for host, truth in truths.items():
        _check_sessions(s.filter(pa.compute.equal(s["host"], host)), truth)
        mine = p.filter(pa.compute.equal(p["host"], host))
        # Ids are global; parent links stay inside the host.
        ids = set(mine["id"].to_pylist())
        assert all(x is None or x in ids for x in mine["parent_id"].to_pylist())
        first = min(ids)
        renumbered = mine.set_column(
            0, "id", pa.array([i - first + 1 for i in mine["id"].to_pylist()], pa.uint64())
        )
        _check_processes(
            renumbered.set_column(
                1,
                "parent_id",
                pa.array(
                    [None if x is None else x - first + 1 for x in mine["parent_id"].to_pylist()],
                    pa.uint64(),
                ),
            ),
            truth,
        )


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_threads_give_the_same_views(scenario: tuple[Path, Truth], threads: int) -> None:
    path, _ = scenario
    one = lineage(path, threads=1)
    got = lineage(path, threads=threads)
    assert got[0].equals(one[0]) and got[1].equals(one[1])


def test_names_where_and_a_damaged_trail(scenario: tuple[Path, Truth], tmp_path: Path) -> None:
    path, truth = scenario
    s = sessions(path, passwd=DATA / "passwd")
    names = dict(zip(s["auid"].to_pylist(), s["auid_name"].to_pylist(), strict=True))
    passwd = {
        int(line.split(":")[2]): line.split(":")[0]
        for line in (DATA / "passwd").read_text().splitlines()
        if line and not line.startswith("#")
    }
    for auid, name in names.items():
        assert name == (None if auid is None else passwd.get(auid))
    # The added name columns leave the view's other fields as they were.
    plain = sessions(path)
    assert s.drop_columns(["auid_name", "login_event_name", "logout_event_name"]).schema.equals(
        plain.drop_columns(["login_event_name", "logout_event_name"]).schema
    )
    assert not s.schema.field("asid").nullable
    p = processes(path, passwd=DATA / "passwd")
    assert p.drop_columns(["auid_name"]).equals(processes(path))
    # A selection keeps rows, as read_trails(where=...) does: only alice's records.
    only = sessions(path, where=selection(auid=501))
    assert set(only["auid"].to_pylist()) == {501}
    assert sum(only["records"].to_pylist()) == sum(
        t["records"] for k, t in truth.sessions.items() if k[1] == 501
    )
    # Damage in the middle: the views still come, every intact record counted.
    data = bytearray(path.read_bytes())
    records = list(bsmtrail.open(path))
    victim = records[len(records) // 2]
    data[victim.offset + 1 : victim.offset + 5] = b"\xff\xff\xff\xff"
    bad = tmp_path / "bad.bsm"
    bad.write_bytes(bytes(data))
    with pytest.warns(bsmtrail.BSMWarning):
        s_bad = sessions(bad)
    assert (
        sum(s_bad["records"].to_pylist()) == sum(t["records"] for t in truth.sessions.values()) - 1
    )


def _golden_sessions(golden: Path) -> dict[tuple[int, int | None], int]:
    """(asid, auid) -> records, read from praudit -ln's first subject of each line."""
    out: dict[tuple[int, int | None], int] = {}
    for line in golden.read_text(errors="replace").splitlines():
        fields = line.split(",")
        for i, f in enumerate(fields):
            if f.startswith("subject"):
                auid = None if fields[i + 1] == "-1" else int(fields[i + 1])
                key = (int(fields[i + 7]), auid)
                out[key] = out.get(key, 0) + 1
                break
    return out


@pytest.mark.parametrize("stem", ["apple", "openbsm", "execve-long-args", "reference-all"])
def test_shared_real_trails(stem: str, shared_trails: dict[str, Path], golden_dir: Path) -> None:
    s, p = lineage(shared_trails[stem], order="input")  # one file: as written
    got = {(r["asid"], r["auid"]): r["records"] for r in s.to_pylist()}
    assert got == _golden_sessions(golden_dir / f"{stem}.ln.txt")
    # Every attributable record is in exactly one process.
    assert sum(p["records"].to_pylist()) == sum(got.values())
    if stem == "apple":
        # By hand from praudit: alice (501) logged in at the console in session 100004
        # (loginwindow's lw_login record).
        row = next(r for r in s.to_pylist() if (r["asid"], r["auid"]) == (100004, 501))
        assert row["login_event_name"] == "AUE_lw_login" and row["records"] == 10


_EVENTS = {"fork": 2, "exec": 23, "exit": 1, "open": 72}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(sorted(_EVENTS)),
            st.integers(1, 6),  # pid
            st.integers(0, 7),  # return value (a fork's child)
            st.integers(0, 2),  # status
            st.sampled_from([0xFFFFFFFF, 501, 0]),
            st.integers(0, 2),  # asid
        ),
        min_size=1,
        max_size=60,
    )
)
def test_any_record_sequence_is_counted_once(
    ops: list[tuple[str, int, int, int, int, int]],
) -> None:
    data = bytearray()
    for i, (ev, pid, value, status, auid, asid) in enumerate(ops):
        b = RecordBuilder(_EVENTS[ev], time=(1_700_000_000 + i, 0))
        if ev == "exec":
            b.path("/bin/x").exec_args(["x", str(i)])
        b.subject(auid, pid=pid, sid=asid)
        if ev == "exit":
            b.exit(status, 0)
        data += b.return_(status, value).build()
    with tempfile.TemporaryDirectory() as tmp:
        trail = Path(tmp) / "t.bsm"
        trail.write_bytes(bytes(data))
        s, p = lineage(trail)
    n = len(ops)
    assert sum(s["records"].to_pylist()) == n
    assert sum(p["records"].to_pylist()) == n
    ids = p["id"].to_pylist()
    assert len(set(ids)) == len(ids)
    # Rows come as processes end; the open ones last, in order of appearance.
    is_open = p["open"].to_pylist()
    assert is_open == sorted(is_open)
    still = [i for i, o in zip(ids, is_open, strict=True) if o]
    assert still == sorted(still)
    for row in p.to_pylist():
        assert row["parent_id"] is None or row["parent_id"] < row["id"]
    # At most one process per pid is open at the end.
    open_pids = [r["pid"] for r in p.to_pylist() if r["open"]]
    assert len(open_pids) == len(set(open_pids))


@pytest.mark.parametrize("batch_rows", [1, 7, 65536])
def test_processes_stream_in_batches_as_they_end(
    scenario: tuple[Path, Truth], batch_rows: int
) -> None:
    """``iter_processes`` hands out full batches while reading, then the rest; joined,
    they are the view, whatever the batch size."""
    path, truth = scenario
    batches = list(iter_processes(path, batch_rows=batch_rows))
    assert all(b.num_rows == batch_rows for b in batches[:-1])
    assert 0 < batches[-1].num_rows <= batch_rows
    table = pa.Table.from_batches(batches)
    assert table.equals(processes(path))
    _check_processes(table, truth)
    ended = [p for p in truth.processes if p["end_reason"] is not None]
    assert table["open"].to_pylist() == [False] * len(ended) + [True] * (
        len(truth.processes) - len(ended)
    )


def test_cli(scenario: tuple[Path, Truth], tmp_path: Path) -> None:
    path, truth = scenario

    def bsm(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bsmtrail", *args], capture_output=True, text=True
        )

    res = bsm("sessions", str(path))
    assert res.returncode == 0, res.stderr
    header, *lines = res.stdout.splitlines()
    assert header.split()[:3] == ["host", "asid", "auid"]
    assert len(lines) == len(truth.sessions)
    out = tmp_path / "p.parquet"
    res = bsm("processes", str(path), "-o", str(out))
    assert res.returncode == 0, res.stderr
    assert pq.read_table(out).equals(processes(path))
    alice = next(k for k, v in truth.sessions.items() if v["login_event_name"] == "AUE_openssh")
    res = bsm("tree", str(path), "--session", str(alice[0]))
    assert res.returncode == 0, res.stderr
    assert res.stdout == "\n".join(tree_lines(processes(path), asid=alice[0])) + "\n"
    assert "ls -l /tmp" in res.stdout and "`-- " in res.stdout
    res = bsm("sessions", "--label", f"a={path}", str(path))
    assert res.returncode == 2 and "--label" in res.stderr
    # gen --scenario: the trail and its truth as JSON, which the views match.
    gen, truth_file = tmp_path / "gen.bsm", tmp_path / "truth.json"
    res = bsm("gen", str(gen), "--scenario", "--seed", "7", "--truth", str(truth_file), "-q")
    assert res.returncode == 0, res.stderr
    told = json.loads(truth_file.read_text())
    assert told == json.loads(json.dumps(write_scenario(tmp_path / "again.bsm", 7).to_json()))
    got = {(r["asid"], r["auid"]): r for r in sessions(gen).to_pylist()}
    for want in told["sessions"]:
        row = got[(want["asid"], want["auid"])]
        assert {k: row[k] for k in want} == want

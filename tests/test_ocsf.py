"""OCSF events (``bsmtrail.ocsf``, ``convert --format ocsf``), validated against the
official OCSF 1.7.0 schema as the ``pydantic-ocsf`` package carries it (its models for
required attributes, types, enums and type_uid; its copy of the schema's JSON for each
class's activities), never against a schema written here."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from bsmtrail import ocsf
from bsmtrail.writer import RecordBuilder, generate_trail
from conftest import assert_has, convert_cases, convert_lines, sparse

ocsf_models = pytest.importorskip("ocsf.v1_7_0.events", reason="pydantic-ocsf (test extra)")
ocsf_objects = pytest.importorskip("ocsf.v1_7_0.objects")
BaseModel = pytest.importorskip("pydantic").BaseModel

#: class_uid -> the pydantic-ocsf model and the schema's name of the class.
MODELS = {
    0: (ocsf_models.BaseEvent, "base_event"),
    1001: (ocsf_models.FileActivity, "file_activity"),
    1007: (ocsf_models.ProcessActivity, "process_activity"),
    3002: (ocsf_models.Authentication, "authentication"),
    4001: (ocsf_models.NetworkActivity, "network_activity"),
}
DATA = Path(__file__).parent / "data"
T = 1_700_000_000


def _schema() -> dict[str, Any]:
    text = resources.files("ocsf").joinpath("schemas/v1_7_0.json").read_text()
    return json.loads(text)  # type: ignore[no-any-return]


SCHEMA = _schema()


def _activities(name: str) -> set[int]:
    """The activity ids the schema defines for a class (the base event's too)."""
    events = SCHEMA["events"]
    ids = set(events["base_event"]["attributes"]["activity_id"]["enum"])
    ids |= set(events[name]["attributes"].get("activity_id", {}).get("enum", {}))
    return {int(i) for i in ids}


def _profiles(name: str) -> set[str]:
    """The profiles a class includes: its own and those of the classes it extends."""
    found: set[str] = set()
    while name:
        entry = SCHEMA["events"].get(name, {})
        found |= set(entry.get("profiles") or [])
        name = entry.get("extends") or ""
    return found


def _extras(model: Any, where: str) -> list[str]:
    """Attributes the schema does not define, anywhere in a validated event (``unmapped``
    is the schema's own place for them and is not looked into)."""
    found = [f"{where}.{k}" for k in (model.model_extra or {})]
    for name in type(model).model_fields:
        if name == "unmapped":
            continue
        value = getattr(model, name)
        for v in value if isinstance(value, list) else [value]:
            if isinstance(v, BaseModel):
                found += _extras(v, f"{where}.{name}")
    return found


#: OCSF's Host profile (profiles/host.json) adds these attributes to a class that
#: includes it; pydantic-ocsf's models leave profiles out, so they are checked apart,
#: against the models of their objects.
HOST_PROFILE = {"device": ocsf_objects.Device, "actor": ocsf_objects.Actor}


def validate(event: dict[str, Any]) -> None:
    """``event`` is a valid OCSF 1.7.0 event of its class, with nothing the class (and
    the profiles it declares and its class includes) does not define outside
    ``unmapped``."""
    model, name = MODELS[event["class_uid"]]
    validated = model.model_validate(event)
    assert event["activity_id"] in _activities(name), event
    extras = _extras(validated, name)
    assert "host" in event["metadata"]["profiles"]
    if "host" in _profiles(name):
        for attr, object_model in HOST_PROFILE.items():
            if f"{name}.{attr}" in extras:  # not the class's own attribute
                extras.remove(f"{name}.{attr}")
                part = object_model.model_validate(event[attr])
                extras += _extras(part, f"{name}.{attr}")
    assert extras == [], event
    assert event["type_uid"] == event["class_uid"] * 100 + event["activity_id"]
    assert event["metadata"]["version"] == ocsf.OCSF_VERSION
    assert isinstance(event["time"], int)


def convert(trail: Path, tmp: Path, *extra: str) -> list[dict[str, Any]]:
    """``bsmtrail convert --format ocsf``'s lines, parsed."""
    return convert_lines(trail, tmp, "ocsf", *extra)


@pytest.fixture
def scenario(scenario_trail: Path) -> Path:
    return scenario_trail


def test_every_event_of_a_machines_life_validates(scenario: Path, tmp_path: Path) -> None:
    events = convert(scenario, tmp_path)
    assert len(events) == sum(1 for _ in __import__("bsmtrail").open(scenario))
    for e in events:
        validate(e)
    counts = Counter((e["class_uid"], e["activity_id"]) for e in events)
    # Each mapped class is there, and more than one activity of most.
    assert {c for c, _ in counts} == {0, 1001, 1007, 3002, 4001}
    assert {(1007, 1), (1007, 2), (3002, 1), (3002, 2), (3002, 7), (4001, 1)} <= set(counts)


@pytest.mark.parametrize("seed", [1, 2])
def test_every_token_and_header_type_exports(seed: int, tmp_path: Path) -> None:
    """A generated trail has every token and header type: every record exports, valid."""
    trail = tmp_path / "g.bsm"
    generate_trail(trail, 300_000, seed)
    events = convert(trail, tmp_path)
    assert len(events) == sum(1 for _ in __import__("bsmtrail").open(trail, mode="recover"))
    for e in events:
        validate(e)


def test_the_shared_real_trails_export(shared_data: Path, tmp_path: Path) -> None:
    trails = sorted(p for p in (shared_data / "trails").iterdir() if p.is_file())
    assert trails
    for trail in trails:
        events = convert(trail, tmp_path)
        for e in events:
            validate(e)


# -- hand-checked records -----------------------------------------------------------------


def _one(record: bytes, tmp_path: Path, *extra: str) -> dict[str, Any]:
    trail = tmp_path / "one.bsm"
    trail.write_bytes(record)
    (event,) = convert(trail, tmp_path, *extra)
    validate(event)
    return event


def rec(event: int, **header: Any) -> RecordBuilder:
    return RecordBuilder(event, time=(T, 250), **header)


CASES: list[tuple[str, RecordBuilder, dict[str, Any]]] = [
    (
        "execve",
        rec(23)
        .path("/usr/bin/ssh")
        .exec_args(["ssh", "-p", "22", "host"])
        .subject(501, euid=0, ruid=501, pid=700, sid=100004)
        .return_(),
        {
            "class_uid": 1007,
            "activity_id": 1,
            "time": T * 1000 + 250,
            "process.pid": 700,
            "process.cmd_line": "ssh -p 22 host",
            "process.file.path": "/usr/bin/ssh",
            "process.file.name": "ssh",
            "process.user.uid": "0",
            "actor.user.uid": "501",
            "actor.process.user.uid": "0",
            "actor.session.uid": "100004",
            "status_id": 1,
            "unmapped.bsm.ruid": 501,
        },
    ),
    (
        "fork: the child's pid is the return value",
        rec(2).subject(501, pid=700).return_(0, 701),
        {"activity_id": 1, "process.pid": 701, "process.parent_process.pid": 700},
    ),
    (
        "posix_spawn",
        rec(43190).path("/bin/ls").exec_args(["ls"]).subject(501, pid=700).return_(0, 702),
        {"activity_id": 1, "process.pid": 702, "process.cmd_line": "ls"},
    ),
    (
        "exit",
        rec(1).exit(3).subject(501, pid=700).return_(),
        {"class_uid": 1007, "activity_id": 2, "process.pid": 700},
    ),
    (
        "kill: the target is the process token",
        rec(15).process(502, pid=900).subject(501, pid=700).return_(),
        {"activity_id": 2, "process.pid": 900, "actor.process.pid": 700},
    ),
    (
        "setuid fails",
        rec(200).subject(501, pid=700).return_(1, -1),
        {
            "activity_id": 5,
            "status_id": 2,
            "status": "Failure",
            "status_code": "EPERM",
            "unmapped.bsm.return_value": 4294967295,  # return32: as praudit shows it
        },
    ),
    ("open read", rec(72).path("/etc/passwd").subject(501).return_(0, 3), {"activity_id": 2}),
    ("open attr only", rec(3).path("/etc/passwd").subject(501).return_(), {"activity_id": 14}),
    (
        "openat write, creat, trunc",
        rec(277).path("/tmp/x").subject(501).return_(0, 4),
        {"class_uid": 1001, "activity_id": 1},
    ),
    ("open write", rec(76).path("/tmp/x").subject(501).return_(0, 4), {"activity_id": 3}),
    (
        "open fails: no such file",
        rec(72).path("/nope").subject(501).return_(2, -1),
        {"activity_id": 2, "status_id": 2, "status_code": "ENOENT", "file.path": "/nope"},
    ),
    (
        "unlink of a regular file with its attributes",
        rec(6).path("/tmp/a").attr(0o100644, 501, 20, 1, 2, 3).subject(501).return_(),
        {
            "activity_id": 4,
            "file.type_id": 1,
            "file.type": "Regular File",
            "file.owner.uid": "501",
            "file.name": "a",
        },
    ),
    (
        "mkdir",
        rec(47).path("/tmp/d").attr(0o040755, 0, 0, 1, 2, 3).subject(501).return_(),
        {"activity_id": 1, "file.type_id": 2, "file.type": "Folder"},
    ),
    (
        "rename: the new name is the result",
        rec(42).path("/tmp/a").path("/tmp/b").subject(501).return_(),
        {"activity_id": 5, "file.path": "/tmp/a", "file_result.path": "/tmp/b"},
    ),
    (
        "chmod is security",
        rec(10).path("/etc/shadow").subject(0).return_(),
        {"activity_id": 7},
    ),
    ("chflags is attributes", rec(43003).path("/x").subject(0).return_(), {"activity_id": 6}),
    (
        "ftruncate without a path",
        rec(44).subject(501).return_(),
        {"class_uid": 1001, "activity_id": 3, "file.name": "", "file.path": None},
    ),
    (
        "ssh login from an IPv4 terminal",
        rec(32800).subject(501, sid=100004, port=52000, addr="10.0.0.5").text("ok").return_(),
        {
            "class_uid": 3002,
            "activity_id": 1,
            "user.uid": "501",
            "src_endpoint.ip": "10.0.0.5",
            "is_remote": True,
            "actor.session.uid": "100004",
            "actor.session.is_remote": True,
        },
    ),
    (
        "ssh login from an IPv6 terminal (subject32_ex)",
        rec(32800).subject(501, sid=7, port=1, addr="2001:db8::5").return_(),
        {"src_endpoint.ip": "2001:db8::5", "unmapped.bsm.subject_type": "subject32_ex"},
    ),
    (
        "failed login of no one yet: the audit id is unset",
        rec(6152).subject(4294967295, euid=0, ruid=0).text("bad password").return_(1, -1),
        {
            "activity_id": 1,
            "status_id": 2,
            "user.uid": None,
            "actor.user": None,
            "unmapped.bsm.auid_unset": True,
            "unmapped.bsm.texts": ["bad password"],
        },
    ),
    (
        "local console login",
        rec(6152).subject(501, addr="0.0.0.0").return_(),
        {"is_remote": False, "src_endpoint": None},
    ),
    ("logout", rec(6153).subject(501).return_(), {"activity_id": 2}),
    (
        "su: the audit user stays, the effective user changes",
        rec(6159).subject(501, euid=0).return_(),
        {"activity_id": 7, "user.uid": "501", "actor.process.user.uid": "0"},
    ),
    ("sudo", rec(45028).subject(501, euid=0).return_(), {"activity_id": 7}),
    ("macOS authentication step", rec(45023).subject(501).return_(), {"activity_id": 99}),
    (
        "connect to IPv4",
        rec(32).sock_inet(443, "93.184.216.34").subject(501).return_(),
        {
            "class_uid": 4001,
            "activity_id": 1,
            "dst_endpoint.ip": "93.184.216.34",
            "dst_endpoint.port": 443,
            "src_endpoint": None,
        },
    ),
    (
        "connect to IPv6",
        rec(32).sock_inet(22, "2001:db8::1").subject(501).return_(),
        {"dst_endpoint.ip": "2001:db8::1", "dst_endpoint.port": 22},
    ),
    (
        "bind: the local end",
        rec(34).sock_inet(8080, "0.0.0.0").subject(501).return_(),
        {"activity_id": 99, "src_endpoint.port": 8080, "dst_endpoint": None},
    ),
    ("listen", rec(43140).subject(501).return_(), {"activity_id": 7}),
    (
        "connect refused",
        rec(32).sock_inet(25, "10.1.1.1").subject(501).return_(146, -1),  # BSM's number
        {"status_id": 2, "status_code": "ECONNREFUSED"},
    ),
    (
        "64-bit subject and header",
        rec(23, header="header64").path("/bin/sh").exec_args(["sh"]).subject(0, bits=64).return_(),
        {"unmapped.bsm.header_type": "header64", "unmapped.bsm.subject_type": "subject64"},
    ),
    (
        "_ex header: the machine's address",
        rec(23, host="192.0.2.7").path("/bin/sh").exec_args(["sh"]).subject(0).return_(),
        {"device.ip": "192.0.2.7", "unmapped.bsm.header_type": "header32_ex"},
    ),
    (
        "macOS identity token",
        rec(23)
        .path("/Applications/X.app/X")
        .exec_args(["X"])
        .subject(501)
        .return_()
        .identity("com.example.x", b"\x01" * 20, team_id="TEAM1"),
        {"unmapped.bsm.signing_id": "com.example.x", "unmapped.bsm.team_id": "TEAM1"},
    ),
    (
        "an event no rule maps is a Base Event, not dropped",
        rec(266).subject(0).return_(),
        {"class_uid": 0, "activity_id": 99, "message": "AUE_SETAUDIT_ADDR"},
    ),
    (
        "a record with no subject",
        rec(72).path("/x").return_(),
        {"actor.user": None, "actor.process": None, "actor.session": None},
    ),
]


@pytest.fixture(scope="module")
def hand_events(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int], list[Any]]:
    """The cases' records in one trail, converted once: (trail, offsets, events)."""
    return convert_cases([c[1] for c in CASES], tmp_path_factory.mktemp("hand"), "ocsf")


@pytest.mark.parametrize("case", range(len(CASES)), ids=[c[0] for c in CASES])
def test_hand_checked_records(
    case: int, hand_events: tuple[Path, list[int], list[dict[str, Any]]]
) -> None:
    trail, offsets, events = hand_events
    assert len(events) == len(CASES)
    event = events[case]
    validate(event)
    assert_has(event, CASES[case][2])
    assert_has(event, {"metadata.log_name": str(trail), "unmapped.bsm.offset": offsets[case]})


def test_names_come_from_the_evidence_passwd(tmp_path: Path) -> None:
    record = rec(23).path("/bin/sh").exec_args(["sh"]).subject(501, euid=0).return_().build()
    passwd = tmp_path / "passwd"
    passwd.write_text("root:*:0:0::/root:/bin/sh\nalice:*:501:20::/home/alice:/bin/sh\n")
    event = _one(record, tmp_path, "--passwd", str(passwd))
    assert_has(event, {"actor.user.name": "alice", "actor.process.user.name": "root"})


def test_labelled_hosts_name_the_device(tmp_path: Path) -> None:
    trail = tmp_path / "t.bsm"
    trail.write_bytes(rec(1).subject(0).return_().build())
    (event,) = convert_lines(trail, tmp_path, "ocsf", label="web1")
    validate(event)
    assert event["device"]["hostname"] == "web1"


def test_the_mapping_table_names_only_real_classes_and_activities(tmp_path: Path) -> None:
    mapping = ocsf.load_mapping()
    for _, class_uid, activity in mapping.rules:
        assert activity in _activities(MODELS[class_uid][1])
    bad = tmp_path / "map"
    bad.write_text("AUE_EXECVE 1007 9\n")
    with pytest.raises(ValueError, match="map:1"):
        ocsf.load_mapping(bad)


def test_a_batch_that_is_not_records_is_a_value_error_naming_the_column() -> None:
    """The Rust builder reads columns by name and type: a batch without them, or with
    another type, is refused with the column named (never a panic across the FFI)."""
    import pyarrow as pa

    from bsmtrail import _native

    conv = ocsf.Converter()
    missing = pa.RecordBatch.from_pydict({"event": pa.array([1, 2], pa.uint16())})
    with pytest.raises(ValueError, match="tid_addr"):
        ocsf.from_records(missing, db=conv.db, tables=conv.tables)
    wrong = pa.RecordBatch.from_pydict({"event": pa.array([1, 2], pa.int32())})
    with pytest.raises(ValueError, match='"event" is not UInt16'):
        conv(wrong)
    with pytest.raises(ValueError, match="65536 entries"):
        _native.OcsfTables([0] * 10, [0] * 10, [], {}, [], "1.7.0")
    with pytest.raises(ValueError, match="bogus"):
        _native.OcsfTables([0] * (1 << 16), [99] * (1 << 16), [], {"bogus": [1]}, [], "1")


def test_a_mapping_of_ones_own(tmp_path: Path) -> None:
    own = tmp_path / "map"
    own.write_text("# open is a read here\nAUE_OPEN* 1001 2\n")
    mapping = ocsf.load_mapping(own)
    assert mapping.classify("AUE_OPEN_RWTC") == (1001, 2)
    assert mapping.classify("AUE_EXECVE") == (0, 99)


def test_the_python_api_gives_the_commands_events(scenario: Path, tmp_path: Path) -> None:
    """``iter_events`` batches, null members left out, are the command's lines."""

    api = [sparse(r) for b in ocsf.iter_events(scenario) for r in b.to_pylist()]
    assert api == convert(scenario, tmp_path)


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_security_lake_parquet_holds_each_class_apart(
    scenario: Path, tmp_path: Path, threads: int
) -> None:
    """``--format ocsf-parquet``: one file set per class, by UTC day; read back, each
    class's rows are that class's events (its columns only), every event once, valid."""
    import datetime as dt

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    lake = tmp_path / "lake"
    args = ["convert", str(scenario), "--format", "ocsf-parquet", "-o", str(lake), "-q"]
    res = subprocess.run(
        [sys.executable, "-m", "bsmtrail", *args, "--threads", str(threads)],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    whole = pa.Table.from_batches(list(ocsf.iter_events(scenario)))
    seen = 0
    for class_uid, name in ocsf.CLASS_NAMES.items():
        mine = whole.filter(pc.equal(whole["class_uid"], class_uid))
        files = sorted((lake / f"ocsf_class={name}").glob("eventDay=*/part-*.parquet"))
        assert bool(files) == (mine.num_rows > 0), name
        if not files:
            continue
        got = pa.concat_tables([pq.read_table(f) for f in files])
        assert got.column_names == ocsf.class_columns(whole.schema, class_uid)
        assert got.to_pylist() == mine.select(got.column_names).to_pylist()
        for f in files:
            day = f.parent.name.removeprefix("eventDay=")
            times = pq.read_table(f, columns=["time"])["time"].to_pylist()
            days = {dt.datetime.fromtimestamp(t / 1000, dt.timezone.utc) for t in times}
            assert {d.strftime("%Y%m%d") for d in days} == {day}
        for row in got.to_pylist():
            validate(sparse(row))
        seen += got.num_rows
    assert seen == whole.num_rows


def test_security_lake_days_are_utc_days(tmp_path: Path) -> None:
    """Two records a second apart across UTC midnight, one three days on: three days."""
    midnight = 1_700_006_400  # 2023-11-15 00:00:00 UTC
    trail = tmp_path / "t.bsm"
    trail.write_bytes(
        b"".join(
            RecordBuilder(23, time=(t, 0))
            .path("/bin/sh")
            .exec_args(["sh"])
            .subject(0)
            .return_()
            .build()
            for t in (midnight - 1, midnight, midnight + 3 * 86400)
        )
    )
    lake = tmp_path / "lake"
    args = ["convert", str(trail), "--format", "ocsf-parquet", "-o", str(lake), "-q"]
    res = subprocess.run(
        [sys.executable, "-m", "bsmtrail", *args],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    days = sorted(p.name for p in (lake / "ocsf_class=process_activity").iterdir())
    assert days == ["eventDay=20231114", "eventDay=20231115", "eventDay=20231118"]


def test_a_day_that_comes_back_gets_its_next_part(tmp_path: Path) -> None:
    """The lake keeps one day open a class: rows of a day seen again after the next day
    go to its next part file, and none is lost or moved to another day."""
    import pyarrow.parquet as pq

    midnight = 1_700_006_400  # 2023-11-15 00:00:00 UTC
    times = [midnight - 5, midnight + 5, midnight - 4, midnight + 6]
    trail = tmp_path / "t.bsm"
    trail.write_bytes(
        b"".join(RecordBuilder(1, time=(t, 0)).subject(0).return_().build() for t in times)
    )
    lake = tmp_path / "lake"
    args = ["convert", str(trail), "--format", "ocsf-parquet", "-o", str(lake), "-q"]
    res = subprocess.run(
        [sys.executable, "-m", "bsmtrail", *args, "--batch-size", "1"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    root = lake / "ocsf_class=process_activity"
    files = sorted(str(p.relative_to(root)) for p in root.glob("*/*.parquet"))
    assert files == [
        "eventDay=20231114/part-0.parquet",
        "eventDay=20231114/part-1.parquet",
        "eventDay=20231115/part-0.parquet",
        "eventDay=20231115/part-1.parquet",
    ]
    got = {f: pq.read_table(root / f, columns=["time"])["time"].to_pylist() for f in files}
    assert got == {
        files[0]: [(midnight - 5) * 1000],
        files[1]: [(midnight - 4) * 1000],
        files[2]: [(midnight + 5) * 1000],
        files[3]: [(midnight + 6) * 1000],
    }


@pytest.mark.parametrize("threads", [2, 4])
def test_converting_on_threads_gives_the_same_events(scenario: Path, threads: int) -> None:
    from bsmtrail.arrow import iter_trails

    def batches() -> Any:
        return iter_trails(scenario, ocsf.Converter().columns(), batch_size=7, events=False)

    one = ocsf.Converter()
    want = [b.to_pylist() for b in one.map(batches(), 1)]
    many = ocsf.Converter()
    assert [b.to_pylist() for b in many.map(batches(), threads)] == want
    assert many.counts == one.counts and sum(one.counts.values()) == sum(map(len, want))


def test_the_command_reports_the_events_of_each_class(scenario: Path, tmp_path: Path) -> None:
    out = tmp_path / "e.jsonl"
    args = ["convert", str(scenario), "--format", "ocsf", "-o", str(out)]
    res = subprocess.run(
        [sys.executable, "-m", "bsmtrail", *args],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    (line,) = [x for x in res.stderr.splitlines() if "events by class: " in x]
    said = dict(
        (int(part.split()[0]), int(part.rsplit(": ", 1)[1]))
        for part in line.split("events by class: ", 1)[1].split(", ")
    )
    events = [json.loads(x) for x in out.read_text().splitlines()]
    assert said == Counter(e["class_uid"] for e in events)

"""ECS documents (``bsmtrail.ecs``, ``convert --format ecs``), validated against ECS's
own field definitions: the ``ecs_flat.yml`` that elastic/ecs generates, as the
``ecs_types`` crate ships it. cargo fetches the crate from the registry
(``tests/ecs_fields``, never built); nothing of ECS is written down here. Every field
must be ECS's with ECS's type (arrays where ECS normalizes to one, allowed values,
categories with their expected types), or one of the custom fields the module declares
and docs/ecs.md documents."""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

import bsmtrail
from bsmtrail import ecs
from bsmtrail.writer import RecordBuilder, generate_trail
from conftest import ROOT, assert_has, convert_cases, convert_lines, sparse

yaml = pytest.importorskip("yaml", reason="PyYAML (test extra)")

FIELDS_MANIFEST = Path(__file__).parent / "ecs_fields" / "Cargo.toml"
T = 1_700_000_000


@functools.cache
def fields() -> dict[str, Any]:
    """ECS's fields by dotted name (``ecs_flat.yml``)."""
    where = ["--manifest-path", str(FIELDS_MANIFEST)]
    res = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--locked", *where],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    (crate,) = [p for p in json.loads(res.stdout)["packages"] if p["name"] == "ecs_types"]
    flat = Path(crate["manifest_path"]).parent / "ecs" / "generated" / "ecs" / "ecs_flat.yml"
    found: dict[str, Any] = yaml.safe_load(flat.read_text())
    return found


#: ECS's field types and the JSON values that carry them.
_TEXT = ("keyword", "wildcard", "match_only_text", "text", "constant_keyword")
_INTS = {"long": 63, "integer": 31, "short": 15, "byte": 7}


def _check(name: str, value: Any, spec: dict[str, Any]) -> None:
    kind = spec["type"]
    if kind in _TEXT:
        assert isinstance(value, str), (name, value)
    elif kind in _INTS:
        bits = _INTS[kind]
        assert isinstance(value, int) and not isinstance(value, bool), (name, value)
        assert -(1 << bits) <= value < 1 << bits, (name, value)
    elif kind == "boolean":
        assert isinstance(value, bool), (name, value)
    elif kind == "ip":
        ipaddress.ip_address(value)
    elif kind == "date":
        assert dt.datetime.fromisoformat(value).tzinfo is not None, (name, value)
    else:
        raise AssertionError(f"{name}: ECS type {kind} is not one the documents use")
    allowed = spec.get("allowed_values")
    if allowed:
        assert value in {a["name"] for a in allowed}, (name, value)


def _flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if isinstance(value, dict):
            out |= _flatten(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


def validate(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` holds only ECS fields of ECS's types and the declared custom fields, and
    what every document carries; returns it flattened."""
    ecs_fields = fields()
    flat = _flatten(doc)
    for name, value in flat.items():
        spec = ecs_fields.get(name)
        if spec is None:
            assert name in ecs.CUSTOM_FIELDS, name
            continue
        if "array" in spec.get("normalize", []):
            assert isinstance(value, list) and value, (name, value)
            for v in value:
                _check(name, v, spec)
        else:
            assert not isinstance(value, list), (name, value)
            _check(name, value, spec)
    for required in ("@timestamp", "ecs.version", "event.kind", "log.file.path", "bsm.offset"):
        assert required in flat, (required, doc)
    assert flat["ecs.version"] == ecs.ECS_VERSION
    categories, types = flat.get("event.category", []), flat.get("event.type", [])
    assert bool(categories) == bool(types), doc
    expected = {
        c["name"]: set(c.get("expected_event_types", []))
        for c in ecs_fields["event.category"]["allowed_values"]
    }
    for t in types:
        assert any(t in expected[c] for c in categories), (t, categories)
    return flat


def convert(trail: Path, tmp: Path, *extra: str) -> list[dict[str, Any]]:
    return convert_lines(trail, tmp, "ecs", *extra)


def test_custom_fields_are_outside_ecs_and_documented() -> None:
    """A custom field is no ECS field, does not sit inside one, and docs/ecs.md names
    it."""
    ecs_fields = fields()
    doc = (ROOT / "docs" / "ecs.md").read_text()
    for name in ecs.CUSTOM_FIELDS:
        assert name not in ecs_fields, name
        parts = name.split(".")
        for k in range(1, len(parts)):
            assert ".".join(parts[:k]) not in ecs_fields, name
        assert f"`{name}`" in doc, name


def test_the_categorization_is_ecs_s() -> None:
    """Every OCSF class and activity a mapping can name has a category and type ECS
    allows together."""
    from bsmtrail.ocsf_map import CLASSES

    ecs_fields = fields()
    expected = {
        c["name"]: set(c.get("expected_event_types", []))
        for c in ecs_fields["event.category"]["allowed_values"]
    }
    types = {t["name"] for t in ecs_fields["event.type"]["allowed_values"]}
    for class_uid, (_, _, _, activities) in CLASSES.items():
        for activity in activities if class_uid else ():
            categories, kinds = ecs.CATEGORIZATION[(class_uid, activity)]
            assert set(kinds) <= types
            for t in kinds:
                assert any(t in expected[c] for c in categories), (class_uid, activity, t)


def test_every_record_of_a_machines_life_validates(scenario_trail: Path, tmp_path: Path) -> None:
    docs = convert(scenario_trail, tmp_path)
    assert len(docs) == sum(1 for _ in bsmtrail.open(scenario_trail))
    categories = set()
    for d in docs:
        flat = validate(d)
        categories |= set(flat.get("event.category", []))
    assert categories == {"process", "file", "authentication", "session", "network"}


@pytest.mark.parametrize("seed", [1, 2])
def test_every_token_and_header_type_exports(seed: int, tmp_path: Path) -> None:
    trail = tmp_path / "g.bsm"
    generate_trail(trail, 300_000, seed)
    docs = convert(trail, tmp_path)
    assert len(docs) == sum(1 for _ in bsmtrail.open(trail, mode="recover"))
    offsets = [r.offset for r in bsmtrail.open(trail, mode="recover")]
    assert [d["bsm"]["offset"] for d in docs] == offsets
    for d in docs:
        validate(d)


def test_the_shared_real_trails_export(shared_data: Path, tmp_path: Path) -> None:
    trails = sorted(p for p in (shared_data / "trails").iterdir() if p.is_file())
    assert trails
    for trail in trails:
        for d in convert(trail, tmp_path):
            validate(d)


# -- hand-checked records -----------------------------------------------------------------


def rec(event: int, **header: Any) -> RecordBuilder:
    return RecordBuilder(event, time=(T, 250), **header)


CASES: list[tuple[str, RecordBuilder, dict[str, Any]]] = [
    (
        "execve: the ids apart, as auditbeat keeps them",
        rec(23)
        .path("/usr/bin/ssh")
        .exec_args(["ssh", "-p", "22", "host"])
        .subject(501, euid=0, egid=0, ruid=502, rgid=20, pid=700, sid=100004)
        .return_(),
        {
            "@timestamp": "2023-11-14T22:13:20.250Z",
            "event.kind": "event",
            "event.category": ["process"],
            "event.type": ["start"],
            "event.action": "AUE_EXECVE",
            "event.code": "23",
            "event.outcome": "success",
            "process.pid": 700,
            "process.executable": "/usr/bin/ssh",
            "process.name": "ssh",
            "process.args": ["ssh", "-p", "22", "host"],
            "process.args_count": 4,
            "process.command_line": "ssh -p 22 host",
            "process.parent": None,
            "user.id": "502",
            "user.group.id": "20",
            "user.effective.id": "0",
            "user.effective.group.id": "0",
            "user.audit.id": "501",
            "file.path": "/usr/bin/ssh",
            "bsm.session_id": 100004,
            "error": None,
        },
    ),
    (
        "fork: the child, its parent the subject",
        rec(2).subject(501, pid=700).return_(0, 701),
        {"process.pid": 701, "process.parent.pid": 700, "process.args": None},
    ),
    (
        "posix_spawn: the child runs the new image",
        rec(43190).path("/bin/ls").exec_args(["ls"]).subject(501, pid=700).return_(0, 702),
        {"process.pid": 702, "process.parent.pid": 700, "process.command_line": "ls"},
    ),
    (
        "exit",
        rec(1).exit(3).subject(501, pid=700).return_(),
        {"event.type": ["end"], "process.pid": 700},
    ),
    (
        "kill: the killer is the process, the target is BSM's",
        rec(15).process(502, pid=900).subject(501, pid=700).return_(),
        {"process.pid": 700, "bsm.target.pid": 900},
    ),
    (
        "setuid fails",
        rec(200).subject(501, pid=700).return_(1, -1),
        {
            "event.type": ["change"],
            "event.outcome": "failure",
            "error.code": "EPERM",
            "bsm.return.status": 1,
            "bsm.return.value": 4294967295,  # return32: as praudit shows it
        },
    ),
    (
        "open fails: no such file",
        rec(72).path("/nope").subject(501).return_(2, -1),
        {
            "event.category": ["file"],
            "event.type": ["info"],
            "error.code": "ENOENT",
            "file.path": "/nope",
            "file.directory": "/",
            "file.name": "nope",
        },
    ),
    (
        "unlink of a regular file with its attributes",
        rec(6).path("/tmp/a").attr(0o100644, 501, 20, 1, 77, 3).subject(501).return_(),
        {
            "event.type": ["deletion"],
            "file.type": "file",
            "file.mode": "0644",
            "file.uid": "501",
            "file.gid": "20",
            "file.inode": "77",
            "file.device": "3",
            "file.directory": "/tmp",
        },
    ),
    (
        "mkdir",
        rec(47).path("/tmp/d").attr(0o041755, 0, 0, 1, 2, 3).subject(501).return_(),
        {"event.type": ["creation"], "file.type": "dir", "file.mode": "1755"},
    ),
    (
        "symlink: the second path is the target",
        rec(21).path("/tmp/l").path("/etc/passwd").subject(501).return_(),
        {"file.path": "/tmp/l", "file.target_path": "/etc/passwd"},
    ),
    (
        "rename: both names kept, no target",
        rec(42).path("/tmp/a").path("/tmp/b").subject(501).return_(),
        {"file.target_path": None, "bsm.paths": ["/tmp/a", "/tmp/b"]},
    ),
    (
        "ssh login from an IPv4 terminal",
        rec(32800).subject(501, sid=100004, port=52000, addr="10.0.0.5").text("ok").return_(),
        {
            "event.category": ["authentication", "session"],
            "event.type": ["start"],
            "source.ip": "10.0.0.5",
            "source.port": None,
            "user.audit.id": "501",
            "bsm.terminal.port": 52000,
            "bsm.terminal.address": "10.0.0.5",
            "bsm.texts": ["ok"],
        },
    ),
    (
        "ssh login from an IPv6 terminal (subject32_ex)",
        rec(32800).subject(501, sid=7, port=1, addr="2001:db8::5").return_(),
        {"source.ip": "2001:db8::5", "bsm.subject_type": "subject32_ex"},
    ),
    (
        "failed login of no one yet: the audit id is unset",
        rec(6152).subject(4294967295, euid=0, ruid=0).text("bad password").return_(1, -1),
        {
            "event.outcome": "failure",
            "user.id": "0",
            "user.audit": None,
            "bsm.auid_unset": True,
        },
    ),
    ("local console login", rec(6152).subject(501, addr="0.0.0.0").return_(), {"source": None}),
    (
        "logout",
        rec(6153).subject(501).return_(),
        {"event.category": ["authentication", "session"], "event.type": ["end"]},
    ),
    (
        "su: the audit user stays, the effective user changes",
        rec(6159).subject(501, euid=0).return_(),
        {"event.category": ["authentication"], "user.audit.id": "501", "user.effective.id": "0"},
    ),
    (
        "connect to IPv4",
        rec(32).sock_inet(443, "93.184.216.34").subject(501).return_(),
        {
            "event.category": ["network"],
            "event.type": ["connection", "start"],
            "destination.ip": "93.184.216.34",
            "destination.port": 443,
            "source": None,
        },
    ),
    (
        "connect to IPv6",
        rec(32).sock_inet(22, "2001:db8::1").subject(501).return_(),
        {"destination.ip": "2001:db8::1", "destination.port": 22},
    ),
    (
        "a socket_ex token: both ends",
        rec(32).socket_ex(2, 1, 40000, "192.0.2.1", 80, "198.51.100.2").subject(501).return_(),
        {
            "source.ip": "192.0.2.1",
            "source.port": 40000,
            "destination.ip": "198.51.100.2",
            "destination.port": 80,
        },
    ),
    (
        "bind: the local end",
        rec(34).sock_inet(8080, "0.0.0.0").subject(501).return_(),
        {"source.ip": "0.0.0.0", "source.port": 8080, "destination": None},
    ),
    (
        "connect refused",
        rec(32).sock_inet(25, "10.1.1.1").subject(501).return_(146, -1),  # BSM's number
        {"event.outcome": "failure", "error.code": "ECONNREFUSED"},
    ),
    (
        "64-bit subject and header",
        rec(23, header="header64").path("/bin/sh").exec_args(["sh"]).subject(0, bits=64).return_(),
        {"bsm.header_type": "header64", "bsm.subject_type": "subject64"},
    ),
    (
        "_ex header: the machine's address",
        rec(23, host="192.0.2.7").path("/bin/sh").exec_args(["sh"]).subject(0).return_(),
        {"host.ip": ["192.0.2.7"], "bsm.header_type": "header32_ex"},
    ),
    (
        "macOS identity token",
        rec(23)
        .path("/Applications/X.app/X")
        .exec_args(["X"])
        .subject(501)
        .return_()
        .identity("com.example.x", b"\x01" * 20, team_id="TEAM1"),
        {
            "process.code_signature.exists": True,
            "process.code_signature.signing_id": "com.example.x",
            "process.code_signature.team_id": "TEAM1",
            "bsm.identity.signer_type": 1,
            "bsm.identity.cdhash": "01" * 20,
        },
    ),
    (
        "a sequence token",
        rec(266).subject(0).seq(42).return_(),
        {"event.sequence": 42, "event.category": None, "event.action": "AUE_SETAUDIT_ADDR"},
    ),
    (
        "a record with no subject",
        rec(72).path("/x").return_(),
        {"user": None, "process": None, "bsm.session_id": None},
    ),
]


@pytest.fixture(scope="module")
def hand_docs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[int], list[Any]]:
    """The cases' records in one trail, converted once: (trail, offsets, documents)."""
    return convert_cases([c[1] for c in CASES], tmp_path_factory.mktemp("hand"), "ecs")


@pytest.mark.parametrize("case", range(len(CASES)), ids=[c[0] for c in CASES])
def test_hand_checked_records(
    case: int, hand_docs: tuple[Path, list[int], list[dict[str, Any]]]
) -> None:
    trail, offsets, docs = hand_docs
    assert len(docs) == len(CASES)
    doc = docs[case]
    validate(doc)
    assert_has(doc, CASES[case][2])
    assert_has(doc, {"log.file.path": str(trail), "bsm.offset": offsets[case]})


def test_names_come_from_the_evidence_machine(tmp_path: Path) -> None:
    trail = tmp_path / "t.bsm"
    record = rec(23).path("/bin/sh").exec_args(["sh"])
    trail.write_bytes(record.subject(501, euid=0, egid=0, ruid=501, rgid=20).return_().build())
    passwd, group = tmp_path / "passwd", tmp_path / "group"
    passwd.write_text("root:*:0:0::/root:/bin/sh\nalice:*:501:20::/home/alice:/bin/sh\n")
    group.write_text("wheel:*:0:root\nstaff:*:20:alice\n")
    (doc,) = convert(trail, tmp_path, "--passwd", str(passwd), "--group", str(group))
    validate(doc)
    assert_has(
        doc,
        {
            "user.name": "alice",
            "user.group.name": "staff",
            "user.effective.name": "root",
            "user.effective.group.name": "wheel",
            "user.audit.name": "alice",
        },
    )


def test_labelled_inputs_name_the_host(tmp_path: Path) -> None:
    trail = tmp_path / "t.bsm"
    trail.write_bytes(rec(1).subject(0).return_().build())
    (doc,) = convert_lines(trail, tmp_path, "ecs", label="web1")
    validate(doc)
    assert doc["host"]["name"] == "web1"


def test_the_python_api_gives_the_commands_documents(scenario_trail: Path, tmp_path: Path) -> None:
    api = [sparse(r) for b in ecs.Converter().stream(scenario_trail) for r in b.to_pylist()]
    assert api == convert(scenario_trail, tmp_path)


@pytest.mark.parametrize("threads", [2, 4])
def test_the_command_gives_the_same_lines_on_any_number_of_threads(
    scenario_trail: Path, tmp_path: Path, threads: int
) -> None:
    one = convert(scenario_trail, tmp_path, "--threads", "1", "--batch-size", "7")
    assert convert(scenario_trail, tmp_path, "--threads", str(threads), "--batch-size", "7") == one

"""The Python writer: token dicts -> write_trail -> open gives the same dicts, for every
token type (64-bit and IPv6 forms, empty and maximum strings); parse -> write reproduces
every shared trail byte for byte; RecordBuilder; errors.

Hypothesis profiles: ``HYPOTHESIS_PROFILE=fast`` (default) or ``slow``.
"""

from __future__ import annotations

import io
import ipaddress
import os
import struct
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bsmtrail
from bsmtrail import EncodeError, RecordBuilder, write_trail
from bsmtrail.writer import encode_record, encode_token

settings.register_profile(
    "writer-fast", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "writer-slow", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
PROFILE = settings.get_profile(f"writer-{os.environ.get('HYPOTHESIS_PROFILE', 'fast')}")

Token = dict[str, Any]

# ---------------------------------------------------------------------------------------
# Strategies: token dicts in the schema Record.tokens produces
# ---------------------------------------------------------------------------------------

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFF_FFFF)
u64 = st.integers(0, 0xFFFF_FFFF_FFFF_FFFF)


def _from_bytes(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


#: Strings as the decoder gives them: any text, or any bytes via surrogateescape, sometimes
#: empty or long. (Maximum lengths have their own tests: hypothesis is slow at 64 KB.)
strings = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=300).map(_from_bytes),
    st.just(""),
    st.integers(1000, 4000).map(lambda n: "p" * n),
)
#: Strings of NUL-terminated lists (no NUL inside).
list_strings = st.one_of(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=30,
    ),
    st.binary(max_size=60).map(lambda b: _from_bytes(b.replace(b"\0", b""))),
)
v4_bytes = st.binary(min_size=4, max_size=4)
v6_bytes = st.binary(min_size=16, max_size=16)


def _addr_forms(packed: bytes) -> st.SearchStrategy[Any]:
    """The same address as text, packed bytes or an ipaddress object."""
    ip = ipaddress.ip_address(packed)
    return st.sampled_from([str(ip), packed, ip])


v4 = v4_bytes.flatmap(_addr_forms)
v6 = v6_bytes.flatmap(_addr_forms)
any_addr = st.one_of(v4, v6)


def tok(type_: str, **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[Token]:
    return st.fixed_dictionaries({"type": st.just(type_), **fields})


def _subject(name: str, wide: bool, ex: bool) -> st.SearchStrategy[Token]:
    return tok(
        name,
        auid=u32,
        euid=u32,
        egid=u32,
        ruid=u32,
        rgid=u32,
        pid=u32,
        sid=u32,
        port=u64 if wide else u32,
        addr=any_addr if ex else v4,
    )


def _data() -> st.SearchStrategy[Token]:
    fmt = {0: "B", 1: "H", 2: "I", 3: "Q"}

    @st.composite
    def make(draw: st.DrawFn) -> Token:
        unit = draw(st.integers(0, 3))
        values = draw(st.lists(st.integers(0, 2 ** (8 << unit) - 1), max_size=255))
        t: Token = {
            "type": "arbitrary",
            "print_format": draw(u8),
            "unit": unit,
            "count": len(values),
            "data": struct.pack(f"<{len(values)}{fmt[unit]}", *values),
            "values": values,
        }
        return t

    return make()


BODY: dict[str, st.SearchStrategy[Token]] = {
    "file": tok("file", seconds=u32, msec=u32, name=strings),
    "arbitrary": _data(),
    "ipc": tok("ipc", ipc_type=u8, ipc_id=u32),
    "path": tok("path", path=strings),
    "text": tok("text", text=strings),
    "zonename": tok("zonename", zone=strings),
    "opaque": tok("opaque", data=st.binary(max_size=300)),
    "return32": tok("return32", status=u8, value=u32),
    "return64": tok("return64", status=u8, value=u64),
    "exit": tok("exit", status=u32, value=u32),
    "in_addr": tok("in_addr", addr=v4),
    "in_addr_ex": tok("in_addr_ex", addr=any_addr),
    "ip": tok(
        "ip",
        version_ihl=u8,
        tos=u8,
        length=u16,
        ip_id=u16,
        frag_offset=u16,
        ttl=u8,
        protocol=u8,
        checksum=u16,
        src=v4,
        dst=v4,
    ),
    "iport": tok("iport", port=u16),
    "arg32": tok("arg32", num=u8, value=u32, desc=strings),
    "arg64": tok("arg64", num=u8, value=u64, desc=strings),
    "socket": tok("socket", sock_type=u16, lport=u16, laddr=v4, rport=u16, raddr=v4),
    "socket_ex": st.one_of(
        tok("socket_ex", domain=u16, sock_type=u16, lport=u16, laddr=v4, rport=u16, raddr=v4),
        tok("socket_ex", domain=u16, sock_type=u16, lport=u16, laddr=v6, rport=u16, raddr=v6),
    ),
    "sockinet32": tok("sockinet32", family=u16, port=u16, addr=v4),
    "sockinet128": tok("sockinet128", family=u16, port=u16, addr=v6),
    "sockunix": tok(
        "sockunix",
        family=u16,
        path=st.binary(max_size=108).map(lambda b: _from_bytes(b.replace(b"\0", b""))),
    ),
    "seq": tok("seq", seq=u32),
    "ipc_perm": tok("ipc_perm", uid=u32, gid=u32, cuid=u32, cgid=u32, mode=u32, seq=u32, key=u32),
    "privset": tok("privset", set=strings, privs=strings),
    "upriv": tok("upriv", success=st.booleans(), name=strings),
    "groups": tok("groups", gids=st.lists(u32, max_size=16)),
    "exec_args": tok("exec_args", args=st.lists(list_strings, max_size=20)),
    "exec_env": tok("exec_env", env=st.lists(list_strings, max_size=20)),
    "attr32": tok("attr32", mode=u32, uid=u32, gid=u32, fsid=u32, nodeid=u64, device=u32),
    "attr64": tok("attr64", mode=u32, uid=u32, gid=u32, fsid=u32, nodeid=u64, device=u64),
    "arg_uuid": tok(
        "arg_uuid",
        num=u8,
        uuid=st.uuids().flatmap(lambda u: st.sampled_from([u, str(u)])),
        desc=strings,
    ),
    "ret_uuid": tok("ret_uuid", num=u8, uuid=st.uuids(), desc=strings),
    "identity": tok(
        "identity",
        signer_type=u32,
        signing_id=strings,
        signing_id_truncated=st.booleans(),
        team_id=strings,
        team_id_truncated=st.booleans(),
        cdhash=st.binary(max_size=64),
    ),
    "krb5_principal": tok("krb5_principal", principals=st.lists(list_strings, max_size=5)),
    "cert_hash": tok("cert_hash", hashes=st.lists(list_strings, max_size=5)),
}
for _name, _wide, _ex in [
    ("32", False, False),
    ("64", True, False),
    ("32_ex", False, True),
    ("64_ex", True, True),
]:
    BODY[f"subject{_name}"] = _subject(f"subject{_name}", _wide, _ex)
    BODY[f"process{_name}"] = _subject(f"process{_name}", _wide, _ex)

headers = st.one_of(
    tok("header32", version=u8, event=u16, modifier=u16, seconds=u32, msec=u32),
    tok("header64", version=u8, event=u16, modifier=u16, seconds=u64, msec=u64),
    tok("header32_ex", version=u8, event=u16, modifier=u16, host=any_addr, seconds=u32, msec=u32),
    tok("header64_ex", version=u8, event=u16, modifier=u16, host=any_addr, seconds=u64, msec=u64),
    # An address type other than 4 or 16: no address bytes (§1.2).
    st.builds(
        lambda kind, t, s, m: {
            "type": kind,
            "version": 11,
            "event": 1,
            "modifier": 0,
            "host": None,
            "host_type": t,
            "seconds": s,
            "msec": m,
        },
        st.sampled_from(["header32_ex", "header64_ex"]),
        u32.filter(lambda t: t not in (4, 16)),
        u32,
        st.integers(0, 999),
    ),
)


@st.composite
def records(draw: st.DrawFn) -> list[Token]:
    body = draw(st.lists(st.sampled_from(sorted(BODY)).flatmap(lambda k: BODY[k]), max_size=8))
    rec = [draw(headers), *body]
    if draw(st.booleans()):
        rec.append({"type": "trailer", "magic": 0xB105, "size": 0})
    return rec


# ---------------------------------------------------------------------------------------
# Comparison: decoded dicts against what was written
# ---------------------------------------------------------------------------------------

ADDRESS_KEYS = {"addr", "laddr", "raddr", "src", "dst", "host"}


def _norm_value(key: str, v: Any) -> Any:
    if key in ADDRESS_KEYS and v is not None:
        return ipaddress.ip_address(v).packed
    if key == "uuid":
        return str(v)
    return v


def norm(t: Token) -> Token:
    """A token dict without its place and counts, addresses packed, UUIDs as text."""
    drop = {"offset", "id"}
    if t["type"].startswith("header") or t["type"] == "trailer":
        drop |= {"size", "magic"}
    return {k: _norm_value(k, v) for k, v in t.items() if k not in drop}


def expected(rec: list[Token]) -> list[Token]:
    out = [norm(t) for t in rec]
    if out[-1]["type"] != "trailer":
        out.append({"type": "trailer"})
    return out


def check_record(r: bsmtrail.Record, written: list[Token]) -> None:
    tokens = r.tokens
    assert [norm(t) for t in tokens] == expected(written)
    assert tokens[0]["size"] == tokens[-1]["size"] == r.size == len(r.raw)
    assert tokens[-1]["magic"] == 0xB105
    assert all(t["id"] == bsmtrail_ids[t["type"]] for t in tokens)


bsmtrail_ids = {name: i for i, name in bsmtrail.token_ids().items()}


# ---------------------------------------------------------------------------------------
# Round trips
# ---------------------------------------------------------------------------------------


def test_every_decoded_type_has_a_strategy() -> None:
    names = set(bsmtrail.token_ids().values())
    assert names - {"header32", "header32_ex", "header64", "header64_ex", "trailer"} == set(BODY)


@pytest.mark.parametrize("name", sorted(BODY))
@PROFILE
@given(data=st.data())
def test_each_token_type_round_trips(name: str, data: st.DataObject) -> None:
    rec = [data.draw(headers), data.draw(BODY[name]), data.draw(BODY[name])]
    out = io.BytesIO()
    result = write_trail(out, [rec])
    assert result.records == 1 and result.bytes == len(out.getvalue())
    (r,) = list(bsmtrail.open(out.getvalue()))
    check_record(r, rec)
    # The decoded dicts write back to the same bytes.
    assert encode_record(r.tokens) == r.raw


@PROFILE
@given(
    recs=st.lists(records(), min_size=1, max_size=12),
    # A standalone file token's name is one C string: a NUL inside is damage to checked
    # framing (tests/test_hostile.py), so names come without one.
    files=st.lists(tok("file", seconds=u32, msec=u32, name=list_strings), max_size=2),
)
def test_trails_round_trip(recs: list[list[Token]], files: list[Token]) -> None:
    items: list[Any] = [*files[:1], *recs, *files[1:]]
    out = io.BytesIO()
    result = write_trail(out, items)
    assert (result.records, result.file_tokens) == (len(recs), len(files))
    trail = bsmtrail.open(out.getvalue())
    assert trail.scan().ok
    read = list(trail)
    assert len(read) == len(recs)
    for r, rec in zip(read, recs, strict=True):
        check_record(r, rec)
    assert [norm(t) for t in trail.file_tokens()] == [norm(f) for f in files]
    # Records read back, as objects and as raw bytes, are copied as they are.
    again = io.BytesIO()
    mixed = [r if i % 2 else r.raw for i, r in enumerate(read)]
    write_trail(again, [*files[:1], *mixed, *files[1:]])
    assert again.getvalue() == out.getvalue()


def test_shared_trails_reproduced_exactly(shared_trails: dict[str, Path], tmp_path: Path) -> None:
    for name, path in shared_trails.items():
        data = path.read_bytes()
        recs = list(bsmtrail.open(path))
        # As Record objects, as raw bytes, and rebuilt from their token dicts.
        for label, items in [
            ("records", recs),
            ("raw", [r.raw for r in recs]),
            ("dicts", [r.tokens for r in recs]),
            ("whole", [data]),
        ]:
            out = tmp_path / f"{name}.{label}.bsm"
            result = write_trail(out, items)
            assert out.read_bytes() == data, (name, label)
            assert result.records == len(recs) and result.bytes == len(data)


def test_demo_trail_reproduced_from_dicts() -> None:
    data = bsmtrail.demo_path().read_bytes()
    trail = bsmtrail.open(data)
    files = trail.file_tokens()
    by_offset: list[tuple[int, Any]] = [(f["offset"], f) for f in files]
    by_offset += [(r.offset, r.tokens) for r in trail]
    out = io.BytesIO()
    write_trail(out, [item for _, item in sorted(by_offset, key=lambda x: x[0])])
    assert out.getvalue() == data


def test_maximum_and_empty_strings() -> None:
    longest = "x" * 65534  # plus libbsm's NUL: the u16 length is full
    for field, type_ in [("text", "text"), ("path", "path"), ("zone", "zonename")]:
        for value in ["", longest]:
            rec = [{"type": "header64", "event": 1, "seconds": 1}, {"type": type_, field: value}]
            (r,) = list(bsmtrail.open(encode_record(rec)))
            assert r.tokens[1][field] == value
        with pytest.raises(EncodeError) as e:
            encode_record(
                [
                    {"type": "header32", "event": 1, "seconds": 1},
                    {"type": type_, field: longest + "x"},
                ]
            )
        assert (e.value.reason, e.value.token) == ("too_long", 1)
    # bytes are verbatim: the full 65535 bytes fit, without a NUL.
    raw = encode_token({"type": "text", "text": b"y" * 65535})
    assert raw[:3] == b"\x28\xff\xff" and len(raw) == 65538


def test_str_and_bytes_rules() -> None:
    assert encode_token({"type": "text", "text": "ab"}) == b"\x28\x00\x03ab\x00"
    assert encode_token({"type": "text", "text": b"ab"}) == b"\x28\x00\x02ab"
    # surrogateescape gives undecodable bytes back
    assert encode_token({"type": "path", "path": "a\udcff"}) == b"\x23\x00\x03a\xff\x00"
    assert encode_token({"type": "exec_args", "args": ["ls", b"-l"]}) == (
        b"\x3c\x00\x00\x00\x02ls\x00-l\x00"
    )
    assert encode_token({"type": "sockunix", "family": 1, "path": "/s"}) == b"\x82\x00\x01/s\x00"
    # negative numbers are two's complement of the field
    t = encode_token({"type": "return32", "status": 2, "value": -1})
    assert t == b"\x27\x02\xff\xff\xff\xff"


# ---------------------------------------------------------------------------------------
# RecordBuilder
# ---------------------------------------------------------------------------------------


def test_record_builder_every_helper() -> None:
    u = uuid.UUID("5a62ea53-d41c-11e6-c8a3-25009d4bb49c")
    b = (
        RecordBuilder(event=23, time=datetime(2024, 1, 2, 3, 4, 5, 678_000, timezone.utc))
        .exec_args(["ls", "-la"])
        .exec_env(["HOME=/root"])
        .path("/bin/ls")
        .attr(0o100755, 0, 0, 90, 12345, 7)
        .attr(0o100755, 0, 0, 90, 12345, 1 << 40, bits=64)
        .subject(501, egid=20, pid=4242, sid=100004)
        .subject(501, egid=20, pid=1, sid=2, port=1 << 40, addr="2001:db8::10")
        .process(0, pid=77, addr="10.0.0.1", ex=True)
        .process(0, pid=77, bits=64)
        .arg(1, 0xDEAD, "fd")
        .arg(2, 1 << 40, "addr", bits=64)
        .arg_uuid(1, u, "session")
        .ret_uuid(0, str(u))
        .text("hello")
        .zone("global")
        .opaque(b"\x01\x02")
        .data([1, 2, 3], unit=1, print_format=2)
        .groups([20, 12, 61])
        .seq(42)
        .ipc(1, 65536)
        .ipc_perm(0, 0, 0, 0, 0o600, 1, 0x1234)
        .in_addr("192.0.2.1")
        .in_addr("2001:db8::1")
        .iport(22)
        .socket(2, 22, "10.0.0.1", 50000, "10.0.0.2")
        .socket_ex(2, 1, 22, "2001:db8::1", 50000, "2001:db8::2")
        .sock_inet(443, "203.0.113.5")
        .sock_inet(443, "2001:db8::5")
        .sock_unix("/var/run/syslog")
        .privset("effective", "proc_setid")
        .upriv(True, "proc_setid")
        .identity("com.apple.ls", bytes(20))
        .krb5_principal(["alice@EXAMPLE.COM"])
        .cert_hash(["abcd"])
        .file("/var/audit/x", 5)
        .exit(0, 0)
        .return_(0, 0)
        .return_(13, -1, bits=64)
    )
    rec = bsmtrail.parse_record(b.build())
    types = [t["type"] for t in rec.tokens]
    assert types == [t["type"] for t in b.tokens] + ["trailer"]
    assert {*types} >= {"subject64_ex", "process32_ex", "process64", "in_addr_ex", "sockinet128"}
    assert (rec.seconds, rec.msec, rec.event) == (1704164645, 678, 23)
    toks = rec.tokens
    assert toks[7]["addr"] == "2001:db8::10" and toks[7]["port"] == 1 << 40
    assert toks[13]["uuid"] == str(u)
    assert toks[17]["values"] == [1, 2, 3] and toks[17]["data"] == b"\x01\x00\x02\x00\x03\x00"
    assert toks[-1]["type"] == "trailer" and toks[-2] | {"offset": 0} == {
        "type": "return64",
        "id": 0x72,
        "offset": 0,
        "status": 13,
        "value": (1 << 64) - 1,
    }


def test_record_builder_headers_and_times() -> None:
    cases: list[tuple[dict[str, Any], str, tuple[int, int], str | None]] = [
        ({"time": 1_700_000_000}, "header32", (1_700_000_000, 0), None),
        ({"time": 1_700_000_000.25}, "header32", (1_700_000_000, 250), None),
        ({"time": (5, 999), "host": "10.1.2.3"}, "header32_ex", (5, 999), "10.1.2.3"),
        (
            {"time": 7, "header": "header64_ex", "host": b"\x20\x01" + bytes(14)},
            "header64_ex",
            (7, 0),
            "2001::",
        ),
        ({"time": datetime(1970, 1, 1, 0, 0, 1)}, "header32", (1, 0), None),
        ({"time": -1, "header": "header64"}, "header64", ((1 << 64) - 1, 0), None),
    ]
    for kwargs, kind, (sec, msec), host in cases:
        rec = bsmtrail.parse_record(RecordBuilder(1, **kwargs).build())
        assert (rec.header_type, rec.seconds, rec.msec, rec.host) == (kind, sec, msec, host)
    rec = bsmtrail.parse_record(RecordBuilder(45000, modifier=0x4000, version=10).build())
    assert (rec.modifier, rec.version, rec.size) == (0x4000, 10, 25)
    assert abs(rec.seconds - datetime.now(timezone.utc).timestamp()) < 60


def test_write_trail_paths_files_and_builders(tmp_path: Path) -> None:
    b = RecordBuilder(1, time=1).text("x")
    path = tmp_path / "out.bsm"
    result = write_trail(path, [b, b.build(), {"type": "file", "seconds": 1, "name": "t"}])
    assert (result.records, result.file_tokens) == (2, 1)
    data = path.read_bytes()
    assert result.bytes == len(data) == 2 * 30 + 11 + 2
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert write_trail(str(tmp_path / "s.bsm"), iter([b])).records == 1
    with (tmp_path / "f.bsm").open("wb") as f:
        write_trail(f, (b for _ in range(3)))
    assert len(list(bsmtrail.open(tmp_path / "f.bsm"))) == 3
    # Big outputs go out in pieces.
    many = write_trail(tmp_path / "big.bsm", [b.build()] * 50_000)
    assert many.bytes == 50_000 * 30 == (tmp_path / "big.bsm").stat().st_size


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------

H: Token = {"type": "header32", "event": 1, "seconds": 0}
DATA: Token = {"type": "arbitrary", "print_format": 0, "unit": 0}


@pytest.mark.parametrize(
    ("record", "reason", "token", "field"),
    [
        ([], "missing_header", None, None),
        ([{"type": "text", "text": "x"}], "missing_header", 0, None),
        ([H, {"type": "nope"}], "unknown_type", 1, "type"),
        ([H, {"text": "x"}], "missing_field", 1, "type"),
        ([H, {"type": "text", "id": 0x23, "text": "x"}], "id_mismatch", 1, "id"),
        ([H, {"type": "path"}], "missing_field", 1, "path"),
        ([H, {"type": "path", "path": 3}], "bad_field", 1, "path"),
        ([H, {"type": "seq", "seq": 1 << 32}], "out_of_range", 1, "seq"),
        ([H, {"type": "seq", "seq": "1"}], "bad_field", 1, "seq"),
        ([H, {"type": "seq", "seq": 1.0}], "bad_field", 1, "seq"),
        ([H, {"type": "in_addr", "addr": "::1"}], "address", 1, "addr"),
        ([H, {"type": "in_addr", "addr": "1.2.3"}], "bad_field", 1, "addr"),
        ([H, {"type": "in_addr", "addr": b"abc"}], "bad_field", 1, "addr"),
        ([H, {"type": "opaque", "data": "text"}], "bad_field", 1, "data"),
        ([H, {"type": "exec_args", "args": "ls"}], "bad_field", 1, "args"),
        ([H, {"type": "exec_args", "args": ["a\0b"]}], "str_list", 1, "args"),
        ([H, {"type": "sockunix", "family": 1, "path": "x" * 109}], "sock_unix_path", 1, None),
        ([H, {"type": "groups", "gids": list(range(17))}], "too_long", 1, "gids"),
        ([H, {**DATA, "unit": 9, "values": []}], "bad_data_unit", 1, None),
        ([H, {**DATA, "data": b"ab", "values": [1]}], "bad_field", 1, "values"),
        ([H, {**DATA, "unit": 1, "data": b"abc"}], "data_length", 1, None),
        ([H, {**DATA}], "missing_field", 1, "data"),
        ([H, {"type": "arg_uuid", "num": 1, "uuid": "xyz", "desc": ""}], "bad_field", 1, "uuid"),
        ([H, {**H}], "misplaced_header", 1, None),
        ([H, {"type": "trailer"}, {"type": "seq", "seq": 1}], "misplaced_trailer", 1, None),
        ([H, "text"], "bad_item", 1, None),
        ([{**H, "seconds": 1 << 32}], "out_of_range", 0, "seconds"),
        ([{**H, "host": "10.0.0.1"}], "bad_field", 0, "host"),
        ([{**H, "type": "header32_ex"}], "missing_field", 0, "host"),
        ([{**H, "type": "header32_ex", "host": None, "host_type": 4}], "bad_field", 0, "host_type"),
        ([H, {"type": "subject32", "auid": 0, "euid": 0, "egid": 0, "ruid": 0, "rgid": 0,
              "pid": 0, "sid": 0, "port": 0, "addr": "::1"}], "address", 1, "addr"),
        ([H, {"type": "subject32", "auid": 0, "euid": 0, "egid": 0, "ruid": 0, "rgid": 0,
              "pid": 0, "sid": 0, "port": 1 << 32, "addr": "1.2.3.4"}], "out_of_range", 1, "port"),
        ([H, {"type": "socket_ex", "domain": 2, "sock_type": 1, "lport": 1, "laddr": "::1",
              "rport": 2, "raddr": "1.2.3.4"}], "address", 1, "raddr"),
    ],
)  # fmt: skip
def test_errors(record: list[Any], reason: str, token: int | None, field: str | None) -> None:
    with pytest.raises(EncodeError) as e:
        write_trail(io.BytesIO(), [[{**H}], record])
    err = e.value
    assert isinstance(err, ValueError)
    assert (err.reason, err.record, err.token, err.field) == (reason, 1, token, field)
    assert str(err).startswith("record 1")


def test_bad_items_and_raw_bytes(tmp_path: Path) -> None:
    good = RecordBuilder(1, time=0).build()
    cases: list[tuple[object, str]] = [
        (good[:-1], "bad_record_bytes"),
        (good + b"\x00", "bad_record_bytes"),
        (b"", "bad_record_bytes"),
        (good[:-4] + b"\x00\x00\x00\x01", "bad_record_bytes"),  # trailer count disagrees
        ({"type": "text", "text": "x"}, "bad_item"),
        (42, "bad_item"),
    ]
    for item, reason in cases:
        path = tmp_path / "t.bsm"
        with pytest.raises(EncodeError) as e:
            write_trail(path, [good, item])
        assert (e.value.reason, e.value.record) == (reason, 1), item
        # Atomic: nothing left behind.
        assert list(tmp_path.iterdir()) == []


def test_records_must_be_an_iterable_of_records() -> None:
    data = RecordBuilder(1, time=0).build()
    with pytest.raises(EncodeError, match=r"pass \[data\]") as e:
        write_trail(io.BytesIO(), data)  # type: ignore[arg-type]
    assert e.value.reason == "bad_item"
    out = io.BytesIO()
    assert write_trail(out, [data]).records == 1 and out.getvalue() == data


def test_errors_pickle_and_python_errors_pass_through() -> None:
    import pickle

    with pytest.raises(EncodeError) as e:
        encode_record([H, {"type": "seq"}])
    again = pickle.loads(pickle.dumps(e.value))
    assert (again.reason, again.token, again.field, str(again)) == (
        "missing_field",
        1,
        "seq",
        str(e.value),
    )

    def boom() -> Any:
        yield [H]
        raise RuntimeError("from the iterable")

    with pytest.raises(RuntimeError, match="from the iterable"):
        write_trail(io.BytesIO(), boom())

    class Failing(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, b: Any) -> int:
            raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_trail(Failing(), [[H]])  # type: ignore[arg-type]


def test_short_writes_are_completed() -> None:
    class Trickle(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b: Any) -> int:
            self.data += bytes(b)[:7]
            return min(7, len(b))

    sink = Trickle()
    rec = RecordBuilder(1, time=0).text("hello").build()
    write_trail(sink, [rec] * 3)  # type: ignore[arg-type]
    assert bytes(sink.data) == rec * 3

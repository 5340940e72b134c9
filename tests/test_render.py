"""The Python rendering API (``bsmtrail.render``) and the user/group databases
(``bsmtrail.userdb``): inputs, options, opt-ins and their documented differences from
praudit. Byte-exact praudit compatibility is ``test_render_golden.py``."""

from __future__ import annotations

import os
import struct
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from bsmtrail import BSMWarning, userdb
from bsmtrail.render import XML_FOOTER, XML_HEADER, Renderer, render, render_text

T0 = 1230477138  # Sun Dec 28 15:12:18 2008 UTC


def record(*tokens: bytes, event: int = 45029) -> bytes:
    """header32 + tokens + trailer with the right byte counts."""
    n = 18 + sum(len(t) for t in tokens) + 7
    head = struct.pack(">BIBHHII", 0x14, n, 11, event, 0, T0, 131)
    return head + b"".join(tokens) + struct.pack(">BHI", 0x13, 0xB105, n)


def text(s: bytes) -> bytes:
    return struct.pack(">BH", 0x28, len(s)) + s


def subject(auid: int, euid: int, egid: int) -> bytes:
    return struct.pack(">B7II4s", 0x24, auid, euid, egid, euid, egid, 11, 100000, 11, b"\0" * 4)


def identity(signing_id: bytes, cdhash: bytes) -> bytes:
    return (
        struct.pack(">BIH", 0xED, 1, len(signing_id) + 1)
        + signing_id
        + b"\0\0"
        + struct.pack(">H", 1)
        + b"\0\0"
        + struct.pack(">H", len(cdhash))
        + cdhash
    )


@pytest.fixture
def tables(etc_dir: Path) -> dict[str, object]:
    return {
        "events": etc_dir / "audit_event",
        "users": etc_dir / "passwd",
        "groups": etc_dir / "group",
        "utc": True,
    }


def test_every_input_kind_renders_the_same(
    shared_trails: dict[str, Path], tables: dict[str, object]
) -> None:
    path = shared_trails["apple"]
    data = path.read_bytes()
    r = Renderer(oneline=True, **tables)  # type: ignore[arg-type]
    expected = r.render(path)
    assert expected.count(b"\n") == 54
    for source in (str(path), data, bytearray(data), memoryview(data)):
        assert r.render(source) == expected
    assert b"".join(r.chunks(path, chunk_size=100)) == expected
    assert render(path, oneline=True, **tables) == expected


def test_render_record_and_text(tables: dict[str, object]) -> None:
    rec = record(text(b"caf\xe9\0"))
    r = Renderer(**tables)  # type: ignore[arg-type]
    assert r.render_record(rec).splitlines()[1] == b"text,caf\xe9"
    s = render_text(rec, **tables)
    assert s.splitlines()[1] == "text,caf\udce9"
    assert s.encode("utf-8", "surrogateescape") == render(rec, **tables)


def test_raw_and_short_exclude_each_other() -> None:
    with pytest.raises(ValueError, match="mutually exclusive"):
        Renderer(raw=True, short=True)


def test_xml_document_has_prologue_and_epilogue(tables: dict[str, object]) -> None:
    out = render(record(text(b"hi\0")), xml=True, **tables)
    assert out.startswith(XML_HEADER)
    assert out.endswith(b"</record>\n" + XML_FOOTER)
    r = Renderer(xml=True, **tables)  # type: ignore[arg-type]
    assert r.document([record(), record()]).count(b"<record ") == 2


def test_delimiter_and_names(tables: dict[str, object]) -> None:
    rec = record(subject(0xFFFFFFFF, 501, 20))
    line = render(rec, oneline=True, delimiter="::", **tables).decode()
    assert "::subject::-1::alice::staff::alice::staff::11::" in line
    assert line.endswith("::\n")
    # Tables given directly: mapping or pairs, first entry per id wins.
    r = Renderer(users={501: "bob"}, groups=[(20, b"grp"), (20, b"other")], utc=True)
    assert b"subject,-1,bob,grp,bob,grp," in r.render(rec)
    # Unknown ids, -n and -r print numbers.
    assert b"subject,-1,501,20,501,20," in Renderer(users={}, groups={}).render(rec)
    assert b"subject,-1,501,20,501,20," in render(rec, numeric=True, **tables)


def test_default_tables_are_the_system_and_stock_ones() -> None:
    import pwd

    rec = record(subject(0, 0, 0))
    out = Renderer(utc=True).render(rec)
    assert b",audit crash recovery," in out
    root = pwd.getpwuid(0).pw_name.encode()
    assert b"subject," + root + b"," in out


def test_event_table_forms(etc_dir: Path) -> None:
    rec = record(event=45029)
    assert b",AUE_audit_recovery," in render(rec, short=True, events=etc_dir / "audit_event")
    custom = render(rec, short=True, events=[(45029, b"AUE_X", b"x"), (45029, b"AUE_Y", b"y")])
    assert b",AUE_X," in custom
    assert b",45029," in render(rec, events=[])


def test_local_time_zone_honours_tz() -> None:
    old = os.environ.get("TZ")
    os.environ["TZ"] = "XST+5"
    time.tzset()
    try:
        out = Renderer(users={}, groups={}).render(record())
        assert b",Sun Dec 28 10:12:18 2008, + 131 msec" in out
        assert b",Sun Dec 28 15:12:18 2008," in Renderer(utc=True).render(record())
    finally:
        if old is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = old
        time.tzset()


def test_resync_and_streaming(tables: dict[str, object]) -> None:
    trail = record(text(b"a\0")) + record(text(b"b\0"))
    junk = b"\x01\x02\x15\x00" + trail
    r = Renderer(oneline=True, **tables)  # type: ignore[arg-type]
    assert r.render(junk) == b""
    assert r.render(junk, resync=True) == r.render(trail)
    assert r.render(b"\0" * 100, resync=True) == b""
    stream = r.stream(resync=True)
    out = b"".join(stream.feed(junk[i : i + 3]) for i in range(0, len(junk), 3))
    assert out == r.render(trail)
    assert not stream.done
    assert stream.feed(b"\x00garbage") == b""
    assert stream.done
    assert stream.feed(record()) == b""


def test_strict_xml_is_well_formed(
    shared_trails: dict[str, Path], tables: dict[str, object]
) -> None:
    odd = record(
        text(b"<&>\x01\xff\0"),
        struct.pack(">BH", 0x3B, 2) + struct.pack(">II", 0, 20),
        struct.pack(">BBI", 0x22, 1, 7),
        struct.pack(">BBBB", 0x21, 9, 0, 0),
        struct.pack(">BBB", 0x21, 4, 0) + b"\x01a\0",
    )
    sources: list[object] = [*shared_trails.values(), odd]
    for src in sources:
        doc = render(src, xml=True, xml_strict=True, **tables)  # type: ignore[arg-type]
        ET.fromstring(doc)
    # The praudit-compatible XML is not well-formed (<IPCipc-type, <group> ...).
    with pytest.raises(ET.ParseError):
        ET.fromstring(render(shared_trails["openbsm"], xml=True, **tables))


def test_apple_tokens(tables: dict[str, object]) -> None:
    cdhash = bytes(range(20))
    rec = record(struct.pack(">BBI", 0x27, 0, 0), identity(b"com.apple.x", cdhash))
    up = render(rec, **tables).splitlines()
    assert up[2].startswith(b"unknown,0x00000001000c636f6d2e6170706c652e78")
    assert up[3].startswith(b"trailer,")
    dec = render(rec, apple=True, **tables).splitlines()
    assert dec[2] == b"identity,1,com.apple.x,complete,,complete,0x" + cdhash.hex().encode()
    raw = render(rec, apple=True, raw=True, **tables).splitlines()
    assert raw[2].startswith(b"237,1,com.apple.x,complete,")
    xml = render(rec, apple=True, xml=True, **tables)
    assert b'<identity signer-type="1" signing-id="com.apple.x" ' in xml
    empty = record(identity(b"", b""))
    line = render(empty, apple=True, apple_empty_cdhash=b"0x", **tables).splitlines()[1]
    assert line == b"identity,1,,complete,,complete,0x"


def test_userdb_parsers(tmp_path: Path) -> None:
    passwd = (
        b"# comment\n"
        b"root:*:0:0:System Administrator:/var/root:/bin/sh\n"
        b"+nis::::::\n"
        b"toor:*:0:0::/:/bin/sh\n"
        b"nobody:*:-2:-2::/:/usr/bin/false\n"
        b"broken:*:x:1::/:/bin/sh\n"
        b"short:*\n"
        b"\n"
    )
    # A line without a valid id is skipped, as the C library does, and named.
    with pytest.warns(BSMWarning, match=r"evidence: 1 line\(s\) .* \(line 6\)"):
        users = userdb.parse_passwd(passwd, "evidence")
    assert users == [
        (0, b"root"),
        (0, b"toor"),
        (4294967294, b"nobody"),
    ]
    # An id no strtoul reads (a hostile 5000-digit one) is such a line, not a crash.
    huge = b"evil:*:" + b"9" * 5000 + b":0::/:/bin/sh\nok:*:18446744073709551615:0::/:/bin/sh\n"
    with pytest.warns(BSMWarning, match=r"\(line 1\)"):
        assert userdb.parse_passwd(huge) == [(0xFFFFFFFF, b"ok")]
    master = b"alice:$2b$x:501:20::0:0:Alice:/Users/alice:/bin/zsh\n"
    assert userdb.parse_passwd(master) == [(501, b"alice")]
    group = b"wheel:*:0:root\nstaff:*:20:\n#x:*:5:\nbad:*:\n"
    with pytest.warns(BSMWarning, match=r"\(line 4\)"):
        assert userdb.parse_group(group) == [(0, b"wheel"), (20, b"staff")]
    p = tmp_path / "passwd"
    p.write_bytes(passwd)
    with pytest.warns(BSMWarning, match=str(p)):
        assert userdb.resolve_users(p)[0] == (0, b"root")
    assert userdb.resolve_users({7: "x"}) == [(7, b"x")]
    assert userdb.resolve_groups([(-1, b"neg")]) == [(4294967295, b"neg")]
    assert (0, os.fsencode(__import__("pwd").getpwuid(0).pw_name)) in userdb.resolve_users(None)
    assert userdb.system_groups()

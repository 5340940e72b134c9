"""bsmtrail.events: the audit_event/audit_class/audit_control/audit_user databases.

Reference answers come from libbsm (``golden/masks.json``) and from the spec
(docs/bsm-format.md §6); the quirk files are written here by hand."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bsmtrail.events as ev
from bsmtrail.events import (
    AuditFlagsError,
    AuditMask,
    EventDatabase,
    EventDatabaseError,
    load_events,
)
from bsmtrail.events import _database as dbmod

DATA = Path(ev.__file__).resolve().parent.parent / "data"
STOCK_CLASSES = [
    "no", "fr", "fw", "fa", "fm", "fc", "fd", "cl", "pc", "nt",
    "ip", "na", "ad", "lo", "aa", "ap", "io", "ex", "ot", "all",
]  # fmt: skip


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No host configuration leaks in: no env vars, and an empty 'system' directory."""
    for var in (dbmod.ENV_EVENT, dbmod.ENV_CLASS, dbmod.ENV_CONTROL, dbmod.ENV_USER, dbmod.ENV_ETC):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(dbmod, "SYSTEM_DIR", tmp_path / "no-such-etc-security")
    ev.clear_cache()


@pytest.fixture(scope="module")
def stock(etc_dir: Path) -> EventDatabase:
    return EventDatabase.from_bytes(
        (etc_dir / "audit_event").read_bytes(),
        (etc_dir / "audit_class").read_bytes(),
        strict=True,
    )


@pytest.fixture(scope="module")
def masks_golden(golden_dir: Path) -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads((golden_dir / "masks.json").read_text())["cases"]
    return cases


def write(path: Path, text: bytes) -> Path:
    path.write_bytes(text)
    return path


# -- the embedded default ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["audit_event", "audit_class"])
def test_embedded_tables_are_openbsm_byte_for_byte(etc_dir: Path, name: str) -> None:
    assert (DATA / name).read_bytes() == (etc_dir / name).read_bytes()


def test_default_database_is_the_embedded_one() -> None:
    db = load_events()
    assert db.events.source == "<embedded>/audit_event"
    assert db.classes.source == "<embedded>/audit_class"
    assert db.problems == ()


def test_embedded_round_trip_reproduces_every_line(etc_dir: Path) -> None:
    db = load_events(strict=True)
    assert db.audit_event_bytes() == (etc_dir / "audit_event").read_bytes()
    assert db.audit_class_bytes() == (etc_dir / "audit_class").read_bytes()
    # And line by line: every entry re-emits to the line it came from.
    lines = (etc_dir / "audit_event").read_bytes().split(b"\n")
    entries = list(db.events)
    assert len(entries) == sum(1 for line in lines if line and not line.startswith(b"#"))
    for entry in entries:
        assert ev.format_event(entry) == lines[entry.line - 1]
    class_lines = (etc_dir / "audit_class").read_bytes().split(b"\n")
    assert [c.name for c in db.classes] == STOCK_CLASSES
    for klass in db.classes:
        assert ev.format_class(klass) == class_lines[klass.line - 1]


def test_strict_and_lenient_agree_on_stock_files(etc_dir: Path) -> None:
    strict = load_events(strict=True)
    lenient = load_events(strict=False)
    assert strict is not lenient
    assert list(strict.events) == list(lenient.events)
    assert list(strict.classes) == list(lenient.classes)
    assert strict.events.preselect_masks == lenient.events.preselect_masks
    assert lenient.praudit_entries() == strict.praudit_entries()


# -- lookups -------------------------------------------------------------------------------


def test_lookups(stock: EventDatabase) -> None:
    execve = stock[23]
    assert (execve.name, execve.description, execve.classes) == (
        "AUE_EXECVE",
        "execve(2)",
        ("pc", "ex"),
    )
    assert execve.mask == 0x40000080
    assert stock.get(45029) == stock.by_name("AUE_audit_recovery")
    assert stock.description(45029) == "audit crash recovery"
    assert stock.name(45029) == "AUE_audit_recovery"
    assert stock.number("AUE_audit_recovery") == 45029
    assert stock.get(44901) is None and 65535 not in stock and 23 in stock
    with pytest.raises(KeyError):
        stock[44901]
    with pytest.raises(KeyError):
        stock.number("AUE_NOPE")
    assert stock.class_mask("lo") == 0x1000
    assert stock.class_mask("all") == 0xFFFFFFFF
    assert stock.class_for_mask(0x40000000).name == "ex"  # type: ignore[union-attr]
    assert stock.class_for_mask(0x3) is None
    with pytest.raises(KeyError):
        stock.class_mask("zz")


def test_unknown_class_gives_mask_zero(stock: EventDatabase) -> None:
    # OpenBSM's own file uses the class 'ua', which audit_class does not define.
    kadmind = stock.by_name("AUE_kadmind_auth")
    assert kadmind is not None and kadmind.classes == ("ua",) and kadmind.mask == 0
    assert stock.unknown_classes() == {"ua": (6214, 6215)}


def test_duplicate_numbers_lookup_first_preselect_last(stock: EventDatabase) -> None:
    # 6171 is AUE_ftpd_logout (lo) and, later, AUE_DARWIN_audit_startup (ad).
    assert stock[6171].name == "AUE_ftpd_logout"
    assert stock.au_preselect(6171, stock.parse_flags("lo")) == 0
    assert stock.au_preselect(6171, stock.parse_flags("ad")) == 1


def test_events_in_class(stock: EventDatabase) -> None:
    exec_events = {e.name for e in stock.events_in_class("ex")}
    assert {"AUE_EXECVE", "AUE_EXEC", "AUE_MAC_EXECVE", "AUE_FEXECVE"} <= exec_events
    assert all(e.mask & 0x40000000 for e in stock.events_in_class("ex"))
    assert stock.events_in_class("no") == tuple(
        e for e in stock.events.by_number.values() if e.mask == 0
    )
    assert stock.events_in_class("all") == tuple(
        e for e in stock.events.by_number.values() if e.mask
    )
    with pytest.raises(KeyError):
        stock.events_in_class("zz")


# -- class masks against libbsm -----------------------------------------------------------


def test_masks_golden_has_every_case(masks_golden: list[dict[str, Any]]) -> None:
    assert len(masks_golden) == 22
    assert sum(len(c.get("preselect", [])) for c in masks_golden) == 20 * 40


@pytest.mark.parametrize("index", range(22))
def test_masks_golden(stock: EventDatabase, masks_golden: list[dict[str, Any]], index: int) -> None:
    case = masks_golden[index]
    if not case["valid"]:
        with pytest.raises(AuditFlagsError):
            stock.parse_flags(case["flags"])
        assert not ev.is_valid_flags(case["flags"], stock.classes)
        return
    mask = stock.parse_flags(case["flags"])
    assert mask == AuditMask(case["success_mask"], case["failure_mask"])
    for event, on_success, on_failure in case["preselect"]:
        assert stock.au_preselect(event, mask, ev.PRS_SUCCESS) == on_success, event
        assert stock.au_preselect(event, mask, ev.PRS_FAILURE) == on_failure, event
        assert stock.is_preselected(event, mask, success=True) is bool(on_success)
        assert stock.is_preselected(event, mask, success=False) is bool(on_failure)
    # The correct printer round-trips; the compat printer is what libbsm prints.
    assert stock.parse_flags(stock.format_flags(mask)) == mask
    compat = stock.format_flags_compat(mask)
    assert "+" not in compat and "-" not in compat


@pytest.mark.parametrize(
    ("flags", "success", "failure"),
    [
        ("lo,+ex,-fr,^fw", 0x40001000, 0x00001001),
        ("all,^-fa", 0xFFFFFFFF, 0xFFFFFFFB),
        ("-all,+lo", 0x00001000, 0xFFFFFFFF),
        ("fr,^-fr", 0x1, 0),
        ("^+fr", 0, 0),
        ("all,^fa", 0xFFFFFFFB, 0xFFFFFFFB),
        ("lo,,ex", 0x40001000, 0x40001000),
        (",lo,", 0x1000, 0x1000),
        ("", 0, 0),
        ("no", 0, 0),
    ],
)
def test_spec_mask_table(stock: EventDatabase, flags: str, success: int, failure: int) -> None:
    assert stock.parse_flags(flags) == AuditMask(success, failure)
    assert stock.parse_flags(flags.encode()) == AuditMask(success, failure)


@pytest.mark.parametrize(
    "flags",
    ["+^fr", " lo", "lo ", "lo, ex", "bogus", "^", "+", "-", "LO", "lo,bogus", "^^fr", "+-fr"],
)
def test_invalid_flag_strings_raise(stock: EventDatabase, flags: str) -> None:
    with pytest.raises(AuditFlagsError) as info:
        stock.parse_flags(flags)
    assert isinstance(info.value, ValueError)
    assert info.value.flags == flags


def test_invalid_flags_leave_half_built_masks(stock: EventDatabase) -> None:
    with pytest.raises(AuditFlagsError) as info:
        stock.parse_flags("lo,+ex,bogus,fr")
    assert info.value.item == "bogus"
    assert info.value.partial == AuditMask(0x40001000, 0x1000)


def test_compat_printer_reproduces_libbsm_bug(stock: EventDatabase) -> None:
    mask = stock.parse_flags("lo,+ex,-fr,^fw")
    assert stock.format_flags_compat(mask) == "fr,lo,ex"
    assert stock.parse_flags("fr,lo,ex") != mask  # which is why it is a bug
    assert stock.format_flags_compat(mask, verbose=True) == "file read,login_logout,exec"
    # 'all' is listed whenever one mask is all ones.
    assert stock.format_flags_compat(AuditMask(0xFFFFFFFF, 0)).endswith(",ot,all")
    assert stock.format_flags_compat(AuditMask()) == ""


@pytest.mark.parametrize(
    ("mask", "text"),
    [
        (AuditMask(0x40001000, 0x1001), "-fr,lo,+ex"),
        (AuditMask(0xFFFFFFFF, 0xFFFFFFFF), "all"),
        (AuditMask(0xFFFFFFFD, 0xFFFFFFFD), "all,^fw"),
        (AuditMask(0xFFFFFFFF, 0xFFFFFFFB), "all,^-fa"),
        (AuditMask(0x1000, 0), "+lo"),
        (AuditMask(), ""),
    ],
)
def test_correct_printer(stock: EventDatabase, mask: AuditMask, text: str) -> None:
    assert stock.format_flags(mask) == text
    assert stock.parse_flags(text) == mask


def test_correct_printer_uses_the_class_a_name_resolves_to() -> None:
    # A second 'ex' is invisible to parsing (the first match wins), so it must not be used.
    db = EventDatabase.from_bytes(
        b"", b"0x1:fr:r\n0x4:fa:a\n0x8:fm:m\n0x40000000:ex:exec\n0xc:ex:shadow\n", strict=False
    )
    mask = db.parse_flags("^+fr,,-fa,-fm,fm")
    assert mask == AuditMask(8, 12)
    assert db.parse_flags(db.format_flags(mask)) == mask


def test_correct_printer_refuses_unwritable_masks(tmp_path: Path) -> None:
    db = EventDatabase.from_bytes(
        b"1:AUE_X:x:lo\n", b"0x00001000:lo:login\n0x00000003:ab:two bits\n"
    )
    assert db.format_flags(AuditMask(0x1003, 0)) == "+lo,+ab"
    with pytest.raises(ValueError, match="cannot be written"):
        db.format_flags(AuditMask(0x1, 0))


_ITEM = st.tuples(
    st.sampled_from(["", "^"]),
    st.sampled_from(["", "+", "-"]),
    st.sampled_from(STOCK_CLASSES),
).map("".join)
_FLAGS = st.lists(st.one_of(_ITEM, st.just("")), max_size=12).map(",".join)


@settings(max_examples=300, deadline=None)
@given(flags=_FLAGS)
def test_property_valid_flags_print_and_parse_back(flags: str) -> None:
    db = load_events()
    mask = db.parse_flags(flags)
    text = db.format_flags(mask)
    assert db.parse_flags(text) == mask
    assert db.format_flags(db.parse_flags(text)) == text  # printing is canonical


# -- malformed lines: strict errors carry file and line -----------------------------------


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        (b"1:AUE_EXIT:exit(2):pc\n2\n", 2, "field"),
        (b"1:AUE_EXIT:exit(2):pc\n2:AUE_FORK\n", 2, "field"),
        (b"#c\n\n1:AUE_X:x:pc:extra\n", 3, "field"),
        (b"x:AUE_X:x:pc\n", 1, "0..65535"),
        (b"65536:AUE_X:x:pc\n", 1, "0..65535"),
        (b"-1:AUE_X:x:pc\n", 1, "0..65535"),
        (b"1:" + b"N" * 30 + b":x:pc\n", 1, "event name is 30 bytes"),
        (b"1:AUE_X:" + b"d" * 50 + b":pc\n", 1, "description is 50 bytes"),
        (b"100:AUE_A::lo\n", 1, "empty description"),
        (b"1:AUE_X:x:pc\r\n", 1, "carriage return"),
        (b"1:AUE_X:x\0:pc\n", 1, "NUL"),
        (b"1:AUE_X:" + b"d" * 40 + b":" + b"pc," * 70 + b"pc\n", 1, "line is"),
    ],
)
def test_audit_event_malformed_line(tmp_path: Path, body: bytes, line: int, reason: str) -> None:
    path = write(tmp_path / "audit_event", body)
    with pytest.raises(EventDatabaseError) as info:
        load_events(path, strict=True)
    err = info.value
    assert isinstance(err, ValueError)
    assert (err.source, err.line) == (str(path), line)
    assert str(err).startswith(f"{path}:{line}: ")
    assert reason in err.reason


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        (b"0x1:fr:file read\n0x2:fw\n", 2, "field"),
        (b"0x1:fr:file read\n0x2:fw::x\n", 2, "field"),
        (b"zz:fr:file read\n", 1, "C integer"),
        (b"0x100000000:fr:file read\n", 1, "32 bits"),
        (b"0x1:toolong1:file read\n", 1, "class name is 8 bytes"),
        (b"0x1:fr:" + b"d" * 72 + b"\n", 1, "description is 72 bytes"),
        (b"0x1:fr:file read\n0x2:fr:again\n", 2, "already defined on line 1"),
    ],
)
def test_audit_class_malformed_line(tmp_path: Path, body: bytes, line: int, reason: str) -> None:
    path = write(tmp_path / "audit_class", body)
    with pytest.raises(EventDatabaseError) as info:
        load_events(audit_class=path, strict=True)
    assert (info.value.source, info.value.line) == (str(path), line)
    assert reason in info.value.reason


def test_strict_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    event = write(tmp_path / "audit_event", b"# head: er\n\n   \n1:AUE_X:x:lo\n#\n2:AUE_Y:y:\n")
    klass = write(tmp_path / "audit_class", b"# classes\n\n0x00001000:lo:login\n")
    db = load_events(event, audit_class=klass, strict=True)
    assert [(e.number, e.name, e.mask) for e in db.events] == [
        (1, "AUE_X", 0x1000),
        (2, "AUE_Y", 0),
    ]
    assert db.audit_event_bytes() == event.read_bytes()


def test_lenient_records_problems_instead(tmp_path: Path) -> None:
    event = write(tmp_path / "audit_event", b"1:AUE_X:x:lo\n\n2\n3:AUE_Z:z:lo\n")
    db = load_events(event)
    assert [e.number for e in db.events] == [1, 3]  # lookups skip invalid lines
    assert [(p.source, p.line) for p in db.problems] == [(str(event), 2), (str(event), 3)]
    assert "au_preselect stops here" in db.problems[0].reason
    assert "au_preselect" not in db.problems[1].reason
    # au_preselect's enumeration stops at the blank line: event 3 is unknown to it.
    lo = db.parse_flags("lo")
    assert db.au_preselect(1, lo) == 1 and db.au_preselect(3, lo) == -1


def test_lenient_class_enumeration_stops_at_first_invalid_line(tmp_path: Path) -> None:
    klass = write(tmp_path / "audit_class", b"0x1:fr:file read\n\n0x1000:lo:login\n")
    db = load_events(audit_class=klass)
    assert [c.name for c in db.classes] == ["fr"]
    assert db.problems[0].line == 2
    with pytest.raises(AuditFlagsError):
        db.parse_flags("lo")
    # Class masks use C strtoul(..., 0): hex, octal and decimal, cut to 32 bits.
    klass2 = write(tmp_path / "audit_class2", b"010:oc:octal\n12:de:decimal\n0x1ffffffff:bg:big\n")
    db2 = load_events(audit_class=klass2)
    assert [(c.name, c.mask) for c in db2.classes] == [("oc", 8), ("de", 12), ("bg", 0xFFFFFFFF)]


# -- praudit's reading of audit_event (spec §6.1) ------------------------------------------


def praudit(tmp_path: Path, body: bytes) -> list[tuple[int, bytes, bytes]]:
    return load_events(write(tmp_path / "audit_event", body)).praudit_entries()


def test_praudit_entries_stock(stock: EventDatabase, etc_dir: Path) -> None:
    entries = stock.praudit_entries()
    assert len(entries) == 677
    assert entries[0] == (0, b"AUE_NULL", b"indir system call")
    first = {}
    for number, name, desc in entries:
        first.setdefault(number, (name, desc))
    assert first[45029] == (b"AUE_audit_recovery", b"audit crash recovery")
    assert first[6171] == (b"AUE_ftpd_logout", b"ftp logout")
    assert 44901 not in first
    assert load_events(etc_dir / "audit_event").praudit_entries() == entries


def test_praudit_empty_fields_vanish(tmp_path: Path) -> None:
    assert praudit(tmp_path, b"100:AUE_A::lo\n") == [(100, b"AUE_A", b"lo")]


def test_praudit_length_limits(tmp_path: Path) -> None:
    body = (
        b"1:" + b"N" * 29 + b":ok\n"
        b"2:" + b"N" * 30 + b":too long\n"
        b"3:AUE_D:" + b"d" * 49 + b"\n"
        b"4:AUE_E:" + b"d" * 50 + b"\n"
    )
    assert praudit(tmp_path, body) == [(1, b"N" * 29, b"ok"), (3, b"AUE_D", b"d" * 49)]


def test_praudit_atoi_truncated_to_16_bits(tmp_path: Path) -> None:
    body = b"65641:AUE_W:wrap\n-1:AUE_M:minus\nabc:AUE_Z:zero\n \t7x:AUE_S:space\n+8:AUE_P:plus\n"
    assert [e[0] for e in praudit(tmp_path, body)] == [105, 65535, 0, 7, 8]
    huge = b"99999999999999999999999:AUE_H:clamped\n"  # strtol clamps to LONG_MAX
    assert praudit(tmp_path, huge) == [(0xFFFF, b"AUE_H", b"clamped")]


def test_praudit_comment_lines_are_not_skipped(tmp_path: Path) -> None:
    body = b"# comment: 7:AUE_BOGUS\n# one colon only:\n0:AUE_NULL:indir system call:no\n"
    assert praudit(tmp_path, body) == [
        (0, b" 7", b"AUE_BOGUS"),
        (0, b"AUE_NULL", b"indir system call"),
    ]
    # Lenient lookups agree (first match wins); strict mode skips comments.
    path = tmp_path / "audit_event"
    assert load_events(path).name(0) == " 7"
    assert "comment line parses as event 0" in load_events(path).problems[0].reason
    assert load_events(path, strict=True).name(0) == "AUE_NULL"


def test_praudit_keeps_cr_and_missing_description(tmp_path: Path) -> None:
    body = b"5:AUE_CR:short\r\n6:AUE_NODESC\n7:AUE_CRNAME\r\n"
    assert praudit(tmp_path, body) == [
        (5, b"AUE_CR", b"short\r"),
        (6, b"AUE_NODESC", b""),
        (7, b"AUE_CRNAME\r", b""),
    ]


def test_praudit_invalid_lines_skipped(tmp_path: Path) -> None:
    body = b"\n7\n:::\n8:AUE_OK:ok:pc:extra:fields\n"
    assert praudit(tmp_path, body) == [(8, b"AUE_OK", b"ok")]


def test_praudit_256_byte_buffer_splits_long_lines(tmp_path: Path) -> None:
    head = b"1:AUE_LONG:"
    first = head + b"d" * (255 - len(head))  # 255 bytes: the first fgets chunk
    body = first + b"200:AUE_TAIL:tail\n" + b"2:AUE_NEXT:next\n"
    assert praudit(tmp_path, body) == [(200, b"AUE_TAIL", b"tail"), (2, b"AUE_NEXT", b"next")]
    # A 255-byte line: its newline is read as an empty (invalid) line of its own.
    short = b"3:AUE_S:" + b"s" * 40 + b":" + b"x" * (255 - 49)
    assert len(short) == 255
    assert praudit(tmp_path, short + b"\n4:AUE_T:t\n") == [
        (3, b"AUE_S", b"s" * 40),
        (4, b"AUE_T", b"t"),
    ]


def test_praudit_nul_ends_the_line(tmp_path: Path) -> None:
    assert praudit(tmp_path, b"9:AUE_N:nul\0:ignored\n10:AUE_M:m\n") == [
        (9, b"AUE_N", b"nul"),
        (10, b"AUE_M", b"m"),
    ]


def test_praudit_no_trailing_newline(tmp_path: Path) -> None:
    assert praudit(tmp_path, b"1:AUE_A:a\n2:AUE_B:b") == [(1, b"AUE_A", b"a"), (2, b"AUE_B", b"b")]


def test_praudit_entries_returns_a_copy(stock: EventDatabase) -> None:
    stock.praudit_entries().clear()
    assert stock.praudit_entries()


# -- where the database comes from --------------------------------------------------------


def test_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def tables(tag: bytes, d: Path) -> Path:
        d.mkdir()
        write(d / "audit_event", b"1:AUE_" + tag + b":x:lo\n")
        write(d / "audit_class", b"0x00001000:lo:" + tag + b"\n")
        return d

    system = tables(b"SYSTEM", tmp_path / "system")
    etc = tables(b"ETC", tmp_path / "etc")
    env = tables(b"ENV", tmp_path / "env")
    explicit = tables(b"EXPLICIT", tmp_path / "explicit")

    def current() -> tuple[str | None, str]:
        db = load_events()
        return db.name(1), db.classes.get("lo").description  # type: ignore[union-attr]

    assert current()[0] == "AUE_EXIT"  # embedded
    monkeypatch.setattr(dbmod, "SYSTEM_DIR", system)
    assert current() == ("AUE_SYSTEM", "SYSTEM")
    monkeypatch.setenv("BSMTRAIL_ETC", str(etc))
    assert current() == ("AUE_ETC", "ETC")
    monkeypatch.setenv("BSMTRAIL_AUDIT_EVENT", str(env / "audit_event"))
    assert current() == ("AUE_ENV", "ETC")
    monkeypatch.setenv("BSMTRAIL_AUDIT_CLASS", str(env / "audit_class"))
    assert current() == ("AUE_ENV", "ENV")
    db = load_events(explicit / "audit_event", audit_class=str(explicit / "audit_class"))
    assert (db.name(1), db.classes.get("lo").description) == ("AUE_EXPLICIT", "EXPLICIT")  # type: ignore[union-attr]
    with (explicit / "audit_event").open("rb") as fh:
        assert load_events(fh).name(1) == "AUE_EXPLICIT"
    monkeypatch.setenv("BSMTRAIL_AUDIT_EVENT", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match="BSMTRAIL_AUDIT_EVENT"):
        load_events()


def test_etc_dir_without_a_file_falls_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BSMTRAIL_ETC", str(tmp_path))
    assert load_events().events.source == "<embedded>/audit_event"


def test_cache(tmp_path: Path) -> None:
    path = write(tmp_path / "audit_event", b"1:AUE_A:a\n")
    first = load_events(path)
    assert load_events(str(path)) is first
    assert load_events(first) is first
    assert load_events() is load_events()
    write(path, b"1:AUE_B:bb\n")  # new size (and mtime): reloaded
    assert load_events(path).name(1) == "AUE_B"
    again = load_events(path)
    ev.clear_cache()
    assert load_events(path) is not again


def test_error_pickles() -> None:
    import pickle

    err = EventDatabaseError("f", 3, "bad")
    back = pickle.loads(pickle.dumps(err))
    assert (back.source, back.line, back.reason, str(back)) == ("f", 3, "bad", "f:3: bad")
    flags = pickle.loads(pickle.dumps(AuditFlagsError("lo,x", "x", AuditMask(1, 1))))
    assert (flags.item, flags.partial) == ("x", AuditMask(1, 1))


# -- audit_control and audit_user ----------------------------------------------------------

CONTROL = b"""#
# $FreeBSD$
#
dir:/var/audit
dist:off
flags:lo,aa
minfree:5
naflags:lo,aa
policy:cnt,argv
filesz:2M
expire-after:10M
"""


def test_audit_control_stock(stock: EventDatabase, tmp_path: Path) -> None:
    control = ev.load_control(write(tmp_path / "audit_control", CONTROL), stock.classes)
    assert control is not None
    assert control.dirs == ["/var/audit"]
    assert (control.flags, control.naflags) == ("lo,aa", "lo,aa")
    assert control.minfree == 5 and control.dist is False and control.host is None
    assert control.policy == 0x0001 | 0x0004
    assert control.filesz == 2 * 1024 * 1024
    assert control.expire_after == ev.ExpireAfter(0, 10 * 1024 * 1024, False)
    assert control.qsize is None
    assert control.line_of("flags") == 6


def test_audit_control_values(stock: EventDatabase) -> None:
    text = (
        b"dir:/a\ndir:/b  \t\nhost:example.net\ndist:YES\nexpire-after:10M and 1d\n"
        b"qsize:100\nsuperuser-set-sflags-mask:has_authenticated\n"
    )
    control = ev.parse_audit_control(text, stock.classes)
    assert control.dirs == ["/a", "/b"]
    assert control.host == "example.net" and control.dist is True
    assert control.expire_after == ev.ExpireAfter(86400, 10 * 1024 * 1024, True)
    assert control.qsize == 100
    assert control.get("superuser-set-sflags-mask") == "has_authenticated"
    assert control.flags == "" and "flags" not in control
    assert ev.parse_audit_control(b"expire-after:2y or 5G\n").expire_after == ev.ExpireAfter(
        2 * 86400 * 364, 5 << 30, False
    )


@pytest.mark.parametrize(
    ("value", "size"),
    [("-1", 2**64 - 1), ("+3M", 3 << 20), ("600KB", 600 << 10), ("0", 0), ("2 M", None)],
)
def test_filesz_is_sscanf_exact(value: str, size: int | None) -> None:
    # Answers from libbsm's getacfilesz (a minus sign wraps: size_t, as in C).
    control = ev.parse_audit_control(b"filesz:" + value.encode() + b"\n", strict=False)
    if size is None:
        with pytest.raises(ValueError):
            control.filesz  # noqa: B018
    else:
        assert control.filesz == size


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1y", ev.ExpireAfter(31449600, 0, False)),
        ("5y or 1G", ev.ExpireAfter(157334400, 1 << 30, False)),
        ("-1h", ev.ExpireAfter(-3600, 0, False)),
        ("10Mx", ev.ExpireAfter(0, 10 << 20, False)),
        ("10M and", None),
        ("10M maybe 1d", None),
        ("7q", None),
    ],
)
def test_expire_after_is_sscanf_exact(value: str, expected: ev.ExpireAfter | None) -> None:
    # Answers from libbsm's getacexpire.
    control = ev.parse_audit_control(b"expire-after:" + value.encode() + b"\n", strict=False)
    if expected is None:
        with pytest.raises(ValueError):
            control.expire_after  # noqa: B018
    else:
        assert control.expire_after == expected


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        (b"flags:lo,bogus\n", 1, "bogus"),
        (b"# c\nflags:lo\nflags:aa\n", 3, "already set on line 2"),
        (b"minfree:lots\n", 1, "percentage"),
        (b"policy:cnt,bogus\n", 1, "policy"),
        (b"policy:cnt,\n", 1, "policy"),
        (b"filesz:10\n", 1, "minimum"),
        (b"filesz:10X\n", 1, "unit"),
        (b"expire-after:10M maybe 1d\n", 1, "expire-after"),
        (b"qsize:100000\n", 1, "qsize"),
        (b"justakey\n", 1, "key:value"),
        (b"naflags:lo,aa\r\n", 1, "carriage return"),
    ],
)
def test_audit_control_malformed(
    stock: EventDatabase, tmp_path: Path, body: bytes, line: int, reason: str
) -> None:
    path = write(tmp_path / "audit_control", body)
    with pytest.raises(EventDatabaseError) as info:
        ev.load_control(path, stock.classes)
    assert (info.value.source, info.value.line) == (str(path), line)
    assert reason in str(info.value)


def test_audit_control_lenient_is_libbsm(stock: EventDatabase) -> None:
    control = ev.parse_audit_control(b"flags:lo\nflags:aa\n:::dir:x\nflags \n", strict=False)
    assert control.flags == "lo"  # the first one wins
    assert control.get("dir") == "x"


USERS = b"""# user:always:never
root:lo:no
alice:+ex,fr:aa
bob:all:all
"""


def test_audit_user_and_user_masks(stock: EventDatabase, tmp_path: Path) -> None:
    control = ev.parse_audit_control(b"flags:lo,aa\nnaflags:lo,-ad\n", stock.classes)
    users = ev.load_users(write(tmp_path / "audit_user", USERS), stock.classes)
    assert users is not None and len(users) == 3 and "alice" in users
    alice = users.get("alice")
    assert alice is not None and alice.always == AuditMask(0x40000001, 0x1) and alice.line == 3
    lo, aa, ad, ex, fr = (stock.class_mask(n) for n in ("lo", "aa", "ad", "ex", "fr"))
    assert stock.user_mask("root", control, users) == AuditMask(lo | aa, lo | aa)
    assert stock.user_mask("alice", control, users) == AuditMask(lo | ex | fr, lo | fr)
    assert stock.user_mask("bob", control, users) == AuditMask(0, 0)
    assert stock.user_mask("carol", control, users) == AuditMask(lo | aa, lo | aa)
    assert stock.user_mask(None, control, users) == AuditMask(lo, lo | ad)  # naflags
    assert stock.user_mask("carol") == AuditMask()  # no audit_control: nothing
    execve = stock.number("AUE_EXECVE")
    login = stock.number("AUE_login")  # class lo
    auth = next(e.number for e in stock.events_in_class("aa") if e.mask == aa)
    assert stock.user_preselected(execve, "alice", success=True, control=control, users=users)
    assert not stock.user_preselected(execve, "alice", success=False, control=control, users=users)
    assert not stock.user_preselected(execve, "carol", success=True, control=control, users=users)
    assert stock.user_preselected(auth, "carol", success=True, control=control, users=users)
    assert not stock.user_preselected(auth, "alice", success=True, control=control, users=users)
    assert not stock.user_preselected(login, "bob", success=True, control=control, users=users)
    assert stock.user_preselected(login, None, success=False, control=control, users=users)
    assert not stock.user_preselected(auth, None, success=True, control=control, users=users)


def test_preselector(stock: EventDatabase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "audit_control", b"flags:lo\nnaflags:ad\n")
    write(tmp_path / "audit_user", USERS)
    monkeypatch.setenv("BSMTRAIL_ETC", str(tmp_path))
    pre = ev.Preselector.load(stock)
    execve, login = stock.number("AUE_EXECVE"), stock.number("AUE_login")
    assert pre(execve, "alice", success=True) and not pre(execve, "alice", success=False)
    assert pre(login, "carol", success=False) and not pre(login, "bob", success=True)
    assert pre.mask(None) == stock.parse_flags("ad")
    assert pre.mask("alice") is pre.mask("alice")
    np = importlib.import_module("numpy")
    assert pre.array(np.array([execve, login]), "alice", False).tolist() == [False, True]
    empty = ev.Preselector(stock)
    assert empty.mask("root") == AuditMask() and not empty(login, "root", success=True)


@pytest.mark.parametrize(
    ("body", "line", "reason"),
    [
        (b"root:lo:\n", 1, "no empty field"),
        (b"root:lo\n", 1, "user:always:never"),
        (b"#\nroot:lo:no\nroot:aa:no\n", 3, "already listed on line 2"),
        (b"root:lo:bogus\n", 1, "bogus"),
        (b"root:+^lo:no\n", 1, "+^lo"),
        (b"r" * 50 + b":lo:no\n", 1, "user name is 50 bytes"),
    ],
)
def test_audit_user_malformed(
    stock: EventDatabase, tmp_path: Path, body: bytes, line: int, reason: str
) -> None:
    path = write(tmp_path / "audit_user", body)
    with pytest.raises(EventDatabaseError) as info:
        ev.load_users(path, stock.classes)
    assert (info.value.source, info.value.line) == (str(path), line)
    assert reason in str(info.value)


def test_audit_user_lenient_stops_at_first_invalid_line(stock: EventDatabase) -> None:
    users = ev.parse_audit_user(b"root:lo:no\n\nalice:ex:no\n", stock.classes, strict=False)
    assert [u.name for u in users] == ["root"]


def test_bad_system_flags_name_the_line(stock: EventDatabase) -> None:
    control = ev.parse_audit_control(b"\nflags:lo,nope\n", strict=False, source="ctl")
    with pytest.raises(EventDatabaseError) as info:
        stock.user_mask("root", control)
    assert (info.value.source, info.value.line) == ("ctl", 2)


def test_control_and_users_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert ev.load_control() is None and ev.load_users() is None
    write(tmp_path / "audit_control", CONTROL)
    write(tmp_path / "audit_user", USERS)
    monkeypatch.setenv("BSMTRAIL_ETC", str(tmp_path))
    control, users = ev.load_control(), ev.load_users()
    assert control is not None and control.flags == "lo,aa"
    assert users is not None and users.get("root") is not None


# -- vectorised lookups --------------------------------------------------------------------


def test_numpy_lookups_match_scalar(stock: EventDatabase) -> None:
    np = importlib.import_module("numpy")
    numbers = np.arange(65536, dtype=np.uint16)
    codes, names = stock.codes(numbers)
    masks = stock.class_masks(numbers)
    for n in range(65536):
        entry = stock.get(n)
        if entry is None:
            assert codes[n] == -1 and masks[n] == 0
        else:
            assert names[codes[n]] == entry.name and masks[n] == entry.mask
    wide = np.array([-1, 23, 65536, 70000], dtype=np.int64)
    assert stock.codes(wide, "description")[0].tolist()[::2] == [-1, -1]
    with pytest.raises(TypeError):
        stock.codes(np.array([1.5]))


def test_arrow_columns(stock: EventDatabase) -> None:
    pa = importlib.import_module("pyarrow")
    numbers = pa.array([23, None, 44901, 45029, 6171, 0], pa.uint16())
    cols = stock.arrow_columns(numbers)
    assert cols["name"].type == pa.dictionary(pa.int32(), pa.string())
    assert cols["name"].to_pylist() == [
        "AUE_EXECVE",
        None,
        None,
        "AUE_audit_recovery",
        "AUE_ftpd_logout",
        "AUE_NULL",
    ]
    assert cols["description"].to_pylist()[3] == "audit crash recovery"
    # Each event's classes, in audit_event's order, as a list (AUE_EXECVE is "pc,ex").
    assert cols["classes"].to_pylist() == [
        None if n is None or stock.get(n) is None else list(stock.get(n).classes)  # type: ignore[union-attr]
        for n in numbers.to_pylist()
    ]
    assert cols["classes"].to_pylist()[0] == ["pc", "ex"]
    assert cols["classes"].type == pa.list_(pa.dictionary(pa.int32(), pa.string()))
    assert cols["mask"].type == pa.uint32()
    assert cols["mask"].to_pylist() == [0x40000080, None, None, 0x800, 0x1000, 0]
    # Dictionaries are built once per database and shared by every call.
    again = stock.arrow_columns(pa.array([1], pa.uint16()), ("name",))
    assert again["name"].dictionary.equals(cols["name"].dictionary)
    assert set(again) == {"name"}
    chunked = stock.arrow_columns(pa.chunked_array([numbers[:2], numbers[2:]]), ("name", "mask"))
    assert chunked["name"].to_pylist() == cols["name"].to_pylist()
    assert chunked["mask"].num_chunks == 2
    np = importlib.import_module("numpy")
    from_numpy = stock.arrow_columns(np.array([23, 7], dtype=np.uint16), ("name",))
    assert from_numpy["name"].to_pylist() == ["AUE_EXECVE", "AUE_EXEC"]
    with pytest.raises(ValueError, match="unknown event column"):
        stock.arrow_columns(numbers, ("nope",))


def test_arrow_dictionary_index_in_matches(stock: EventDatabase) -> None:
    pa = importlib.import_module("pyarrow")
    pc = importlib.import_module("pyarrow.compute")
    numbers = pa.array([23, 1, 23], pa.uint16())
    names = stock.arrow_columns(numbers, ("name",))["name"]
    position = pc.index_in(pa.array(["AUE_EXECVE"]), value_set=names.dictionary).to_pylist()[0]
    assert names.dictionary[position].as_py() == "AUE_EXECVE"
    assert pc.equal(names.cast(pa.string()), "AUE_EXECVE").to_pylist() == [True, False, True]


def test_arrow_non_utf8_names_become_binary(tmp_path: Path) -> None:
    pa = importlib.import_module("pyarrow")
    db = EventDatabase.from_bytes(b"1:AUE_\xff:x:lo\n", b"0x1000:lo:login\n", strict=False)
    col = db.arrow_columns(pa.array([1], pa.uint16()), ("name",))["name"]
    assert col.type == pa.dictionary(pa.int32(), pa.binary())
    assert col.to_pylist() == [b"AUE_\xff"]
    assert db.praudit_entries() == [(1, b"AUE_\xff", b"x")]


def test_vectorised_preselection(stock: EventDatabase) -> None:
    np = importlib.import_module("numpy")
    mask = stock.parse_flags("+ex,-lo")
    numbers = np.array([23, 23, 6171, 6171, 44901], dtype=np.uint16)
    success = np.array([True, False, True, False, True])
    expected = [
        stock.is_preselected(int(n), mask, success=bool(s))
        for n, s in zip(numbers, success, strict=True)
    ]
    assert stock.preselected_array(numbers, mask, success).tolist() == expected
    assert stock.preselected_array(numbers, mask, True).tolist() == [
        True,
        True,
        False,
        False,
        False,
    ]


def test_environment_is_clean() -> None:
    assert "BSMTRAIL_ETC" not in os.environ

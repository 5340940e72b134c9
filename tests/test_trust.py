"""Regression tests for the analyst-trust rules through the Python API: selection sees the
whole record, inputs are what the user meant (compressed, directories, links, non-trails),
nothing comes back empty without a word, outputs never overwrite inputs and appear whole
or not at all, reading then writing a trail is lossless, verify means damage."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import struct
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

import bsmtrail
import bsmtrail.chunks
import bsmtrail.dask
from bsmtrail.arrow import iter_trails, read_trails
from bsmtrail.outputs import OutputError, atomic_directory, atomic_file, check_output
from bsmtrail.select import SelectionError, reduce, selection
from bsmtrail.sources import expand, materialize, sniff
from bsmtrail.writer import RecordBuilder, generate_trail, write_trail
from conftest import DATA, OWN_EVENTS, OWN_GROUP, OWN_PASSWD

LOGIN = 6152  # AUE_login, class lo
OTHER = 72  # AUE_OPEN_R, class fr
T = 1_700_000_000

COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "zstd": lambda b: zstandard.ZstdCompressor().compress(b),
}

# -- selection sees the whole record ---------------------------------------------------------

APPLE: dict[str, Callable[[RecordBuilder], RecordBuilder]] = {
    "identity": lambda b: b.identity("com.apple.loginwindow", b"\x01" * 20, team_id="T"),
    "krb5_principal": lambda b: b.krb5_principal(["alice@EXAMPLE.ORG"]),
    "cert_hash": lambda b: b.cert_hash(["f7efc478005bb524259be87fd0920c6705b2f0be"]),
}

BASE: dict[str, Any] = {
    "event": LOGIN,
    "time": T,
    "auid": 501,
    "euid": 501,
    "ruid": 501,
    "egid": 20,
    "rgid": 20,
    "pid": 77,
    "path": "/etc/passwd",
    "zone": "global",
    "status": 0,
    "object_pid": 99,
    "msgqid": 7,
}

#: (criteria, fields of a record they select, fields of one they reject)
CRITERIA: list[tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ({"classes": "-lo"}, {"status": 13}, {"status": 0}),
    ({"classes": "+lo"}, {"status": 0}, {"status": 13}),
    ({"classes": "lo"}, {}, {"event": OTHER}),
    ({"events": ["AUE_login"]}, {}, {"event": OTHER}),
    ({"auid": 501}, {}, {"auid": 502}),
    ({"euid": 501}, {}, {"euid": 0}),
    ({"ruid": "alice"}, {}, {"ruid": 0}),
    ({"egid": "staff"}, {}, {"egid": 0}),
    ({"rgid": 20}, {}, {"rgid": 0}),
    ({"pid": 77}, {}, {"pid": 78}),
    ({"files": "^/etc/"}, {}, {"path": "/tmp/x"}),
    ({"zone": "glob*"}, {}, {"zone": "web"}),
    ({"object_pid": 99}, {}, {"object_pid": 98}),
    ({"msgqid": 7}, {}, {"msgqid": 8}),
    ({"after": T - 10, "before": T + 10}, {}, {"time": T + 100}),
]


def _record(apple: str, where: int, **fields: Any) -> bytes:
    """A login record (subject, process, ipc, path, zone, return) with ``apple``'s token
    at position ``where``: 0 before the subject, 1 after it, 2 before the return, 3 after
    the return."""
    f = {**BASE, **fields}
    b = RecordBuilder(f["event"], time=f["time"])
    add = APPLE[apple]
    if where == 0:
        add(b)
    b.subject(
        f["auid"], euid=f["euid"], ruid=f["ruid"], egid=f["egid"], rgid=f["rgid"], pid=f["pid"]
    )
    if where == 1:
        add(b)
    # The target process carries the subject's ids (every id criterion checks it too).
    ids = {k: f[k] for k in ("euid", "ruid", "egid", "rgid")}
    b.process(f["auid"], **ids, pid=f["object_pid"]).ipc(1, f["msgqid"])  # 1: message queue
    b.path(f["path"]).zone(f["zone"])
    if where == 2:
        add(b)
    b.return_(f["status"], 0 if f["status"] == 0 else -1)
    if where == 3:
        add(b)
    return b.build()


def _kept(data: bytes, **criteria: Any) -> bytes:
    """The bytes of the records ``criteria`` select from ``data``."""
    sel = selection(**criteria, event_db=OWN_EVENTS, passwd=OWN_PASSWD, group=OWN_GROUP)
    out = io.BytesIO()
    res = reduce(data, sel, out)
    assert res.error is None and res.undecided == []
    return out.getvalue()


@pytest.mark.parametrize("apple", sorted(APPLE))
@pytest.mark.parametrize("where", [0, 1, 2, 3])
@pytest.mark.parametrize(("criteria", "good", "bad"), CRITERIA, ids=lambda v: str(v))
def test_every_criterion_sees_past_apple_tokens(
    apple: str, where: int, criteria: dict[str, Any], good: dict[str, Any], bad: dict[str, Any]
) -> None:
    yes, no = _record(apple, where, **good), _record(apple, where, **bad)
    assert yes != no
    assert _kept(yes + no, **criteria) == yes
    assert _kept(no + yes, **criteria) == yes
    assert _kept(yes + no, **criteria, invert=True) == no


def _with_unknown_token(raw: bytes, at: int) -> bytes:
    """``raw`` with an unknown token (id 0x99) spliced in at byte ``at``; the header and
    trailer counts follow."""
    body = raw[:at] + b"\x99\x00\x01\x02" + raw[at:]
    n = len(body)
    return body[:1] + struct.pack(">I", n) + body[5:-4] + struct.pack(">I", n)


def test_a_record_the_selection_cannot_decode_is_reported_not_guessed() -> None:
    good = _record("identity", 3, status=13)
    subject_at = 18  # header32 is 18 bytes
    hidden = _with_unknown_token(good, subject_at)
    sel = selection(classes="-lo", event_db=OWN_EVENTS)
    out = io.BytesIO()
    res = reduce(good + hidden, sel, out)
    assert out.getvalue() == good
    assert res.undecided == [len(good)]
    # A criterion settled by the header alone needs no token after it: no report.
    res = reduce(hidden, selection(events=[LOGIN], event_db=OWN_EVENTS), io.BytesIO())
    assert (res.kept, res.undecided) == (1, [])
    # auditreduce's own view keeps its verdict (its walk stops there too).
    res = reduce(hidden, selection(classes="-lo", variants="auditreduce", event_db=OWN_EVENTS))
    assert res.undecided == []


def test_names_in_criteria_need_the_evidence_files() -> None:
    for crit in ({"auid": "alice"}, {"euid": "root"}, {"egid": "staff"}):
        with pytest.raises(SelectionError, match="needs the evidence machine's"):
            selection(**crit)  # type: ignore[arg-type]
    rec = _record("identity", 0)
    assert _kept(rec, auid="alice") == rec
    with pytest.raises(SelectionError, match="group"):
        selection(egid="staff", passwd=OWN_PASSWD)


# -- inputs are what the user meant ----------------------------------------------------------


@pytest.fixture(scope="module")
def trail_bytes() -> bytes:
    return (DATA / "gen-2.bsm").read_bytes()


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_compressed_trails_read_by_every_entry_point(
    kind: str, trail_bytes: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    plain = tmp_path / "t.bsm"
    plain.write_bytes(trail_bytes)
    packed = tmp_path / "t.packed"  # no telling suffix: recognised by content
    packed.write_bytes(COMPRESSORS[kind](trail_bytes))
    assert sniff(packed) == kind
    offsets = [r.offset for r in bsmtrail.open(plain)]
    assert [r.offset for r in bsmtrail.open(packed)] == offsets
    assert [r.offset for r in bsmtrail.open(packed.read_bytes())] == offsets
    with packed.open("rb") as f:
        assert [r.offset for r in bsmtrail.open(f)] == offsets
    with packed.open("rb") as f:
        assert [r.offset for r in bsmtrail.stream(f)] == offsets
    assert [r.offset for r in bsmtrail.stream(packed)] == offsets
    cols = ["record_offset", "event", "auid"]
    want = read_trails(plain, cols)
    assert read_trails(packed, cols).equals(want)
    assert iter_trails([packed], cols).read_all().equals(want)
    assert bsmtrail.chunks.read_trail(packed, chunks=3, columns=cols).equals(want)
    df = bsmtrail.dask.read_trails(str(packed), columns=cols).compute()
    assert df["record_offset"].tolist() == want.column("record_offset").to_pylist()
    out = io.BytesIO()
    assert reduce(packed, selection(all=True), out).kept == len(offsets)
    assert out.getvalue() == reduce_bytes(plain)
    # The decompressed copies were made in the temporary directory and are gone once
    # nothing reads them.
    trail = bsmtrail.open(packed)
    assert os.listdir(scratch) and trail.nbytes == len(trail_bytes)
    del trail
    assert os.listdir(scratch) == []


def reduce_bytes(path: Path) -> bytes:
    out = io.BytesIO()
    reduce(path, selection(all=True), out)
    return out.getvalue()


def test_a_cut_compressed_trail_is_an_error_naming_it(trail_bytes: bytes, tmp_path: Path) -> None:
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(trail_bytes)[:-40])
    with pytest.raises(OSError, match="cannot decompress") as e:
        bsmtrail.open(cut)
    assert e.value.filename == str(cut)


def test_directories_skip_links_into_the_set_and_files_that_are_not_trails(
    trail_bytes: bytes, tmp_path: Path
) -> None:
    d = tmp_path / "audit"
    d.mkdir()
    (d / "20231201220847.20231201230000").write_bytes(trail_bytes)
    live = d / "20231201230000.not_terminated"
    live.write_bytes(trail_bytes[: len(trail_bytes) // 2])
    (d / "current").symlink_to(live.name)  # auditd's link to the live trail
    (d / "old.parquet").write_bytes(b"PAR1" + b"\0" * 20 + b"PAR1")
    (d / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (d / "audit_control").write_text("dir:/var/audit\nflags:lo\n")
    (d / "empty").write_bytes(b"")
    (d / "archive.gz").write_bytes(gzip.compress(trail_bytes))
    found = expand(d)
    assert [Path(f).name for f in found.files] == [
        "20231201220847.20231201230000",
        "20231201230000.not_terminated",
        "archive.gz",
    ]
    skipped = {Path(s.path).name: s.reason for s in found.skipped}
    assert set(skipped) == {"current", "old.parquet", "audit_control", "empty"}
    assert "a link to" in skipped["current"] and skipped["empty"] == "empty file"
    assert "not a BSM trail" in skipped["old.parquet"]
    # The Arrow readers say what they passed over.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = read_trails(d, ["source"])
    said = [str(w.message) for w in caught if issubclass(w.category, bsmtrail.BSMWarning)]
    assert [m for m in said if "skipped" in m] == [str(s) for s in found.skipped]
    assert set(table.column("source").to_pylist()) == set(found.files)


def test_missing_inputs_and_directories_of_nothing_raise(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as e:
        read_trails(tmp_path / "nope.bsm")
    assert e.value.filename == str(tmp_path / "nope.bsm")
    (tmp_path / "notes.txt").write_text("no trail here")
    with pytest.raises(FileNotFoundError, match="No trail found here"):
        read_trails(tmp_path)
    with pytest.raises(IsADirectoryError):
        bsmtrail.open(tmp_path)


def test_read_trails_warns_about_inputs_without_records_or_mostly_damage(
    trail_bytes: bytes, tmp_path: Path
) -> None:
    good, empty, junk = tmp_path / "good.bsm", tmp_path / "empty.bsm", tmp_path / "junk.bsm"
    good.write_bytes(trail_bytes)
    empty.write_bytes(b"")
    junk.write_bytes(trail_bytes[:300] + os.urandom(4000).replace(b"\x14", b"\x00"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = read_trails([good, empty, junk], ["record_offset"])
    said = [str(w.message) for w in caught if issubclass(w.category, bsmtrail.BSMWarning)]
    assert said == [
        f"{empty}: no records: empty file",
        f"{junk}: mostly damage: records cover "
        f"{sum(r.size for r in bsmtrail.open(junk, mode='recover'))} of {junk.stat().st_size} "
        "bytes (see view='errors')",
    ]
    assert table.num_rows > 0
    assert "record_offset" == table.column_names[0] and table.num_columns == 1


# -- outputs never overwrite inputs, and appear whole or not at all ----------------------


def test_check_output_refuses_every_way_of_naming_an_input(tmp_path: Path) -> None:
    d = tmp_path / "audit"
    d.mkdir()
    trail = d / "t.bsm"
    trail.write_bytes(b"\x11")
    (tmp_path / "link.bsm").symlink_to(trail)
    os.link(trail, tmp_path / "hard.bsm")
    for out, inputs in [
        (trail, [trail]),
        (tmp_path / "link.bsm", [trail]),
        (tmp_path / "hard.bsm", [trail]),
        (trail, [tmp_path / "link.bsm"]),
        (d / "new.parquet", [d]),
        (d / "sub" / ".." / "x.parquet", [d]),
    ]:
        with pytest.raises(OutputError, match="refusing"):
            check_output(out, inputs)
    with pytest.raises(OutputError, match="holds the input"):
        check_output(tmp_path, [trail], directory=True)
    with pytest.raises(OutputError, match="no such directory"):
        check_output(tmp_path / "missing" / "x.parquet", [trail])
    with pytest.raises(OutputError, match="is a directory"):
        check_output(d, [])
    assert check_output(tmp_path / "x.parquet", [trail]) == str(tmp_path / "x.parquet")


def test_atomic_file_keeps_the_previous_file_on_any_exception(tmp_path: Path) -> None:
    out = tmp_path / "out.bin"
    out.write_bytes(b"previous")
    for exc in (ValueError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)), atomic_file(out) as tmp:
            Path(tmp).write_bytes(b"half")
            raise exc
        assert out.read_bytes() == b"previous"
        assert os.listdir(tmp_path) == ["out.bin"]
    with atomic_file(out) as tmp:
        Path(tmp).write_bytes(b"new")
    assert out.read_bytes() == b"new" and os.listdir(tmp_path) == ["out.bin"]
    assert (out.stat().st_mode & 0o777) == 0o666 & ~_umask()


def test_outputs_that_are_not_regular_files_are_written_in_place(tmp_path: Path) -> None:
    """``-o /dev/null`` writes to the device: renaming over it once replaced a machine's
    /dev/null with a regular file. A FIFO is written through (its reader gets the bytes),
    and a symbolic link keeps pointing at the file it names, which is replaced."""
    import stat
    import subprocess
    import sys
    import threading

    trail = tmp_path / "t.bsm"
    generate_trail(trail, 20_000, 4)
    cli = [sys.executable, "-m", "bsmtrail"]
    for args in (
        ["convert", str(trail), "-q", "-o", "/dev/null"],
        ["convert", str(trail), "-q", "--format", "jsonl", "-o", "/dev/null"],
        ["reduce", str(trail), "-w", "/dev/null"],
        ["gen", "--size", "10KB", "/dev/null"],
    ):
        p = subprocess.run([*cli, *args], capture_output=True, timeout=120)
        assert p.returncode == 0, (args, p.stderr)
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode), args
    assert not [n for n in os.listdir("/dev") if n.startswith(".null.")]

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    with atomic_file(fifo) as target:
        assert target == str(fifo)
        Path(target).write_bytes(b"through the pipe")
    reader.join(timeout=30)
    assert got == [b"through the pipe"] and stat.S_ISFIFO(os.lstat(fifo).st_mode)

    real, link = tmp_path / "real.out", tmp_path / "link.out"
    real.write_bytes(b"previous")
    link.symlink_to(real)
    with atomic_file(link) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path) and tmp != str(real)
        Path(tmp).write_bytes(b"new")
    assert os.path.islink(link) and real.read_bytes() == b"new"


def _umask() -> int:
    m = os.umask(0)
    os.umask(m)
    return m


def test_atomic_directory_replaces_datasets_only(tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    with atomic_directory(ds) as tmp:
        (Path(tmp) / "day=2023-12-01").mkdir()
    assert os.listdir(ds) == ["day=2023-12-01"]
    with pytest.raises(RuntimeError), atomic_directory(ds) as tmp:
        (Path(tmp) / "day=2023-12-02").mkdir()
        raise RuntimeError
    assert os.listdir(ds) == ["day=2023-12-01"]
    assert sorted(os.listdir(tmp_path)) == ["ds"]
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    with pytest.raises(OutputError, match="refusing to replace"), atomic_directory(home):
        pass
    assert (home / "thesis.tex").read_text() == "years of work"


def test_library_writers_refuse_to_overwrite_their_input(tmp_path: Path) -> None:
    trail = tmp_path / "t.bsm"
    generate_trail(trail, 5000, 1)
    before = trail.read_bytes()
    with pytest.raises(OutputError):
        reduce(trail, selection(all=True), trail)
    assert trail.read_bytes() == before
    with pytest.raises(SelectionError):
        reduce(trail, selection(auid="nobody-here", passwd=OWN_PASSWD), tmp_path / "o.bsm")
    assert not (tmp_path / "o.bsm").exists()


# -- reading then writing is lossless ----------------------------------------------------------


def _file_token(name: bytes, seconds: int = T) -> bytes:
    return b"\x11" + struct.pack(">IIH", seconds, 0, len(name)) + name


def test_file_tokens_round_trip_byte_for_byte(tmp_path: Path) -> None:
    rec = RecordBuilder(OTHER, time=T).path("/etc/passwd").return_().build()
    data = _file_token(b"") + rec + _file_token(b"/var/audit/x\0") + rec + _file_token(b"ab")
    trail = bsmtrail.open(data)
    items = list(trail.items())
    assert [type(i).__name__ for i in items] == [
        "FileToken",
        "Record",
        "FileToken",
        "Record",
        "FileToken",
    ]
    first = items[0]
    assert isinstance(first, bsmtrail.FileToken)
    assert (first.offset, first.name, first.raw) == (0, "", _file_token(b""))
    out = tmp_path / "copy.bsm"
    write_trail(out, bsmtrail.open(data).items())
    assert out.read_bytes() == data


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    size=st.integers(1, 30_000),
    # A name is one C string, terminated or not: a NUL before its end is damage to
    # checked framing (tests/test_hostile.py), as a name reaching over records would be.
    names=st.lists(
        st.tuples(st.binary(max_size=40), st.booleans()).map(
            lambda t: t[0].replace(b"\0", b"") + (b"\0" if t[1] else b"")
        ),
        max_size=4,
    ),
)
def test_reading_then_writing_any_trail_is_lossless(
    seed: int, size: int, names: list[bytes]
) -> None:
    buf = io.BytesIO()
    generate_trail_bytes = _generated(seed, size)
    data = b"".join(_file_token(n) for n in names) + generate_trail_bytes
    write_trail(buf, bsmtrail.open(data).items())
    assert buf.getvalue() == data
    buf = io.BytesIO()
    write_trail(buf, bsmtrail.open(data, mode="recover").items())
    assert buf.getvalue() == data


def _generated(seed: int, size: int) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "g.bsm"
        generate_trail(p, size, seed)
        return p.read_bytes()


# -- verify means damage ------------------------------------------------------------------


def test_unknown_events_are_notes_not_problems(tmp_path: Path) -> None:
    data = b"".join(
        RecordBuilder(ev, time=T + i).subject(501).return_().build()
        for i, ev in enumerate((44901, LOGIN, 44903, 44901))
    )
    report = bsmtrail.open(data).verify(events=OWN_EVENTS)
    assert report.ok and report.unknown_events == {44901: 2, 44903: 1}
    assert report.notes and "44901 (2), 44903 (1)" in report.notes[0]
    empty = bsmtrail.open(b"").verify()
    assert empty.empty and not empty.ok


def test_a_pipe_given_as_a_path_is_read_whole(trail_bytes: bytes, tmp_path: Path) -> None:
    """A FIFO (``<(zcat t.gz)``, /dev/stdin) is not an empty trail: it is drained into a
    private file, decompressed when its first bytes say so."""
    import threading

    for payload in (trail_bytes, gzip.compress(trail_bytes)):
        fifo = tmp_path / f"pipe{len(payload)}"
        os.mkfifo(fifo)
        writer = threading.Thread(target=fifo.write_bytes, args=(payload,))
        writer.start()
        with materialize(fifo) as copy:
            assert copy.kind in ("pipe", "pipe+gzip") and copy.temporary
            assert Path(copy.path).read_bytes() == trail_bytes
        writer.join()
        assert not Path(copy.path).exists()


def test_to_parquet_is_atomic_and_never_over_its_trail(tmp_path: Path) -> None:
    trail_path = tmp_path / "t.bsm"
    generate_trail(trail_path, 20_000, 4)
    before = trail_path.read_bytes()
    with pytest.raises(OutputError, match="refusing"):
        bsmtrail.open(trail_path).to_parquet(trail_path)
    assert trail_path.read_bytes() == before
    out = tmp_path / "t.parquet"
    out.write_bytes(b"previous")
    with pytest.raises(ValueError, match="compression"):
        bsmtrail.open(trail_path).to_parquet(out, compression="no-such-codec")
    assert out.read_bytes() == b"previous" and sorted(os.listdir(tmp_path)) == [
        "t.bsm",
        "t.parquet",
    ]
    assert bsmtrail.open(trail_path).to_parquet(out) == len(list(bsmtrail.open(trail_path)))


def test_sequence_gaps_are_counted_per_host() -> None:
    def rec(host: str, seq: int, i: int) -> bytes:
        return RecordBuilder(OTHER, time=T + i, host=host).subject(0).seq(seq).return_().build()

    hosts = [("10.0.0.1", 10), ("10.0.0.2", 500), ("10.0.0.1", 11), ("10.0.0.2", 501)]
    clean = b"".join(rec(h, n, i) for i, (h, n) in enumerate(hosts))
    report = bsmtrail.open(clean).verify(events=OWN_EVENTS)
    assert report.ok and report.seq_gaps == []
    gap = clean + rec("10.0.0.1", 13, 9)
    report = bsmtrail.open(gap).verify(events=OWN_EVENTS)
    assert not report.ok and [(e, f) for _, e, f in report.seq_gaps] == [(12, 13)]


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(sorted(COMPRESSORS)),
    seed=st.integers(0, 2**32),
    size=st.integers(0, 20_000),
    cut=st.integers(0, 64),
    junk=st.binary(max_size=64),
)
def test_compressed_input_reads_like_the_plain_trail_or_fails_naming_it(
    kind: str, seed: int, size: int, cut: int, junk: bytes
) -> None:
    """Whatever is compressed, and however the compressed stream is cut or followed by
    junk, reading it gives the plain trail's records or an OSError naming the input;
    never another exception, never a silently shorter trail."""
    plain = _generated(seed, size) if size else b""
    packed = COMPRESSORS[kind](plain)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t"
        path.write_bytes(packed)
        assert [r.raw for r in bsmtrail.open(path)] == [r.raw for r in bsmtrail.open(plain)]
        damaged = packed[: max(len(packed) - cut, 0)] + junk
        path.write_bytes(damaged)
        try:
            got = bsmtrail.open(path, mode="recover")
        except OSError as e:
            assert e.filename == str(path)
            return
        records = [r.raw for r in got]
        assert records == [r.raw for r in bsmtrail.open(plain)][: len(records)]

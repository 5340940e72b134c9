"""Names from the evidence: with the trail machine's passwd and group files, the records
view names the first subject's ids (``auid_name`` ... ``rgid_name``) exactly as ``print``
shows them for the same files, on every record; an id the files lack is null (``print``
shows its number). And tables into pandas without losing what the ids are."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import bsmtrail
from bsmtrail.arrow import NAME_COLUMNS, iter_trails, read_trails, records_schema, to_pandas
from bsmtrail.writer import generate_trail

DATA = Path(__file__).parent / "data"
PASSWD, GROUP = DATA / "passwd", DATA / "group"
SUBJECTS = ("subject", "subject_ex")
PRINT = [sys.executable, "-m", "bsmtrail", "print", "-l"]


def _printed_subjects(path: Path) -> list[list[str] | None]:
    """For each record ``print -l`` shows, the first subject's five id fields as shown
    (auid, euid, egid, ruid, rgid), or None without a subject."""
    out = subprocess.run(
        [*PRINT, "--passwd", str(PASSWD), "--group", str(GROUP), str(path)],
        capture_output=True,
        check=True,
    ).stdout.decode()
    rows: list[list[str] | None] = []
    for line in out.splitlines():
        if not line.startswith("header"):
            continue  # a standalone file token
        fields = line.split(",")
        at = next((i for i, f in enumerate(fields) if f in SUBJECTS), None)
        rows.append(None if at is None else fields[at + 1 : at + 6])
    return rows


@pytest.fixture(scope="module")
def trails(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    gen = tmp_path_factory.mktemp("names") / "gen.bsm"
    generate_trail(gen, 300_000, seed=11)
    return [DATA / "gen-1.bsm", gen]


def test_name_columns_are_what_print_shows(trails: list[Path]) -> None:
    for path in trails:
        table = read_trails([str(path)], passwd=PASSWD, group=GROUP)
        shown = _printed_subjects(path)
        assert len(shown) == table.num_rows
        names = {c: table.column(c).to_pylist() for c in NAME_COLUMNS}
        ids = {c: table.column(i).to_pylist() for c, i in NAME_COLUMNS.items()}
        named = 0
        for row, fields in enumerate(shown):
            if fields is None:
                assert all(names[c][row] is None for c in NAME_COLUMNS), row
                continue
            for c, text in zip(NAME_COLUMNS, fields, strict=True):
                numeric = text == "-1" or text.isdigit()
                want = None if numeric else text
                assert names[c][row] == want, (path.name, row, c, ids[c][row], text)
                named += want is not None
        assert named > table.num_rows  # most ids are named; the check is not vacuous


def test_name_columns_are_dictionaries_placed_after_the_ids() -> None:
    schema = records_schema(passwd=PASSWD, group=GROUP)
    at = schema.names.index("rgid") + 1
    assert schema.names[at : at + 5] == list(NAME_COLUMNS)
    assert all(schema.field(c).type == pa.dictionary(pa.int32(), pa.string()) for c in NAME_COLUMNS)
    only_users = records_schema(passwd=PASSWD).names
    assert [c for c in NAME_COLUMNS if c in only_users] == ["auid_name", "euid_name", "ruid_name"]
    assert not set(NAME_COLUMNS) & set(records_schema().names)


def test_first_entry_wins_and_mappings_work(tmp_path: Path) -> None:
    pw = tmp_path / "passwd"
    pw.write_bytes(
        b"toor:*:0:0::/:/bin/sh\nroot:*:0:0::/:/bin/sh\n"
        b"caf\xe9:*:501:20::/:/bin/sh\n"  # Latin-1 bytes, not UTF-8
    )
    t = read_trails([str(DATA / "gen-1.bsm")], columns=["euid", "euid_name"], passwd=pw)
    pairs = {(e, n) for e, n in zip(t["euid"].to_pylist(), t["euid_name"].to_pylist(), strict=True)}
    assert (0, "toor") in pairs
    assert (501, "caf\\xe9") in pairs  # as every Arrow string: backslashreplace
    m = read_trails([str(DATA / "gen-1.bsm")], columns=["euid_name"], passwd={0: "admin"})
    assert set(m["euid_name"].to_pylist()) <= {"admin", None}


def test_name_columns_need_their_files_and_reach_every_command(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs the trail machine's passwd file"):
        read_trails([str(DATA / "gen-1.bsm")], columns=["auid_name"])
    with pytest.raises(ValueError, match="group file"):
        read_trails([str(DATA / "gen-1.bsm")], columns=["rgid_name"], passwd=PASSWD)
    out = tmp_path / "o.parquet"
    args = [sys.executable, "-m", "bsmtrail", "convert", "-q", str(DATA / "gen-1.bsm")]
    res = subprocess.run([*args, "--columns", "auid_name", "-o", str(out)], capture_output=True)
    assert res.returncode == 2
    assert b"auid_name needs the trail machine's passwd file" in res.stderr
    res = subprocess.run(
        [*args, "--passwd", str(PASSWD), "--group", str(GROUP), "-o", str(out)],
        capture_output=True,
    )
    assert res.returncode == 0, res.stderr
    got = bsmtrail.read_trails([str(DATA / "gen-1.bsm")], passwd=PASSWD, group=GROUP)
    written = pq.read_table(out)
    for c in NAME_COLUMNS:
        assert written.column(c).to_pylist() == got.column(c).to_pylist()


def test_to_pandas_keeps_ids_exact_and_dictionaries_categorical() -> None:
    table = read_trails([str(DATA / "gen-1.bsm")], passwd=PASSWD)
    df = to_pandas(table)
    assert list(df.columns) == table.column_names
    assert df["auid"].dtype == pd.ArrowDtype(pa.uint32())
    nullable = [c for c in table.column_names if pa.types.is_integer(table.schema.field(c).type)]
    assert any(table.column(c).null_count for c in nullable)  # a column with nulls is here
    assert not [c for c in df.columns if df[c].dtype == "float64"]
    assert isinstance(df["event_name"].dtype, pd.CategoricalDtype)
    assert isinstance(df["auid_name"].dtype, pd.CategoricalDtype)
    assert str(df["time"].dtype) == "datetime64[ms, UTC]"
    # The unset auid is null (pandas' NA), never a float NaN or a sentinel.
    auids = [None if x is pd.NA else x for x in df["auid"].tolist()]
    assert auids == table.column("auid").to_pylist()
    assert None in auids and 0xFFFFFFFF not in auids
    assert df["paths"].dtype == pd.ArrowDtype(table.schema.field("paths").type)
    streamed = to_pandas(iter_trails([str(DATA / "gen-1.bsm")], passwd=PASSWD))
    pd.testing.assert_frame_equal(streamed, df)
    with pytest.raises(TypeError, match=r"pyarrow\.Table or a BatchStream"):
        to_pandas([1, 2])

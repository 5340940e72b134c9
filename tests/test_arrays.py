"""The exporters' time text (``bsmtrail.arrays``) against Arrow's own ``strftime`` of the
UTC time, for any time of years 1-9999 and nulls."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given
from hypothesis import strategies as st

from bsmtrail.arrays import day_names, iso_times

FIRST, LAST = -62_135_596_800_000, 253_402_300_799_999  # 0001-01-01, 9999-12-31 23:59:59.999
times = st.lists(st.one_of(st.none(), st.integers(FIRST, LAST)), max_size=50)


def _utc(millis: list[int | None]) -> pa.Array:
    return pa.array(millis, pa.int64()).cast(pa.timestamp("ms", tz="UTC"))


@given(times, st.sampled_from(["Z", "+00:00"]))
def test_iso_times_are_strftimes_text(millis: list[int | None], suffix: str) -> None:
    want = pc.strftime(_utc(millis), format="%Y-%m-%dT%H:%M:%S" + suffix)
    assert iso_times(pa.array(millis, pa.int64()), suffix).to_pylist() == want.to_pylist()
    assert iso_times(_utc(millis), suffix).to_pylist() == want.to_pylist()


@given(times, st.sampled_from(["%Y%m%d", "%Y-%m-%d"]))
def test_day_names_are_strftimes_days(millis: list[int | None], fmt: str) -> None:
    want = pc.strftime(_utc(millis), format=fmt)
    assert day_names(_utc(millis), fmt).to_pylist() == want.to_pylist()


def test_the_edges_of_the_years() -> None:
    got = iso_times(pa.array([FIRST, LAST, -1, 0], pa.int64()), "Z").to_pylist()
    assert got == [
        "0001-01-01T00:00:00.000Z",
        "9999-12-31T23:59:59.999Z",
        "1969-12-31T23:59:59.999Z",
        "1970-01-01T00:00:00.000Z",
    ]
    assert day_names(_utc([FIRST, LAST, -1]), "%Y%m%d").to_pylist() == [
        "00010101",
        "99991231",
        "19691231",
    ]

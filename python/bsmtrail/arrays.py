"""Arrow array helpers the record exporters share (``bsmtrail.ocsf``, ``bsmtrail.ecs``,
``bsmtrail.timesketch``, ``bsmtrail.export``): vectorised, no per-row Python objects.

Times are formatted without Arrow's ``strftime``: it goes through the time zone database
for every value (1.7 µs a row, more than building the rest of an ECS document), where a
cast of a zone-less timestamp to text takes a tenth of a microsecond and a day needs
formatting once per distinct day."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .lazy import module

__all__ = ["day_names", "format_distinct", "iso_times", "nth", "text"]


def text(array: Any) -> Any:
    """``array`` as utf8 (numbers in decimal; dictionaries decoded)."""
    pa, pc = module("pyarrow"), module("pyarrow.compute")
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    return pc.cast(array, pa.string())


def nth(lists: Any, k: int = 0) -> Any:
    """Each list's element ``k`` (null where the list is null or shorter)."""
    pa, pc = module("pyarrow"), module("pyarrow.compute")
    n = len(lists)
    lengths = pc.fill_null(pc.list_value_length(lists), 0)
    starts = pc.add(lists.offsets.slice(0, n), k) if k else lists.offsets.slice(0, n)
    index = pc.if_else(pc.greater(lengths, k), starts, pa.nulls(n, starts.type))
    return lists.values.take(index)


def iso_times(millis: Any, suffix: str) -> Any:
    """ISO 8601 UTC text of times in ms since the epoch (int64 or a timestamp):
    ``YYYY-MM-DDTHH:MM:SS.mmm`` and ``suffix`` (``Z``, ``+00:00``); null stays null.
    The same text as ``strftime("%Y-%m-%dT%H:%M:%S")`` of the UTC time, years 1-9999."""
    pa, pc = module("pyarrow"), module("pyarrow.compute")
    if pa.types.is_timestamp(millis.type):
        millis = pc.cast(millis, pa.int64())
    wall = pc.cast(pc.cast(millis, pa.timestamp("ms")), pa.string())  # "YYYY-MM-DD HH:..."
    return pc.binary_join_element_wise(
        pc.replace_substring(wall, " ", "T", max_replacements=1), suffix, ""
    )


def format_distinct(values: Any, fmt: Callable[[Any], str]) -> Any:
    """``fmt`` of each value as a text dictionary, each distinct value formatted once
    (null stays null): for columns with few distinct values, such as modes and days."""
    pa, pc = module("pyarrow"), module("pyarrow.compute")
    enc = pc.dictionary_encode(values)
    words = [None if v is None else fmt(v) for v in enc.dictionary.to_pylist()]
    return pa.DictionaryArray.from_arrays(enc.indices, pa.array(words, pa.string()))


def day_names(times: Any, day_format: str) -> Any:
    """Each time's UTC day (``times`` a UTC timestamp array) as ``day_format`` with
    ``%Y``, ``%m`` and ``%d`` (four, two and two digits); null for a null time. Each
    distinct day is formatted once."""
    pa, pc = module("pyarrow"), module("pyarrow.compute")

    def name(d: Any) -> str:
        return (
            day_format.replace("%Y", f"{d.year:04d}")
            .replace("%m", f"{d.month:02d}")
            .replace("%d", f"{d.day:02d}")
        )

    return format_distinct(pc.cast(times, pa.date32()), name).dictionary_decode()

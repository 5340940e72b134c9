"""Arrow array helpers the record exporters share (``bsmtrail.ocsf``,
``bsmtrail.timesketch``): vectorised, no per-row Python objects."""

from __future__ import annotations

from typing import Any

from .lazy import module

__all__ = ["nth", "text"]


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

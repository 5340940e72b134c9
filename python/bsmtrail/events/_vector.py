"""Vectorised event lookups over numpy and Arrow arrays of event numbers.

Event numbers are 16-bit, so every lookup is a 65,536-entry table built once per database
and applied with one numpy ``take``: no Python code runs per row. Text columns come out as
Arrow dictionary arrays whose dictionary is the table's distinct values. numpy and
pyarrow are optional and imported on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ._model import AuditEvent, AuditMask

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

#: Columns :meth:`VectorLookup.arrow_columns` can produce.
COLUMNS = ("name", "description", "classes", "mask")
#: Columns with one text per event (dictionary codes, :meth:`VectorLookup.take_codes`).
TEXT_COLUMNS = ("name", "description")


def _numpy() -> Any:
    try:
        return importlib.import_module("numpy")
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("vectorised event lookups need numpy (pip install numpy)") from exc


def _pyarrow() -> Any:
    try:
        return importlib.import_module("pyarrow")
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("Arrow event columns need pyarrow (pip install pyarrow)") from exc


def _text(entry: AuditEvent, column: str) -> str:
    return entry.name if column == "name" else entry.description


class VectorLookup:
    """65,536-entry lookup tables for one event database (first entry per number wins)."""

    def __init__(self, by_number: dict[int, AuditEvent], preselect: dict[int, int]) -> None:
        xp = _numpy()
        self.values: dict[str, list[str]] = {}
        self.codes: dict[str, npt.NDArray[np.int32]] = {}
        for column in TEXT_COLUMNS:
            index: dict[str, int] = {}
            codes = xp.full(65536, -1, dtype=xp.int32)
            for number, entry in by_number.items():
                codes[number] = index.setdefault(_text(entry, column), len(index))
            self.values[column] = list(index)
            self.codes[column] = codes
        # classes: a list per event. Event n's class codes are
        # class_codes[class_start[n] : class_start[n] + class_count[n]].
        class_index: dict[str, int] = {}
        flat: list[int] = []
        self.class_start: npt.NDArray[np.int64] = xp.zeros(65536, dtype=xp.int64)
        self.class_count: npt.NDArray[np.int32] = xp.zeros(65536, dtype=xp.int32)
        for number, entry in by_number.items():
            self.class_start[number] = len(flat)
            self.class_count[number] = len(entry.classes)
            flat.extend(class_index.setdefault(c, len(class_index)) for c in entry.classes)
        self.values["classes"] = list(class_index)
        self.class_codes: npt.NDArray[np.int32] = xp.asarray(flat, dtype=xp.int32)
        self.known: npt.NDArray[np.bool_] = self.codes["name"] >= 0
        #: The same codes with 0 for unknown events (hidden by the validity bitmap).
        self.safe_codes: dict[str, npt.NDArray[np.int32]] = {
            column: xp.maximum(codes, 0) for column, codes in self.codes.items()
        }
        self.masks: npt.NDArray[np.uint32] = xp.zeros(65536, dtype=xp.uint32)
        for number, entry in by_number.items():
            self.masks[number] = entry.mask
        self.preselect_masks: npt.NDArray[np.uint32] = xp.zeros(65536, dtype=xp.uint32)
        for number, mask in preselect.items():
            self.preselect_masks[number] = mask
        self._dictionaries: dict[str, Any] = {}

    # -- numpy -------------------------------------------------------------------------

    def index(self, numbers: Any) -> tuple[npt.NDArray[np.uint16], npt.NDArray[np.bool_] | None]:
        """Event numbers as a uint16 index, plus a mask of rows that cannot match.

        Accepts a numpy array or any sequence of integers. Values outside 0..65535 (possible
        with wider integer types) are flagged in the mask and looked up as 0.
        """
        xp = _numpy()
        arr = xp.asarray(numbers)
        if arr.dtype == xp.uint16:
            return arr, None
        if arr.dtype.kind not in "iu":
            if arr.size == 0:
                return arr.astype(xp.uint16), None
            raise TypeError(f"event numbers must be integers, not {arr.dtype}")
        bad = (arr < 0) | (arr > 0xFFFF)
        if bad.any():
            return xp.where(bad, 0, arr).astype(xp.uint16), bad
        return arr.astype(xp.uint16), None

    def take_codes(self, numbers: Any, column: str) -> npt.NDArray[np.int32]:
        """Dictionary codes (int32, -1 for unknown events) for ``column``, one of
        :data:`TEXT_COLUMNS`."""
        if column not in TEXT_COLUMNS:
            raise ValueError(f"no codes for {column!r}; choose from {TEXT_COLUMNS}")
        idx, bad = self.index(numbers)
        codes: npt.NDArray[np.int32] = self.codes[column].take(idx)
        if bad is not None:
            codes[bad] = -1
        return codes

    def take_masks(self, numbers: Any, *, preselect: bool = False) -> npt.NDArray[np.uint32]:
        """Class masks (uint32, 0 for unknown events)."""
        idx, bad = self.index(numbers)
        table = self.preselect_masks if preselect else self.masks
        masks: npt.NDArray[np.uint32] = table.take(idx)
        if bad is not None:
            masks[bad] = 0
        return masks

    def preselected(self, numbers: Any, mask: AuditMask, success: Any) -> npt.NDArray[np.bool_]:
        """``au_preselect`` per row; ``success`` is a bool or a boolean array (row outcome)."""
        xp = _numpy()
        classes = self.take_masks(numbers, preselect=True)
        wanted = xp.where(
            xp.asarray(success, dtype=bool),
            xp.uint32(mask.success),
            xp.uint32(mask.failure),
        ).astype(xp.uint32)
        result: npt.NDArray[np.bool_] = (classes & wanted) != 0
        return result

    # -- Arrow -------------------------------------------------------------------------

    def dictionary(self, column: str) -> Any:
        """The Arrow dictionary for ``column``: string when UTF-8 clean, else binary."""
        cached = self._dictionaries.get(column)
        if cached is None:
            pa = _pyarrow()
            values = self.values[column]
            try:
                # UTF-8 from str is valid: the buffers make a string array as they are
                # (a cast would cost the pyarrow.compute import).
                cached = _binary_array(pa, [v.encode("utf-8") for v in values], pa.string())
            except UnicodeEncodeError:
                cached = _binary_array(pa, [v.encode("utf-8", "surrogateescape") for v in values])
            self._dictionaries[column] = cached
        return cached

    def arrow_columns(self, numbers: Any, columns: Sequence[str] = COLUMNS) -> dict[str, Any]:
        """Arrow columns for ``numbers`` (a pyarrow Array/ChunkedArray or numpy array).

        ``name`` and ``description`` are ``dictionary<int32, string>``, ``classes``
        ``list<dictionary<int32, string>>`` (the event's class names in audit_event's
        order), ``mask`` ``uint32``. Rows whose event is unknown, or whose input is null,
        are null.
        """
        pa = _pyarrow()
        for column in columns:
            if column not in COLUMNS:
                raise ValueError(f"unknown event column {column!r}; choose from {COLUMNS}")
        if isinstance(numbers, pa.ChunkedArray):
            parts = [self._arrow_chunk(chunk, columns) for chunk in numbers.chunks]
            return {
                column: pa.chunked_array(
                    [part[column] for part in parts], type=self.arrow_type(column)
                )
                for column in columns
            }
        return self._arrow_chunk(numbers, columns)

    def table(self, column: str) -> tuple[list[int], list[list[int]], Any]:
        """``column`` (``name``, ``description`` or ``classes``) as a lookup table: the
        event numbers the database has, each one's dictionary codes (one text, or the
        event's run of class codes), and the dictionary. Rust builds the column from it
        on the workers (``bsmtrail.arrow``)."""
        if column not in ("name", "description", "classes"):
            raise ValueError(f"no table for {column!r}")
        xp = _numpy()
        numbers = xp.flatnonzero(self.known)
        if column == "classes":
            flat = self.class_codes.tolist()
            runs = [
                flat[start : start + count]
                for start, count in zip(
                    self.class_start.take(numbers).tolist(),
                    self.class_count.take(numbers).tolist(),
                    strict=True,
                )
            ]
        else:
            runs = [[c] for c in self.codes[column].take(numbers).tolist()]
        return numbers.tolist(), runs, self.dictionary(column)

    def arrow_type(self, column: str) -> Any:
        pa = _pyarrow()
        if column == "mask":
            return pa.uint32()
        text = pa.dictionary(pa.int32(), self.dictionary(column).type)
        return pa.list_(text) if column == "classes" else text

    def _arrow_chunk(self, numbers: Any, columns: Iterable[str]) -> dict[str, Any]:
        pa = _pyarrow()
        xp = _numpy()
        nulls: npt.NDArray[np.bool_] | None = None
        if isinstance(numbers, pa.Array):
            if numbers.null_count:
                # Null slots hold some number: looked up like any other, then made null.
                # (pyarrow.compute would cost an import of its own, and its fill_null a
                # pandas import for the scalar.)
                nulls = ~_bits(xp, numbers.buffers()[0], numbers.offset, len(numbers))
            numbers = _values(xp, numbers)
        idx16, bad = self.index(numbers)
        # numpy converts take() indices to intp on every call: convert once, take many.
        idx = idx16.astype(xp.intp)
        missing = ~self.known.take(idx)
        if bad is not None:
            missing |= bad
        if nulls is not None:
            missing |= nulls
        length = len(idx)
        null_count = int(xp.count_nonzero(missing))
        # One validity bitmap, shared by every column; unknown rows read code 0 / mask 0.
        validity = pa.py_buffer(xp.packbits(~missing, bitorder="little")) if null_count else None
        out: dict[str, Any] = {}
        for column in columns:
            if column == "mask":
                data = self.masks.take(idx)
                out[column] = pa.Array.from_buffers(
                    pa.uint32(), length, [validity, pa.py_buffer(data)], null_count
                )
                continue
            if column == "classes":
                out[column] = self._classes(idx, missing, validity, null_count)
                continue
            codes = self.safe_codes[column].take(idx)
            indices = pa.Array.from_buffers(
                pa.int32(), length, [validity, pa.py_buffer(codes)], null_count
            )
            out[column] = pa.DictionaryArray.from_arrays(
                indices, self.dictionary(column), safe=False
            )
        return out

    def _classes(self, idx: Any, missing: Any, validity: Any, null_count: int) -> Any:
        """The ``classes`` list column: each row's run of class codes, gathered with
        one ``repeat`` and one ``take`` (null rows hold an empty run)."""
        pa = _pyarrow()
        xp = _numpy()
        counts = xp.where(missing, 0, self.class_count.take(idx))
        offsets = xp.zeros(len(idx) + 1, dtype=xp.int32)
        xp.cumsum(counts, out=offsets[1:])
        total = int(offsets[-1])
        # Position k of the output is element (k - row's offset) of the row's run.
        shift = xp.repeat(self.class_start.take(idx) - offsets[:-1], counts)
        codes = self.class_codes.take(shift + xp.arange(total, dtype=xp.int64))
        values = pa.DictionaryArray.from_arrays(
            pa.Array.from_buffers(pa.int32(), total, [None, pa.py_buffer(codes)]),
            self.dictionary("classes"),
            safe=False,
        )
        return pa.ListArray.from_buffers(
            self.arrow_type("classes"),
            len(idx),
            [validity, pa.py_buffer(offsets)],
            null_count,
            children=[values],
        )


def _binary_array(pa: Any, values: Sequence[bytes], type: Any = None) -> Any:
    """A ``binary`` (or ``type``: ``string`` for valid UTF-8) array of ``values`` from its
    two buffers (``pyarrow.array`` on a Python list imports pandas to check for its types:
    a quarter of a second per process)."""
    xp = _numpy()
    offsets = xp.zeros(len(values) + 1, dtype=xp.int32)
    xp.cumsum([len(v) for v in values], out=offsets[1:])
    data = b"".join(values)
    return pa.Array.from_buffers(
        type or pa.binary(),
        len(values),
        [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data)],
    )


# Arrow arrays to numpy through their buffers: ``Array.to_numpy`` imports pandas (a quarter
# of a second per process) on the way.


def _values(xp: Any, arr: Any) -> Any:
    """The values of a primitive, null-free Arrow array as a numpy view (no copy)."""
    dtype = xp.dtype(arr.type.to_pandas_dtype())
    data = xp.frombuffer(arr.buffers()[1], dtype=dtype)
    return data[arr.offset : arr.offset + len(arr)]


def _bits(xp: Any, buf: Any, offset: int, length: int) -> Any:
    """Bits ``offset .. offset + length`` of an Arrow bitmap as a numpy bool array."""
    bits = xp.unpackbits(xp.frombuffer(buf, dtype=xp.uint8), bitorder="little")
    return bits[offset : offset + length].astype(bool)

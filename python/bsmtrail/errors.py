"""The exception hierarchy. Every decoding error is a :class:`BSMError` carrying where it
happened; tests and tools should use the attributes, not the message text.

``offset``
    Absolute byte offset of the failing byte (or token) in the input.
``record_offset``
    Offset of the record (or standalone file token) being decoded.
``token_id``
    Id of the token being decoded, or ``None``.
``reason``
    A stable snake_case code: ``truncated``, ``record_too_small``, ``record_too_large``,
    ``not_a_record``, ``missing_trailer``, ``bad_trailer_magic``, ``trailer_mismatch``,
    ``unknown_token``, ``bad_address_type``, ``bad_data_unit``, ``trailing_bytes``,
    ``file_name_nul``.

All attributes are also in ``args``, so the exceptions survive pickling (multiprocessing,
Dask).
"""

from __future__ import annotations

__all__ = [
    "BSMError",
    "FramingError",
    "MalformedTokenError",
    "RecordSizeError",
    "TrailerError",
    "TruncatedError",
    "UnknownTokenError",
]


class BSMError(ValueError):
    """Base class of every error raised for malformed BSM input."""

    def __init__(
        self,
        message: str,
        offset: int | None = None,
        record_offset: int | None = None,
        token_id: int | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message, offset, record_offset, token_id, reason)
        self.message = message
        self.offset = offset
        self.record_offset = record_offset
        self.token_id = token_id
        self.reason = reason

    def __str__(self) -> str:
        return self.message


class TruncatedError(BSMError):
    """The input (or a record) ends before a field or record it declares."""


class TrailerError(BSMError):
    """A record's trailer is missing, has a bad magic number, or disagrees with the header."""


class UnknownTokenError(BSMError):
    """A token id no decoder knows."""


class RecordSizeError(BSMError):
    """A header's byte count cannot hold the header and a trailer, or is above the
    maximum record size (:func:`bsmtrail.max_record_size`)."""


class FramingError(BSMError):
    """A byte at a record boundary starts neither a header nor a file token, or (checked
    framing) a file token's name holds a NUL before its end: its length is not a name's."""


class MalformedTokenError(BSMError):
    """A token with an invalid field (address type, data unit) or bytes left after it."""


class BSMWarning(UserWarning):
    """Something a reader should know but that does not stop it: an input that yielded
    no record or is mostly damage, records a selection could not decide."""


#: Maps the native ``reason`` codes (``bsmtrail._native.REASONS``, from Rust's
#: ``ErrorKind``: the one list) to classes (used by the native module).
REASON_CLASSES: dict[str, type[BSMError]] = {
    "truncated": TruncatedError,
    "record_too_small": RecordSizeError,
    "record_too_large": RecordSizeError,
    "not_a_record": FramingError,
    "missing_trailer": TrailerError,
    "bad_trailer_magic": TrailerError,
    "trailer_mismatch": TrailerError,
    "unknown_token": UnknownTokenError,
    "bad_address_type": MalformedTokenError,
    "bad_data_unit": MalformedTokenError,
    "trailing_bytes": MalformedTokenError,
    "file_name_nul": FramingError,
}


def _from_native(
    message: str,
    offset: int,
    record_offset: int,
    token_id: int | None,
    reason: str,
) -> BSMError:
    cls = REASON_CLASSES.get(reason, BSMError)
    return cls(message, offset, record_offset, token_id, reason)

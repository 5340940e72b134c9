"""Type stubs for the native module ``bsmtrail._native`` (Rust, pyo3)."""

import builtins
from collections.abc import Callable
from datetime import datetime
from os import PathLike
from typing import Any, ClassVar, Literal, final

from typing_extensions import Self

__version__: str
build_profile: str
DECODED_TOKEN_IDS: list[tuple[int, str]]
DEFAULT_KEEP: int
REASONS: list[str]

def max_record_size(size: int | None = None) -> int: ...

@final
class DamageLog:
    """Damaged regions: the first `keep` in full, every one counted."""

    def __new__(cls, keep: int = 1000) -> Self: ...
    @property
    def count(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def keep(self) -> int: ...
    def regions(self) -> list[tuple[int, int, Any]]: ...
    def last(self) -> tuple[int, int, Any] | None: ...
    def by_reason(self) -> dict[str, tuple[int, int]]: ...
    def clear(self) -> None: ...

@final
class TrailSlice:
    """Bytes ``[start, end)`` of a trail, shared without copying; accepted wherever a
    trail's bytes are."""

    def __new__(
        cls, source: _Input, start: int, end: int, *, offset: int | None = None
    ) -> Self: ...
    @property
    def start(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def end(self) -> int: ...
    def __len__(self) -> int: ...

_Input = str | PathLike[str] | bytes | bytearray | memoryview | TrailSlice
_Mode = Literal["strict", "recover"]

@final
class Record:
    """A lazy view of one validated record."""

    @property
    def offset(self) -> int: ...
    @property
    def size(self) -> int: ...
    @property
    def header_type(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def event(self) -> int: ...
    @property
    def modifier(self) -> int: ...
    @property
    def seconds(self) -> int: ...
    @property
    def msec(self) -> int: ...
    @property
    def host(self) -> str | None: ...
    @property
    def time(self) -> datetime | None: ...
    @property
    def raw(self) -> bytes: ...
    @property
    def tokens(self) -> list[dict[str, Any]]: ...
    def __len__(self) -> int: ...

@final
class RecordIter:
    def __iter__(self) -> RecordIter: ...
    def __next__(self) -> Record: ...
    @property
    def undecided_total(self) -> int: ...

@final
class Reader:
    def __new__(cls, source: _Input) -> Self: ...
    @property
    def nbytes(self) -> int: ...
    def __iter__(self) -> RecordIter: ...
    def records(
        self,
        mode: _Mode,
        *,
        damage: DamageLog | None = None,
        files: Callable[[dict[str, Any], bytes], Any] | None = None,
        selection: Selection | None = None,
        undecided: list[int] | None = None,
        keep: int = 1000,
    ) -> RecordIter: ...
    def verify(
        self, *, backwards_tolerance_ms: int = 1000, keep: int = 1000, threads: int = 0
    ) -> Verified: ...
    def file_tokens(self) -> list[dict[str, Any]]: ...
    def scan(self, *, decode: bool = True) -> Scanned: ...

@final
class Verified:
    """What ``Reader.verify`` found."""

    @property
    def nbytes(self) -> int: ...
    @property
    def records(self) -> int: ...
    @property
    def file_tokens(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def truncated_tail(self) -> bool: ...
    @property
    def damage(self) -> DamageLog: ...
    @property
    def seq_gaps(self) -> list[tuple[int, int, int]]: ...
    @property
    def seq_gaps_total(self) -> int: ...
    @property
    def time_backwards(self) -> list[tuple[int, tuple[int, int], tuple[int, int]]]: ...
    @property
    def time_backwards_total(self) -> int: ...
    @property
    def events(self) -> list[tuple[int, int]]: ...
    @property
    def first_time(self) -> tuple[int, int] | None: ...
    @property
    def last_time(self) -> tuple[int, int] | None: ...
    @property
    def earliest(self) -> tuple[int, int] | None: ...
    @property
    def latest(self) -> tuple[int, int] | None: ...
    @property
    def opening(self) -> tuple[int, tuple[int, int], builtins.bytes] | None: ...
    @property
    def closing(self) -> tuple[int, tuple[int, int], builtins.bytes] | None: ...
    @property
    def token_counts(self) -> list[tuple[str, int]]: ...

@final
class Scanned:
    """What ``Reader.scan`` found."""

    @property
    def records(self) -> int: ...
    @property
    def file_tokens(self) -> int: ...
    @property
    def bytes(self) -> int: ...
    @property
    def nbytes(self) -> int: ...
    @property
    def first_seconds(self) -> int | None: ...
    @property
    def last_seconds(self) -> int | None: ...
    @property
    def token_counts(self) -> list[tuple[str, int]]: ...
    @property
    def error(self) -> Any: ...

@final
class StreamDecoder:
    """Incremental framing for input that arrives in pieces."""

    def __new__(cls, *, max_record: int | None = None) -> Self: ...
    def feed(
        self, data: bytes, damage: DamageLog | None = None, *, keep: bool = True
    ) -> list[Record]: ...
    def finish(self, damage: DamageLog | None = None, *, keep: bool = True) -> list[Record]: ...
    def settle(self, damage: DamageLog | None = None, *, keep: bool = True) -> list[Record]: ...
    @property
    def max_record(self) -> int: ...
    @property
    def position(self) -> int: ...
    @property
    def buffered(self) -> int: ...

def parse_record(data: bytes | bytearray | memoryview) -> Record: ...

# ---- render (praudit-compatible text/XML; rust/python/render.rs) -------------------------

XML_HEADER: bytes
XML_FOOTER: bytes

@final
class Renderer:
    def __new__(
        cls,
        *,
        raw: bool = False,
        short: bool = False,
        numeric: bool = False,
        xml: bool = False,
        oneline: bool = False,
        # Defaults set in Rust: delimiter b",", apple_truncated_word b"truncated",
        # apple_empty_cdhash b"".
        delimiter: bytes = ...,
        apple: bool = False,
        apple_truncated_word: bytes = ...,
        apple_empty_cdhash: bytes = ...,
        xml_strict: bool = False,
        utc: bool = False,
        events: list[tuple[int, bytes, bytes]] = ...,
        users: list[tuple[int, bytes]] = ...,
        groups: list[tuple[int, bytes]] = ...,
    ) -> Self: ...
    @property
    def xml(self) -> bool: ...
    @property
    def xml_strict(self) -> bool: ...
    def render(self, source: object, *, resync: bool = False) -> bytes: ...
    def render_record(self, data: bytes) -> bytes: ...
    def chunks(
        self,
        source: object,
        *,
        resync: bool = False,
        chunk_size: int = 1048576,
        threads: int = 0,
    ) -> RenderChunks: ...
    def stream(self, *, resync: bool = False) -> RenderStream: ...

@final
class RenderChunks:
    def __iter__(self) -> RenderChunks: ...
    def __next__(self) -> bytes: ...
    def write_stdout(self) -> int: ...

@final
class RenderStream:
    def feed(self, data: bytes) -> bytes: ...
    @property
    def done(self) -> bool: ...

# ---- writer (token dicts -> BSM bytes; rust/python/writer.rs) -----------------------------
# The public, documented API is bsmtrail.writer (write_trail, RecordBuilder, EncodeError).

from collections.abc import Iterable, Mapping, Sequence  # noqa: E402 (own section)
from typing import IO  # noqa: E402

def encode_token(token: Mapping[str, Any]) -> bytes: ...
def encode_record(tokens: Sequence[Mapping[str, Any]]) -> bytes: ...
def write_records(file: IO[bytes], records: Iterable[object]) -> tuple[int, int, int]: ...
def generate_trail(
    path: str | PathLike[str], size_bytes: int, seed: int = 0
) -> tuple[int, int, int]: ...

GENERATOR_VERSION: int

# ---- arrow (Arrow export; rust/python/arrow.rs) --------------------------------------------
# The public, documented API is bsmtrail.arrow and the Trail methods (docs/arrow-schema.md).

ARROW_SCHEMA_VERSION: str
MERGE_WINDOW_MS: int
ARROW_COLUMNS: list[str]

@final
class ArrowStream:
    """A one-shot stream of Arrow record batches (Arrow PyCapsule interface)."""

    @property
    def schema(self) -> Any: ...
    @property
    def closed(self) -> bool: ...
    def __arrow_c_schema__(self) -> object: ...
    def __arrow_c_stream__(self, requested_schema: object | None = None) -> object: ...
    def __iter__(self) -> ArrowStream: ...
    def __next__(self) -> Any: ...
    def read_all(self) -> Any: ...
    def report(self) -> list[InputReport]: ...
    @property
    def report_finished(self) -> bool: ...

def check_compression(compression: str) -> None: ...

@final
class BatchWriter:
    """Parquet, JSON Lines or CSV written batch by batch, each batch encoded on a worker."""

    def __new__(
        cls,
        path: str | PathLike[str],
        schema: Any,
        *,
        format: str,
        compression: str = "zstd",
        csv_raw: bool = False,
        threads: int = 0,
    ) -> Self: ...
    def write(self, batch: Any) -> None: ...
    def consume(self, stream: ArrowStream, progress: Callable[[], object] | None = None) -> int: ...
    def close(self) -> int: ...

def jsonl_pieces(batch: Any, *, threads: int = 0) -> list[bytes]: ...

@final
class OcsfTables:
    """What each event number means to the OCSF mapping (``bsmtrail.ocsf.native_tables``)."""

    def __new__(
        cls,
        classes: Sequence[int],
        activities: Sequence[int],
        names: Sequence[tuple[int, str]],
        roles: Mapping[str, Sequence[int]],
        described: Sequence[tuple[int, str, int, str, Sequence[tuple[int, str]], Sequence[str]]],
        version: str,
    ) -> Self: ...

def ocsf_events(batch: Any, tables: OcsfTables, only_class: int | None = None) -> Any: ...
def ocsf_lake_parts(batch: Any, tables: OcsfTables) -> list[tuple[int, str, Any]]: ...
def record_facts(batch: Any, tables: OcsfTables) -> Any: ...

@final
class StatsTally:
    """``bsmtrail stats``'s counts over records-view batches with the columns ``COLUMNS``:
    totals, time span, outcomes, and tables by event, user, path, process and minute,
    each keeping at most ``cap`` keys (past that, approximate). Each batch is counted on
    one of ``threads`` workers (0: every core) and merged in the order added."""

    COLUMNS: ClassVar[list[str]]
    def __new__(cls, exec_events: Sequence[int], *, cap: int = ..., threads: int = ...) -> Self: ...
    def add(self, batch: Any) -> None: ...
    def consume(
        self, stream: ArrowStream, progress: Callable[[], object] | None = None
    ) -> None: ...
    def result(self, *, top: int | None = None, minutes: bool = True) -> dict[str, Any]: ...

@final
class InputReport:
    """What a stream found in one input."""

    @property
    def name(self) -> str: ...
    @property
    def records(self) -> int: ...
    @property
    def record_bytes(self) -> int: ...
    @property
    def rows(self) -> int: ...
    @property
    def damage(self) -> DamageLog: ...
    @property
    def failing(self) -> DamageLog: ...
    @property
    def undecided(self) -> list[int]: ...
    @property
    def undecided_total(self) -> int: ...
    @property
    def late(self) -> list[tuple[int, tuple[int, int], tuple[int, int]]]: ...
    @property
    def late_total(self) -> int: ...

def arrow_stream(
    inputs: list[tuple[str, object]],
    *,
    view: Literal["records", "tokens", "errors"] = "records",
    columns: list[str] | None = None,
    derived: list[tuple[str, str, list[int], list[list[int]], Any, bool]] = ...,
    mode: _Mode,
    batch_size: int = 65536,
    threads: int = 0,
    validate: bool = True,
    max_batch_bytes: int = 33554432,
    window: int = 4194304,
    prefetch: int = 0,
    map_files: bool = False,
    selection: Selection | None = None,
    merge_window_ms: int | None = None,
) -> ArrowStream: ...

# --- time-ordered merge (bsmtrail.timeline) ---------------------------------------------

@final
class MergedChunk:
    @property
    def slice(self) -> TrailSlice: ...
    @property
    def inputs(self) -> list[int]: ...
    @property
    def offsets(self) -> list[int]: ...

@final
class Merge:
    def __new__(
        cls,
        inputs: list[_Input],
        *,
        mode: _Mode,
        window_ms: int,
        count_framing: bool = False,
        keep: int = 1000,
        selection: Selection | None = None,
    ) -> Self: ...
    def __iter__(self) -> Merge: ...
    def __next__(self) -> MergedChunk: ...
    def report(
        self,
    ) -> list[tuple[int, DamageLog, list[tuple[int, tuple[int, int], tuple[int, int]]], int]]: ...
    def error(self) -> tuple[int, Any] | None: ...

# --- selection (bsmtrail.select) -------------------------------------------------------

@final
class Selection:
    """Compiled auditreduce criteria; build with :func:`bsmtrail.select.selection`."""

    def __new__(
        cls,
        *,
        variants: str = "all",
        all: bool = False,
        after: int | None = None,
        before: int | None = None,
        class_mask: tuple[int, int] | None = None,
        event_classes: list[tuple[int, int]] | None = None,
        events: list[int] | None = None,
        euid: int | None = None,
        egid: int | None = None,
        rgid: int | None = None,
        ruid: int | None = None,
        auid: int | None = None,
        subject_pid: int | None = None,
        object_pid: int | None = None,
        msgqid: int | None = None,
        semid: int | None = None,
        shmid: int | None = None,
        files: str | None = None,
        zone: bytes | None = None,
        invert: bool = False,
        time_ms: tuple[int, int] | None = None,
        first_subject: dict[str, list[int]] | None = None,
        success: bool | None = None,
        paths: list[bytes] | None = None,
    ) -> Self: ...
    def matches(self, record: bytes) -> bool: ...
    def __and__(self, other: Selection, /) -> Selection: ...
    def __reduce__(self) -> tuple[Any, tuple[list[dict[str, Any]]]]: ...

def _selection_of(specs: list[dict[str, Any]]) -> Selection: ...
def reduce(
    source: _Input,
    selection: Selection,
    out: str | PathLike[str] | Any,
    *,
    mode: _Mode,
    damage: DamageLog | None = None,
    keep: int = 1000,
    threads: int = 0,
    state: SelectionState | None = None,
) -> tuple[int, int, Any, list[int], int]: ...

@final
class SelectionState:
    """What a sequential selection carries from one ``reduce`` call to the next."""

    def __new__(cls) -> Self: ...

# -- byte-range chunks (rust/python/chunks.rs) ------------------------------------------

CHUNK_LOOKBACK: int
CHUNK_AHEAD: int

def chunk_boundaries(
    source: _Input,
    n_chunks: int | None = None,
    chunk_bytes: int | None = None,
    *,
    splits: list[int] | None = None,
    lookback: int = ...,
    ahead: int = ...,
) -> list[int]: ...
def chunk_span(
    source: _Input,
    index: int,
    chunk_bytes: int,
    *,
    base: int = 0,
    total: int | None = None,
    lookback: int = ...,
    ahead: int = ...,
) -> tuple[int, int, tuple[int, int] | None]: ...

# -- sessions and processes (rust/python/lineage.rs) ---------------------------------------

@final
class Lineage:
    """The sessions and processes views over records-view batches fed in order."""

    COLUMNS: ClassVar[list[str]]
    FORK: ClassVar[int]
    SPAWN: ClassVar[int]
    EXEC: ClassVar[int]
    EXIT: ClassVar[int]
    LOGIN: ClassVar[int]
    LOGOUT: ClassVar[int]
    FILE: ClassVar[int]
    NETWORK: ClassVar[int]
    def __new__(
        cls,
        kinds: list[tuple[int, int]],
        *,
        sessions: bool = True,
        processes: bool = True,
        first_commands: int = 10,
        batch_rows: int = 65536,
    ) -> Self: ...
    def add(self, batch: Any) -> None: ...
    def sessions(self) -> Any | None: ...
    def take_processes(self) -> list[Any]: ...
    def processes(self) -> list[Any] | None: ...

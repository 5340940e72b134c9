"""praudit-compatible rendering of BSM trails to text or XML, as bytes.

The default output of every mode is byte-identical to OpenBSM ``praudit`` (quirks
included; ``docs/praudit-compat.md``). The work happens in Rust with the GIL released: the
event, user and group tables are handed over once per :class:`Renderer`, and no Python
object is made per record.

>>> from bsmtrail.render import render
>>> text = render("trail.bsm", oneline=True)            # doctest: +SKIP
>>> xml = render("trail.bsm", xml=True, xml_strict=True)  # doctest: +SKIP

Output is ``bytes`` because praudit copies string bytes from the trail untouched; use
:func:`render_text` for a ``str`` (undecodable bytes become surrogates).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO

from . import _native
from .events import EventDatabase, load_events
from .types import worker_threads
from .userdb import NamesArg, resolve_groups, resolve_users

__all__ = [
    "XML_FOOTER",
    "XML_HEADER",
    "EventsArg",
    "RenderStream",
    "Renderer",
    "Source",
    "render",
    "render_text",
]

#: Printed once before any input under ``-x``.
XML_HEADER: bytes = _native.XML_HEADER
#: Printed once at the end under ``-x`` (praudit: only when file arguments were given).
XML_FOOTER: bytes = _native.XML_FOOTER

#: A trail: a path, or its bytes.
Source = str | os.PathLike[str] | bytes | bytearray | memoryview | _native.TrailSlice
#: The event table: ``None`` for the default database (:func:`bsmtrail.events.load_events`),
#: an audit_event path, an :class:`~bsmtrail.events.EventDatabase`, or
#: ``(number, name, description)`` entries (first entry per number wins).
EventsArg = None | str | os.PathLike[str] | EventDatabase | Iterable[tuple[int, bytes, bytes]]

RenderStream = _native.RenderStream


def _event_entries(events: EventsArg) -> list[tuple[int, bytes, bytes]]:
    if events is None or isinstance(events, (str, os.PathLike)):
        return list(load_events(events).praudit_entries())
    entries = getattr(events, "praudit_entries", None)
    if callable(entries):
        return list(entries())
    return [(int(n), bytes(name), bytes(desc)) for n, name, desc in events]  # type: ignore[union-attr]


def _as_bytes(delimiter: str | bytes) -> bytes:
    return delimiter if isinstance(delimiter, bytes) else os.fsencode(delimiter)


class Renderer:
    """One rendering configuration (praudit's flags plus bsmtrail's opt-ins).

    Mode flags: ``raw`` (-r), ``short`` (-s), ``numeric`` (-n), ``xml`` (-x), ``oneline``
    (-l), ``delimiter`` (-d). ``raw`` and ``short`` exclude each other. Opt-ins: ``apple``
    decodes Apple's identity/krb5/cert-hash tokens (upstream prints ``unknown``);
    ``xml_strict`` makes XML well-formed; ``utc`` converts times in UTC instead of the local
    zone (``TZ``).

    ``events``: see :data:`EventsArg`. ``users``/``groups``: ``None`` for the system
    database, a passwd/master.passwd or group file, or ``{id: name}``. Under ``numeric`` or
    ``raw`` names are never looked up, so the database is not read.
    """

    def __init__(
        self,
        *,
        raw: bool = False,
        short: bool = False,
        numeric: bool = False,
        xml: bool = False,
        oneline: bool = False,
        delimiter: str | bytes = ",",
        apple: bool = False,
        apple_truncated_word: bytes = b"truncated",
        apple_empty_cdhash: bytes = b"",
        xml_strict: bool = False,
        utc: bool = False,
        events: EventsArg = None,
        users: NamesArg = None,
        groups: NamesArg = None,
    ) -> None:
        if raw and short:
            raise ValueError("raw (-r) and short (-s) are mutually exclusive")
        names = not (raw or numeric)
        self.xml = xml
        self.xml_strict = xml_strict
        # Under -r the event is printed as a number, so the table is not needed either.
        self._native = _native.Renderer(
            raw=raw,
            short=short,
            numeric=numeric,
            xml=xml,
            oneline=oneline,
            delimiter=_as_bytes(delimiter),
            apple=apple,
            apple_truncated_word=apple_truncated_word,
            apple_empty_cdhash=apple_empty_cdhash,
            xml_strict=xml_strict,
            utc=utc,
            events=[] if raw else _event_entries(events),
            users=resolve_users(users) if names else [],
            groups=resolve_groups(groups) if names else [],
        )

    def render(self, source: Source, *, resync: bool = False) -> bytes:
        """The tokens of one input (no XML prologue or epilogue). ``resync`` is ``-p``."""
        return self._native.render(_source(source), resync=resync)

    def render_record(self, record: bytes | bytearray | memoryview) -> bytes:
        """One record's bytes (a header-framed record or a standalone file token)."""
        return self._native.render_record(bytes(record))

    def chunks(
        self,
        source: Source,
        *,
        resync: bool = False,
        chunk_size: int = 1 << 20,
        threads: int | None = None,
    ) -> Iterator[bytes]:
        """The rendering of one input in pieces: runs of about ``chunk_size`` input bytes
        rendered on ``threads`` workers (None: every core), given back in input order (the
        same bytes whatever the thread count)."""
        return iter(self._chunks(source, resync, chunk_size, threads))

    def _chunks(
        self, source: Source, resync: bool, chunk_size: int, threads: int | None
    ) -> _native.RenderChunks:
        return self._native.chunks(
            _source(source),
            resync=resync,
            chunk_size=chunk_size,
            threads=worker_threads(threads),
        )

    def write(
        self,
        source: Source,
        out: BinaryIO,
        *,
        resync: bool = False,
        chunk_size: int = 1 << 20,
        threads: int | None = None,
    ) -> int:
        """Write :meth:`chunks` to ``out``; returns the bytes written. When ``out`` is the
        process's standard output (file descriptor 1), the pieces go from Rust's buffers
        straight to the descriptor (``out`` is flushed first), with no copy into Python."""
        chunks = self._chunks(source, resync, chunk_size, threads)
        out.flush()
        if _is_stdout(out):
            return chunks.write_stdout()
        written = 0
        for piece in chunks:
            out.write(piece)
            written += len(piece)
        return written

    def stream(self, *, resync: bool = False) -> _native.RenderStream:
        """An incremental renderer: ``feed(bytes) -> bytes`` renders each record as soon as
        its last byte arrives (for pipes and ``tail -f``)."""
        return self._native.stream(resync=resync)

    def document(self, sources: Sequence[Source], *, resync: bool = False) -> bytes:
        """Several inputs as praudit prints them given file arguments: the XML prologue
        and epilogue around everything under ``xml``."""
        parts = [XML_HEADER] if self.xml else []
        parts.extend(self.render(s, resync=resync) for s in sources)
        if self.xml:
            parts.append(XML_FOOTER)
        return b"".join(parts)


def _source(source: Source) -> object:
    if isinstance(source, os.PathLike):
        return os.fspath(source)
    return source


def render(source: Source, *, resync: bool = False, **options: object) -> bytes:
    """Render one trail as praudit does with the file as its only argument (so under
    ``xml=True`` with the XML prologue and epilogue). ``options`` are :class:`Renderer`'s."""
    return Renderer(**options).document([source], resync=resync)  # type: ignore[arg-type]


def render_text(source: Source, *, resync: bool = False, **options: object) -> str:
    """:func:`render`, decoded as UTF-8 with ``surrogateescape`` (lossless)."""
    return render(source, resync=resync, **options).decode("utf-8", "surrogateescape")


def _is_stdout(out: BinaryIO) -> bool:
    """Whether ``out`` writes to file descriptor 1 (not a capture or a replaced stream)."""
    try:
        return out.fileno() == 1
    except (OSError, ValueError, AttributeError):
        return False

"""What happened in trails, counted (``bsmtrail stats``): records-view batches go to Rust
(``_native.StatsTally``), which counts each on a worker (a whole stream on the worker
that decoded each batch, :meth:`Tally.add_stream`) and keeps totals, the time span,
outcomes, and tables by event number, user, path, process and minute, each holding at
most ``cap`` distinct keys (flagged approximate past that); the event database names
events and their classes once, at the end."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _native

if TYPE_CHECKING:
    from collections.abc import Callable

    from .arrow import BatchStream
    from .events import EventDatabase

__all__ = ["COLUMNS", "DEFAULT_CAP", "Tally"]

#: The records-view columns a tally reads (read them without the event columns).
COLUMNS: list[str] = list(_native.StatsTally.COLUMNS)
#: Distinct keys each table keeps.
DEFAULT_CAP = 100_000


class Tally:
    """Counts of records-view batches (with :data:`COLUMNS`). ``db`` names events and
    says which are exec events (a record of one without arguments is named by its first
    path). ``threads``: counting workers (None: every core); the counts do not depend on
    it."""

    def __init__(
        self, db: EventDatabase, *, cap: int = DEFAULT_CAP, threads: int | None = None
    ) -> None:
        self.db = db
        by_number = db.events.by_number
        exec_events = [n for n, e in by_number.items() if "EXEC" in e.name.upper()]
        self._native = _native.StatsTally(exec_events, cap=cap, threads=threads or 0)
        self._result: dict[str, Any] | None = None

    def add(self, batch: Any) -> None:
        """Count one batch (any object with ``__arrow_c_array__``)."""
        self._native.add(batch)
        self._result = None

    def add_stream(self, stream: BatchStream, progress: Callable[[], object] | None = None) -> None:
        """Count every batch of ``stream`` (with :data:`COLUMNS`), each on the worker that
        decoded it (:meth:`BatchStream.drain_into`); ``progress()`` runs after each."""
        self._result = None
        stream.drain_into(self._native, progress)

    @property
    def counts(self) -> dict[str, Any]:
        """The counts (``_native.StatsTally.result``): totals by name, ``first``/``last``
        in ms since the epoch, and lists most frequent first: ``events`` (event, records,
        failures), ``auid``/``euid`` (id, records; ties by id, None, no subject, last),
        ``paths``/``processes`` (text, records; ties by text), ``minutes`` (minute in
        ms, event, failed, records); ``approximate`` maps a capped table to the (keys,
        records) it dropped. Past the cap, the texts kept among equal counts are those
        seen first."""
        if self._result is None:
            self._result = self._native.result()
        return self._result

    def top(self, n: int) -> dict[str, Any]:
        """:attr:`counts` with at most ``n`` rows in the user, path and process tables,
        and no ``minutes``: what a report of the ``n`` most frequent needs, without
        converting every key to Python."""
        return self._native.result(top=n, minutes=False)

    @property
    def records(self) -> int:
        return int(self.counts["records"])

    def event_text(self, event: int | None) -> tuple[str | None, str]:
        """An event number's name (None when unknown) and its comma-joined classes."""
        entry = None if event is None else self.db.get(event)
        if entry is None:
            return None, ""
        return entry.name, ",".join(entry.classes)

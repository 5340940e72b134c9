"""DuckDB over trails, read lazily: :func:`register` names a view of trails in a DuckDB
connection, and each query reads only what it needs.

The view is the lazy polars scan (:func:`bsmtrail.polars.scan_trails`): DuckDB hands
polars the columns a query uses and the filters it can push, and the scan passes them on
to bsmtrail's reader, so ``SELECT pid FROM trails WHERE auid = 501`` builds two columns
of the records whose first subject's auid is 501, and nothing else."""

from __future__ import annotations

from typing import Any

from .arrow import InputsArg
from .polars import scan_trails

__all__ = ["register"]


def register(con: Any, name: str, paths: InputsArg, **options: Any) -> Any:
    """Register the records view of ``paths`` as ``name`` in the DuckDB connection
    ``con`` (``options`` as :func:`~bsmtrail.polars.scan_trails` takes them: ``where``,
    ``events``, ``passwd``, ``group``, ``order``, ``log``, ...). Returns ``con``."""
    return con.register(name, scan_trails(paths, **options))

"""What every subcommand says the same way: the usage exception (exit status 2) and the
line naming an input that held no record (exit status 1)."""

from __future__ import annotations

import os
import sys

from ..sources import no_records_reason
from .printable import printable

__all__ = ["UsageError", "say_no_records"]


def say_no_records(prog: str, name: str, path: str | os.PathLike[str] | None = None) -> None:
    """``PROG: NAME: no records: ...`` on stderr; ``path`` is the file read for ``name``
    (a decompressed copy), when it is another."""
    reason = no_records_reason(path or name)
    print(f"{prog}: {printable(name)}: {printable(reason)}", file=sys.stderr)


class UsageError(ValueError):
    """Bad arguments: exit status 2."""

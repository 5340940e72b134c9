"""The command line's one usage exception (exit status 2)."""

from __future__ import annotations

__all__ = ["UsageError"]


class UsageError(ValueError):
    """Bad arguments: exit status 2."""

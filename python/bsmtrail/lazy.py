"""Modules imported on first use: pyarrow and friends cost a fifth of a second to import
and ship no type information, so modules that need them ask here, untyped, when they do."""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["module"]


def module(name: str) -> Any:
    """``importlib.import_module(name)``, typed ``Any``."""
    return importlib.import_module(name)

"""The mapping table: which kind of action each BSM event is, as an OCSF class and
activity (``bsmtrail/data/ocsf_map``, or a table of one's own), and the OCSF classes and
activities a table may name. Every record shape reads it (``bsmtrail.ocsf`` for its
classes, ``bsmtrail.ecs`` for its categorization): the one place that says it."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .lazy import module

if TYPE_CHECKING:
    from .events import EventDatabase

__all__ = ["CLASSES", "CLASS_ATTRIBUTES", "OCSF_VERSION", "Mapping", "load_mapping"]

#: The OCSF release the events follow (``metadata.version``), whose classes and
#: activities :data:`CLASSES` lists.
OCSF_VERSION = "1.7.0"

#: class_uid -> (class name, category_uid, category name, {activity_id: name}).
CLASSES: dict[int, tuple[str, int, str, dict[int, str]]] = {
    0: ("Base Event", 0, "Uncategorized", {0: "Unknown", 99: "Other"}),
    1001: (
        "File System Activity",
        1,
        "System Activity",
        {
            1: "Create",
            2: "Read",
            3: "Update",
            4: "Delete",
            5: "Rename",
            6: "Set Attributes",
            7: "Set Security",
            8: "Get Attributes",
            9: "Get Security",
            10: "Encrypt",
            11: "Decrypt",
            12: "Mount",
            13: "Unmount",
            14: "Open",
            99: "Other",
        },
    ),
    1007: (
        "Process Activity",
        1,
        "System Activity",
        {1: "Launch", 2: "Terminate", 3: "Open", 4: "Inject", 5: "Set User ID", 99: "Other"},
    ),
    3002: (
        "Authentication",
        3,
        "Identity & Access Management",
        {1: "Logon", 2: "Logoff", 7: "Account Switch", 99: "Other"},
    ),
    4001: (
        "Network Activity",
        4,
        "Network Activity",
        {1: "Open", 2: "Close", 3: "Reset", 4: "Fail", 5: "Refuse", 6: "Traffic", 7: "Listen"}
        | {99: "Other"},
    ),
}


#: The attributes only some classes' events carry (the others every event has).
CLASS_ATTRIBUTES: dict[int, tuple[str, ...]] = {
    0: (),
    1001: ("file", "file_result"),
    1007: ("process",),
    3002: ("user", "is_remote", "src_endpoint"),
    4001: ("src_endpoint", "dst_endpoint"),
}


@dataclass(frozen=True)
class Mapping:
    """The mapping table: ``(pattern, class_uid, activity_id)`` rules, first match wins."""

    rules: tuple[tuple[str, int, int], ...]
    source: str

    def classify(self, name: str | None) -> tuple[int, int]:
        """``(class_uid, activity_id)`` for an event name (Base Event, Other: no rule)."""
        if name is not None:
            for pattern, class_uid, activity in self.rules:
                if fnmatch.fnmatchcase(name, pattern):
                    return class_uid, activity
        return 0, 99

    def tables(self, db: EventDatabase) -> tuple[Any, Any]:
        """Per event number (0..65535): class_uid and activity_id arrays (numpy)."""
        np = module("numpy")
        classes = np.zeros(1 << 16, dtype=np.int32)
        activities = np.full(1 << 16, 99, dtype=np.int32)
        for number, entry in db.events.by_number.items():
            if 0 <= number < 1 << 16:
                classes[number], activities[number] = self.classify(entry.name)
        return classes, activities


def load_mapping(path: str | os.PathLike[str] | None = None) -> Mapping:
    """The mapping table at ``path`` (default: the one in the package). Lines are
    ``EVENT CLASS_UID ACTIVITY_ID``; ``#`` starts a comment. A class or activity OCSF
    does not define is refused (ValueError naming the line)."""
    if path is None:
        from importlib import resources  # 20 ms to import: only when asked

        text = resources.files("bsmtrail").joinpath("data/ocsf_map").read_text()
        source = "bsmtrail/data/ocsf_map"
    else:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        source = os.fspath(path)
    rules = []
    for n, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        try:
            pattern, class_uid, activity = fields[0], int(fields[1]), int(fields[2])
        except (IndexError, ValueError):
            raise ValueError(f"{source}:{n}: want EVENT CLASS_UID ACTIVITY_ID") from None
        if len(fields) != 3 or class_uid not in CLASSES or activity not in CLASSES[class_uid][3]:
            raise ValueError(f"{source}:{n}: no OCSF class {fields[1]} activity {fields[2]}")
        rules.append((pattern, class_uid, activity))
    return Mapping(tuple(rules), source)

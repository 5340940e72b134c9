"""Class-mask strings: libbsm's ``getauditflagsbin`` and ``getauditflagschar``.

Grammar: comma-separated items ``[^][+|-]class``. A bare class adds to both masks, ``+``
to the success mask, ``-`` to the failure mask; a leading ``^`` removes instead. Items
apply left to right, starting from zero masks. ``strtok`` drops empty items, no white
space is trimmed, and ``+^fr`` (wrong prefix order) is an unknown class.
"""

from __future__ import annotations

from ._classes import ClassTable
from ._clib import strtok
from ._model import (
    ALL_BITS,
    PRS_BOTH,
    PRS_FAILURE,
    PRS_SUCCESS,
    AuditClass,
    AuditFlagsError,
    AuditMask,
    decode,
    encode,
)


def parse_flags(flags: str | bytes, classes: ClassTable) -> AuditMask:
    """``getauditflagsbin``: a mask string to ``AuditMask(success, failure)``.

    Raises :class:`AuditFlagsError` on an unknown class; its ``partial`` attribute holds the
    half-built masks libbsm leaves behind.
    """
    raw = flags if isinstance(flags, bytes) else encode(flags)
    success = failure = 0
    for token in strtok(raw, b","):
        item = token
        remove = item.startswith(b"^")
        if remove:
            item = item[1:]
        sel = PRS_BOTH
        if item.startswith(b"+"):
            sel, item = PRS_SUCCESS, item[1:]
        elif item.startswith(b"-"):
            sel, item = PRS_FAILURE, item[1:]
        entry = classes.get(decode(item))
        if entry is None:
            raise AuditFlagsError(decode(raw), decode(token), AuditMask(success, failure))
        if remove:
            if sel & PRS_SUCCESS:
                success &= ~entry.mask
            if sel & PRS_FAILURE:
                failure &= ~entry.mask
        else:
            if sel & PRS_SUCCESS:
                success |= entry.mask
            if sel & PRS_FAILURE:
                failure |= entry.mask
    return AuditMask(success & ALL_BITS, failure & ALL_BITS)


def is_valid_flags(flags: str | bytes, classes: ClassTable) -> bool:
    try:
        parse_flags(flags, classes)
    except AuditFlagsError:
        return False
    return True


def format_flags_compat(mask: AuditMask, classes: ClassTable, *, verbose: bool = False) -> str:
    """``getauditflagschar`` exactly, bug included: it never writes a ``+``/``-`` prefix.

    Lists, in file order, every nonzero class whose bits all lie within the success mask or
    within the failure mask (descriptions instead of names when ``verbose``). The result
    does **not** parse back to ``mask`` in general; use :func:`format_flags` for that.
    """
    out: list[str] = []
    for entry in classes:
        if entry.mask == 0:
            continue
        in_success = entry.mask & mask.success == entry.mask
        in_failure = entry.mask & mask.failure == entry.mask
        if in_success or in_failure:
            out.append(entry.description if verbose else entry.name)
    return ",".join(out)


def format_flags(mask: AuditMask, classes: ClassTable) -> str:
    """A mask string that :func:`parse_flags` turns back into exactly ``mask``.

    Classes in both masks print bare, the others with ``+`` or ``-``. A mask that the
    classes cannot build by adding (bits no class covers on its own, as in
    ``all,^fw``) is written as a covering class minus what it must lose. Both masks zero
    give ``""`` (which parses to zero masks). Raises ``ValueError`` when the class table
    cannot express the mask at all.
    """
    # Only the class a name resolves to (the first of that name) can be written by name.
    usable = [c for c in classes if c.mask != 0 and classes.get(c.name) is c]
    s_plan = _plan(mask.success, usable)
    f_plan = _plan(mask.failure, usable)
    for target, plan in ((mask.success, s_plan), (mask.failure, f_plan)):
        if plan is None:
            raise ValueError(f"mask {target:#010x} cannot be written with these classes")
    assert s_plan is not None and f_plan is not None
    s_base, s_sub, s_add = s_plan
    f_base, f_sub, f_add = f_plan
    # Additions (bases included) first, removals after. A mask built by adding has no
    # removals, and the other mask's removals are prefixed, so nothing added is undone.
    items: list[str] = []
    _emit(items, s_base + s_add, f_base + f_add, "", "+", "-")
    _emit(items, s_sub, f_sub, "^", "^+", "^-")
    return ",".join(items)


_Plan = tuple[list[AuditClass], list[AuditClass], list[AuditClass]]


def _emit(
    items: list[str], succ: list[AuditClass], fail: list[AuditClass], both: str, s: str, f: str
) -> None:
    """Append items for these classes in file order, merging a class in both lists."""
    succ_names = {c.name for c in succ}
    fail_names = {c.name for c in fail}
    merged = {c.name: c for c in succ + fail}
    for entry in sorted(merged.values(), key=lambda c: c.line):
        if entry.name in succ_names and entry.name in fail_names:
            items.append(both + entry.name)
        elif entry.name in succ_names:
            items.append(s + entry.name)
        else:
            items.append(f + entry.name)


def _plan(target: int, classes: list[AuditClass]) -> _Plan | None:
    """How to build ``target``: ``(base, removals, additions)`` lists of classes."""
    if target == 0:
        return [], [], []
    inside = [c for c in classes if c.mask & ~target == 0]
    cover = _cover(target, inside)
    if cover is not None:
        return [], [], cover
    # Start from a class that covers the target and remove what lies outside it.
    outside = [c for c in classes if c.mask & target == 0]
    supersets = sorted(
        (c for c in classes if c.mask & target == target), key=lambda c: bin(c.mask).count("1")
    )
    for base in supersets:
        removals = _cover(base.mask & ~target, outside)
        if removals is not None:
            return [base], removals, []
    return None


def _cover(target: int, candidates: list[AuditClass]) -> list[AuditClass] | None:
    """A few classes whose union is exactly ``target`` (all candidates lie within it)."""
    if target == 0:
        return []
    union = 0
    for c in candidates:
        union |= c.mask
    if union != target:
        return None
    chosen: list[AuditClass] = []
    covered = 0
    # Greedy by size keeps ``all`` as one item instead of listing every class.
    for c in sorted(candidates, key=lambda c: -bin(c.mask).count("1")):
        if c.mask & ~covered:
            chosen.append(c)
            covered |= c.mask
            if covered == target:
                break
    order = {id(c): i for i, c in enumerate(candidates)}
    chosen.sort(key=lambda c: order[id(c)])
    return chosen

"""Preselector: the kernel's per-user audit decision from audit_control and audit_user."""

from __future__ import annotations

from typing import Any

from ._control import AuditControl, AuditUsers, user_mask
from ._database import EventDatabase, Source, load_control, load_events, load_users
from ._model import AuditMask


class Preselector:
    """Decides whether an event is audited for a user, as auditd and the kernel would.

    A user's mask is audit_control's ``flags`` plus the user's ``always`` minus ``never``
    (``au_user_mask``); ``user=None`` means a non-attributable event, which uses
    ``naflags``. Masks are computed once per user.
    """

    def __init__(
        self,
        db: EventDatabase,
        control: AuditControl | None = None,
        users: AuditUsers | None = None,
    ) -> None:
        self.db = db
        self.control = control
        self.users = users
        self._masks: dict[str | None, AuditMask] = {}

    @classmethod
    def load(
        cls,
        db: EventDatabase | None = None,
        *,
        audit_control: Source | None = None,
        audit_user: Source | None = None,
        strict: bool = True,
    ) -> Preselector:
        """Load audit_control and audit_user from the given paths or the usual places
        (``$BSMTRAIL_AUDIT_CONTROL``/``$BSMTRAIL_AUDIT_USER``, ``$BSMTRAIL_ETC``,
        /etc/security); a missing file counts as empty."""
        db = db if db is not None else load_events()
        control = load_control(audit_control, db.classes, strict=strict)
        users = load_users(audit_user, db.classes, strict=strict)
        return cls(db, control, users)

    def mask(self, user: str | None) -> AuditMask:
        """The preselection mask for ``user`` (``None``: non-attributable)."""
        hit = self._masks.get(user)
        if hit is None:
            hit = user_mask(user, self.control, self.users, self.db.classes)
            self._masks[user] = hit
        return hit

    def __call__(self, event: int, user: str | None, *, success: bool) -> bool:
        """Is ``event`` audited for ``user`` when it succeeds (or fails)?"""
        return self.db.is_preselected(event, self.mask(user), success=success)

    def array(self, numbers: Any, user: str | None, success: Any) -> Any:
        """Vectorised :meth:`__call__` over event numbers (numpy bool array)."""
        return self.db.preselected_array(numbers, self.mask(user), success)

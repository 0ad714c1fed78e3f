"""Who may record what: users and their roles come from ``renovation.toml``.

    [users]
    "张工" = { role = "supervisor" }
    "孙工" = { role = "auditor" }
    "周科长" = { role = "bureau" }
    "李经理" = { role = "contractor", contractor = "辽源建工" }

Supervisors inspect, sample and close (or reopen) findings; auditors meter, correct and certify
payments; contractors rectify their own findings; the bureau registers, changes the lifecycle,
approves variations, scores, pays and releases the retention. Everyone reads, but contractors never
see a blind sample before its result. With no configuration file everyone may do everything (a
single-user laptop).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from renovation.domain.errors import AccessRefused, NotTheContractor, UnknownUser

ROLES = ("supervisor", "auditor", "contractor", "bureau")

#: The roles allowed to record each action.
ALLOWED: dict[str, tuple[str, ...]] = {
    "register": ("bureau",),
    "demolition": ("bureau",),
    "lifecycle": ("bureau",),
    "boq": ("bureau", "auditor"),
    "variation": ("bureau",),
    "score": ("bureau",),
    "feedback": ("bureau",),
    "inspect": ("supervisor",),
    "sample": ("supervisor",),
    "result": ("supervisor",),
    "close": ("supervisor",),
    "reopen": ("supervisor",),
    "rectify": ("contractor",),
    "meter": ("auditor",),
    "correct": ("auditor",),
    "certify": ("auditor",),  # payment certificates (计量支付)
    "pay": ("bureau",),  # payments against them, and the release of the retention
    "maintain": ("bureau", "auditor"),  # rebuild read models, initialise the chain, demo, import
    "accounts": ("bureau",),  # the web board's passwords (``renovation user passwd``)
}


@dataclass(frozen=True)
class User:
    role: str
    contractor: str | None = None


class Access:
    """The policy; ``Access(None)`` lets everyone do everything."""

    def __init__(self, users: Mapping[str, User] | None) -> None:
        self.users = users

    @property
    def open(self) -> bool:
        return self.users is None

    def role(self, user: str) -> str | None:
        if self.users is None:
            return None
        found = self.users.get(user)
        return found.role if found else None

    def hides_pending_blind_samples(self, user: str) -> bool:
        """Whether ``user`` must not learn of a blind sample before its result: a contractor, and
        anyone the configured [users] do not name (who may see least)."""
        return self.users is not None and self.role(user) in ("contractor", None)

    def check(self, user: str, action: str, contractor: str | None = None) -> None:
        """Refuse unless ``user`` may record ``action`` (on a compound built by ``contractor``)."""
        if self.users is None:
            return
        found = self.users.get(user)
        if found is None:
            raise UnknownUser(user=user, action=f"access_{action}", required=list(ALLOWED[action]))
        required = ALLOWED[action]
        if found.role not in required:
            raise AccessRefused(user=user, role=found.role, action=f"access_{action}", required=list(required))
        if found.role == "contractor" and contractor is not None and found.contractor != contractor:
            raise NotTheContractor(user=user, company=found.contractor, contractor=contractor)

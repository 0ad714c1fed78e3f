"""Which compounds a user sees in detail.

The horse-race board is public; everything else that shows a compound's work — its row of the
progress and quality boards, its findings, samples, ledger, metering history, resident tickets and
the compound itself — a contractor sees for its own compounds only, and a person the configured
``[users]`` does not name (who may see least) for none. With no ``[users]`` everyone sees everything
(a single-user laptop). On PostgreSQL after ``renovation db roles --apply`` the server enforces the
same for a contractor's login by row-level security; here the application does, on both backends.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from renovation.domain import errors
from renovation.domain.values import normalise_code

if TYPE_CHECKING:
    from renovation.services.workspace import Workspace

#: The company of a user whom the configured [users] do not name: no compound is built by it.
NOBODY = ""

R = TypeVar("R")


def company(ws: Workspace, user: str | None) -> str | None:
    """The construction unit whose compounds alone ``user`` sees in detail; None: every compound
    (a supervisor, auditor or the bureau; anyone, with no [users]; the application itself, ``None``)."""
    if user is None:
        return None
    access = ws.config.access()
    if access.users is None:
        return None
    role = access.role(user)
    if role is None:
        return NOBODY
    if role == "contractor":
        return access.users[user].contractor or NOBODY
    return None


def own_codes(ws: Workspace, user: str | None) -> frozenset[str] | None:
    """The codes of the compounds ``user`` sees in detail (None: every one)."""
    own = company(ws, user)
    if own is None:
        return None
    if own == NOBODY:
        return frozenset()
    from sqlalchemy import select

    from renovation.projections.progress import compounds

    with ws.read_models("progress").engine.connect() as connection:
        return frozenset(connection.execute(select(compounds.c.code).where(compounds.c.contractor == own)).scalars())


def require(ws: Workspace, user: str | None, code: str) -> None:
    """Refuse a compound ``user`` may not see in detail as if it did not exist (as a web page's 404)."""
    codes = own_codes(ws, user)
    if codes is not None and normalise_code(code) not in codes:
        raise errors.CompoundNotFound(code=normalise_code(code))


def keep(ws: Workspace, user: str | None, rows: Iterable[R]) -> list[R]:
    """The rows of a board ``user`` may see: by compound (``code``), or by contractor (``contractor``)."""
    own = company(ws, user)
    if own is None:
        return list(rows)
    codes: frozenset[str] | None = None
    kept: list[R] = []
    for row in rows:
        found: Any = row
        if "code" in found:
            if codes is None:
                codes = own_codes(ws, user) or frozenset()
            if found["code"] in codes:
                kept.append(row)
        elif found.get("contractor") == own and own != NOBODY:
            kept.append(row)
    return kept

"""The web board's sign-in: a password per person of ``[users]``, hashed with argon2 (argon2-cffi's
defaults, RFC 9106's second recommended profile) and kept in the store (``renovation.store.accounts``).

Only the bureau sets passwords (``renovation user passwd NAME``); a person not in ``[users]`` has no
account, and a person removed from the file can no longer sign in, whatever the table holds. A check of
a name without an account costs what a check of a wrong password does, so the time taken tells
nobody which names have accounts.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING

from renovation.services.errors import BadRequest

if TYPE_CHECKING:
    from argon2 import PasswordHasher

    from renovation.services.workspace import Workspace

MIN_LENGTH = 10
MAX_LENGTH = 256  # argon2 takes any length; a longer one is only a way to make the server work


class BadPassword(BadRequest):
    pass


@cache
def hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher()


@cache
def _decoy() -> str:
    """A hash to check against when a name has no account (the same work as a wrong password)."""
    return hasher().hash("no account has this password")


def check_password(name: str, password: str) -> None:
    """Refuse a password that is too short or too long, has control characters, or is the name."""
    if len(password) < MIN_LENGTH:
        raise BadPassword(f"a password has at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise BadPassword(f"a password has at most {MAX_LENGTH} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in password):
        raise BadPassword("a password has no control characters")
    if password.strip().casefold() == name.strip().casefold():
        raise BadPassword("a password is not the person's name")
    if len(set(password)) < 5:
        raise BadPassword("a password has at least 5 different characters")


def check_ready(ws: Workspace, by: str, name: str) -> str:
    """Refuse unless ``by`` may set ``name``'s password: [users] lists both, ``by`` is the bureau. Returns
    ``name``'s role."""
    access = ws.config.access()
    if access.users is None:
        raise BadRequest("the web board signs in the people of [users] in renovation.toml, and it lists none "
                         "(without [users], `renovation serve` asks no sign-in and listens on this machine only)")
    access.check(by, "accounts")
    role = access.role(name)
    if role is None:
        raise BadRequest(f"{name!r} is not in [users] of {ws.config.source}: add them there first")
    return role


def set_password(ws: Workspace, by: str, name: str, password: str) -> str:
    """Set ``name``'s password (``by``, the bureau, sets it); returns the role it signs in with."""
    from renovation.store import accounts

    role = check_ready(ws, by, name)
    check_password(name, password)
    hashed = hasher().hash(password)
    ws.app  # noqa: B018 - opens the store (refused where there is none): an account belongs to a store
    accounts.put(ws.backend, name, hashed, datetime.now(UTC).isoformat(timespec="seconds"), by)
    return role


def _hash_of(ws: Workspace, name: str) -> str | None:
    from renovation.store import accounts

    ws.app  # noqa: B018 - binds the backend to the store
    return accounts.hash_of(ws.backend, name)


def verify(ws: Workspace, name: str, password: str) -> str | None:
    """If ``name`` is in ``[users]`` and ``password`` is theirs, the key of this password (``key``);
    else None."""
    from argon2.exceptions import InvalidHashError, VerificationError

    access = ws.config.access()
    known = access.users is not None and access.role(name) is not None and 0 < len(password) <= MAX_LENGTH
    hashed = _hash_of(ws, name) if known else None
    try:
        hasher().verify(hashed or _decoy(), password[:MAX_LENGTH])
    except (VerificationError, InvalidHashError):
        return None
    return _fingerprint(hashed) if hashed is not None else None


def key(ws: Workspace, name: str) -> str | None:
    """What a sign-in keeps of ``name``'s password: a new password (or none) no longer matches it, which
    ends the sessions signed in with the old one. None: no account."""
    hashed = _hash_of(ws, name)
    return _fingerprint(hashed) if hashed is not None else None


def _fingerprint(hashed: str) -> str:
    import hashlib

    return hashlib.sha256(hashed.encode()).hexdigest()[:32]


def unready(ws: Workspace) -> list[str]:
    """What would leave a person of ``[users]`` with nothing on the web board, said when it starts: no
    password set, or a contractor whose company builds no compound of the store (a name mistyped)."""
    from sqlalchemy import select

    from renovation.projections.progress import compounds
    from renovation.store import accounts

    users = ws.config.users
    if users is None:
        return []
    ws.app  # noqa: B018 - binds the backend to the store
    notes: list[str] = []
    kept = set(accounts.names(ws.backend))
    missing = [name for name in users if name not in kept]
    if missing:
        notes.append(f"no web password yet for {', '.join(missing)} (`renovation user passwd NAME` sets one)")
    with ws.read_models("progress").engine.connect() as connection:
        builders = set(connection.execute(select(compounds.c.contractor).distinct()).scalars())
    for name, entry in users.items():
        if entry.role == "contractor" and entry.contractor not in builders:
            notes.append(f"{name}'s company in [users], {entry.contractor!r}, builds no compound of this store: "
                         "their boards will be empty")
    return notes

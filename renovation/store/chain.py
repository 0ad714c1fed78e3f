"""Tamper evidence: every stored event is chained to the one before it.

A link is SHA-256 over the previous link, the event's position (notification id) and its stored
bytes (aggregate id, version, topic, state). The chained recorders (``renovation.store.sqlite``,
``renovation.store.postgres``) write the link in the same
transaction as the event, while they hold the events table's write lock (SQLite's write lock;
eventsourcing's EXCLUSIVE table lock on PostgreSQL), so concurrent writers extend one chain. Each
link also records the position of the previous event, so a gap in the notification ids that was
there when the event was written (a rolled-back transaction on PostgreSQL) is told apart from a
deleted event.

On PostgreSQL the events table also records the database login that wrote each event
(``recorded_by``, default ``session_user``); once ``renovation db roles --apply`` has given every
person a login of their own, ``verify`` also flags an event whose application user (``user`` in its
payload) is not the person whose login wrote it (``user_mismatch``; see ``renovation.store.pg_roles``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from renovation.store.backend import iter_notifications

if TYPE_CHECKING:
    from renovation.store.backend import Backend

GENESIS = "0" * 64
CHAIN_TABLE = "event_chain"
META_TABLE = "event_chain_meta"
#: PostgreSQL: the login role of each person (``renovation db roles``), for the ``user_mismatch`` check.
LOGINS_TABLE = "db_logins"
#: Key in the meta table: the last position recorded before the roles were applied.
ROLES_APPLIED_KEY = "roles_applied_at_position"
#: Key in the meta table: the store's time zone (an IANA name), set when the store is created.
TIME_ZONE_KEY = "time_zone"


def link(previous: str, position: int, originator_id: UUID | str, version: int, topic: str, state: bytes) -> str:
    """SHA-256 over the parts, each followed by a unit separator, then the state."""
    digest = hashlib.sha256(f"{previous}\x1f{position}\x1f{originator_id}\x1f{version}\x1f{topic}\x1f".encode())
    # A row edited by hand may come back as text rather than bytes; hash what is stored.
    digest.update(state if isinstance(state, bytes) else str(state).encode())
    return digest.hexdigest()


def links_after(
    last: tuple[int, str] | None, ids: Sequence[int], events: Sequence[StoredEvent]
) -> list[tuple[int, int, str]]:
    """The links of newly stored events, following the last link (position, hash) or the start."""
    previous_position, previous = last or (0, GENESIS)
    rows = []
    spelled: dict[UUID | str, str] = {}  # each compound's id as text, made once (an import's batch: thousands)
    for position, stored in zip(ids, events, strict=True):
        originator = spelled.get(stored.originator_id)
        if originator is None:
            originator = spelled[stored.originator_id] = str(stored.originator_id)
        current = link(previous, position, originator, stored.originator_version, stored.topic, stored.state)
        rows.append((position, previous_position, current))
        previous_position, previous = position, current
    return rows


@dataclass(frozen=True)
class Problem:
    position: int
    kind: str  # edited | deleted | inserted | unchained | truncated | digest_mismatch | user_mismatch | snapshot
    detail: str


class ChainStore:
    """Reading and (for ``audit verify --init``) writing the chain of one store, through its backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def _table(self, name: str) -> str:
        return self.backend.qualified(name)

    def links(self, batch: int = 5000) -> Iterator[tuple[int, int, str]]:
        after = 0
        while True:
            rows = self.backend.query(
                f"SELECT position, previous, hash FROM {self._table(CHAIN_TABLE)} WHERE position > ? "
                f"ORDER BY position LIMIT ?",
                (after, batch),
            )
            for position, previous, hash_ in rows:
                yield int(position), int(previous), str(hash_)
            if len(rows) < batch:
                return
            after = int(rows[-1][0])

    def head(self) -> tuple[int, str] | None:
        rows = self.backend.query(
            f"SELECT position, hash FROM {self._table(CHAIN_TABLE)} ORDER BY position DESC LIMIT 1"
        )
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    def link_of(self, aggregate_id: UUID, version: int) -> tuple[int, str] | None:
        """The position of an aggregate's event and its link, or None if either is missing."""
        backend = self.backend
        rows = backend.query(
            f"SELECT c.position, c.hash FROM {backend.events_table} e JOIN {self._table(CHAIN_TABLE)} c "
            f"ON c.position = e.{backend.position_column} WHERE e.originator_id = ? AND e.originator_version = ?",
            (backend.originator_param(aggregate_id), version),
        )
        return (int(rows[0][0]), str(rows[0][1])) if rows else None

    def link_at(self, position: int) -> str | None:
        rows = self.backend.query(f"SELECT hash FROM {self._table(CHAIN_TABLE)} WHERE position = ?", (position,))
        return str(rows[0][0]) if rows else None

    def meta(self) -> dict[str, str]:
        rows = self.backend.query(f"SELECT key, value FROM {self._table(META_TABLE)}")
        return {str(key): str(value) for key, value in rows}

    def events(self, batch: int = 5000) -> Iterator[Any]:
        return iter_notifications(self.backend, batch=batch)

    def user_problems(self) -> list[Problem]:
        """Events recorded through a person's own database login under another application user: the
        hook ``verify`` calls; only PostgreSQL records logins (SQLite has none to compare)."""
        return self.backend.user_problems()

    def rebuild(self, marker: dict[str, str]) -> int:
        """Chain every stored event afresh (``audit verify --init``), recording that it was done."""
        rows = []
        previous_position, previous = 0, GENESIS
        for event in self.events():
            current = link(previous, event.id, event.originator_id, event.originator_version, event.topic, event.state)
            rows.append((event.id, previous_position, current))
            previous_position, previous = event.id, current
        statements: list[tuple[str, Sequence[Any]]] = [(f"DELETE FROM {self._table(CHAIN_TABLE)}", ())]
        statements += [(f"INSERT INTO {self._table(CHAIN_TABLE)} VALUES (?, ?, ?)", row) for row in rows]
        statements += [(f"DELETE FROM {self._table(META_TABLE)} WHERE key = ?", (key,)) for key in marker]
        statements += [(f"INSERT INTO {self._table(META_TABLE)} VALUES (?, ?)", item) for item in marker.items()]
        self.backend.execute(statements)
        return len(rows)


def stored_zone(backend: Backend) -> str | None:
    """The store's time zone (an IANA name), None if it keeps none (made before stores kept one)."""
    rows = backend.query(f"SELECT value FROM {backend.qualified(META_TABLE)} WHERE key = ?", (TIME_ZONE_KEY,))
    return str(rows[0][0]) if rows else None


def keep_zone(backend: Backend, name: str, *, replace: bool = False) -> None:
    """Record the store's time zone (IntegrityError if it has one, unless ``replace``)."""
    table = backend.qualified(META_TABLE)
    insert = (f"INSERT INTO {table} (key, value) VALUES (?, ?)", (TIME_ZONE_KEY, name))
    delete = (f"DELETE FROM {table} WHERE key = ?", (TIME_ZONE_KEY,))
    backend.execute([delete, insert] if replace else [insert])


def verify(chain: ChainStore, digest: tuple[int, str] | None = None) -> tuple[int, list[Problem]]:
    """Walk the events and the chain side by side; return how many events verified and the problems
    found, first position first."""
    links = chain.links()
    events = chain.events()
    problems: list[Problem] = []
    running_position, running = 0, GENESIS
    next_link = next(links, None)
    next_event = next(events, None)
    verified = 0
    versions: dict[str, dict[int, int]] = {}  # per aggregate: the version of its remaining events by position
    while next_link is not None or next_event is not None:
        if next_event is not None and type(next_event.originator_version) is int:  # (a row edited by hand may not be)
            versions.setdefault(str(next_event.originator_id), {})[next_event.id] = next_event.originator_version
        if next_event is not None and (next_link is None or next_event.id < next_link[0]):
            problems.append(Problem(next_event.id, "inserted", "no link was written with it: " + _describe(next_event)))
            next_event = next(events, None)
            continue
        assert next_link is not None
        position, previous, stored = next_link
        next_link = next(links, None)
        if next_event is None or next_event.id > position:
            problems.append(Problem(position, "deleted", "the chain has a link here but the event is gone"))
            running_position, running = position, stored
            continue
        event, next_event = next_event, next(events, None)
        base: str | None = running
        if previous != running_position:
            # Events between were removed together with their links.
            problems.append(
                Problem(
                    previous,
                    "deleted",
                    f"the link at {position} follows {previous}, which is gone (last seen: {running_position})",
                )
            )
            base = chain.link_at(previous)
        if base is not None:
            if link(base, position, event.originator_id, event.originator_version, event.topic, event.state) != stored:
                problems.append(Problem(position, "edited", "altered (edited or reordered): " + _describe(event)))
            else:
                verified += 1
        running_position, running = position, stored
    if digest is not None:
        position, expected = digest
        found = chain.link_at(position)
        if found is None:
            problems.append(Problem(position, "truncated", "the log no longer reaches the digest's position"))
        elif found != expected:
            problems.append(Problem(position, "digest_mismatch", "the link at the digest's position differs"))
    problems.extend(chain.user_problems())
    problems.sort(key=lambda problem: problem.position)
    return verified, _name_deleted(problems, versions)


def _name_deleted(problems: list[Problem], versions: dict[str, dict[int, int]]) -> list[Problem]:
    """Say which aggregate a deleted event belonged to, where that aggregate's remaining events skip
    versions around its position (a deleted last event of an aggregate leaves no such trace)."""
    gaps: list[tuple[int, int, str, list[int]]] = []  # (after position, before position, aggregate, versions)
    for originator, seen in versions.items():
        previous_position, previous_version = 0, 0
        for position, version in sorted(seen.items()):
            if version > previous_version + 1:
                gaps.append((previous_position, position, originator, list(range(previous_version + 1, version))))
            previous_position, previous_version = position, max(previous_version, version)
    names: dict[int, str] = {}
    for after, before, originator, absent in gaps:
        inside = [i for i, p in enumerate(problems) if p.kind == "deleted" and after < p.position < before]
        if len(inside) == len(absent):  # one deleted event each, in order
            for i, version in zip(inside, absent, strict=True):
                names.setdefault(i, f"aggregate {originator} version {version}")
        else:
            for i in inside:
                names.setdefault(i, f"aggregate {originator} version(s) {', '.join(map(str, absent))}")
    return [
        Problem(p.position, p.kind, f"{p.detail}: {names[i]}") if i in names else p for i, p in enumerate(problems)
    ]


def _describe(notification: Any) -> str:
    return describe(notification.originator_id, notification.originator_version, notification.topic)


def describe(originator_id: UUID | str, version: int, topic: str) -> str:
    """An event as problems name it (``audit verify`` replaces the aggregate id by the compound code)."""
    named = topic.decode(errors="replace") if isinstance(topic, bytes) else str(topic)  # a row edited by hand
    return f"aggregate {originator_id} version {version} ({named.rsplit('.', 1)[-1]})"

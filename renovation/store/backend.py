"""The backend: everything that depends on which database holds a store, behind one object.

A store is named by the ``--db`` value: a plain path (or ``sqlite:///path``) is an SQLite file; a
``postgresql://`` URL selects PostgreSQL (``?schema=NAME`` puts the tables in that schema).
``renovation.store.open_backend(db)`` makes the one :class:`Backend` of that value; the application, the
read models, the chain and the importer ask it every question whose answer differs between the two
databases, and it makes every call into eventsourcing's private API (``tests/library`` pins those
calls, so that an upgrade of the library fails one clear test).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from renovation.store.chain import Problem

DEFAULT_DB = "renovation.db"
#: Seconds a command waits for another writer's lock before it gives up ("database busy"), unless
#: RENOVATION_LOCK_TIMEOUT says otherwise. On PostgreSQL it is also the longest a session may sit idle
#: inside a transaction, so one stuck client cannot block every writer.
LOCK_TIMEOUT_SECONDS = 10
#: Advisory lock key held while tables are created, the events' and the read models' (PostgreSQL).
DDL_LOCK = 7_021_216

#: Writes the stored events of one transaction and returns their positions (notification ids).
#: Stored events appended, with the photos they name (stored first, in the same transaction).
Append = Callable[..., Sequence[int]]


#: The snapshots' table (eventsourcing names it after the application, "renovation").
SNAPSHOTS_TABLE = "renovation_snapshots"


class BadDatabaseURL(ValueError):
    pass


def lock_timeout() -> str:
    raw = os.environ.get("RENOVATION_LOCK_TIMEOUT", "")
    if raw.isdigit() and 0 < int(raw) <= 3600:
        return raw
    if raw:
        raise BadDatabaseURL(f"RENOVATION_LOCK_TIMEOUT={raw!r}: give whole seconds, 1 to 3600")
    return str(LOCK_TIMEOUT_SECONDS)


class Backend(ABC):
    """One store's database. Made from the ``--db`` value; bound to the application's recorders once
    the application has made them (:meth:`bind`)."""

    kind: ClassVar[str]
    #: The placeholder of the database driver's parameters.
    marker: ClassVar[str]
    #: The events table's column of an event's position in the log (its notification id).
    position_column: ClassVar[str]
    #: Whether several processes may write the read models at once (PostgreSQL's locks are a row's; SQLite
    #: has one write lock for the whole store): a large catch-up is then shared out among processes.
    writers_at_once: ClassVar[bool] = False

    def __init__(self, db: str, env: dict[str, str]) -> None:
        self.db = db
        #: The eventsourcing environment of the store (``PERSISTENCE_MODULE``, ``SQLITE_DBNAME``, ...).
        self.env = env
        self._recorder: Any = None
        self._snapshot_recorder: Any = None

    @property
    def is_postgres(self) -> bool:
        return self.kind == "postgres"

    # ---------------------------------------------------------------- the application's recorders
    def bind(self, recorder: Any, snapshot_recorder: Any = None) -> None:
        self._recorder = recorder
        self._snapshot_recorder = snapshot_recorder

    @property
    def recorder(self) -> Any:
        if self._recorder is None:
            raise RuntimeError("the backend is not bound to an application yet")
        return self._recorder

    def transaction(self, *, commit: bool) -> AbstractContextManager[Any]:
        """A cursor inside one transaction of the events' database (rolled back on any error)."""
        return self.recorder.datastore.transaction(commit=commit)  # type: ignore[no-any-return]

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of a read-only statement written with ``?`` placeholders, as tuples."""
        with self.transaction(commit=False) as cursor:
            cursor.execute(self._placeheld(sql), params)
            return [self._tuple(row) for row in cursor.fetchall()]

    def execute(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Statements written with ``?`` placeholders, in one transaction."""
        with self.transaction(commit=True) as cursor:
            for sql, params in statements:
                cursor.execute(self._placeheld(sql), params)

    def _placeheld(self, sql: str) -> str:
        return sql if self.marker == "?" else sql.replace("?", self.marker)

    @staticmethod
    def _tuple(row: Any) -> tuple[Any, ...]:
        return tuple(row.values()) if isinstance(row, dict) else tuple(row)

    @property
    def events_table(self) -> str:
        return self.qualified(self.recorder.events_table_name)

    def stored_rows(self, start: int, stop: int, limit: int, topics: Sequence[str] = ()) -> list[tuple[Any, ...]]:
        """Up to ``limit`` stored events (of ``topics``, if given) from position ``start`` to ``stop``
        (both included), in order, as the driver reads them: (position, aggregate id, version, topic,
        state). The read models decode these themselves (see ``ReadModels``), without the library's
        domain-event objects."""
        position = self.position_column
        which = f"AND topic IN ({', '.join('?' for _ in topics)}) " if topics else ""
        return self.query(
            f"SELECT {position}, originator_id, originator_version, topic, state FROM {self.events_table} "
            f"WHERE {position} >= ? AND {position} <= ? {which}ORDER BY {position} LIMIT ?",
            (start, stop, *topics, limit))

    def count_events(self) -> int:
        """How many events are stored (on PostgreSQL notification ids have gaps, so they are counted)."""
        (row,) = self.query(f"SELECT COUNT(*) FROM {self.events_table}")  # the table name is ours, not input
        return int(row[0])

    # ---------------------------------------------------------------- what differs
    @abstractmethod
    def qualified(self, table: str) -> str:
        """A table's name as SQL (schema-qualified and quoted on PostgreSQL)."""

    @abstractmethod
    def originator_param(self, aggregate_id: UUID) -> Any:
        """An aggregate id as the events table stores it."""

    @abstractmethod
    def prepared(self) -> AbstractContextManager[dict[str, str]]:
        """The environment to build the application with (creating what the store lacks)."""

    @abstractmethod
    def writer_lock(self, code: str) -> AbstractContextManager[None]:
        """Held by a writer of the compound ``code`` from load to save."""

    @abstractmethod
    def appending(self, zone: str | None = None) -> AbstractContextManager[Append]:
        """One transaction to write stored events in, batch after batch, each with its chain links;
        committed when the block ends, rolled back if it fails. ``zone``: the time zone the store
        keeps from then on, written in the same transaction (an import into an empty store)."""

    @abstractmethod
    def engine(self) -> Engine:
        """An SQLAlchemy engine on the same database, for the read models."""

    def lock_ddl(self, connection: Connection) -> None:
        """Hold, until the read models' transaction ends, the lock under which tables are created: on
        PostgreSQL processes starting together must not run the same DDL at once (SQLite's write lock
        already serialises it)."""
        return None

    def analyze(self, connection: Connection, tables: Sequence[str]) -> None:
        """Refresh the planner's statistics of tables that just received many rows (PostgreSQL; SQLite
        plans well enough without)."""
        return None

    def tidy(self, connection: Connection, tables: Sequence[str]) -> None:
        """After a catch-up that changed many rows of these tables (outside any transaction): the rows its
        updates left behind removed and the planner's statistics refreshed (PostgreSQL; SQLite updates
        in place)."""
        return None

    def checkpoint(self, connection: Connection) -> None:
        """Copy what a large catch-up left in the write-ahead log into the database (SQLite: else the
        next command's commit would, under its user's wait); outside any transaction."""
        return None

    def is_version_conflict(self, error: Exception) -> bool:
        """Whether an error from saving events is a lost race: the (compound, version) key, or events
        recorded before one that another writer stored meanwhile (``RecordedOutOfOrder``); here every
        IntegrityError. Any other (PostgreSQL: an event without its chain link) is a failure to report."""
        from eventsourcing.persistence import IntegrityError

        return isinstance(error, IntegrityError)

    def latest_recorded_time(self) -> datetime | None:
        """The recording time of the last stored event (None if there is none): no event is recorded
        before it (``renovation.store.timeorder``)."""
        from renovation.store.timeorder import recorded_at

        rows = self.query(f"SELECT state FROM {self.events_table} ORDER BY {self.position_column} DESC LIMIT 1")
        return recorded_at(rows[0][0]) if rows else None

    def exists(self) -> bool:
        """Whether the store's database is there already (PostgreSQL: a server is assumed to be)."""
        return True

    def peek_zone(self) -> str | None:
        """The store's time zone read without opening the store as the application does (nothing is
        created or written): None if there is no store yet, it keeps none, or it cannot be read."""
        return None

    def version_at(self, aggregate_id: UUID, position: int) -> int:
        """The aggregate's last version stored at or before ``position`` in the log (0 if none)."""
        rows = self.query(
            f"SELECT MAX(originator_version) FROM {self.events_table} WHERE originator_id = ? "
            f"AND {self.position_column} <= ?", (self.originator_param(aggregate_id), position),
        )
        return int(rows[0][0] or 0) if rows else 0

    def server_now(self) -> datetime | None:
        """The database server's clock, where the server has one (PostgreSQL); None for SQLite."""
        return None

    def identity(self) -> Any:
        """What tells the store this application opened from another put in its place (SQLite's ``restore``
        replaces its file); None where nothing does."""
        return None

    def still_the_same(self, meanwhile: str) -> None:
        """Raise OperationalError if the store was replaced since this application opened it (SQLite), saying
        what was under way ``meanwhile`` and what became of it."""
        return None

    def may_write(self, table: str) -> bool:
        """Whether this login may write ``table`` (a snapshot, a read model): always, but on PostgreSQL
        after ``db roles --apply`` (the projector's login alone writes read models and snapshots)."""
        return True

    def reads_log(self) -> bool:
        """Whether this login may read the events (on PostgreSQL after ``db roles --apply``, a
        contractor's may not: it reads the boards only)."""
        return True

    def log_head(self) -> int:
        """The log's last position, for any login that may read a board (on PostgreSQL after ``db roles
        --apply``, through a function: contractors may not read the log)."""
        return int(self.recorder.max_notification_id() or 0)

    def missing_safeguards(self) -> list[str]:
        """What the store should have and lacks, for ``audit verify`` to say (PostgreSQL)."""
        return []

    def user_problems(self) -> list[Problem]:
        """Events recorded through a person's own database login under another user (PostgreSQL)."""
        return []

    def close(self) -> None:
        """Release what the backend holds besides the application's own connections."""
        return None


def iter_notifications(backend: Backend, topics: Sequence[str] = (), batch: int = 1000) -> Iterator[Any]:
    """Every notification of the log, in order (optionally of some topics only), read page by page."""
    start = 1
    while True:
        page = backend.recorder.select_notifications(start, batch, topics=topics)
        yield from page
        if len(page) < batch:
            return
        start = page[-1].id + 1

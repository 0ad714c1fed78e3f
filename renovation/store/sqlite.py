"""The SQLite backend: one file holds the events, their hash chain, the snapshots and the read models.

Writers queue on a lock file beside the store (``<db>-writer.lock``) from load to save; the chained
recorder writes each event's link in the event's own transaction.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote
from uuid import UUID

from eventsourcing.persistence import OperationalError, StoredEvent
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder, SQLiteCursor

from renovation.store.backend import LOCK_TIMEOUT_SECONDS, Append, Backend
from renovation.store.chain import CHAIN_TABLE, META_TABLE, TIME_ZONE_KEY, links_after
from renovation.store.photos import PHOTO_COLUMNS, PHOTOS_TABLE, Photo
from renovation.store.timeorder import check_order, recorded_at

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

#: The files of a store besides the database itself.
COMPANIONS = ("-wal", "-shm", "-journal")


def sqlite_env(path: str, timeout: str) -> dict[str, str]:
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "APPLICATION_RECORDER_TOPIC": "renovation.store.sqlite:ChainedSQLiteRecorder",
        "SQLITE_DBNAME": path,
        "SQLITE_LOCK_TIMEOUT": timeout,
    }


class ChainedSQLiteRecorder(SQLiteApplicationRecorder):
    """eventsourcing's SQLite recorder, writing the hash-chain link of every event it inserts in the
    same transaction (see ``renovation.store.chain``)."""

    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {CHAIN_TABLE} (position INTEGER PRIMARY KEY, "
            "previous INTEGER NOT NULL, hash TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {META_TABLE} (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {PHOTOS_TABLE} ({PHOTO_COLUMNS.format(binary='BLOB')})",
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = self._insert_all(c, stored_events)
        # The INSERT above holds the write lock: no other writer can extend the chain meanwhile.
        # Raising here rolls the transaction back.
        if ids:
            c.execute(f"SELECT state FROM {self.events_table_name} WHERE rowid < ? ORDER BY rowid DESC LIMIT 1",
                      (ids[0],))
            before = c.fetchone()
            check_order(recorded_at(before[0]) if before else None, stored_events)
        c.execute(f"SELECT position, hash FROM {CHAIN_TABLE} ORDER BY position DESC LIMIT 1")
        row = c.fetchone()
        last = (row[0], row[1]) if row else None
        c.executemany(f"INSERT INTO {CHAIN_TABLE} VALUES (?, ?, ?)", links_after(last, ids, stored_events))
        return ids

    def _insert_all(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent]) -> list[int]:
        """Insert the events and read their positions. Several (an import's batch) in one statement run over
        them all, not one statement each as eventsourcing's recorder does to read each one's position: their
        positions are then those of the table's last rows, as this transaction holds the write lock from its
        first insert, and each of those rows is checked to be the event it is taken for."""
        if len(stored_events) < 2:
            ids = super()._insert_events(c, stored_events)
            assert ids is not None
            return list(ids)
        SQLiteAggregateRecorder._insert_events(self, c, stored_events)
        c.execute(f"SELECT rowid, originator_id, originator_version FROM {self.events_table_name} "
                  "ORDER BY rowid DESC LIMIT ?", (len(stored_events),))
        rows = c.fetchall()
        rows.reverse()
        for (_position, originator, version), stored in zip(rows, stored_events, strict=True):
            expected = stored.originator_id.hex if isinstance(stored.originator_id, UUID) else stored.originator_id
            if originator != expected or version != stored.originator_version:
                raise OperationalError("the events just inserted are not the table's last rows: nothing was recorded")
        return [position for position, _originator, _version in rows]


#: Pages of the read models' tables a connection keeps in memory (SQLite's default is 2 MB): a large
#: catch-up touches index pages all over its tables.
READ_MODEL_CACHE_KB = 65_536
#: Pages written to the log (WAL) by the read models' connections before one of their commits copies
#: them into the database file (SQLite's default is 1,000: a large catch-up then copied its pages,
#: some of them the same each batch, at every commit). A catch-up copies what it left at its end.
READ_MODEL_CHECKPOINT_PAGES = 16_384


class SQLiteBackend(Backend):
    kind = "sqlite"
    marker: ClassVar[str] = "?"
    position_column: ClassVar[str] = "rowid"

    @property
    def path(self) -> str:
        return self.env["SQLITE_DBNAME"]

    @property
    def real_path(self) -> str:
        """The store's file with every symbolic link resolved: SQLite names its companions after it."""
        return os.path.realpath(self.path)

    def files(self) -> list[Path]:
        """The store's file and its companions (write-ahead log, shared memory, rollback journal)."""
        return [Path(self.path), *(Path(self.path + suffix) for suffix in COMPANIONS)]

    def protected(self) -> list[Path]:
        """Every file of the store, the writers' lock file included: never an output's target."""
        real = self.real_path
        return [*self.files(), Path(f"{self.path}-writer.lock"), Path(real),
                *(Path(real + suffix) for suffix in (*COMPANIONS, "-writer.lock"))]

    def qualified(self, table: str) -> str:
        return f'"{table}"'

    def exists(self) -> bool:
        return not self.path.startswith(":memory:") and os.path.exists(self.path)

    def peek_zone(self) -> str | None:
        if self.path.startswith(":memory:") or not os.path.isfile(self.path):
            return None
        try:
            # A path as a file: URI (what urllib.request.pathname2url does on POSIX, without importing the
            # HTTP client that module brings in on every command).
            connection = sqlite3.connect(f"file:{quote(self.real_path)}?mode=ro", uri=True, timeout=1)
            try:
                row = connection.execute(f"SELECT value FROM {META_TABLE} WHERE key = ?", (TIME_ZONE_KEY,)).fetchone()
            finally:
                connection.close()
        except sqlite3.Error:
            return None
        return str(row[0]) if row else None

    def originator_param(self, aggregate_id: UUID) -> Any:
        return aggregate_id.hex

    @contextmanager
    def prepared(self) -> Iterator[dict[str, str]]:
        yield self.env

    @contextmanager
    def writer_lock(self, code: str) -> Iterator[None]:
        """One writer at a time from load to save: an exclusive lock on ``<db>-writer.lock``, waited for
        up to the lock timeout. Taking it up front (like BEGIN IMMEDIATE, but spanning the load too)
        means concurrent writers queue instead of losing version races and retrying."""
        if self.path.startswith(":memory:"):
            yield
            return
        deadline = time.monotonic() + float(self.env.get("SQLITE_LOCK_TIMEOUT") or LOCK_TIMEOUT_SECONDS)
        path = f"{self.real_path}-writer.lock"  # one lock however --db is spelled
        handle = self._locked(path, deadline)
        try:
            self._still_the_same_file()
            yield
        finally:
            # Removed while still held, so that no lock file stays behind: a writer that was waiting
            # on it finds it gone once it gets it, and takes the lock on a new file instead.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            fcntl.flock(handle, fcntl.LOCK_UN)
            handle.close()

    @staticmethod
    def _locked(path: str, deadline: float) -> IO[str]:
        """The lock file at ``path``, opened and exclusively locked (the one at the path when locked)."""
        while True:
            handle = open(path, "a")  # noqa: SIM115 - held until the write ends, closed by writer_lock
            try:
                while True:
                    try:
                        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if time.monotonic() > deadline:
                            raise OperationalError("database is busy: another writer holds the lock") from None
                        time.sleep(0.005)
                held = os.fstat(handle.fileno())
                try:
                    there = os.stat(path)
                except FileNotFoundError:
                    there = None
                if there is not None and (there.st_dev, there.st_ino) == (held.st_dev, held.st_ino):
                    return handle
            except BaseException:
                handle.close()
                raise
            handle.close()  # the previous writer removed it while we waited: lock the new one

    def bind(self, recorder: Any, snapshot_recorder: Any = None) -> None:
        super().bind(recorder, snapshot_recorder)
        self._identity = self._file_identity()  # the file the application's connections opened

    def _file_identity(self) -> tuple[int, int] | None:
        try:
            found = os.stat(self.real_path)
        except OSError:
            return None
        return found.st_dev, found.st_ino

    def _still_the_same_file(self) -> None:
        """A writer that waited while `restore` put another file in the store's place would write into
        the old one, gone from the directory: it stops instead."""
        self.still_the_same("this command waited; nothing was recorded, run it again")

    def identity(self) -> tuple[int, int] | None:
        return getattr(self, "_identity", None)  # the file the application's connections opened

    def still_the_same(self, meanwhile: str) -> None:
        identity = self.identity()
        if identity is not None and self._file_identity() != identity:
            raise OperationalError(f"the store was replaced (restored) while {meanwhile}")

    @contextmanager
    def appending(self, zone: str | None = None) -> Iterator[Append]:
        recorder = self.recorder
        with self.transaction(commit=True) as cursor:
            if zone is not None:
                cursor.execute(f"DELETE FROM {META_TABLE} WHERE key = ?", (TIME_ZONE_KEY,))
                cursor.execute(f"INSERT INTO {META_TABLE} (key, value) VALUES (?, ?)", (TIME_ZONE_KEY, zone))

            def append(batch: Sequence[StoredEvent], photos: Sequence[Photo] = ()) -> Sequence[int]:
                for photo in photos:
                    cursor.execute(f"INSERT INTO {PHOTOS_TABLE} (sha256, media_type, size, taken_at, data) "
                                   "VALUES (?, ?, ?, ?, ?) ON CONFLICT (sha256) DO NOTHING",
                                   (photo.sha256, photo.media_type, photo.size, photo.taken_at, photo.data))
                if not batch:
                    return []
                ids = recorder._insert_events(cursor, batch)  # the chained recorder's: events and links
                assert ids is not None
                return list(ids)

            yield append

    def engine(self) -> Engine:
        from sqlalchemy import create_engine, event
        from sqlalchemy.pool import QueuePool

        path, timeout = self.path, float(self.env.get("SQLITE_LOCK_TIMEOUT", "10"))
        # The driver's connection made by hand: in a URL, a '?' or '#' in the path would start a query.
        engine = create_engine("sqlite://", poolclass=QueuePool,  # as for a file (not one shared connection)
                               creator=lambda: sqlite3.connect(path, timeout=timeout, check_same_thread=False))

        @event.listens_for(engine, "connect")
        def _autocommit_driver(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # transactions are begun below, explicitly
            # This engine writes only the read models, which are made again from the log: a commit lost
            # to a power cut is caught up again (WAL keeps each commit whole, position and rows
            # together), so it need not wait for the disk. The events' own connection keeps syncing.
            (mode,) = dbapi_connection.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() == "wal":  # the store's mode (eventsourcing sets it); not changed here
                dbapi_connection.execute("PRAGMA synchronous=NORMAL")
            dbapi_connection.execute(f"PRAGMA cache_size=-{READ_MODEL_CACHE_KB}")
            dbapi_connection.execute(f"PRAGMA wal_autocheckpoint={READ_MODEL_CHECKPOINT_PAGES}")

        @event.listens_for(engine, "begin")
        def _begin(connection: Connection) -> None:
            # Catching up reads its position and then writes: it takes the write lock up front,
            # so two processes catching up at once queue instead of failing to upgrade a read lock.
            immediate = connection.get_execution_options().get("immediate", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    def checkpoint(self, connection: Connection) -> None:
        # Passive: readers are not waited for; what they still read stays in the log for later.
        # The driver's own connection, in no transaction (one begun would keep the pages from the file).
        connection.connection.dbapi_connection.execute("PRAGMA wal_checkpoint(PASSIVE)")  # type: ignore[union-attr]

    def discard(self) -> None:
        """Delete the store's file and its companions."""
        for file in self.files():
            file.unlink(missing_ok=True)

    def backup_to(self, target: Path) -> None:
        """A consistent copy of the whole file (events, chain, read models) while writers go on,
        through SQLite's online backup API; written beside ``target`` and renamed into place."""
        import tempfile

        handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
        os.close(handle)  # a name of its own: never a file or a link that was there
        partial = Path(name)
        try:
            # Read through a connection that may write (``rw``: it never creates the file), which as the last
            # to close folds the store's write-ahead log back in and removes it, as every command's does (a
            # read-only one leaves the -wal and -shm files behind). Both are closed here: a connection's
            # ``with`` only ends its transaction.
            with contextlib.closing(sqlite3.connect(Path(self.path).resolve().as_uri() + "?mode=rw", uri=True,
                                                    timeout=30)) as origin, \
                    contextlib.closing(sqlite3.connect(partial)) as copy:
                origin.backup(copy, pages=1024)  # steps, so writers are not held up for the whole copy
            partial.replace(target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    def replace_with(self, prepared: Path) -> None:
        """Put ``prepared``, a complete store file beside this one, in the store's place (its
        write-ahead log and journal dropped first): a rename, so the store is never half-written."""
        real = self.real_path  # through a link, the file it points to is replaced, not the link
        for suffix in COMPANIONS:
            Path(real + suffix).unlink(missing_ok=True)
        prepared.replace(real)

"""Persistence: the event store with its hash chain, on SQLite or PostgreSQL (see ``backend``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from renovation.store.backend import BadDatabaseURL, lock_timeout

if TYPE_CHECKING:
    from renovation.store.backend import Backend


def open_backend(db: str) -> Backend:
    """The backend of a ``--db`` value: an SQLite file for a path, PostgreSQL for a URL. Only the chosen
    backend's module is imported (an SQLite user never imports psycopg)."""
    if db.startswith(("postgresql://", "postgres://")):
        from renovation.store.postgres import PostgresBackend, postgres_env

        return PostgresBackend(db, postgres_env(db, lock_timeout()))
    path = db.removeprefix("sqlite:///") if db.startswith("sqlite:///") else db
    if not path or "://" in path:
        raise BadDatabaseURL(f"unsupported database {db!r}: give a file path or a postgresql:// URL")
    if path.startswith("file:"):  # SQLite would read it as a URI naming another file than the one checked
        raise BadDatabaseURL(f"--db {db!r}: give the file's path, not a file: URI")
    from renovation.store.sqlite import SQLiteBackend, sqlite_env

    return SQLiteBackend(db, sqlite_env(path, lock_timeout()))


def persistence_env(db: str) -> dict[str, str]:
    """The eventsourcing environment of a ``--db`` value (connects to nothing)."""
    return open_backend(db).env

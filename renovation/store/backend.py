"""Where the events are kept: the ``--db`` URL, and how values are written as JSON.

A plain path (or ``sqlite:///path``) is an SQLite file; a ``postgresql://`` URL selects PostgreSQL
(``?schema=NAME`` puts the tables in that schema).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from eventsourcing.persistence import JSONTranscoder, Transcoding

DEFAULT_DB = "renovation.db"
#: Seconds a command waits for another writer's lock before it gives up ("database busy"), unless
#: RENOVATION_LOCK_TIMEOUT says otherwise. On PostgreSQL it is also the longest a session may sit idle
#: inside a transaction, so one stuck client cannot block every writer.
LOCK_TIMEOUT_SECONDS = 10


def lock_timeout() -> str:
    raw = os.environ.get("RENOVATION_LOCK_TIMEOUT", "")
    if raw.isdigit() and 0 < int(raw) <= 3600:
        return raw
    if raw:
        raise BadDatabaseURL(f"RENOVATION_LOCK_TIMEOUT={raw!r}: give whole seconds, 1 to 3600")
    return str(LOCK_TIMEOUT_SECONDS)


class BadDatabaseURL(ValueError):
    pass


class DecimalAsPlainStr(Transcoding):
    """Decimals as plain strings (``"4200"``, ``"0.50"``), keeping their scale; never exponents."""

    type = Decimal
    name = "decimal_str"

    def encode(self, obj: Decimal) -> str:
        return format(obj, "f")

    def decode(self, data: str) -> Decimal:
        return Decimal(data)


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class DataclassAsDict(Transcoding):
    """A frozen dataclass of the domain as an object of its fields (nested values transcoded too)."""

    def __init__(self, cls: type) -> None:
        self.type = cls
        self.name = cls.__name__

    def encode(self, obj: Any) -> dict[str, Any]:
        return {field.name: getattr(obj, field.name) for field in dataclasses.fields(obj)}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**data)


def register_transcodings(transcoder: JSONTranscoder) -> None:
    from renovation.domain.values import VALUE_TYPES

    transcoder.register(DecimalAsPlainStr())
    transcoder.register(DateAsISO())
    for cls in VALUE_TYPES:
        transcoder.register(DataclassAsDict(cls))


def persistence_env(db: str) -> dict[str, str]:
    """The eventsourcing environment for a ``--db`` value."""
    if db.startswith(("postgresql://", "postgres://")):
        return postgres_env(db)
    path = db.removeprefix("sqlite:///") if db.startswith("sqlite:///") else db
    if not path or "://" in path:
        raise BadDatabaseURL(f"unsupported database {db!r}: give a file path or a postgresql:// URL")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "APPLICATION_RECORDER_TOPIC": "renovation.store.chain:ChainedSQLiteRecorder",
        "SQLITE_DBNAME": path,
        "SQLITE_LOCK_TIMEOUT": lock_timeout(),
    }


def postgres_env(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise BadDatabaseURL(f"database name missing in {url!r}")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "APPLICATION_RECORDER_TOPIC": "renovation.store.postgres:ChainedPostgresRecorder",
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",  # inserts go through the chained recorder's hook
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": parts.hostname or "localhost",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_LOCK_TIMEOUT": lock_timeout(),
        "POSTGRES_CONNECT_TIMEOUT": "5",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": lock_timeout(),
    }
    schema = parse_qs(parts.query).get("schema")
    if schema:
        env["POSTGRES_SCHEMA"] = schema[0]
    return env


@contextmanager
def prepared(env: dict[str, str]) -> Iterator[dict[str, str]]:
    """The environment to build the application with. On PostgreSQL: create the ``?schema=`` schema
    if missing and, while the tables do not exist yet, hold an advisory lock so that processes
    starting together do not run the same DDL at once (PostgreSQL refuses concurrent DDL on one
    catalogue row); once they exist, skip the DDL."""
    if env.get("PERSISTENCE_MODULE") != "eventsourcing.postgres":
        yield env
        return
    import psycopg
    from eventsourcing.persistence import OperationalError
    from psycopg import sql

    schema = env.get("POSTGRES_SCHEMA") or "public"
    try:
        connection = psycopg.connect(
            dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"],
            connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]), autocommit=True,
        )
    except psycopg.Error as error:
        raise OperationalError(error) from error
    with connection:
        found = connection.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f'"{schema}"."{CHAIN_CHECK_TABLE}"',)
        ).fetchone()
        if found and found[0]:
            yield {**env, "CREATE_TABLE": "n"}
            return
        connection.execute("SELECT pg_advisory_lock(%s)", (DDL_LOCK,))
        try:
            connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            yield env
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (DDL_LOCK,))


#: The last table the application creates: once it exists, so do the others.
CHAIN_CHECK_TABLE = "event_chain_meta"
#: Advisory lock key held while the tables are created.
DDL_LOCK = 7_021_216


@contextmanager
def writer_lock(env: dict[str, str]) -> Iterator[None]:
    """On SQLite, one writer at a time from load to save: an exclusive lock on ``<db>-writer.lock``,
    waited for up to the lock timeout. Taking it up front (like BEGIN IMMEDIATE, but spanning the
    load too) means concurrent writers queue instead of losing version races and retrying. On
    PostgreSQL nothing: eventsourcing's table lock serialises inserts, and conflicts are retried."""
    path = env.get("SQLITE_DBNAME")
    if env.get("PERSISTENCE_MODULE") != "eventsourcing.sqlite" or not path or path.startswith(":memory:"):
        yield
        return
    import fcntl
    import time

    from eventsourcing.persistence import OperationalError

    deadline = time.monotonic() + float(env.get("SQLITE_LOCK_TIMEOUT") or LOCK_TIMEOUT_SECONDS)
    with open(f"{path}-writer.lock", "a") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise OperationalError("database is busy: another writer holds the lock") from None
                time.sleep(0.005)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def advisory_lock_connection(env: dict[str, str]) -> Any:
    """A PostgreSQL connection of its own for writers' advisory locks (waits obey the lock timeout)."""
    import psycopg
    from eventsourcing.persistence import OperationalError

    try:
        return psycopg.connect(
            dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"],
            connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]), autocommit=True,
            options=f"-c lock_timeout={env.get('POSTGRES_LOCK_TIMEOUT', LOCK_TIMEOUT_SECONDS)}s",
        )
    except psycopg.Error as error:
        raise OperationalError(error) from error


@contextmanager
def advisory_lock(connection: Any, key: str) -> Iterator[None]:
    import psycopg
    from eventsourcing.persistence import OperationalError

    try:
        connection.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
    except psycopg.errors.LockNotAvailable:
        raise OperationalError("database is busy: another writer holds the compound (lock timeout)") from None
    except psycopg.Error as error:
        raise OperationalError(error) from error
    try:
        yield
    finally:
        connection.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))

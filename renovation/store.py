"""Where the events are kept: the ``--db`` URL, and how values are written as JSON.

A plain path (or ``sqlite:///path``) is an SQLite file; a ``postgresql://`` URL selects PostgreSQL
(``?schema=NAME`` puts the tables in that schema).
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from eventsourcing.persistence import JSONTranscoder, Transcoding

DEFAULT_DB = "renovation.db"
#: Seconds a command waits for another writer's lock before it gives up ("database busy").
LOCK_TIMEOUT_SECONDS = 10


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
        "SQLITE_DBNAME": path,
        "SQLITE_LOCK_TIMEOUT": str(LOCK_TIMEOUT_SECONDS),
    }


def postgres_env(url: str) -> dict[str, str]:
    parts = urlsplit(url)
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise BadDatabaseURL(f"database name missing in {url!r}")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": parts.hostname or "localhost",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_LOCK_TIMEOUT": str(LOCK_TIMEOUT_SECONDS),
        "POSTGRES_CONNECT_TIMEOUT": "5",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": str(LOCK_TIMEOUT_SECONDS),
    }
    schema = parse_qs(parts.query).get("schema")
    if schema:
        env["POSTGRES_SCHEMA"] = schema[0]
    return env


def ensure_schema(env: dict[str, str]) -> None:
    """Create the PostgreSQL schema named by ``?schema=`` if it does not exist yet."""
    schema = env.get("POSTGRES_SCHEMA")
    if env.get("PERSISTENCE_MODULE") != "eventsourcing.postgres" or not schema:
        return
    import psycopg
    from eventsourcing.persistence import OperationalError
    from psycopg import sql

    try:
        with psycopg.connect(
            dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"],
            connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]), autocommit=True,
        ) as connection:
            connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    except psycopg.Error as error:
        raise OperationalError(error) from error

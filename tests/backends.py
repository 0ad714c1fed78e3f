"""The two stores every integration and CLI test runs on: an SQLite file and PostgreSQL.

PostgreSQL is the server named by ``RENOVATION_TEST_PG_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``); each test gets a schema of its own, dropped after.
When the server cannot be reached the PostgreSQL cases are skipped with the reason, except under
``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgres"]


def pg_url() -> str:
    return os.environ.get("RENOVATION_TEST_PG_URL", DEFAULT_PG_URL)


@cache
def pg_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None."""
    import psycopg

    try:
        with psycopg.connect(pg_url(), connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        return f"PostgreSQL at {pg_url()} unreachable: {' '.join(str(error).split())}"
    return None


def require_pg() -> None:
    reason = pg_unreachable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run)")
        pytest.skip(reason)


def with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


def drop_schema(schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(pg_url(), autocommit=True) as connection:
        connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store of the given kind, removed afterwards."""
    if backend == "sqlite":
        yield str(tmp_path / "renovation.db")
        return
    require_pg()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        yield with_schema(pg_url(), schema)
    finally:
        drop_schema(schema)

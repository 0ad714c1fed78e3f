"""The web board's sign-in accounts, kept in the store beside the events: one row per person of
``[users]``, with the argon2 hash of their password (``renovation user passwd``). Never the password
itself; on PostgreSQL after ``db roles --apply`` only the bureau (who sets them) and the projector
(whose login ``renovation serve`` runs under) may read the hashes."""

from __future__ import annotations

from renovation.store.backend import Backend

ACCOUNTS_TABLE = "web_accounts"
ACCOUNT_COLUMNS = "name TEXT PRIMARY KEY, hash TEXT NOT NULL, set_at TEXT NOT NULL, set_by TEXT NOT NULL"


def create_statement(backend: Backend) -> str:
    return f"CREATE TABLE IF NOT EXISTS {backend.qualified(ACCOUNTS_TABLE)} ({ACCOUNT_COLUMNS})"


def exists(backend: Backend) -> bool:
    """Whether the store has the accounts' table (once it has, it keeps it: asked once per backend)."""
    if getattr(backend, "_accounts_table", False):
        return True
    if backend.is_postgres:
        found = backend.query("SELECT to_regclass(?) IS NOT NULL", (backend.qualified(ACCOUNTS_TABLE),))
    else:
        found = backend.query("SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?",
                              (ACCOUNTS_TABLE,))
    there = bool(found and found[0][0])
    if there:
        backend._accounts_table = True  # type: ignore[attr-defined]
    return there


def ensure(backend: Backend) -> None:
    """The accounts' table, made if missing (on PostgreSQL with roles, ``db roles --apply`` makes it)."""
    if not exists(backend):
        backend.execute([(create_statement(backend), ())])


def put(backend: Backend, name: str, hashed: str, set_at: str, set_by: str) -> None:
    """Set (or replace) ``name``'s password hash, in one transaction."""
    ensure(backend)
    table = backend.qualified(ACCOUNTS_TABLE)
    backend.execute([(f"INSERT INTO {table} (name, hash, set_at, set_by) VALUES (?, ?, ?, ?) "
                      "ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, set_at = excluded.set_at, "
                      "set_by = excluded.set_by", (name, hashed, set_at, set_by))])


def hash_of(backend: Backend, name: str) -> str | None:
    if not exists(backend):
        return None
    rows = backend.query(f"SELECT hash FROM {backend.qualified(ACCOUNTS_TABLE)} WHERE name = ?", (name,))
    return str(rows[0][0]) if rows else None


def names(backend: Backend) -> list[str]:
    if not exists(backend):
        return []
    return [str(row[0]) for row in backend.query(f"SELECT name FROM {backend.qualified(ACCOUNTS_TABLE)} "
                                                  "ORDER BY name")]

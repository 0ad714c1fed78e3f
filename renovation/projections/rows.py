"""The rows of the read models as the projections change them: a write-back buffer over one connection.

A projection's handlers read and change rows by primary key (``get``, ``insert``, ``update``,
``delete``); the buffer answers from memory once a row is known, reads a row it does not know from
the database once, and keeps every change until :meth:`Rows.flush`, which writes them with one
``executemany`` per table and kind of change. Catching up is then a few statements per batch of
events instead of a few per event, and a counter bumped by a hundred events is written once.

The buffer lives inside the transaction that also advances the projections' positions: it is
flushed before the positions are written and dropped if the transaction fails. Between the batches
of one catch-up it keeps what it knows (up to ``limit`` rows), which holds only while no other
process changes these rows in between; the runner clears it when another process has moved a
position (see ``ReadModels.catch_up``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Delete,
    Insert,
    Select,
    Table,
    Update,
    bindparam,
    delete,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.sql.elements import TextClause

#: Rows kept between flushes before the buffer forgets the unchanged ones.
LIMIT = 200_000

Key = tuple[Any, ...]


@dataclass
class Entry:
    row: dict[str, Any] | None  # None: no such row
    stored: bool | None  # whether the database has the row (None: not known, for a blind insert)
    dirty: bool = False
    ignoring: bool = False  # inserted "unless it exists already"


class Statements:
    """The statements of one table, built once (SQLAlchemy then caches their compiled form)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.key = [column.name for column in table.primary_key.columns]
        self.columns = [column.name for column in table.columns]
        self.values = [name for name in self.columns if name not in self.key]
        by_key = [table.c[name] == bindparam(f"key_{name}") for name in self.key]
        self.select: Select[Any] = select(table).where(*by_key)
        self.insert: Insert = insert(table)
        self.insert_ignoring: TextClause = text(
            f"INSERT INTO {table.name} ({', '.join(self.columns)}) "
            f"VALUES ({', '.join(':' + name for name in self.columns)}) ON CONFLICT DO NOTHING"
        ).bindparams(*(bindparam(column.name, type_=column.type) for column in table.columns))
        self.update: Update = update(table).where(*by_key)
        self.delete: Delete = delete(table).where(*by_key)
        self.delete_group: Delete = delete(table).where(table.c[self.key[0]] == bindparam("key_group"))

    def keyed(self, entry_key: Key, row: dict[str, Any] | None = None) -> dict[str, Any]:
        """Parameters naming the row by its key (and setting its other columns, given ``row``)."""
        params = {f"key_{name}": value for name, value in zip(self.key, entry_key, strict=True)}
        if row is not None:
            params.update((name, row[name]) for name in self.values)
        return params


_statements: dict[str, Statements] = {}


def statements(table: Table) -> Statements:
    found = _statements.get(table.name)
    if found is None or found.table is not table:
        found = _statements[table.name] = Statements(table)
    return found


class Rows:
    def __init__(self, connection: Connection, limit: int = LIMIT) -> None:
        self.connection = connection
        self.limit = limit
        # table name -> first key column's value -> the rest of the key -> entry; grouped so that
        # deleting every row of a compound does not scan the others.
        self.tables: dict[str, dict[Any, dict[Key, Entry]]] = {}
        self.size = 0
        self.pending: list[tuple[str, Key, Entry]] = []  # the changed entries, each once

    # ----------------------------------------------------------------- reading
    def get(self, table: Table, *key: Any) -> dict[str, Any] | None:
        """The row with this primary key, or None. Change it through :meth:`update`, not in place."""
        return self._entry(table, key).row

    def one(self, table: Table, *key: Any) -> dict[str, Any]:
        row = self.get(table, *key)
        if row is None:
            raise LookupError(f"no row {key} in {table.name}")
        return row

    # ----------------------------------------------------------------- changing
    def insert(self, table: Table, values: dict[str, Any], *, ignore_existing: bool = False) -> None:
        """Add a row; with ``ignore_existing``, unless a row with its key exists (ON CONFLICT DO
        NOTHING). A plain insert of an existing key fails, here or when flushed."""
        found = statements(table)
        row = {name: values.get(name) for name in found.columns}
        key = tuple(row[name] for name in found.key)
        group = self.tables.setdefault(table.name, {}).setdefault(key[0], {})
        entry = group.get(key[1:])
        if entry is None:
            entry = group[key[1:]] = Entry(row=row, stored=None, ignoring=ignore_existing)
            self.size += 1
            self._changed(table.name, key, entry)
        elif entry.row is None:
            entry.row = row
            self._changed(table.name, key, entry)
        elif not ignore_existing:
            raise ValueError(f"row {key} of {table.name} exists already")

    def update(self, table: Table, key: Key, **values: Any) -> None:
        """Change columns of the row with this key (nothing, as in SQL, if there is no such row)."""
        entry = self._entry(table, key)
        if entry.row is not None:
            entry.row.update(values)
            self._changed(table.name, key, entry)

    def delete(self, table: Table, *key: Any) -> None:
        """Remove the row with this key or, given only the key's first column, every row with it."""
        found = statements(table)
        if len(key) == len(found.key):
            entry = self._entry(table, key)  # read first: a row inserted again must then be updated
            if entry.row is not None:
                entry.row = None
                self._changed(table.name, key, entry)
            return
        if len(key) != 1:
            raise ValueError(f"delete from {table.name} takes its whole key or its first column")
        self.connection.execute(found.delete_group, {"key_group": key[0]})  # rows written earlier
        dropped = self.tables.get(table.name, {}).pop(key[0], {})  # rows not written yet
        self.size -= len(dropped)
        for entry in dropped.values():
            entry.row, entry.stored, entry.dirty = None, False, False  # left in pending: flush skips it

    # ----------------------------------------------------------------- writing
    def flush(self) -> None:
        """Write every change, one ``executemany`` per table and kind of change."""
        by_table: dict[str, list[tuple[Key, Entry]]] = {}
        for name, key, entry in self.pending:
            by_table.setdefault(name, []).append((key, entry))
        self.pending = []
        for name, changed in by_table.items():
            found = _statements[name]
            deletes, inserts, ignoring, updates = [], [], [], []
            for key, entry in changed:
                if not entry.dirty:
                    continue
                if entry.row is None:
                    if entry.stored is not False:
                        deletes.append(found.keyed(key))
                elif entry.stored:
                    updates.append(found.keyed(key, entry.row))
                elif entry.ignoring:
                    ignoring.append(dict(entry.row))
                else:
                    inserts.append(dict(entry.row))
                entry.stored, entry.dirty, entry.ignoring = entry.row is not None, False, False
            for statement, params in ((found.delete, deletes), (found.insert, inserts),
                                      (found.insert_ignoring, ignoring), (found.update, updates)):
                if params:
                    self.connection.execute(statement, params)
        if self.size > self.limit:
            self.clear()

    def clear(self) -> None:
        """Forget every row (after a flush, or when another process may have changed them)."""
        self.tables.clear()
        self.size = 0
        self.pending = []

    def _changed(self, name: str, key: Key, entry: Entry) -> None:
        if not entry.dirty:
            entry.dirty = True
            self.pending.append((name, key, entry))

    def _entry(self, table: Table, key: Key) -> Entry:
        group = self.tables.setdefault(table.name, {}).setdefault(key[0], {})
        entry = group.get(key[1:])
        if entry is None:
            found = statements(table)
            loaded = self.connection.execute(found.select, found.keyed(key)).mappings().one_or_none()
            entry = group[key[1:]] = Entry(row=dict(loaded) if loaded is not None else None,
                                           stored=loaded is not None)
            self.size += 1
        return entry

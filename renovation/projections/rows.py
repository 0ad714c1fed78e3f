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

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Connection,
    Delete,
    Dialect,
    Table,
    bindparam,
    delete,
)
from sqlalchemy.exc import DBAPIError

#: Rows kept between flushes before the buffer forgets those it has not used lately.
LIMIT = 200_000
#: Flushes a row is kept after it was last used, when the buffer is over its limit.
KEEP = 4

Key = tuple[Any, ...]


@dataclass
class Entry:
    row: dict[str, Any] | None  # None: no such row
    stored: bool | None  # whether the database has the row (None: not known, for a blind insert)
    dirty: bool = False
    ignoring: bool = False  # inserted "unless it exists already"
    used: int = 0  # the flush it was last used in


class Statements:
    """What a table's rows are keyed by, worked out once; and the one statement that goes through
    SQLAlchemy (deleting every row of a group). The rest are the driver's own (``Written``)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.key = [column.name for column in table.primary_key.columns]
        self.columns = [column.name for column in table.columns]
        self.values = [name for name in self.columns if name not in self.key]
        self.delete_group: Delete = delete(table).where(table.c[self.key[0]] == bindparam("key_group"))


class Written:
    """The statements a flush runs, as the database driver's own SQL with its values in key order,
    each value turned into what the column stores as SQLAlchemy would (exact decimals as text, ...).
    A flush passes thousands of rows at once to the driver's ``executemany``: going through
    SQLAlchemy's statement execution cost more per row than the database's writing it."""

    def __init__(self, found: Statements, dialect: Dialect) -> None:
        table = found.table
        quote = dialect.identifier_preparer.quote
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        if dialect.paramstyle not in ("qmark", "format", "pyformat"):
            raise ValueError(f"no read model writes through a driver of paramstyle {dialect.paramstyle}")
        name = quote(table.name)
        where = " AND ".join(f"{quote(column)} = {mark}" for column in found.key)
        columns = ", ".join(quote(column) for column in found.columns)
        marks = ", ".join(mark for _ in found.columns)
        self.insert = f"INSERT INTO {name} ({columns}) VALUES ({marks})"
        #: PostgreSQL takes new rows by COPY, several times faster than one INSERT each even pipelined.
        self.copy = f"COPY {name} ({columns}) FROM STDIN" if dialect.name == "postgresql" else None
        self.insert_ignoring = self.insert + " ON CONFLICT DO NOTHING"
        self.update = f"UPDATE {name} SET {', '.join(f'{quote(c)} = {mark}' for c in found.values)} WHERE {where}"
        self.delete = f"DELETE FROM {name} WHERE {where}"
        self.select = f"SELECT {columns} FROM {name} WHERE {where}"
        self.result_processors = [column.type.result_processor(dialect, None) for column in table.columns]
        processors = {column.name: column.type.bind_processor(dialect) for column in table.columns}
        self.row_processors = [processors[column] for column in found.columns]
        self.key_processors = [processors[column] for column in found.key]
        self.update_processors = [processors[column] for column in found.values] + self.key_processors
        self.found = found

    @staticmethod
    def _values(values: list[Any], processors: list[Any]) -> list[Any]:
        for index, process in enumerate(processors):
            if process is not None and values[index] is not None:
                values[index] = process(values[index])
        return values

    def read(self, values: Any) -> dict[str, Any]:
        """A row as the driver read it, in the columns' types."""
        return {column: value if process is None or value is None else process(value)
                for column, value, process in zip(self.found.columns, values, self.result_processors, strict=True)}

    def row(self, row: dict[str, Any]) -> list[Any]:
        return self._values([row[column] for column in self.found.columns], self.row_processors)

    def key(self, key: Key) -> list[Any]:
        return self._values(list(key), self.key_processors)

    def changed(self, key: Key, row: dict[str, Any]) -> list[Any]:
        return self._values([row[column] for column in self.found.values] + list(key), self.update_processors)


#: Whether this login may COPY into a table: it has no row-level security, or the login bypasses it (the
#: table's owner, unless forced; a superuser; a role with BYPASSRLS).
COPYABLE = ("SELECT NOT c.relrowsecurity OR (pg_has_role(c.relowner, 'MEMBER') AND NOT c.relforcerowsecurity) "
            "OR r.rolsuper OR r.rolbypassrls FROM pg_class c, pg_roles r "
            "WHERE c.oid = to_regclass(%s) AND r.rolname = current_user")

_statements: dict[str, Statements] = {}
_written: dict[tuple[str, str], Written] = {}


def statements(table: Table) -> Statements:
    found = _statements.get(table.name)
    if found is None or found.table is not table:
        found = _statements[table.name] = Statements(table)
    return found


def written(found: Statements, dialect: Dialect) -> Written:
    made = _written.get((found.table.name, dialect.name))
    if made is None or made.found is not found:
        made = _written[(found.table.name, dialect.name)] = Written(found, dialect)
    return made


class Rows:
    def __init__(self, connection: Connection, limit: int | None = None) -> None:
        self.connection = connection
        self.limit = LIMIT if limit is None else limit
        # table name -> first key column's value -> the rest of the key -> entry; grouped so that
        # deleting every row of a compound does not scan the others.
        self.tables: dict[str, dict[Any, dict[Key, Entry]]] = {}
        self.size = 0
        self.pending: list[tuple[str, Key, Entry]] = []  # the changed entries, each once
        #: Tables whose every row is in the buffer (empty when it began, e.g. on a rebuild): a row not
        #: in the buffer is not in the table, and is not looked for there.
        self.whole: set[str] = set()
        #: Of those tables, the groups (first key column's values) forgotten since: looked for there.
        self.forgotten: dict[str, set[Any]] = {}
        self.flushes = 0
        #: By table: whether new rows may go by COPY (PostgreSQL; see ``_copies``).
        self.copyable: dict[str, bool] = {}

    def complete(self, *tables: Table) -> None:
        """Say that these tables hold no row the buffer does not know (they were empty, and only this
        buffer has written to them since)."""
        self.whole.update(table.name for table in tables)

    # ----------------------------------------------------------------- reading
    def get(self, table: Table, *key: Any) -> dict[str, Any] | None:
        """The row with this primary key, or None. Change it through :meth:`update`, not in place."""
        return self._entry(table, key).row

    def group(self, table: Table, first: Any) -> list[dict[str, Any]] | None:
        """Every row whose key begins with ``first``, if the buffer holds the whole table; else None
        (then ask the database, after a :meth:`flush`)."""
        if table.name not in self.whole or first in self.forgotten.get(table.name, ()):
            return None
        return [entry.row for entry in self.tables.get(table.name, {}).get(first, {}).values() if entry.row is not None]

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
            entry = group[key[1:]] = Entry(row=row, stored=None, ignoring=ignore_existing, used=self.flushes)
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
        cursor = None
        for name, changed in by_table.items():
            found = written(_statements[name], self.connection.dialect)
            deletes, inserts, ignoring, updates = [], [], [], []
            for key, entry in changed:
                if not entry.dirty:
                    continue
                if entry.row is None:
                    if entry.stored is not False:
                        deletes.append(found.key(key))
                elif entry.stored:
                    updates.append(found.changed(key, entry.row))
                elif entry.ignoring:
                    ignoring.append(found.row(entry.row))
                else:
                    inserts.append(found.row(entry.row))
                entry.stored, entry.dirty, entry.ignoring = entry.row is not None, False, False
            for statement, params in ((found.delete, deletes), (found.insert, inserts),
                                      (found.insert_ignoring, ignoring), (found.update, updates)):
                if params:
                    # The driver's cursor of this connection, inside the transaction SQLAlchemy began.
                    cursor = cursor or self.connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
                    with self._as_sqlalchemy_would(statement):
                        if statement is found.insert and len(params) > 1 and self._copies(found, cursor):
                            with cursor.copy(found.copy) as copy:  # PostgreSQL: rows streamed, not one by one
                                for row in params:
                                    copy.write_row(row)
                        else:
                            cursor.executemany(statement, params)
        if cursor is not None:
            cursor.close()
        self.flushes += 1
        if self.size > self.limit:
            self._forget()

    def _forget(self) -> None:
        """Forget the rows not used in the last few flushes (all of them, if that is not enough),
        after a flush: every row forgotten is then as the database has it. A table the buffer held
        whole is from then on read for a key of a group it forgot rows of."""
        for keep in (self.flushes - KEEP, self.flushes + 1):
            for name, groups in self.tables.items():
                whole = name in self.whole
                for first, group in list(groups.items()):
                    stale = [rest for rest, entry in group.items() if entry.used < keep]
                    if not stale:
                        continue
                    for rest in stale:
                        del group[rest]
                    self.size -= len(stale)
                    if not group:
                        del groups[first]
                    if whole:
                        self.forgotten.setdefault(name, set()).add(first)
            if self.size <= self.limit * 3 // 4:
                return

    def clear(self) -> None:
        """Forget every row (when another process may have changed them): from now on every row not
        in the buffer is looked for in the database."""
        self.tables.clear()
        self.size = 0
        self.pending = []
        self.whole.clear()
        self.forgotten.clear()

    def _copies(self, found: Written, cursor: Any) -> bool:
        """Whether new rows of this table go by COPY: on PostgreSQL, unless row-level security applies
        to this login there (``db roles --apply`` gives the projector a policy, and COPY FROM takes
        none): asked once per table and buffer."""
        if found.copy is None:
            return False
        name = found.found.table.name
        known = self.copyable.get(name)
        if known is None:
            cursor.execute(COPYABLE, (name,))
            row = cursor.fetchone()
            known = self.copyable[name] = bool(row and row[0])
        return known

    @contextmanager
    def _as_sqlalchemy_would(self, statement: str) -> Iterator[None]:
        """The driver's errors raised as SQLAlchemy raises them (``DBAPIError`` and its kinds), as every
        other statement of the read models does: what the CLI reports in one line."""
        dialect = self.connection.dialect
        try:
            yield
        except dialect.loaded_dbapi.Error as error:
            raise DBAPIError.instance(statement, None, error, dialect.loaded_dbapi.Error, dialect=dialect) from error

    def _changed(self, name: str, key: Key, entry: Entry) -> None:
        if not entry.dirty:
            entry.dirty = True
            self.pending.append((name, key, entry))

    def _entry(self, table: Table, key: Key) -> Entry:
        group = self.tables.setdefault(table.name, {}).setdefault(key[0], {})
        entry = group.get(key[1:])
        if entry is not None:
            entry.used = self.flushes
            return entry
        if table.name in self.whole and key[0] not in self.forgotten.get(table.name, ()):
            entry = Entry(row=None, stored=False, used=self.flushes)
        else:
            driver = written(statements(table), self.connection.dialect)
            cursor = self.connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                with self._as_sqlalchemy_would(driver.select):
                    cursor.execute(driver.select, driver.key(key))
                    loaded = cursor.fetchone()
            finally:
                cursor.close()
            entry = Entry(row=driver.read(loaded) if loaded is not None else None, stored=loaded is not None,
                          used=self.flushes)
        group[key[1:]] = entry
        self.size += 1
        return entry

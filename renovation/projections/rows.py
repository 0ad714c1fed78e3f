"""The rows of the read models as the projections change them: a write-back buffer over one connection.

A projection's handlers read and change rows by primary key (``get``, ``insert``, ``update``,
``delete``); the buffer answers from memory once a row is known, reads a row it does not know from
the database once, and keeps every change until :meth:`Rows.flush`, which writes them with one
``executemany`` per table and kind of change (updates: one per set of columns changed; on PostgreSQL,
new rows and many changed ones by COPY). Catching up is then a few statements per batch of events
instead of a few per event, and a counter bumped by a hundred events is written once.

The buffer lives inside the transaction that also advances the projections' positions: it is
flushed before the positions are written and dropped if the transaction fails. Between the batches
of one catch-up it keeps what it knows (up to ``limit`` rows, forgetting those used least lately),
which holds only while no other process changes these rows in between; the runner clears it when
another process has moved a position (see ``ReadModels.catch_up``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Connection,
    Delete,
    Dialect,
    Table,
    TypeDecorator,
    bindparam,
    delete,
)
from sqlalchemy.exc import DBAPIError

#: Rows kept between flushes before the buffer forgets those it has not used lately: at least
#: ``LIMIT``, and ``PER_COMPOUND`` for each compound the catch-up has met (``Rows.compounds``), as a
#: day of the programme touches every compound's rows: a limit below a day's rows would have the
#: buffer forget, every day, the rows it needs again the next.
LIMIT = 200_000
PER_COMPOUND = 60

Key = tuple[Any, ...]


class Entry:
    """A row as the buffer knows it, with its key."""

    __slots__ = ("changed", "dirty", "ignoring", "key", "row", "stored", "used")

    def __init__(self, key: Key, row: dict[str, Any] | None, stored: bool | None, used: int,
                 ignoring: bool = False) -> None:
        self.key = key
        self.row = row  # None: no such row
        self.stored = stored  # whether the database has the row (None: not known, for a blind insert)
        self.dirty = False
        self.ignoring = ignoring  # inserted "unless it exists already"
        self.used = used  # the flush it was last used in
        #: The columns changed since the flush, of a row the database has: an update row by row sets
        #: only these (SQLite then leaves alone the indexes of the rest; PostgreSQL's bulk update sets
        #: every column). None: nothing yet; ``EVERY``: the whole row (inserted where none was known).
        self.changed: set[str] | None = None


#: ``Entry.changed`` of a row inserted where the buffer knew of none (deleted before, say): written whole.
EVERY: set[str] = set()


def _compiled(name: str, source: str, scope: dict[str, Any]) -> Any:
    """A function made from generated source: a table's rows are built and converted by code written
    out for its columns, as a row per event costs a loop over the columns otherwise."""
    exec(compile(source, f"<rows {name}>", "exec"), scope)  # the source is made from the table's column names
    return scope[name]


class Statements:
    """What a table's rows are keyed by, worked out once; and the one statement that goes through
    SQLAlchemy (deleting every row of a group). The rest are the driver's own (``Written``)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.key = [column.name for column in table.primary_key.columns]
        self.columns = [column.name for column in table.columns]
        self.values = [name for name in self.columns if name not in self.key]
        self.delete_group: Delete = delete(table).where(table.c[self.key[0]] == bindparam("key_group"))
        #: ``made(values) -> (row, key)``: the row of every column (None where not given) and its key.
        self.made = _compiled("made", (
            "def made(values):\n"
            "    get = values.get\n"
            f"    row = {{{', '.join(f'{c!r}: get({c!r})' for c in self.columns)}}}\n"
            f"    return row, ({''.join(f'row[{c!r}], ' for c in self.key)})\n"), {})


def driver_mark(dialect: Dialect) -> str:
    """How a statement given to the driver itself marks a value (a read model's flush, the kept scores)."""
    if dialect.paramstyle not in ("qmark", "format", "pyformat"):
        raise ValueError(f"no read model writes through a driver of paramstyle {dialect.paramstyle}")
    return "?" if dialect.paramstyle == "qmark" else "%s"


class Written:
    """The statements a flush runs, as the database driver's own SQL with its values in key order,
    each value turned into what the column stores as SQLAlchemy would (exact decimals as text, ...).
    A flush passes thousands of rows at once to the driver's ``executemany``: going through
    SQLAlchemy's statement execution cost more per row than the database's writing it."""

    def __init__(self, found: Statements, dialect: Dialect) -> None:
        table = found.table
        quote = dialect.identifier_preparer.quote
        mark = driver_mark(dialect)
        name = quote(table.name)
        where = " AND ".join(f"{quote(column)} = {mark}" for column in found.key)
        columns = ", ".join(quote(column) for column in found.columns)
        marks = ", ".join(mark for _ in found.columns)
        self.insert = f"INSERT INTO {name} ({columns}) VALUES ({marks})"
        #: PostgreSQL takes new rows by COPY, several times faster than one INSERT each even pipelined.
        self.copy = f"COPY {name} ({columns}) FROM STDIN" if dialect.name == "postgresql" else None
        self.insert_ignoring = self.insert + " ON CONFLICT DO NOTHING"
        self.delete = f"DELETE FROM {name} WHERE {where}"
        self.select = f"SELECT {columns} FROM {name} WHERE {where}"
        self.result_processors = [column.type.result_processor(dialect, None) for column in table.columns]
        scope: dict[str, Any] = {"dialect": dialect}
        converted = [_converter(index, column.type, dialect, scope) for index, column in enumerate(table.columns)]
        position = {column.name: index for index, column in enumerate(table.columns)}

        def values(names: list[str], source: str) -> str:
            return "".join(converted[position[n]].format(f"{source}[{i}]" if source == "key" else f"{source}[{n!r}]")
                           + ", " for i, n in enumerate(names))

        #: ``row(row)``, ``key(key)``: the values an insert and a delete take, in the order of their
        #: statement's marks (an update's: ``changing``).
        self.row = _compiled("row", f"def row(row):\n    return ({values(found.columns, 'row')})\n", scope)
        self.key = _compiled("key", f"def key(key):\n    return ({values(found.key, 'key')})\n", scope)
        self.found = found
        #: PostgreSQL's bulk update (``Rows._update``): a scratch table like this one for the transaction,
        #: the changed rows copied into it, the table updated from it, the scratch emptied for the next.
        scratch = quote(f"scratch_{table.name}")
        self.scratch = f"CREATE TEMPORARY TABLE IF NOT EXISTS {scratch} (LIKE {name}) ON COMMIT DROP"
        self.copy_scratch = f"COPY pg_temp.{scratch} ({columns}) FROM STDIN"
        self.update_from = (f"UPDATE {name} AS t SET {', '.join(f'{quote(c)} = s.{quote(c)}' for c in found.values)} "
                            f"FROM pg_temp.{scratch} AS s WHERE "
                            + " AND ".join(f"t.{quote(c)} = s.{quote(c)}" for c in found.key))
        self.clear_scratch = f"TRUNCATE pg_temp.{scratch}"
        self._values = values
        self._scope = scope
        self._set = {c: f"{quote(c)} = {mark}" for c in found.values}
        self._where = where
        self._name = name
        self._changing: dict[tuple[str, ...], tuple[str, Any]] = {}
        #: Every column but the key's, for an update of the whole row.
        self.every = tuple(sorted(found.values))

    def changing(self, columns: tuple[str, ...]) -> tuple[str, Any]:
        """The statement updating these columns of a row (by its key), and ``values(key, row)`` for its
        marks; made once for each set of columns."""
        made = self._changing.get(columns)
        if made is None:
            names = [c for c in self.found.values if c in columns]  # a key's own columns are never set
            if not names:
                names = self.found.values[:1]
            statement = f"UPDATE {self._name} SET {', '.join(self._set[c] for c in names)} WHERE {self._where}"
            function = _compiled("changed", "def changed(key, row):\n"
                                 f"    return ({self._values(names, 'row')}{self._values(self.found.key, 'key')})\n",
                                 self._scope)
            made = self._changing[columns] = (statement, function)
        return made

    def read(self, values: Any) -> dict[str, Any]:
        """A row as the driver read it, in the columns' types."""
        return {column: value if process is None or value is None else process(value)
                for column, value, process in zip(self.found.columns, values, self.result_processors, strict=True)}


def _converter(index: int, kind: Any, dialect: Dialect, scope: dict[str, Any]) -> str:
    """The expression (a format of the value's own) turning a value of column ``index`` into what the
    driver takes, as SQLAlchemy would; None stays None. A type of our own whose stored type needs
    nothing more is called directly, not through the wrapper SQLAlchemy makes around it."""
    if isinstance(kind, TypeDecorator) and kind.impl_instance.bind_processor(dialect) is None:
        scope[f"m{index}"] = kind.process_bind_param
        call = f"m{index}(v{index}, dialect)"
    else:
        process = kind.bind_processor(dialect)
        if process is None:
            return "{}"
        scope[f"p{index}"] = process
        call = f"p{index}(v{index})"
    return f"(None if (v{index} := {{}}) is None else {call})"


#: Whether this login may COPY into a table: it has no row-level security, or the login bypasses it (the
#: table's owner, unless forced; a superuser; a role with BYPASSRLS).
COPYABLE = ("SELECT NOT c.relrowsecurity OR (pg_has_role(c.relowner, 'MEMBER') AND NOT c.relforcerowsecurity) "
            "OR r.rolsuper OR r.rolbypassrls FROM pg_class c, pg_roles r "
            "WHERE c.oid = to_regclass(%s) AND r.rolname = current_user")

#: Rows a flush updates in one table from which PostgreSQL takes them by one statement (``Rows._update``).
BULK_UPDATE = 64

#: The ``info`` key of a table whose rows the projections seldom read back as they catch up (a fact
#: each, written as it happens): the buffer lets go of them once written, keeping its room for the
#: rows the next events change (a compound's counts, its open findings).
WRITTEN_ONCE = "written_once"

#: The bits a table keeps of the keys of its rows the buffer forgot (``Held.stored``): with a province's
#: 450,000 morning days forgotten, one lookup of a new day in 20 is read in vain.
_STORED_BITS = 1 << 23

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


class Held:
    """One table's rows in the buffer: by key, and by the key's first column (a compound's rows)."""

    __slots__ = ("entries", "forgotten", "found", "groups", "once", "pending", "stored", "whole")

    def __init__(self, found: Statements, whole: bool) -> None:
        self.found = found
        self.once = bool(found.table.info.get(WRITTEN_ONCE))
        self.entries: dict[Key, Entry] = {}
        self.groups: dict[Any, dict[Key, Entry]] = {}
        self.pending: list[Entry] = []  # the changed entries, each once
        #: Whether every row of the table is in the buffer (it was empty when the buffer began, e.g. on
        #: a rebuild): a row not in the buffer is then not in the table, and is not looked for there...
        self.whole = whole
        #: ... but for the rows forgotten since: the groups (first key column's values) they were of,
        #: which ``group`` no longer answers for, and their keys, looked for in the table: each key sets
        #: one bit of its hash in ``stored``, and a key whose bit is set is read (a bit another key set
        #: costs a read, never a wrong answer). A key a whole table never had is so answered without a
        #: read, however much of its group was forgotten (a compound's new morning day, say), in a
        #: megabyte a table however many rows it forgets.
        self.forgotten: set[Any] = set()
        self.stored: bytearray | None = None

    def forgets(self, key: Key) -> None:
        """Note that the table holds a row of this key, which the buffer no longer does."""
        bits = self.stored
        if bits is None:
            bits = self.stored = bytearray(_STORED_BITS >> 3)
        bit = hash(key) & (_STORED_BITS - 1)
        bits[bit >> 3] |= 1 << (bit & 7)

    def had(self, key: Key) -> bool:
        """Whether the table may hold a row of this key that the buffer forgot."""
        bits = self.stored
        if bits is None:
            return False
        bit = hash(key) & (_STORED_BITS - 1)
        return bool(bits[bit >> 3] >> (bit & 7) & 1)

    def add(self, entry: Entry) -> None:
        key = entry.key
        self.entries[key] = entry
        group = self.groups.get(key[0])
        if group is None:
            self.groups[key[0]] = {key: entry}
        else:
            group[key] = entry


class Rows:
    def __init__(self, connection: Connection, limit: int | None = None) -> None:
        self.connection = connection
        self.least = LIMIT if limit is None else limit
        #: How many compounds the rows are of (the runner says, as it learns of them).
        self.compounds = 0
        self.held: dict[Table, Held] = {}
        self.size = 0
        #: The names of the tables said to be held whole (see ``complete``).
        self.whole: set[str] = set()
        self.flushes = 0
        #: By table: whether new rows may go by COPY (PostgreSQL; see ``_copies``).
        self.copyable: dict[str, bool] = {}
        #: Whether this login may make temporary tables (PostgreSQL; see ``_scratch``).
        self.temporary: bool | None = None

    def complete(self, *tables: Table) -> None:
        """Say that these tables hold no row the buffer does not know (they were empty, and only this
        buffer has written to them since)."""
        self.whole.update(table.name for table in tables)
        for table in tables:
            if table in self.held:
                self.held[table].whole = True

    def _hold(self, table: Table) -> Held:
        held = self.held[table] = Held(statements(table), table.name in self.whole)
        return held

    # ----------------------------------------------------------------- reading
    def get(self, table: Table, *key: Any) -> dict[str, Any] | None:
        """The row with this primary key, or None. Change it through :meth:`update`, not in place."""
        return self._entry(table, key).row

    def group(self, table: Table, first: Any) -> list[dict[str, Any]] | None:
        """Every row whose key begins with ``first``, if the buffer holds the whole table; else None
        (then ask the database, after a :meth:`flush`)."""
        held = self.held.get(table) or self._hold(table)
        if not held.whole or first in held.forgotten:
            return None
        return [entry.row for entry in held.groups.get(first, {}).values() if entry.row is not None]

    def one(self, table: Table, *key: Any) -> dict[str, Any]:
        row = self._entry(table, key).row
        if row is None:
            raise LookupError(f"no row {key} in {table.name}")
        return row

    # ----------------------------------------------------------------- changing
    def insert(self, table: Table, values: dict[str, Any], *, ignore_existing: bool = False) -> None:
        """Add a row; with ``ignore_existing``, unless a row with its key exists (ON CONFLICT DO
        NOTHING). A plain insert of an existing key fails, here or when flushed."""
        held = self.held.get(table) or self._hold(table)
        row, key = held.found.made(values)
        entry = held.entries.get(key)
        if entry is None:
            entry = Entry(key, row, None, self.flushes, ignore_existing)
            held.add(entry)
            self.size += 1
            entry.dirty = True
            held.pending.append(entry)
        elif entry.row is None:
            entry.row = row
            entry.changed = EVERY
            if not entry.dirty:
                entry.dirty = True
                held.pending.append(entry)
        elif not ignore_existing:
            raise ValueError(f"row {key} of {table.name} exists already")

    def update(self, table: Table, key: Key, **values: Any) -> None:
        """Change columns of the row with this key (nothing, as in SQL, if there is no such row)."""
        entry = self._entry(table, key)
        if entry.row is not None:
            entry.row.update(values)
            if entry.stored:
                changed = entry.changed
                if changed is None:
                    entry.changed = set(values)
                elif changed is not EVERY:
                    changed.update(values)
            if not entry.dirty:
                entry.dirty = True
                self.held[table].pending.append(entry)

    def delete(self, table: Table, *key: Any) -> None:
        """Remove the row with this key or, given only the key's first column, every row with it."""
        held = self.held.get(table) or self._hold(table)
        if len(key) == len(held.found.key):
            entry = self._entry(table, key)  # read first: a row inserted again must then be updated
            if entry.row is not None:
                entry.row = None
                if not entry.dirty:
                    entry.dirty = True
                    held.pending.append(entry)
            return
        if len(key) != 1:
            raise ValueError(f"delete from {table.name} takes its whole key or its first column")
        self.connection.execute(held.found.delete_group, {"key_group": key[0]})  # rows written earlier
        dropped = held.groups.pop(key[0], {})  # rows not written yet
        self.size -= len(dropped)
        for entry in dropped.values():
            del held.entries[entry.key]
            entry.row, entry.stored, entry.dirty = None, False, False  # left in pending: flush skips it

    # ----------------------------------------------------------------- writing
    def flush(self, *tables: Table) -> None:
        """Write every change, one ``executemany`` per table and kind of change; given tables, only
        theirs (a query of those tables is to see every change so far: the rest stay pending)."""
        cursor = None
        dialect = self.connection.dialect
        for held in (self.held.values() if not tables else [self.held[t] for t in tables if t in self.held]):
            if not held.pending:
                continue
            changed, held.pending = held.pending, []
            found = written(held.found, dialect)
            deletes, inserts, ignoring = [], [], []
            updated: list[Entry] = []  # rows the table has, changed
            for entry in changed:
                if not entry.dirty:
                    continue
                entry.dirty = False
                row = entry.row
                if row is not None and entry.stored:
                    updated.append(entry)  # its changed columns are read by ``_update``
                    continue
                entry.changed = None  # written whole, or deleted: later updates set what they change
                if row is None:
                    if entry.stored is not False:
                        deletes.append(found.key(entry.key))
                    entry.stored = False
                else:
                    if entry.ignoring:
                        ignoring.append(found.row(row))
                        entry.ignoring = False
                    else:
                        inserts.append(found.row(row))
                    entry.stored = True
            # The driver's cursor of this connection, inside the transaction SQLAlchemy began.
            cursor = cursor or self.connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            for statement, params in ((found.delete, deletes), (found.insert, inserts),
                                      (found.insert_ignoring, ignoring)):
                if params:
                    with self._as_sqlalchemy_would(statement):
                        if statement is found.insert and len(params) > 1 and self._copies(found, cursor):
                            with cursor.copy(found.copy) as copy:  # PostgreSQL: rows streamed, not one by one
                                for values in params:
                                    copy.write_row(values)
                        else:
                            cursor.executemany(statement, params)
            if updated:
                self._update(found, cursor, updated)
            if held.once and not tables:
                for first, group in list(held.groups.items()):
                    self._drop(held, first, group, list(group))
        if cursor is not None:
            cursor.close()
        if tables:
            return
        self.flushes += 1
        if self.size > self.limit:
            self._forget()

    def _update(self, found: Written, cursor: Any, updated: list[Entry]) -> None:
        """Write rows the table has and the buffer changed: on PostgreSQL, many at once by COPY into a
        scratch table and one UPDATE from it (a statement a row cost the server more than the rest of a
        catch-up); else each row's changed columns, one ``executemany`` for each set of them."""
        if found.copy is not None and len(updated) >= BULK_UPDATE and found.found.values and self._scratch(cursor):
            with self._as_sqlalchemy_would(found.update_from):
                cursor.execute(found.scratch)
                with cursor.copy(found.copy_scratch) as copy:
                    for entry in updated:
                        copy.write_row(found.row(entry.row))
                cursor.execute(found.update_from)
                cursor.execute(found.clear_scratch)
            for entry in updated:
                entry.changed = None
            return
        by: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}  # the rows' values, by the columns they set
        for entry in updated:
            changed = entry.changed
            columns = found.every if changed is None or changed is EVERY else tuple(sorted(changed))
            (by.get(columns) or by.setdefault(columns, [])).append(found.changing(columns)[1](entry.key, entry.row))
            entry.changed = None
        for columns, params in by.items():
            statement = found.changing(columns)[0]
            with self._as_sqlalchemy_would(statement):
                cursor.executemany(statement, params)

    def _scratch(self, cursor: Any) -> bool:
        """Whether this login may make the scratch tables of a bulk update (PostgreSQL's temporary
        tables, which a database may deny): asked once per buffer."""
        if self.temporary is None:
            cursor.execute("SELECT has_database_privilege(current_database(), 'TEMPORARY')")
            row = cursor.fetchone()
            self.temporary = bool(row and row[0])
        return self.temporary

    @property
    def limit(self) -> int:
        return max(self.least, PER_COMPOUND * self.compounds)

    def _forget(self) -> None:
        """Forget the rows used least lately, down to three quarters of the limit, after a flush:
        every row forgotten is then as the database has it. A table the buffer held whole is from
        then on read for a key of a group it forgot rows of."""
        uses = Counter(entry.used for held in self.held.values() for entry in held.entries.values())
        excess, keep = self.size - self.limit * 3 // 4, 0
        for used in sorted(uses):
            if excess <= 0:
                break
            excess -= uses[used]
            keep = used + 1
        for held in self.held.values():
            for first, group in list(held.groups.items()):
                stale = [key for key, entry in group.items() if entry.used < keep]
                if stale:
                    self._drop(held, first, group, stale)

    def _drop(self, held: Held, first: Any, group: dict[Key, Entry], keys: list[Key]) -> None:
        """Forget these rows of one group, each as the table has it (after a flush)."""
        for key in keys:
            if held.whole and group[key].stored:
                held.forgets(key)
            del group[key]
            del held.entries[key]
        self.size -= len(keys)
        if not group:
            del held.groups[first]
        if held.whole:
            held.forgotten.add(first)

    def clear(self) -> None:
        """Forget every row (when another process may have changed them): from now on every row not
        in the buffer is looked for in the database."""
        self.held.clear()
        self.size = 0
        self.whole.clear()

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

    def _entry(self, table: Table, key: Key) -> Entry:
        held = self.held.get(table) or self._hold(table)
        entry = held.entries.get(key)
        if entry is not None:
            entry.used = self.flushes
            return entry
        if held.whole and (key[0] not in held.forgotten or not held.had(key)):
            entry = Entry(key, None, False, self.flushes)
        else:
            driver = written(held.found, self.connection.dialect)
            cursor = self.connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            try:
                with self._as_sqlalchemy_would(driver.select):
                    cursor.execute(driver.select, driver.key(key))
                    loaded = cursor.fetchone()
            finally:
                cursor.close()
            entry = Entry(key, driver.read(loaded) if loaded is not None else None, loaded is not None, self.flushes)
        held.add(entry)
        self.size += 1
        return entry

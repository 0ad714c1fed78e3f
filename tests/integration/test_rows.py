"""The read models' write-back buffer: what it answers and what it writes, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, insert, select, update

from renovation.projections.base import DateText, DecimalText
from renovation.projections.rows import WRITTEN_ONCE, Rows
from renovation.services.application import RenovationApp

metadata = MetaData()
things = Table(
    "test_rows_things", metadata,
    Column("code", String(16), primary_key=True),
    Column("thing", String(16), primary_key=True),
    Column("amount", DecimalText, nullable=False),
    Column("day", DateText),
    Column("count", Integer, nullable=False),
)

facts = Table(
    "test_rows_facts", metadata,
    Column("code", String(16), primary_key=True),
    Column("fact", String(16), primary_key=True),
    Column("amount", DecimalText, nullable=False),
    info={WRITTEN_ONCE: True},
)


@pytest.fixture
def connection(app: RenovationApp) -> Iterator[Connection]:
    engine = app.backend.engine()
    with engine.connect() as connection:
        with connection.begin():
            metadata.create_all(connection)
        yield connection
    engine.dispose()


def stored(connection: Connection) -> list[tuple[object, ...]]:
    return [tuple(row) for row in connection.execute(select(things).order_by(things.c.code, things.c.thing))]


def row(code: str, thing: str, amount: str = "1.50", count: int = 0) -> dict[str, object]:
    return {"code": code, "thing": thing, "amount": Decimal(amount), "day": date(2021, 5, 1), "count": count}


def test_changes_are_answered_at_once_and_written_at_the_flush(connection: Connection) -> None:
    rows = Rows(connection)
    with connection.begin():
        rows.insert(things, row("JM", "a"))
        rows.update(things, ("JM", "a"), count=rows.one(things, "JM", "a")["count"] + 1)
        rows.insert(things, row("JM", "b"))
        rows.delete(things, "JM", "b")
        rows.update(things, ("JM", "missing"), count=5)  # as in SQL: no such row, nothing changes

        assert rows.one(things, "JM", "a")["count"] == 1 and rows.get(things, "JM", "b") is None
        assert stored(connection) == []
        rows.flush()

    assert stored(connection) == [("JM", "a", Decimal("1.50"), date(2021, 5, 1), 1)]


def test_rows_written_earlier_are_read_once_then_updated_deleted_or_replaced(connection: Connection) -> None:
    with connection.begin():
        first = Rows(connection)
        for thing in ("a", "b", "c"):
            first.insert(things, row("JM", thing))
        first.insert(things, row("YH", "a"))
        first.flush()
    rows = Rows(connection)  # knows nothing yet
    with connection.begin():
        rows.update(things, ("JM", "a"), amount=Decimal("2"))
        rows.delete(things, "JM", "b")
        rows.delete(things, "JM", "c")
        rows.insert(things, row("JM", "c", amount="9.99", count=3))  # replaced: deleted, then inserted again
        rows.insert(things, row("YH", "a", amount="7"), ignore_existing=True)  # exists: stays as it was
        rows.flush()

    assert stored(connection) == [
        ("JM", "a", Decimal("2"), date(2021, 5, 1), 0),
        ("JM", "c", Decimal("9.99"), date(2021, 5, 1), 3),
        ("YH", "a", Decimal("1.50"), date(2021, 5, 1), 0),
    ]


def test_deleting_by_the_first_key_column_removes_written_and_pending_rows(connection: Connection) -> None:
    rows = Rows(connection)
    with connection.begin():
        rows.insert(things, row("JM", "a"))
        rows.insert(things, row("YH", "a"))
        rows.flush()
        rows.insert(things, row("JM", "b"))
        rows.delete(things, "JM")
        rows.insert(things, row("JM", "c"))
        rows.flush()

    assert [r[:2] for r in stored(connection)] == [("JM", "c"), ("YH", "a")]


def test_a_plain_insert_of_an_existing_key_is_refused(connection: Connection) -> None:
    rows = Rows(connection)
    with connection.begin():
        rows.insert(things, row("JM", "a"))
        with pytest.raises(ValueError, match="exists already"):
            rows.insert(things, row("JM", "a"))


def test_past_its_limit_the_buffer_forgets_written_rows_and_reads_them_again(connection: Connection) -> None:
    rows = Rows(connection, limit=2)
    with connection.begin():
        for thing in ("a", "b", "c"):
            rows.insert(things, row("JM", thing))
        rows.flush()
        assert rows.size == 0
        rows.update(things, ("JM", "b"), count=7)
        rows.flush()

    assert [r[4] for r in stored(connection)] == [0, 7, 0]


def test_past_its_limit_the_buffer_forgets_the_rows_used_least_lately(connection: Connection) -> None:
    rows = Rows(connection, limit=4)  # over 4 rows, it forgets down to 3
    with connection.begin():
        for thing in "abcd":
            rows.insert(things, row("JM", thing))
            rows.flush()
        assert rows.get(things, "JM", "a") is not None  # used again: the latest of all but the new one
        rows.insert(things, row("JM", "e"))
        rows.flush()
        assert rows.size == 3
        assert {key[1] for key in rows.held[things].entries} == {"a", "d", "e"}


def test_the_buffer_s_limit_grows_with_the_compounds_it_has_met(connection: Connection) -> None:
    from renovation.projections.rows import PER_COMPOUND

    rows = Rows(connection, limit=2)
    rows.compounds = 1  # a day of the programme touches every compound's rows: their rows are kept
    with connection.begin():
        for thing in range(PER_COMPOUND):
            rows.insert(things, row("JM", str(thing)))
        rows.flush()
        assert rows.size == PER_COMPOUND
        rows.insert(things, row("JM", "one more"))
        rows.flush()  # over it now: the rows of the earlier flush, used least lately, are forgotten together
        assert {key[1] for key in rows.held[things].entries} == {"one more"}


def test_a_whole_table_is_read_again_only_for_the_keys_the_buffer_forgot(connection: Connection) -> None:
    """A table the buffer holds whole (it was empty when the buffer began) is read only for the keys of
    rows the buffer forgot: a key it never wrote is answered at once, even in a group it forgot rows of.
    Seen here by changing the table behind the buffer's back (which a whole table never is)."""
    rows = Rows(connection, limit=1)
    with connection.begin():
        rows.complete(things)
        rows.insert(things, row("JM", "a"))
        rows.insert(things, row("JM", "b"))
        rows.flush()  # over its limit: both forgotten
        assert rows.size == 0 and rows.group(things, "JM") is None
        connection.execute(update(things).where(things.c.thing == "a").values(count=5))
        connection.execute(insert(things).values(row("JM", "never")))

        assert rows.one(things, "JM", "a")["count"] == 5  # forgotten: read again
        assert rows.get(things, "JM", "never") is None  # never written by the buffer: not read
        assert rows.get(things, "LY", "c") is None


def test_rows_of_a_table_written_once_are_let_go_once_written(connection: Connection) -> None:
    """A table whose rows are seldom read back (``WRITTEN_ONCE``): the buffer keeps none of them after
    a flush, and reads one again when asked; another table's rows stay."""
    rows = Rows(connection)
    with connection.begin():
        rows.complete(facts)
        rows.insert(facts, {"code": "JM", "fact": "M1", "amount": Decimal("12.50")})
        rows.insert(things, row("JM", "a"))
        assert rows.one(facts, "JM", "M1")["amount"] == Decimal("12.50")  # before the flush: held
        rows.flush()
        assert facts not in rows.held or not rows.held[facts].entries
        assert list(rows.held[things].entries) == [("JM", "a")]

        rows.update(facts, ("JM", "M1"), amount=Decimal("13"))  # read back, changed, written
        rows.flush()
        assert rows.get(facts, "JM", "M2") is None
    assert [tuple(r) for r in connection.execute(select(facts))] == [("JM", "M1", Decimal("13"))]


def test_an_update_sets_only_the_columns_changed_since_the_flush(connection: Connection) -> None:
    """A row the table has is updated in the columns changed since the last flush, however many updates
    changed them (SQLite then leaves alone the indexes of the others); a row deleted and inserted again
    is written whole. Seen by changing a column behind the buffer's back, which only a whole write undoes."""
    rows = Rows(connection)
    with connection.begin():
        for thing in ("a", "b", "c"):
            rows.insert(things, row("JM", thing))
        rows.flush()
        connection.execute(update(things).values(day=date(2021, 6, 1)))  # behind its back: every row
        rows.update(things, ("JM", "a"), count=1)
        rows.update(things, ("JM", "a"), amount=Decimal("2"))
        rows.update(things, ("JM", "b"), amount=Decimal("3"), day=None)
        rows.delete(things, "JM", "c")
        rows.insert(things, row("JM", "c", count=4))
        rows.flush()

    assert stored(connection) == [
        ("JM", "a", Decimal("2"), date(2021, 6, 1), 1),
        ("JM", "b", Decimal("3"), None, 0),
        ("JM", "c", Decimal("1.50"), date(2021, 5, 1), 4),
    ]


def test_many_updates_go_to_postgresql_by_one_statement_and_each_row_is_as_changed(
        connection: Connection, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``BULK_UPDATE`` changed rows of a table, PostgreSQL takes them by COPY into a scratch table
    and one UPDATE from it (SQLite, and a login that may not make temporary tables, row by row): the
    rows come out the same either way, and the scratch table is gone with the transaction."""
    from renovation.projections import rows as rows_module

    monkeypatch.setattr(rows_module, "BULK_UPDATE", 2)
    postgres = connection.dialect.name == "postgresql"
    for temporary in (True, False):
        rows = Rows(connection)
        with connection.begin():
            connection.execute(things.delete())
            for thing in "abc":
                rows.insert(things, row("JM", thing))
            rows.flush()
            if not temporary:
                rows.temporary = False
            rows.update(things, ("JM", "a"), count=1)
            rows.update(things, ("JM", "b"), amount=Decimal("3"), day=None)
            rows.flush()
            if postgres:
                scratch = connection.exec_driver_sql("SELECT to_regclass('pg_temp.scratch_test_rows_things')").scalar()
                assert (scratch is not None) == temporary
        assert stored(connection) == [("JM", "a", Decimal("1.50"), date(2021, 5, 1), 1),
                                      ("JM", "b", Decimal("3"), None, 0),
                                      ("JM", "c", Decimal("1.50"), date(2021, 5, 1), 0)]
        if postgres:
            assert connection.exec_driver_sql("SELECT to_regclass('pg_temp.scratch_test_rows_things')").scalar() is None
        connection.commit()


def test_a_row_inserted_where_none_was_known_is_then_updated_in_its_changed_columns(connection: Connection) -> None:
    """A row looked for, not found, then inserted, is written whole once; its later updates set only
    what they change, as for any other row."""
    rows = Rows(connection)
    with connection.begin():
        rows.complete(things)
        assert rows.get(things, "JM", "a") is None
        rows.insert(things, row("JM", "a"))
        rows.flush()
        connection.execute(update(things).values(day=date(2021, 6, 1)))  # behind its back
        rows.update(things, ("JM", "a"), count=2)
        rows.flush()
    assert stored(connection) == [("JM", "a", Decimal("1.50"), date(2021, 6, 1), 2)]


def test_the_column_types_read_back_what_was_written_as_their_own_method_says(connection: Connection) -> None:
    # The types hand each stored text straight to its parser (one call a value); what they read must be
    # what ``process_result_value`` says of the same text, None included, on each backend.
    from datetime import datetime, timedelta, timezone

    from sqlalchemy import type_coerce

    from renovation.projections.base import DateTimeText

    typed = Table("test_rows_typed", MetaData(), Column("key", Integer, primary_key=True),
                  Column("amount", DecimalText), Column("day", DateText), Column("at", DateTimeText))
    typed.create(connection)
    east = timezone(timedelta(hours=8))
    written = [(1, Decimal("0.50"), date(2021, 2, 28), datetime(2021, 3, 1, 6, 30, 5, tzinfo=east)),
               (2, Decimal("-12345678901234567890.123"), None, None), (3, None, date(2024, 2, 29), None)]
    connection.execute(insert(typed), [dict(zip(("key", "amount", "day", "at"), values, strict=True))
                                       for values in written])
    read = [tuple(found) for found in connection.execute(select(typed).order_by(typed.c.key))]
    assert read == written
    assert str(read[0][1]) == "0.50" and read[0][3].utcoffset() == timedelta(0)  # kept in UTC, scale kept
    raw = connection.execute(select(*(type_coerce(column, String) for column in typed.c)).order_by(typed.c.key))
    dialect = connection.dialect
    for stored_row, found in zip(raw, read, strict=True):
        for column, stored, value in zip(typed.c, stored_row, found, strict=True):
            if isinstance(column.type, DecimalText | DateText | DateTimeText):
                assert column.type.process_result_value(stored, dialect) == value

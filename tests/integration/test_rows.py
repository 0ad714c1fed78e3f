"""The read models' write-back buffer: what it answers and what it writes, on both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, select

from renovation.projections.base import DateText, DecimalText
from renovation.projections.rows import Rows
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

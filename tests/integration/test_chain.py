"""The hash chain written with every event, on SQLite and PostgreSQL: an untouched store verifies,
changes made behind the application's back are named by position, a rolled-back transaction's gap
on PostgreSQL is not a deletion, and concurrent writers extend one valid chain."""

from __future__ import annotations

import itertools
import multiprocessing
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import OperationalError, StoredEvent

from renovation.domain.compound import CompoundProject
from renovation.services.application import RenovationApp
from renovation.store.chain import GENESIS, ChainStore, link, verify
from tests.backends import pg_url, store_url
from tests.integration.conftest import open_app, start_compound

JM = str(CompoundProject.create_id("JM"))


def sql(db: str, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Run SQL on the store behind the application's back; ``{events}`` and ``{chain}`` name the tables."""
    if db.startswith("postgresql://"):
        import psycopg

        schema = db.rsplit("schema=", 1)[1]
        statement = statement.format(events=f'"{schema}".renovation_events', chain=f'"{schema}".event_chain',
                                     id="notification_id", meta=f'"{schema}".event_chain_meta')
        with psycopg.connect(pg_url(), autocommit=True) as connection:
            cursor = connection.execute(statement.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []
    statement = statement.format(events="stored_events", chain="event_chain", id="rowid", meta="event_chain_meta")
    connection = sqlite3.connect(db)
    try:
        with connection:
            cursor = connection.execute(statement, params)
            return cursor.fetchall()
    finally:
        connection.close()


def positions(db: str) -> list[int]:
    return [row[0] for row in sql(db, "SELECT {id} FROM {events} ORDER BY {id}")]


def history(app: RenovationApp) -> None:
    """JM started, metered and inspected: 8 events."""
    start_compound(app)
    app.measure("JM", "A1", "2021-04", Decimal("10"), user="auditor")
    app.measure("JM", "B2", "2021-05", Decimal("2.5"), user="auditor")
    app.record_inspection("JM", "patrol", user="sup")
    app.correct_measurement("JM", "M1", Decimal("9.5"), "复核", user="auditor")
    app.record_inspection("JM", "morning", user="sup")


def test_an_untouched_store_verifies_every_event(app: RenovationApp) -> None:
    history(app)
    chain = ChainStore(app.backend)

    verified, problems = verify(chain)

    assert problems == []
    assert verified == app.event_count() == 8
    links = list(chain.links())
    assert [position for position, _previous, _hash in links] == [n.id for n in app.iter_notifications()]
    assert links[0][1] == 0
    assert all(previous == earlier[0] for earlier, (_p, previous, _h) in itertools.pairwise(links))
    assert chain.head() == (links[-1][0], links[-1][2])


def test_each_link_hashes_the_previous_link_and_the_stored_event(app: RenovationApp) -> None:
    history(app)
    chain = ChainStore(app.backend)
    previous = GENESIS
    for (position, _before, stored), event in zip(chain.links(), chain.events(), strict=True):
        expected = link(previous, event.id, event.originator_id, event.originator_version, event.topic, event.state)
        assert stored == expected and position == event.id
        previous = stored


def test_an_empty_store_has_nothing_to_verify(app: RenovationApp) -> None:
    assert verify(ChainStore(app.backend)) == (0, [])
    assert ChainStore(app.backend).head() is None


def test_an_edited_event_is_named_by_position(app: RenovationApp, db: str) -> None:
    history(app)
    target = positions(db)[3]  # JM version 4, the first measurement
    (state,) = sql(db, "SELECT state FROM {events} WHERE {id} = ?", (target,))[0]
    edited = bytes(state).replace(b'"10"', b'"100"')
    assert edited != bytes(state)
    sql(db, "UPDATE {events} SET state = ? WHERE {id} = ?", (edited, target))

    verified, problems = verify(ChainStore(app.backend))

    assert [(p.position, p.kind) for p in problems] == [(target, "edited")]
    assert f"aggregate {JM} version 4 (QuantityMeasured)" in problems[0].detail
    assert verified == 7


def test_a_deleted_event_is_named_by_position_and_aggregate(app: RenovationApp, db: str) -> None:
    history(app)
    target = positions(db)[4]  # JM version 5
    sql(db, "DELETE FROM {events} WHERE {id} = ?", (target,))

    verified, problems = verify(ChainStore(app.backend))

    assert [(p.position, p.kind) for p in problems] == [(target, "deleted")]
    assert problems[0].detail.endswith(f"aggregate {JM} version 5")
    assert verified == 7


def test_events_deleted_with_their_links_are_found_from_the_next_link(app: RenovationApp, db: str) -> None:
    history(app)
    gone = positions(db)[4:6]  # JM versions 5 and 6
    for position in gone:
        sql(db, "DELETE FROM {events} WHERE {id} = ?", (position,))
        sql(db, "DELETE FROM {chain} WHERE position = ?", (position,))

    verified, problems = verify(ChainStore(app.backend))

    assert [(p.position, p.kind) for p in problems] == [(gone[-1], "deleted")]
    assert f"aggregate {JM} version(s) 5, 6" in problems[0].detail
    assert verified == 5  # the event after the gap cannot be checked: the link it was chained to is gone


def test_digest_proves_the_log_still_extends_it(app: RenovationApp, db: str) -> None:
    history(app)
    chain = ChainStore(app.backend)
    digest = chain.head()
    assert digest is not None
    app.record_inspection("JM", "patrol", user="sup")  # the log grows past the digest: fine
    assert verify(chain, digest) == (9, [])

    wrong = (digest[0], "f" * 64)
    _verified, problems = verify(chain, wrong)
    assert [(p.position, p.kind) for p in problems] == [(digest[0], "digest_mismatch")]

    last_two = positions(db)[-2:]
    for position in last_two:
        sql(db, "DELETE FROM {events} WHERE {id} = ?", (position,))
        sql(db, "DELETE FROM {chain} WHERE position = ?", (position,))
    assert verify(chain) == (7, [])  # the shorter log is consistent in itself
    _verified, problems = verify(chain, digest)
    assert [(p.position, p.kind) for p in problems] == [(digest[0], "truncated")]


def test_rebuilding_the_chain_records_the_initialisation(app: RenovationApp, db: str) -> None:
    history(app)
    head = ChainStore(app.backend).head()
    sql(db, "DELETE FROM {chain}")
    chain = ChainStore(app.backend)
    assert chain.head() is None and chain.meta() == {"time_zone": "Asia/Shanghai"}  # the store's zone only

    count = chain.rebuild({"initialised_at": "2021-05-10T09:00:00+08:00", "initialised_by": "auditor",
                           "events": "8"})

    assert count == 8
    assert chain.head() == head  # the same links as the recorder wrote
    assert chain.meta() == {"initialised_at": "2021-05-10T09:00:00+08:00", "initialised_by": "auditor",
                            "events": "8", "time_zone": "Asia/Shanghai"}
    assert verify(chain) == (8, [])
    app.record_inspection("JM", "patrol", user="sup")  # and the recorder extends the rebuilt chain
    assert verify(chain) == (9, [])


@pytest.fixture
def pg_db(tmp_path: Path) -> Iterator[str]:
    yield from store_url("postgres", tmp_path)


def test_a_rolled_back_transactions_gap_on_postgresql_is_not_a_deletion(pg_db: str) -> None:
    app = open_app(pg_db)
    history(app)
    (sequence,) = sql(pg_db, "SELECT pg_get_serial_sequence('{events}', 'notification_id')")[0]
    sql(pg_db, "SELECT nextval(?)", (sequence,))  # what an insert that was rolled back leaves behind
    app.record_inspection("JM", "patrol", user="sup")
    app.measure("JM", "A1", "2021-05", Decimal("1"), user="auditor")
    ids = positions(pg_db)
    assert ids[-2] == ids[-3] + 2  # the gap

    assert verify(ChainStore(app.backend)) == (10, [])

    # A deletion right after the gap is still a deletion.
    sql(pg_db, "DELETE FROM {events} WHERE {id} = ?", (ids[-2],))
    _verified, problems = verify(ChainStore(app.backend))
    assert [(p.position, p.kind) for p in problems] == [(ids[-2], "deleted")]
    assert problems[0].detail.endswith(f"aggregate {JM} version 9")
    app.close()


def _write_many(db: str, worker: int, count: int) -> int:
    app = open_app(db)
    for n in range(count):
        if n % 2:
            app.measure("JM", "A1", "2021-05", Decimal("0.5"), user=f"auditor-{worker}")
        else:
            app.record_inspection("JM", "patrol", user=f"sup-{worker}")
    app.close()
    return count


def test_concurrent_writers_leave_a_valid_chain(app: RenovationApp, db: str) -> None:
    start_compound(app)
    processes, each = 4, 10
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        done = pool.starmap(_write_many, [(db, worker, each) for worker in range(processes)])
    assert sum(done) == processes * each

    verified, problems = verify(ChainStore(app.backend))

    assert problems == []
    assert verified == app.event_count() == 3 + processes * each
    assert app.get_project("JM").version == 3 + processes * each


def test_a_link_is_the_hash_every_store_was_chained_with() -> None:
    """Fixed values (SHA-256 over the previous link, the position, the compound id, the version and the topic,
    each followed by a unit separator, then the state): a store chained before verifies after any change."""
    compound = UUID("5dbbf699-195e-5f98-9791-4aef0ec7dfd5")
    state = '{"note":"验收"}'
    assert link(GENESIS, 7, compound, 3, "renovation.domain.compound:CompoundProject.Accepted", state.encode()) == (
        "e4761e51721da830ac9e3d3ccbb75acb1c7bfb6b750a207d1ec1e2d0ceaa7dc7")
    assert link("ab" * 32, 8, compound.hex, 4, "t", state) == (  # a row read back as text: its text hashed
        "ff4256eee8422f2b7b1f3a576db81e7c7ebecd2dd849dae89dfc8efafcbb90a4")


def measurements(app: RenovationApp, count: int) -> list[StoredEvent]:
    """``count`` measurements of JM as stored events, not stored yet."""
    project = app.get_project("JM")
    with app.command():
        for number in range(count):
            project.measure("A1", "2021-05", Decimal(number + 1), app.context("auditor"))
    return [app.mapper.to_stored_event(event) for event in project.collect_events()]


@pytest.fixture
def sqlite_app(tmp_path: Path) -> Iterator[RenovationApp]:
    application = open_app(str(tmp_path / "store.db"))
    yield application
    application.close()


def test_a_batch_stored_at_once_is_chained_at_the_positions_of_its_rows(sqlite_app: RenovationApp) -> None:
    start_compound(sqlite_app)
    batch = measurements(sqlite_app, 5)

    with sqlite_app.backend.appending() as append:
        positions = append(batch)

    rows = sql(sqlite_app.backend.path, "SELECT rowid, originator_version FROM {events} ORDER BY rowid DESC LIMIT 5")
    assert positions == [rowid for rowid, _version in reversed(rows)]
    assert [version for _rowid, version in reversed(rows)] == [event.originator_version for event in batch]
    assert verify(ChainStore(sqlite_app.backend)) == (sqlite_app.event_count(), [])


def test_a_row_slipped_between_a_batchs_rows_fails_the_batch_and_stores_nothing(sqlite_app: RenovationApp) -> None:
    """A trigger put on the table by hand adds a row after each of the batch's: its rows are then not the
    table's last ones, and taking the last ones for them would chain the wrong rows."""
    start_compound(sqlite_app)
    stored = sqlite_app.event_count()
    batch = measurements(sqlite_app, 3)
    sql(sqlite_app.backend.path, "CREATE TRIGGER slip AFTER INSERT ON stored_events WHEN NEW.topic != 'x' BEGIN "
        "INSERT INTO stored_events VALUES (hex(randomblob(16)), 1, 'x', x'7b7d'); END")

    with pytest.raises(OperationalError, match="not the table's last rows"), \
            sqlite_app.backend.appending() as append:
        append(batch)

    assert sqlite_app.event_count() == stored
    assert verify(ChainStore(sqlite_app.backend)) == (stored, [])

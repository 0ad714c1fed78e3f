"""Catching up in one pass over the log, against stored events no command would write (appended by a
PostgreSQL superuser, or written straight into an SQLite file), two catch-ups at once, and odd requests:
each bad event stops only the read models that take it, in one line; nothing deadlocks."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from renovation.cli import cli
from renovation.projections import read_models
from renovation.projections import runner as runner_module
from renovation.projections.errors import BadEvent
from renovation.services.application import RenovationApp
from tests.backends import pg_url
from tests.integration.conftest import start_compound

FEEDBACK = "renovation.domain.compound:CompoundProject.FeedbackReceived"


def _schema(db: str) -> str:
    return db.rpartition("schema=")[2]


def append_raw(db: str, topic: str, state: Any) -> None:
    """Append one event as a superuser would (PostgreSQL) or straight into the SQLite file: the next
    version of the first compound, with the given topic and state (bytes, text or None)."""
    if "://" not in db:
        connection = sqlite3.connect(db, isolation_level=None)
        try:
            oid, version = connection.execute(
                "SELECT originator_id, max(originator_version) FROM stored_events WHERE originator_id = (SELECT "
                "originator_id FROM stored_events WHERE topic LIKE '%Registered' AND CAST(state AS TEXT) LIKE "
                "'%\"code\":\"JM\"%') GROUP BY originator_id").fetchone()
            connection.execute("INSERT INTO stored_events VALUES (?, ?, ?, ?)", (oid, version + 1, topic, state))
        finally:
            connection.close()
        return
    events = sql.SQL("{}.renovation_events").format(sql.Identifier(_schema(db)))
    with psycopg.connect(pg_url(), autocommit=True) as connection:
        connection.execute("SET session_replication_role = replica")  # no link trigger: a forged event
        (oid, version), = connection.execute(sql.SQL(
            "SELECT originator_id, max(originator_version) FROM {0} WHERE originator_id = (SELECT originator_id "
            "FROM {0} WHERE topic LIKE '%%Registered' AND convert_from(state, 'utf8') LIKE '%%\"code\":\"JM\"%%') "
            "GROUP BY originator_id").format(events)).fetchall()
        connection.execute(sql.SQL("INSERT INTO {} (originator_id, originator_version, topic, state) "
                                   "VALUES (%s, %s, %s, %s)").format(events), (oid, version + 1, topic, state))


def feedback_state(ticket: str, channel: str = "hotline") -> bytes:
    return ('{"timestamp":{"_type_":"datetime_iso","_data_":"2021-03-04T16:00:00+08:00"},"user":"clerk",'
            '"command_id":"61fd5cb598324d2d87f4393c825437ca","ticket_id":"' + ticket + '","channel":"'
            + channel + '","text":"x","at":{"_type_":"datetime_iso","_data_":"2021-03-04T16:00:00+08:00"}}'
            ).encode()


def read_board(db: str, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--db", db, "--user", "bureau", "--lang", "en", *args],
                              env={"RENOVATION_TODAY": "2021-07-31", "RENOVATION_USER": None})


# ---------------------------------------------------------------- states that are not bytes

def test_an_event_of_a_topic_no_read_model_takes_is_not_read(app: RenovationApp, db: str) -> None:
    """Not even its state: a NULL one does no harm."""
    start_compound(app)
    append_raw(db, "renovation.domain.compound:CompoundProject.NoSuchEvent", None)
    models = read_models(app)
    try:
        models.catch_up()
        assert {row["lag"] for row in models.status()} == {0}
    finally:
        models.close()


def test_a_state_stored_as_nothing_is_a_bad_event(app: RenovationApp, db: str) -> None:
    start_compound(app)
    append_raw(db, FEEDBACK, None)
    models = read_models(app)
    try:
        with pytest.raises(BadEvent, match="not bytes"):
            models.catch_up("feedback")
    finally:
        models.close()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # PostgreSQL's bytea column holds bytes only
def test_a_state_stored_as_text_is_a_bad_event(app: RenovationApp, db: str) -> None:
    """SQLite's state column is BLOB by affinity only: a row written straight into the file may hold TEXT."""
    start_compound(app)
    append_raw(db, FEEDBACK, feedback_state("T9").decode())
    models = read_models(app)
    try:
        with pytest.raises(BadEvent):
            models.catch_up("feedback")
    finally:
        models.close()


# ---------------------------------------------------------------- the database refusing a row

@pytest.mark.parametrize("db", ["postgres"], indirect=True)  # SQLite stores a NUL in text
def test_a_database_refusal_while_catching_up_is_one_line_not_a_traceback(app: RenovationApp, db: str) -> None:
    """A forged ticket whose channel holds NUL: PostgreSQL refuses the text as the buffer writes it
    through the driver's own cursor; the error is SQLAlchemy's kind, which the CLI says in one line."""
    start_compound(app)
    append_raw(db, FEEDBACK, feedback_state("T9", channel="hot\\u0000line"))
    result = read_board(db, "feedback", "list", "--json")
    assert result.exit_code == 1
    assert not isinstance(result.exception, psycopg.Error), repr(result.exception)
    assert result.output.startswith("Error: ") and "Traceback" not in result.output
    assert "NUL" in result.output


# ---------------------------------------------------------------- two catch-ups at once

@pytest.mark.parametrize("db", ["postgres"], indirect=True)  # SQLite's BEGIN IMMEDIATE takes the file at once
def test_two_catch_ups_naming_read_models_in_other_orders_do_not_deadlock(
        app: RenovationApp, db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`audit reconcile` catches up ("ledger", "progress"), `projections follow` every read model (progress
    first in its list). Each locks its positions in one transaction, in the order of their keys whatever
    order it was asked in: the second waits for the first. A barrier after each one's first lock would
    deadlock them if they took their locks in the order asked."""
    start_compound(app)
    app.measure("JM", "A1", "2021-03", Decimal("10"), user="auditor")
    barrier = threading.Barrier(2, timeout=3)
    local = threading.local()
    original = runner_module.position_of

    def position_of(connection: Any, name: str, *, for_update: bool = False) -> int:
        found = original(connection, name, for_update=for_update)
        if for_update and not getattr(local, "waited", False):
            local.waited = True
            # The other waits for this one's lock (the same first key): it never reaches the barrier.
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait()
        return found

    monkeypatch.setattr(runner_module, "position_of", position_of)
    errors: list[BaseException] = []

    def catch_up(*names: str) -> None:
        other = RenovationApp(db)
        models = read_models(other)
        try:
            models.catch_up(*names)
        except Exception as error:  # noqa: BLE001 - the thread's failure, whatever it is, fails the test
            errors.append(error)
        finally:
            models.close()
            other.close()

    threads = [threading.Thread(target=catch_up, args=names) for names in (("progress", "ledger"),
                                                                           ("ledger", "progress"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    head = app.recorder.max_notification_id()
    with read_models(app).engine.connect() as connection:
        assert {runner_module.position_of(connection, name) for name in ("progress", "ledger")} == {head}


# ---------------------------------------------------------------- a name given twice

def test_a_rebuild_naming_a_read_model_twice_rebuilds_it(app: RenovationApp) -> None:
    """`projections rebuild ranking ranking`: each event applied once."""
    start_compound(app)
    models = read_models(app)
    try:
        models.rebuild("ranking", "ranking")
        assert {row["projection"]: row["lag"] for row in models.status()}["ranking"] == 0
    finally:
        models.close()


# ---------------------------------------------------------------- one bad event

def test_an_event_only_feedback_takes_does_not_hold_back_the_progress_read_model(app: RenovationApp, db: str) -> None:
    """A forged FeedbackReceived that cannot be decoded: the follower (a catch-up of all) stops the read
    model that takes it before it, and brings the others to the head."""
    start_compound(app, "JM")
    start_compound(app, "LY")
    append_raw(db, FEEDBACK, b'{"not json')  # on JM
    app.measure("LY", "A1", "2021-03", Decimal("10"), user="auditor")
    models = read_models(app)
    try:
        with pytest.raises(BadEvent, match="the computed, feedback read models") as raised:
            models.catch_up()
        assert raised.value.projections == ("computed", "feedback")  # the two that take residents' tickets
        lag = {row["projection"]: row["lag"] for row in models.status()}
        # They keep the whole batches before the bad event's: here there is one batch.
        assert lag == {"progress": 0, "quality": 0, "ledger": 0, "ranking": 0, "feedback": 8, "worklists": 0,
                       "payments": 0, "computed": 8}
    finally:
        models.close()


def test_a_value_written_into_a_read_models_table_stops_that_read_model_alone(app: RenovationApp) -> None:
    """A value no read model writes ('abc' for a decimal), met as the catch-up reads its row back, stops the
    read model whose row it is, with the line that names it and what mends it; the others reach the head
    (as after an event that cannot be applied), and a rebuild mends it."""
    from sqlalchemy import text

    from renovation.projections.errors import BadValue

    start_compound(app, "JM")
    models = read_models(app)
    try:
        models.catch_up()
        with models.engine.begin() as connection:
            connection.execute(text("UPDATE progress_compounds SET metered_value = 'abc' WHERE code = 'JM'"))
    finally:
        models.close()
    app.measure("JM", "A1", "2021-03", Decimal("10"), user="auditor")
    models = read_models(app)
    try:
        with pytest.raises(BadValue, match=r"^the progress read model holds 'abc' where a decimal belongs") as raised:
            models.catch_up()
        assert raised.value.projections == ("progress",)
        lag = {row["projection"]: row["lag"] for row in models.status()}
        assert lag == {"progress": 1, "quality": 0, "ledger": 0, "ranking": 0, "feedback": 0, "worklists": 0,
                       "payments": 0, "computed": 0}
        models.rebuild("progress")
        assert {row["projection"]: row["lag"] for row in models.status()}["progress"] == 0
    finally:
        models.close()

"""Recording times when a client's clock is wrong (issue 12, item 8): never before the store's latest
event, whichever compound it is of (the recorders refuse it; on PostgreSQL every writer reads the
server's clock), and `--as-of` resolves to a position in the log, so a store that holds times out of
order (written before this rule) still answers instead of failing with a traceback."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import StoredEvent

from renovation.projections.progress import progress_rows
from renovation.services.application import RenovationApp
from renovation.services.audit import compound_as_of, position_as_of, read_models_as_of, replay_ledger
from renovation.store.timeorder import RecordedOutOfOrder, recorded_at
from tests.backends import store_url
from tests.integration.conftest import CST, open_app, start_compound

LATER = datetime(2021, 5, 10, 9, 0, tzinfo=CST)  # the clock open_app gives
SLOW = LATER - timedelta(minutes=5)  # a client whose clock is five minutes behind


def test_a_slow_clock_records_no_earlier_than_the_compounds_last_event(db: str) -> None:
    app = open_app(db)
    start_compound(app)
    app.measure("JM", "A1", "2021-05", Decimal("10"), user="auditor")
    slow = RenovationApp(db, clock_func=lambda: SLOW)

    slow.correct_measurement("JM", "M1", Decimal("9"), "复核", user="auditor")

    times = [event.timestamp for event in slow.events.get(slow.get_project("JM").id)]
    assert times == sorted(times)
    assert times[-1] == LATER
    slow.close()
    app.close()


def out_of_order_store(db: str) -> RenovationApp:
    """A store as one written before the rule: a correction recorded five minutes "before" the
    measurement it corrects (the slow clock's own time, forced past the rule)."""
    early = open_app(db, now=LATER - timedelta(hours=1))
    start_compound(early)
    early.close()
    app = open_app(db)
    app.measure("JM", "A1", "2021-05", Decimal("10"), user="auditor")
    slow = RenovationApp(db, clock_func=lambda: SLOW)
    slow.context = lambda user: type(app.context(user))(user=user, now=SLOW)  # type: ignore[method-assign]
    slow.correct_measurement("JM", "M1", Decimal("9"), "复核", user="auditor")
    slow.close()
    return app


def test_as_of_between_out_of_order_times_answers_from_a_prefix_of_the_log(db: str) -> None:
    app = out_of_order_store(db)
    between = SLOW + timedelta(minutes=1)  # after the correction's time, before the measurement's

    replay = replay_ledger(app, "JM", between)  # raised KeyError: 'M1'
    shown = compound_as_of(app, "JM", between)  # raised AssertionError / OriginatorVersionError
    models = read_models_as_of(app, between)

    assert replay["total_value"] == Decimal(0)  # the prefix stops before the measurement
    assert shown.entries == 0 and shown.status == "under_construction"
    with models.engine.connect() as connection:
        (row,) = progress_rows(connection, between.date())
    assert (row["code"], row["metered_value"]) == ("JM", Decimal(0))
    models.close()
    app.close()


def log_times(app: RenovationApp) -> list[datetime]:
    return [when for when in (recorded_at(n.state) for n in app.iter_notifications()) if when is not None]


def test_a_slow_clock_records_no_earlier_than_the_stores_latest_event(db: str) -> None:
    app = open_app(db)
    start_compound(app, "JM")
    slow = RenovationApp(db, clock_func=lambda: SLOW - timedelta(minutes=30))
    start_compound(slow, "XY")  # another compound, from a clock 35 minutes behind

    assert log_times(app) == sorted(log_times(app))
    assert log_times(app)[-1] == LATER
    slow.close()
    app.close()


def test_the_store_refuses_an_event_recorded_before_its_latest(db: str) -> None:
    app = open_app(db)
    start_compound(app)
    stored = app.event_count()
    project = app.get_project("JM")
    early = (LATER - timedelta(days=1)).isoformat()
    state = {"timestamp": {"_type_": "datetime_iso", "_data_": early}, "user": "auditor",
             "command_id": uuid4().hex, "count": 3}
    event = StoredEvent(originator_id=project.id, originator_version=project.version + 1,
                        topic="renovation.domain.compound:CompoundProject.IllegalStructuresRecorded",
                        state=json.dumps(state).encode())

    with pytest.raises(RecordedOutOfOrder), app.backend.appending() as append:
        append([event])

    assert app.event_count() == stored
    app.close()


def test_a_writer_that_loses_the_race_on_time_records_once_and_in_order(db: str) -> None:
    """Between reading the store's latest time and saving, another writer stores a later event of
    another compound: the save is refused under the table lock and the command runs again. (On
    SQLite the writers' lock is store-wide, so the other write is made from inside the save.)"""
    app = open_app(db)
    start_compound(app, "JM")
    start_compound(app, "XY")
    other = RenovationApp(db, clock_func=lambda: LATER + timedelta(minutes=10))
    racer = RenovationApp(db, clock_func=lambda: LATER + timedelta(minutes=1))
    saves: list[int] = []
    original = racer.save

    def save_after_another(*args: Any, **kwargs: Any) -> Any:
        saves.append(1)
        if len(saves) == 1:
            project = other.get_project("XY")
            with other.command():
                project.measure("A1", "2021-05", Decimal("1"), other.context("auditor"))
            with other.backend.appending() as append:  # no writers' lock: as a writer on another compound
                append([other.mapper.to_stored_event(event) for event in project.collect_events()])
        return original(*args, **kwargs)

    racer.save = save_after_another  # type: ignore[method-assign]
    racer.measure("JM", "A1", "2021-05", Decimal("2"), user="auditor")

    times = log_times(app)
    assert times == sorted(times)
    assert times[-1] == LATER + timedelta(minutes=10)  # lifted to the other writer's time
    assert [e.entry_id for e in app.events.get(app.get_project("JM").id) if hasattr(e, "entry_id")] == ["M1"]
    assert len(saves) == 2  # refused once, then run again
    for application in (racer, other, app):
        application.close()


def test_postgresql_records_by_the_servers_clock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from renovation.services import clock

    db = next(store_url("postgres", tmp_path))  # SQLite has no server: the machine's clock is the clock
    app = RenovationApp(db)
    monkeypatch.setattr(clock, "now", lambda: datetime(1990, 1, 1, tzinfo=CST))  # this machine's clock is wrong
    server = app.backend.server_now()
    assert server is not None
    start_compound(app)

    first = log_times(app)[0]
    assert abs(first - server) < timedelta(minutes=1)
    app.close()


def test_as_of_resolves_to_a_position_in_the_log(db: str) -> None:
    times = iter([LATER + timedelta(minutes=m) for m in range(0, 1000)])
    app = RenovationApp(db, clock_func=lambda: next(times))
    start_compound(app, "JM")
    start_compound(app, "XY")
    app.measure("JM", "A1", "2021-05", Decimal("1"), user="auditor")
    app.measure("XY", "A1", "2021-05", Decimal("2"), user="auditor")
    positions = [n.id for n in app.iter_notifications()]
    stamps = log_times(app)

    assert position_as_of(app, stamps[0] - timedelta(seconds=1)) == 0
    assert position_as_of(app, stamps[3]) == positions[3]
    assert position_as_of(app, stamps[-2] + timedelta(seconds=30)) == positions[-2]
    assert replay_ledger(app, "XY", stamps[-2])["total_value"] == Decimal(0)
    assert replay_ledger(app, "XY", stamps[-1])["total_value"] == Decimal("246.90")
    app.close()


def test_a_clock_far_behind_the_store_is_refused_not_followed(db: str) -> None:
    """Up to an hour behind, a clock records at the store's latest time; further behind, it is refused
    (nothing recorded) rather than followed: else one clock far ahead would carry every later
    recording time with it, in silence."""
    from renovation.services.writer import ClockBehind

    app = open_app(db)
    start_compound(app)
    stored = app.event_count()
    slow = RenovationApp(db, clock_func=lambda: LATER - timedelta(hours=2))

    with pytest.raises(ClockBehind, match="check the clock"):
        slow.measure("JM", "A1", "2021-05", Decimal("1"), user="auditor")

    assert app.event_count() == stored
    slow.close()
    app.close()

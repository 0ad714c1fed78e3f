"""Recording times when a client's clock is wrong (issue 12, item 8): never before what the compound
has recorded already, and `--as-of` answers from a prefix of the log, so a store that holds times out
of order (written before this rule) still answers instead of failing with a traceback."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from renovation.projections.progress import progress_rows
from renovation.services.application import RenovationApp
from renovation.services.audit import compound_as_of, read_models_as_of, replay_ledger
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

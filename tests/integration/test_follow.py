"""`renovation projections follow` keeps the read models current as events arrive (LISTEN/NOTIFY on
PostgreSQL, polling on SQLite), while nothing reads."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from renovation.projections import NAMES, read_models
from tests.integration.conftest import open_app, start_compound


def test_a_follower_applies_events_recorded_while_it_runs(db: str) -> None:
    app = open_app(db)
    start_compound(app)
    follower = subprocess.Popen(
        [sys.executable, "-c", "from renovation.cli import cli; cli()", "--db", db, "projections", "follow",
         "--seconds", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline().startswith("following ")  # caught up, now listening
        app.record_inspection("JM", "patrol", user="sup")
        app.record_inspection("JM", "morning", user="sup")
        head = app.recorder.max_notification_id()
        models = read_models(app)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(row["position"] < head for row in models.status()):
            time.sleep(0.1)
        # Nothing here caught up (status does not): the follower did.
        assert [row["lag"] for row in models.status()] == [0] * len(NAMES)
        models.close()
    finally:
        follower.wait(timeout=15)
        app.close()
    assert follower.returncode == 0


def test_a_follower_keeps_the_computed_scores_the_default_horse_race_boards_show(db: str) -> None:
    """After catching up, the follower works out the computed scores of the periods ``ranking
    --computed`` shows by default (the latest a compound was under construction in, and the one before,
    for the movement), so a login that may not keep them (after ``db roles --apply``) finds them."""
    from sqlalchemy import select

    from renovation.projections.computed import totals

    app = open_app(db)
    start_compound(app)
    app.record_inspection("JM", "patrol", user="sup")
    done = subprocess.run(
        [sys.executable, "-c", "from renovation.cli import cli; cli()", "--db", db, "--today", "2021-04-20",
         "projections", "follow", "--seconds", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    assert done.returncode == 0, done.stdout
    models = read_models(app)
    try:
        with models.engine.connect() as connection:
            kept = {(row.code, row.period, row.stamp.split(" ")[1]) for row in connection.execute(select(totals))}
    finally:
        models.close()
        app.close()
    # March is over: its scores hold until a date in them passes; April counts to the day
    assert kept == {("JM", "2021-04", "2021-04-20..2021-04-20"), ("JM", "2021-03", "2021-04-20..9999-12-31")}


def test_a_follower_keeps_the_default_boards_again_on_a_new_day_with_no_event(
        db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The month under way counts to the day: on a new day the follower works the default boards' scores
    out again though nothing was recorded (on PostgreSQL it looks every ``DAY_LOOK`` seconds), and only
    then (not at every look)."""
    import threading
    from datetime import date

    from renovation.services import boards
    from renovation.services.workspace import Workspace

    monkeypatch.setattr(boards, "DAY_LOOK", 0.2)
    app = open_app(db)
    start_compound(app)
    app.close()
    ws = Workspace(db, config_path="/dev/null")
    today = [date(2021, 4, 20)]
    kept: list[date] = []
    stop = threading.Event()
    follower = threading.Thread(target=boards.follow, args=(ws, stop, lambda _start: None,
                                                            lambda: kept.append(today[0]), lambda: today[0]))
    follower.start()
    try:
        deadline = time.monotonic() + 10
        while not kept and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(2.5)  # several looks (two polls on SQLite), the same day
        assert kept == [date(2021, 4, 20)]
        today[0] = date(2021, 4, 21)
        deadline = time.monotonic() + 10
        while len(kept) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert kept == [date(2021, 4, 20), date(2021, 4, 21)]
    finally:
        stop.set()
        follower.join(timeout=15)
        ws.close()
    assert not follower.is_alive()


def test_a_follower_whose_subscription_fails_stops_with_its_error(tmp_path: Path) -> None:
    """PostgreSQL: the subscription's error (its connection lost, say) is raised by the follower, which
    does not go on as if nothing had happened."""
    import threading

    from renovation.services import boards
    from renovation.services.workspace import Workspace
    from tests.backends import store_url

    class Lost:
        def __enter__(self) -> Lost:
            return self

        def __exit__(self, *args: object) -> None:
            return None

        def __iter__(self) -> Lost:
            return self

        def __next__(self) -> object:
            raise ConnectionError("the server closed the connection")

        def stop(self) -> None:
            return None

    for db in store_url("postgres", tmp_path):
        app = open_app(db)
        start_compound(app)
        app.close()
        ws = Workspace(db, config_path="/dev/null")
        ws.app.recorder.subscribe = lambda gt: Lost()  # type: ignore[method-assign, assignment, misc]
        try:
            with pytest.raises(ConnectionError, match="closed the connection"):
                boards.follow(ws, threading.Event(), lambda _start: None)
        finally:
            ws.close()


@pytest.mark.parametrize("seconds", [(), ("--seconds", "60")])
def test_a_follower_stopped_by_its_service_manager_stops_as_on_ctrl_c(tmp_path: Path, seconds: tuple[str, ...]) -> None:
    """SIGTERM (``systemctl stop``, ``kill``) stops a follower as Ctrl-C does, at once (its ``--seconds``
    not waited out): it ends without an error and closes the store, whose write-ahead log is not left
    beside it (SQLite)."""
    db = tmp_path / "follow.db"
    app = open_app(str(db))
    start_compound(app)
    app.close()
    follower = subprocess.Popen(
        [sys.executable, "-c", "from renovation.cli import cli; cli()", "--db", str(db), "projections", "follow",
         *seconds],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline().startswith("following ")
        assert Path(f"{db}-wal").exists()  # the store is open
        follower.send_signal(signal.SIGTERM)
        assert follower.wait(timeout=20) == 0
        assert follower.stdout.read() == ""  # nothing said of a time it did not run for
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.wait()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith("follow.db-")] == []

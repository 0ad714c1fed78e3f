"""Keeping the read models current: positions, catching up, applying a notification twice, a
projection killed in the middle of a batch, and rebuilding; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text

from renovation.domain.compound import NewFinding
from renovation.projections import NAMES, read_models
from renovation.projections import runner as runner_module
from renovation.projections.base import set_position
from renovation.projections.errors import BadEvent
from renovation.projections.progress import progress_rows
from renovation.projections.quality import quality_rows
from renovation.projections.runner import ReadModels
from renovation.services.application import RenovationApp
from tests.integration.conftest import start_compound
from tests.integration.projection_support import at, positions, register, snapshot

D = Decimal


def busy_programme(app: RenovationApp) -> None:
    """Two compounds with a little of everything: 22 events."""
    start_compound(app, "JM")  # 3 events
    app.measure("JM", "A1", "2021-03", D("10"), user="auditor")
    app.measure("JM", "B2", "2021-04", D("5"), user="auditor")
    app.correct_measurement("JM", "M1", D("12.5"), "复核", user="auditor")
    app.record_inspection("JM", "morning", at=at("2021-03-02"), user="sup",
                          findings=[NewFinding("safety", "major", "脚手架")])
    app.record_inspection("JM", "patrol", at=at("2021-03-03", "10:00"), user="sup")
    app.rectify_finding("JM", "F1", at=at("2021-03-04", "09:00"), user="contractor")
    app.close_finding("JM", "F1", at=at("2021-03-04", "10:00"), user="sup")
    app.sample_material("JM", material="钢筋", batch="B1", regime="routine", at=at("2021-03-05"), user="sup")
    app.record_material_result("JM", "S1", passed=True, lab="站", at=at("2021-03-06"), user="lab")
    app.score("JM", "2021-04", {d: D("88") for d in ("quality", "safety", "progress", "civilized", "satisfaction")},
              user="bureau")
    app.receive_feedback("JM", "hotline", "噪音", at=at("2021-03-02", "08:00"), user="clerk")
    app.resolve_feedback("JM", "T1", "已处理", at=at("2021-03-03", "08:00"), user="clerk")
    register(app, "LY", contractor="辽源建工", items=[("C1", "100", "10")], started="2021-03-10")  # 3 events
    app.measure("LY", "C1", "2021-03", D("7"), user="auditor")
    app.record_inspection("LY", "morning", at=at("2021-03-10"), user="sup")
    app.approve_variation("LY", "C1", D("120"), "变更", user="bureau")
    app.receive_feedback("LY", "visit", "停车", at=at("2021-03-11", "08:00"), user="clerk")


def test_status_reports_position_head_and_lag(app: RenovationApp, models: ReadModels) -> None:
    busy_programme(app)
    head = models.head()
    assert head == app.recorder.max_notification_id()

    assert models.status() == [{"projection": name, "position": 0, "head": head, "lag": head} for name in NAMES]

    models.catch_up("progress")
    status = {row["projection"]: row for row in models.status()}
    assert (status["progress"]["position"], status["progress"]["lag"]) == (head, 0)
    assert status["quality"]["lag"] == head

    models.catch_up()
    assert all(row["position"] == head and row["lag"] == 0 for row in models.status())


def test_catch_up_to_a_position(app: RenovationApp, models: ReadModels) -> None:
    start_compound(app, "JM")  # 1 registered, 2 bill of quantities, 3 started
    app.measure("JM", "A1", "2021-03", D("10"), user="auditor")  # 4: 1234.50
    first = app.recorder.max_notification_id()
    app.measure("JM", "A1", "2021-04", D("1"), user="auditor")  # 5: 123.45

    models.catch_up("progress", upto=first)
    with models.engine.connect() as connection:
        (before,) = progress_rows(connection, date(2021, 5, 10))
    models.catch_up("progress")
    with models.engine.connect() as connection:
        (after,) = progress_rows(connection, date(2021, 5, 10))

    assert before["metered_value"] == D("1234.50")
    assert after["metered_value"] == D("1357.95")  # 1234.50 + 123.45
    assert positions(models)["progress"] == models.head()


def test_every_write_is_seen_by_the_next_catch_up(app: RenovationApp, models: ReadModels) -> None:
    start_compound(app, "JM")
    for number, quantity in enumerate(("1", "2", "3"), start=1):
        app.measure("JM", "A1", "2021-04", D(quantity), user="auditor")
        models.catch_up("progress")
        with models.engine.connect() as connection:
            (row,) = progress_rows(connection, date(2021, 5, 10))
        # 123.45 x (1 + 2 + .. + number)
        assert row["metered_value"] == D("123.45") * sum(range(1, number + 1))


def test_applying_the_same_notification_twice_changes_nothing(app: RenovationApp, models: ReadModels) -> None:
    busy_programme(app)
    notifications = list(app.iter_notifications())

    for notification in notifications:
        for name in NAMES:
            models.process(name, [notification])
        once = snapshot(models)
        for name in NAMES:
            models.process(name, [notification])
        assert snapshot(models) == once
        assert set(positions(models).values()) == {notification.id}

    # and a whole batch again, after the fact
    for name in NAMES:
        models.process(name, notifications)
    assert snapshot(models) == once
    assert set(positions(models).values()) == {models.head()}


def test_process_and_catch_up_agree(app: RenovationApp, models: ReadModels) -> None:
    busy_programme(app)
    for notification in app.iter_notifications():
        for name in NAMES:
            models.process(name, [notification])
    processed = snapshot(models)

    models.rebuild()

    assert snapshot(models) == processed


def test_rebuild_equals_incremental(app: RenovationApp, models: ReadModels) -> None:
    start_compound(app, "JM")
    models.catch_up()
    busy_part = [
        lambda: app.measure("JM", "A1", "2021-03", D("10"), user="auditor"),
        lambda: app.record_inspection("JM", "morning", at=at("2021-03-02"), user="sup"),
        lambda: app.receive_feedback("JM", "form", "意见", at=at("2021-03-02", "09:00"), user="clerk"),
        lambda: app.correct_measurement("JM", "M1", D("9"), "复核", user="auditor"),
    ]
    for write in busy_part:
        write()
        models.catch_up()
    incremental = snapshot(models, with_directory=True)

    models.rebuild()
    assert snapshot(models, with_directory=True) == incremental

    other = read_models(app)  # another process, rebuilding one projection only
    try:
        other.rebuild("quality")
        assert snapshot(other, with_directory=True) == incremental
    finally:
        other.close()


@pytest.mark.parametrize("batch", [runner_module.BATCH, 4], ids=["one-batch", "batches-of-4"])
@pytest.mark.parametrize(
    ("name", "handler", "nth"),
    [
        ("progress", "on_QuantityMeasured", 2),  # the first projection to run: it records the codes
        ("quality", "on_InspectionRecorded", 3),
        ("ledger", "on_MeasurementCorrected", 1),
        ("feedback", "on_FeedbackReceived", 2),
    ],
)
def test_a_projection_killed_between_events_recovers(
    app: RenovationApp, models: ReadModels, monkeypatch: pytest.MonkeyPatch, batch: int, name: str, handler: str,
    nth: int,
) -> None:
    busy_programme(app)
    head = models.head()
    projection = models.projections[name]
    real = getattr(projection, handler)
    calls = {"n": 0}

    def dies_on_the_nth(connection: Any, event: Any) -> None:
        calls["n"] += 1
        if calls["n"] == nth:
            raise RuntimeError("killed")
        real(connection, event)

    monkeypatch.setattr(runner_module, "BATCH", batch)
    monkeypatch.setattr(projection, handler, dies_on_the_nth)

    with pytest.raises(RuntimeError, match="killed"):
        models.catch_up()

    stopped = positions(models)[name]
    assert stopped < head
    if batch == 4 and name != "progress":
        assert stopped > 0  # whole batches before the failing one were kept
    partial = snapshot(models)

    monkeypatch.undo()  # the process comes back without the fault
    assert getattr(projection, handler) == real
    models.catch_up()
    recovered = snapshot(models, with_directory=True)

    assert positions(models) == dict.fromkeys(NAMES, head)
    clean = read_models(app)  # a clean rebuild, by another process
    try:
        clean.rebuild()
        assert snapshot(clean, with_directory=True) == recovered

        # what the killed projection held was the state of a whole number of batches: replaying up to
        # where it stopped gives exactly that
        with clean.writing() as connection, connection.begin():
            clean.projections[name].clear(connection)
            set_position(connection, clean.projections[name].key, 0)
        clean.catch_up(name, upto=stopped)
        assert {t.name: partial[t.name] for t in projection.tables} == {
            t.name: rows for t, rows in ((t, snapshot(clean)[t.name]) for t in projection.tables)
        }
    finally:
        clean.close()

    # events recorded after the recovery reach a reader in another process
    app.record_inspection("JM", "morning", at=at("2021-03-07"), user="sup")
    later = read_models(app)
    try:
        later.catch_up()
        with later.engine.connect() as connection:
            (jm, *_) = quality_rows(connection, date(2021, 5, 10))
        assert jm["morning_inspections"] == 2
        assert positions(later) == dict.fromkeys(NAMES, later.head())
    finally:
        later.close()


def test_catching_up_again_after_a_failure_does_not_skip_or_repeat(app: RenovationApp, models: ReadModels,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    start_compound(app, "JM")
    for quantity in ("1", "2", "3", "4"):
        app.measure("JM", "A1", "2021-04", D(quantity), user="auditor")
    projection = models.projections["progress"]
    real = projection.on_QuantityMeasured
    seen: list[Decimal] = []

    def dies_on_the_third(connection: Any, event: Any) -> None:
        seen.append(event.quantity)
        if len(seen) == 3:
            raise RuntimeError("killed")
        real(connection, event)

    monkeypatch.setattr(projection, "on_QuantityMeasured", dies_on_the_third)
    with pytest.raises(RuntimeError):
        models.catch_up("progress")
    monkeypatch.undo()
    models.catch_up("progress")

    with models.engine.connect() as connection:
        (row,) = progress_rows(connection, date(2021, 5, 10))
    # 123.45 x (1 + 2 + 3 + 4) = 1234.50: every entry once
    assert row["metered_value"] == D("1234.50")


@pytest.mark.parametrize("db", ["postgres"], indirect=True)  # SQLite keeps no planner statistics here
def test_a_large_catch_up_vacuums_its_tables_and_refreshes_postgresqls_statistics(
        app: RenovationApp, models: ReadModels, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dead rows its updates left are removed (``VACUUM``), whatever the server's autovacuum does, and
    the planner's statistics refreshed, of the tables it caught up only."""
    assert models.engine.dialect.name == "postgresql"
    busy_programme(app)
    monkeypatch.setattr(runner_module, "ANALYZE_AFTER", 5)

    models.catch_up("quality")

    with models.engine.connect() as connection:
        tidied = {name: (analyzed, vacuumed) for name, analyzed, vacuumed in connection.execute(text(
            "SELECT relname, last_analyze IS NOT NULL, last_vacuum IS NOT NULL FROM pg_stat_user_tables "
            "WHERE schemaname = current_schema()")).all()}
    caught = ("quality_compounds_v3", "quality_findings_v2", "quality_samples")
    assert {name: tidied[name] for name in caught} == dict.fromkeys(caught, (True, True))
    assert tidied["progress_compounds"] == (False, False)  # not caught up here


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_a_vacuum_that_cannot_have_its_lock_in_time_is_given_up_and_the_catch_up_stands(
        db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The catch-up is committed before its vacuum: a vacuum waiting past the lock timeout (another
    session's VACUUM or ANALYZE of the table) is given up, not the command's failure."""
    import psycopg

    from tests.backends import pg_url
    from tests.integration.conftest import open_app

    monkeypatch.setenv("RENOVATION_LOCK_TIMEOUT", "1")
    monkeypatch.setattr(runner_module, "ANALYZE_AFTER", 5)
    app = open_app(db)
    models = read_models(app)
    try:
        busy_programme(app)
        models.catch_up("progress")  # the read models' tables made
        schema = db.rsplit("schema=", 1)[1]
        with psycopg.connect(pg_url()) as holder:  # a session of its own, holding the lock a VACUUM needs
            holder.execute(f'LOCK TABLE "{schema}".quality_findings_v2 IN SHARE UPDATE EXCLUSIVE MODE')
            models.catch_up("quality")  # its VACUUM of quality_findings_v2 waits 1 s, and is given up
            holder.rollback()
        assert [row["lag"] for row in models.status() if row["projection"] == "quality"] == [0]
        with models.engine.connect() as connection:  # the connection the vacuum used serves again
            assert connection.execute(text("SELECT count(*) FROM quality_findings_v2")).scalar_one() > 0
    finally:
        models.close()
        app.close()


def test_the_read_models_decode_each_event_as_the_librarys_mapper_does(app: RenovationApp,
                                                                         models: ReadModels) -> None:
    """The read models decode the stored state themselves (no domain-event objects): every field of
    every event comes out as the mapper gives it, but for the aggregate id and topic."""
    busy_programme(app)
    stored = app.backend.stored_rows(1, models.head(), 1000)
    assert len(stored) == 22
    for notification, (position, stored_id, version, topic, state) in zip(
            app.recorder.select_notifications(1, 1000), stored, strict=True):
        assert notification.id == position
        event = app.mapper.to_domain_event(notification)
        expected = {key: value for key, value in vars(event).items()
                    if key not in ("originator_id", "originator_topic")}
        name, fields = models.decode(runner_module.uuid_text(stored_id), version, topic, state)
        assert (name, fields) == (type(event).__name__, expected)
        assert runner_module.uuid_text(stored_id) == str(event.originator_id)


def test_a_rebuild_whose_buffer_forgets_rows_makes_the_same_tables(
        app: RenovationApp, models: ReadModels, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rebuild holds every row it writes (the tables were empty), until the buffer is over its
    limit: it then forgets the rows it has used least lately and reads them again when it needs them.
    Forgetting after every batch of 4 events, keeping nothing, gives the same tables (and on PostgreSQL
    so does updating every changed row from a scratch table)."""
    from renovation.projections import rows as rows_module

    busy_programme(app)
    models.rebuild()
    whole = snapshot(models, with_directory=True)

    monkeypatch.setattr(runner_module, "BATCH", 4)
    monkeypatch.setattr(rows_module, "LIMIT", 1)
    monkeypatch.setattr(rows_module, "PER_COMPOUND", 0)
    monkeypatch.setattr(rows_module, "BULK_UPDATE", 1)  # PostgreSQL: every update from a scratch table
    forgetful = read_models(app)
    try:
        forgetful.rebuild()
        assert snapshot(forgetful, with_directory=True) == whole
    finally:
        forgetful.close()


def test_a_completion_counts_the_morning_rounds_its_batch_has_not_written_yet(
        app: RenovationApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """A buffer that forgot a compound's morning days counts them in the database when construction
    completes: the days of its own batch, not written yet, are written first (that table's alone)."""
    from renovation.projections import quality
    from renovation.projections import rows as rows_module

    monkeypatch.setattr(rows_module, "LIMIT", 1)  # forgets every row after each full flush
    monkeypatch.setattr(rows_module, "PER_COMPOUND", 0)
    start_compound(app, "JM")  # started 2021-03-01
    app.record_inspection("JM", "morning", at=at("2021-03-02"), user="sup")
    models = read_models(app)
    try:
        models.catch_up("quality")
        app.record_inspection("JM", "morning", at=at("2021-03-03"), user="sup")
        app.record_inspection("JM", "morning", at=at("2021-03-20"), user="sup")  # after the completion's day
        app.complete_construction("JM", date(2021, 3, 10), user="bureau")
        models.catch_up("quality")  # one batch: two new days and the completion
        with models.engine.connect() as connection:
            covered = connection.execute(select(quality.compounds.c.covered_days)).scalar_one()
        assert covered == 2  # 03-02 written by the earlier batch, 03-03 by this one; 03-20 is after it
    finally:
        models.close()


def test_a_flush_of_one_table_leaves_the_others_pending(app: RenovationApp, models: ReadModels) -> None:
    from renovation.projections import quality
    from renovation.projections.rows import Rows

    with models.writing() as connection, connection.begin():
        rows = Rows(connection)
        rows.insert(quality.morning_days, {"code": "JM", "day": date(2021, 3, 2), "first_start": "06:10:00"})
        rows.insert(quality.open_findings, {"code": "JM", "finding_id": "F1", "due": date(2021, 3, 9)})
        flushes = rows.flushes
        rows.flush(quality.morning_days)
        assert connection.execute(select(func.count()).select_from(quality.morning_days)).scalar_one() == 1
        assert connection.execute(select(func.count()).select_from(quality.open_findings)).scalar_one() == 0
        assert rows.flushes == flushes  # not a flush of the buffer: nothing is forgotten after it
        rows.flush()
        assert connection.execute(select(func.count()).select_from(quality.open_findings)).scalar_one() == 1
        connection.rollback()


def test_catching_up_leaves_pythons_collector_as_it_found_it(app: RenovationApp, models: ReadModels,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Between batches the buffer's rows are set aside from Python's collector (``gc.freeze``); a
    catch-up ends, done or failed, with nothing set aside."""
    import gc

    busy_programme(app)
    monkeypatch.setattr(runner_module, "BATCH", 4)
    frozen: list[int] = []
    real = runner_module.ReadModels._apply_batch

    def noting(self: ReadModels, *args: Any) -> Any:
        frozen.append(gc.get_freeze_count())
        return real(self, *args)

    monkeypatch.setattr(runner_module.ReadModels, "_apply_batch", noting)
    models.catch_up("progress")
    assert max(frozen) > 0 and gc.get_freeze_count() == 0

    projection = models.projections["quality"]
    inspected = projection.on_InspectionRecorded
    monkeypatch.setattr(projection, "on_InspectionRecorded",
                        lambda rows, event: 1 / 0 if event.code == "LY" else inspected(rows, event))
    frozen.clear()
    with pytest.raises(BadEvent):
        models.catch_up("quality")  # LY's inspection is among the last events, batches after the first
    assert max(frozen) > 0 and gc.get_freeze_count() == 0


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # PostgreSQL has no write-ahead log of a file's own
def test_a_large_catch_up_leaves_its_pages_in_the_database_file(app: RenovationApp, models: ReadModels,
                                                               monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """The read models' commits leave their pages in SQLite's write-ahead log (copied into the file every
    16,384 pages); a catch-up of a batch or more copies them at its end, so the next command's commit
    does not. Seen here by the file alone, without its log: it holds the positions reached."""
    import shutil
    import sqlite3

    busy_programme(app)
    with models.writing() as connection:
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar_one() == 16_384
    monkeypatch.setattr(runner_module, "BATCH", 4)
    models.catch_up("progress")
    shutil.copy(app.backend.path, tmp_path / "file-alone.db")  # type: ignore[attr-defined]
    alone = sqlite3.connect(tmp_path / "file-alone.db")
    try:
        (position,) = alone.execute("SELECT position FROM projection_tracking WHERE name LIKE 'progress%'").fetchone()
    finally:
        alone.close()
    assert position == models.head()


def test_a_rebuild_makes_the_compound_directory_again(app: RenovationApp, models: ReadModels) -> None:
    """A code edited into the directory by hand (and a compound's row deleted from it) does not outlive a
    rebuild, even of one read model: the next events of every read model are of the compounds the log says."""
    busy_programme(app)
    models.catch_up()
    expected = snapshot(models, with_directory=True)
    with models.writing() as connection, connection.begin():
        connection.execute(text("UPDATE compound_directory SET code = 'XX' WHERE code = 'JM'"))
        connection.execute(text("DELETE FROM compound_directory WHERE code = 'LY'"))

    models.rebuild("ranking")

    assert snapshot(models, with_directory=True) == expected
    app.record_inspection("LY", "morning", at=at("2021-03-12"), user="sup")
    other = read_models(app)  # another process: the codes from the directory
    try:
        other.catch_up()
        assert [row["code"] for row in quality_rows_of(other)] == ["JM", "LY"]
    finally:
        other.close()


def quality_rows_of(models: ReadModels) -> list[Any]:
    with models.engine.connect() as connection:
        return quality_rows(connection, date(2021, 3, 31))


@pytest.mark.parametrize(("earlier", "forged"), [(2, None), (1, None), (2, "-1"), (2, "0"), (2, "99999")])
def test_a_read_model_of_an_earlier_version_gains_the_indexes_of_this_one(
        app: RenovationApp, models: ReadModels, earlier: int, forged: str | None) -> None:
    """A store whose computed horse race was set up by version 2 (its findings indexed by period and code
    alone) gains the index a board counts the findings from, without the one it replaces, and keeps its rows
    and its position (only an index changed: a province's read model is not made again from the log); one
    set up by version 1 (other rows) is made again from the log, as is one whose version 2 position was
    written by hand (not a position, nothing applied, or past the log's head: events would be passed over)."""
    from sqlalchemy import inspect

    from renovation.projections.computed import ComputedProjection

    busy_programme(app)
    models.catch_up()
    expected = snapshot(models)
    app.record_inspection("LY", "patrol", at=at("2021-03-12"), user="sup")  # caught up after the upgrade
    old = "computed" if earlier == 1 else f"computed.v{earlier}"
    with models.writing() as connection, connection.begin():  # as the earlier version left it
        connection.execute(text(f"UPDATE projection_tracking SET name = '{old}' WHERE name = 'computed.v3'"))
        connection.execute(text("DROP INDEX computed_findings_counted"))
        connection.execute(text("CREATE INDEX computed_findings_by_period ON computed_findings (period, code)"))
        connection.execute(text("UPDATE computed_findings SET severity = 'minor'"))  # made again, or kept
        if forged is not None:
            connection.execute(text(f"UPDATE projection_tracking SET position = {forged} WHERE name = '{old}'"))
    models.close()
    kept = earlier == 2 and forged is None

    upgraded = read_models(app)
    try:
        assert ComputedProjection().key == "computed.v3"
        assert positions(upgraded)["computed"] == (upgraded.head() - 1 if kept else 0)
        indexes = {index["name"]: index["column_names"] for index in inspect(upgraded.engine).get_indexes(
            "computed_findings")}
        assert "computed_findings_by_period" not in indexes
        assert indexes["computed_findings_counted"] == ["period", "code", "category", "severity", "fixed_on", "due"]
        with upgraded.engine.connect() as connection:
            severities = set(connection.execute(text("SELECT severity FROM computed_findings")).scalars())
        assert severities == ({"minor"} if kept else set())  # kept as they were, or cleared
        upgraded.catch_up()
        assert positions(upgraded)["computed"] == upgraded.head()
        made = snapshot(upgraded)
        assert len(made["computed_inspections"]) == len(expected["computed_inspections"]) + 1
        upgraded.rebuild("computed")
        rebuilt = snapshot(upgraded)
        assert (made == rebuilt) is not kept  # made again from the log
        assert ({row[3] for row in made["computed_findings"]} == {"major"}) is not kept
    finally:
        upgraded.close()


def test_keeping_no_worked_out_score_writes_nothing(app: RenovationApp, models: ReadModels) -> None:
    """A board whose facts a rebuild cleared meanwhile works nothing out: keeping nothing is not an error."""
    from renovation.projections.computed import keep_scores, totals

    busy_programme(app)
    models.catch_up()
    with models.writing() as connection, connection.begin():
        keep_scores(connection, "2021-03", {})
        assert connection.execute(select(func.count()).select_from(totals)).scalar() == 0

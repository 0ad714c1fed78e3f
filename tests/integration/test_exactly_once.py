"""A command records exactly once or not at all, and never reports failure after its event is committed
(issue 12: doubled or half-written), on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, ProgrammingError

from renovation.domain.compound import CompoundProject
from renovation.services.application import RenovationApp
from renovation.store.chain import ChainStore, verify
from tests.integration.conftest import open_app, start_compound

INTERVAL = RenovationApp.snapshotting_intervals[CompoundProject]


def stored_inspections(app: RenovationApp) -> int:
    return sum(1 for n in app.iter_notifications() if n.topic.endswith("InspectionRecorded"))


def up_to_a_snapshot(app: RenovationApp) -> int:
    """Inspections until the next save crosses a snapshot interval; returns how many were recorded."""
    done = 0
    while (app.get_project("JM").version + 1) % INTERVAL:
        app.record_inspection("JM", "patrol", user="sup")
        done += 1
    return done


@pytest.mark.parametrize("failure", [IntegrityError("duplicate snapshot"),
                                     OperationalError("permission denied for table renovation_snapshots")])
def test_a_snapshot_that_cannot_be_written_never_fails_the_command(db: str, failure: Exception,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The events are committed before the snapshot is written: whatever happens to the snapshot (a
    reader wrote the same one first; a writer's login may not write snapshots), the command has
    recorded its event once and says so; it is neither re-run nor reported as failed."""
    app = open_app(db)
    start_compound(app)
    before = stored_inspections(app) + up_to_a_snapshot(app)
    assert app.snapshots is not None

    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise failure

    monkeypatch.setattr(app.snapshots, "put", refuse)
    recorded = app.record_inspection("JM", "patrol", user="sup")  # crosses the interval: a snapshot is due

    assert recorded.inspection_id == f"I{before + 1}"
    assert stored_inspections(app) == before + 1
    assert app.get_project("JM").version % INTERVAL == 0
    assert verify(ChainStore(app.backend))[1] == []
    app.close()


def test_a_writer_never_deletes_snapshots(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Housekeeping a writer's login may not do (DELETE on the snapshots) is not done: the latest
    snapshot is the only one a load reads, older ones are left alone."""
    app = open_app(db)
    start_compound(app)
    statements: list[str] = []
    execute = app.backend.execute

    def watch(batch: Any) -> None:
        statements.extend(sql for sql, _ in batch)
        execute(batch)

    monkeypatch.setattr(app.backend, "execute", watch)
    for _ in range(2 * INTERVAL + 1):
        app.record_inspection("JM", "patrol", user="sup")
    assert app.snapshots is not None
    assert len(list(app.snapshots.get(app.get_project("JM").id))) >= 2
    assert not [sql for sql in statements if sql.lstrip().upper().startswith("DELETE")]
    app.close()


def test_a_batch_is_stored_whole_or_not_at_all(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch larger than one statement may write (PostgreSQL: 1000 events) fails in its second part:
    nothing of it is stored, the first part included."""
    app = open_app(db)
    start_compound(app)
    start_compound(app, "LY")
    before = app.event_count()
    calls: list[int] = []
    if app.backend.is_postgres:
        from renovation.store.postgres import ChainedPostgresRecorder as Recorder

        name = "_insert_stored_events"
    else:
        from renovation.store.sqlite import ChainedSQLiteRecorder as Recorder  # type: ignore[assignment]

        name = "_insert_events"
    original = getattr(Recorder, name)

    def fail_the_second_part(self: Any, cursor: Any, events: Any, **kwargs: Any) -> Any:
        calls.append(len(events))
        if len(calls) >= 2 or not app.backend.is_postgres:  # and every retry of it
            raise OperationalError("the connection was lost")
        return original(self, cursor, events, **kwargs)

    monkeypatch.setattr(Recorder, name, fail_the_second_part)
    with pytest.raises(OperationalError), app.batch():
        for _ in range(800):
            app.record_inspection("JM", "patrol", user="sup")
            app.record_inspection("LY", "patrol", user="sup")
    monkeypatch.undo()

    assert len(calls) >= (2 if app.backend.is_postgres else 1)
    assert app.event_count() == before
    assert verify(ChainStore(app.backend))[1] == []
    app.close()


def lose_the_acknowledgement(app: RenovationApp, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The next insert commits, then reports an IntegrityError: what the library's retry of an insert
    whose commit was not acknowledged meets (its own events, stored already)."""
    calls: list[int] = []
    insert = app.recorder.insert_events

    def committed_but_unacknowledged(events: Any, **kwargs: Any) -> Any:
        calls.append(len(events))
        result = insert(events, **kwargs)
        if len(calls) == 1:
            raise IntegrityError("duplicate key value violates unique constraint (the retried insert)")
        return result

    monkeypatch.setattr(app.recorder, "insert_events", committed_but_unacknowledged)
    return calls


def test_a_command_whose_commit_was_not_acknowledged_is_recorded_once(db: str,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Its retry finds the command's own id stored and returns what was stored, instead of running the
    command again (which stored M1 and M2 for one `meter`)."""
    app = open_app(db)
    start_compound(app)
    before = app.event_count()
    calls = lose_the_acknowledgement(app, monkeypatch)

    recorded = app.measure("JM", "A1", "2021-05", Decimal("10"), user="auditor")

    assert calls == [1]
    assert recorded.entry_id == "M1"
    assert app.event_count() == before + 1
    assert list(app.get_project("JM").entries) == ["M1"]
    app.close()


def test_a_registration_whose_commit_was_not_acknowledged_is_not_refused(db: str,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    app = open_app(db)
    lose_the_acknowledgement(app, monkeypatch)
    start_compound(app)  # registers JM: its commit is the unacknowledged one

    assert app.compound("JM").code == "JM"
    app.close()


def test_a_refusal_of_the_database_is_said_not_taken_for_a_conflict(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A ProgrammingError from storing a command's events that is not PostgreSQL's guarded append function
    refusing the key's conflict (a permission, say) is the command's failure, said at once: not tried again as
    if another writer had come first, nor reported as one."""
    app = open_app(db)
    start_compound(app)
    before = app.event_count()
    calls: list[int] = []

    def refuse(events: Any, **kwargs: Any) -> Any:
        calls.append(len(events))
        raise ProgrammingError("permission denied for function renovation_append")

    monkeypatch.setattr(app.recorder, "insert_events", refuse)
    with pytest.raises(ProgrammingError, match="permission denied"):
        app.record_inspection("JM", "patrol", user="sup")
    assert calls == [1]
    assert app.event_count() == before
    app.close()


def test_each_command_carries_its_own_command_id(db: str) -> None:
    app = open_app(db)
    start_compound(app)
    app.record_inspection("JM", "patrol", user="sup")
    app.record_inspection("JM", "patrol", user="sup")
    ids = [app.mapper.to_domain_event(n).command_id for n in app.iter_notifications()]  # type: ignore[attr-defined]
    assert all(isinstance(command_id, str) and len(command_id) == 32 for command_id in ids)
    assert len(set(ids)) == len(ids)
    app.close()


def test_no_event_is_stored_without_its_chain_link(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An error while the link is worked out, after the event's INSERT ran (on PostgreSQL: after the
    append function ran): neither is stored (on PostgreSQL the library commits before it re-raises what
    went wrong inside its pipeline)."""
    app = open_app(db)
    start_compound(app)
    before = app.event_count()
    import renovation.store.postgres as postgres
    import renovation.store.sqlite as sqlite

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("the link could not be worked out")

    if app.backend.is_postgres:  # the append function writes the links; an error after it ran
        monkeypatch.setattr(postgres.ChainedPostgresRecorder, "_fetch_ids_after_insert_events", broken)
    else:
        monkeypatch.setattr(sqlite, "links_after", broken)
    with pytest.raises(Exception, match=r"link could not be worked out|has no chain link"):
        app.record_inspection("JM", "patrol", user="sup")
    monkeypatch.undo()

    assert app.event_count() == before
    assert verify(ChainStore(app.backend))[1] == []
    app.close()


def test_verify_says_when_postgresql_lacks_the_link_trigger(tmp_path: Path) -> None:
    """A store made before the trigger, used only through logins that may not add it, goes without:
    `audit verify` says so (it cannot show what was never stopped)."""
    from renovation.services import admin
    from renovation.services.workspace import Workspace
    from renovation.store.postgres import REQUIRE_LINK_TRIGGER
    from tests.backends import store_url
    from tests.integration.test_chain import sql

    stores = store_url("postgres", tmp_path)  # PostgreSQL's alone: SQLite writes a link in its event's transaction
    db = next(stores)
    app = open_app(db)
    start_compound(app)
    assert app.backend.missing_safeguards() == []
    schema = db.rsplit("schema=", 1)[1]
    sql(db, f'DROP TRIGGER {REQUIRE_LINK_TRIGGER} ON "{schema}".renovation_events')

    assert REQUIRE_LINK_TRIGGER in app.backend.missing_safeguards()[0]
    workspace = Workspace(db)  # a superuser's login: puts the trigger back when it opens the store
    found = admin.verify_chain(workspace)
    assert found is not None and found.warnings == []
    workspace.close()
    app.close()
    stores.close()  # drops the schema

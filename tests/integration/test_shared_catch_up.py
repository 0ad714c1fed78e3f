"""A large catch-up shared out among processes (on SQLite, whose write lock is the whole store's, only of
read models that have applied nothing yet, each worker making every read model of its part of the compounds
in a scratch file, which the process that started them copies in): the same tables as one process makes, a
bad event still stopping only its read models, and a worker that cannot work leaving its read models to the
process that started it."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import sys
import tempfile
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import OperationalError

from renovation.projections import all_projections, read_models
from renovation.projections import rows as rows_module
from renovation.projections import runner as runner_module
from renovation.projections.base import metadata, set_position
from renovation.projections.errors import BadEvent
from renovation.projections.runner import ReadModels, Source, shares
from renovation.services.application import RenovationApp
from renovation.store.workers import remove_stale
from tests.integration.conftest import start_compound
from tests.integration.process_support import stopped
from tests.integration.projection_support import at, positions, snapshot
from tests.integration.test_catch_up_hostile import FEEDBACK, append_raw
from tests.integration.test_projection_runner import busy_programme


def one_process(app: RenovationApp) -> dict[str, Any]:
    """Every read model's tables as a catch-up in this process alone makes them (no ``reopen``)."""
    alone = ReadModels(app, all_projections())
    try:
        alone.rebuild()
        assert alone.reopen is None
        return snapshot(alone, with_directory=True)
    finally:
        alone.close()


def caught_here(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The read models the process that asks for a catch-up applies events to itself (its workers' aside)."""
    here: list[str] = []
    original = ReadModels._catch_up

    def recorded(self: ReadModels, behind: Any, head: int, progress: Any) -> None:
        here.extend(projection.name for projection in behind)
        original(self, behind, head, progress)

    monkeypatch.setattr(ReadModels, "_catch_up", recorded)
    return here


def test_a_shared_catch_up_makes_the_tables_one_process_makes(
        app: RenovationApp, db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two workers catch every read model up (this process applies nothing), each batch told to
    ``progress``; on SQLite in scratch files of their own, then copied into the store (none left behind)."""
    busy_programme(app)
    expected = one_process(app)
    monkeypatch.setattr(runner_module, "SHARE_AFTER", 1)
    here = caught_here(monkeypatch)
    heard: Counter[str] = Counter()
    before = scratch_folders()
    models = read_models(app)
    try:
        models.rebuild(progress=lambda name, events: heard.update({name: events}))
        assert snapshot(models, with_directory=True) == expected
        head = models.head()
        assert positions(models) == dict.fromkeys(models.projections, head)
    finally:
        models.close()
    assert heard == dict.fromkeys(models.projections, head)  # every event of every read model, once
    assert here == []
    assert scratch_folders() <= before  # none left (and a stale one of a killed worker removed)


def test_a_bad_event_in_a_shared_catch_up_stops_its_read_model_alone(
        app: RenovationApp, db: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A forged ticket stops the read models that take tickets (feedback, computed) in their workers; this
    process takes them on from where the workers left them, meets the event again and says it; every other
    read model is at the head."""
    busy_programme(app)
    append_raw(db, FEEDBACK, b'{"not": "a ticket"}')
    monkeypatch.setattr(runner_module, "SHARE_AFTER", 1)
    monkeypatch.setattr(runner_module, "APART_BATCH", 5)  # the workers heard of before the event,
    monkeypatch.setattr(runner_module, "BATCH", 5)  # and this process as it takes the two stopped on from 0
    here = caught_here(monkeypatch)
    heard: Counter[str] = Counter()
    models = read_models(app)
    try:
        with pytest.raises(BadEvent, match=r"cannot be applied to the (computed|feedback) read model"), \
                caplog.at_level("WARNING", logger="renovation.projections.runner"):
            models.catch_up(progress=lambda name, events: heard.update({name: events}))
        head = models.head()
        at = positions(models)
    finally:
        models.close()
    # Each event heard of once at most (the workers' events of the two stopped, whose parts were not copied, not
    # again as this process takes them on from 0), every event of the others.
    assert max(heard.values()) <= head
    assert {name: events for name, events in heard.items() if name not in ("computed", "feedback")} == {
        name: head for name in at if name not in ("computed", "feedback")}
    assert set(here) == {"computed", "feedback"}  # (once, then feedback again once computed has stopped)
    assert at.pop("computed") < head and at.pop("feedback") < head  # as before the batch with the event
    assert at == dict.fromkeys(at, head)
    assert caplog.records == []  # the event said once, as the error (no worker said to have stopped)


def scratch_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob(f"{runner_module.SCRATCH_PREFIX}*"))


def owner(folder: Path) -> int:
    """The process a scratch folder is named after."""
    return int(folder.name.removeprefix(runner_module.SCRATCH_PREFIX).split("-", 1)[0])


def cannot_open(db: str) -> RenovationApp:
    raise OSError(f"{db} is not to be opened here")


def test_a_worker_that_cannot_open_the_store_leaves_its_read_models_to_this_process(
        app: RenovationApp, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    """Both workers end at once, quietly (no traceback on the terminal; this process says so in one line); the
    read models are caught up here all the same."""
    busy_programme(app)
    app.receive_feedback("JM", "hotline", "漏水", user="clerk")
    expected = one_process(app)
    monkeypatch.setattr(runner_module, "SHARE_AFTER", 1)
    here = caught_here(monkeypatch)
    models = ReadModels(app, all_projections(), reopen=cannot_open)
    try:
        with caplog.at_level("WARNING", logger="renovation.projections.runner"):
            models.rebuild()
        assert snapshot(models, with_directory=True) == expected
    finally:
        models.close()
    assert sorted(here) == sorted(models.projections)
    assert "Traceback" not in capfd.readouterr().err
    assert [record.getMessage() for record in caplog.records] == [
        "2 workers of the shared catch-up stopped (exit 1, 1): this process catches up what they did not, more slowly"]


def test_a_worker_that_cannot_be_started_leaves_its_read_models_to_this_process(
        app: RenovationApp, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """The interpreter gone (a virtualenv made again under a long-running server, say): said in the log,
    and the read models caught up here."""
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    said = rebuilt_here_alone(app, monkeypatch, caplog)
    assert len(said) == 2 and all("did not start" in line and line.endswith("this process catches up its part, "
                                                                            "more slowly") for line in said)


def rebuilt_here_alone(app: RenovationApp, monkeypatch: pytest.MonkeyPatch,
                       caplog: pytest.LogCaptureFixture) -> list[str]:
    """A shared rebuild of the busy programme that this process makes alone, as it makes it without sharing;
    the warnings said."""
    busy_programme(app)
    expected = one_process(app)
    monkeypatch.setattr(runner_module, "SHARE_AFTER", 1)
    here = caught_here(monkeypatch)
    models = read_models(app)
    try:
        with caplog.at_level("WARNING", logger="renovation.projections.runner"):
            models.rebuild()
        assert snapshot(models, with_directory=True) == expected
    finally:
        models.close()
    assert sorted(here) == sorted(models.projections)
    return [record.getMessage() for record in caplog.records]


def test_a_worker_imports_nothing_from_the_working_folder(
        app: RenovationApp, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A ``json.py`` where the command is run (a shared /tmp) is not run by the workers, which do the work."""
    busy_programme(app)
    (tmp_path / "json.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'a').write('ran')\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runner_module, "SHARE_AFTER", 1)
    here = caught_here(monkeypatch)
    models = read_models(app)
    try:
        models.rebuild()
    finally:
        models.close()
    assert not (tmp_path / "ran").exists()
    assert here == []


def test_a_catch_up_not_far_behind_is_not_shared(app: RenovationApp, monkeypatch: pytest.MonkeyPatch) -> None:
    busy_programme(app)
    here = caught_here(monkeypatch)
    models = read_models(app)
    try:
        assert models.head() < runner_module.SHARE_AFTER
        models.catch_up()
    finally:
        models.close()
    assert sorted(here) == sorted(models.projections)


def test_a_second_catch_up_of_a_process_sharing_one_out_is_not_shared_too(
        app: RenovationApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """The web board's threads: while one catch-up of the process has workers, another catches up itself."""
    busy_programme(app)
    monkeypatch.setattr(runner_module, "SHARE_AFTER", 1)
    here = caught_here(monkeypatch)
    models = read_models(app)
    try:
        with runner_module._SHARING:  # as another thread's shared catch-up holds it
            models.catch_up()
    finally:
        models.close()
    assert sorted(here) == sorted(models.projections)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_on_sqlite_read_models_that_applied_events_are_caught_up_here(
        app: RenovationApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """Their rows are in the store already, where one writer at a time writes: not made apart."""
    busy_programme(app)
    monkeypatch.setattr(runner_module, "SHARE_AFTER", 1)
    started: list[object] = []
    models = read_models(app)
    try:
        models.catch_up(upto=3)
        app.measure("JM", "A1", "2021-05", Decimal("1"), user="auditor")
        monkeypatch.setattr(runner_module, "start_worker", lambda *args, **kwargs: started.append(args))
        here = caught_here(monkeypatch)
        models.catch_up()
        assert models.behind() == 0
    finally:
        models.close()
    assert sorted(here) == sorted(models.projections)
    assert started == []


def apart(app: RenovationApp, names: list[str], folder: Path) -> tuple[ReadModels, list[str]]:
    """The store's read models (none caught up), and ``names`` made apart in ``folder`` by two workers' tasks
    (a part of the compounds each, as a shared catch-up deals them out): the scratch files."""
    models = read_models(app)
    kinds = [type(models.projections[name]) for name in names]
    paths = [str(folder / f"part-{number}.db") for number in range(2)]
    for number, path in enumerate(paths):
        task = runner_module.Task(type(app), app.backend.db, models.zone, kinds, models.head(), runner_module.BATCH,
                                  (700, 10, 10), path=path, part=(number, 2), store=app.backend.identity())
        runner_module.catch_up_apart(Source(app.backend, app.mapper, models.zone), task, lambda *_: None)
    return models, paths


def chosen(models: ReadModels, *names: str) -> list[Any]:
    return [models.projections[name] for name in names]


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_each_worker_makes_the_rows_of_its_part_of_the_compounds(app: RenovationApp, tmp_path: Path) -> None:
    """JM's aggregate id is odd and LY's even: each part holds one compound's rows, the two together what one
    process makes, copied with the head as their position."""
    busy_programme(app)
    models, paths = apart(app, ["ledger", "progress"], tmp_path)
    try:
        made = []
        for path in paths:
            connection = sqlite3.connect(path)
            made.append({code for table in ("ledger_items", "progress_compounds", "compound_directory")
                         for (code,) in connection.execute(f"SELECT code FROM {table}")})
            assert dict(connection.execute("SELECT name, position FROM projection_tracking")) == {
                models.projections["ledger"].key: models.head(), models.projections["progress"].key: models.head()}
            connection.close()
        assert made == [{"LY"}, {"JM"}]
        assert runner_module.adopt(app.backend, paths, chosen(models, "ledger", "progress")) is True
        found = snapshot(models, with_directory=True)
        at = positions(models)
    finally:
        models.close()
    expected = one_process(app)
    for table in ("ledger_items", "ledger_entries", "progress_compounds", "compound_directory"):
        assert found[table] == expected[table]
    assert at["ledger"] == at["progress"] == models.head()
    assert at["ranking"] == 0


def indexes(path: str) -> set[str]:
    """The indexes a file's tables have that were made by name (not a key's own)."""
    connection = sqlite3.connect(path)
    try:
        return {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'index' "
                                                       "AND sql IS NOT NULL")}
    finally:
        connection.close()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_part_is_made_without_the_plain_indexes_which_the_store_keeps(app: RenovationApp, db: str,
                                                                          tmp_path: Path) -> None:
    """A part's rows are looked up by their key alone and copied into the store's tables, which keep up their
    own indexes: a scratch file has none of the others but the partial ones (of a few rows), and the store
    has every one after the copy."""
    busy_programme(app)
    models, paths = apart(app, [projection.name for projection in all_projections()], tmp_path)
    try:
        made = indexes(models.backend.path)
        plain = {index.name for table in metadata.tables.values() for index in table.indexes if not index.unique}
        partial = {index.name for projection in models.projections.values() for index in projection.partial_indexes}
        assert plain and partial and plain | partial <= made
        for path in paths:
            assert indexes(path) == partial
        assert runner_module.adopt(app.backend, paths, list(models.projections.values())) is True
        assert indexes(models.backend.path) == made
        found = snapshot(models, with_directory=True)
    finally:
        models.close()
    assert found == one_process(app)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_read_model_whose_parts_stopped_at_other_positions_is_not_copied(
        app: RenovationApp, db: str, tmp_path: Path) -> None:
    """A forged ticket of JM's stops feedback in JM's part alone: LY's part is at the head. Copying the two would
    leave JM's rows short of the position; feedback stays at 0 (the catch-up that follows meets the event)."""
    busy_programme(app)
    append_raw(db, FEEDBACK, b'{"not": "a ticket"}')
    models, paths = apart(app, ["feedback", "ledger"], tmp_path)
    try:
        assert runner_module.adopt(app.backend, paths, chosen(models, "feedback", "ledger")) is False
        at = positions(models)
        found = snapshot(models)
        with pytest.raises(BadEvent, match="feedback"):
            models.catch_up("feedback", share=False)
    finally:
        models.close()
    assert at["feedback"] == 0 and found["feedback_tickets"] == []
    assert at["ledger"] == models.head()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_an_event_of_no_compound_id_is_met_by_one_part_and_named(
        app: RenovationApp, db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A row whose aggregate id is no id at all (written by hand) is a bad event of the first part (the other
    passes it by): the read models that take it are not copied and this process names it; the rest are."""
    busy_programme(app)
    append_raw(db, FEEDBACK, b'{"not": "a ticket"}')
    connection = sqlite3.connect(db, isolation_level=None)
    connection.execute("UPDATE stored_events SET originator_id = 'not an id' WHERE rowid = (SELECT max(rowid) "
                       "FROM stored_events)")
    connection.close()
    monkeypatch.setattr(runner_module, "SHARE_AFTER", 1)
    here = caught_here(monkeypatch)
    models = read_models(app)
    try:
        with pytest.raises(BadEvent, match=r"event \d+ cannot be applied to the computed, feedback read models "
                                            r"\(badly formed hexadecimal UUID string\)"):
            models.catch_up()
        at = positions(models)
        head = models.head()
    finally:
        models.close()
    assert set(here) == {"computed", "feedback"}
    assert at.pop("computed") < head and at.pop("feedback") < head
    assert at == dict.fromkeys(at, head)


def registered_again(db: str, code: str) -> None:
    """A compound's registration written again (by hand) under an aggregate id of the other part."""
    connection = sqlite3.connect(db, isolation_level=None)
    try:
        stored_id, topic, state = connection.execute(
            "SELECT originator_id, topic, state FROM stored_events WHERE originator_version = 1 AND "
            "CAST(state AS TEXT) LIKE ?", (f'%"code":"{code}"%',)).fetchone()
        other = next(found for found in iter(uuid4, None) if found.int % 2 != UUID(stored_id).int % 2)
        connection.execute("INSERT INTO stored_events VALUES (?, 1, ?, ?)", (other.hex, topic, state))
    finally:
        connection.close()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_compound_registered_in_both_parts_is_met_as_one_process_meets_it(
        app: RenovationApp, db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each part makes the compound's rows: copying both would collide on its code. Nothing is copied, and this
    process catches up as it does alone: the same error, positions and rows."""
    busy_programme(app)
    registered_again(db, "JM")
    alone = ReadModels(app, all_projections())
    try:
        with pytest.raises(BadEvent) as by_one:
            alone.rebuild()
        expected, expected_at = snapshot(alone, with_directory=True), positions(alone)
    finally:
        alone.close()
    monkeypatch.setattr(runner_module, "SHARE_AFTER", 1)
    models = read_models(app)
    try:
        with pytest.raises(BadEvent) as shared:
            models.rebuild()
        assert str(shared.value) == str(by_one.value)
        assert positions(models) == expected_at
        assert snapshot(models, with_directory=True) == expected
    finally:
        models.close()
    assert "exists already" in str(shared.value) and 0 in expected_at.values()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_row_of_a_key_the_table_holds_stops_the_batchs_read_models_as_a_bad_event(
        app: RenovationApp, db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Written where the buffer had forgotten the row (a province's catch-up forgets rows used least lately),
    a compound's second registration fails as its batch is written: named as a bad event of the read model
    whose table refused it, in one line, not as the database's error; a read model that takes the event (the
    feedback read model reads registrations only for the codes) goes on to the head."""
    busy_programme(app)
    registered_again(db, "JM")
    monkeypatch.setattr(runner_module, "BATCH", 3)
    monkeypatch.setattr(rows_module, "LIMIT", 1)
    monkeypatch.setattr(rows_module, "PER_COMPOUND", 0)
    models = ReadModels(app, all_projections())
    try:
        with pytest.raises(BadEvent, match=r"an event of positions \d+-\d+ cannot be applied to the (\w+) read model "
                                           r"\(UNIQUE constraint failed: ([a-z_]+)\.code\)") as stopped:
            models.catch_up()
        at = positions(models)
        head = models.head()
    finally:
        models.close()
    name, table = re.search(r"the (\w+) read model \(UNIQUE constraint failed: ([a-z_]+)\.",
                            str(stopped.value)).groups()
    assert table in {found.name for found in models.projections[name].tables}
    assert at[name] < head and at["feedback"] == head


class InterruptedAtCommit(sqlite3.Connection):
    """A connection that a Ctrl-C interrupts as its commit returns."""

    def execute(self, statement: str, *args: Any) -> Any:
        done = super().execute(statement, *args)
        if statement == "COMMIT":
            raise KeyboardInterrupt
        return done


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_copy_interrupted_once_committed_says_nothing_else(
        app: RenovationApp, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A Ctrl-C as the copy's commit returns: the copy is made, and the interruption is what is said (not a
    failed rollback of a transaction no longer open)."""
    busy_programme(app)
    models, paths = apart(app, ["ledger"], tmp_path)
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *args, **kwargs: connect(*args, factory=InterruptedAtCommit,
                                                                            **kwargs))
    try:
        with pytest.raises(KeyboardInterrupt):
            runner_module.adopt(app.backend, paths, chosen(models, "ledger"))
        monkeypatch.undo()
        assert positions(models)["ledger"] == models.head()
    finally:
        models.close()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_read_models_caught_up_in_the_store_meanwhile_are_not_copied_over(
        app: RenovationApp, tmp_path: Path) -> None:
    """Another process caught one of them up while the workers made them apart (a board asked for during a
    rebuild, say): that one keeps the store's rows and position, the others are copied."""
    busy_programme(app)
    models, paths = apart(app, ["ranking", "ledger"], tmp_path)
    try:
        models.catch_up("ranking", share=False)
        copied = runner_module.adopt(app.backend, paths, chosen(models, "ranking", "ledger"))
        at = positions(models)
        found = snapshot(models)
    finally:
        models.close()
    assert copied is False
    assert at["ranking"] == models.head() and at["ledger"] == models.head()  # the one moved kept, the other copied
    expected = one_process(app)
    assert found["ledger_entries"] == expected["ledger_entries"]
    assert found["ranking_compounds"] == expected["ranking_compounds"]  # not twice


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_parts_not_all_made_are_not_copied(app: RenovationApp, tmp_path: Path) -> None:
    busy_programme(app)
    models, paths = apart(app, ["ledger"], tmp_path)
    try:
        os.remove(paths[1])
        assert runner_module.adopt(app.backend, paths, chosen(models, "ledger")) is False
        assert positions(models)["ledger"] == 0
        assert snapshot(models)["ledger_entries"] == []
    finally:
        models.close()
    assert not os.path.exists(paths[1])  # not made by the copy either


def restored(app: RenovationApp, tmp_path: Path) -> None:
    """``restore``'s replacing of the store's file (by a backup of it, taken now, in its place)."""
    copy = tmp_path / "backup.db"
    app.backend.backup_to(copy)
    app.backend.replace_with(copy)


def read_model_rows(db: str) -> int:
    """The rows of every read model's tables in the store's file as it now is (a connection of its own)."""
    names = [table.name for projection in all_projections() for table in projection.tables]
    connection = sqlite3.connect(db)
    try:
        return sum(connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names)
    finally:
        connection.close()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_nothing_is_copied_into_a_store_restored_while_the_workers_worked(
        app: RenovationApp, db: str, tmp_path: Path) -> None:
    """``restore`` put another file in the store's place after the workers read the log: their read models
    are not of that file's log."""
    busy_programme(app)
    models, paths = apart(app, ["ranking", "ledger"], tmp_path)
    restored(app, tmp_path)
    try:
        with pytest.raises(OperationalError, match=r"replaced \(restored\)"):
            runner_module.adopt(app.backend, paths, chosen(models, "ranking", "ledger"))
    finally:
        models.close()
    assert read_model_rows(db) == 0


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_worker_does_nothing_in_a_store_restored_before_it_opened_it(
        app: RenovationApp, db: str, tmp_path: Path) -> None:
    busy_programme(app)
    models = read_models(app)
    task = runner_module.Task(type(app), app.backend.db, models.zone, [type(models.projections["ledger"])],
                              models.head(), runner_module.BATCH, (700, 10, 10), path=str(tmp_path / "part-0.db"),
                              part=(0, 2), store=app.backend.identity())
    restored(app, tmp_path)
    opened = RenovationApp(db)  # as the worker opens the store
    try:
        with pytest.raises(OperationalError, match=r"replaced \(restored\) before this worker opened it"):
            runner_module.catch_up_apart(Source(opened.backend, opened.mapper, models.zone), task, lambda *_: None)
    finally:
        opened.close()
        models.close()
    assert not (tmp_path / "part-0.db").exists()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_shared_catch_up_of_a_store_restored_meanwhile_stops_in_one_line(
        app: RenovationApp, db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Restored as the workers start: they open the new file and do nothing, and the catch-up says the store
    was replaced instead of catching the new file's read models up to the old one's head."""
    busy_programme(app)
    monkeypatch.setattr(runner_module, "SHARE_AFTER", 1)
    share = ReadModels._share

    def restoring(self: ReadModels, *args: Any) -> None:
        restored(app, tmp_path)
        share(self, *args)

    monkeypatch.setattr(ReadModels, "_share", restoring)
    here = caught_here(monkeypatch)
    models = read_models(app)
    try:
        with pytest.raises(OperationalError, match=r"replaced \(restored\) while its read models were caught up"):
            models.catch_up()
    finally:
        models.close()
    assert here == []
    assert read_model_rows(db) == 0


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_with_no_temporary_folder_the_catch_up_is_not_shared_and_says_so(
        app: RenovationApp, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(tempfile, "tempdir", "/nonexistent/tmp")
    (said,) = rebuilt_here_alone(app, monkeypatch, caplog)
    assert said.startswith("the catch-up is not shared out (no temporary folder for its scratch files: [Errno 2] No "
                           "such file or directory: '/nonexistent/tmp/renovation-catch-up-")
    assert said.endswith("'): this process catches up alone, more slowly")


def test_with_no_temporary_folder_there_is_nothing_stale_to_remove(monkeypatch: pytest.MonkeyPatch) -> None:
    def none() -> str:
        raise FileNotFoundError("No usable temporary directory found")

    monkeypatch.setattr(tempfile, "gettempdir", none)
    assert remove_stale(runner_module.SCRATCH_PREFIX) == 0


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
@pytest.mark.parametrize("moved", ["position", "row"])
def test_a_read_model_with_a_position_or_a_row_is_not_copied_over(
        app: RenovationApp, moved: str, tmp_path: Path) -> None:
    """A read model's tables may be empty after events (a log of registrations, for ledger entries): its
    position says it moved; a row in its tables at position 0 (written by hand) is not mixed with a copy."""
    busy_programme(app)
    models, paths = apart(app, ["ranking"], tmp_path)
    try:
        with models.writing() as connection, connection.begin():
            if moved == "position":
                set_position(connection, models.projections["ranking"].key, 1)
            else:
                connection.exec_driver_sql("INSERT INTO ranking_compounds VALUES ('HAND', '手写', '某公司')")
        assert runner_module.adopt(app.backend, paths, chosen(models, "ranking")) is False
        found = snapshot(models)["ranking_compounds"]
    finally:
        models.close()
    assert found == ([] if moved == "position" else [("HAND", "手写", "某公司")])


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_a_copy_that_fails_leaves_the_store_as_it_was(
        app: RenovationApp, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    busy_programme(app)
    models, paths = apart(app, ["ranking", "ledger"], tmp_path)
    empty = snapshot(models, with_directory=True)

    def fail(name: str) -> None:
        if name == "catch_up_adopt":
            raise OSError("the disk is full")

    monkeypatch.setattr(runner_module, "crash_point", fail)
    try:
        with pytest.raises(OSError, match="disk is full"):
            runner_module.adopt(app.backend, paths, chosen(models, "ranking", "ledger"))
        assert snapshot(models, with_directory=True) == empty
        assert set(positions(models).values()) == {0}
        models.catch_up()  # and a catch-up takes them on
        assert models.behind() == 0
    finally:
        models.close()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_the_scratch_folder_of_a_worker_that_was_killed_is_removed(
        app: RenovationApp, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a shared catch-up: a folder named after a process that is gone (its worker killed), not one of a
    process still running."""
    busy_programme(app)
    dead = Path(tempfile.mkdtemp(prefix=f"{runner_module.SCRATCH_PREFIX}999999999-"))
    running = Path(tempfile.mkdtemp(prefix=f"{runner_module.SCRATCH_PREFIX}{os.getpid()}-"))
    monkeypatch.setattr(runner_module, "SHARE_AFTER", 1)
    models = read_models(app)
    try:
        models.rebuild()
        assert running.exists()
    finally:
        models.close()
        running.rmdir()
    assert not dead.exists()


def test_the_read_models_are_dealt_out_by_weight() -> None:
    every = all_projections()
    groups = shares(every, 2)
    assert [sum(projection.weight for projection in group) for group in groups] == [23, 23]
    assert sorted(projection.name for group in groups for projection in group) == sorted(p.name for p in every)
    assert [group[0].name for group in groups] == ["quality", "computed"]  # the heaviest first, one each
    few = [projection for projection in every if projection.name in ("ranking", "feedback")]
    assert [[projection.name for projection in group] for group in shares(few, 4)] == [["feedback"], ["ranking"]]


#: A shared catch-up in a process of its own, a batch an event (so that it lasts): "heard" at each batch.
CHILD = """
import signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # a Ctrl-C's, even when started with it ignored
from renovation.projections import read_models, runner
from renovation.services.application import RenovationApp
runner.SHARE_AFTER, runner.BATCH, runner.APART_BATCH = 1, 1, 1
app = RenovationApp(sys.argv[1])
models = read_models(app)
try:
    models.catch_up(progress=lambda name, events: print("heard", flush=True))
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=["kill", "term", "ctrl-c"])
def test_the_workers_stop_when_the_process_that_started_them_is_stopped(
        app: RenovationApp, db: str, stop: signal.Signals, tmp_path: Path) -> None:
    """Killed, the first process leaves its workers to find their pipe closed at their next batch; a Ctrl-C
    (to its process group, as a terminal sends it) stops them from the first process. Either way no worker
    goes on for long, none reaches the head, and no worker says anything on the terminal; but for a kill, their
    scratch files are removed (a SIGTERM stops the catch-up as a Ctrl-C does). The script has no
    ``if __name__ == "__main__"``: a worker does not run it again."""
    for code in ("JM", "LY"):  # a compound of each worker's part (both at work when the process is stopped)
        start_compound(app, code)
        for minute in range(60):
            app.record_inspection(code, "patrol", at=at("2021-03-02", f"08:{minute:02d}"), user="sup")
    script = tmp_path / "catch_up.py"
    script.write_text(CHILD)
    _workers, output, errors, pid = stopped([str(script), db], "heard\n", b"projections.worker", stop)
    assert errors == ""
    if stop != signal.SIGKILL:  # a SIGTERM as a Ctrl-C: the workers' scratch files removed (a kill leaves them)
        assert output.endswith("interrupted\n")
        assert not [folder for folder in scratch_folders() if owner(folder) == pid]
    models = read_models(app)
    try:
        assert models.behind() > 0  # stopped, not finished
        models.catch_up()  # and another catch-up takes them on
        assert models.behind() == 0
    finally:
        models.close()

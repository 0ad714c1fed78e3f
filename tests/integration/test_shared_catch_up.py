"""A large catch-up shared out among processes (PostgreSQL; never on SQLite, whose write lock is the whole
store's): the same tables as one process makes, a bad event still stopping only its read models, and a
worker that cannot work leaving its read models to the process that started it."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from renovation.projections import all_projections, read_models
from renovation.projections import runner as runner_module
from renovation.projections.errors import BadEvent
from renovation.projections.runner import ReadModels, shares
from renovation.services.application import RenovationApp
from tests.integration.projection_support import positions, snapshot
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
    """On PostgreSQL two workers catch every read model up (this process applies nothing), each batch
    told to ``progress``; on SQLite this process does it all, as before."""
    busy_programme(app)
    expected = one_process(app)
    monkeypatch.setattr(runner_module, "SHARE_AFTER", 1)
    here = caught_here(monkeypatch)
    heard: Counter[str] = Counter()
    models = read_models(app)
    try:
        models.rebuild(progress=lambda name, events: heard.update({name: events}))
        assert snapshot(models, with_directory=True) == expected
        head = models.head()
        assert positions(models) == dict.fromkeys(models.projections, head)
    finally:
        models.close()
    assert heard == dict.fromkeys(models.projections, head)  # every event of every read model, once
    if "://" in db:
        assert here == []
    else:
        assert sorted(here) == sorted(models.projections)


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_a_bad_event_in_a_shared_catch_up_stops_its_read_model_alone(
        app: RenovationApp, db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A forged ticket stops the read models that take tickets (feedback, computed) in their workers; this
    process takes them on from where the workers left them, meets the event again and says it; every other
    read model is at the head."""
    busy_programme(app)
    append_raw(db, FEEDBACK, b'{"not": "a ticket"}')
    monkeypatch.setattr(runner_module, "SHARE_AFTER", 1)
    here = caught_here(monkeypatch)
    models = read_models(app)
    try:
        with pytest.raises(BadEvent, match=r"cannot be applied to the (computed|feedback) read model"):
            models.catch_up()
        head = models.head()
        at = positions(models)
    finally:
        models.close()
    assert set(here) == {"computed", "feedback"}  # (once, then feedback again once computed has stopped)
    assert at.pop("computed") < head and at.pop("feedback") < head  # as before the batch with the event
    assert at == dict.fromkeys(at, head)


def cannot_open(db: str) -> RenovationApp:
    raise OSError(f"{db} is not to be opened here")


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
def test_a_worker_that_cannot_open_the_store_leaves_its_read_models_to_this_process(
        app: RenovationApp, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> None:
    """Both workers end at once, quietly (no traceback on the terminal); the read models are caught up
    here all the same."""
    busy_programme(app)
    app.receive_feedback("JM", "hotline", "漏水", user="clerk")
    expected = one_process(app)
    monkeypatch.setattr(runner_module, "SHARE_AFTER", 1)
    here = caught_here(monkeypatch)
    models = ReadModels(app, all_projections(), reopen=cannot_open)
    try:
        models.rebuild()
        assert snapshot(models, with_directory=True) == expected
    finally:
        models.close()
    assert sorted(here) == sorted(models.projections)
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
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


def test_the_read_models_are_dealt_out_by_weight() -> None:
    every = all_projections()
    groups = shares(every, 2)
    assert [sum(projection.weight for projection in group) for group in groups] == [23, 23]
    assert sorted(projection.name for group in groups for projection in group) == sorted(p.name for p in every)
    assert [group[0].name for group in groups] == ["quality", "computed"]  # the heaviest first, one each
    few = [projection for projection in every if projection.name in ("ranking", "feedback")]
    assert [[projection.name for projection in group] for group in shares(few, 4)] == [["feedback"], ["ranking"]]

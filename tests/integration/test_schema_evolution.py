"""A store written by an earlier version of the tracker (checked in under tests/fixtures) still loads:
events whose fields changed since are upcast (``class_version`` and ``upcast_vN_vN+1``)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from renovation.domain.compound import CompoundProject
from renovation.projections import read_models
from renovation.projections.progress import progress_rows
from renovation.services.application import RenovationApp
from renovation.services.transfer import import_file
from renovation.store.chain import ChainStore, verify

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STORE = FIXTURES / "store-2021-v1.db"  # written by `renovation demo --compounds 2 --until 2021-03-20`
EXPORT = FIXTURES / "store-2021-v1.jsonl"  # the same store, exported


@pytest.fixture
def old_store(tmp_path: Path) -> Iterator[RenovationApp]:
    copy = tmp_path / "old.db"
    shutil.copy(STORE, copy)
    app = RenovationApp(str(copy))
    yield app
    app.close()


def stored_versions(app: RenovationApp, event_name: str) -> set[int]:
    return {json.loads(n.state).get("class_version", 1) for n in app.iter_notifications()
            if n.topic.endswith(f".{event_name}")}


def test_the_fixture_was_written_before_material_samples_recorded_their_quantity(old_store: RenovationApp) -> None:
    assert CompoundProject.MaterialSampled.class_version == 2
    assert stored_versions(old_store, "MaterialSampled") == {1}


def test_old_sample_events_are_upcast_when_read(old_store: RenovationApp) -> None:
    samples = [old_store.mapper.to_domain_event(n) for n in old_store.iter_notifications()
               if n.topic.endswith(".MaterialSampled")]

    assert samples
    for event in samples:
        assert event.quantity_factor == (2 if event.resample_of else 1)  # type: ignore[attr-defined]


def test_an_old_store_loads_verifies_and_answers(old_store: RenovationApp) -> None:
    verified, problems = verify(ChainStore(old_store.backend))
    assert problems == [] and verified == old_store.event_count()
    for code in old_store.compound_codes():
        assert old_store.compound(code).code == code
    models = read_models(old_store)
    models.rebuild()
    with models.engine.connect() as connection:
        assert len(progress_rows(connection, old_store.clock().date())) == 2
    models.close()


def test_an_old_store_takes_new_events_beside_the_old_ones(old_store: RenovationApp) -> None:
    code = old_store.compound_codes()[0]
    recorded = old_store.sample_material(code, material="水泥", batch="NEW-1", regime="routine",
                                         user="sup")

    stored = list(old_store.events.get(old_store.get_project(code).id))[-1]
    assert stored.quantity_factor == 1  # type: ignore[attr-defined]
    assert stored_versions(old_store, "MaterialSampled") == {1, 2}
    assert old_store.get_project(code).samples[recorded.sample_id].batch == "NEW-1"
    _verified, problems = verify(ChainStore(old_store.backend))
    assert problems == []


def test_an_old_export_imports_into_a_new_store(tmp_path: Path) -> None:
    app = RenovationApp(str(tmp_path / "new.db"))

    lines, added = import_file(app, EXPORT)

    assert lines == added == sum(1 for _ in EXPORT.open("rb"))
    assert stored_versions(app, "MaterialSampled") == {1}  # stored as written; upcast when read
    assert {code: app.compound(code).samples for code in app.compound_codes()}
    app.close()

"""Two writers on one compound: a version conflict is retried, nothing is lost or doubled."""

from __future__ import annotations

import contextlib
import multiprocessing
from decimal import Decimal

import pytest

from renovation.domain import errors
from renovation.domain.compound import CompoundProject
from renovation.services.application import RenovationApp
from tests.integration.conftest import open_app, start_compound


@pytest.fixture
def no_writer_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writers queue on a lock, so no race happens between processes; these tests stage the race inside
    one process to exercise the retry that still guards writers outside the lock (an import, say)."""
    monkeypatch.setattr(RenovationApp, "writer_lock", lambda self, code: contextlib.nullcontext())


@pytest.mark.usefixtures("no_writer_lock")
def test_a_writer_that_loses_the_race_reloads_and_runs_its_command_again(db: str) -> None:
    first, second = open_app(db), open_app(db)
    start_compound(first)
    attempts = []

    def inspect_while_the_other_writer_meters(project: CompoundProject) -> None:
        attempts.append(project.version)
        if len(attempts) == 1:  # the other writer saves between our load and our save
            second.measure("JM", "A1", "2021-05", Decimal("10"), user="auditor")
        project.record_inspection("patrol", first.clock(), [], None, first.context("sup"))

    recorded = first.update("JM", "inspect", "sup", inspect_while_the_other_writer_meters)

    assert len(attempts) == 2 and attempts[1] == attempts[0] + 1
    assert recorded.inspection_id == "I1"
    project = second.get_project("JM")
    assert project.inspections == 1 and list(project.entries) == ["M1"]
    first.close()
    second.close()


@pytest.mark.usefixtures("no_writer_lock")
def test_a_retried_command_is_checked_again_against_what_the_other_writer_recorded(db: str) -> None:
    first, second = open_app(db), open_app(db)
    start_compound(first)
    attempts = []

    def meter_after_the_other(project: CompoundProject) -> None:
        attempts.append(project.version)
        if len(attempts) == 1:  # loaded before the other writer's entry of 80
            second.measure("JM", "A1", "2021-05", Decimal("80"), user="auditor-2")
        project.measure("A1", "2021-05", Decimal("30"), first.context("auditor-1"))

    with pytest.raises(errors.MeteringExceedsContract):
        first.update("JM", "meter", "auditor-1", meter_after_the_other)
    assert len(attempts) == 2
    assert first.get_project("JM").cumulative("A1") == Decimal("80")
    first.close()
    second.close()


def _inspect_many(db: str, count: int) -> int:
    app = open_app(db)
    done = 0
    for _ in range(count):
        app.record_inspection("JM", "patrol", user="sup")
        done += 1
    app.close()
    return done


def test_processes_writing_the_same_compound_lose_nothing(db: str) -> None:
    app = open_app(db)
    start_compound(app)
    before = app.event_count()
    processes, each = 4, 10
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        done = pool.starmap(_inspect_many, [(db, each)] * processes)
    assert sum(done) == processes * each
    project = app.get_project("JM")
    assert project.inspections == processes * each
    assert app.event_count() == before + processes * each
    ids = [app.mapper.to_domain_event(n).inspection_id  # type: ignore[attr-defined]
           for n in app.iter_notifications() if n.topic.endswith("InspectionRecorded")]
    assert sorted(ids, key=lambda i: int(i[1:])) == [f"I{n}" for n in range(1, processes * each + 1)]
    app.close()


def test_a_fresh_app_reads_what_another_app_wrote(db: str) -> None:
    writer = open_app(db)
    start_compound(writer)
    reader = RenovationApp(db)
    assert reader.compound("JM").status == "under_construction"
    writer.close()
    reader.close()


@pytest.mark.usefixtures("no_writer_lock")
def test_two_payments_of_a_whole_certificate_at_once_pay_it_once(db: str) -> None:
    """Two cashiers pay the whole of C1 at once: the one that loses the race runs its command again on
    the compound with the other's payment, and the rule refuses it; C1 is paid once."""
    first, second = open_app(db), open_app(db)
    start_compound(first)
    first.measure("JM", "A1", "2021-03", Decimal("10"), user="auditor")
    certified = first.certify("JM", "2021-03", Decimal(3), user="auditor")
    attempts = []

    def pay_after_the_other(project: CompoundProject) -> None:
        attempts.append(project.version)
        if len(attempts) == 1:  # loaded before the other writer's payment
            second.record_payment("JM", "C1", certified.amount, certified.on, user="bureau-2")
        project.record_payment("C1", certified.amount, certified.on, first.context("bureau-1"))

    with pytest.raises(errors.PaymentExceedsCertified):
        first.update("JM", "pay", "bureau-1", pay_after_the_other)
    assert len(attempts) == 2
    project = first.get_project("JM")
    assert list(project.payments) == ["P1"] and project.certificates["C1"].paid == certified.amount
    first.close()
    second.close()

"""registered → (illegal structures recorded → cleared) → started → completed → accepted → handed over."""

from __future__ import annotations

from datetime import date

import pytest

from renovation.domain import errors
from renovation.domain.compound import CompoundProject, Context, NewFinding
from renovation.domain.values import Status

# ---------------------------------------------------------------- illegal structures (改旧先拆违)


def test_recording_illegal_structures_adds_them_up(registered, ctx, only_event):
    registered.record_illegal_structures(3, ctx)
    event = only_event(registered)
    registered.record_illegal_structures(2, ctx)
    only_event(registered)

    assert isinstance(event, CompoundProject.IllegalStructuresRecorded)
    assert event.count == 3
    assert event.user == ctx.user
    assert registered.illegal_structures == 5


@pytest.mark.parametrize(
    ("count", "reason"), [(0, "not_positive"), (-2, "not_positive"), (10_001, "too_large")]
)
def test_cannot_record_a_count_of_illegal_structures_out_of_range(registered, ctx, count, reason):
    with pytest.raises(errors.InvalidValue) as refused:
        registered.record_illegal_structures(count, ctx)

    assert refused.value.params["field"] == "count"
    assert refused.value.params["reason"] == reason
    assert registered.collect_events() == []


def test_cannot_start_construction_while_illegal_structures_stand(registered, ctx):
    registered.record_illegal_structures(4, ctx)
    registered.collect_events()

    with pytest.raises(errors.IllegalStructuresStanding) as refused:
        registered.start_construction(date(2021, 3, 1), ctx)

    assert refused.value.params == {"code": "JM", "count": 4}
    assert registered.collect_events() == []
    assert registered.status == Status.REGISTERED


def test_clearing_illegal_structures_clears_them_all_and_lets_construction_start(registered, ctx, only_event):
    registered.record_illegal_structures(4, ctx)
    registered.collect_events()

    registered.clear_illegal_structures(ctx)
    cleared = only_event(registered)
    registered.start_construction(date(2021, 3, 1), ctx)
    started = only_event(registered)

    assert isinstance(cleared, CompoundProject.IllegalStructuresCleared)
    assert cleared.count == 4
    assert registered.illegal_structures == 0
    assert isinstance(started, CompoundProject.ConstructionStarted)


def test_cannot_clear_illegal_structures_when_none_are_recorded(registered, ctx):
    with pytest.raises(errors.NoIllegalStructures) as refused:
        registered.clear_illegal_structures(ctx)

    assert refused.value.params == {"code": "JM"}


def test_cannot_record_or_clear_illegal_structures_once_construction_started(started, ctx):
    with pytest.raises(errors.WrongStatus) as refused:
        started.record_illegal_structures(1, ctx)
    assert refused.value.params == {
        "code": "JM", "action": "record_illegal_structures", "status": "under_construction",
        "required": ["registered"],
    }

    with pytest.raises(errors.WrongStatus) as refused:
        started.clear_illegal_structures(ctx)
    assert refused.value.params["action"] == "clear_illegal_structures"


# ---------------------------------------------------------------- start and completion


def test_starting_construction_records_the_start_day(with_boq, ctx, only_event):
    with_boq.start_construction(date(2021, 3, 1), ctx)

    event = only_event(with_boq)
    assert isinstance(event, CompoundProject.ConstructionStarted)
    assert event.on == date(2021, 3, 1)
    assert event.timestamp == ctx.now
    assert with_boq.status == Status.UNDER_CONSTRUCTION
    assert with_boq.started_on == date(2021, 3, 1)


def test_construction_may_start_today(registered, ctx):
    registered.start_construction(ctx.now.date(), ctx)

    assert registered.started_on == date(2021, 5, 1)


def test_cannot_start_construction_on_a_day_still_to_come(registered, ctx):
    with pytest.raises(errors.TimeInFuture) as refused:
        registered.start_construction(date(2021, 5, 2), ctx)

    assert refused.value.params == {"at": "2021-05-02", "now": "2021-05-01"}
    assert registered.collect_events() == []


def test_cannot_start_construction_twice(started, ctx):
    with pytest.raises(errors.WrongStatus) as refused:
        started.start_construction(date(2021, 3, 2), ctx)

    assert refused.value.params["action"] == "start_construction"
    assert refused.value.params["status"] == "under_construction"


def test_completing_construction_records_the_completion_day(started, ctx, only_event):
    started.complete_construction(date(2021, 4, 28), ctx)

    event = only_event(started)
    assert isinstance(event, CompoundProject.ConstructionCompleted)
    assert event.on == date(2021, 4, 28)
    assert started.status == Status.COMPLETED
    assert started.completed_on == date(2021, 4, 28)


def test_cannot_complete_construction_before_it_started(started, ctx):
    with pytest.raises(errors.DateOutOfOrder) as refused:
        started.complete_construction(date(2021, 2, 28), ctx)

    assert refused.value.params == {
        "what": "completion", "day": "2021-02-28", "before": "start", "other": "2021-03-01",
    }


def test_construction_may_complete_on_the_day_it_started(started, ctx):
    started.complete_construction(date(2021, 3, 1), ctx)

    assert started.completed_on == started.started_on


def test_cannot_complete_construction_on_a_day_still_to_come(started, ctx):
    with pytest.raises(errors.TimeInFuture):
        started.complete_construction(date(2021, 5, 2), ctx)


def test_cannot_complete_construction_that_never_started(registered, ctx):
    with pytest.raises(errors.WrongStatus) as refused:
        registered.complete_construction(date(2021, 4, 1), ctx)

    assert refused.value.params["required"] == ["under_construction"]


# ---------------------------------------------------------------- acceptance (竣工验收)


def test_accepting_a_completed_compound_records_the_acceptance_day(completed, ctx, only_event):
    completed.accept(date(2021, 4, 29), ctx)

    event = only_event(completed)
    assert isinstance(event, CompoundProject.Accepted)
    assert event.on == date(2021, 4, 29)
    assert completed.status == Status.ACCEPTED
    assert completed.accepted_on == date(2021, 4, 29)


def test_cannot_accept_a_compound_still_under_construction(started, ctx):
    with pytest.raises(errors.WrongStatus) as refused:
        started.accept(date(2021, 4, 29), ctx)

    assert refused.value.params["required"] == ["completed"]


def test_cannot_accept_before_completion_or_in_the_future(completed, ctx):
    with pytest.raises(errors.DateOutOfOrder) as refused:
        completed.accept(date(2021, 4, 27), ctx)
    assert refused.value.params["before"] == "completion"

    with pytest.raises(errors.TimeInFuture):
        completed.accept(date(2021, 5, 2), ctx)


def test_acceptance_is_blocked_by_findings_not_yet_closed(started, ctx, at):
    started.record_inspection(
        "morning", at(10), [NewFinding("safety", "major", "脚手架未挂安全网")], None, ctx
    )
    started.record_inspection("patrol", at(11), [NewFinding("quality", "minor", "保温板接缝")], None, ctx)
    started.rectify_finding("F2", "已整改", at(12), ctx)
    started.complete_construction(date(2021, 4, 28), ctx)
    started.collect_events()

    with pytest.raises(errors.AcceptanceBlocked) as refused:
        started.accept(date(2021, 4, 29), ctx)

    assert refused.value.params == {"code": "JM", "findings": "F1, F2", "samples": "-", "batches": "-"}
    assert started.collect_events() == []


def test_acceptance_is_not_blocked_by_findings_closed_after_re_check(started, ctx, at):
    started.record_inspection("morning", at(10), [NewFinding("safety", "major", "脚手架")], None, ctx)
    started.rectify_finding("F1", None, at(11), ctx)
    started.close_finding("F1", "复查合格", at(12), ctx)
    started.complete_construction(date(2021, 4, 28), ctx)

    started.accept(date(2021, 4, 29), ctx)

    assert started.status == Status.ACCEPTED


def test_acceptance_is_blocked_by_samples_without_a_result(started, ctx, at):
    started.sample_material("钢筋 HRB400", "B-01", "routine", None, at(10), ctx)
    started.complete_construction(date(2021, 4, 28), ctx)

    with pytest.raises(errors.AcceptanceBlocked) as refused:
        started.accept(date(2021, 4, 29), ctx)

    assert refused.value.params["samples"] == "S1"
    assert refused.value.params["findings"] == "-"


def test_acceptance_is_blocked_by_a_batch_awaiting_its_resample(started, ctx, at):
    started.sample_material("水泥 P.O42.5", "C-07", "cross", "监理 李", at(10), ctx)
    started.record_material_result("S1", False, "辽源市建设工程质量检测站", "R-1", at(12), ctx)
    started.complete_construction(date(2021, 4, 28), ctx)

    with pytest.raises(errors.AcceptanceBlocked) as refused:
        started.accept(date(2021, 4, 29), ctx)

    assert refused.value.params == {"code": "JM", "findings": "-", "samples": "-", "batches": "C-07"}


def test_acceptance_is_not_blocked_by_a_batch_rejected_after_its_failed_resample(started, ctx, at):
    started.sample_material("水泥", "C-07", "routine", None, at(10), ctx)
    started.record_material_result("S1", False, "检测站", None, at(12), ctx)
    started.sample_material("水泥", "C-07", "routine", None, at(13), ctx)
    started.record_material_result("S2", False, "检测站", None, at(15), ctx)
    started.complete_construction(date(2021, 4, 28), ctx)

    started.accept(date(2021, 4, 29), ctx)

    assert started.status == Status.ACCEPTED


# ---------------------------------------------------------------- hand-over (谁建设、谁运营、谁管理)


def test_hand_over_names_the_contractor_as_operator_by_default_for_fifteen_years(accepted, ctx, only_event):
    accepted.hand_over(date(2021, 4, 30), None, ctx)

    event = only_event(accepted)
    assert isinstance(event, CompoundProject.HandedOver)
    assert event.on == date(2021, 4, 30)
    assert event.operator == "辽源建工"
    assert event.om_end == date(2036, 4, 30)
    assert accepted.status == Status.HANDED_OVER
    assert (accepted.handed_over_on, accepted.operator, accepted.om_end) == (
        date(2021, 4, 30), "辽源建工", date(2036, 4, 30),
    )


def test_hand_over_may_name_another_operator(accepted, ctx, only_event):
    accepted.hand_over(date(2021, 4, 30), "  龙山物业  ", ctx)

    assert only_event(accepted).operator == "龙山物业"


def test_operation_and_maintenance_from_29_february_ends_on_28_february(register, ctx):
    ctx = Context(user="zhao", now=ctx.now.replace(year=2024, month=3, day=1))
    project = register(planned_start=date(2024, 1, 1), planned_finish=date(2024, 2, 1))
    project.start_construction(date(2024, 1, 2), ctx)
    project.complete_construction(date(2024, 2, 27), ctx)
    project.accept(date(2024, 2, 28), ctx)
    project.collect_events()

    project.hand_over(date(2024, 2, 29), None, ctx)

    [event] = project.collect_events()
    assert event.om_end == date(2039, 2, 28)


def test_cannot_hand_over_before_acceptance_or_in_the_future(accepted, ctx):
    with pytest.raises(errors.DateOutOfOrder) as refused:
        accepted.hand_over(date(2021, 4, 28), None, ctx)
    assert refused.value.params["what"] == "hand_over"
    assert refused.value.params["before"] == "acceptance"

    with pytest.raises(errors.TimeInFuture):
        accepted.hand_over(date(2021, 5, 2), None, ctx)


def test_cannot_hand_over_a_compound_not_yet_accepted(completed, ctx):
    with pytest.raises(errors.WrongStatus) as refused:
        completed.hand_over(date(2021, 4, 30), None, ctx)

    assert refused.value.params["action"] == "hand_over"
    assert refused.value.params["required"] == ["accepted"]


def test_cannot_hand_over_to_an_operator_with_a_blank_name(accepted, ctx):
    with pytest.raises(errors.InvalidValue) as refused:
        accepted.hand_over(date(2021, 4, 30), "   ", ctx)

    assert refused.value.params["field"] == "operator"
    assert refused.value.params["reason"] == "empty"


def test_cannot_hand_over_twice(accepted, ctx):
    accepted.hand_over(date(2021, 4, 30), None, ctx)

    with pytest.raises(errors.WrongStatus):
        accepted.hand_over(date(2021, 4, 30), None, ctx)

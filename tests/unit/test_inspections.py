"""Morning rounds (晨检), patrols (巡检) and findings (整改通知): open → rectified → closed | reopened."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from renovation.domain import errors
from renovation.domain.compound import CompoundProject, NewFinding
from renovation.domain.values import FindingStatus


def test_a_morning_round_without_findings_is_recorded_with_its_business_time(started, ctx, at, only_event):
    inspection_id, finding_ids = started.record_inspection("morning", at(12), [], None, ctx)

    event = only_event(started)
    assert isinstance(event, CompoundProject.InspectionRecorded)
    assert (inspection_id, finding_ids) == ("I1", [])
    assert event.inspection_id == "I1"
    assert event.kind == "morning"
    assert event.at == at(12)
    assert event.timestamp == ctx.now  # recorded later than it happened: a backfilled round
    assert event.user == ctx.user
    assert event.findings == []
    assert started.inspections == 1


def test_a_patrol_records_its_findings_with_their_details(started, ctx, at, only_event):
    started.record_inspection(
        "patrol", at(12, hour=14),
        [
            NewFinding("civilized", "minor", "  渣土未覆盖  ", "  3号楼北侧 "),
            NewFinding("quality", "major", "空鼓"),
        ],
        None, ctx,
    )

    event = only_event(started)
    assert event.kind == "patrol"
    first, second = event.findings
    assert (first.finding_id, first.category, first.severity) == ("F1", "civilized", "minor")
    assert (first.description, first.location) == ("渣土未覆盖", "3号楼北侧")
    assert first.raised_at == at(12, hour=14)
    assert first.status == FindingStatus.OPEN
    assert first.closed_at is None
    assert (second.finding_id, second.location) == ("F2", None)
    assert set(started.findings) == {"F1", "F2"}


@pytest.mark.parametrize(("severity", "days"), [("minor", 7), ("major", 3), ("critical", 1)])
def test_a_finding_is_due_by_default_a_number_of_days_set_by_its_severity(started, ctx, at, severity, days):
    started.record_inspection("morning", at(12), [NewFinding("safety", severity, "临边无防护")], None, ctx)

    [event] = started.collect_events()
    assert event.findings[0].due == date(2021, 4, 12) + timedelta(days=days)


def test_the_inspector_may_set_the_due_date_of_all_findings(started, ctx, at):
    findings = [NewFinding("safety", "critical", "临边"), NewFinding("quality", "minor", "色差")]

    started.record_inspection("morning", at(12), findings, date(2021, 4, 12), ctx)

    assert [f.due for f in started.findings.values()] == [date(2021, 4, 12), date(2021, 4, 12)]


def test_a_due_date_before_the_inspection_day_is_refused(started, ctx, at):
    with pytest.raises(errors.DueBeforeInspection) as refused:
        started.record_inspection(
            "morning", at(12), [NewFinding("safety", "minor", "x")], date(2021, 4, 11), ctx
        )

    assert refused.value.params == {"due": "2021-04-11", "day": "2021-04-12"}
    assert started.collect_events() == []


def test_findings_and_inspections_are_numbered_across_inspections(started, ctx, at):
    started.record_inspection("morning", at(12), [NewFinding("safety", "minor", "a")], None, ctx)
    started.record_inspection("morning", at(13), [], None, ctx)

    assert started.record_inspection(
        "patrol", at(13, hour=15), [NewFinding("quality", "minor", "b"), NewFinding("quality", "minor", "c")],
        None, ctx,
    ) == ("I3", ["F2", "F3"])


def test_an_inspection_may_happen_on_the_day_construction_started_and_up_to_now(started, ctx, at):
    started.record_inspection("morning", at(1, month=3, hour=0, minute=0), [], None, ctx)
    started.record_inspection("morning", ctx.now, [], None, ctx)

    assert started.inspections == 2


def test_cannot_inspect_before_construction_started(started, ctx, at):
    with pytest.raises(errors.DateOutOfOrder) as refused:
        started.record_inspection("morning", at(28, month=2), [], None, ctx)

    assert refused.value.params == {
        "what": "inspection", "day": "2021-02-28", "before": "start", "other": "2021-03-01",
    }


def test_cannot_record_an_inspection_whose_business_time_is_in_the_future(started, ctx):
    later = ctx.now + timedelta(minutes=1)

    with pytest.raises(errors.TimeInFuture) as refused:
        started.record_inspection("morning", later, [], None, ctx)

    assert refused.value.params == {"at": "2021-05-01T09:01+08:00", "now": "2021-05-01T09:00+08:00"}
    assert started.collect_events() == []


@pytest.mark.parametrize("fixture", ["registered", "completed"])
def test_cannot_inspect_a_compound_not_under_construction(request, ctx, at, fixture):
    project = request.getfixturevalue(fixture)

    with pytest.raises(errors.WrongStatus) as refused:
        project.record_inspection("morning", at(12), [], None, ctx)

    assert refused.value.params["action"] == "inspect"
    assert refused.value.params["required"] == ["under_construction"]


def test_an_inspection_kind_is_morning_or_patrol(started, ctx, at):
    with pytest.raises(errors.InvalidValue) as refused:
        started.record_inspection("evening", at(12), [], None, ctx)

    assert refused.value.params == {
        "field": "kind", "value": "evening", "reason": "choice", "choices": "morning, patrol",
    }


@pytest.mark.parametrize(
    ("finding", "field", "reason"),
    [
        (NewFinding("noise", "minor", "x"), "category", "choice"),
        (NewFinding("safety", "fatal", "x"), "severity", "choice"),
        (NewFinding("safety", "minor", " "), "description", "empty"),
        (NewFinding("safety", "minor", "x" * 501), "description", "too_long"),
        (NewFinding("safety", "minor", "x", ""), "location", "empty"),
        (NewFinding("safety", "minor", "x", "楼\n"), "location", "control_character"),
    ],
)
def test_a_finding_with_a_bad_field_refuses_the_whole_inspection(started, ctx, at, finding, field, reason):
    good = NewFinding("quality", "minor", "ok")

    with pytest.raises(errors.InvalidValue) as refused:
        started.record_inspection("patrol", at(12), [good, finding], None, ctx)

    assert refused.value.params["field"] == field
    assert refused.value.params["reason"] == reason
    assert started.collect_events() == []
    assert started.findings == {}


# ---------------------------------------------------------------- finding lifecycle


@pytest.fixture
def with_finding(started, ctx, at):
    started.record_inspection("morning", at(12), [NewFinding("safety", "major", "脚手架未挂网")], None, ctx)
    started.collect_events()
    return started


def test_the_contractor_rectifies_a_finding(with_finding, ctx, at, only_event):
    with_finding.rectify_finding("F1", "已挂密目网", at(13), ctx)

    event = only_event(with_finding)
    assert isinstance(event, CompoundProject.FindingRectified)
    assert (event.finding_id, event.at, event.note) == ("F1", at(13), "已挂密目网")
    assert with_finding.findings["F1"].status == FindingStatus.RECTIFIED


def test_the_supervisor_closes_a_rectified_finding_after_re_check(with_finding, ctx, at, only_event):
    with_finding.rectify_finding("F1", None, at(13), ctx)
    with_finding.collect_events()

    with_finding.close_finding("F1", "复查合格", at(14), ctx)

    event = only_event(with_finding)
    assert isinstance(event, CompoundProject.FindingClosed)
    assert (event.finding_id, event.at, event.note) == ("F1", at(14), "复查合格")
    assert with_finding.findings["F1"].status == FindingStatus.CLOSED
    assert with_finding.findings["F1"].closed_at == at(14)


@pytest.mark.parametrize("close_first", [False, True])
def test_a_rectified_or_closed_finding_can_be_reopened_and_rectified(with_finding, ctx, at, close_first):
    with_finding.rectify_finding("F1", None, at(13), ctx)
    if close_first:
        with_finding.close_finding("F1", None, at(14), ctx)
    with_finding.collect_events()

    with_finding.reopen_finding("F1", "复查不合格", at(15), ctx)
    [event] = with_finding.collect_events()
    with_finding.rectify_finding("F1", "返工", at(16), ctx)

    assert isinstance(event, CompoundProject.FindingReopened)
    assert event.note == "复查不合格"
    assert with_finding.findings["F1"].status == FindingStatus.RECTIFIED
    assert with_finding.findings["F1"].closed_at is None


@pytest.mark.parametrize(
    ("steps", "action", "status"),
    [
        ([], "close", "open"),
        ([], "reopen", "open"),
        (["rectify"], "rectify", "rectified"),
        (["rectify", "close"], "close", "closed"),
        (["rectify", "close"], "rectify", "closed"),
        (["rectify", "reopen"], "reopen", "reopened"),
        (["rectify", "reopen"], "close", "reopened"),
    ],
)
def test_a_finding_only_moves_along_its_lifecycle(with_finding, ctx, at, steps, action, status):
    commands = {
        "rectify": with_finding.rectify_finding,
        "close": with_finding.close_finding,
        "reopen": with_finding.reopen_finding,
    }
    for day, step in enumerate(steps, start=13):
        commands[step]("F1", None, at(day), ctx)
    with_finding.collect_events()

    with pytest.raises(errors.FindingTransitionRefused) as refused:
        commands[action]("F1", None, at(20), ctx)

    assert refused.value.params == {"finding_id": "F1", "status": status, "action": action}
    assert with_finding.collect_events() == []


@pytest.mark.parametrize("action", ["rectify_finding", "close_finding", "reopen_finding"])
def test_cannot_act_on_an_unknown_finding(with_finding, ctx, at, action):
    with pytest.raises(errors.UnknownFinding) as refused:
        getattr(with_finding, action)("F2", None, at(13), ctx)

    assert refused.value.params == {"code": "JM", "finding_id": "F2"}


def test_a_finding_cannot_be_rectified_before_it_was_raised(with_finding, ctx, at):
    with pytest.raises(errors.DateOutOfOrder) as refused:
        with_finding.rectify_finding("F1", None, at(12, minute=29), ctx)

    assert refused.value.params == {
        "what": "rectify", "day": "2021-04-12T06:29+08:00",
        "before": "raised", "other": "2021-04-12T06:30+08:00",
    }


def test_a_finding_cannot_be_closed_at_a_time_still_to_come(with_finding, ctx, at):
    with_finding.rectify_finding("F1", None, at(13), ctx)

    with pytest.raises(errors.TimeInFuture):
        with_finding.close_finding("F1", None, ctx.now + timedelta(hours=1), ctx)


def test_a_note_on_a_finding_may_not_be_blank_or_too_long(with_finding, ctx, at):
    with pytest.raises(errors.InvalidValue) as refused:
        with_finding.rectify_finding("F1", " ", at(13), ctx)
    assert refused.value.params["field"] == "note"

    with pytest.raises(errors.InvalidValue) as refused:
        with_finding.rectify_finding("F1", "改" * 501, at(13), ctx)
    assert refused.value.params["reason"] == "too_long"


def test_findings_can_be_closed_after_construction_completed(with_finding, ctx, at):
    with_finding.rectify_finding("F1", None, at(13), ctx)
    with_finding.complete_construction(date(2021, 4, 28), ctx)

    with_finding.close_finding("F1", None, at(29), ctx)

    assert with_finding.findings["F1"].status == FindingStatus.CLOSED

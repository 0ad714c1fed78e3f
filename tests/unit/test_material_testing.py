"""Material samples (材料检测): one result each; a failure asks for a resample, a failed resample
rejects the batch (退场)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from renovation.domain import errors
from renovation.domain.compound import CompoundProject

LAB = "辽源市建设工程质量检测站"


def test_a_sample_records_material_batch_regime_witness_and_business_time(started, ctx, at, only_event):
    result = started.sample_material(" 钢筋 HRB400 ", " B-01 ", "blind", "监理 李工", at(12), ctx)

    event = only_event(started)
    assert isinstance(event, CompoundProject.MaterialSampled)
    assert result == ("B1", None)  # blind, recorded without a command id: B1, B2, ...
    assert (event.sample_id, event.material, event.batch) == ("B1", "钢筋 HRB400", "B-01")
    assert (event.regime, event.witness, event.at, event.resample_of) == ("blind", "监理 李工", at(12), None)
    assert event.user == ctx.user
    sample = started.samples["B1"]
    assert sample.passed is None
    assert sample.sampled_at == at(12)


def test_a_passing_result_closes_the_sample(started, ctx, at, only_event):
    started.sample_material("水泥", "C-01", "routine", None, at(12), ctx)
    started.collect_events()

    outcome = started.record_material_result("S1", True, f" {LAB} ", "JC2021-0412", at(14), ctx)

    event = only_event(started)
    assert isinstance(event, CompoundProject.MaterialResultRecorded)
    assert outcome == event.outcome == "passed"
    assert (event.sample_id, event.batch, event.passed, event.lab, event.report, event.at) == (
        "S1", "C-01", True, LAB, "JC2021-0412", at(14),
    )
    assert started.samples["S1"].passed is True
    assert started.samples["S1"].lab == LAB


def test_a_failed_sample_makes_the_next_sample_of_that_batch_its_resample(started, ctx, at):
    started.sample_material("水泥", "C-01", "routine", None, at(12), ctx)
    assert started.record_material_result("S1", False, LAB, None, at(14), ctx) == "resample_required"
    started.collect_events()

    other = started.sample_material("水泥", "C-02", "routine", None, at(15), ctx)
    resample = started.sample_material("水泥", "C-01", "cross", "李工", at(15), ctx)

    assert other == ("S2", None)
    assert resample == ("S3", "S1")
    assert [e.resample_of for e in started.collect_events()] == [None, "S1"]
    assert started.batches_awaiting_resample() == []


def test_a_passing_resample_clears_the_batch(started, ctx, at):
    started.sample_material("水泥", "C-01", "routine", None, at(12), ctx)
    started.record_material_result("S1", False, LAB, None, at(14), ctx)
    started.sample_material("水泥", "C-01", "routine", None, at(15), ctx)
    started.collect_events()

    assert started.record_material_result("S2", True, LAB, None, at(17), ctx) == "passed"

    assert started.rejected_batches() == []
    assert started.sample_material("水泥", "C-01", "routine", None, at(20), ctx) == ("S3", None)


def test_a_failed_resample_rejects_the_batch_and_further_sampling_is_refused(started, ctx, at):
    started.sample_material("防水卷材", "W-03", "routine", None, at(12), ctx)
    started.record_material_result("S1", False, LAB, None, at(14), ctx)
    started.sample_material("防水卷材", "W-03", "routine", None, at(15), ctx)
    started.collect_events()

    outcome = started.record_material_result("S2", False, LAB, "JC-2", at(17), ctx)

    [event] = started.collect_events()
    assert outcome == event.outcome == "batch_rejected"
    assert started.rejected_batches() == ["W-03"]
    with pytest.raises(errors.BatchRejected) as refused:
        started.sample_material("防水卷材", "W-03", "blind", None, at(20), ctx)
    assert refused.value.params == {"batch": "W-03"}
    assert started.collect_events() == []
    assert started.sample_material("防水卷材", "W-04", "routine", None, at(20), ctx) == ("S3", None)


def test_a_sample_has_one_result(started, ctx, at):
    started.sample_material("水泥", "C-01", "routine", None, at(12), ctx)
    started.record_material_result("S1", False, LAB, None, at(14), ctx)
    started.collect_events()

    with pytest.raises(errors.ResultAlreadyRecorded) as refused:
        started.record_material_result("S1", True, LAB, None, at(15), ctx)

    assert refused.value.params == {"sample_id": "S1", "result": "fail"}
    assert started.collect_events() == []
    assert started.samples["S1"].passed is False


def test_a_passed_sample_has_one_result_too(started, ctx, at):
    started.sample_material("水泥", "C-01", "routine", None, at(12), ctx)
    started.record_material_result("S1", True, LAB, None, at(14), ctx)

    with pytest.raises(errors.ResultAlreadyRecorded) as refused:
        started.record_material_result("S1", False, LAB, None, at(15), ctx)

    assert refused.value.params["result"] == "pass"


def test_cannot_record_a_result_for_an_unknown_sample(started, ctx, at):
    with pytest.raises(errors.UnknownSample) as refused:
        started.record_material_result("S1", True, LAB, None, at(14), ctx)

    assert refused.value.params == {"code": "JM", "sample_id": "S1"}


def test_a_result_cannot_come_before_the_sampling_or_in_the_future(started, ctx, at):
    started.sample_material("水泥", "C-01", "routine", None, at(12), ctx)

    with pytest.raises(errors.DateOutOfOrder) as refused:
        started.record_material_result("S1", True, LAB, None, at(11), ctx)
    assert refused.value.params["what"] == "result"
    assert refused.value.params["before"] == "sampled"

    with pytest.raises(errors.TimeInFuture):
        started.record_material_result("S1", True, LAB, None, ctx.now + timedelta(seconds=1), ctx)


def test_a_result_names_the_lab_and_at_most_a_short_report_number(started, ctx, at):
    started.sample_material("水泥", "C-01", "routine", None, at(12), ctx)

    with pytest.raises(errors.InvalidValue) as refused:
        started.record_material_result("S1", True, " ", None, at(14), ctx)
    assert refused.value.params["field"] == "lab"

    with pytest.raises(errors.InvalidValue) as refused:
        started.record_material_result("S1", True, LAB, "R" * 65, at(14), ctx)
    assert (refused.value.params["field"], refused.value.params["reason"]) == ("report", "too_long")


def test_a_result_may_be_recorded_after_construction_completed(started, ctx, at):
    started.sample_material("水泥", "C-01", "routine", None, at(12), ctx)
    started.complete_construction(date(2021, 4, 20), ctx)

    assert started.record_material_result("S1", True, LAB, None, at(21), ctx) == "passed"


def test_the_resample_a_failure_requires_may_be_taken_after_completion(started, ctx, at):
    started.sample_material("水泥", "C-01", "routine", None, at(12), ctx)
    started.complete_construction(date(2021, 4, 20), ctx)
    assert started.record_material_result("S1", False, LAB, None, at(21), ctx) == "resample_required"

    assert started.sample_material("水泥", "C-01", "routine", None, at(22), ctx) == ("S2", "S1")
    assert started.record_material_result("S2", True, LAB, None, at(24), ctx) == "passed"
    started.accept(date(2021, 4, 25), ctx)
    assert started.status == "accepted"


def test_a_rejected_batch_does_not_wait_for_the_resample_of_its_other_failed_sample(started, ctx, at):
    for day in (10, 11):
        started.sample_material("水泥", "C-01", "routine", None, at(day), ctx)
    for sample_id in ("S1", "S2"):
        started.record_material_result(sample_id, False, LAB, None, at(12), ctx)
    started.sample_material("水泥", "C-01", "routine", None, at(13), ctx)
    assert started.record_material_result("S3", False, LAB, None, at(14), ctx) == "batch_rejected"

    assert started.batches_awaiting_resample() == []
    started.complete_construction(date(2021, 4, 20), ctx)
    started.accept(date(2021, 4, 21), ctx)
    assert started.status == "accepted"


@pytest.mark.parametrize("fixture", ["registered", "completed"])
def test_cannot_take_a_sample_when_not_under_construction(request, ctx, at, fixture):
    project = request.getfixturevalue(fixture)

    with pytest.raises(errors.WrongStatus) as refused:
        project.sample_material("水泥", "C-01", "routine", None, at(12), ctx)

    assert refused.value.params["action"] == "sample"


def test_cannot_take_a_sample_before_construction_started_or_in_the_future(started, ctx, at):
    with pytest.raises(errors.DateOutOfOrder) as refused:
        started.sample_material("水泥", "C-01", "routine", None, at(28, month=2), ctx)
    assert refused.value.params["what"] == "sampled"
    assert refused.value.render("en") == "sampling date 2021-02-28 is before the start date 2021-03-01"
    assert refused.value.render("zh") == "取样日期 2021-02-28 早于开工日期 2021-03-01"

    with pytest.raises(errors.TimeInFuture):
        started.sample_material("水泥", "C-01", "routine", None, ctx.now + timedelta(minutes=5), ctx)


@pytest.mark.parametrize(
    ("args", "field", "reason"),
    [
        (("水泥", "C-01", "random", None), "regime", "choice"),
        (("", "C-01", "routine", None), "material", "empty"),
        (("水泥", "C" * 65, "routine", None), "batch", "too_long"),
        (("水泥", "C-01", "routine", "\t"), "witness", "empty"),
    ],
)
def test_a_sample_with_a_bad_field_is_refused(started, ctx, at, args, field, reason):
    with pytest.raises(errors.InvalidValue) as refused:
        started.sample_material(*args, at(12), ctx)

    assert refused.value.params["field"] == field
    assert refused.value.params["reason"] == reason
    assert started.collect_events() == []

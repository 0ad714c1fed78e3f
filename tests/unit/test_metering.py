"""Measurement entries (计量) and their corrections: values to the fen, never past the contract."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from renovation.domain import errors
from renovation.domain.compound import CompoundProject, Context
from renovation.domain.values import BoqItem


def test_a_measurement_records_item_period_quantity_unit_price_and_value(started, ctx, only_event):
    entry_id = started.measure("010101", "2021-04", Decimal("120.5"), ctx)

    event = only_event(started)
    assert isinstance(event, CompoundProject.QuantityMeasured)
    assert entry_id == event.entry_id == "M1"
    assert event.item == "010101"
    assert event.period == "2021-04"
    assert event.quantity == Decimal("120.5")
    assert event.unit_price == Decimal("85.5")
    assert event.value == Decimal("10302.75")
    assert event.user == ctx.user
    assert started.entries["M1"].value == Decimal("10302.75")
    assert started.cumulative("010101") == Decimal("120.5")
    assert started.metered_value() == Decimal("10302.75")


@pytest.mark.parametrize(
    ("quantity", "unit_price", "value"),
    [
        (Decimal("0.5"), Decimal("0.01"), Decimal("0.01")),  # 0.005 rounds up, not to even
        (Decimal("2.5"), Decimal("0.01"), Decimal("0.03")),  # 0.025: half-even would say 0.02
        (Decimal("10.005"), Decimal("85.5"), Decimal("855.43")),  # 855.4275
        (Decimal("1.001"), Decimal("62.35"), Decimal("62.41")),  # 62.41235
        (Decimal("3"), Decimal("33.3333"), Decimal("100.00")),  # 99.9999
        (Decimal("7"), Decimal("310"), Decimal("2170.00")),
    ],
)
def test_the_value_of_an_entry_is_rounded_half_up_to_the_fen(registered, ctx, quantity, unit_price, value):
    registered.set_bill_of_quantities([BoqItem("01", "试验", "m", Decimal("100"), unit_price)], ctx)
    registered.start_construction(date(2021, 3, 1), ctx)
    registered.collect_events()

    registered.measure("01", "2021-04", quantity, ctx)

    [event] = registered.collect_events()
    assert event.value == value
    assert event.value.as_tuple().exponent == -2


def test_entries_are_numbered_in_the_order_they_are_made(started, ctx):
    ids = [
        started.measure("010101", "2021-03", Decimal("1"), ctx),
        started.measure("010102", "2021-04", Decimal("1"), ctx),
        started.measure("010101", "2021-05", Decimal("1"), ctx),
    ]

    assert ids == ["M1", "M2", "M3"]
    assert started.cumulative("010101") == 2


def test_metering_may_reach_the_contract_quantity_exactly(started, ctx):
    started.measure("010102", "2021-03", Decimal("400"), ctx)
    started.measure("010102", "2021-04", Decimal("0.5"), ctx)

    assert started.cumulative("010102") == started.boq["010102"].quantity


def test_metering_beyond_the_contract_quantity_says_contract_cumulative_and_excess(started, ctx):
    started.measure("010102", "2021-03", Decimal("300"), ctx)
    started.collect_events()

    with pytest.raises(errors.MeteringExceedsContract) as refused:
        started.measure("010102", "2021-04", Decimal("100.75"), ctx)

    assert refused.value.params == {
        "item": "010102", "contract": "400.5", "cumulative": "300", "quantity": "100.75", "excess": "0.25",
    }
    assert "400.5" in str(refused.value) and "0.25" in str(refused.value)
    assert started.collect_events() == []


def test_metering_beyond_the_original_quantity_is_allowed_after_a_variation_raised_it(started, ctx):
    started.measure("020101", "2021-03", Decimal("120"), ctx)
    with pytest.raises(errors.MeteringExceedsContract):
        started.measure("020101", "2021-04", Decimal("30"), ctx)

    started.approve_variation("020101", Decimal("150"), "增加支管", ctx)
    started.measure("020101", "2021-04", Decimal("30"), ctx)

    assert started.cumulative("020101") == Decimal("150")
    assert [type(e).__name__ for e in started.collect_events()] == [
        "QuantityMeasured", "VariationApproved", "QuantityMeasured",
    ]


def test_metering_continues_after_completion(completed, ctx):
    assert completed.measure("010101", "2021-04", Decimal("5"), ctx) == "M1"


@pytest.mark.parametrize("fixture", ["registered", "accepted"])
def test_cannot_meter_outside_construction_and_completion(request, ctx, fixture):
    project = request.getfixturevalue(fixture)

    with pytest.raises(errors.WrongStatus) as refused:
        project.measure("010101", "2021-04", Decimal("5"), ctx)

    assert refused.value.params["action"] == "measure"
    assert refused.value.params["required"] == ["under_construction", "completed"]


def test_cannot_meter_an_item_not_in_the_bill_of_quantities(started, ctx):
    with pytest.raises(errors.UnknownItem) as refused:
        started.measure("01010", "2021-04", Decimal("5"), ctx)

    assert refused.value.params["item"] == "01010"


def test_cannot_meter_without_a_bill_of_quantities(registered, ctx):
    registered.start_construction(date(2021, 3, 1), ctx)

    with pytest.raises(errors.BillOfQuantitiesMissing):
        registered.measure("010101", "2021-04", Decimal("5"), ctx)


@pytest.mark.parametrize(
    ("quantity", "reason"),
    [
        (Decimal("0"), "not_positive"),
        (Decimal("-1"), "not_positive"),
        (Decimal("sNaN"), "not_finite"),
        (Decimal("-Infinity"), "not_finite"),
        (Decimal("0.12345"), "too_precise"),
    ],
)
def test_cannot_meter_a_quantity_that_is_not_a_positive_number(started, ctx, quantity, reason):
    with pytest.raises(errors.InvalidValue) as refused:
        started.measure("010101", "2021-04", quantity, ctx)

    assert refused.value.params["field"] == "quantity"
    assert refused.value.params["reason"] == reason


@pytest.mark.parametrize(
    "period", ["2021-4", "2021/04", "2021-13", "2021-00", "21-04", "1899-12", "2021-04 "]
)
def test_cannot_meter_a_period_that_is_not_year_dash_month(started, ctx, period):
    with pytest.raises(errors.InvalidValue) as refused:
        started.measure("010101", period, Decimal("1"), ctx)

    assert refused.value.params == {"field": "period", "value": period, "reason": "bad_period"}


def test_cannot_meter_a_period_before_construction_started(started, ctx):
    with pytest.raises(errors.PeriodBeforeStart) as refused:
        started.measure("010101", "2021-02", Decimal("1"), ctx)

    assert refused.value.params == {"period": "2021-02", "start": "2021-03"}


def test_cannot_meter_a_period_that_has_not_begun(started, ctx):
    with pytest.raises(errors.PeriodInFuture) as refused:
        started.measure("010101", "2021-06", Decimal("1"), ctx)

    assert refused.value.params == {"period": "2021-06", "current": "2021-05"}


def test_the_current_period_follows_the_recording_clock(started, ctx):
    next_year = Context(user="auditor", now=ctx.now.replace(year=2022, month=1, day=3))

    assert started.measure("010101", "2022-01", Decimal("1"), next_year) == "M1"


# ---------------------------------------------------------------- corrections


def test_a_correction_references_the_entry_and_keeps_the_original_in_the_history(started, ctx):
    started.measure("010101", "2021-04", Decimal("120"), ctx)
    started.correct_measurement("M1", Decimal("102.5"), "  复核少计 ", ctx)

    measured, corrected = started.collect_events()
    assert isinstance(measured, CompoundProject.QuantityMeasured)
    assert measured.quantity == Decimal("120")
    assert measured.value == Decimal("10260.00")
    assert isinstance(corrected, CompoundProject.MeasurementCorrected)
    assert corrected.entry_id == "M1"
    assert corrected.item == "010101"
    assert corrected.period == "2021-04"
    assert corrected.previous_quantity == Decimal("120")
    assert corrected.quantity == Decimal("102.5")
    assert corrected.value == Decimal("8763.75")
    assert corrected.reason == "复核少计"
    assert corrected.originator_version == measured.originator_version + 1
    assert started.entries["M1"].quantity == Decimal("102.5")
    assert started.metered_value() == Decimal("8763.75")


def test_a_correction_of_a_correction_starts_from_the_corrected_quantity(started, ctx):
    started.measure("010101", "2021-04", Decimal("120"), ctx)
    started.correct_measurement("M1", Decimal("100"), "复核", ctx)
    started.correct_measurement("M1", Decimal("110"), "再复核", ctx)

    events = started.collect_events()
    assert [e.previous_quantity for e in events[1:]] == [Decimal("120"), Decimal("100")]
    assert started.cumulative("010101") == Decimal("110")


def test_a_correction_may_bring_an_entry_to_zero(started, ctx):
    started.measure("010101", "2021-04", Decimal("12"), ctx)

    started.correct_measurement("M1", Decimal("0"), "重复计量", ctx)

    assert started.entries["M1"].value == Decimal("0.00")
    assert started.metered_value() == 0


def test_a_correction_counts_the_entry_once_against_the_contract(started, ctx):
    started.measure("010102", "2021-03", Decimal("300"), ctx)
    started.measure("010102", "2021-04", Decimal("100"), ctx)

    started.correct_measurement("M2", Decimal("100.5"), "补计", ctx)
    with pytest.raises(errors.MeteringExceedsContract) as refused:
        started.correct_measurement("M2", Decimal("101"), "补计", ctx)

    params = refused.value.params
    assert (params["item"], params["quantity"], params["excess"]) == ("010102", "101", "0.5")
    assert Decimal(params["cumulative"]) == Decimal("300")  # the other entry only


def test_cannot_correct_an_unknown_entry(started, ctx):
    with pytest.raises(errors.UnknownEntry) as refused:
        started.correct_measurement("M9", Decimal("1"), "复核", ctx)

    assert refused.value.params == {"code": "JM", "entry_id": "M9"}


def test_cannot_correct_an_entry_to_the_quantity_it_has(started, ctx):
    started.measure("010101", "2021-04", Decimal("12"), ctx)
    started.collect_events()

    with pytest.raises(errors.CorrectionUnchanged) as refused:
        started.correct_measurement("M1", Decimal("12.000"), "复核", ctx)

    assert refused.value.params == {"entry_id": "M1", "quantity": "12.000"}
    assert started.collect_events() == []


@pytest.mark.parametrize("reason", ["", " \t "])
def test_a_correction_needs_a_reason(started, ctx, reason):
    started.measure("010101", "2021-04", Decimal("12"), ctx)

    with pytest.raises(errors.ReasonRequired):
        started.correct_measurement("M1", Decimal("10"), reason, ctx)


def test_a_correction_cannot_be_negative(started, ctx):
    started.measure("010101", "2021-04", Decimal("12"), ctx)

    with pytest.raises(errors.InvalidValue) as refused:
        started.correct_measurement("M1", Decimal("-1"), "复核", ctx)

    assert refused.value.params["reason"] == "negative"


def test_cannot_correct_metering_once_the_compound_is_accepted(started, ctx):
    started.measure("010101", "2021-04", Decimal("12"), ctx)
    started.complete_construction(date(2021, 4, 28), ctx)
    started.accept(date(2021, 4, 29), ctx)

    with pytest.raises(errors.WrongStatus) as refused:
        started.correct_measurement("M1", Decimal("10"), "复核", ctx)

    assert refused.value.params["action"] == "correct"

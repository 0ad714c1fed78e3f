"""Bill of quantities (工程量清单) and variations (变更)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from renovation.domain import errors
from renovation.domain.compound import CompoundProject
from renovation.domain.values import BoqItem


def test_setting_the_bill_of_quantities_records_every_item(registered, boq_items, ctx, only_event):
    registered.set_bill_of_quantities(boq_items, ctx)

    event = only_event(registered)
    assert isinstance(event, CompoundProject.BillOfQuantitiesSet)
    assert event.items == boq_items
    assert event.user == ctx.user
    assert list(registered.boq) == ["010101", "010102", "020101"]
    assert registered.boq["010102"].quantity == Decimal("400.5")


def test_the_bill_of_quantities_may_be_replaced_while_nothing_is_metered(started, ctx):
    item = BoqItem("030101", "绿化", "m2", Decimal("50"), Decimal("40"))

    started.set_bill_of_quantities([item], ctx)

    assert started.boq == {"030101": item}


def test_cannot_replace_the_bill_of_quantities_once_metering_refers_to_it(started, boq_items, ctx):
    started.measure("010101", "2021-04", Decimal("10"), ctx)
    started.collect_events()

    with pytest.raises(errors.BillOfQuantitiesLocked) as refused:
        started.set_bill_of_quantities(boq_items, ctx)

    assert refused.value.params == {"code": "JM", "entries": 1}
    assert started.collect_events() == []


def test_cannot_set_an_empty_bill_of_quantities(registered, ctx):
    with pytest.raises(errors.InvalidValue) as refused:
        registered.set_bill_of_quantities([], ctx)

    assert refused.value.params == {"field": "items", "value": "", "reason": "empty"}


def test_cannot_list_an_item_twice(registered, boq_items, ctx):
    with pytest.raises(errors.DuplicateItem) as refused:
        registered.set_bill_of_quantities([*boq_items, replace(boq_items[1], description="重复")], ctx)

    assert refused.value.params == {"item": "010102"}
    assert registered.collect_events() == []


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        ({"code": " "}, "item", "empty"),
        ({"code": "X" * 33}, "item", "too_long"),
        ({"description": ""}, "description", "empty"),
        ({"description": "保温\x00板"}, "description", "control_character"),
        ({"unit": "m2\u200b"}, "unit", "control_character"),
        ({"unit": "立方米" * 6}, "unit", "too_long"),
        ({"quantity": Decimal("0")}, "quantity", "not_positive"),
        ({"quantity": Decimal("1.00001")}, "quantity", "too_precise"),
        ({"unit_price": Decimal("-0.01")}, "unit_price", "negative"),
        ({"unit_price": Decimal("2e12")}, "unit_price", "too_large"),
    ],
)
def test_cannot_set_an_item_with_a_bad_field(registered, boq_items, ctx, change, field, reason):
    with pytest.raises(errors.InvalidValue) as refused:
        registered.set_bill_of_quantities([replace(boq_items[0], **change)], ctx)

    assert refused.value.params["field"] == field
    assert refused.value.params["reason"] == reason


def test_an_item_may_have_a_zero_unit_price(registered, boq_items, ctx):
    registered.set_bill_of_quantities([replace(boq_items[0], unit_price=Decimal("0"))], ctx)

    assert registered.boq["010101"].unit_price == 0


def test_cannot_set_the_bill_of_quantities_of_an_accepted_compound(accepted, boq_items, ctx):
    with pytest.raises(errors.WrongStatus) as refused:
        accepted.set_bill_of_quantities(boq_items, ctx)

    assert refused.value.params["action"] == "set_bill_of_quantities"
    assert refused.value.params["required"] == ["registered", "under_construction", "completed"]


# ---------------------------------------------------------------- variations (变更)


def test_a_variation_sets_the_new_contract_quantity_and_keeps_the_previous_one(started, ctx, only_event):
    started.approve_variation("010101", Decimal("1200"), "  增加北侧外墙  ", ctx)

    event = only_event(started)
    assert isinstance(event, CompoundProject.VariationApproved)
    assert event.item == "010101"
    assert event.previous_quantity == Decimal("1000")
    assert event.quantity == Decimal("1200")
    assert event.reason == "增加北侧外墙"
    assert started.boq["010101"].quantity == Decimal("1200")
    assert started.boq["010101"].unit_price == Decimal("85.5")


def test_a_variation_may_lower_the_contract_quantity_down_to_what_is_metered(started, ctx):
    started.measure("010101", "2021-04", Decimal("600"), ctx)

    started.approve_variation("010101", Decimal("600"), "取消南侧", ctx)

    assert started.boq["010101"].quantity == Decimal("600")


def test_a_variation_below_the_metered_quantity_is_refused(started, ctx):
    started.measure("010101", "2021-03", Decimal("400"), ctx)
    started.measure("010101", "2021-04", Decimal("200.25"), ctx)
    started.collect_events()

    with pytest.raises(errors.VariationBelowMetered) as refused:
        started.approve_variation("010101", Decimal("600.2"), "取消南侧", ctx)

    assert refused.value.params == {"item": "010101", "quantity": "600.2", "cumulative": "600.25"}
    assert started.collect_events() == []
    assert started.boq["010101"].quantity == Decimal("1000")


def test_a_variation_to_the_same_quantity_is_refused(started, ctx):
    with pytest.raises(errors.VariationUnchanged) as refused:
        started.approve_variation("010102", Decimal("400.50"), "无变化", ctx)

    assert refused.value.params == {"item": "010102", "quantity": "400.50"}


@pytest.mark.parametrize("reason", ["", "   "])
def test_a_variation_needs_a_reason(started, ctx, reason):
    with pytest.raises(errors.ReasonRequired) as refused:
        started.approve_variation("010101", Decimal("1200"), reason, ctx)

    assert refused.value.params == {}


def test_a_variation_reason_is_at_most_five_hundred_characters(started, ctx):
    with pytest.raises(errors.InvalidValue) as refused:
        started.approve_variation("010101", Decimal("1200"), "因" * 501, ctx)

    assert refused.value.params["reason"] == "too_long"
    assert refused.value.params["limit"] == 500


@pytest.mark.parametrize("quantity", [Decimal("0"), Decimal("-5")])
def test_a_variation_cannot_remove_an_item(started, ctx, quantity):
    with pytest.raises(errors.InvalidValue) as refused:
        started.approve_variation("010101", quantity, "取消", ctx)

    assert refused.value.params["reason"] == "not_positive"


def test_a_variation_of_an_unknown_item_names_the_known_items(started, ctx):
    with pytest.raises(errors.UnknownItem) as refused:
        started.approve_variation("999999", Decimal("1"), "新增", ctx)

    assert refused.value.params == {"code": "JM", "item": "999999", "known": "010101, 010102, 020101"}


def test_a_variation_needs_a_bill_of_quantities(registered, ctx):
    with pytest.raises(errors.BillOfQuantitiesMissing) as refused:
        registered.approve_variation("010101", Decimal("1"), "新增", ctx)

    assert refused.value.params == {"code": "JM"}


def test_a_variation_is_refused_once_the_compound_is_accepted(accepted, ctx):
    with pytest.raises(errors.WrongStatus) as refused:
        accepted.approve_variation("010101", Decimal("1200"), "增加", ctx)

    assert refused.value.params["action"] == "approve_variation"

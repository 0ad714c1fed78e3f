from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from renovation.domain import errors
from renovation.domain.compound import CompoundProject
from renovation.domain.values import RESERVED_CODES, Status


def test_registering_a_compound_records_who_registered_it_and_its_contract(register, ctx):
    project = register(code=" jm ", name=" 吉明小区 ", contractor=" 辽源建工 ")

    [event] = project.collect_events()
    assert isinstance(event, CompoundProject.Registered)
    assert event.user == "wang.supervisor"
    assert event.timestamp == ctx.now
    assert event.code == "JM"
    assert event.name == "吉明小区"
    assert event.district == "龙山区"
    assert event.contractor == "辽源建工"
    assert event.households == 165
    assert event.contract_value == Decimal("4200000")
    assert event.planned_start == date(2021, 3, 1)
    assert event.planned_finish == date(2021, 10, 31)
    assert project.status == Status.REGISTERED
    assert project.code == "JM"


def test_the_aggregate_id_follows_from_the_code_whatever_its_case(register):
    project = register(code="hh-01")

    assert project.id == CompoundProject.create_id("HH-01") == CompoundProject.create_id(" hh-01 ")
    assert project.id != CompoundProject.create_id("HH-02")


@pytest.mark.parametrize("code", ["", "   ", "吉明", "JM 01", "JM_01", "A" * 17, "JM/1"])
def test_cannot_register_a_code_that_is_not_letters_digits_or_dash(register, code):
    with pytest.raises(errors.InvalidValue) as refused:
        register(code=code)

    assert refused.value.params["field"] == "code"
    assert refused.value.params["reason"] == "bad_code"


@pytest.mark.parametrize("code", ["1", "A" * 16, "KX-9301", "9301"])
def test_a_code_may_be_one_to_sixteen_letters_digits_or_dashes(register, code):
    assert register(code=code).code == code.upper()


@pytest.mark.parametrize("code", sorted(RESERVED_CODES))
def test_cannot_register_a_code_that_is_a_subcommand_name(register, code):
    with pytest.raises(errors.InvalidValue) as refused:
        register(code=code.upper())

    assert refused.value.params["reason"] == "reserved_code"


@pytest.mark.parametrize("field", ["name", "district", "contractor"])
def test_cannot_register_without_a_name_district_or_contractor(register, field):
    with pytest.raises(errors.InvalidValue) as refused:
        register(**{field: "  "})

    assert refused.value.params == {"field": field, "value": "  ", "reason": "empty"}


def test_cannot_register_a_name_longer_than_one_hundred_characters(register):
    register(name="小" * 100)

    with pytest.raises(errors.InvalidValue) as refused:
        register(name="小" * 101)

    assert refused.value.params["reason"] == "too_long"
    assert refused.value.params["limit"] == 100


@pytest.mark.parametrize("households", [0, -1])
def test_cannot_register_a_compound_without_households(register, households):
    with pytest.raises(errors.InvalidValue) as refused:
        register(households=households)

    assert refused.value.params["field"] == "households"
    assert refused.value.params["reason"] == "not_positive"


def test_cannot_register_an_absurd_number_of_households(register):
    register(households=100_000)

    with pytest.raises(errors.InvalidValue) as refused:
        register(households=100_001)

    assert refused.value.params["reason"] == "too_large"
    assert refused.value.params["limit"] == 100_000


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (Decimal("0"), "not_positive"),
        (Decimal("-1"), "not_positive"),
        (Decimal("NaN"), "not_finite"),
        (Decimal("Infinity"), "not_finite"),
        (Decimal("1e12") + 1, "too_large"),
        (Decimal("0.00001"), "too_precise"),
    ],
)
def test_cannot_register_a_contract_value_that_is_not_a_sensible_amount(register, value, reason):
    with pytest.raises(errors.InvalidValue) as refused:
        register(contract_value=value)

    assert refused.value.params["field"] == "contract_value"
    assert refused.value.params["reason"] == reason


def test_cannot_register_a_contract_value_given_as_a_float(register):
    with pytest.raises(errors.InvalidValue) as refused:
        register(contract_value=4200000.0)

    assert refused.value.params["reason"] == "not_finite"


def test_cannot_register_a_planned_finish_before_the_planned_start(register):
    with pytest.raises(errors.DateOutOfOrder) as refused:
        register(planned_start=date(2021, 6, 1), planned_finish=date(2021, 5, 31))

    assert refused.value.params == {
        "what": "planned_finish", "day": "2021-05-31", "before": "planned_start", "other": "2021-06-01",
    }


def test_a_compound_may_be_planned_to_start_and_finish_on_one_day(register):
    project = register(planned_start=date(2021, 6, 1), planned_finish=date(2021, 6, 1))

    assert project.planned_finish == project.planned_start

"""The input classes: pydantic-core validation of each field, defaults, read-only instances."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic_core import ValidationError

from renovation.cli.inputs import CountInput, FindingInput, InspectInput, RegisterInput


def test_fields_are_parsed_and_optional_ones_default_to_none() -> None:
    data = InspectInput.validate_dict({"code": " jm ", "due": "2021-05-12"})

    assert (data.code, data.at, data.due) == ("JM", None, date(2021, 5, 12))
    assert data.as_dict() == {"code": "JM", "at": None, "due": date(2021, 5, 12)}
    assert data == InspectInput.validate_dict({"code": "JM", "due": "2021-05-12", "at": None})


def test_each_bad_field_is_named_with_pydantics_message() -> None:
    with pytest.raises(ValidationError) as raised:
        RegisterInput.validate_dict({"code": "JM", "name": "吉明小区", "district": "", "contractor": "x",
                                     "households": "3.5", "contract_value": "1.001",
                                     "planned_start": "2021-03-01", "planned_finish": "2021-09-30"})

    found = {(error["loc"][0], error["msg"]) for error in raised.value.errors()}
    assert found == {
        ("district", "Value error, must not be empty"),
        ("households", "Input should be a valid integer, unable to parse string as an integer"),
        ("contract_value", "Value error, '1.001' has more than 2 decimal places"),
    }


def test_integers_keep_their_bounds_and_choices_their_values() -> None:
    with pytest.raises(ValidationError, match="greater than 0"):
        CountInput.validate_dict({"code": "JM", "count": 0})
    assert CountInput.validate_dict({"code": "JM", "count": "12"}).count == 12
    finding = FindingInput.validate_dict({"category": "safety", "severity": "major", "description": "无安全网"})
    assert (finding.category, finding.location) == ("safety", None) and type(finding.category) is str
    with pytest.raises(ValidationError, match="Input should be 'minor', 'major' or 'critical'"):
        FindingInput.validate_dict({"category": "safety", "severity": "grave", "description": "无安全网"})


def test_unknown_and_missing_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        InspectInput.validate_dict({"code": "JM", "kind": "patrol"})
    with pytest.raises(ValidationError, match="Field required"):
        InspectInput.validate_dict({})


def test_an_input_is_read_only() -> None:
    data = CountInput.validate_dict({"code": "JM", "count": 1})

    with pytest.raises(AttributeError, match="read-only"):
        data.count = 2
    assert data.count == 1 and not isinstance(data.count, Decimal)

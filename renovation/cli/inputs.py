"""Pydantic models for everything typed at the command line or read from a file.

A command validates its input with one of these before it touches the store, so bad input exits 2
with one line and writes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, TypeVar

import click
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from renovation.domain.values import (
    CODE_PATTERN,
    FIRST_YEAR,
    LAST_YEAR,
    MAX_AMOUNT,
    MAX_DECIMAL_PLACES,
    RESERVED_CODES,
    Category,
    Severity,
    canonical,
    is_period,
)

M = TypeVar("M", bound=BaseModel)

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_IDENTIFIER = re.compile(r"^[A-Z]\d{1,9}$")


def parse_decimal(raw: Any, *, places: int = MAX_DECIMAL_PLACES, allow_zero: bool = False) -> Decimal:
    """A quantity or an amount: a plain finite number, not negative, not absurd."""
    if isinstance(raw, bool) or not isinstance(raw, (str, int, Decimal)):
        raise ValueError(f"{raw!r} is not a number")
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{raw!r} is not a finite number")
    if number < 0:
        raise ValueError(f"{raw!r} is negative")
    if number == 0 and not allow_zero:
        raise ValueError(f"{raw!r} must be greater than zero")
    if number > MAX_AMOUNT:
        raise ValueError(f"{raw!r} is larger than {MAX_AMOUNT:f}")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise ValueError(f"{raw!r} has more than {places} decimal places")
    return canonical(number)


def parse_score(raw: Any) -> Decimal:
    number = parse_decimal(raw, places=2, allow_zero=True)
    if number > 100:
        raise ValueError(f"{raw!r} is not a score from 0 to 100")
    return number


def parse_date(raw: Any) -> date:
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    text = str(raw).strip()
    if not _DATE.match(text):
        raise ValueError(f"{raw!r} is not a date (YYYY-MM-DD)")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{raw!r} is not a date (YYYY-MM-DD)") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValueError(f"{raw!r} is not a date from {FIRST_YEAR} to {LAST_YEAR}")
    return day


def parse_datetime(raw: Any) -> datetime:
    """ISO 8601, with an offset or else in the user's zone."""
    from renovation.clock import local_zone

    if isinstance(raw, datetime):
        moment = raw
    else:
        try:
            moment = datetime.fromisoformat(str(raw).strip())
        except ValueError:
            raise ValueError(f"{raw!r} is not a date-time (ISO 8601, e.g. 2021-02-28T06:30)") from None
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise ValueError(f"{raw!r} is not a date-time from {FIRST_YEAR} to {LAST_YEAR}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=local_zone())
    return moment


def parse_period(raw: Any) -> str:
    text = str(raw).strip()
    if not is_period(text):
        raise ValueError(f"{raw!r} is not a period (YYYY-MM, month 01-12)")
    return text


def period_option(raw: str | None, option: str = "--period") -> str | None:
    """An optional ``--period`` of a read command, or a one-line usage error."""
    if raw is None:
        return None
    try:
        return parse_period(raw)
    except ValueError as error:
        raise click.UsageError(f"{option}: {error}") from None


def parse_code(raw: Any) -> str:
    text = str(raw).strip().upper()
    if not CODE_PATTERN.match(text):
        raise ValueError(f"{raw!r} is not a compound code (1-16 letters, digits or '-')")
    if text.lower() in RESERVED_CODES:
        raise ValueError(f"{raw!r} is a subcommand's name and cannot be a compound code")
    return text


def parse_identifier(raw: Any) -> str:
    """An id the tracker gave out: a letter and digits (``M3``, ``F7``, ``S2``, ``T1``), any case."""
    text = str(raw).strip().upper()
    if not _IDENTIFIER.match(text):
        raise ValueError(f"{raw!r} is not an id (a letter and digits, e.g. M3)")
    return text


def text_parser(max_length: int) -> Any:
    def parse(raw: Any) -> str:
        if not isinstance(raw, str):
            raise ValueError(f"{raw!r} is not text")
        text = raw.strip()
        if not text:
            raise ValueError("must not be empty")
        if len(text) > max_length:
            raise ValueError(f"is longer than {max_length} characters")
        if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in text):
            raise ValueError("contains a control character")
        return text

    return BeforeValidator(parse)


Quantity = Annotated[Decimal, BeforeValidator(parse_decimal)]
QuantityOrZero = Annotated[Decimal, BeforeValidator(lambda raw: parse_decimal(raw, allow_zero=True))]
Money = Annotated[Decimal, BeforeValidator(lambda raw: parse_decimal(raw, places=2))]
Price = Annotated[Decimal, BeforeValidator(lambda raw: parse_decimal(raw, allow_zero=True))]
ScoreValue = Annotated[Decimal, BeforeValidator(parse_score)]
Day = Annotated[date, BeforeValidator(parse_date)]
Moment = Annotated[datetime, BeforeValidator(parse_datetime)]
Period = Annotated[str, BeforeValidator(parse_period)]
Code = Annotated[str, BeforeValidator(parse_code)]
Name = Annotated[str, text_parser(100)]
ShortText = Annotated[str, text_parser(64)]
Text = Annotated[str, text_parser(500)]
LongText = Annotated[str, text_parser(1000)]
Identifier = Annotated[str, BeforeValidator(parse_identifier)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def validate(model: type[M], **values: Any) -> M:
    """The model, or a click usage error (exit 2) naming the first bad option in one line."""
    try:
        return model(**values)
    except ValidationError as error:
        first = error.errors()[0]
        where = param_name(str(first["loc"][0])) if first["loc"] else "input"
        message = first["msg"].removeprefix("Value error, ")
        raise click.UsageError(f"{where}: {message}") from None


def param_name(field: str) -> str:
    """What the user typed for a field: its option (``on`` is ``--date``) or its argument (``CODE``)."""
    ctx = click.get_current_context(silent=True)
    for param in ctx.command.params if ctx else ():
        if param.name == field:
            return param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
    return "--" + field.replace("_", "-")


class RegisterInput(Input):
    code: Code
    name: Name
    district: Name
    contractor: Name
    households: int = Field(gt=0, le=100_000)
    contract_value: Money
    planned_start: Day
    planned_finish: Day


class BoqRow(Input):
    """One row of a bill-of-quantities CSV: item,description,unit,quantity,unit_price."""

    item: Annotated[str, text_parser(32)]
    description: Text
    unit: Annotated[str, text_parser(16)]
    quantity: Quantity
    unit_price: Price


class FindingInput(Input):
    category: Category
    severity: Severity
    description: Text
    location: Name | None = None


def parse_finding(spec: str) -> FindingInput:
    """``CATEGORY:SEVERITY:TEXT[@LOCATION]``, e.g. ``safety:major:脚手架未挂安全网@3号楼``."""
    parts = spec.split(":", 2)
    if len(parts) != 3:
        raise click.UsageError(
            f"--finding: {spec!r} is not CATEGORY:SEVERITY:TEXT (e.g. quality:minor:墙面空鼓)"
        )
    category, severity, text = parts
    location = None
    if "@" in text:
        text, location = text.rsplit("@", 1)
    try:
        return FindingInput.model_validate(
            {"category": category.strip().lower(), "severity": severity.strip().lower(),
             "description": text, "location": location}
        )
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "finding"
        raise click.UsageError(f"--finding {spec!r}: {field}: {first['msg'].removeprefix('Value error, ')}") from None


class InspectInput(Input):
    code: Code
    at: Moment | None = None
    due: Day | None = None


class FindingActionInput(Input):
    code: Code
    finding_id: Identifier
    note: Text | None = None
    at: Moment | None = None


class SampleInput(Input):
    code: Code
    material: Name
    batch: ShortText
    witness: Name | None = None
    at: Moment | None = None


class ResultInput(Input):
    code: Code
    sample_id: Identifier
    lab: Name
    report: ShortText | None = None
    at: Moment | None = None


class MeterInput(Input):
    code: Code
    item: Annotated[str, text_parser(32)]
    period: Period
    quantity: Quantity


class CorrectInput(Input):
    code: Code
    entry_id: Identifier
    quantity: QuantityOrZero
    reason: Text


class VariationInput(Input):
    code: Code
    item: Annotated[str, text_parser(32)]
    quantity: Quantity
    reason: Text


class ScoreInput(Input):
    code: Code
    period: Period
    quality: ScoreValue
    safety: ScoreValue
    progress: ScoreValue
    civilized: ScoreValue
    satisfaction: ScoreValue
    reason: Text | None = None


class FeedbackInput(Input):
    code: Code
    text: LongText
    at: Moment | None = None


class ResolveInput(Input):
    code: Code
    ticket_id: Identifier
    note: Text
    at: Moment | None = None


class CodeInput(Input):
    code: Code


class DayInput(Input):
    code: Code
    on: Day | None = None
    operator: Name | None = None


class CountInput(Input):
    code: Code
    count: int = Field(gt=0, le=10_000)


class LedgerInput(Input):
    code: Code
    item: Annotated[str, text_parser(32)] | None = None
    period: Period | None = None

"""What is typed at the command line or read from a file, validated by pydantic.

A command validates its input with one of these before it touches the store, so bad input exits 2
with one line and writes nothing. The parsers here only turn text into values (a number, a date);
every limit and its message is the domain's (``renovation.domain.rules``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, ClassVar, Self, TypeVar, cast

import click
from pydantic_core import CoreSchema, SchemaValidator, ValidationError
from pydantic_core import core_schema as cs
from pydantic_core.core_schema import TypedDictField

from renovation.domain import rules
from renovation.domain.errors import InvalidValue
from renovation.domain.values import (
    FIRST_YEAR,
    LAST_YEAR,
    MAX_DECIMAL_PLACES,
    Category,
    Severity,
    canonical,
    day_of,
    normalise_code,
)

T = TypeVar("T")
InputT = TypeVar("InputT", bound="Input")

#: A date-time as the help shows it: the date, then T (or a space) and the hour and minute; not the
#: other forms ISO 8601 allows (20210531, 2021-W22), which read as the start of a day.
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", re.ASCII)
#: A letter and digits (M3, F7, S2, T1), or a blind sample's B and hex digits (B3F9A1C).
_IDENTIFIER = re.compile(r"(?:[A-Z][0-9]{1,9}|B[0-9A-F]{6,32})\Z")


def ruled(raw: Any, check: Callable[..., None], *args: Any, **kwargs: Any) -> None:
    """Run one of the domain's checks on a value parsed from ``raw``; a broken rule becomes the
    ValueError a parser raises, in the domain's words, quoting ``raw`` as typed (the field is named by
    whoever reports it)."""
    try:
        check(*args, **kwargs)
    except InvalidValue as error:
        raise ValueError(error.phrase("en", shown=raw)) from None


def parse_decimal(raw: Any, *, places: int = MAX_DECIMAL_PLACES, allow_zero: bool = False) -> Decimal:
    """A quantity or an amount: a plain number, then the domain's rule for amounts."""
    number = _number(raw)
    ruled(raw, rules.check_amount, "value", number, allow_zero=allow_zero, places=places)
    return canonical(number)


def _number(raw: Any) -> Decimal:
    # Decimal would read "١٢" (digits of other scripts) as 12: only ASCII text is a number here.
    foreign = isinstance(raw, str) and not raw.isascii()
    if isinstance(raw, bool) or not isinstance(raw, (str, int, Decimal)) or foreign:
        raise ValueError(f"{raw!r} is not a number")
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        raise ValueError(f"{raw!r} is not a number") from None
    return abs(number) if number.is_zero() else number  # "-0" typed is zero, not a negative number


def parse_score(raw: Any) -> Decimal:
    number = _number(raw)
    ruled(raw, rules.check_score, "score", number, places=rules.SCORE_PLACES)
    return canonical(number)


def parse_date(raw: Any) -> date:
    return day_of(raw)


def parse_datetime(raw: Any) -> datetime:
    """ISO 8601, with an offset or else in the user's zone."""
    from renovation.services.clock import local_zone

    if isinstance(raw, datetime):
        moment = raw
    else:
        if not _DATETIME.match(str(raw).strip()):
            raise ValueError(f"{raw!r} is not a date-time (ISO 8601, e.g. 2021-02-28T06:30)")
        try:
            moment = datetime.fromisoformat(str(raw).strip())
        except ValueError:
            raise ValueError(f"{raw!r} is not a date-time (ISO 8601, e.g. 2021-02-28T06:30)") from None
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise ValueError(f"{raw!r} is not a date-time from {FIRST_YEAR} to {LAST_YEAR}")
    if moment.tzinfo is None:
        zone = local_zone()
        moment = moment.replace(tzinfo=zone)
        # A wall time skipped when the clocks went forward maps to no instant: refuse it rather
        # than store an hour that never was (zoneinfo would quietly read it with one offset).
        if moment.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != moment.replace(tzinfo=None):
            raise ValueError(f"{raw!r} does not exist in {zone} (the clocks went forward)")
    return moment


def parse_period(raw: Any) -> str:
    text = str(raw).strip()
    ruled(raw, rules.check_period, text)
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
    text = normalise_code(str(raw))
    ruled(raw, rules.check_code, text)
    return text


def parse_identifier(raw: Any) -> str:
    """An id the tracker gave out: a letter and digits (``M3``, ``F7``, ``S2``, ``T1``), or a blind sample's
    B and hex digits (``B3F9A1C``), any case."""
    text = str(raw).strip().upper()
    if not _IDENTIFIER.match(text):
        raise ValueError(f"{raw!r} is not an id (a letter and digits, e.g. M3; a blind sample's: B and hex digits)")
    return text


def parse_text(raw: Any, max_length: int) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"{raw!r} is not text")
    text = raw.strip()
    ruled(raw, rules.check_text, "text", text, max_length=max_length)
    return text


def _text(max_length: int) -> Callable[[Any], str]:
    def parse(raw: Any) -> str:
        return parse_text(raw, max_length)

    return parse


parse_name, parse_short_text, parse_item = _text(rules.NAME), _text(rules.LABEL), _text(rules.ITEM)
parse_long_text, parse_description, parse_unit = _text(rules.LONG_TEXT), _text(rules.DESCRIPTION), _text(rules.UNIT)


def parse_quantity_or_zero(raw: Any) -> Decimal:
    return parse_decimal(raw, allow_zero=True)


def parse_money(raw: Any) -> Decimal:
    return parse_decimal(raw, places=rules.MONEY_PLACES)


class _Field:
    """A field of an :class:`Input` while its class is being defined: its pydantic-core schema."""

    __slots__ = ("schema",)

    def __init__(self, schema: CoreSchema, *, optional: bool = False) -> None:
        self.schema: TypedDictField = (
            cs.typed_dict_field(cs.with_default_schema(cs.nullable_schema(schema), default=None), required=False)
            if optional else cs.typed_dict_field(schema)
        )


def parsed(parser: Callable[[Any], T]) -> T:
    """A required field, checked and normalised by ``parser`` (which raises ValueError)."""
    return cast(T, _Field(cs.no_info_plain_validator_function(parser)))


def optional(parser: Callable[[Any], T]) -> T | None:
    """A field that may be left out (None)."""
    return cast(T | None, _Field(cs.no_info_plain_validator_function(parser), optional=True))


def integer(*, gt: int, le: int) -> int:
    return cast(int, _Field(cs.int_schema(gt=gt, le=le)))


def choice(enum: type[StrEnum]) -> str:
    """One of the enum's values, as plain text."""
    return cast(str, _Field(cs.literal_schema([member.value for member in enum])))


class Input:
    """Values typed at the command line or read from a file, validated by pydantic.

    A subclass declares its fields with :func:`parsed`, :func:`optional`, :func:`integer` and
    :func:`choice`; the fields are validated together by pydantic's core engine (``pydantic_core``,
    the validator every pydantic model compiles to). Declared this way rather than as ``BaseModel``
    subclasses because a model class costs every command ~50 ms of start-up in pydantic's model
    and schema-generation machinery (benchmarks/RESULTS.md, CLI latency), while this engine is
    already loaded by ``import pydantic``. Instances are read-only.
    """

    _fields: ClassVar[dict[str, TypedDictField]] = {}
    _validator: ClassVar[SchemaValidator | None] = None

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls._fields = {name: value.schema for name, value in vars(cls).items() if isinstance(value, _Field)}
        for name in cls._fields:
            delattr(cls, name)
        cls._validator = None

    @classmethod
    def validate_dict(cls, values: dict[str, Any]) -> Self:
        """The validated input; raises pydantic's ``ValidationError`` naming each bad field."""
        if cls._validator is None:
            cls._validator = SchemaValidator(cs.typed_dict_schema(cls._fields, extra_behavior="forbid"))
        instance = object.__new__(cls)
        vars(instance).update(cls._validator.validate_python(values))
        return instance

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and vars(other) == vars(self)

    def __hash__(self) -> int:
        return hash(tuple(vars(self).items()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


def validate(model: type[InputT], **values: Any) -> InputT:
    """The model, or a click usage error (exit 2) naming the first bad option in one line."""
    try:
        return model.validate_dict(values)
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
    code: str = parsed(parse_code)
    name: str = parsed(parse_name)
    district: str = parsed(parse_name)
    contractor: str = parsed(parse_name)
    households: int = integer(gt=0, le=rules.MAX_HOUSEHOLDS)
    contract_value: Decimal = parsed(parse_money)
    planned_start: date = parsed(parse_date)
    planned_finish: date = parsed(parse_date)
    registered_on: date | None = optional(parse_date)


class BoqRow(Input):
    """One row of a bill-of-quantities CSV: item,description,unit,quantity,unit_price."""

    item: str = parsed(parse_item)
    description: str = parsed(_text(rules.ITEM_DESCRIPTION))
    unit: str = parsed(parse_unit)
    quantity: Decimal = parsed(parse_decimal)
    unit_price: Decimal = parsed(parse_quantity_or_zero)


class FindingInput(Input):
    category: str = choice(Category)
    severity: str = choice(Severity)
    description: str = parsed(parse_description)
    location: str | None = optional(parse_name)


def parse_finding(spec: str) -> FindingInput:
    """``CATEGORY:SEVERITY:TEXT[@LOCATION]``, e.g. ``safety:major:脚手架未挂安全网@3号楼``."""
    parts = spec.split(":", 2)
    shown = spec if len(spec) <= 80 else spec[:77] + "…"  # an error line quotes the start of a long one
    if len(parts) != 3:
        raise click.UsageError(
            f"--finding: {shown!r} is not CATEGORY:SEVERITY:TEXT (e.g. quality:minor:墙面空鼓)"
        )
    category, severity, text = parts
    location = None
    if "@" in text:
        text, location = text.rsplit("@", 1)
    try:
        return FindingInput.validate_dict(
            {"category": category.strip().lower(), "severity": severity.strip().lower(),
             "description": text, "location": location}
        )
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "finding"
        raise click.UsageError(f"--finding {shown!r}: {field}: {first['msg'].removeprefix('Value error, ')}") from None


class InspectInput(Input):
    code: str = parsed(parse_code)
    at: datetime | None = optional(parse_datetime)
    due: date | None = optional(parse_date)


class FindingActionInput(Input):
    code: str = parsed(parse_code)
    finding_id: str = parsed(parse_identifier)
    note: str | None = optional(parse_description)
    at: datetime | None = optional(parse_datetime)


class SampleInput(Input):
    code: str = parsed(parse_code)
    material: str = parsed(parse_name)
    batch: str = parsed(parse_short_text)
    witness: str | None = optional(parse_name)
    at: datetime | None = optional(parse_datetime)


class ResultInput(Input):
    code: str = parsed(parse_code)
    sample_id: str = parsed(parse_identifier)
    lab: str = parsed(parse_name)
    report: str | None = optional(parse_short_text)
    at: datetime | None = optional(parse_datetime)


class MeterInput(Input):
    code: str = parsed(parse_code)
    item: str = parsed(parse_item)
    period: str = parsed(parse_period)
    quantity: Decimal = parsed(parse_decimal)


class CorrectInput(Input):
    code: str = parsed(parse_code)
    entry_id: str = parsed(parse_identifier)
    quantity: Decimal = parsed(parse_quantity_or_zero)
    reason: str = parsed(parse_description)


class VariationInput(Input):
    code: str = parsed(parse_code)
    item: str = parsed(parse_item)
    quantity: Decimal = parsed(parse_decimal)
    reason: str = parsed(parse_description)


class ScoreInput(Input):
    code: str = parsed(parse_code)
    period: str = parsed(parse_period)
    quality: Decimal = parsed(parse_score)
    safety: Decimal = parsed(parse_score)
    progress: Decimal = parsed(parse_score)
    civilized: Decimal = parsed(parse_score)
    satisfaction: Decimal = parsed(parse_score)
    reason: str | None = optional(parse_description)


class FeedbackInput(Input):
    code: str = parsed(parse_code)
    text: str = parsed(parse_long_text)
    at: datetime | None = optional(parse_datetime)


class ResolveInput(Input):
    code: str = parsed(parse_code)
    ticket_id: str = parsed(parse_identifier)
    note: str = parsed(parse_description)
    at: datetime | None = optional(parse_datetime)


class CodeInput(Input):
    code: str = parsed(parse_code)


class FindingShowInput(Input):
    code: str = parsed(parse_code)
    finding_id: str = parsed(parse_identifier)


class ListInput(Input):
    """The filters of a worklist (``finding list``, ``material list``)."""

    code: str | None = optional(parse_code)
    contractor: str | None = optional(parse_name)
    batch: str | None = optional(_text(rules.LABEL))


class DayInput(Input):
    code: str = parsed(parse_code)
    on: date | None = optional(parse_date)
    operator: str | None = optional(parse_name)


class CountInput(Input):
    code: str = parsed(parse_code)
    count: int = integer(gt=0, le=rules.MAX_STRUCTURES)


class LedgerInput(Input):
    code: str = parsed(parse_code)
    item: str | None = optional(parse_item)
    period: str | None = optional(parse_period)


class CertifyInput(Input):
    code: str = parsed(parse_code)
    period: str = parsed(parse_period)
    reason: str | None = optional(parse_description)


class PayInput(Input):
    code: str = parsed(parse_code)
    certificate_id: str = parsed(parse_identifier)
    amount: Decimal = parsed(parse_money)
    on: date = parsed(parse_date)


class ReleaseInput(Input):
    code: str = parsed(parse_code)
    on: date = parsed(parse_date)


class CertificateInput(Input):
    code: str = parsed(parse_code)
    certificate_id: str = parsed(parse_identifier)

"""What an event of the compound holds in its stored state, and how each value is checked: the fields of
its class and their types, as ``renovation.domain.rules`` lets a command record them. An import holds each
line to them (``renovation.services.transfer``), and the application each event it reads from the store
(``renovation.services.writer.field_checks``)."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from renovation.domain import rules
from renovation.domain.errors import InvalidValue
from renovation.domain.values import FIRST_YEAR, LAST_YEAR


class Shape(typing.NamedTuple):
    """What the stored state of an event class holds, and how each value is checked."""

    keys: frozenset[str]
    checks: tuple[tuple[str, Callable[[object], bool]], ...]  # in the fields' order
    times: tuple[str, ...]  # the fields a date-time may be in (see ``transfer._times``)


@functools.cache
def shape_of(cls: type) -> Shape:
    fields = field_types(cls)
    signed = SIGNED_FIELDS.get(cls.__name__, frozenset())
    return Shape(frozenset(fields), tuple((name, signed_decimal if name in signed else checker(hint))
                                           for name, hint in fields.items()),
                  tuple(name for name, hint in fields.items() if holds_time(hint)))


#: Decimals a command may record below zero, by event class: a correction certificate's amount (what it takes
#: back of the certificates before it). The command run again (``rerun``) works each of them out and compares.
SIGNED_FIELDS = {"PaymentCertified": frozenset({"amount"})}


#: The types of values that are never a date-time, nor hold one.
TIMELESS: tuple[object, ...] = (str, int, bool, Decimal, date, type(None))


def holds_time(hint: Any) -> bool:
    """Whether a value of the type ``hint`` may be, or hold where ``transfer._times`` looks, a date-time (when in
    doubt, it may)."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return any(holds_time(option) for option in typing.get_args(hint))
    if origin is list:
        (item,) = typing.get_args(hint)
        if isinstance(item, type) and dataclasses.is_dataclass(item):
            return any(holds_time(kind) for kind in value_fields(item).values())
        return item not in TIMELESS
    return hint not in TIMELESS


def field_types(cls: type) -> dict[str, object]:
    """The stored fields of an event class and their types (the store sets the id and version)."""
    from datetime import datetime

    from renovation.domain import compound

    types: dict[str, object] = {}
    for field in dataclasses.fields(cls):
        if field.name in ("originator_id", "originator_version"):
            continue
        if field.name == "timestamp":
            types[field.name] = datetime
        elif field.name == "originator_topic":
            types[field.name] = str
        else:  # our own annotations: strings naming types that compound.py imports
            types[field.name] = eval(str(field.type), vars(compound))
    return types


@functools.cache
def checker(hint: Any) -> Callable[[object], bool]:
    """A function telling whether a value is of the type ``hint``, built once per type."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        options = [checker(option) for option in typing.get_args(hint) if option is not type(None)]
        if len(options) == 1 and type(None) in typing.get_args(hint):  # an optional value
            (check,) = options
            return lambda value: value is None or check(value)
        options = [checker(option) for option in typing.get_args(hint)]
        return lambda value: any(check(value) for check in options)
    if origin is list:
        (item,) = typing.get_args(hint)
        check_item = checker(item)
        return lambda value: isinstance(value, list) and all(map(check_item, value))
    if hint is type(None):
        return lambda value: value is None
    if hint is int:
        return lambda value: type(value) is int and 0 <= value <= MAX_INT
    if hint is Decimal:
        return plain_decimal
    if hint is str:
        return plain_text
    if hint is datetime:
        return lambda value: (type(value) is datetime and value.utcoffset() is not None
                              and FIRST_YEAR <= value.year <= LAST_YEAR)
    if hint is date:  # not a datetime: the two do not compare
        return lambda value: type(value) is date and in_years(value)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        fields = [(name, checker(kind)) for name, kind in value_fields(hint).items()]
        return lambda value: isinstance(value, hint) and all(check(getattr(value, name)) for name, check in fields)
    if isinstance(hint, type):
        return lambda value: isinstance(value, hint)
    raise TypeError(f"no check for {hint!r}")


#: What the tracker itself ever stores, so an imported or a stored event holds nothing a command would refuse,
#: by the domain's own rules (``renovation.domain.rules``): texts of at most the longest a command takes
#: (feedback), without control characters; counts; amounts not negative (but ``SIGNED_FIELDS``), with at most
#: 4 decimal places, below 10**30 (a value is a quantity times a unit price, each at most 10**12, and a
#: certificate sums the values of every item: below 10**30 as a decimal is read, ``transcoding.PLAIN_DECIMAL``).
MAX_INT = 10**9
MAX_VALUE = Decimal("9" * 30 + ".9999")  # written out: 10**30 - 0.0001 has more digits than a context keeps


def plain_text(value: object) -> bool:
    if type(value) is str and value.isprintable() and len(value) <= rules.LONG_TEXT:
        return not value.isspace() and value != ""  # what check_text asks of such a text
    try:
        rules.check_text("text", value, max_length=rules.LONG_TEXT)  # type: ignore[arg-type]
    except InvalidValue:
        return False
    return True


def plain_decimal(value: object) -> bool:
    try:
        rules.check_amount("value", value, allow_zero=True, largest=MAX_VALUE)  # type: ignore[arg-type]
    except InvalidValue:
        return False
    return True


def signed_decimal(value: object) -> bool:
    return isinstance(value, Decimal) and value.is_finite() and plain_decimal(value.copy_abs())  # exact


def in_years(value: date) -> bool:
    return FIRST_YEAR <= value.year <= LAST_YEAR


@functools.cache
def value_fields(cls: type) -> dict[str, object]:
    from renovation.domain import values

    return {field.name: eval(str(field.type), vars(values)) for field in dataclasses.fields(cls)}

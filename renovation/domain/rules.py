"""Checks on single values, shared by every command of the aggregate.

The edge (pydantic models in the CLI) validates the same things first; these keep the aggregate
safe when it is driven from elsewhere (the demo, an import, a test).
"""

from __future__ import annotations

import unicodedata
from datetime import datetime
from decimal import Decimal

from renovation.domain.errors import InvalidValue, TimeInFuture
from renovation.domain.values import MAX_AMOUNT, MAX_DECIMAL_PLACES


def check_text(field: str, value: str, *, max_length: int = 200) -> None:
    if not value or not value.strip():
        raise InvalidValue(field=field, value=value, reason="empty")
    if len(value) > max_length:
        raise InvalidValue(field=field, value=value[:20] + "…", reason="too_long", limit=max_length)
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in value):
        raise InvalidValue(field=field, value=value[:20], reason="control_character")


def check_count(field: str, count: int, *, limit: int) -> None:
    """Whole numbers of things (households, illegal structures): at least one, at most ``limit``."""
    if count <= 0:
        raise InvalidValue(field=field, value=str(count), reason="not_positive")
    if count > limit:
        raise InvalidValue(field=field, value=str(count), reason="too_large", limit=limit)


def check_amount(field: str, value: Decimal, *, allow_zero: bool = False) -> None:
    """Quantities, prices and amounts: finite, not negative, not absurd, at most 4 decimal places."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidValue(field=field, value=str(value), reason="not_finite")
    if (value < 0 or value.is_signed()) and allow_zero:
        raise InvalidValue(field=field, value=str(value), reason="negative")
    if value < 0 or value.is_signed() or (value == 0 and not allow_zero):
        raise InvalidValue(field=field, value=str(value), reason="not_positive")
    if value > MAX_AMOUNT:
        raise InvalidValue(field=field, value=str(value), reason="too_large", limit=str(MAX_AMOUNT))
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > MAX_DECIMAL_PLACES:
        raise InvalidValue(
            field=field, value=str(value), reason="too_precise", limit=MAX_DECIMAL_PLACES
        )


def check_not_future(at: datetime, now: datetime) -> None:
    """A fact cannot have happened after the moment it is recorded."""
    if at > now:
        raise TimeInFuture(at=at.isoformat(timespec="minutes"), now=now.isoformat(timespec="minutes"))

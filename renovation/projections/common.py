"""Helpers every read model shares: percentages rounded as the boards show them, and spans of days."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

HUNDRED = Decimal(100)
CENT = Decimal("0.01")


def percent(part: Decimal, whole: Decimal) -> Decimal | None:
    """part ÷ whole × 100, rounded half-up to two decimals (None when there is no whole)."""
    if not whole:
        return None
    return (part / whole * HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)


def count_percent(part: int, whole: int) -> Decimal | None:
    """``percent`` of two counts, the same value worked out in integers (a province's board works
    out thousands of them): part ÷ whole × 100, rounded half-up to two decimals."""
    if not whole:
        return None
    cents = (part * 20000 + whole) // (2 * whole)
    return Decimal(f"{cents // 100}.{cents % 100:02d}")


def days_between(start: datetime, end: datetime) -> Decimal:
    """The days from ``start`` to ``end``, with the fraction of a day (to the second)."""
    delta = end - start
    return Decimal(delta.days * 86400 + delta.seconds) / 86400

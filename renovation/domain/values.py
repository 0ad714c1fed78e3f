"""Value objects and vocabularies shared by the domain.

Everything here is plain data: the aggregate keeps these in its state, the events carry them, and
the application's transcoder stores them as JSON (see ``renovation.store.backend``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Any

FEN = Decimal("0.01")

#: Largest quantity or amount the tracker accepts; a compound's whole contract is far below it.
MAX_AMOUNT = Decimal("1e12")
#: Finest scale the tracker stores for quantities and prices (0.0001 of a unit).
MAX_DECIMAL_PLACES = 4

#: Years a date or a date-time may have: the floor of a period; far enough ahead for any plan, and far
#: enough from datetime's limits that a month or a day more (a report's axis, an offset) never overflows.
FIRST_YEAR, LAST_YEAR = 1900, 2999
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


def day_of(raw: object) -> date:
    """A calendar day written YYYY-MM-DD, from FIRST_YEAR to LAST_YEAR; else a ValueError saying so."""
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    text = str(raw).strip()
    if not _DAY.match(text):
        raise ValueError(f"{str(raw)[:40]!r} is not a date (YYYY-MM-DD)")
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{raw!r} is not a date (YYYY-MM-DD)") from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise ValueError(f"{raw!r} is not a date from {FIRST_YEAR} to {LAST_YEAR}")
    return day

CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,15}$")
PERIOD_PATTERN = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)  # ASCII: \d would take ２０２１

def normalise_code(code: str) -> str:
    """Compound codes are typed in a hurry: ``jm`` and ``JM`` are the same compound."""
    return code.strip().upper()


#: Words that are subcommand names, so a compound code can never be mistaken for one.
RESERVED_CODES = frozenset(
    {
        "accept",
        "clear",
        "close",
        "complete",
        "correct",
        "handover",
        "import",
        "list",
        "record",
        "rectify",
        "register",
        "reopen",
        "resolve",
        "result",
        "sample",
        "show",
        "start",
    }
)

#: Operation and maintenance (运营维护) runs this many years from hand-over: 谁建设、谁运营、谁管理.
OM_YEARS = 15


class Status(StrEnum):
    REGISTERED = "registered"
    UNDER_CONSTRUCTION = "under_construction"
    COMPLETED = "completed"
    ACCEPTED = "accepted"  # 竣工验收
    HANDED_OVER = "handed_over"


class InspectionKind(StrEnum):
    MORNING = "morning"  # 晨检
    PATROL = "patrol"  # 不定期巡检


class Category(StrEnum):
    QUALITY = "quality"
    SAFETY = "safety"
    CIVILIZED = "civilized"  # 文明施工


class Severity(StrEnum):
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"


#: Days a contractor has to rectify a finding when the inspector gives no due date.
DEFAULT_DUE_DAYS = {Severity.MINOR: 7, Severity.MAJOR: 3, Severity.CRITICAL: 1}


class FindingStatus(StrEnum):
    OPEN = "open"
    RECTIFIED = "rectified"
    CLOSED = "closed"
    REOPENED = "reopened"


class Regime(StrEnum):
    ROUTINE = "routine"  # 常态化检测
    CROSS = "cross"  # 交叉互检
    BLIND = "blind"  # 不定期盲检


class Channel(StrEnum):
    HOTLINE = "hotline"
    FORM = "form"
    VISIT = "visit"


SCORE_DIMENSIONS = ("quality", "safety", "progress", "civilized", "satisfaction")


def value_of(quantity: Decimal, unit_price: Decimal) -> Decimal:
    """Output value (产值) of a quantity: quantity × unit price, rounded half-up to the fen."""
    return (quantity * unit_price).quantize(FEN, rounding=ROUND_HALF_UP)


def canonical(number: Decimal) -> Decimal:
    """The same number without a positive exponent, so it is stored as ``4200``, never ``4.2E+3``;
    and zero without a sign."""
    if number.is_zero():
        number = abs(number)
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        return number.quantize(Decimal(1))
    return number


def is_period(text: str) -> bool:
    match = PERIOD_PATTERN.match(text)
    return match is not None and 1 <= int(match.group(2)) <= 12 and int(match.group(1)) >= 1900


def period_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


class FieldsCompared:
    """What a frozen dataclass compiles for each of its classes (``__eq__``, ``__hash__``, ``__repr__``), once for
    every class that inherits this and is declared with ``eq=False, repr=False``: equal to another of its own
    class whose compared fields are equal, hashed by the fields a dataclass hashes, shown by those it shows.
    Each is read from the class's fields (never from the instance: an event's ``__dict__`` is its stored JSON),
    by a getter made once per class. The value objects here and the compound's events (``compound._Lean``) are
    so: compiling the three for each of them cost every command as it starts, a recorded inspection a twelfth
    of its instructions (benchmarks/RESULTS.md, section 22)."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        cls = self.__class__
        if other.__class__ is not cls:
            return NotImplemented
        compared = (_GETTERS.get(cls) or _getters(cls))[0]
        return compared(self) == compared(other)

    def __hash__(self) -> int:
        cls = self.__class__
        return hash((_GETTERS.get(cls) or _getters(cls))[1](self))

    def __repr__(self) -> str:
        shown = _getters(self.__class__)[2]
        return f"{self.__class__.__qualname__}({', '.join(f'{name}={value!r}' for name, value in shown(self))})"


_Getter = Callable[[Any], tuple[Any, ...]]
_GETTERS: dict[type, tuple[_Getter, _Getter, Callable[[Any], Iterable[tuple[str, Any]]]]] = {}


def _getters(cls: type) -> tuple[_Getter, _Getter, Callable[[Any], Iterable[tuple[str, Any]]]]:
    """A ``FieldsCompared`` class's fields as its dataclass's ``__eq__``, ``__hash__`` and ``__repr__`` read
    them: those compared, those hashed (a field's ``hash``, else its ``compare``), those shown."""
    found = _GETTERS.get(cls)
    if found is None:
        every = fields(cls)
        compared = _tuple_of([each.name for each in every if each.compare])
        hashed = _tuple_of([each.name for each in every if (each.compare if each.hash is None else each.hash)])
        names = [each.name for each in every if each.repr]
        shown = _tuple_of(names)
        found = _GETTERS[cls] = (compared, hashed, lambda value: zip(names, shown(value), strict=True))
    return found


def _tuple_of(names: list[str]) -> _Getter:
    """The values of ``names`` as a tuple (``attrgetter`` of one name gives the value alone)."""
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda value: (one(value),)
    return attrgetter(*names) if names else lambda _value: ()


@dataclass(frozen=True, eq=False, repr=False)
class BoqItem(FieldsCompared):  # 工程量清单项
    code: str
    description: str
    unit: str
    quantity: Decimal  # contract quantity, raised or lowered by variations
    unit_price: Decimal  # 综合单价, yuan


@dataclass(frozen=True, eq=False, repr=False)
class MeterEntry(FieldsCompared):  # 计量
    entry_id: str
    item: str
    period: str
    quantity: Decimal
    value: Decimal


@dataclass(frozen=True, eq=False, repr=False)
class Finding(FieldsCompared):  # 整改问题
    finding_id: str
    category: str
    severity: str
    description: str
    location: str | None
    due: date
    raised_at: datetime
    status: str = FindingStatus.OPEN.value
    closed_at: datetime | None = None
    #: When it was last rectified, closed or reopened (None until then; also in findings recorded
    #: before the tracker kept it): the next of these may not be before it.
    changed_at: datetime | None = None


@dataclass(frozen=True, eq=False, repr=False)
class Sample(FieldsCompared):  # 材料取样
    sample_id: str
    material: str
    batch: str
    regime: str
    witness: str | None
    sampled_at: datetime
    resample_of: str | None = None
    passed: bool | None = None  # None while the result is pending
    lab: str | None = None
    report: str | None = None


@dataclass(frozen=True, eq=False, repr=False)
class Score(FieldsCompared):  # 赛马评分
    period: str
    quality: Decimal
    safety: Decimal
    progress: Decimal
    civilized: Decimal
    satisfaction: Decimal


@dataclass(frozen=True, eq=False, repr=False)
class Ticket(FieldsCompared):  # 居民反馈
    ticket_id: str
    channel: str
    text: str
    received_at: datetime
    resolved_at: datetime | None = None
    note: str | None = None


@dataclass(frozen=True, eq=False, repr=False)
class CitedEntry(FieldsCompared):  # a metering entry a payment certificate cites, with its value then
    entry_id: str
    period: str
    value: Decimal


@dataclass(frozen=True, eq=False, repr=False)
class Certificate(FieldsCompared):  # 计量支付证书
    certificate_id: str
    period: str
    through: str  # the last period its cumulative metered value counts (the period, or a later one certified)
    cumulative_metered: Decimal
    retention_percent: Decimal
    retention: Decimal
    previously_certified: Decimal
    amount: Decimal
    cumulative_certified: Decimal
    entries: list[CitedEntry]
    on: date
    correction: bool = False
    paid: Decimal = Decimal("0.00")


@dataclass(frozen=True, eq=False, repr=False)
class Payment(FieldsCompared):  # 支付
    payment_id: str
    certificate_id: str
    amount: Decimal
    on: date


def retention_of(cumulative: Decimal, percent: Decimal) -> Decimal:
    """Retention money (保留金) held on a cumulative metered value: value × percent ÷ 100, rounded half-up
    to the fen."""
    return (cumulative * percent / 100).quantize(FEN, rounding=ROUND_HALF_UP)


def add_months(day: date, months: int) -> date:
    """The same calendar day ``months`` later; a day the month lacks becomes the month's last."""
    import calendar

    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


def boq_total(items: list[BoqItem]) -> Decimal:
    """The value of a whole bill of quantities: the sum of each item's rounded value."""
    return sum((value_of(item.quantity, item.unit_price) for item in items), Decimal(0))


#: Every dataclass the store must be able to transcode (events carry them, snapshots hold them).
VALUE_TYPES: tuple[type, ...] = (BoqItem, MeterEntry, Finding, Sample, Score, Ticket, CitedEntry, Certificate,
                                 Payment)

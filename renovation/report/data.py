"""What the leaders' report shows, read from the caught-up read models: the boards, progress, quality
and the programme's value month by month (metered against planned)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Connection

from renovation.projections.feedback import feedback_rows
from renovation.projections.ledger import metered_value_by_period
from renovation.projections.progress import ProgressRow, progress_rows
from renovation.projections.quality import CompoundQuality, ContractorQuality, quality_rows
from renovation.projections.ranking import RankingRow, periods, ranking_rows

CENT = Decimal("0.01")


@dataclass(frozen=True)
class ValueSeries:
    """Cumulative value per month: metered up to the report's month (None after it), and planned."""

    months: list[str]
    metered: list[Decimal | None]
    planned: list[Decimal]


@dataclass(frozen=True)
class ReportData:
    today: date
    period: str | None  # the board's period; None when nothing has been scored
    weights: dict[str, int]
    board_contractors: list[RankingRow]
    board_compounds: list[RankingRow]
    progress: list[ProgressRow]
    quality_contractors: list[ContractorQuality]
    quality_compounds: list[CompoundQuality]
    value: ValueSeries
    tickets_open: int


def gather(connection: Connection, *, today: date, weights: Mapping[str, int], period: str | None,
           codes: Collection[str] | None = None) -> ReportData:
    """Everything the report shows, from read models already caught up. ``period``: the board's (default:
    the latest scored); ``codes``: the compounds whose details it shows (None: all; the horse-race board
    is public, see ``renovation.services.scope``)."""
    if period is None:
        known = periods(connection)
        period = known[-1] if known else None
    boards = {by: ranking_rows(connection, weights, period, by) if period else [] for by in ("contractor", "compound")}
    progress = [row for row in progress_rows(connection, today) if codes is None or row["code"] in codes]
    contractors = None if codes is None else {row["contractor"] for row in progress}
    # The report goes to contractors too, and they never learn of a blind sample before its result.
    hidden = frozenset({"blind"})
    return ReportData(
        today=today, period=period, weights=dict(weights),
        board_contractors=boards["contractor"], board_compounds=boards["compound"], progress=progress,
        quality_contractors=[row for row in quality_rows(connection, today, "contractor", hidden)
                             if contractors is None or row["contractor"] in contractors],
        quality_compounds=[row for row in quality_rows(connection, today, "compound", hidden)
                           if codes is None or row["code"] in codes],
        value=value_series(progress, metered_value_by_period(connection, codes), today),
        tickets_open=len([row for row in feedback_rows(connection, only_open=True)
                          if codes is None or row["code"] in codes]),
    )


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"  # not %Y: the C library writes year 1 as "1"


def month_end(period: str) -> date:
    year, month = (int(part) for part in period.split("-"))
    following = date(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=1)


def months_from(first: str, last: str) -> list[str]:
    result = []
    day = date.fromisoformat(f"{first}-01")
    while month_of(day) <= last:
        result.append(month_of(day))
        day = month_end(month_of(day)) + timedelta(days=1)
    return result


def planned_value(row: Mapping[str, Any], day: date) -> Decimal:
    """The compound's contract value spread evenly over its planned days, as planned by the end of ``day``."""
    start: date = row["planned_start"]
    finish: date = row["planned_finish"]
    done = (min(day, finish) - start).days + 1
    if done <= 0:
        return Decimal(0)
    share = Decimal(done) / Decimal((finish - start).days + 1)
    contract: Decimal = row["contract_value"]
    return (contract * share).quantize(CENT, rounding=ROUND_HALF_UP)


def value_series(progress: Sequence[Mapping[str, Any]], metered: Mapping[str, Decimal], today: date) -> ValueSeries:
    """Month by month across the programme: the cumulative metered value and the planned value."""
    if not progress:
        return ValueSeries([], [], [])
    first = min([month_of(row["planned_start"]) for row in progress] + list(metered))
    last = max([month_of(row["planned_finish"]) for row in progress] + list(metered))
    reached = max([month_of(today), *metered])
    months = months_from(first, last)
    cumulative = Decimal(0)
    metered_line: list[Decimal | None] = []
    for month in months:
        cumulative += metered.get(month, Decimal(0))
        metered_line.append(cumulative if month <= reached else None)
    planned = [sum((planned_value(row, month_end(month)) for row in progress), Decimal(0)) for month in months]
    return ValueSeries(months, metered_line, planned)

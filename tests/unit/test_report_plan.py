"""The report's line of value over time: the plan spreads each contract value evenly over its planned
days; the metered line is cumulative and stops at the report's month."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from renovation.report.data import month_end, months_from, planned_value, value_series

MARCH_TO_MAY = {"contract_value": Decimal("920000"), "planned_start": date(2021, 3, 1),
                "planned_finish": date(2021, 5, 31)}  # 92 days: 10,000 yuan a day


def test_month_end_knows_short_months_and_the_turn_of_the_year() -> None:
    assert month_end("2021-02") == date(2021, 2, 28)
    assert month_end("2021-12") == date(2021, 12, 31)
    assert months_from("2021-11", "2022-02") == ["2021-11", "2021-12", "2022-01", "2022-02"]


def test_the_plan_spreads_the_contract_value_evenly_from_planned_start_to_planned_finish() -> None:
    assert planned_value(MARCH_TO_MAY, date(2021, 2, 28)) == 0
    assert planned_value(MARCH_TO_MAY, date(2021, 3, 1)) == Decimal("10000.00")
    assert planned_value(MARCH_TO_MAY, date(2021, 3, 31)) == Decimal("310000.00")
    assert planned_value(MARCH_TO_MAY, date(2021, 12, 31)) == Decimal("920000.00")


def test_the_metered_line_is_cumulative_and_stops_at_the_reports_month() -> None:
    metered = {"2021-03": Decimal("100000.50"), "2021-05": Decimal("50000")}

    series = value_series([MARCH_TO_MAY], metered, today=date(2021, 4, 15))

    assert series.months == ["2021-03", "2021-04", "2021-05"]
    assert series.planned == [Decimal("310000.00"), Decimal("610000.00"), Decimal("920000.00")]
    # a period metered ahead of today still counts, so the line reaches May
    assert series.metered == [Decimal("100000.50"), Decimal("100000.50"), Decimal("150000.50")]


def test_the_metered_line_ends_with_today_when_nothing_was_metered_since() -> None:
    series = value_series([MARCH_TO_MAY], {"2021-03": Decimal("1")}, today=date(2021, 4, 15))

    assert series.metered == [Decimal("1"), Decimal("1"), None]


def test_no_compounds_no_line() -> None:
    assert value_series([], {}, today=date(2021, 4, 15)).months == []

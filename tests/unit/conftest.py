"""Fixtures for the domain unit tests: aggregates driven directly, no application, no database.

Every fixture hands over a project with no pending events, so a test sees only the events its own
commands trigger (``project.collect_events()``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from renovation.domain.compound import CompoundProject, Context
from renovation.domain.values import BoqItem

CST = timezone(timedelta(hours=8), "CST")  # China Standard Time, no daylight saving
NOW = datetime(2021, 5, 1, 9, 0, tzinfo=CST)
STARTED_ON = date(2021, 3, 1)


@pytest.fixture
def ctx() -> Context:
    return Context(user="wang.supervisor", now=NOW)


def at(day: int, month: int = 4, hour: int = 6, minute: int = 30) -> datetime:
    """A business time in 2021 (default: a 06:30 morning round in April)."""
    return datetime(2021, month, day, hour, minute, tzinfo=CST)


@pytest.fixture(name="at")
def at_fixture() -> Callable[..., datetime]:
    return at


def _register(ctx: Context, **overrides: object) -> CompoundProject:
    fields: dict[str, object] = {
        "code": "jm",
        "name": "吉明小区",
        "district": "龙山区",
        "contractor": "辽源建工",
        "households": 165,
        "contract_value": Decimal("4200000"),
        "planned_start": date(2021, 3, 1),
        "planned_finish": date(2021, 10, 31),
    }
    fields.update(overrides)
    return CompoundProject.register(ctx=ctx, **fields)  # type: ignore[arg-type]


@pytest.fixture
def register(ctx: Context) -> Callable[..., CompoundProject]:
    """Registers 吉明小区 (code JM), with any field overridden; the events stay pending."""
    return lambda **overrides: _register(ctx, **overrides)


@pytest.fixture
def registered(ctx: Context) -> CompoundProject:
    project = _register(ctx)
    project.collect_events()
    return project


@pytest.fixture
def boq_items() -> list[BoqItem]:
    return [
        BoqItem("010101", "外墙保温", "m2", Decimal("1000"), Decimal("85.5")),
        BoqItem("010102", "屋面防水", "m2", Decimal("400.5"), Decimal("62.35")),
        BoqItem("020101", "雨污分流管道", "m", Decimal("120"), Decimal("310")),
    ]


@pytest.fixture
def with_boq(registered: CompoundProject, boq_items: list[BoqItem], ctx: Context) -> CompoundProject:
    registered.set_bill_of_quantities(boq_items, ctx)
    registered.collect_events()
    return registered


@pytest.fixture
def started(with_boq: CompoundProject, ctx: Context) -> CompoundProject:
    """Under construction since 2021-03-01, with a three-item bill of quantities."""
    with_boq.start_construction(STARTED_ON, ctx)
    with_boq.collect_events()
    return with_boq


@pytest.fixture
def completed(started: CompoundProject, ctx: Context) -> CompoundProject:
    started.complete_construction(date(2021, 4, 28), ctx)
    started.collect_events()
    return started


@pytest.fixture
def accepted(completed: CompoundProject, ctx: Context) -> CompoundProject:
    completed.accept(date(2021, 4, 29), ctx)
    completed.collect_events()
    return completed


@pytest.fixture
def only_event() -> Callable[[CompoundProject], CompoundProject.Event]:
    """Collects the project's pending events and returns the single one there must be."""

    def collect(project: CompoundProject) -> CompoundProject.Event:
        events = project.collect_events()
        assert len(events) == 1, [type(event).__name__ for event in events]
        event = events[0]
        assert isinstance(event, CompoundProject.Event)
        return event

    return collect

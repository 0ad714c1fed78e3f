"""Helpers for the read-model tests: compounds set up with chosen figures, and the read models' tables
as plain sorted rows, so that two states can be compared table by table."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from renovation.domain.values import BoqItem
from renovation.projections.base import tracking
from renovation.projections.runner import ReadModels, directory
from renovation.services.application import RenovationApp
from tests.integration.conftest import CST

Snapshot = dict[str, list[tuple[Any, ...]]]


def at(day: str, time: str = "06:30") -> datetime:
    """A moment in the demo's zone (UTC+8), e.g. ``at("2021-03-02", "06:30")``."""
    return datetime.fromisoformat(f"{day}T{time}").replace(tzinfo=CST)


def register(
    app: RenovationApp,
    code: str,
    *,
    contractor: str = "示例建工一公司",
    contract_value: str = "1000000",
    planned: tuple[str, str] = ("2021-03-01", "2021-09-30"),
    items: list[tuple[str, str, str]] | None = None,
    started: str | None = None,
    name: str | None = None,
) -> None:
    """Register ``code``; with ``items`` [(item, quantity, unit price)] set its bill of quantities;
    with ``started`` start construction on that day."""
    app.register_compound(
        code=code, name=name or f"{code}小区", district="龙山区", contractor=contractor, households=100,
        contract_value=Decimal(contract_value), planned_start=date.fromisoformat(planned[0]),
        planned_finish=date.fromisoformat(planned[1]), registered_on=date(2021, 1, 4), user="bureau",
    )
    if items:
        app.set_bill_of_quantities(
            code,
            [BoqItem(item, f"清单项{item}", "m", Decimal(quantity), Decimal(price)) for item, quantity, price in items],
            user="auditor",
        )
    if started:
        app.start_construction(code, date.fromisoformat(started), user="bureau")


def snapshot(models: ReadModels, *, with_directory: bool = False) -> Snapshot:
    """Every row of every table of every projection made from the log, sorted; keyed by table name. The
    tables a board keeps (``Projection.kept``) are left out: their rows follow the boards asked for, not
    the log (``audit boards`` works each of them out again)."""
    result: Snapshot = {}
    with models.engine.connect() as connection:
        for projection in models.projections.values():
            for table in projection.tables:
                if table in projection.kept:
                    continue
                found = [tuple(row) for row in connection.execute(select(table))]
                result[table.name] = sorted(found, key=repr)
        if with_directory:
            result[directory.name] = sorted(tuple(row) for row in connection.execute(select(directory)))
    return result


def positions(models: ReadModels) -> dict[str, int]:
    """Each projection's tracked position, by projection name (its row is named by its key)."""
    names = {projection.key: name for name, projection in models.projections.items()}
    with models.engine.connect() as connection:
        return {names.get(row.name, row.name): row.position for row in connection.execute(select(tracking))}

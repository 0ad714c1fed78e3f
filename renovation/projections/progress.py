"""Progress: per compound, status, value metered against the contract, planned against actual dates."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any, TypedDict

from sqlalchemy import Column, Connection, Integer, String, Table, select

from renovation.projections.base import DateText, DecimalText, Event, Projection, metadata
from renovation.projections.common import percent
from renovation.projections.rows import Rows

compounds = Table(
    "progress_compounds",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("district", String(200), nullable=False),
    Column("contractor", String(200), nullable=False),
    Column("households", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("contract_value", DecimalText, nullable=False),
    Column("metered_value", DecimalText, nullable=False),
    Column("planned_start", DateText, nullable=False),
    Column("planned_finish", DateText, nullable=False),
    Column("started_on", DateText),
    Column("completed_on", DateText),
    Column("accepted_on", DateText),
    Column("handed_over_on", DateText),
    Column("operator", String(200)),
    Column("om_end", DateText),
)

HUNDRED = Decimal(100)
CENT = Decimal("0.01")


class ProgressProjection(Projection):
    name = "progress"
    weight = 2
    tables = (compounds,)

    def on_Registered(self, rows: Rows, event: Event) -> None:
        rows.insert(compounds, {
            "code": event.code, "name": event.name, "district": event.district, "contractor": event.contractor,
            "households": event.households, "status": "registered", "contract_value": event.contract_value,
            "metered_value": Decimal(0), "planned_start": event.planned_start,
            "planned_finish": event.planned_finish,
        })

    def on_ConstructionStarted(self, rows: Rows, event: Event) -> None:
        rows.update(compounds, (event.code,), status="under_construction", started_on=event.on)

    def on_ConstructionCompleted(self, rows: Rows, event: Event) -> None:
        rows.update(compounds, (event.code,), status="completed", completed_on=event.on)

    def on_Accepted(self, rows: Rows, event: Event) -> None:
        rows.update(compounds, (event.code,), status="accepted", accepted_on=event.on)

    def on_HandedOver(self, rows: Rows, event: Event) -> None:
        rows.update(compounds, (event.code,), status="handed_over", handed_over_on=event.on,
                    operator=event.operator, om_end=event.om_end)

    def _add_value(self, rows: Rows, code: str, amount: Decimal) -> None:
        rows.update(compounds, (code,), metered_value=rows.one(compounds, code)["metered_value"] + amount)

    def on_QuantityMeasured(self, rows: Rows, event: Event) -> None:
        self._add_value(rows, event.code, event.value)

    def on_MeasurementCorrected(self, rows: Rows, event: Event) -> None:
        self._add_value(rows, event.code, event.value - event.previous_value)


def days_behind(row: Mapping[str, Any], today: date) -> int:
    """Days behind plan: a late start counts until the compound is finished; after the planned finish,
    every day until completion counts; once completed, the days it finished late."""
    planned_start: date = row["planned_start"]
    planned_finish: date = row["planned_finish"]
    completed_on: date | None = row["completed_on"]
    if completed_on is not None:
        return max(0, (completed_on - planned_finish).days)
    late_start = ((row["started_on"] or today) - planned_start).days
    return max(0, late_start, (today - planned_finish).days)


class ProgressRow(TypedDict):
    """A row of the progress board (``renovation progress``)."""

    code: str
    name: str
    district: str
    status: str
    contractor: str
    contract_value: Decimal
    metered_value: Decimal
    percent_complete: Decimal | None
    planned_start: date
    started_on: date | None
    planned_finish: date
    completed_on: date | None
    days_behind: int


def progress_rows(connection: Connection, today: date) -> list[ProgressRow]:
    """One row per compound, in code order."""
    c = compounds.c
    query = select(c.code, c.name, c.district, c.status, c.contractor, c.contract_value, c.metered_value,
                   c.planned_start, c.started_on, c.planned_finish, c.completed_on).order_by(c.code)
    result: list[ProgressRow] = []
    for (code, name, district, status, contractor, contract_value, metered_value, planned_start, started_on,
         planned_finish, completed_on) in connection.execute(query).all():
        row: ProgressRow = {
            "code": code, "name": name, "district": district, "status": status, "contractor": contractor,
            "contract_value": contract_value, "metered_value": metered_value,
            "percent_complete": percent(metered_value, contract_value),
            "planned_start": planned_start, "started_on": started_on, "planned_finish": planned_finish,
            "completed_on": completed_on, "days_behind": 0,
        }
        row["days_behind"] = days_behind(row, today)
        result.append(row)
    return result

"""The metering ledger (计量台账): per compound, item and period — quantity, value, cumulative, share."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from decimal import Decimal
from typing import TypedDict

from sqlalchemy import Column, Connection, String, Table, select

from renovation.projections.base import DecimalText, Event, Projection, metadata
from renovation.projections.common import percent
from renovation.projections.rows import WRITTEN_ONCE, Rows

items = Table(
    "ledger_items",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("item", String(32), primary_key=True),
    Column("description", String(500), nullable=False),
    Column("unit", String(16), nullable=False),
    Column("contract_quantity", DecimalText, nullable=False),
    Column("unit_price", DecimalText, nullable=False),
)

entries = Table(
    "ledger_entries",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("entry_id", String(16), primary_key=True),
    Column("item", String(32), nullable=False),
    Column("period", String(7), nullable=False),
    Column("quantity", DecimalText, nullable=False),
    Column("value", DecimalText, nullable=False),
    info={WRITTEN_ONCE: True},  # read back only for a correction
)


class LedgerProjection(Projection):
    name = "ledger"
    weight = 5
    tables = (items, entries)

    def on_BillOfQuantitiesSet(self, rows: Rows, event: Event) -> None:
        rows.delete(items, event.code)
        for item in event.items:
            rows.insert(items, {
                "code": event.code, "item": item.code, "description": item.description, "unit": item.unit,
                "contract_quantity": item.quantity, "unit_price": item.unit_price,
            })

    def on_VariationApproved(self, rows: Rows, event: Event) -> None:
        rows.update(items, (event.code, event.item), contract_quantity=event.quantity)

    def on_QuantityMeasured(self, rows: Rows, event: Event) -> None:
        rows.insert(entries, {"code": event.code, "entry_id": event.entry_id, "item": event.item,
                              "period": event.period, "quantity": event.quantity, "value": event.value})

    def on_MeasurementCorrected(self, rows: Rows, event: Event) -> None:
        rows.update(entries, (event.code, event.entry_id), quantity=event.quantity, value=event.value)


class LedgerRow(TypedDict):
    """A row of the metering ledger (``renovation ledger``): one item in one period."""

    code: str
    item: str
    description: str
    unit: str
    period: str
    quantity: Decimal
    value: Decimal
    cumulative_quantity: Decimal
    cumulative_value: Decimal
    contract_quantity: Decimal
    share_of_contract: Decimal | None


def ledger_rows(connection: Connection, code: str, item: str | None = None,
                period: str | None = None) -> list[LedgerRow]:
    """Per item and period: the quantity and value metered in the period, the cumulative quantity and
    value up to it, and the cumulative share of the item's contract quantity (percent)."""
    contract = {
        row.item: row for row in connection.execute(select(items).where(items.c.code == code))
    }
    sums: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for entry in connection.execute(select(entries).where(entries.c.code == code)):
        total = sums[(entry.item, entry.period)]
        total[0] += entry.quantity
        total[1] += entry.value
    result: list[LedgerRow] = []
    running: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for (item_code, item_period), (quantity, value) in sorted(sums.items()):
        cumulative = running[item_code]
        cumulative[0] += quantity
        cumulative[1] += value
        if (item is None or item_code == item) and (period is None or item_period == period):
            boq_item = contract[item_code]
            result.append(
                {
                    "code": code, "item": item_code, "description": boq_item.description,
                    "unit": boq_item.unit, "period": item_period, "quantity": quantity, "value": value,
                    "cumulative_quantity": cumulative[0], "cumulative_value": cumulative[1],
                    "contract_quantity": boq_item.contract_quantity,
                    "share_of_contract": percent(cumulative[0], boq_item.contract_quantity),
                }
            )
    return result



def ledger_items_of(connection: Connection, code: str) -> set[str]:
    return set(connection.execute(select(items.c.item).where(items.c.code == code)).scalars())


def metered_value_by_period(connection: Connection, codes: Collection[str] | None = None) -> dict[str, Decimal]:
    """Value metered in each period across all compounds (or those of ``codes``; corrections
    included), in period order."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for entry in connection.execute(select(entries.c.code, entries.c.period, entries.c.value)):
        if codes is None or entry.code in codes:
            totals[entry.period] += entry.value
    return dict(sorted(totals.items()))


def ledger_totals(connection: Connection) -> dict[str, Decimal]:
    """Metered value per compound, from the ledger's entries."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for entry in connection.execute(select(entries.c.code, entries.c.value)):
        totals[entry.code] += entry.value
    return dict(totals)

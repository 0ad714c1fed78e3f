"""Residents' feedback: open and resolved tickets, and the time they took."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from typing import TypedDict

from sqlalchemy import Column, Connection, String, Table, literal_column, select

from renovation.projections.base import DateTimeText, Event, PartialIndex, Projection, metadata
from renovation.projections.common import days_between
from renovation.projections.rows import Rows

#: The open tickets, through a partial index (a query uses it when its condition is written the same way).
UNRESOLVED = literal_column("resolved_at").is_(None)

tickets = Table(
    "feedback_tickets",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("ticket_id", String(16), primary_key=True),
    Column("channel", String(16), nullable=False),
    Column("text", String(1000), nullable=False),
    Column("received_at", DateTimeText, nullable=False),
    Column("resolved_at", DateTimeText),
    Column("note", String(500)),
)


class FeedbackProjection(Projection):
    name = "feedback"
    tables = (tickets,)
    partial_indexes = (
        PartialIndex("feedback_tickets_open", tickets, ("received_at", "code", "ticket_id"), UNRESOLVED),
    )
    version = 3  # the index of the open tickets (2: times stored in UTC)

    def on_FeedbackReceived(self, rows: Rows, event: Event) -> None:
        rows.insert(tickets, {"code": event.code, "ticket_id": event.ticket_id, "channel": event.channel,
                              "text": event.text, "received_at": event.at})

    def on_FeedbackResolved(self, rows: Rows, event: Event) -> None:
        rows.update(tickets, (event.code, event.ticket_id), resolved_at=event.at, note=event.note)


class TicketRow(TypedDict):
    """A resident's feedback ticket (``renovation feedback list``)."""

    code: str
    ticket_id: str
    channel: str
    text: str
    received_at: datetime
    resolved_at: datetime | None
    note: str | None
    status: str  # resolved | unresolved
    days_to_resolve: Decimal | None


def feedback_rows(connection: Connection, *, only_open: bool = False, code: str | None = None,
                  zone: tzinfo = UTC) -> list[TicketRow]:
    """The tickets in the order they were received, their times shown in ``zone`` (the store's)."""
    query = select(tickets).order_by(tickets.c.received_at, tickets.c.code, tickets.c.ticket_id)
    if only_open:
        query = query.where(UNRESOLVED)
    if code:
        query = query.where(tickets.c.code == code)
    result: list[TicketRow] = []
    for row in connection.execute(query).all():  # fetched at once, not row by row
        days = days_between(row.received_at, row.resolved_at) if row.resolved_at else None
        result.append(
            {
                "code": row.code, "ticket_id": row.ticket_id, "channel": row.channel, "text": row.text,
                "received_at": row.received_at.astimezone(zone),
                "resolved_at": row.resolved_at.astimezone(zone) if row.resolved_at else None, "note": row.note,
                "status": "resolved" if row.resolved_at else "unresolved",
                "days_to_resolve": days.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if days is not None else None,
            }
        )
    return result

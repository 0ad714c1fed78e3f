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
    t = tickets.c
    query = select(t.code, t.ticket_id, t.channel, t.text, t.received_at, t.resolved_at, t.note).order_by(
        t.received_at, t.code, t.ticket_id)
    if only_open:
        query = query.where(UNRESOLVED)
    if code:
        query = query.where(tickets.c.code == code)
    result: list[TicketRow] = []
    cent = Decimal("0.01")
    for code, ticket_id, channel, text, received, resolved, note in connection.execute(query).all():
        days = None
        if resolved is not None:
            days = days_between(received, resolved).quantize(cent, rounding=ROUND_HALF_UP)
        result.append(
            {
                "code": code, "ticket_id": ticket_id, "channel": channel, "text": text,
                "received_at": received.astimezone(zone),
                "resolved_at": resolved.astimezone(zone) if resolved is not None else None, "note": note,
                "status": "resolved" if resolved is not None else "unresolved",
                "days_to_resolve": days,
            }
        )
    return result

"""Progress payments (计量支付): per compound and certificate — certified, paid, retention held and
released, outstanding (certified − paid), to the fen."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import TypedDict

from sqlalchemy import Boolean, Column, Connection, String, Table, select

from renovation.projections.base import DateText, DecimalText, Event, Projection, metadata
from renovation.projections.rows import WRITTEN_ONCE, Rows

certificates = Table(
    "payments_certificates",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("certificate_id", String(16), primary_key=True),
    Column("period", String(7), nullable=False),
    Column("through", String(7), nullable=False),
    Column("correction", Boolean, nullable=False),
    Column("reason", String(500)),
    Column("issued_on", DateText, nullable=False),
    Column("cumulative_metered", DecimalText, nullable=False),
    Column("retention_percent", DecimalText, nullable=False),
    Column("retention", DecimalText, nullable=False),
    Column("previously_certified", DecimalText, nullable=False),
    Column("amount", DecimalText, nullable=False),
    Column("cumulative_certified", DecimalText, nullable=False),
    Column("paid", DecimalText, nullable=False),
)

cited = Table(
    "payments_cited",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("certificate_id", String(16), primary_key=True),
    Column("entry_id", String(16), primary_key=True),
    Column("period", String(7), nullable=False),
    Column("value", DecimalText, nullable=False),
    info={WRITTEN_ONCE: True},
)

payments = Table(
    "payments_payments",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("payment_id", String(16), primary_key=True),
    Column("certificate_id", String(16), nullable=False),
    Column("amount", DecimalText, nullable=False),
    Column("paid_on", DateText, nullable=False),
)

retention = Table(
    "payments_retention",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("held", DecimalText, nullable=False),
    Column("released", DecimalText, nullable=False),
    Column("released_on", DateText),
)

ZERO = Decimal("0.00")


class PaymentsProjection(Projection):
    name = "payments"
    weight = 3
    tables = (certificates, cited, payments, retention)

    def on_PaymentCertified(self, rows: Rows, event: Event) -> None:
        rows.insert(certificates, {
            "code": event.code, "certificate_id": event.certificate_id, "period": event.period,
            "through": event.through, "correction": event.correction, "reason": event.reason, "issued_on": event.on,
            "cumulative_metered": event.cumulative_metered, "retention_percent": event.retention_percent,
            "retention": event.retention, "previously_certified": event.previously_certified,
            "amount": event.amount, "cumulative_certified": event.cumulative_certified, "paid": ZERO,
        })
        for entry in event.entries:
            rows.insert(cited, {"code": event.code, "certificate_id": event.certificate_id,
                                "entry_id": entry.entry_id, "period": entry.period, "value": entry.value})
        if rows.get(retention, event.code) is None:
            rows.insert(retention, {"code": event.code, "held": event.retention, "released": ZERO,
                                    "released_on": None})
        else:
            rows.update(retention, (event.code,), held=event.retention)

    def on_PaymentRecorded(self, rows: Rows, event: Event) -> None:
        rows.insert(payments, {"code": event.code, "payment_id": event.payment_id,
                               "certificate_id": event.certificate_id, "amount": event.amount, "paid_on": event.on})
        certificate = rows.one(certificates, event.code, event.certificate_id)
        rows.update(certificates, (event.code, event.certificate_id), paid=certificate["paid"] + event.amount)

    def on_RetentionReleased(self, rows: Rows, event: Event) -> None:
        rows.update(retention, (event.code,), held=ZERO, released=event.amount, released_on=event.on)


class PaymentRow(TypedDict):
    """A compound's progress payments (``renovation payment list``)."""

    code: str
    certificates: int
    through: str  # the last period certified
    cumulative_metered: Decimal  # as the latest certificate counts it
    certified: Decimal  # Σ certificate amounts
    paid: Decimal
    retained: Decimal  # retention held now
    released: Decimal
    outstanding: Decimal  # certified − paid


class CertificateRow(TypedDict):
    """A payment certificate (``renovation payment list CODE``)."""

    code: str
    certificate_id: str
    period: str
    through: str
    on: date
    correction: bool
    reason: str | None
    cumulative_metered: Decimal
    retention_percent: Decimal
    retained: Decimal  # the retention held on the cumulative metered value, as of this certificate
    previously_certified: Decimal
    certified: Decimal  # this certificate's amount
    cumulative_certified: Decimal
    paid: Decimal
    outstanding: Decimal  # certified − paid


class CitedRow(TypedDict):
    entry_id: str
    period: str
    value: Decimal


def payment_rows(connection: Connection) -> list[PaymentRow]:
    """One row per compound with a certificate, in code order."""
    held = {row.code: row for row in connection.execute(select(retention))}
    by_code: dict[str, list[CertificateRow]] = defaultdict(list)
    for row in certificate_rows(connection):
        by_code[row["code"]].append(row)
    result: list[PaymentRow] = []
    for code, rows in sorted(by_code.items()):
        certified = sum((row["certified"] for row in rows), Decimal(0))
        paid = sum((row["paid"] for row in rows), Decimal(0))
        result.append({
            "code": code, "certificates": len(rows), "through": rows[-1]["through"],
            "cumulative_metered": rows[-1]["cumulative_metered"], "certified": certified, "paid": paid,
            "retained": held[code].held if code in held else ZERO,
            "released": held[code].released if code in held else ZERO,
            "outstanding": certified - paid,
        })
    return result


def certificate_rows(connection: Connection, code: str | None = None) -> list[CertificateRow]:
    """The certificates (of one compound, or all), in the order they were issued."""
    query = select(certificates)
    if code is not None:
        query = query.where(certificates.c.code == code)
    found = sorted(connection.execute(query), key=lambda row: (row.code, int(row.certificate_id[1:])))
    return [
        {
            "code": row.code, "certificate_id": row.certificate_id, "period": row.period, "through": row.through,
            "on": row.issued_on, "correction": bool(row.correction), "reason": row.reason,
            "cumulative_metered": row.cumulative_metered,
            "retention_percent": row.retention_percent, "retained": row.retention,
            "previously_certified": row.previously_certified, "certified": row.amount,
            "cumulative_certified": row.cumulative_certified, "paid": row.paid, "outstanding": row.amount - row.paid,
        }
        for row in found
    ]


def payments_of(connection: Connection, code: str, certificate_id: str) -> list[tuple[str, Decimal, date]]:
    """The payments against a certificate (id, amount, day), in the order they were recorded."""
    query = select(payments).where(payments.c.code == code, payments.c.certificate_id == certificate_id)
    found = sorted(connection.execute(query), key=lambda row: int(row.payment_id[1:]))
    return [(row.payment_id, row.amount, row.paid_on) for row in found]


def cited_rows(connection: Connection, code: str, certificate_id: str) -> list[CitedRow]:
    query = select(cited).where(cited.c.code == code, cited.c.certificate_id == certificate_id)
    found = sorted(connection.execute(query), key=lambda row: int(row.entry_id[1:]))
    return [{"entry_id": row.entry_id, "period": row.period, "value": row.value} for row in found]

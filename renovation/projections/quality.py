"""Quality: inspections, morning-round coverage, findings and material tests, per compound or contractor.

Stored are the facts (inspection days, findings, samples); what depends on today (overdue findings,
construction days so far) is worked out when asked.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Integer,
    String,
    Table,
    and_,
    case,
    func,
    or_,
    select,
)

from renovation.projections.base import (
    DateText,
    DateTimeText,
    Event,
    Projection,
    metadata,
)
from renovation.projections.progress import percent
from renovation.projections.rows import Rows

compounds = Table(
    "quality_compounds",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("contractor", String(200), nullable=False),
    Column("started_on", DateText),
    Column("completed_on", DateText),
    Column("morning", Integer, nullable=False),
    Column("patrol", Integer, nullable=False),
)

morning_days = Table(
    "quality_morning_days",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("day", DateText, primary_key=True),
)

findings = Table(
    "quality_findings_v2",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("finding_id", String(16), primary_key=True),
    Column("category", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("due", DateText, nullable=False),
    Column("raised_at", DateTimeText, nullable=False),
    Column("status", String(16), nullable=False),
    Column("closed_at", DateTimeText),
    Column("close_seconds", Integer),  # from raised to closed, whole seconds, once closed
)

samples = Table(
    "quality_samples",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("sample_id", String(16), primary_key=True),
    Column("regime", String(16), nullable=False),
    Column("batch", String(64), nullable=False),
    Column("resample_of", String(16)),
    Column("passed", Boolean),
    Column("outcome", String(32)),
)

REGIMES = ("routine", "cross", "blind")

class QualityProjection(Projection):
    name = "quality"
    version = 2  # findings record the seconds they took to close
    tables = (compounds, morning_days, findings, samples)

    def on_Registered(self, rows: Rows, event: Event) -> None:
        rows.insert(compounds, {"code": event.code, "contractor": event.contractor, "morning": 0, "patrol": 0})

    def on_ConstructionStarted(self, rows: Rows, event: Event) -> None:
        rows.update(compounds, (event.code,), started_on=event.on)

    def on_ConstructionCompleted(self, rows: Rows, event: Event) -> None:
        rows.update(compounds, (event.code,), completed_on=event.on)

    def on_InspectionRecorded(self, rows: Rows, event: Event) -> None:
        rows.update(compounds, (event.code,), **{event.kind: rows.one(compounds, event.code)[event.kind] + 1})
        if event.kind == "morning":
            rows.insert(morning_days, {"code": event.code, "day": event.at.date()}, ignore_existing=True)
        for finding in event.findings:
            rows.insert(findings, {
                "code": event.code, "finding_id": finding.finding_id, "category": finding.category,
                "severity": finding.severity, "due": finding.due, "raised_at": finding.raised_at, "status": "open",
            })

    def on_FindingRectified(self, rows: Rows, event: Event) -> None:
        rows.update(findings, (event.code, event.finding_id), status="rectified")

    def on_FindingClosed(self, rows: Rows, event: Event) -> None:
        delta = event.at - rows.one(findings, event.code, event.finding_id)["raised_at"]
        rows.update(findings, (event.code, event.finding_id), status="closed", closed_at=event.at,
                    close_seconds=delta.days * 86400 + delta.seconds)

    def on_FindingReopened(self, rows: Rows, event: Event) -> None:
        rows.update(findings, (event.code, event.finding_id), status="reopened", closed_at=None, close_seconds=None)

    def on_MaterialSampled(self, rows: Rows, event: Event) -> None:
        rows.insert(samples, {"code": event.code, "sample_id": event.sample_id, "regime": event.regime,
                              "batch": event.batch, "resample_of": event.resample_of})

    def on_MaterialResultRecorded(self, rows: Rows, event: Event) -> None:
        rows.update(samples, (event.code, event.sample_id), passed=event.passed, outcome=event.outcome)


def construction_days(row: Any, today: date) -> list[date]:
    """Every day from the start to the completion (or today), both included."""
    if row.started_on is None:
        return []
    last = min(row.completed_on or today, today)
    return [row.started_on + timedelta(days=n) for n in range((last - row.started_on).days + 1)]


def missed_days(connection: Connection, code: str, today: date) -> list[date]:
    """Construction days without a morning inspection."""
    row = connection.execute(select(compounds).where(compounds.c.code == code)).one_or_none()
    if row is None:
        return []
    inspected = set(connection.execute(select(morning_days.c.day).where(morning_days.c.code == code)).scalars())
    return [day for day in construction_days(row, today) if day not in inspected]


def days_between(start: datetime, end: datetime) -> Decimal:
    delta = end - start
    return Decimal(delta.days * 86400 + delta.seconds) / 86400


class Tally:
    """The figures of one compound or one contractor."""

    def __init__(self) -> None:
        self.morning = self.patrol = 0
        self.covered = self.days = 0
        self.open = self.overdue = self.closed = 0
        self.close_seconds = 0
        self.samples = self.failed = 0
        self.rejected: set[tuple[str, str]] = set()
        self.by_regime: dict[str, list[int]] = {regime: [0, 0] for regime in REGIMES}  # resulted, passed

    def row(self) -> dict[str, Any]:
        mean = Decimal(self.close_seconds) / 86400 / self.closed if self.closed else None
        return {
            "inspections": self.morning + self.patrol,
            "morning_inspections": self.morning,
            "patrols": self.patrol,
            "construction_days": self.days,
            "morning_coverage": percent(Decimal(self.covered), Decimal(self.days)),
            "findings_open": self.open,
            "findings_overdue": self.overdue,
            "findings_closed": self.closed,
            "mean_days_to_close": mean.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if mean is not None else None,
            "samples": self.samples,
            "samples_failed": self.failed,
            **{
                f"{regime}_pass_rate": percent(Decimal(passed), Decimal(resulted))
                for regime, (resulted, passed) in self.by_regime.items()
            },
            "rejected_batches": len(self.rejected),
        }


def quality_rows(connection: Connection, today: date, by: str = "compound",
                 hidden_regimes: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """One row per compound (or per contractor): coverage and findings as of ``today``. Counted in
    the database, so that a province's thousands of compounds answer quickly."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    contractor_of: dict[str, str] = {}
    key_of: dict[str, str] = {}
    for row in connection.execute(select(compounds).order_by(compounds.c.code)):
        contractor_of[row.code] = row.contractor
        key_of[row.code] = row.code if by == "compound" else row.contractor
        tally = tallies[key_of[row.code]]
        tally.morning += row.morning
        tally.patrol += row.patrol
        if row.started_on is not None:
            tally.days += max(0, (min(row.completed_on or today, today) - row.started_on).days + 1)
    # Days with a morning round within each compound's construction days so far.
    covered = (
        select(morning_days.c.code, func.count())
        .join(compounds, compounds.c.code == morning_days.c.code)
        .where(morning_days.c.day >= compounds.c.started_on, morning_days.c.day <= today,
               or_(compounds.c.completed_on.is_(None), morning_days.c.day <= compounds.c.completed_on))
        .group_by(morning_days.c.code)
    )
    for code, count in connection.execute(covered):
        tallies[key_of[code]].covered += count
    is_closed = findings.c.status == "closed"
    per_compound = select(
        findings.c.code,
        func.sum(case((is_closed, 1), else_=0)),
        func.sum(case((is_closed, 0), else_=1)),
        func.sum(case((and_(~is_closed, findings.c.due < today), 1), else_=0)),
        func.sum(case((is_closed, findings.c.close_seconds), else_=0)),
    ).group_by(findings.c.code)
    for code, closed, still_open, overdue, seconds in connection.execute(per_compound):
        tally = tallies[key_of[code]]
        tally.closed += int(closed)
        tally.open += int(still_open)
        tally.overdue += int(overdue)
        tally.close_seconds += int(seconds or 0)
    visible = samples.c.passed.is_not(None) | samples.c.regime.not_in(sorted(hidden_regimes))
    by_regime = (
        select(samples.c.code, samples.c.regime, func.count(), func.count(samples.c.passed),
               func.sum(case((samples.c.passed.is_(True), 1), else_=0)))
        .where(visible)
        .group_by(samples.c.code, samples.c.regime)
    )
    for code, regime, taken, resulted, passed in connection.execute(by_regime):
        tally = tallies[key_of[code]]
        tally.samples += taken
        tally.by_regime[regime][0] += resulted
        tally.by_regime[regime][1] += int(passed or 0)
        tally.failed += resulted - int(passed or 0)
    rejected = select(samples.c.code, samples.c.batch).where(samples.c.outcome == "batch_rejected").distinct()
    for code, batch in connection.execute(rejected):
        tallies[key_of[code]].rejected.add((code, batch))
    if by == "compound":
        return [{"code": code, "contractor": contractor_of[code], **tallies[code].row()} for code in contractor_of]
    return [{"contractor": name, **tallies[name].row()} for name in sorted(set(contractor_of.values()))]

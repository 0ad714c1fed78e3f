"""Quality: inspections, morning-round coverage, findings and material tests, per compound or contractor.

Stored are the facts (inspection days, findings, samples) and, per compound, running counts of what
a province's board would otherwise count across hundreds of thousands of rows each time (morning
days within construction, closed findings and the time they took, results and passes by regime).
What depends on today (days after it, overdue findings, construction days so far) and what a
contractor may not see (blind samples still waiting for their result) is worked out when asked,
from the few rows it concerns (open findings, kept apart; pending samples and days after today,
through partial indexes).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal, TypedDict, overload

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    String,
    Table,
    case,
    func,
    literal_column,
    or_,
    select,
)

from renovation.projections.base import DateText, DateTimeText, Event, PartialIndex, Projection, metadata
from renovation.projections.common import count_percent
from renovation.projections.rows import WRITTEN_ONCE, Rows

REGIMES = ("routine", "cross", "blind")
#: A morning round is on time if it starts by 07:00 (06:30 and the default grace of renovation.toml).
ON_TIME_BY = time(7, 0)

compounds = Table(
    "quality_compounds_v3",  # the shape of version 3 of the projection (version 4 added open_findings)
    metadata,
    Column("code", String(16), primary_key=True),
    Column("contractor", String(200), nullable=False),
    Column("started_on", DateText),
    Column("completed_on", DateText),
    Column("morning", Integer, nullable=False),
    Column("patrol", Integer, nullable=False),
    Column("covered_days", Integer, nullable=False),  # morning days from start to completion
    Column("findings_closed", Integer, nullable=False),
    Column("close_seconds", Integer, nullable=False),  # of the closed findings, in all
    *(Column(f"{regime}_{count}", Integer, nullable=False) for regime in REGIMES for count in ("resulted", "passed")),
)
COUNTS = [column.name for column in compounds.columns if isinstance(column.type, Integer)]

morning_days = Table(
    "quality_morning_days_v2",  # version 6 of the projection added first_start
    metadata,
    Column("code", String(16), primary_key=True),
    Column("day", DateText, primary_key=True),
    Column("first_start", String(8), nullable=False),  # HH:MM:SS of the day's first morning round, store's zone
    Index("quality_morning_days_v2_by_day", "day"),  # the days after a board's date
    Index("quality_morning_days_v2_by_start", "first_start"),  # the few days whose round started late
    info={WRITTEN_ONCE: True},  # read back only for a second round the same day, or a completion
)

# Partial indexes hold only the few rows a board counts when asked: a query uses one when its
# condition is written the same way, as a literal (see ``quality_rows``).
PENDING = literal_column("passed").is_(None)
REJECTED = literal_column("outcome") == literal_column("'batch_rejected'")

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

#: The findings not closed, and their due dates: the few rows a board reads to count open and overdue
#: findings (a partial index on the findings would do on SQLite; PostgreSQL's planner prefers
#: scanning every finding to reading a freshly written table's rows through an index).
open_findings = Table(
    "quality_open_findings",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("finding_id", String(16), primary_key=True),
    Column("due", DateText, nullable=False),
)

def _taken_columns() -> list[Column[Any]]:
    """The columns of a sample as taken (the result's follow in ``samples``)."""
    return [
        Column("code", String(16), primary_key=True),
        Column("sample_id", String(16), primary_key=True),
        Column("regime", String(16), nullable=False),
        Column("batch", String(64), nullable=False),
        Column("resample_of", String(16)),
    ]


samples = Table(
    "quality_samples",
    metadata,
    *_taken_columns(),
    Column("passed", Boolean),
    Column("outcome", String(32)),
)

#: Blind samples still waiting for their result, kept apart from the other samples: on PostgreSQL after
#: ``renovation db roles --apply`` no contractor may read this table at all, so no row count, statistic or
#: query plan of a table a contractor reads tells of one. A result moves the sample to ``samples``.
blind_pending = Table("quality_blind_pending", metadata, *_taken_columns())

class QualityProjection(Projection):
    name = "quality"
    weight = 15
    version = 8  # the index on the first start (7: pending blind samples kept apart; 6: each day's first
    # morning start; 5: UTC times)
    tables = (compounds, morning_days, findings, open_findings, samples, blind_pending)
    partial_indexes = (PartialIndex("quality_samples_pending", samples, ("code", "regime"), PENDING),
                       PartialIndex("quality_samples_rejected", samples, ("code", "batch"), REJECTED))

    def on_Registered(self, rows: Rows, event: Event) -> None:
        rows.insert(compounds, {"code": event.code, "contractor": event.contractor, **dict.fromkeys(COUNTS, 0)})

    def on_ConstructionStarted(self, rows: Rows, event: Event) -> None:
        rows.update(compounds, (event.code,), started_on=event.on)
        self._recount_covered(rows, event.code)

    def on_ConstructionCompleted(self, rows: Rows, event: Event) -> None:
        rows.update(compounds, (event.code,), completed_on=event.on)
        self._recount_covered(rows, event.code)

    def _recount_covered(self, rows: Rows, code: str) -> None:
        """Morning days within the construction dates, counted again when a date is set."""
        compound = rows.one(compounds, code)
        started, completed = compound["started_on"], compound["completed_on"]
        days = rows.group(morning_days, code)
        if started is None:
            count = 0
        elif days is not None:  # every morning day is in the buffer (a rebuild, before a flush let them go)
            count = sum(1 for day in days if started <= day["day"] and (completed is None or day["day"] <= completed))
        else:
            rows.flush(morning_days)
            count = rows.connection.execute(
                select(func.count()).select_from(morning_days)
                .where(morning_days.c.code == code, *_within_construction(started, completed))
            ).scalar_one()
        rows.update(compounds, (code,), covered_days=count)

    def on_InspectionRecorded(self, rows: Rows, event: Event) -> None:
        compound = rows.one(compounds, event.code)
        counts = {event.kind: compound[event.kind] + 1}
        local = event.at.astimezone(self.zone)  # the project's day and hour, whoever recorded it where
        day, start = local.date(), local.time().isoformat(timespec="seconds")
        known = rows.get(morning_days, event.code, day) if event.kind == "morning" else None
        if known is not None and start < known["first_start"]:
            rows.update(morning_days, (event.code, day), first_start=start)
        if event.kind == "morning" and known is None:
            rows.insert(morning_days, {"code": event.code, "day": day, "first_start": start})
            started, completed = compound["started_on"], compound["completed_on"]
            if started is not None and started <= day and (completed is None or day <= completed):
                counts["covered_days"] = compound["covered_days"] + 1
        rows.update(compounds, (event.code,), **counts)
        for finding in event.findings:
            rows.insert(findings, {
                "code": event.code, "finding_id": finding.finding_id, "category": finding.category,
                "severity": finding.severity, "due": finding.due, "raised_at": finding.raised_at, "status": "open",
            })
            rows.insert(open_findings, {"code": event.code, "finding_id": finding.finding_id, "due": finding.due})

    def _finding(self, rows: Rows, event: Event, status: str, close_seconds: int | None = None,
                 **values: Any) -> None:
        """Set a finding's status, keeping the compound's count of closed findings and their time,
        and the open findings apart."""
        before = rows.one(findings, event.code, event.finding_id)
        compound = rows.one(compounds, event.code)
        closed, seconds = compound["findings_closed"], compound["close_seconds"]
        if before["status"] == "closed":
            closed, seconds = closed - 1, seconds - before["close_seconds"]
            if status != "closed":
                rows.insert(open_findings, {"code": event.code, "finding_id": event.finding_id, "due": before["due"]})
        if status == "closed":
            closed, seconds = closed + 1, seconds + (close_seconds or 0)
            if before["status"] != "closed":
                rows.delete(open_findings, event.code, event.finding_id)
        rows.update(findings, (event.code, event.finding_id), status=status, close_seconds=close_seconds, **values)
        rows.update(compounds, (event.code,), findings_closed=closed, close_seconds=seconds)

    def on_FindingRectified(self, rows: Rows, event: Event) -> None:
        self._finding(rows, event, "rectified", rows.one(findings, event.code, event.finding_id)["close_seconds"])

    def on_FindingClosed(self, rows: Rows, event: Event) -> None:
        delta = event.at - rows.one(findings, event.code, event.finding_id)["raised_at"]
        self._finding(rows, event, "closed", delta.days * 86400 + delta.seconds, closed_at=event.at)

    def on_FindingReopened(self, rows: Rows, event: Event) -> None:
        self._finding(rows, event, "reopened", None, closed_at=None)

    def on_MaterialSampled(self, rows: Rows, event: Event) -> None:
        rows.insert(blind_pending if event.regime == "blind" else samples, {
            "code": event.code, "sample_id": event.sample_id, "regime": event.regime, "batch": event.batch,
            "resample_of": event.resample_of,
        })

    def on_MaterialResultRecorded(self, rows: Rows, event: Event) -> None:
        waiting = rows.get(blind_pending, event.code, event.sample_id)
        if waiting is not None:  # a blind sample's first result: from now on it is a sample like any other
            rows.delete(blind_pending, event.code, event.sample_id)
            rows.insert(samples, {**waiting, "passed": None, "outcome": None})
        before = rows.one(samples, event.code, event.sample_id)
        compound = rows.one(compounds, event.code)
        resulted, passed = f"{before['regime']}_resulted", f"{before['regime']}_passed"
        counts = {resulted: compound[resulted], passed: compound[passed]}
        if before["passed"] is not None:
            counts[resulted] -= 1
            counts[passed] -= int(before["passed"])
        if event.passed is not None:
            counts[resulted] += 1
            counts[passed] += int(event.passed)
        rows.update(samples, (event.code, event.sample_id), passed=event.passed, outcome=event.outcome)
        rows.update(compounds, (event.code,), **counts)


def _within_construction(started_on: Any, completed_on: Any) -> list[Any]:
    """Conditions on ``morning_days.day``: from the start to the completion, if any (dates or columns)."""
    conditions = [morning_days.c.day >= started_on]
    if isinstance(completed_on, date) or completed_on is None:
        if completed_on is not None:
            conditions.append(morning_days.c.day <= completed_on)
    else:
        conditions.append(or_(completed_on.is_(None), morning_days.c.day <= completed_on))
    return conditions


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


class Tally:
    """The figures of one compound or one contractor."""

    __slots__ = (
        "by_regime",
        "close_seconds",
        "closed",
        "covered",
        "days",
        "failed",
        "morning",
        "on_time",
        "open",
        "overdue",
        "patrol",
        "rejected",
        "samples",
    )

    def __init__(self) -> None:
        self.morning = self.patrol = 0
        self.covered = self.days = self.on_time = 0
        self.open = self.overdue = self.closed = 0
        self.close_seconds = 0
        self.samples = self.failed = 0
        self.rejected: set[tuple[str, str]] = set()
        self.by_regime = [0] * (2 * len(REGIMES))  # resulted and passed, regime by regime

    def row(self) -> QualityFigures:
        mean = Decimal(self.close_seconds) / 86400 / self.closed if self.closed else None
        by_regime = self.by_regime  # resulted, passed for each of REGIMES in turn
        return {
            "inspections": self.morning + self.patrol,
            "morning_inspections": self.morning,
            "patrols": self.patrol,
            "construction_days": self.days,
            "morning_coverage": count_percent(self.covered, self.days),
            "morning_on_time": count_percent(self.on_time, self.days),
            "findings_open": self.open,
            "findings_overdue": self.overdue,
            "findings_closed": self.closed,
            "mean_days_to_close": mean.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if mean is not None else None,
            "samples": self.samples,
            "samples_failed": self.failed,
            "routine_pass_rate": count_percent(by_regime[1], by_regime[0]),
            "cross_pass_rate": count_percent(by_regime[3], by_regime[2]),
            "blind_pass_rate": count_percent(by_regime[5], by_regime[4]),
            "rejected_batches": len(self.rejected),
        }


class QualityFigures(TypedDict):
    """The figures of a quality row, for a compound or a contractor."""

    inspections: int
    morning_inspections: int
    patrols: int
    construction_days: int
    morning_coverage: Decimal | None
    morning_on_time: Decimal | None  # % of construction days whose first morning round started on time
    findings_open: int
    findings_overdue: int
    findings_closed: int
    mean_days_to_close: Decimal | None
    samples: int
    samples_failed: int
    routine_pass_rate: Decimal | None
    cross_pass_rate: Decimal | None
    blind_pass_rate: Decimal | None
    rejected_batches: int


class CompoundQuality(QualityFigures):
    """A row of the quality board by compound (``renovation quality``)."""

    code: str
    contractor: str


class ContractorQuality(QualityFigures):
    """A row of the quality board by contractor (``renovation quality --by contractor``)."""

    contractor: str


#: The quality board: by compound or by contractor.
QualityRows = list[CompoundQuality] | list[ContractorQuality]


class MissedDay(TypedDict):
    """A construction day of a compound without a morning round (``renovation quality CODE --missed``)."""

    code: str
    day: date


@overload
def quality_rows(connection: Connection, today: date, by: Literal["compound"] = ...,
                 hidden_regimes: frozenset[str] = ..., on_time_by: time = ...) -> list[CompoundQuality]: ...


@overload
def quality_rows(connection: Connection, today: date, by: Literal["contractor"],
                 hidden_regimes: frozenset[str] = ..., on_time_by: time = ...) -> list[ContractorQuality]: ...


@overload
def quality_rows(connection: Connection, today: date, by: str,
                 hidden_regimes: frozenset[str] = ..., on_time_by: time = ...) -> QualityRows: ...


def quality_rows(connection: Connection, today: date, by: str = "compound",
                 hidden_regimes: frozenset[str] = frozenset(), on_time_by: time = ON_TIME_BY) -> QualityRows:
    """One row per compound (or per contractor): coverage and findings as of ``today``, morning rounds
    on time if they started by ``on_time_by``. The running counts are read from one row per compound;
    the rest comes from the few rows it concerns."""
    tallies: dict[str, Tally] = defaultdict(Tally)
    contractor_of: dict[str, str] = {}
    key_of: dict[str, str] = {}
    _tally_running_counts(connection, today, by, tallies, contractor_of, key_of)
    _tally_the_few_rows(connection, today, hidden_regimes, tallies, key_of)
    _tally_on_time(connection, today, on_time_by, tallies, key_of)
    if by == "compound":
        by_compound: list[CompoundQuality] = [
            {"code": code, "contractor": contractor_of[code], **tallies[code].row()} for code in contractor_of
        ]
        return by_compound
    by_contractor: list[ContractorQuality] = [
        {"contractor": name, **tallies[name].row()} for name in sorted(set(contractor_of.values()))
    ]
    return by_contractor


def _tally_running_counts(connection: Connection, today: date, by: str, tallies: dict[str, Tally],
                          contractor_of: dict[str, str], key_of: dict[str, str]) -> None:
    """Each compound's running counts, into its own tally or its contractor's."""
    regime_columns = [compounds.c[f"{regime}_{count}"] for regime in REGIMES for count in ("resulted", "passed")]
    per_compound = select(
        compounds.c.code, compounds.c.contractor, compounds.c.started_on, compounds.c.completed_on,
        compounds.c.morning, compounds.c.patrol, compounds.c.covered_days, compounds.c.findings_closed,
        compounds.c.close_seconds, *regime_columns,
    ).order_by(compounds.c.code)
    for code, contractor, started_on, completed_on, morning, patrol, covered, closed, seconds, *counts in (
        connection.execute(per_compound).all()
    ):
        contractor_of[code] = contractor
        key = key_of[code] = code if by == "compound" else contractor
        tally = tallies[key]
        tally.morning += morning
        tally.patrol += patrol
        tally.covered += covered
        tally.closed += closed
        tally.close_seconds += seconds
        if started_on is not None:
            tally.days += max(0, (min(completed_on or today, today) - started_on).days + 1)
        by_regime = tally.by_regime
        for index, count in enumerate(counts):
            by_regime[index] += count
            if index % 2 == 0:
                tally.samples += count
                tally.failed += count - counts[index + 1]


def _tally_on_time(connection: Connection, today: date, on_time_by: time, tallies: dict[str, Tally],
                   key_of: dict[str, str]) -> None:
    """Construction days up to ``today`` whose first morning round started by ``on_time_by``: the days
    covered so far (see ``_tally_the_few_rows``) less the few whose first round started later, read
    through the index on the start (not every morning day of the programme)."""
    # Counted here, not grouped in SQL: grouping by compound, SQLite's planner would rather read every
    # morning day in the key's order than the few late ones through the index.
    late = (
        select(morning_days.c.code)
        .join(compounds, compounds.c.code == morning_days.c.code)
        .where(morning_days.c.first_start > on_time_by.isoformat(timespec="seconds"), morning_days.c.day <= today,
               *_within_construction(compounds.c.started_on, compounds.c.completed_on))
    )
    for tally in tallies.values():
        tally.on_time = tally.covered
    for code in connection.execute(late).scalars():
        tallies[key_of[code]].on_time -= 1


def _tally_the_few_rows(connection: Connection, today: date, hidden_regimes: frozenset[str],
                        tallies: dict[str, Tally], key_of: dict[str, str]) -> None:
    """What the running counts cannot hold: morning days after the board's date, open findings,
    pending samples (not those of a hidden regime) and rejected batches."""
    # Morning days of the construction that come after the board's date do not count yet (counted
    # here, not grouped in SQL, so that the index on the day finds the few there are).
    after = (
        select(morning_days.c.code)
        .join(compounds, compounds.c.code == morning_days.c.code)
        .where(morning_days.c.day > today, *_within_construction(compounds.c.started_on, compounds.c.completed_on))
    )
    for code in connection.execute(after).scalars():
        tallies[key_of[code]].covered -= 1
    still_open = (
        select(open_findings.c.code, func.count(), func.sum(case((open_findings.c.due < today, 1), else_=0)))
        .group_by(open_findings.c.code)
    )
    for code, count, overdue in connection.execute(still_open).all():
        tally = tallies[key_of[code]]
        tally.open += count
        tally.overdue += int(overdue or 0)
    pending = select(samples.c.code, func.count()).where(PENDING).group_by(samples.c.code, samples.c.regime)
    if hidden_regimes:
        pending = pending.where(samples.c.regime.not_in(sorted(hidden_regimes)))
    for code, count in connection.execute(pending).all():
        tallies[key_of[code]].samples += count
    if "blind" not in hidden_regimes:
        waiting = select(blind_pending.c.code, func.count()).group_by(blind_pending.c.code)
        for code, count in connection.execute(waiting).all():
            tallies[key_of[code]].samples += count
    rejected = select(samples.c.code, samples.c.batch).where(REJECTED).distinct()
    for code, batch in connection.execute(rejected).all():
        tallies[key_of[code]].rejected.add((code, batch))

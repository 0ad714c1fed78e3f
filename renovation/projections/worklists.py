"""The daily worklists: every finding with its state (``renovation finding list``) and every material
sample with its result (``renovation material list``), one row each, with what a supervisor or a
contractor needs to act on it. Who may see which rows is decided by the service that reads them
(``renovation.services.worklists``): a contractor its own compounds, never a pending blind sample.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, TypedDict

from sqlalchemy import Boolean, Column, Connection, Index, String, Table, exists, literal_column, select

from renovation.projections.base import DateText, DateTimeText, Event, PartialIndex, Projection, metadata
from renovation.projections.common import days_between
from renovation.projections.rows import Rows

contractors = Table(
    "worklist_compounds",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("contractor", String(200), nullable=False),
)

findings = Table(
    "worklist_findings",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("finding_id", String(16), primary_key=True),
    Column("inspection_id", String(16), nullable=False),
    Column("category", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("description", String(500), nullable=False),
    Column("location", String(200)),
    Column("raised_at", DateTimeText, nullable=False),
    Column("raised_by", String(200), nullable=False),
    Column("due", DateText, nullable=False),
    Column("status", String(16), nullable=False),  # open | rectified | closed | reopened
    Column("changed_at", DateTimeText, nullable=False),
    Column("last_note", String(500)),
    Column("closed_at", DateTimeText),
    Index("worklist_findings_by_due", "status", "due"),
)

def _sample_columns() -> list[Column[Any]]:
    """The columns of a sample as taken (those of its result follow in ``samples``)."""
    return [
        Column("code", String(16), primary_key=True),
        Column("sample_id", String(16), primary_key=True),
        Column("material", String(200), nullable=False),
        Column("batch", String(64), nullable=False),
        Column("regime", String(16), nullable=False),
        Column("sampled_at", DateTimeText, nullable=False),
        Column("sampled_by", String(200), nullable=False),
        Column("witness", String(200)),
        Column("resample_of", String(16)),
    ]


#: Partial indexes hold the few samples a list or the digest asks for (a query uses one when its
#: condition is written the same way, as a literal): those waiting for a result, and resamples.
PENDING = literal_column("passed").is_(None)
RESAMPLES = literal_column("resample_of").is_not(None)

samples = Table(
    "worklist_samples",
    metadata,
    *_sample_columns(),
    Column("passed", Boolean),
    Column("outcome", String(32)),  # passed | resample_required | batch_rejected
    Column("lab", String(200)),
    Column("report", String(64)),
    Column("resulted_at", DateTimeText),
    Index("worklist_samples_by_outcome", "outcome"),
)

#: Blind samples still waiting for their result, kept apart (as ``quality_blind_pending``: no contractor
#: may read this table on PostgreSQL after ``db roles --apply``); a result moves the sample to ``samples``.
blind_pending = Table("worklist_blind_pending", metadata, *_sample_columns())


class WorklistsProjection(Projection):
    name = "worklists"
    weight = 8
    version = 3  # indexes of the few findings and samples a list asks for (2: pending blind samples kept apart)
    tables = (contractors, findings, samples, blind_pending)
    partial_indexes = (PartialIndex("worklist_samples_pending", samples, ("code",), PENDING),
                       PartialIndex("worklist_samples_resamples", samples, ("code", "resample_of"), RESAMPLES))

    def on_Registered(self, rows: Rows, event: Event) -> None:
        rows.insert(contractors, {"code": event.code, "contractor": event.contractor})

    def on_InspectionRecorded(self, rows: Rows, event: Event) -> None:
        for finding in event.findings:
            rows.insert(findings, {
                "code": event.code, "finding_id": finding.finding_id, "inspection_id": event.inspection_id,
                "category": finding.category, "severity": finding.severity, "description": finding.description,
                "location": finding.location, "raised_at": finding.raised_at, "raised_by": event.user,
                "due": finding.due, "status": "open", "changed_at": finding.raised_at,
            })

    def _step(self, rows: Rows, event: Event, status: str, **values: Any) -> None:
        note = {"last_note": event.note} if event.note else {}
        rows.update(findings, (event.code, event.finding_id), status=status, changed_at=event.at, **note, **values)

    def on_FindingRectified(self, rows: Rows, event: Event) -> None:
        self._step(rows, event, "rectified")

    def on_FindingClosed(self, rows: Rows, event: Event) -> None:
        self._step(rows, event, "closed", closed_at=event.at)

    def on_FindingReopened(self, rows: Rows, event: Event) -> None:
        self._step(rows, event, "reopened", closed_at=None)

    def on_MaterialSampled(self, rows: Rows, event: Event) -> None:
        rows.insert(blind_pending if event.regime == "blind" else samples, {
            "code": event.code, "sample_id": event.sample_id, "material": event.material, "batch": event.batch,
            "regime": event.regime, "sampled_at": event.at, "sampled_by": event.user, "witness": event.witness,
            "resample_of": event.resample_of,
        })

    def on_MaterialResultRecorded(self, rows: Rows, event: Event) -> None:
        waiting = rows.get(blind_pending, event.code, event.sample_id)
        if waiting is not None:  # a blind sample's first result: from now on a sample like any other
            rows.delete(blind_pending, event.code, event.sample_id)
            rows.insert(samples, dict(waiting))
        rows.update(samples, (event.code, event.sample_id), passed=event.passed, outcome=event.outcome,
                    lab=event.lab, report=event.report, resulted_at=event.at)


class FindingRow(TypedDict):
    """A finding on the worklist (``renovation finding list``)."""

    code: str
    finding_id: str
    contractor: str
    category: str
    severity: str
    description: str
    location: str | None
    raised_at: Any  # datetime, in the store's zone
    raised_by: str
    due: date
    days_open: Decimal
    days_overdue: int
    status: str
    last_note: str | None


class SampleRow(TypedDict):
    """A material sample on the worklist (``renovation material list``)."""

    code: str
    sample_id: str
    contractor: str
    material: str
    batch: str
    regime: str
    sampled_at: Any  # datetime, in the store's zone
    sampled_by: str
    witness: str | None
    result: str  # pending | passed | failed
    outcome: str | None
    lab: str | None
    report: str | None
    resample_of: str | None


#: A finding's states but closed.
NOT_CLOSED = ("open", "rectified", "reopened")
#: What ``finding list --open/--overdue/--closed`` keep.
FINDING_STATES = ("open", "overdue", "closed")
#: What ``material list --pending/--failed/--resample/--rejected`` keep.
SAMPLE_STATES = ("pending", "failed", "resample", "rejected")


def finding_rows(connection: Connection, today: date, *, state: str | None = None, codes: list[str] | None = None,
                 severity: str | None = None, category: str | None = None, zone: Any = None,
                 until: Any = None) -> list[FindingRow]:
    """The findings (of ``codes``, if given), by compound and id; ``state`` one of FINDING_STATES.
    Days open count to the close (or to ``until``, a moment, else the end of ``today``); days overdue
    past the due date, while open."""
    f = findings.c
    query = select(f.code, f.finding_id, f.category, f.severity, f.description, f.location, f.raised_at,
                   f.raised_by, f.due, f.status, f.last_note, f.closed_at)
    if state == "closed":
        query = query.where(findings.c.status == "closed")
    elif state in ("open", "overdue"):  # named, not "not closed": the index on (status, due) finds them
        query = query.where(findings.c.status.in_(NOT_CLOSED))
    if state == "overdue":
        query = query.where(findings.c.due < today)
    if codes is not None:
        query = query.where(findings.c.code.in_(codes))
    if severity:
        query = query.where(findings.c.severity == severity)
    if category:
        query = query.where(findings.c.category == category)
    result: list[FindingRow] = []
    ends: dict[Any, Any] = {}  # the end of today in each zone a finding was raised in
    zero, tenth = Decimal(0), Decimal("0.1")
    # Each compound's contractor read once (a province's open findings are thousands of rows of 3,000
    # compounds: looked up in the table for each row, a fifth of the list's time).
    contractors_of = select(contractors.c.code, contractors.c.contractor)
    if codes is not None:
        contractors_of = contractors_of.where(contractors.c.code.in_(codes))
    of = dict(connection.execute(contractors_of).tuples().all())
    for (code, finding_id, category, severity, description, location, raised, raised_by, due, status,
         last_note, end) in connection.execute(query).all():  # fetched at once, not row by row
        contractor = of.get(code)
        if contractor is None:
            continue  # as a join would: a finding is of a compound registered
        if zone:
            raised = raised.astimezone(zone)
        if end is None:
            end = until
            if end is None:
                end = ends.get(raised.tzinfo)
                if end is None:
                    end = ends[raised.tzinfo] = _end_of(today, raised)
        result.append({
            "code": code, "finding_id": finding_id, "contractor": contractor, "category": category,
            "severity": severity, "description": description, "location": location,
            "raised_at": raised, "raised_by": raised_by, "due": due,
            "days_open": max(zero, days_between(raised, end)).quantize(tenth),
            "days_overdue": (today - due).days if status != "closed" and due < today else 0,
            "status": status, "last_note": last_note,
        })
    result.sort(key=lambda found: (found["code"], int(found["finding_id"][1:])))
    return result


def _end_of(today: date, like: Any) -> Any:
    """The end of ``today`` in the zone of the aware date-time ``like``."""
    return datetime.combine(today, time.max, like.tzinfo)


def _in_order(row: SampleRow) -> tuple[Any, ...]:
    """By compound: S1, S2, ... then the blind samples (whose ids tell no order, see
    ``CompoundProject.next_sample_id``) as they were taken."""
    sample_id = row["sample_id"]
    if sample_id[:1] == "S" and sample_id[1:].isdigit():
        return (row["code"], 0, int(sample_id[1:]))
    return (row["code"], 1, row["sampled_at"], sample_id)


def sample_rows(connection: Connection, *, state: str | None = None, codes: list[str] | None = None,
                batch: str | None = None, hide_pending_blind: bool = False, zone: Any = None) -> list[SampleRow]:
    """The material samples (of ``codes``, if given), by compound and id; ``state`` one of SAMPLE_STATES
    (``resample``: a failed routine or cross sample whose batch awaits its double-quantity resample).
    ``hide_pending_blind``: a blind sample without its result is left out, as if it were not there."""
    result: list[SampleRow] = []
    waiting: Sequence[Any] = ()
    if not hide_pending_blind and state in (None, "pending"):  # a contractor's never reads the table
        query = select(blind_pending, contractors.c.contractor).join(
            contractors, contractors.c.code == blind_pending.c.code)
        if codes is not None:
            query = query.where(blind_pending.c.code.in_(codes))
        if batch:
            query = query.where(blind_pending.c.batch == batch)
        waiting = connection.execute(query).all()
    query = select(samples, contractors.c.contractor).join(contractors, contractors.c.code == samples.c.code)
    if state == "pending":
        query = query.where(PENDING)
    elif state == "failed":
        query = query.where(samples.c.passed.is_(False))
    elif state == "resample":  # and its resample not taken yet (a blind one still waiting is taken too,
        taken = samples.alias("taken")  # but not for a contractor, who does not see it)
        query = query.where(samples.c.outcome == "resample_required", ~exists().where(
            taken.c.code == samples.c.code, taken.c.resample_of == samples.c.sample_id))
        if not hide_pending_blind:
            query = query.where(~exists().where(blind_pending.c.code == samples.c.code,
                                                blind_pending.c.resample_of == samples.c.sample_id))
    elif state == "rejected":
        query = query.where(samples.c.outcome == "batch_rejected")
    if codes is not None:
        query = query.where(samples.c.code.in_(codes))
    if batch:
        query = query.where(samples.c.batch == batch)
    for row in [*connection.execute(query).all(), *waiting]:  # fetched at once, not row by row
        found = row._mapping
        passed = found.get("passed")
        result.append({
            "code": row.code, "sample_id": row.sample_id, "contractor": row.contractor, "material": row.material,
            "batch": row.batch, "regime": row.regime,
            "sampled_at": row.sampled_at.astimezone(zone) if zone else row.sampled_at,
            "sampled_by": row.sampled_by, "witness": row.witness,
            "result": "pending" if passed is None else "passed" if passed else "failed",
            "outcome": found.get("outcome"), "lab": found.get("lab"), "report": found.get("report"),
            "resample_of": row.resample_of,
        })
    result.sort(key=_in_order)
    return result

"""What the write use cases return: one immutable record per kind of command, whose fields are what the
command prints (``--json`` gives exactly these keys, in this order).

They are ``typing.NamedTuple`` classes rather than frozen dataclasses: every command imports this
module, and building 17 frozen dataclasses cost 9 ms of each command's start-up (their methods are
compiled when the class is made) against about 1.5 ms for the same records as named tuples
(benchmarks/RESULTS.md, CLI latency). Fields, types and immutability are the same to mypy and to the
CLI, which reads them with ``_asdict()``.

A compound's state is a ``CompoundView``. The boards return rows (dicts keyed as the spec's ``--json``
lists them, ``renovation.services.boards``); the auditor's tools return the TypedDicts of
``renovation.services.audit``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from renovation.domain.compound import CompoundProject


class Registered(NamedTuple):
    code: str
    name: str


class BillSet(NamedTuple):
    code: str
    items: int
    total: Decimal


class StructuresRecorded(NamedTuple):
    code: str
    # ``count`` is the key the command has always printed; as a field it hides tuple.count, which
    # nothing calls on a result.
    count: int  # type: ignore[assignment]
    standing: int


class StructuresCleared(NamedTuple):
    code: str
    count: int  # type: ignore[assignment]  # as above


class StageReached(NamedTuple):
    """Construction started, completed or accepted."""

    code: str
    user: str
    on: date
    recorded_at: datetime


class HandedOver(NamedTuple):
    code: str
    user: str
    on: date
    operator: str
    om_end: date
    recorded_at: datetime


class Inspected(NamedTuple):
    code: str
    inspection_id: str
    kind: str
    at: datetime
    finding_ids: list[str]
    photos: tuple[str, ...] = ()  # the SHA-256 of each photo recorded with it


class FindingChanged(NamedTuple):
    """A finding rectified, closed or reopened."""

    code: str
    user: str
    finding_id: str
    at: datetime
    note: str | None
    recorded_at: datetime
    status: str
    photos: tuple[str, ...] = ()  # the SHA-256 of each photo recorded with it


class Sampled(NamedTuple):
    code: str
    sample_id: str
    batch: str
    regime: str
    resample_of: str | None


class SampleResulted(NamedTuple):
    code: str
    sample_id: str
    batch: str
    passed: bool
    outcome: str  # passed | resample_required | batch_rejected


class Measured(NamedTuple):
    code: str
    entry_id: str
    item: str
    period: str
    quantity: Decimal
    value: Decimal


class Corrected(NamedTuple):
    code: str
    entry_id: str
    item: str
    period: str
    previous_quantity: Decimal
    quantity: Decimal
    value: Decimal
    reason: str


class VariationApproved(NamedTuple):
    code: str
    item: str
    previous_quantity: Decimal
    quantity: Decimal
    reason: str


class Scored(NamedTuple):
    code: str
    period: str
    quality: Decimal
    safety: Decimal
    progress: Decimal
    civilized: Decimal
    satisfaction: Decimal
    correction: bool


class Certified(NamedTuple):
    """A payment certificate (计量支付证书)."""

    code: str
    certificate_id: str
    period: str
    through: str
    correction: bool
    on: date
    cumulative_metered: Decimal
    retention_percent: Decimal
    retention: Decimal
    previously_certified: Decimal
    amount: Decimal
    cumulative_certified: Decimal
    entries: list[str]  # "M3=1234.50": each cited entry and its value


class Paid(NamedTuple):
    code: str
    payment_id: str
    certificate_id: str
    amount: Decimal
    on: date
    unpaid: Decimal  # what the certificate has certified and not yet paid, after this payment


class RetentionReleased(NamedTuple):
    code: str
    on: date
    amount: Decimal
    due: date


class TicketReceived(NamedTuple):
    code: str
    ticket_id: str
    channel: str
    at: datetime


class TicketResolved(NamedTuple):
    code: str
    ticket_id: str
    note: str
    at: datetime


class CompoundView(NamedTuple):
    """One compound's state as plain values (``compound show``)."""

    code: str
    name: str
    district: str
    contractor: str
    households: int
    status: str
    contract_value: Decimal
    metered_value: Decimal
    planned_start: date
    planned_finish: date
    started_on: date | None
    completed_on: date | None
    accepted_on: date | None
    handed_over_on: date | None
    operator: str | None
    om_end: date | None
    illegal_structures: int
    boq_items: int
    entries: int
    inspections: int
    findings_open: int
    findings_closed: int
    samples: int
    samples_pending: int
    rejected_batches: list[str]
    scored_periods: list[str]
    tickets_open: int
    events: int

    @classmethod
    def of(cls, project: CompoundProject, *, hide_pending_blind: bool = False) -> CompoundView:
        """The compound as plain values; for a contractor, a blind sample without result does not exist."""
        findings = list(project.findings.values())
        samples = [s for s in project.samples.values()
                   if not (hide_pending_blind and s.regime == "blind" and s.passed is None)]
        hidden = len(project.samples) - len(samples)  # each recorded by one event, which is not counted
        return cls(
            code=project.code, name=project.name, district=project.district, contractor=project.contractor,
            households=project.households, status=project.status, contract_value=project.contract_value,
            metered_value=project.metered_value(), planned_start=project.planned_start,
            planned_finish=project.planned_finish, started_on=project.started_on,
            completed_on=project.completed_on, accepted_on=project.accepted_on,
            handed_over_on=project.handed_over_on, operator=project.operator, om_end=project.om_end,
            illegal_structures=project.illegal_structures, boq_items=len(project.boq),
            entries=len(project.entries), inspections=project.inspections,
            findings_open=sum(1 for f in findings if f.status != "closed"),
            findings_closed=sum(1 for f in findings if f.status == "closed"),
            samples=len(samples), samples_pending=sum(1 for s in samples if s.passed is None),
            rejected_batches=project.rejected_batches(), scored_periods=sorted(project.scores),
            tickets_open=sum(1 for t in project.tickets.values() if t.resolved_at is None),
            events=project.version - hidden,
        )

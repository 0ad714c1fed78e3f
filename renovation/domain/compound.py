"""The compound project (老旧小区改造项目): one event-sourced aggregate per compound.

Command methods check every rule first (``check_*``), work out anything derived (ids, values,
due dates, outcomes), then trigger one event. Event ``apply`` methods only change state: they are
replayed, so they never read a clock or decide anything.

This module is longer than the others (about 770 lines) on purpose: eventsourcing's aggregate
declares its events as classes nested in it, and each command sits beside the event it triggers, so
the compound's whole life reads top to bottom in one place. The rules on single values are in
``rules``, the value objects in ``values``; what is left here is the compound's own.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, EventsourcingType, MetaDomainEvent

from renovation.domain import errors, rules
from renovation.domain.rules import (
    check_amount,
    check_code,
    check_count,
    check_not_future,
    check_period,
    check_photos,
    check_score,
    check_text,
)
from renovation.domain.values import (
    DEFAULT_DUE_DAYS,
    OM_YEARS,
    SCORE_DIMENSIONS,
    BoqItem,
    Category,
    Certificate,
    Channel,
    CitedEntry,
    FieldsCompared,
    Finding,
    FindingStatus,
    InspectionKind,
    MeterEntry,
    Payment,
    Regime,
    Sample,
    Score,
    Severity,
    Status,
    Ticket,
    add_months,
    add_years,
    normalise_code,
    period_of,
    retention_of,
    value_of,
)

_ID_NAMESPACE = uuid5(NAMESPACE_URL, "urn:renovation:compound")


def project_compound(project: Any, events: Iterable[Any]) -> Any:
    """Replays events onto a compound (eventsourcing's default projector also asserts a runtime
    protocol on every event, which costs about half of the time of a load)."""
    for event in events:
        project = event.mutate(project)
    return project


_NO_CERTIFICATES: Mapping[str, Certificate] = MappingProxyType({})
_NO_PAYMENTS: Mapping[str, Payment] = MappingProxyType({})

#: The seed's morning round leaves at 06:30; one recorded at noon or later is a patrol.
NOON = time(12)

@dataclass(frozen=True)
class Context:
    """Who records a command, and when (the recording clock; business times are separate); and the
    command's id, made once per invocation, which every event of the command carries."""

    user: str
    now: datetime
    command_id: str | None = None


@dataclass(frozen=True)
class NewFinding:
    category: str
    severity: str
    description: str
    location: str | None = None


class _Lean(MetaDomainEvent):
    """The compound's events made as eventsourcing makes its events (frozen dataclasses, with a signature), but
    with no ``__eq__``, ``__hash__`` and ``__repr__`` compiled for each: ``FieldsCompared``'s serve all."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> Any:
        made: Any = EventsourcingType.__new__(mcs, name, bases, namespace)
        made = dataclass(frozen=True, eq=False, repr=False)(made)
        made.__signature__ = inspect.signature(made.__init__)
        return made


class CompoundProject(Aggregate):
    class Event(FieldsCompared, Aggregate.Event, metaclass=_Lean):
        user: str
        #: The command that recorded the event (the same for every try of one invocation), so that a
        #: retry can tell its own stored events from another writer's. None in events recorded before
        #: commands had ids (their JSON has no such key; the class attribute answers).
        command_id: str | None = field(default=None, kw_only=True)

    #: The day the compound was registered (its project approved); no lifecycle date precedes it. None
    #: for a compound registered before registrations kept it (and in snapshots taken before): unknown.
    registered_on: date | None = None
    #: Progress payments (计量支付): kept apart from ``__init__`` so that a compound snapshotted before
    #: them reads as one with none. Each change makes a new mapping (the class's empty one is shared).
    #: (Unannotated, so not fields of eventsourcing's dataclass.)
    certificates = _NO_CERTIFICATES
    payments = _NO_PAYMENTS
    retention_released_on: date | None = None

    # ---------------------------------------------------------------- registration
    class Registered(Event, Aggregate.Created):
        class_version = 2

        code: str
        name: str
        district: str
        contractor: str
        households: int
        contract_value: Decimal
        planned_start: date
        planned_finish: date
        registered_on: date | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["registered_on"] = None  # registered before the day was kept: unknown

    def __init__(
        self,
        code: str,
        name: str,
        district: str,
        contractor: str,
        households: int,
        contract_value: Decimal,
        planned_start: date,
        planned_finish: date,
        registered_on: date | None,
    ) -> None:
        self.registered_on = registered_on
        self.code = code
        self.name = name
        self.district = district
        self.contractor = contractor
        self.households = households
        self.contract_value = contract_value
        self.planned_start = planned_start
        self.planned_finish = planned_finish
        self.status = Status.REGISTERED.value
        self.illegal_structures = 0
        self.started_on: date | None = None
        self.completed_on: date | None = None
        self.accepted_on: date | None = None
        self.handed_over_on: date | None = None
        self.operator: str | None = None
        self.om_end: date | None = None
        self.boq: dict[str, BoqItem] = {}
        self.entries: dict[str, MeterEntry] = {}
        self.inspections = 0
        self.findings: dict[str, Finding] = {}
        self.samples: dict[str, Sample] = {}
        self.scores: dict[str, Score] = {}
        self.tickets: dict[str, Ticket] = {}

    @staticmethod
    def create_id(code: str) -> UUID:
        """The aggregate id follows from the code, so the code is all a user ever types."""
        return uuid5(_ID_NAMESPACE, normalise_code(code))

    @classmethod
    def register(
        cls,
        *,
        code: str,
        name: str,
        district: str,
        contractor: str,
        households: int,
        contract_value: Decimal,
        planned_start: date,
        planned_finish: date,
        ctx: Context,
        registered_on: date | None = None,
    ) -> CompoundProject:
        """Register a compound; ``registered_on`` is the day its project was registered (the day it
        is recorded, or an earlier one for a programme entered after the fact; None: unknown, as in
        registrations recorded before the day was kept)."""
        code = normalise_code(code)
        if registered_on is not None and registered_on > ctx.now.date():
            raise errors.TimeInFuture(at=registered_on.isoformat(), now=ctx.now.date().isoformat())
        check_code(code)
        for what, text in (("name", name), ("district", district), ("contractor", contractor)):
            check_text(what, text, max_length=rules.NAME)
        check_count("households", households, limit=rules.MAX_HOUSEHOLDS)
        check_amount("contract_value", contract_value)
        if planned_finish < planned_start:
            raise errors.DateOutOfOrder(
                what="planned_finish", day=planned_finish.isoformat(),
                before="planned_start", other=planned_start.isoformat(),
            )
        return cls._create(
            cls.Registered,
            id=cls.create_id(code),
            timestamp=ctx.now,
            user=ctx.user,
            command_id=ctx.command_id,
            code=code,
            name=name.strip(),
            district=district.strip(),
            contractor=contractor.strip(),
            households=households,
            contract_value=contract_value,
            planned_start=planned_start,
            planned_finish=planned_finish,
            registered_on=registered_on,
        )

    def _trigger(self, event_class: type[CompoundProject.Event], ctx: Context, **kwargs: Any) -> None:
        self.trigger_event(event_class, timestamp=ctx.now, user=ctx.user, command_id=ctx.command_id, **kwargs)

    def check_status(self, action: str, *allowed: Status) -> None:
        if self.status not in allowed:
            raise errors.WrongStatus(
                code=self.code, action=action, status=self.status,
                required=[status.value for status in allowed],
            )

    # ---------------------------------------------------------------- illegal structures (拆违)
    class IllegalStructuresRecorded(Event):
        count: int

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.illegal_structures += self.count

    class IllegalStructuresCleared(Event):
        count: int

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.illegal_structures -= self.count

    def record_illegal_structures(self, count: int, ctx: Context) -> None:
        self.check_status("record_illegal_structures", Status.REGISTERED)
        check_count("count", count, limit=rules.MAX_STRUCTURES)
        self._trigger(self.IllegalStructuresRecorded, ctx, count=count)

    def clear_illegal_structures(self, ctx: Context) -> None:
        self.check_status("clear_illegal_structures", Status.REGISTERED)
        if self.illegal_structures == 0:
            raise errors.NoIllegalStructures(code=self.code)
        self._trigger(self.IllegalStructuresCleared, ctx, count=self.illegal_structures)

    # ---------------------------------------------------------------- bill of quantities (工程量清单)
    class BillOfQuantitiesSet(Event):
        items: list[BoqItem]

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.boq = {item.code: item for item in self.items}

    class VariationApproved(Event):  # 变更
        item: str
        previous_quantity: Decimal
        quantity: Decimal
        reason: str

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.boq[self.item] = replace(aggregate.boq[self.item], quantity=self.quantity)

    def set_bill_of_quantities(self, items: list[BoqItem], ctx: Context) -> None:
        self.check_status(
            "set_bill_of_quantities", Status.REGISTERED, Status.UNDER_CONSTRUCTION, Status.COMPLETED
        )
        if self.entries:
            raise errors.BillOfQuantitiesLocked(code=self.code, entries=len(self.entries))
        if not items:
            raise errors.InvalidValue(field="items", value="", reason="empty")
        seen: set[str] = set()
        for item in items:
            check_text("item", item.code, max_length=rules.ITEM)
            check_text("description", item.description, max_length=rules.ITEM_DESCRIPTION)
            check_text("unit", item.unit, max_length=rules.UNIT)
            check_amount("quantity", item.quantity)
            check_amount("unit_price", item.unit_price, allow_zero=True)
            if item.code in seen:
                raise errors.DuplicateItem(item=item.code)
            seen.add(item.code)
        self._trigger(self.BillOfQuantitiesSet, ctx, items=list(items))

    def approve_variation(self, item: str, quantity: Decimal, reason: str, ctx: Context) -> None:
        self.check_status(
            "approve_variation", Status.REGISTERED, Status.UNDER_CONSTRUCTION, Status.COMPLETED
        )
        boq_item = self.check_item(item)
        self.check_reason(reason)
        check_amount("quantity", quantity)
        if quantity == boq_item.quantity:
            raise errors.VariationUnchanged(item=item, quantity=str(quantity))
        metered = self.cumulative(item)
        if quantity < metered:
            raise errors.VariationBelowMetered(item=item, quantity=str(quantity), cumulative=str(metered))
        self._trigger(
            self.VariationApproved, ctx,
            item=item, previous_quantity=boq_item.quantity, quantity=quantity, reason=reason.strip(),
        )

    def check_item(self, item: str) -> BoqItem:
        if not self.boq:
            raise errors.BillOfQuantitiesMissing(code=self.code)
        try:
            return self.boq[item]
        except KeyError:
            raise errors.UnknownItem(code=self.code, item=item, known=", ".join(sorted(self.boq))) from None

    @staticmethod
    def check_reason(reason: str) -> None:
        if not reason or not reason.strip():
            raise errors.ReasonRequired()
        check_text("reason", reason, max_length=rules.DESCRIPTION)

    # ---------------------------------------------------------------- lifecycle
    class ConstructionStarted(Event):
        on: date

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.status = Status.UNDER_CONSTRUCTION.value
            aggregate.started_on = self.on

    class ConstructionCompleted(Event):
        on: date

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.status = Status.COMPLETED.value
            aggregate.completed_on = self.on

    class Accepted(Event):  # 竣工验收
        on: date

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.status = Status.ACCEPTED.value
            aggregate.accepted_on = self.on

    class HandedOver(Event):  # 移交, O&M starts
        on: date
        operator: str
        om_end: date

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.status = Status.HANDED_OVER.value
            aggregate.handed_over_on = self.on
            aggregate.operator = self.operator
            aggregate.om_end = self.om_end

    def check_day(self, what: str, on: date, after: str, earlier: date | None, ctx: Context) -> None:
        if on > ctx.now.date():
            raise errors.TimeInFuture(at=on.isoformat(), now=ctx.now.date().isoformat())
        if earlier is not None and on < earlier:
            raise errors.DateOutOfOrder(what=what, day=on.isoformat(), before=after, other=earlier.isoformat())

    def start_construction(self, on: date, ctx: Context) -> None:
        self.check_status("start_construction", Status.REGISTERED)
        if self.illegal_structures:
            raise errors.IllegalStructuresStanding(code=self.code, count=self.illegal_structures)
        self.check_day("start", on, "registration", self.registered_on, ctx)
        self._trigger(self.ConstructionStarted, ctx, on=on)

    def complete_construction(self, on: date, ctx: Context) -> None:
        self.check_status("complete_construction", Status.UNDER_CONSTRUCTION)
        self.check_day("completion", on, "start", self.started_on, ctx)
        self._trigger(self.ConstructionCompleted, ctx, on=on)

    def accept(self, on: date, ctx: Context) -> None:
        self.check_status("accept", Status.COMPLETED)
        self.check_day("acceptance", on, "completion", self.completed_on, ctx)
        unclosed = [f.finding_id for f in self.findings.values() if f.status != FindingStatus.CLOSED]
        pending = [s.sample_id for s in self.samples.values() if s.passed is None]
        awaiting = self.batches_awaiting_resample()
        if unclosed or pending or awaiting:
            raise errors.AcceptanceBlocked(
                code=self.code,
                findings=", ".join(unclosed) or "-",
                samples=", ".join(pending) or "-",
                batches=", ".join(awaiting) or "-",
            )
        self._trigger(self.Accepted, ctx, on=on)

    def hand_over(self, on: date, operator: str | None, ctx: Context) -> None:
        self.check_status("hand_over", Status.ACCEPTED)
        self.check_day("hand_over", on, "acceptance", self.accepted_on, ctx)
        operator = (operator or self.contractor).strip()
        check_text("operator", operator, max_length=rules.NAME)
        self._trigger(self.HandedOver, ctx, on=on, operator=operator, om_end=add_years(on, OM_YEARS))

    # ---------------------------------------------------------------- inspections and findings
    class InspectionRecorded(Event):
        class_version = 2  # version 2 added photos
        inspection_id: str
        kind: str
        at: datetime
        findings: list[Finding]
        photos: list[str]  # the SHA-256 of each photo of its findings (the store keeps the bytes)

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["photos"] = []

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.inspections += 1
            for finding in self.findings:
                aggregate.findings[finding.finding_id] = finding

    class FindingRectified(Event):
        class_version = 2  # version 2 added photos
        finding_id: str
        at: datetime
        note: str | None
        photos: list[str]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["photos"] = []

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.set_finding(self.finding_id, status=FindingStatus.RECTIFIED.value, changed_at=self.at)

    class FindingClosed(Event):  # 销项
        class_version = 2  # version 2 added photos
        finding_id: str
        at: datetime
        note: str | None
        photos: list[str]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["photos"] = []

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.set_finding(self.finding_id, status=FindingStatus.CLOSED.value, closed_at=self.at,
                                  changed_at=self.at)

    class FindingReopened(Event):
        finding_id: str
        at: datetime
        note: str | None

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.set_finding(self.finding_id, status=FindingStatus.REOPENED.value, closed_at=None,
                                  changed_at=self.at)

    def set_finding(self, finding_id: str, **changes: Any) -> None:
        self.findings[finding_id] = replace(self.findings[finding_id], **changes)

    def check_construction_time(
        self, action: str, what: str, at: datetime, ctx: Context, *also: Status
    ) -> None:
        """``action`` names the command (``inspect``), ``what`` the time it checks (``inspection``)."""
        self.check_status(action, Status.UNDER_CONSTRUCTION, *also)
        check_not_future(at, ctx.now)
        assert self.started_on is not None
        if at.date() < self.started_on:
            raise errors.DateOutOfOrder(
                what=what, day=at.date().isoformat(), before="start", other=self.started_on.isoformat()
            )

    def record_inspection(
        self,
        kind: str,
        at: datetime,
        findings: list[NewFinding],
        due: date | None,
        ctx: Context,
        photos: Sequence[str] = (),
    ) -> tuple[str, list[str]]:
        """Returns the inspection id and the ids of its findings (``photos``: their photos' hashes)."""
        if kind not in InspectionKind.__members__.values():
            raise errors.InvalidValue(field="kind", value=kind, reason="choice", choices="morning, patrol")
        self.check_construction_time("inspect", "inspection", at, ctx)
        if kind == InspectionKind.MORNING and at.time() >= NOON:
            raise errors.MorningAfterNoon(at=at.isoformat(timespec="minutes"))
        if due is not None and due < at.date():
            raise errors.DueBeforeInspection(due=due.isoformat(), day=at.date().isoformat())
        raised = []
        for number, new in enumerate(findings, start=len(self.findings) + 1):
            self.check_new_finding(new)
            severity = Severity(new.severity)
            raised.append(
                Finding(
                    finding_id=f"F{number}",
                    category=new.category,
                    severity=new.severity,
                    description=new.description.strip(),
                    location=new.location.strip() if new.location else None,
                    due=due or at.date() + timedelta(days=DEFAULT_DUE_DAYS[severity]),
                    raised_at=at,
                )
            )
        check_photos(photos, with_findings=bool(raised))
        inspection_id = f"I{self.inspections + 1}"
        self._trigger(self.InspectionRecorded, ctx, inspection_id=inspection_id, kind=kind, at=at, findings=raised,
                      photos=list(photos))
        return inspection_id, [f.finding_id for f in raised]

    @staticmethod
    def check_new_finding(new: NewFinding) -> None:
        if new.category not in Category.__members__.values():
            raise errors.InvalidValue(
                field="category", value=new.category, reason="choice", choices="quality, safety, civilized"
            )
        if new.severity not in Severity.__members__.values():
            raise errors.InvalidValue(
                field="severity", value=new.severity, reason="choice", choices="minor, major, critical"
            )
        check_text("description", new.description, max_length=rules.DESCRIPTION)
        if new.location is not None:
            check_text("location", new.location, max_length=rules.NAME)

    def check_finding(self, finding_id: str, action: str, at: datetime, ctx: Context, *allowed: FindingStatus) -> None:
        try:
            finding = self.findings[finding_id]
        except KeyError:
            raise errors.UnknownFinding(code=self.code, finding_id=finding_id) from None
        if finding.status not in allowed:
            raise errors.FindingTransitionRefused(finding_id=finding_id, status=finding.status, action=action)
        check_not_future(at, ctx.now)
        if at < finding.raised_at:
            raise errors.DateOutOfOrder(
                what=action, day=at.isoformat(timespec="minutes"),
                before="raised", other=finding.raised_at.isoformat(timespec="minutes"),
            )
        if finding.changed_at is not None and at < finding.changed_at:  # its lifecycle in order
            raise errors.DateOutOfOrder(
                what=action, day=at.isoformat(timespec="minutes"),
                before=finding.status, other=finding.changed_at.isoformat(timespec="minutes"),
            )

    def rectify_finding(self, finding_id: str, note: str | None, at: datetime, ctx: Context,
                        photos: Sequence[str] = ()) -> None:
        self.check_finding(finding_id, "rectify", at, ctx, FindingStatus.OPEN, FindingStatus.REOPENED)
        self.check_note(note)
        check_photos(photos)
        self._trigger(self.FindingRectified, ctx, finding_id=finding_id, at=at, note=note, photos=list(photos))

    def close_finding(self, finding_id: str, note: str | None, at: datetime, ctx: Context,
                      photos: Sequence[str] = ()) -> None:
        self.check_finding(finding_id, "close", at, ctx, FindingStatus.RECTIFIED)
        self.check_note(note)
        check_photos(photos)
        self._trigger(self.FindingClosed, ctx, finding_id=finding_id, at=at, note=note, photos=list(photos))

    def reopen_finding(self, finding_id: str, note: str | None, at: datetime, ctx: Context) -> None:
        self.check_finding(finding_id, "reopen", at, ctx, FindingStatus.RECTIFIED, FindingStatus.CLOSED)
        self.check_note(note)
        self._trigger(self.FindingReopened, ctx, finding_id=finding_id, at=at, note=note)

    @staticmethod
    def check_note(note: str | None) -> None:
        if note is not None:
            check_text("note", note, max_length=rules.DESCRIPTION)

    # ---------------------------------------------------------------- material testing (材料检测)
    class MaterialSampled(Event):
        """Version 2 records ``quantity_factor``: 1 for a sample, 2 for the double-quantity resample a
        failed result requires. Version 1 events (without it) are upcast when read."""

        class_version = 2

        sample_id: str
        material: str
        batch: str
        regime: str
        witness: str | None
        at: datetime
        resample_of: str | None
        quantity_factor: int

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["quantity_factor"] = 2 if state.get("resample_of") else 1

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.samples[self.sample_id] = Sample(
                sample_id=self.sample_id, material=self.material, batch=self.batch, regime=self.regime,
                witness=self.witness, sampled_at=self.at, resample_of=self.resample_of,
            )

    class MaterialResultRecorded(Event):
        sample_id: str
        batch: str
        passed: bool
        lab: str
        report: str | None
        at: datetime
        outcome: str  # passed | resample_required | batch_rejected

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.samples[self.sample_id] = replace(
                aggregate.samples[self.sample_id], passed=self.passed, lab=self.lab, report=self.report
            )

    def next_sample_id(self, regime: str, command_id: str | None = None) -> str:
        """Routine and cross samples are numbered S1, S2, ...; a blind sample gets an id that tells
        nothing of how many there are: B and the first six hex digits of its command's id (more if
        the compound has that one already), so that a contractor, who sees no blind sample before its
        result, learns nothing from the ids it reads — no gap, no count. (Samples taken before had one
        series for all, S1, S2, ...; they keep their ids, and the S series goes on after them. A
        blind sample of a command without an id is numbered B1, B2, ...)"""
        if regime == Regime.BLIND and command_id:
            digits = command_id.upper()
            for length in range(6, len(digits) + 1):
                if f"B{digits[:length]}" not in self.samples:
                    return f"B{digits[:length]}"
        prefix = "B" if regime == Regime.BLIND else "S"
        return f"{prefix}{sum(1 for sample_id in self.samples if sample_id.startswith(prefix)) + 1}"

    def batch_samples(self, batch: str) -> list[Sample]:
        return [s for s in self.samples.values() if s.batch == batch]

    def rejected_batches(self) -> list[str]:
        return sorted({s.batch for s in self.samples.values() if s.resample_of and s.passed is False})

    def batches_awaiting_resample(self) -> list[str]:
        """Batches with a failed sample not yet resampled; a rejected batch has left the site (退场)."""
        resampled = {s.resample_of for s in self.samples.values() if s.resample_of}
        rejected = set(self.rejected_batches())
        return sorted(
            {
                s.batch
                for s in self.samples.values()
                if s.passed is False and not s.resample_of and s.sample_id not in resampled
                and s.batch not in rejected
            }
        )

    def sample_material(
        self, material: str, batch: str, regime: str, witness: str | None, at: datetime, ctx: Context
    ) -> tuple[str, str | None]:
        """Returns the sample id and, for a resample, the id of the failed sample it repeats."""
        if regime not in Regime.__members__.values():
            raise errors.InvalidValue(field="regime", value=regime, reason="choice", choices="routine, cross, blind")
        check_text("material", material, max_length=rules.NAME)
        check_text("batch", batch, max_length=rules.LABEL)
        batch = batch.strip()
        if witness is not None:
            check_text("witness", witness, max_length=rules.NAME)
        # After completion only the resample a failed result requires may still be taken.
        self.check_construction_time("sample", "sampled", at, ctx, Status.COMPLETED)
        if batch in self.rejected_batches():
            raise errors.BatchRejected(batch=batch)
        # A failed sample requires a resample of the same batch (double quantity): the next
        # sample taken from that batch is that resample.
        resample_of = None
        resampled = {s.resample_of for s in self.samples.values() if s.resample_of}
        for sample in self.batch_samples(batch):
            if sample.passed is False and not sample.resample_of and sample.sample_id not in resampled:
                resample_of = sample.sample_id
        if resample_of is None and self.status != Status.UNDER_CONSTRUCTION:
            raise errors.WrongStatus(
                code=self.code, action="sample", status=self.status, required=[Status.UNDER_CONSTRUCTION.value]
            )
        sample_id = self.next_sample_id(regime, ctx.command_id)
        self._trigger(
            self.MaterialSampled, ctx, sample_id=sample_id, material=material.strip(), batch=batch.strip(),
            regime=regime, witness=witness, at=at, resample_of=resample_of,
            quantity_factor=2 if resample_of else 1,
        )
        return sample_id, resample_of

    def record_material_result(
        self, sample_id: str, passed: bool, lab: str, report: str | None, at: datetime, ctx: Context
    ) -> str:
        """Returns the outcome: ``passed``, ``resample_required`` or ``batch_rejected``."""
        try:
            sample = self.samples[sample_id]
        except KeyError:
            raise errors.UnknownSample(code=self.code, sample_id=sample_id) from None
        if sample.passed is not None:
            raise errors.ResultAlreadyRecorded(
                sample_id=sample_id, result="pass" if sample.passed else "fail"
            )
        check_text("lab", lab, max_length=rules.NAME)
        if report is not None:
            check_text("report", report, max_length=rules.LABEL)
        check_not_future(at, ctx.now)
        if at < sample.sampled_at:
            raise errors.DateOutOfOrder(
                what="result", day=at.isoformat(timespec="minutes"),
                before="sampled", other=sample.sampled_at.isoformat(timespec="minutes"),
            )
        if passed:
            outcome = "passed"
        elif sample.resample_of:
            outcome = "batch_rejected"
        else:
            outcome = "resample_required"
        self._trigger(
            self.MaterialResultRecorded, ctx,
            sample_id=sample_id, batch=sample.batch, passed=passed, lab=lab.strip(), report=report, at=at,
            outcome=outcome,
        )
        return outcome

    # ---------------------------------------------------------------- metering (计量)
    class QuantityMeasured(Event):
        entry_id: str
        item: str
        period: str
        quantity: Decimal
        unit_price: Decimal
        value: Decimal

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.entries[self.entry_id] = MeterEntry(
                entry_id=self.entry_id, item=self.item, period=self.period,
                quantity=self.quantity, value=self.value,
            )

    class MeasurementCorrected(Event):
        entry_id: str
        item: str
        period: str
        previous_quantity: Decimal
        previous_value: Decimal
        quantity: Decimal
        value: Decimal
        reason: str

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.entries[self.entry_id] = replace(
                aggregate.entries[self.entry_id], quantity=self.quantity, value=self.value
            )

    def cumulative(self, item: str) -> Decimal:
        return sum((e.quantity for e in self.entries.values() if e.item == item), Decimal(0))

    def metered_value(self) -> Decimal:
        return sum((e.value for e in self.entries.values()), Decimal(0))

    def check_within_contract(self, item: BoqItem, cumulative: Decimal, quantity: Decimal) -> None:
        if cumulative + quantity > item.quantity:
            raise errors.MeteringExceedsContract(
                item=item.code, contract=str(item.quantity), cumulative=str(cumulative),
                quantity=str(quantity), excess=str(cumulative + quantity - item.quantity),
            )

    def measure(self, item: str, period: str, quantity: Decimal, ctx: Context) -> str:
        """Returns the entry id."""
        self.check_status("measure", Status.UNDER_CONSTRUCTION, Status.COMPLETED)
        boq_item = self.check_item(item)
        self.check_period(period, ctx)
        check_amount("quantity", quantity)
        self.check_within_contract(boq_item, self.cumulative(item), quantity)
        entry_id = f"M{len(self.entries) + 1}"
        self._trigger(
            self.QuantityMeasured, ctx, entry_id=entry_id, item=item, period=period, quantity=quantity,
            unit_price=boq_item.unit_price, value=value_of(quantity, boq_item.unit_price),
        )
        return entry_id

    def correct_measurement(self, entry_id: str, quantity: Decimal, reason: str, ctx: Context) -> None:
        self.check_status("correct", Status.UNDER_CONSTRUCTION, Status.COMPLETED)
        try:
            entry = self.entries[entry_id]
        except KeyError:
            raise errors.UnknownEntry(code=self.code, entry_id=entry_id) from None
        self.check_reason(reason)
        check_amount("quantity", quantity, allow_zero=True)
        if quantity == entry.quantity:
            raise errors.CorrectionUnchanged(entry_id=entry_id, quantity=str(quantity))
        boq_item = self.boq[entry.item]
        self.check_within_contract(boq_item, self.cumulative(entry.item) - entry.quantity, quantity)
        self._trigger(
            self.MeasurementCorrected, ctx, entry_id=entry_id, item=entry.item, period=entry.period,
            previous_quantity=entry.quantity, previous_value=entry.value, quantity=quantity,
            value=value_of(quantity, boq_item.unit_price), reason=reason.strip(),
        )

    def check_period(self, period: str, ctx: Context) -> None:
        check_period(period)
        assert self.started_on is not None
        if period < period_of(self.started_on):
            raise errors.PeriodBeforeStart(period=period, start=period_of(self.started_on))
        if period > period_of(ctx.now):
            raise errors.PeriodInFuture(period=period, current=period_of(ctx.now))

    # ---------------------------------------------------------------- horse race (赛马)
    class HorseRaceScored(Event):
        period: str
        quality: Decimal
        safety: Decimal
        progress: Decimal
        civilized: Decimal
        satisfaction: Decimal
        correction: bool
        reason: str | None

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.scores[self.period] = Score(
                period=self.period, quality=self.quality, safety=self.safety, progress=self.progress,
                civilized=self.civilized, satisfaction=self.satisfaction,
            )

    def score(
        self, period: str, scores: dict[str, Decimal], ctx: Context, *, correction: bool = False,
        reason: str | None = None,
    ) -> None:
        self.check_status(
            "score", Status.UNDER_CONSTRUCTION, Status.COMPLETED, Status.ACCEPTED, Status.HANDED_OVER
        )
        self.check_period(period, ctx)
        if set(scores) != set(SCORE_DIMENSIONS):
            raise errors.InvalidValue(
                field="scores", value=", ".join(sorted(scores)), reason="choice", choices=", ".join(SCORE_DIMENSIONS)
            )
        for dimension in SCORE_DIMENSIONS:
            check_score(dimension, scores[dimension])
        if correction:
            if period not in self.scores:
                raise errors.ScoreCorrectionWithoutScore(code=self.code, period=period)
            self.check_reason(reason or "")
        elif period in self.scores:
            raise errors.ScoreAlreadyRecorded(code=self.code, period=period)
        self._trigger(
            self.HorseRaceScored, ctx, period=period, correction=correction,
            reason=reason.strip() if reason else None,
            **{dimension: scores[dimension] for dimension in SCORE_DIMENSIONS},
        )

    # ---------------------------------------------------------------- residents (开门搞旧改)
    class FeedbackReceived(Event):
        ticket_id: str
        channel: str
        text: str
        at: datetime

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.tickets[self.ticket_id] = Ticket(
                ticket_id=self.ticket_id, channel=self.channel, text=self.text, received_at=self.at
            )

    class FeedbackResolved(Event):
        ticket_id: str
        note: str
        at: datetime

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.tickets[self.ticket_id] = replace(
                aggregate.tickets[self.ticket_id], resolved_at=self.at, note=self.note
            )

    def receive_feedback(self, channel: str, text: str, at: datetime, ctx: Context) -> str:
        """Returns the ticket id."""
        if channel not in Channel.__members__.values():
            raise errors.InvalidValue(field="channel", value=channel, reason="choice", choices="hotline, form, visit")
        check_text("text", text, max_length=rules.LONG_TEXT)
        check_not_future(at, ctx.now)
        ticket_id = f"T{len(self.tickets) + 1}"
        self._trigger(self.FeedbackReceived, ctx, ticket_id=ticket_id, channel=channel, text=text.strip(), at=at)
        return ticket_id

    def resolve_feedback(self, ticket_id: str, note: str, at: datetime, ctx: Context) -> None:
        try:
            ticket = self.tickets[ticket_id]
        except KeyError:
            raise errors.UnknownTicket(code=self.code, ticket_id=ticket_id) from None
        if ticket.resolved_at is not None:
            raise errors.TicketAlreadyResolved(ticket_id=ticket_id)
        check_text("note", note, max_length=rules.DESCRIPTION)
        check_not_future(at, ctx.now)
        if at < ticket.received_at:
            raise errors.DateOutOfOrder(
                what="resolve", day=at.isoformat(timespec="minutes"),
                before="received", other=ticket.received_at.isoformat(timespec="minutes"),
            )
        self._trigger(self.FeedbackResolved, ctx, ticket_id=ticket_id, note=note.strip(), at=at)

    # ---------------------------------------------------------------- progress payments (计量支付)
    class PaymentCertified(Event):
        """A payment certificate: the cumulative metered value through ``through`` (every metering entry
        of a period up to it, as ``entries`` cites them), the retention held on it at
        ``retention_percent``, and what this certificate adds: (cumulative − retention) − previously
        certified. ``through`` is ``period``, or for a correction certificate of an earlier period the
        latest period certified, whose cumulative the correction changed."""

        certificate_id: str
        period: str
        through: str
        correction: bool
        reason: str | None
        on: date
        entries: list[CitedEntry]
        cumulative_metered: Decimal
        retention_percent: Decimal
        retention: Decimal
        previously_certified: Decimal
        amount: Decimal
        cumulative_certified: Decimal

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.certificates = {**aggregate.certificates, self.certificate_id: Certificate(
                certificate_id=self.certificate_id, period=self.period, through=self.through,
                cumulative_metered=self.cumulative_metered, retention_percent=self.retention_percent,
                retention=self.retention, previously_certified=self.previously_certified, amount=self.amount,
                cumulative_certified=self.cumulative_certified, entries=list(self.entries), on=self.on,
                correction=self.correction,
            )}

    class PaymentRecorded(Event):
        payment_id: str
        certificate_id: str
        amount: Decimal
        on: date

        def apply(self, aggregate: CompoundProject) -> None:
            certificate = aggregate.certificates[self.certificate_id]
            aggregate.certificates = {**aggregate.certificates, self.certificate_id: replace(
                certificate, paid=certificate.paid + self.amount)}
            aggregate.payments = {**aggregate.payments, self.payment_id: Payment(
                payment_id=self.payment_id, certificate_id=self.certificate_id, amount=self.amount, on=self.on)}

    class RetentionReleased(Event):  # 保留金返还
        on: date
        amount: Decimal
        defects_months: int
        due: date

        def apply(self, aggregate: CompoundProject) -> None:
            aggregate.retention_released_on = self.on

    def latest_certificate(self) -> Certificate | None:
        return list(self.certificates.values())[-1] if self.certificates else None

    def retention_held(self) -> Decimal:
        """The retention of the latest certificate, until it is released."""
        latest = self.latest_certificate()
        if latest is None or self.retention_released_on is not None:
            return Decimal(0)
        return latest.retention

    def metering_through(self, period: str) -> list[CitedEntry]:
        """Every metering entry of a period up to ``period``, with its value now, in entry order."""
        return [CitedEntry(entry.entry_id, entry.period, entry.value)
                for entry in sorted(self.entries.values(), key=lambda e: int(e.entry_id[1:]))
                if entry.period <= period]

    def changed_since_certified(self) -> list[str]:
        """The periods, up to the latest certified, whose metering changed since the latest certificate
        cited it (a correction, or an entry metered afterwards), in order."""
        latest = self.latest_certificate()
        if latest is None:
            return []
        cited = {entry.entry_id: entry.value for entry in latest.entries}
        return sorted({entry.period for entry in self.metering_through(latest.through)
                       if cited.get(entry.entry_id) != entry.value})

    def certify(self, period: str, retention_percent: Decimal, ctx: Context, *, reason: str | None = None) -> str:
        """Issue a payment certificate for ``period``; returns its id. ``retention_percent`` is the
        retention (保留金) held, in percent of the cumulative metered value."""
        check_period(period)
        check_amount("retention_percent", retention_percent, allow_zero=True, places=2, largest=Decimal(100))
        if reason is not None:
            self.check_reason(reason)
        if self.retention_released_on is not None:
            raise errors.RetentionAlreadyReleased(code=self.code, on=self.retention_released_on.isoformat())
        latest = self.latest_certificate()
        changed = self.changed_since_certified()
        through = period
        if latest is not None and period <= latest.through:
            if period not in changed:
                if period == latest.through or any(c.period == period for c in self.certificates.values()):
                    raise errors.PeriodAlreadyCertified(code=self.code, period=period)
                raise errors.PeriodBeforeCertified(code=self.code, period=period, latest=latest.through)
            if not reason:
                raise errors.ReasonRequired()
            through = latest.through
        else:
            if changed:
                raise errors.CorrectionNotCertified(code=self.code, period=period, changed=changed[0])
            if not any(entry.period == period for entry in self.entries.values()):
                raise errors.NothingMetered(code=self.code, period=period)
        cited = self.metering_through(through)
        cumulative = sum((entry.value for entry in cited), Decimal(0))
        retention = retention_of(cumulative, retention_percent)
        previously = sum((certificate.amount for certificate in self.certificates.values()), Decimal("0.00"))
        amount = cumulative - retention - previously
        certificate_id = f"C{len(self.certificates) + 1}"
        self._trigger(
            self.PaymentCertified, ctx, certificate_id=certificate_id, period=period, through=through,
            correction=through != period or period in changed, reason=reason.strip() if reason else None,
            on=ctx.now.date(), entries=cited, cumulative_metered=cumulative, retention_percent=retention_percent,
            retention=retention, previously_certified=previously, amount=amount,
            cumulative_certified=previously + amount,
        )
        return certificate_id

    def record_payment(self, certificate_id: str, amount: Decimal, on: date, ctx: Context) -> str:
        """Record a payment of ``amount`` against a certificate on ``on``; returns the payment's id."""
        try:
            certificate = self.certificates[certificate_id]
        except KeyError:
            raise errors.UnknownCertificate(code=self.code, certificate_id=certificate_id) from None
        check_amount("amount", amount, places=rules.MONEY_PLACES)
        self.check_day("payment", on, "certificate", certificate.on, ctx)
        unpaid = certificate.amount - certificate.paid
        if amount > unpaid:
            raise errors.PaymentExceedsCertified(
                certificate_id=certificate_id, amount=str(amount), certified=str(certificate.amount),
                paid=str(certificate.paid), unpaid=str(max(unpaid, Decimal("0.00"))),
            )
        # A correction certificate of less metering (a negative amount) is netted against what is paid
        # next: the payments never exceed what the certificates certified in all.
        outstanding = sum((c.amount - c.paid for c in self.certificates.values()), Decimal("0.00"))
        if amount > outstanding:
            raise errors.PaymentExceedsOutstanding(code=self.code, amount=str(amount),
                                                   outstanding=str(max(outstanding, Decimal("0.00"))))
        payment_id = f"P{len(self.payments) + 1}"
        self._trigger(self.PaymentRecorded, ctx, payment_id=payment_id, certificate_id=certificate_id,
                      amount=amount, on=on)
        return payment_id

    def release_retention(self, on: date, defects_months: int, ctx: Context) -> Decimal:
        """Release the retention held, once the defects liability period (``defects_months`` after
        hand-over) is over; returns the amount released."""
        self.check_status("release_retention", Status.HANDED_OVER)
        check_count("defects_months", defects_months, limit=rules.MAX_DEFECTS_MONTHS)
        if self.retention_released_on is not None:
            raise errors.RetentionAlreadyReleased(code=self.code, on=self.retention_released_on.isoformat())
        held = self.retention_held()
        if held <= 0:
            raise errors.NoRetentionHeld(code=self.code)
        latest = self.latest_certificate()
        assert latest is not None and self.handed_over_on is not None
        # Nothing is certified after the release: every metering must be in a certificate by then.
        uncertified = self.changed_since_certified() or sorted(
            {entry.period for entry in self.entries.values() if entry.period > latest.through})
        if uncertified:
            raise errors.MeteringNotCertified(code=self.code, period=uncertified[0])
        due = add_months(self.handed_over_on, defects_months)
        self.check_day("release", on, "hand_over", self.handed_over_on, ctx)
        if on < due:
            raise errors.RetentionNotDue(code=self.code, on=on.isoformat(), due=due.isoformat(),
                                         months=defects_months)
        self.check_day("release", on, "certificate", latest.on, ctx)  # it releases that certificate's retention
        self._trigger(self.RetentionReleased, ctx, on=on, amount=held, defects_months=defects_months, due=due)
        return held

    # ---------------------------------------------------------------- an offline copy's work, re-applied
    class CopyRebased(Event):
        """``renovation import --rebase`` re-applied an offline copy's commands on this compound (the
        events just before this one, recorded by the same import): from ``source``, how many were
        applied and how many the rules refused, and each id of the copy that was given anew
        (``"F5=F7"``: the copy's F5 is F7 here)."""

        source: str
        applied: int
        not_applied: int
        renumbered: list[str]

        def apply(self, aggregate: CompoundProject) -> None:
            return None  # the re-applied events changed the compound; this records that they were

    def record_rebase(self, source: str, applied: int, not_applied: int, renumbered: list[str],
                      ctx: Context) -> None:
        check_text("source", source, max_length=rules.NAME)
        for count_name, count in (("applied", applied), ("not_applied", not_applied)):
            if not 0 <= count <= rules.MAX_REBASED:
                raise errors.InvalidValue(field=count_name, value=str(count), reason="too_large",
                                          limit=rules.MAX_REBASED)
        for pair in renumbered:
            check_text("renumbered", pair, max_length=rules.LABEL)
        self._trigger(self.CopyRebased, ctx, source=source.strip(), applied=applied, not_applied=not_applied,
                      renumbered=list(renumbered))

"""The use cases: the only thing the interface calls to record something.

Each write use case loads the compound, runs one command on it and saves the new event (see
:class:`~renovation.services.writer.CompoundWriter`), and returns what was recorded as one of the
dataclasses of ``renovation.services.results``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from eventsourcing.utils import get_topic

from renovation.domain.compound import CompoundProject, Context, NewFinding
from renovation.domain.values import SCORE_DIMENSIONS, BoqItem, boq_total, normalise_code
from renovation.services import results
from renovation.services.writer import CompoundWriter, E
from renovation.store.photos import Photo
from renovation.store.photos import keep as keep_photos
from renovation.store.transcoding import UNREADABLE

P = CompoundProject


class RenovationApp(CompoundWriter):
    #: eventsourcing names an application after its class unless told: the name prefixes the tables
    #: on PostgreSQL (renovation_events) and the environment's settings, so it is kept.
    name = "renovation"

    # ------------------------------------------------------------------ registration and lifecycle
    def register_compound(
        self, *, code: str, name: str, district: str, contractor: str, households: int, contract_value: Decimal,
        planned_start: date, planned_finish: date, user: str, registered_on: date | None = None,
    ) -> results.Registered:
        """Register a compound, registered on ``registered_on`` (default: today)."""
        self.access.check(user, "register")
        project = self.register(user, lambda ctx: CompoundProject.register(
            code=code, name=name, district=district, contractor=contractor, households=households,
            contract_value=contract_value, planned_start=planned_start, planned_finish=planned_finish, ctx=ctx,
            registered_on=registered_on or ctx.now.date(),
        ))
        return results.Registered(code=project.code, name=project.name)

    def record_illegal_structures(self, code: str, count: int, *, user: str) -> results.StructuresRecorded:
        code, event = self._recorded(code, "demolition", user,
                                     lambda p: p.record_illegal_structures(count, self.context(user)),
                                     P.IllegalStructuresRecorded)
        return results.StructuresRecorded(code=code, count=event.count,
                                          standing=self.get_project(code).illegal_structures)

    def clear_illegal_structures(self, code: str, *, user: str) -> results.StructuresCleared:
        code, event = self._recorded(code, "demolition", user,
                                     lambda p: p.clear_illegal_structures(self.context(user)),
                                     P.IllegalStructuresCleared)
        return results.StructuresCleared(code=code, count=event.count)

    def set_bill_of_quantities(self, code: str, items: list[BoqItem], *, user: str) -> results.BillSet:
        code, event = self._recorded(code, "boq", user,
                                     lambda p: p.set_bill_of_quantities(items, self.context(user)),
                                     P.BillOfQuantitiesSet)
        return results.BillSet(code=code, items=len(event.items), total=boq_total(event.items))

    def approve_variation(self, code: str, item: str, quantity: Decimal, reason: str, *,
                          user: str) -> results.VariationApproved:
        code, event = self._recorded(code, "variation", user,
                                     lambda p: p.approve_variation(item, quantity, reason, self.context(user)),
                                     P.VariationApproved)
        return results.VariationApproved(code=code, item=event.item, previous_quantity=event.previous_quantity,
                                         quantity=event.quantity, reason=event.reason)

    def start_construction(self, code: str, on: date | None = None, *, user: str) -> results.StageReached:
        return self._stage(code, user, lambda p: p.start_construction(*self._on(on, user)), P.ConstructionStarted)

    def complete_construction(self, code: str, on: date | None = None, *, user: str) -> results.StageReached:
        return self._stage(code, user, lambda p: p.complete_construction(*self._on(on, user)),
                           P.ConstructionCompleted)

    def accept(self, code: str, on: date | None = None, *, user: str) -> results.StageReached:
        return self._stage(code, user, lambda p: p.accept(*self._on(on, user)), P.Accepted)

    def _stage(self, code: str, user: str, command: Callable[[CompoundProject], object],
               kind: type[P.ConstructionStarted | P.ConstructionCompleted | P.Accepted]) -> results.StageReached:
        code, event = self._recorded(code, "lifecycle", user, command, kind)
        return results.StageReached(code=code, user=event.user, on=event.on, recorded_at=event.timestamp)

    def hand_over(self, code: str, on: date | None = None, operator: str | None = None, *,
                  user: str) -> results.HandedOver:
        code, event = self._recorded(code, "lifecycle", user,
                                     lambda p: p.hand_over(self._on(on, user)[0], operator, self.context(user)),
                                     P.HandedOver)
        return results.HandedOver(code=code, user=event.user, on=event.on, operator=event.operator,
                                     om_end=event.om_end, recorded_at=event.timestamp)

    def _recorded(self, code: str, action: str, user: str, command: Callable[[CompoundProject], object],
                  kind: type[E]) -> tuple[str, E]:
        """The compound's code as stored, and the event ``update`` recorded."""
        return normalise_code(code), self.update(code, action, user, command, kind)

    def _on(self, on: date | None, user: str) -> tuple[date, Context]:
        ctx = self.context(user)
        return on or ctx.now.date(), ctx

    def _at(self, at: datetime | None, user: str) -> tuple[datetime, Context]:
        """The business time (given, else now) in the store's zone, as every stored time is."""
        ctx = self.context(user)
        return (at.astimezone(self.zone) if at is not None else ctx.now), ctx

    # ------------------------------------------------------------------ site
    def record_inspection(self, code: str, kind: str, *, at: datetime | None = None,
                          findings: list[NewFinding] | None = None, due: date | None = None,
                          photos: Sequence[Photo] = (), user: str) -> results.Inspected:
        def command(project: CompoundProject) -> object:
            moment, ctx = self._at(at, user)
            done = project.record_inspection(kind, moment, findings or [], due, ctx, [p.sha256 for p in photos])
            keep_photos(self.backend, photos)  # the rules took the command: its photos before its event
            return done

        code, event = self._recorded(code, "inspect", user, command, P.InspectionRecorded)
        return results.Inspected(code=code, inspection_id=event.inspection_id, kind=event.kind, at=event.at,
                                 finding_ids=[finding.finding_id for finding in event.findings],
                                 photos=tuple(event.photos))

    def rectify_finding(self, code: str, finding_id: str, *, note: str | None = None, at: datetime | None = None,
                        photos: Sequence[Photo] = (), user: str) -> results.FindingChanged:
        return self._finding_step("rectify", code, finding_id, note, at, user, photos)

    def close_finding(self, code: str, finding_id: str, *, note: str | None = None, at: datetime | None = None,
                      photos: Sequence[Photo] = (), user: str) -> results.FindingChanged:
        return self._finding_step("close", code, finding_id, note, at, user, photos)

    def reopen_finding(self, code: str, finding_id: str, *, note: str | None = None, at: datetime | None = None,
                       user: str) -> results.FindingChanged:
        return self._finding_step("reopen", code, finding_id, note, at, user)

    #: Each step of a finding's life: the compound's command, the event it records, the status it leaves.
    FINDING_STEPS: ClassVar[dict[str, tuple[str, type[Any], str]]] = {
        "rectify": ("rectify_finding", P.FindingRectified, "rectified"),
        "close": ("close_finding", P.FindingClosed, "closed"),
        "reopen": ("reopen_finding", P.FindingReopened, "reopened"),
    }

    def _finding_step(self, action: str, code: str, finding_id: str, note: str | None, at: datetime | None,
                      user: str, photos: Sequence[Photo] = ()) -> results.FindingChanged:
        method, kind, status = self.FINDING_STEPS[action]

        def command(project: CompoundProject) -> object:
            extra = {"photos": [photo.sha256 for photo in photos]} if photos else {}
            done = getattr(project, method)(finding_id, note, *self._at(at, user), **extra)
            keep_photos(self.backend, photos)  # the rules took the command: its photos before its event
            return done

        code, event = self._recorded(code, action, user, command, kind)
        return results.FindingChanged(code=code, user=event.user, finding_id=event.finding_id, at=event.at,
                                      note=event.note, recorded_at=event.timestamp, status=status,
                                      photos=tuple(getattr(event, "photos", ())))

    def sample_material(self, code: str, *, material: str, batch: str, regime: str, witness: str | None = None,
                        at: datetime | None = None, user: str) -> results.Sampled:
        code, event = self._recorded(
            code, "sample", user,
            lambda p: p.sample_material(material, batch, regime, witness, *self._at(at, user)),
            P.MaterialSampled,
        )
        return results.Sampled(code=code, sample_id=event.sample_id, batch=event.batch, regime=event.regime,
                               resample_of=event.resample_of)

    def record_material_result(self, code: str, sample_id: str, *, passed: bool, lab: str, report: str | None = None,
                               at: datetime | None = None, user: str) -> results.SampleResulted:
        code, event = self._recorded(
            code, "result", user,
            lambda p: p.record_material_result(sample_id, passed, lab, report, *self._at(at, user)),
            P.MaterialResultRecorded,
        )
        return results.SampleResulted(code=code, sample_id=event.sample_id, batch=event.batch, passed=event.passed,
                                      outcome=event.outcome)

    # ------------------------------------------------------------------ metering and scoring
    def measure(self, code: str, item: str, period: str, quantity: Decimal, *, user: str) -> results.Measured:
        code, event = self._recorded(code, "meter", user,
                                     lambda p: p.measure(item, period, quantity, self.context(user)),
                                     P.QuantityMeasured)
        return results.Measured(code=code, entry_id=event.entry_id, item=event.item, period=event.period,
                                quantity=event.quantity, value=event.value)

    def correct_measurement(self, code: str, entry_id: str, quantity: Decimal, reason: str, *,
                            user: str) -> results.Corrected:
        code, event = self._recorded(code, "correct", user,
                                     lambda p: p.correct_measurement(entry_id, quantity, reason, self.context(user)),
                                     P.MeasurementCorrected)
        return results.Corrected(code=code, entry_id=event.entry_id, item=event.item, period=event.period,
                                 previous_quantity=event.previous_quantity, quantity=event.quantity,
                                 value=event.value, reason=event.reason)

    def score(self, code: str, period: str, scores: dict[str, Decimal], *, correction: bool = False,
              reason: str | None = None, user: str) -> results.Scored:
        code, event = self._recorded(
            code, "score", user,
            lambda p: p.score(period, scores, self.context(user), correction=correction, reason=reason),
            P.HorseRaceScored,
        )
        given = {dimension: getattr(event, dimension) for dimension in SCORE_DIMENSIONS}
        return results.Scored(code=code, period=event.period, correction=event.correction, **given)

    # ------------------------------------------------------------------ progress payments (计量支付)
    def certify(self, code: str, period: str, retention_percent: Decimal, *, reason: str | None = None,
                user: str) -> results.Certified:
        """Issue a payment certificate of ``period``, holding ``retention_percent`` (from renovation.toml)."""
        code, event = self._recorded(
            code, "certify", user,
            lambda p: p.certify(period, retention_percent, self.context(user), reason=reason),
            P.PaymentCertified,
        )
        return results.Certified(
            code=code, certificate_id=event.certificate_id, period=event.period, through=event.through,
            correction=event.correction, on=event.on, cumulative_metered=event.cumulative_metered,
            retention_percent=event.retention_percent, retention=event.retention,
            previously_certified=event.previously_certified, amount=event.amount,
            cumulative_certified=event.cumulative_certified,
            entries=[f"{entry.entry_id}={entry.value}" for entry in event.entries],
        )

    def record_payment(self, code: str, certificate_id: str, amount: Decimal, on: date, *,
                       user: str) -> results.Paid:
        code, event = self._recorded(
            code, "pay", user, lambda p: p.record_payment(certificate_id, amount, on, self.context(user)),
            P.PaymentRecorded,
        )
        certificate = self.get_project(code).certificates[event.certificate_id]
        return results.Paid(code=code, payment_id=event.payment_id, certificate_id=event.certificate_id,
                            amount=event.amount, on=event.on, unpaid=certificate.amount - certificate.paid)

    def release_retention(self, code: str, on: date | None, defects_months: int, *,
                          user: str) -> results.RetentionReleased:
        """Release the retention held, ``defects_months`` (from renovation.toml) after hand-over or later."""
        code, event = self._recorded(
            code, "pay", user,
            lambda p: p.release_retention(*self._on_months(on, defects_months, user)), P.RetentionReleased,
        )
        return results.RetentionReleased(code=code, on=event.on, amount=event.amount, due=event.due)

    def _on_months(self, on: date | None, months: int, user: str) -> tuple[date, int, Context]:
        day, ctx = self._on(on, user)
        return day, months, ctx

    def receive_feedback(self, code: str, channel: str, text: str, *, at: datetime | None = None,
                         user: str) -> results.TicketReceived:
        code, event = self._recorded(code, "feedback", user,
                                     lambda p: p.receive_feedback(channel, text, *self._at(at, user)),
                                     P.FeedbackReceived)
        return results.TicketReceived(code=code, ticket_id=event.ticket_id, channel=event.channel, at=event.at)

    def resolve_feedback(self, code: str, ticket_id: str, note: str, *, at: datetime | None = None,
                         user: str) -> results.TicketResolved:
        code, event = self._recorded(code, "feedback", user,
                                     lambda p: p.resolve_feedback(ticket_id, note, *self._at(at, user)),
                                     P.FeedbackResolved)
        return results.TicketResolved(code=code, ticket_id=event.ticket_id, note=event.note, at=event.at)

    # ------------------------------------------------------------------ queries
    def compound_codes(self, *, readable_only: bool = False) -> list[str]:
        """Codes of every registered compound, in registration order; ``readable_only``: of those whose
        registration the application can read (``audit verify``, which names the others), else a registration
        it cannot read raises."""
        topic = get_topic(CompoundProject.Registered)
        codes = []
        for notification in self.iter_notifications(topics=[topic]):
            try:
                code = self.mapper.to_domain_event(notification).code  # type: ignore[attr-defined]
                if type(code) is not str:  # a number written by hand, say: no command can name it
                    raise TypeError(f"a compound's code is not text: {code!r:.40}")
                codes.append(code)
            except UNREADABLE:
                if not readable_only:
                    raise
        return codes

    def compound(self, code: str, *, hide_pending_blind: bool = False) -> results.CompoundView:
        """One compound's state as plain values."""
        return results.CompoundView.of(self.get_project(code), hide_pending_blind=hide_pending_blind)

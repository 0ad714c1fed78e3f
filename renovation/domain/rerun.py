"""An event re-derived from the command that makes it: what an import holds each event to.

``rerun(compound, event)`` runs, on the compound as it stood, the command that records an event of
that kind with the event's own arguments (its user, recording time and command id as the context),
and returns the compound after it and the event the command recorded. The command checks every rule
a user meets (status, ranges, ids, dates, money), so an imported event is held to exactly the rules
of the command; and comparing what the command recorded with what the file says catches every value
that does not follow from them (a value that is not quantity × price, an id reused, a due date).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import fields, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

from renovation.domain.compound import CompoundProject, Context, NewFinding
from renovation.domain.errors import CompoundAlreadyRegistered, CompoundNotFound
from renovation.domain.values import DEFAULT_DUE_DAYS, SCORE_DIMENSIONS, VALUE_TYPES, FieldsCompared, Severity

P = CompoundProject

#: The access action of each kind of event (as the application checks it for the command).
ACTIONS: dict[type[Any], str] = {
    P.Registered: "register", P.IllegalStructuresRecorded: "demolition", P.IllegalStructuresCleared: "demolition",
    P.BillOfQuantitiesSet: "boq", P.VariationApproved: "variation", P.ConstructionStarted: "lifecycle",
    P.ConstructionCompleted: "lifecycle", P.Accepted: "lifecycle", P.HandedOver: "lifecycle",
    P.InspectionRecorded: "inspect", P.FindingRectified: "rectify", P.FindingClosed: "close",
    P.FindingReopened: "reopen", P.MaterialSampled: "sample", P.MaterialResultRecorded: "result",
    P.QuantityMeasured: "meter", P.MeasurementCorrected: "correct", P.HorseRaceScored: "score",
    P.FeedbackReceived: "feedback", P.FeedbackResolved: "feedback", P.CopyRebased: "maintain",
    P.PaymentCertified: "certify", P.PaymentRecorded: "pay", P.RetentionReleased: "pay",
}

#: Fields an event carries that its command does not decide.
NOT_COMPARED = frozenset({"originator_id", "originator_version", "timestamp", "command_id", "originator_topic"})


def _due(event: Any) -> Any:
    """The ``--due`` the inspection was given: None when every finding has its severity's default."""
    findings = event.findings
    if all(f.due == event.at.date() + timedelta(days=DEFAULT_DUE_DAYS[Severity(f.severity)])
           for f in findings if f.severity in Severity.__members__.values()):
        return None
    return findings[0].due


def _findings(event: Any) -> list[NewFinding]:
    return [NewFinding(f.category, f.severity, f.description, f.location) for f in event.findings]


#: For each kind of event (but the registration): the command that records it, given the event.
COMMANDS: dict[type[Any], Callable[[CompoundProject, Any, Context], object]] = {
    P.IllegalStructuresRecorded: lambda p, e, c: p.record_illegal_structures(e.count, c),
    P.IllegalStructuresCleared: lambda p, e, c: p.clear_illegal_structures(c),
    P.BillOfQuantitiesSet: lambda p, e, c: p.set_bill_of_quantities(list(e.items), c),
    P.VariationApproved: lambda p, e, c: p.approve_variation(e.item, e.quantity, e.reason, c),
    P.ConstructionStarted: lambda p, e, c: p.start_construction(e.on, c),
    P.ConstructionCompleted: lambda p, e, c: p.complete_construction(e.on, c),
    P.Accepted: lambda p, e, c: p.accept(e.on, c),
    P.HandedOver: lambda p, e, c: p.hand_over(e.on, e.operator, c),
    P.InspectionRecorded: lambda p, e, c: p.record_inspection(e.kind, e.at, _findings(e), _due(e), c, e.photos),
    P.FindingRectified: lambda p, e, c: p.rectify_finding(e.finding_id, e.note, e.at, c, e.photos),
    P.FindingClosed: lambda p, e, c: p.close_finding(e.finding_id, e.note, e.at, c, e.photos),
    P.FindingReopened: lambda p, e, c: p.reopen_finding(e.finding_id, e.note, e.at, c),
    P.MaterialSampled: lambda p, e, c: p.sample_material(e.material, e.batch, e.regime, e.witness, e.at, c),
    P.MaterialResultRecorded: lambda p, e, c: p.record_material_result(e.sample_id, e.passed, e.lab, e.report,
                                                                        e.at, c),
    P.QuantityMeasured: lambda p, e, c: p.measure(e.item, e.period, e.quantity, c),
    P.MeasurementCorrected: lambda p, e, c: p.correct_measurement(e.entry_id, e.quantity, e.reason, c),
    P.HorseRaceScored: lambda p, e, c: p.score(e.period, {d: getattr(e, d) for d in SCORE_DIMENSIONS}, c,
                                               correction=e.correction, reason=e.reason),
    P.FeedbackReceived: lambda p, e, c: p.receive_feedback(e.channel, e.text, e.at, c),
    P.FeedbackResolved: lambda p, e, c: p.resolve_feedback(e.ticket_id, e.note, e.at, c),
    P.CopyRebased: lambda p, e, c: p.record_rebase(e.source, e.applied, e.not_applied, list(e.renumbered), c),
    P.PaymentCertified: lambda p, e, c: p.certify(e.period, e.retention_percent, c, reason=e.reason),
    P.PaymentRecorded: lambda p, e, c: p.record_payment(e.certificate_id, e.amount, e.on, c),
    P.RetentionReleased: lambda p, e, c: p.release_retention(e.on, e.defects_months, c),
}


class DoesNotFollow(ValueError):
    """An event that its command, run with its own arguments, records otherwise (a field differs)."""

    def __init__(self, field: str, given: str, derived: str) -> None:
        super().__init__(f"{field} is {given}, the rules give {derived}")


def reapply(compound: CompoundProject | None, event: Any, ctx: Context) -> tuple[CompoundProject, Any]:
    """Run the command that records ``event``, with the event's arguments, on the compound as it
    stands (None: not registered), in ``ctx``: the compound after it and the event it recorded (kept
    pending). Raises the command's DomainError if a rule refuses it."""
    kind = type(event)
    if kind is P.Registered:
        if compound is not None:
            raise CompoundAlreadyRegistered(code=event.code)
        compound = P.register(code=event.code, name=event.name, district=event.district,
                              contractor=event.contractor, households=event.households,
                              contract_value=event.contract_value, planned_start=event.planned_start,
                              planned_finish=event.planned_finish, ctx=ctx, registered_on=event.registered_on)
    else:
        if compound is None:
            raise CompoundNotFound(code=str(event.originator_id))
        COMMANDS[kind](compound, event, ctx)
    return compound, compound.pending_events[-1]


def rerun(compound: CompoundProject | None, event: Any) -> tuple[CompoundProject, Any]:
    """The compound after the command of ``event`` ran on it, and the event the command recorded.
    Raises the command's DomainError if a rule refuses it, or DoesNotFollow if what it recorded
    differs from ``event``."""
    ctx = Context(user=event.user, now=event.timestamp, command_id=getattr(event, "command_id", None))
    kind = type(event)
    compound, produced = reapply(compound, event, ctx)
    compound.pending_events.clear()
    if type(produced) is not kind:
        raise DoesNotFollow(field="kind", given=kind.__name__, derived=type(produced).__name__)
    if kind is P.Registered and event.originator_id != produced.originator_id:  # the id follows from the code
        raise DoesNotFollow(field="originator_id", given=str(event.originator_id),
                            derived=str(produced.originator_id))
    given, derived = vars(event), vars(produced)
    if kind is P.MaterialSampled and _legacy_number(compound, event.sample_id, produced.sample_id):
        derived = {**derived, "sample_id": event.sample_id}
    names = _COMPARED.get(kind)
    if names is None or given.keys() != derived.keys():  # the first of its kind, or a field more or less
        names = tuple(sorted((set(given) | set(derived)) - NOT_COMPARED))
        if given.keys() == derived.keys():
            _COMPARED[kind] = names
    amounts = _amount_fields(kind)
    for name in names:
        value, other = given.get(name, NOTHING), derived.get(name, NOTHING)  # a key the command does not write too
        if value == other and name not in amounts:
            continue
        found = _difference(value, other, name) or ((name, value, other) if value != other else None)
        if found is not None:
            raise DoesNotFollow(field=found[0], given=_short(found[1]), derived=_short(found[2]))
    return compound, produced


class _Nothing:
    """What stands for a field an event does not hold, in a message: "nothing"."""

    def __repr__(self) -> str:
        return "nothing"


NOTHING: Any = _Nothing()

#: The fields compared, in order, of an event of each kind whose fields are its command's event's.
_COMPARED: dict[type[Any], tuple[str, ...]] = {}


def _legacy_number(compound: CompoundProject, given: str, derived: str) -> bool:
    """Whether a sample's id follows the single series every sample had before blind samples were
    named apart (``CompoundProject.next_sample_id``): then the sample keeps it, in the compound too."""
    if given == derived or given != f"S{len(compound.samples)}" or given in compound.samples:
        return False
    compound.samples[given] = replace(compound.samples.pop(derived), sample_id=given)
    return True


def _difference(given: Any, derived: Any, where: str) -> tuple[str, object, object] | None:
    """Where a value (at ``where``) first differs from the one the command derived, and the two there; None if
    nowhere. A value of another type differs, and an amount also by how it is written, however deep ("3000" is
    not the "3000.00" a command records, nor "-0.00" its "0.00": the fen is part of the record); a list, a
    mapping or a value object is told by the first of its items or fields that differs (``entries[2].value``).
    Of those equal, only what may hold an amount is looked into (``_HOLDING``)."""
    kind = type(given)
    if kind is not type(derived):
        return where, given, derived
    if kind is Decimal:
        return None if given == derived and given.as_tuple() == derived.as_tuple() else (where, given, derived)
    if (kind is list or kind is tuple) and len(given) == len(derived):
        for index, (one, other) in enumerate(zip(given, derived, strict=True)):
            if (type(one) in _HOLDING or one != other) and (found := _difference(one, other, f"{where}[{index}]")):
                return found
        return None
    if kind is dict and given.keys() == derived.keys():
        for key, one in given.items():
            other = derived[key]
            if (type(one) in _HOLDING or one != other) and (found := _difference(one, other, f"{where}[{key!r}]")):
                return found
        return None
    if isinstance(given, FieldsCompared):
        for name in _compared_fields(kind):
            one, other = getattr(given, name), getattr(derived, name)
            if (type(one) in _HOLDING or one != other) and (found := _difference(one, other, f"{where}.{name}")):
                return found
        return None
    return None if given == derived else (where, given, derived)


def written_alike(given: Any, derived: Any) -> bool:
    """Whether two values are equal and every amount within them is written alike (its scale and its sign)."""
    return _difference(given, derived, "") is None


_COMPARED_FIELDS: dict[type, tuple[str, ...]] = {}


def _compared_fields(cls: type) -> tuple[str, ...]:
    found = _COMPARED_FIELDS.get(cls)
    if found is None:
        found = _COMPARED_FIELDS[cls] = tuple(each.name for each in fields(cls) if each.compare)
    return found


_AMOUNT_FIELDS: dict[type, tuple[str, ...]] = {}


def _amount_fields(cls: type) -> tuple[str, ...]:
    """The compared fields of an event or a value object that may hold an amount (a decimal, or a list, mapping
    or value object that may), by their declared types (which an event read or imported is held to)."""
    found = _AMOUNT_FIELDS.get(cls)
    if found is None:
        hints = typing.get_type_hints(cls)
        found = _AMOUNT_FIELDS[cls] = tuple(name for name in _compared_fields(cls) if _may_hold_amounts(hints[name]))
    return found


def _may_hold_amounts(hint: Any) -> bool:
    if hint is Decimal:
        return True
    if isinstance(hint, type) and issubclass(hint, FieldsCompared):
        return bool(_amount_fields(hint))
    return typing.get_origin(hint) in (list, tuple, dict, typing.Union, types.UnionType) and \
        any(_may_hold_amounts(each) for each in typing.get_args(hint))


#: The types of a value that may hold an amount, in itself or within (a list of certificates' cited entries; not
#: a finding, whose fields hold none).
_HOLDING = frozenset({Decimal, list, tuple, dict, *(cls for cls in VALUE_TYPES if _amount_fields(cls))})


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:57] + "…"

"""``renovation import --rebase``: an offline copy's work re-applied on the store's current state.

An import appends a file's events as they are when it can. A copy's event that cannot be appended
as it is — its compound and version hold another event here (the compound moved on while the copy
was offline), or it was recorded before the store's latest event — is, with ``--rebase``, taken
with every later event of its compound in the file as the copy's work to re-apply: each event's
command runs again, with the event's own arguments, recording user and business time, on the
compound as it now stands, so every rule is checked again. The ids the rules give (inspections,
findings, samples, metering entries, tickets) are allocated afresh and the copy's later references
to them follow; recording times are the import's. A re-applied event keeps its command's id (an
event recorded before commands had ids gets one made from its content), so a command the compound
holds already (the same file rebased twice, or a line repeated) is not applied again; the copy's own
``CopyRebased`` events are not re-applied (this rebase records itself). A command
the rules refuse now is not applied and is reported with its line and reason, as is every later
one that refers to what it would have made. Each compound's re-applied events are followed by a
``CopyRebased`` event recording the rebase.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from renovation.domain.compound import CompoundProject, Context
from renovation.domain.errors import DomainError
from renovation.domain.rerun import ACTIONS, reapply
from renovation.services.application import RenovationApp
from renovation.services.writer import lifted

P = CompoundProject

#: The field of each kind of event that refers to something made by an earlier event.
REFERENCES: dict[type[Any], str] = {
    P.FindingRectified: "finding_id", P.FindingClosed: "finding_id", P.FindingReopened: "finding_id",
    P.MaterialResultRecorded: "sample_id", P.MeasurementCorrected: "entry_id", P.FeedbackResolved: "ticket_id",
    P.PaymentRecorded: "certificate_id",
}


def made_ids(event: Any) -> list[str]:
    """The ids an event gives to what it makes, in order (an inspection's, then its findings')."""
    kind = type(event)
    if kind is P.InspectionRecorded:
        return [event.inspection_id, *(finding.finding_id for finding in event.findings)]
    field = MADE.get(kind)
    return [getattr(event, field)] if field else []


#: What a re-applied event may say otherwise than the copy's line it came from: where it sits, when it
#: was recorded, and what the store's state then derived (ids given anew, values, previous values).
DERIVED = frozenset({"originator_id", "originator_version", "originator_topic", "timestamp", "command_id",
                     "inspection_id", "value", "previous_value", "previous_quantity", "resample_of", "unit_price",
                     "om_end", "entries", "cumulative_metered", "retention", "previously_certified",
                     "cumulative_certified", "through", "correction", "due"})
#: The id an event makes (and so may give anew), by the kind of event that makes it.
MADE = {P.MaterialSampled: "sample_id", P.QuantityMeasured: "entry_id", P.FeedbackReceived: "ticket_id",
        P.PaymentCertified: "certificate_id", P.PaymentRecorded: "payment_id"}


class CommandHeldAsOther(ValueError):
    """A line whose command id the compound holds as another event: a forged or mixed-up file."""


def other_work(held: Any, line: Any, ids: dict[str, str]) -> str | None:
    """Where the event a compound holds for a command differs from the work of the copy's ``line``
    (its kind, or the field that differs); None if it is that work, re-applied (``ids``: the copy's
    ids given anew here, which its references follow)."""
    if type(held) is not type(line):
        return "kind"
    given, kept = vars(line), vars(held)
    for name in sorted((set(given) | set(kept)) - DERIVED):
        mine, theirs = given.get(name), kept.get(name)
        if name == MADE.get(type(line)):
            continue
        if name == REFERENCES.get(type(line)):
            mine = ids.get(mine, mine)
        if name == "findings":
            mine = [dataclasses.replace(finding, finding_id="") for finding in mine or []]
            theirs = [dataclasses.replace(finding, finding_id="") for finding in theirs or []]
        if mine != theirs:
            return str(name)
    return None


@dataclasses.dataclass
class Rebase:
    """The copy's work to re-apply, by compound, and what came of it."""

    source: str  # the file's name (printable, at most 100 characters), recorded in each CopyRebased
    user: str  # who runs the import, who records each CopyRebased
    tails: dict[UUID, list[tuple[int, Any]]] = dataclasses.field(default_factory=dict)
    #: The copy's last version kept of each compound (its events must follow one another).
    versions: dict[UUID, int] = dataclasses.field(default_factory=dict)
    applied: int = 0
    #: Commands the compound held already (re-applied by an earlier import of the same work).
    already: int = 0
    #: What was not applied, "line N: Kind: reason", by compound in the order of the file.
    not_applied: list[str] = dataclasses.field(default_factory=list)
    renumbered: list[str] = dataclasses.field(default_factory=list)

    @classmethod
    def of_file(cls, name: str, user: str) -> Rebase:
        printable = "".join(ch if ch.isprintable() else "?" for ch in name).strip()[:100]
        return cls(source=printable or "?", user=user)

    def last_version(self, originator: UUID) -> int | None:
        return self.versions.get(originator)

    def add(self, originator: UUID, number: int, version: int, event: Any) -> None:
        self.tails.setdefault(originator, []).append((number, event))
        self.versions[originator] = version

    def apply(self, app: RenovationApp, latest: datetime | None,
              current: Callable[[UUID], CompoundProject | None]) -> list[Any]:
        """Re-apply every compound's work (``current`` gives the compound as it stands); returns the
        events recorded, to be stored in the import's transaction. Recorded at the store's clock, never
        before ``latest``. CommandHeldAsOther if a command the compound holds is another event."""
        now = app.clock().astimezone(app.zone)
        if latest is not None and now < latest:
            now = lifted(now, latest).astimezone(app.zone)
        recorded: list[Any] = []
        for originator, tail in self.tails.items():
            compound, applied, refused, renumbered = self._compound(app, current(originator), tail, now)
            if compound is None:
                continue
            if applied:
                compound.record_rebase(self.source, applied, refused, renumbered,
                                       Context(user=self.user, now=now, command_id=uuid4().hex))
                self.applied += applied
                self.renumbered += [f"{compound.code} {pair}" for pair in renumbered]
            recorded += compound.collect_events()
        return recorded

    def _compound(self, app: RenovationApp, compound: CompoundProject | None, tail: list[tuple[int, Any]],
                  now: datetime) -> tuple[CompoundProject | None, int, int, list[str]]:
        """One compound's work: the compound after it, how many commands were applied and refused,
        and the ids given anew."""
        ids: dict[str, str] = {}  # the copy's id -> the id given here
        lost: dict[str, int] = {}  # the copy's id -> the line whose command was not applied
        applied = refused = 0
        renumbered: list[str] = []
        held = self._held(app, compound)  # by command id, and each command applied now joins them
        for number, event in tail:
            made = made_ids(event)
            if event.command_id in held:  # applied before (the same work rebased again)
                other = held[event.command_id]
                differing = other_work(other, event, ids)
                if differing is not None:
                    raise CommandHeldAsOther(
                        f"line {number}: command {event.command_id} is held here by another event "
                        f"({type(other).__name__} by {other.user}; the line's {type(event).__name__} differs in "
                        f"{differing}): nothing was imported")
                if type(event) is not P.CopyRebased:
                    self.already += 1
                ids.update(zip(made, made_ids(other), strict=False))
                continue
            if type(event) is P.CopyRebased:
                continue  # the copy's own rebase of its copy: this one records itself
            reason = self._dependency(event, ids, lost)
            if reason is None:
                compound, produced, reason = self._run(app, compound, self._translated(event, ids), now)
            if reason is not None:
                refused += 1
                lost.update(dict.fromkeys(made, number))
                self.not_applied.append(f"line {number}: {type(event).__name__}: {reason}")
                continue
            applied += 1
            held[event.command_id] = produced
            for old, new in zip(made, made_ids(produced), strict=True):
                ids[old] = new
                if old != new:
                    renumbered.append(f"{old}={new}")
        return compound, applied, refused, renumbered

    @staticmethod
    def _run(app: RenovationApp, compound: CompoundProject | None, event: Any,
             now: datetime) -> tuple[CompoundProject | None, Any, str | None]:
        """Run the event's command as its recording user, now: the compound, the event recorded and
        None; or, if the rules (or the user's role) refuse it, the compound unchanged and why."""
        before = len(compound.pending_events) if compound is not None else 0
        try:
            if not app.access.open:
                app.access.check(event.user, ACTIONS[type(event)], compound.contractor if compound else None)
            ctx = Context(user=event.user, now=now, command_id=event.command_id)
            changed, produced = reapply(compound, event, ctx)
        except DomainError as error:
            if compound is not None:
                del compound.pending_events[before:]
            return compound, None, error.render("en")
        return changed, produced, None

    @staticmethod
    def _held(app: RenovationApp, compound: CompoundProject | None) -> dict[str, Any]:
        """The compound's stored events by command id (of those that have one)."""
        if compound is None:
            return {}
        return {event.command_id: event for event in app.read_events(compound.id, compound.code)
                if getattr(event, "command_id", None) is not None}

    @staticmethod
    def _dependency(event: Any, ids: dict[str, str], lost: dict[str, int]) -> str | None:
        field = REFERENCES.get(type(event))
        old = getattr(event, field) if field else None
        if old is not None and old in lost and old not in ids:
            return f"refers to {old}, which line {lost[old]} would have made"
        return None

    @staticmethod
    def _translated(event: Any, ids: dict[str, str]) -> Any:
        field = REFERENCES.get(type(event))
        if field is None or getattr(event, field) not in ids:
            return event
        moved: Any = object.__new__(type(event))
        object.__setattr__(moved, "__dict__", {**vars(event), field: ids[getattr(event, field)]})
        return moved

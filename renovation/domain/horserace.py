"""The horse race (赛马) computed from what was recorded: each score of a compound's period worked out
from the period's facts (findings, inspections, material results, metering, residents' tickets).

Every score is 100 less its deductions, and never below 0. Each deduction (a ``Term``) is worked out
exactly, rounded half-up to 0.01 and capped, and carries the ids of the events behind it (F12, I3, S7,
M31, T4), so ``ranking explain`` can show a contractor the formula with its numbers, and the numbers
always add up to the score shown. The constants are ``Formula``'s, set in ``renovation.toml``'s
``[horse_race]`` tables (see ``renovation.services.config``); none is fixed in code.

Days are the store's days. ``today`` is the day the board counts to (today, or the day of ``--as-of``):
a finding or ticket whose time is not up by then counts neither way yet.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property

from renovation.domain.values import SCORE_DIMENSIONS

HUNDRED = Decimal(100)
CENT = Decimal("0.01")
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class Points:
    """Points of a finding by its severity."""

    minor: Decimal
    major: Decimal
    critical: Decimal

    def of(self, severity: str) -> Decimal:
        return {"minor": self.minor, "major": self.major, "critical": self.critical}[severity]


@dataclass(frozen=True)
class Formula:
    """Every constant of the computed horse race (defaults as documented in the README)."""

    #: A computed total further than this from the recorded total is flagged on ``ranking``.
    flag_difference: Decimal = Decimal("10")
    #: Quality and civilized findings: points by severity.
    severity: Points = field(default_factory=lambda: Points(Decimal("1"), Decimal("3"), Decimal("6")))
    #: Deducted for the share of a category's findings not rectified by their due date (all late: all of it).
    late_rectification: Decimal = Decimal("20")
    # quality
    quality_per_inspection: Decimal = Decimal("30")  # × quality points ÷ inspections of the period
    quality_findings_cap: Decimal = Decimal("40")
    failed_samples: Decimal = Decimal("20")  # × the share of the period's results that failed
    rejected_batch: Decimal = Decimal("10")  # per batch rejected (退场) in the period
    rejected_batches_cap: Decimal = Decimal("20")
    # safety
    safety_severity: Points = field(default_factory=lambda: Points(Decimal("2"), Decimal("6"), Decimal("25")))
    safety_findings_cap: Decimal = Decimal("60")
    overdue_day: Decimal = Decimal("1")  # per day of the period a safety finding was overdue
    overdue_cap: Decimal = Decimal("30")
    # progress
    behind_point: Decimal = Decimal("1")  # per percentage point metered behind the planned straight line
    behind_cap: Decimal = Decimal("50")
    late_day: Decimal = Decimal("0.5")  # per day behind plan at the period's end
    late_days_cap: Decimal = Decimal("50")
    # civilized construction (文明施工)
    civilized_per_point: Decimal = Decimal("4")
    civilized_findings_cap: Decimal = Decimal("60")
    # residents' satisfaction
    tickets_per_100_households: Decimal = Decimal("10")  # per ticket per 100 households
    tickets_cap: Decimal = Decimal("50")
    resolve_days: int = 7
    late_resolution: Decimal = Decimal("30")  # × the share of tickets not resolved within resolve_days


@dataclass(frozen=True)
class FindingFact:
    finding_id: str
    category: str
    severity: str
    raised_on: date
    due: date
    fixed_on: date | None  # rectified or closed, and not reopened since (a reopen sends the work back)
    closed_on: date | None  # None while not closed (a reopened finding is not closed)
    #: Earlier times it stood closed: (closed on, reopened on) — not overdue on those days.
    closed_spans: tuple[tuple[date, date], ...] = ()


@dataclass(frozen=True)
class SampleFact:
    sample_id: str
    passed: bool
    rejected: bool  # a failed resample: the batch is rejected (退场)


@dataclass(frozen=True)
class TicketFact:
    ticket_id: str
    received_on: date
    resolved_on: date | None


@dataclass(frozen=True)
class Tally:
    """A category's findings raised in the period, counted: by severity; rectified late (after the due
    date, or not yet and the due date passed) and decided (rectified, or the due date passed); with
    their ids where one compound is explained."""

    minor: int = 0
    major: int = 0
    critical: int = 0
    late: int = 0
    decided: int = 0
    ids: tuple[str, ...] = ()
    late_ids: tuple[str, ...] = ()

    def of(self, severity: str) -> int:
        return {"minor": self.minor, "major": self.major, "critical": self.critical}[severity]


def tally(findings: Sequence[FindingFact], today: date) -> Tally:
    """The tally of these findings (of one category), as known on ``today``."""
    late = [f for f in findings if (f.fixed_on is not None and f.fixed_on > f.due)
            or (f.fixed_on is None and f.due < today)]
    return Tally(
        minor=sum(1 for f in findings if f.severity == "minor"),
        major=sum(1 for f in findings if f.severity == "major"),
        critical=sum(1 for f in findings if f.severity == "critical"),
        late=len(late), decided=sum(1 for f in findings if f.fixed_on is not None or f.due < today),
        ids=tuple(f.finding_id for f in findings), late_ids=tuple(f.finding_id for f in late),
    )


@dataclass(frozen=True)
class SampleTally:
    """The period's material results, counted, with their ids where one compound is explained."""

    resulted: int = 0
    failed: int = 0
    rejected: int = 0
    ids: tuple[str, ...] = ()
    rejected_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Facts:
    """What was recorded of one compound that its scores of one period are worked out from."""

    code: str
    period: str
    today: date
    households: int
    contract_value: Decimal
    planned_start: date
    planned_finish: date
    started_on: date | None
    completed_on: date | None
    inspections: int = 0  # the period's inspections
    inspection_ids: Sequence[str] = ()  # their ids (when asked for one compound; a board needs the count)
    findings: Sequence[FindingFact] = ()  # raised in the period
    #: Safety findings raised by the period's end and not closed by its start.
    overdue_candidates: Sequence[FindingFact] = ()
    samples: Sequence[SampleFact] = ()  # resulted in the period
    metered: Sequence[tuple[str, Decimal]] = ()  # (entry id, value) of every entry of the period or before
    tickets: Sequence[TicketFact] = ()  # received in the period
    #: The findings raised in the period, already counted by category (a board's, read so from the
    #: database); None: counted here from ``findings``.
    tallies: Mapping[str, Tally] | None = None
    #: The period's results, already counted; None: counted here from ``samples``.
    sample_tally: SampleTally | None = None
    #: The due dates, on or after ``today``, of the findings raised in the period and not rectified (a
    #: board's, read so from the database: the earliest is enough); None: read here from ``findings``.
    dues_ahead: Sequence[date] | None = None

    def tally(self, category: str) -> Tally:
        if self.tallies is not None:
            return self.tallies.get(category, Tally())
        return tally([f for f in self.findings if f.category == category], self.today)

    def results(self) -> SampleTally:
        if self.sample_tally is not None:
            return self.sample_tally
        return SampleTally(resulted=len(self.samples), failed=sum(1 for s in self.samples if not s.passed),
                           rejected=sum(1 for s in self.samples if s.rejected),
                           ids=tuple(s.sample_id for s in self.samples),
                           rejected_ids=tuple(s.sample_id for s in self.samples if s.rejected))

    @cached_property
    def first_day(self) -> date:
        return first_day(self.period)

    @cached_property
    def last_day(self) -> date:
        return last_day(self.period)


@dataclass(frozen=True)
class Term:
    """One deduction: its name, the formula with its numbers, the points deducted (rounded, capped) and
    the ids of the events behind it. The formula's arithmetic comes first (words name its numbers); then,
    for a deduction with a cap of its own, "; at most N"; then, after a "; ", what it means. The points
    are the arithmetic or the cap, whichever is less, rounded half-up to 0.01."""

    term: str
    formula: str
    points: Decimal
    ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Component:
    component: str
    score: Decimal  # 100 less the terms' points, never below 0
    terms: tuple[Term, ...]


def first_day(period: str) -> date:
    return date(int(period[:4]), int(period[5:7]), 1)


def last_day(period: str) -> date:
    import calendar

    start = first_day(period)
    return start.replace(day=calendar.monthrange(start.year, start.month)[1])


def rounded(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _capped(value: Decimal, cap: Decimal) -> Decimal:
    return rounded(min(value, cap))


def _capped_term(term: str, formula: str, value: Decimal, cap: Decimal, ids: tuple[str, ...] = ()) -> Term:
    """A deduction with a cap of its own, said after the formula's arithmetic (before any note); no
    formula given: no words (a board's total)."""
    if not formula:
        return Term(term, "", _capped(value, cap), ids)
    arithmetic, _, note = formula.partition("; ")
    said = f"{arithmetic}; at most {_text(cap)}" + (f"; {note}" if note else "")
    return Term(term, said, _capped(value, cap), ids)


def _text(value: Decimal) -> str:
    """A number as a formula shows it: no exponent, no trailing zeros after the point."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _component(name: str, terms: list[Term]) -> Component:
    return Component(name, rounded(max(ZERO, HUNDRED - sum((t.points for t in terms), ZERO))), tuple(terms))


def _severity_points(counted: Tally, points: Points, said: bool) -> tuple[Decimal, str]:
    """The findings' points and, if ``said``, how they add up ("2 minor × 1 + 1 major × 3")."""
    total = points.minor * counted.minor + points.major * counted.major + points.critical * counted.critical
    if not said:
        return total, ""
    counts = {s: counted.of(s) for s in ("minor", "major", "critical")}
    words = " + ".join(f"{n} {s} × {_text(points.of(s))}" for s, n in counts.items() if n) or "0"
    return total, words


def _late_rectification(counted: Tally, formula: Formula, said: bool) -> Term:
    """The share of the findings whose due date has passed (or that were rectified) that were not
    rectified by it."""
    if not counted.decided:
        return Term("late_rectification", "0; no finding due yet", ZERO)
    points = _capped(formula.late_rectification * counted.late / counted.decided, formula.late_rectification)
    return Term("late_rectification",
                f"{_text(formula.late_rectification)} × {counted.late} late ÷ {counted.decided} due" if said else "",
                points, counted.late_ids)


def quality(facts: Facts, formula: Formula, said: bool = True) -> Component:
    counted = facts.tally("quality")
    points, words = _severity_points(counted, formula.severity, said)
    per = formula.quality_per_inspection
    if facts.inspections:
        terms = [_capped_term("findings",
                              f"{_text(per)} × ({words}) ÷ {facts.inspections} inspection(s)" if said else "",
                              per * points / facts.inspections, formula.quality_findings_cap,
                              counted.ids + tuple(facts.inspection_ids))]
    else:  # findings are raised by inspections: none without one
        terms = [Term("findings", "0; no inspection in the period", ZERO)]
    terms.append(_late_rectification(counted, formula, said))
    results = facts.results()
    if results.resulted:
        terms.append(Term("failed_samples",
                          f"{_text(formula.failed_samples)} × {results.failed} failed ÷ {results.resulted} resulted"
                          if said else "",
                          _capped(formula.failed_samples * results.failed / results.resulted, formula.failed_samples),
                          results.ids))
    else:
        terms.append(Term("failed_samples", "0; no result in the period", ZERO))
    terms.append(_capped_term("rejected_batches",
                              f"{_text(formula.rejected_batch)} × {results.rejected} batch(es)" if said else "",
                              formula.rejected_batch * results.rejected, formula.rejected_batches_cap,
                              results.rejected_ids))
    return _component("quality", terms)


def overdue_days(finding: FindingFact, first: date, last: date, today: date) -> int:
    """The days of [first, last] up to ``today`` after the finding's due date on which it was not closed
    (not on the days it stood closed before a reopen, nor from its closing on)."""
    start = max(first, finding.due + timedelta(days=1))
    end = min(last, today)
    if finding.closed_on is not None:
        end = min(end, finding.closed_on - timedelta(days=1))
    days = max(0, (end - start).days + 1)
    for closed, reopened in finding.closed_spans:  # closed on `closed`, open again from `reopened`
        overlap = (min(end, reopened - timedelta(days=1)) - max(start, closed)).days + 1
        days -= max(0, overlap)
    return days


def safety(facts: Facts, formula: Formula, said: bool = True) -> Component:
    counted = facts.tally("safety")
    points, words = _severity_points(counted, formula.safety_severity, said)
    terms = [_capped_term("findings", words, points, formula.safety_findings_cap, counted.ids)]
    days = [(f, overdue_days(f, facts.first_day, facts.last_day, facts.today)) for f in facts.overdue_candidates]
    days = [(f, n) for f, n in days if n]
    total = sum(n for _f, n in days)
    terms.append(_capped_term("overdue_days", f"{_text(formula.overdue_day)} × {total} day(s)" if said else "",
                              formula.overdue_day * total, formula.overdue_cap, tuple(f.finding_id for f, _n in days)))
    return _component("safety", terms)


def planned_share(facts: Facts, day: date) -> Decimal:
    """The share of the work the plan has done by ``day``: a straight line from the planned start to the
    planned finish."""
    span = (facts.planned_finish - facts.planned_start).days
    if span <= 0:
        return Decimal(1) if day >= facts.planned_start else ZERO
    return min(Decimal(1), max(ZERO, Decimal((day - facts.planned_start).days) / span))


def days_behind(facts: Facts, day: date) -> int:
    """Days behind plan on ``day`` (as the progress board counts them, with what was known by then)."""
    completed = facts.completed_on if facts.completed_on is not None and facts.completed_on <= day else None
    started = facts.started_on if facts.started_on is not None and facts.started_on <= day else None
    if completed is not None:
        return max(0, (completed - facts.planned_finish).days)
    return max(0, ((started or day) - facts.planned_start).days, (day - facts.planned_finish).days)


def progress(facts: Facts, formula: Formula, said: bool = True) -> Component:
    day = min(facts.last_day, facts.today)
    metered = sum((value for _id, value in facts.metered), ZERO)
    ids = tuple(entry for entry, _value in facts.metered)
    terms: list[Term] = []
    if facts.contract_value > 0:
        planned = rounded(planned_share(facts, day) * HUNDRED)  # percentages as the progress board shows them
        done = rounded(metered / facts.contract_value * HUNDRED)
        terms.append(_capped_term(
            "behind_plan",
            f"{_text(formula.behind_point)} × max(0, {_text(planned)} − {_text(done)}); percentage points, planned "
            f"by {day.isoformat()} − metered ({_text(metered)} of {_text(facts.contract_value)})" if said else "",
            formula.behind_point * max(ZERO, planned - done), formula.behind_cap, ids))
    else:
        terms.append(Term("behind_plan", "0; no contract value", ZERO, ids))
    late = days_behind(facts, day)
    terms.append(_capped_term("days_behind",
                              f"{_text(formula.late_day)} × {late} day(s); behind plan on {day.isoformat()}"
                              if said else "",
                              formula.late_day * late, formula.late_days_cap))
    return _component("progress", terms)


def civilized(facts: Facts, formula: Formula, said: bool = True) -> Component:
    counted = facts.tally("civilized")
    points, words = _severity_points(counted, formula.severity, said)
    terms = [_capped_term("findings", f"{_text(formula.civilized_per_point)} × ({words})" if said else "",
                          formula.civilized_per_point * points, formula.civilized_findings_cap, counted.ids),
             _late_rectification(counted, formula, said)]
    return _component("civilized", terms)


def satisfaction(facts: Facts, formula: Formula, said: bool = True) -> Component:
    tickets = list(facts.tickets)
    per = formula.tickets_per_100_households
    households = max(facts.households, 1)
    terms = [_capped_term("tickets",
                          f"{_text(per)} × {len(tickets)} ticket(s) × 100 ÷ {households} household(s)" if said else "",
                          per * len(tickets) * HUNDRED / households, formula.tickets_cap,
                          tuple(t.ticket_id for t in tickets))]
    window = timedelta(days=formula.resolve_days)
    late = [t for t in tickets if (t.resolved_on is not None and t.resolved_on > t.received_on + window)
            or (t.resolved_on is None and t.received_on + window < facts.today)]
    decided = [t for t in tickets if t.resolved_on is not None or t.received_on + window < facts.today]
    if decided:
        terms.append(Term(
            "late_resolution",
            f"{_text(formula.late_resolution)} × {len(late)} late ÷ {len(decided)} due; late: not resolved within "
            f"{formula.resolve_days} day(s)" if said else "",
            _capped(formula.late_resolution * len(late) / len(decided), formula.late_resolution),
            tuple(t.ticket_id for t in late)))
    else:
        terms.append(Term("late_resolution", "0; no ticket due yet", ZERO))
    return _component("satisfaction", terms)


def components(facts: Facts, formula: Formula, said: bool = True) -> tuple[Component, ...]:
    """The five computed scores, in ``SCORE_DIMENSIONS`` order; with their formulas in words if ``said``
    (a board shows only the scores: the same arithmetic, no words)."""
    found = (quality(facts, formula, said), safety(facts, formula, said), progress(facts, formula, said),
             civilized(facts, formula, said), satisfaction(facts, formula, said))
    assert tuple(c.component for c in found) == SCORE_DIMENSIONS
    return found


def steady_through(facts: Facts, formula: Formula) -> date:
    """The last day, from ``facts.today`` on, on which the scores (and ``under_construction``) of these
    facts are still ``facts.today``'s: a board keeps them for those days (``date.max``: every later day).

    Until the period's last day, progress and a safety finding's overdue days count to the day: only today.
    From then on the day counts only where it is compared with a date: a finding not rectified is late (and
    decided) from the day after its due date, a ticket not resolved from the day after its window."""
    if facts.today < facts.last_day:
        return facts.today
    dues = (facts.dues_ahead if facts.dues_ahead is not None
            else [finding.due for finding in facts.findings if finding.fixed_on is None])
    window = timedelta(days=formula.resolve_days)
    changes = [due for due in dues if due >= facts.today]
    changes += [ticket.received_on + window for ticket in facts.tickets
                if ticket.resolved_on is None and ticket.received_on + window >= facts.today]
    return min(changes, default=date.max)


def under_construction(facts: Facts) -> bool:
    """Whether the compound was under construction on some day of the period (up to ``today``): only
    then does the horse race score it."""
    return (facts.started_on is not None and facts.started_on <= min(facts.last_day, facts.today)
            and facts.first_day <= facts.today
            and (facts.completed_on is None or facts.completed_on >= facts.first_day))

"""The computed horse race's formulas (``renovation.domain.horserace``): each score from known facts,
and, for any facts, every deduction's formula text reproduces its points and the scores reproduce the
total that ``ranking explain`` shows."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from renovation.domain.horserace import (
    Facts,
    FindingFact,
    Formula,
    Points,
    SampleFact,
    TicketFact,
    civilized,
    components,
    overdue_days,
    progress,
    quality,
    rounded,
    safety,
    satisfaction,
    steady_through,
    under_construction,
)

D = Decimal
JUNE = "2021-06"


def facts(**changes: object) -> Facts:
    base: dict[str, object] = {
        "code": "JM", "period": JUNE, "today": date(2021, 7, 31), "households": 200,
        "contract_value": D("1000000"), "planned_start": date(2021, 3, 1), "planned_finish": date(2021, 10, 31),
        "started_on": date(2021, 3, 1), "completed_on": None,
    }
    base.update(changes)
    return Facts(**base)  # type: ignore[arg-type]


def finding(number: int, category: str, severity: str, raised: date, due: date, fixed: date | None = None,
            closed: date | None = None) -> FindingFact:
    return FindingFact(f"F{number}", category, severity, raised, due, fixed, closed)


def points(component: object) -> dict[str, Decimal]:
    return {term.term: term.points for term in component.terms}  # type: ignore[attr-defined]


def test_a_period_with_no_fact_scores_100_but_for_progress_behind_plan() -> None:
    found = components(facts(), Formula())

    assert [c.score for c in found] == [D("100.00"), D("100.00"), found[2].score, D("100.00"), D("100.00")]
    # by 2021-06-30 the plan (2021-03-01 .. 2021-10-31, 244 days) had done 121/244 = 49.59 %; nothing metered
    assert points(found[2])["behind_plan"] == D("49.59")
    assert points(found[2])["days_behind"] == D("0.00")
    assert found[2].score == D("50.41")


def test_quality_findings_per_inspection_weighted_by_severity() -> None:
    raised = date(2021, 6, 10)
    found = quality(facts(
        inspections=20, inspection_ids=[f"I{n}" for n in range(1, 21)],
        findings=[finding(1, "quality", "minor", raised, date(2021, 6, 17), fixed=date(2021, 6, 15)),
                  finding(2, "quality", "major", raised, date(2021, 6, 17), fixed=date(2021, 6, 20)),
                  finding(3, "quality", "critical", raised, date(2021, 6, 17)),
                  finding(4, "safety", "critical", raised, date(2021, 6, 17))],  # not quality's
        samples=[SampleFact("S1", True, False), SampleFact("S2", False, False), SampleFact("S3", False, True),
                 SampleFact("S4", True, False)],
    ), Formula())

    terms = points(found)
    assert terms["findings"] == D("15.00")  # 30 × (1 + 3 + 6) ÷ 20
    assert terms["late_rectification"] == D("13.33")  # 20 × 2 late (F2 after its due date, F3 never) ÷ 3 due
    assert terms["failed_samples"] == D("10.00")  # 20 × 2 ÷ 4
    assert terms["rejected_batches"] == D("10.00")
    assert found.score == D("51.67")
    late = next(t for t in found.terms if t.term == "late_rectification")
    assert late.ids == ("F2", "F3")


def test_caps_hold() -> None:
    raised = date(2021, 6, 1)
    many = [finding(n, "quality", "critical", raised, date(2021, 6, 2)) for n in range(1, 30)]
    found = quality(facts(inspections=1, inspection_ids=["I1"], findings=many,
                          samples=[SampleFact(f"S{n}", False, True) for n in range(5)]), Formula())

    assert points(found) == {"findings": D("40.00"), "late_rectification": D("20.00"), "failed_samples": D("20.00"),
                             "rejected_batches": D("20.00")}
    assert found.terms[0].formula == "30 × (29 critical × 6) ÷ 1 inspection(s); at most 40"
    assert found.score == D("0.00")  # never below 0


def test_a_finding_not_yet_due_counts_neither_way() -> None:
    raised = date(2021, 6, 28)
    found = civilized(facts(today=date(2021, 6, 30),
                            findings=[finding(1, "civilized", "major", raised, date(2021, 7, 5))]), Formula())

    assert points(found) == {"findings": D("12.00"), "late_rectification": D("0.00")}


def test_safety_counts_the_days_of_the_period_a_finding_was_overdue() -> None:
    may = date(2021, 5, 20)
    overdue_since_may = finding(1, "safety", "major", may, date(2021, 5, 25), closed=date(2021, 6, 11))
    open_one = finding(2, "safety", "critical", date(2021, 6, 20), date(2021, 6, 27))
    found = safety(facts(findings=[open_one], overdue_candidates=[overdue_since_may, open_one]), Formula())

    # F1: June 1..10 (closed on the 11th) = 10 days; F2: June 28..30 = 3 days
    assert overdue_days(overdue_since_may, date(2021, 6, 1), date(2021, 6, 30), date(2021, 7, 31)) == 10
    assert points(found) == {"findings": D("25.00"), "overdue_days": D("13.00")}
    assert found.score == D("62.00")


def test_a_finding_is_not_overdue_while_it_stood_closed_before_a_reopen() -> None:
    reopened = FindingFact("F1", "safety", "major", date(2021, 6, 1), date(2021, 6, 9), None, None,
                           closed_spans=((date(2021, 6, 5), date(2021, 7, 20)),))

    assert overdue_days(reopened, date(2021, 6, 1), date(2021, 6, 30), date(2021, 7, 31)) == 0
    assert overdue_days(reopened, date(2021, 7, 1), date(2021, 7, 31), date(2021, 7, 31)) == 12  # 07-20..07-31


def test_a_period_without_inspections_deducts_nothing_for_quality_findings() -> None:
    found = quality(facts(), Formula())

    assert found.terms[0].formula == "0; no inspection in the period" and found.terms[0].points == 0


def test_a_cap_with_four_decimals_is_rounded_with_the_points() -> None:
    found = quality(facts(inspections=1, inspection_ids=["I1"], findings=[
        finding(1, "quality", "critical", date(2021, 6, 1), date(2021, 6, 9), fixed=date(2021, 6, 2))]),
        Formula(quality_findings_cap=D("12.3456")))

    assert found.terms[0].points == D("12.35") and found.score == D("87.65")


def test_overdue_days_stop_at_today() -> None:
    open_one = finding(2, "safety", "minor", date(2021, 6, 1), date(2021, 6, 7))

    assert overdue_days(open_one, date(2021, 6, 1), date(2021, 6, 30), date(2021, 6, 10)) == 3


def test_progress_metered_behind_the_planned_line_and_days_behind() -> None:
    late_start = facts(started_on=date(2021, 3, 11), metered=[("M1", D("300000")), ("M2", D("50000.50"))])
    found = progress(late_start, Formula())

    # planned 49.59 %, metered 35.00 % (350,000.50 of 1,000,000): 14.59 points; started 10 days late: 5 points
    assert points(found) == {"behind_plan": D("14.59"), "days_behind": D("5.00")}
    assert found.score == D("80.41")
    assert found.terms[0].ids == ("M1", "M2")


def test_satisfaction_tickets_per_100_households_and_late_resolution() -> None:
    june = date(2021, 6, 2)
    found = satisfaction(facts(households=150, tickets=[
        TicketFact("T1", june, june + timedelta(days=3)),
        TicketFact("T2", june, june + timedelta(days=9)),
        TicketFact("T3", date(2021, 6, 29), None),  # not due by 2021-07-31? it is (7 days), and open: late
    ]), Formula())

    assert points(found) == {"tickets": D("20.00"), "late_resolution": D("20.00")}  # 10 × 3 × 100 ÷ 150; 30 × 2 ÷ 3
    assert found.score == D("60.00")


def test_the_constants_come_from_the_formula() -> None:
    strict = Formula(severity=Points(D(2), D(5), D(10)), civilized_per_point=D("2.5"))
    found = civilized(facts(findings=[finding(1, "civilized", "major", date(2021, 6, 1), date(2021, 6, 3),
                                              fixed=date(2021, 6, 2))]), strict)

    assert points(found)["findings"] == D("12.50")


def test_under_construction() -> None:
    assert under_construction(facts())
    assert not under_construction(facts(started_on=None))
    assert not under_construction(facts(started_on=date(2021, 7, 1)))
    assert not under_construction(facts(completed_on=date(2021, 5, 31)))
    assert under_construction(facts(completed_on=date(2021, 6, 1)))
    assert not under_construction(facts(today=date(2021, 5, 31)))


# ------------------------------------------------------------------------------ for any facts
WORDS = re.compile(r"\b(?!max\b)[a-z]+(?:\((?:s|es)\))?")


def evaluate(formula: str) -> Decimal:
    """The arithmetic of a formula as ``ranking explain`` shows it (before its ";"), worked out."""
    arithmetic = formula.split(";")[0]
    arithmetic = WORDS.sub(" ", arithmetic).replace("×", "*").replace("÷", "/").replace("−", "-")
    arithmetic = re.sub(r"(\d+(?:\.\d+)?)", r"D('\1')", arithmetic)
    assert re.fullmatch(r"[D('\d.)\s*/+\-,max]*", arithmetic), arithmetic
    return D(eval(arithmetic, {"D": Decimal, "max": max}))  # digits, operators and max only (checked above)


days = st.integers(min_value=0, max_value=120)
start = date(2021, 4, 1)


@st.composite
def any_facts(draw: st.DrawFn) -> Facts:
    def a_finding(number: int) -> FindingFact:
        raised = start + timedelta(days=draw(days))
        due = raised + timedelta(days=draw(st.integers(0, 20)))
        fixed = draw(st.one_of(st.none(), st.builds(lambda n: raised + timedelta(days=n), st.integers(0, 40))))
        closed = draw(st.one_of(st.none(), st.just(fixed))) if fixed else None
        return FindingFact(f"F{number}", draw(st.sampled_from(["quality", "safety", "civilized"])),
                           draw(st.sampled_from(["minor", "major", "critical"])), raised, due, fixed, closed)

    found = [a_finding(n) for n in range(draw(st.integers(0, 25)))]
    planned_start = start + timedelta(days=draw(st.integers(-60, 60)))
    return Facts(
        code="X", period=draw(st.sampled_from(["2021-04", "2021-05", "2021-06", "2021-07"])),
        today=start + timedelta(days=draw(days)), households=draw(st.integers(0, 3000)),
        contract_value=draw(st.decimals(min_value=0, max_value=10**9, places=2)),
        planned_start=planned_start, planned_finish=planned_start + timedelta(days=draw(st.integers(0, 400))),
        started_on=start + timedelta(days=draw(days)),
        completed_on=draw(st.one_of(st.none(), st.just(start + timedelta(days=150)))),
        inspections=(count := draw(st.integers(0, 60))), inspection_ids=[f"I{n}" for n in range(count)],
        findings=found, overdue_candidates=[f for f in found if f.category == "safety"],
        samples=[SampleFact(f"S{n}", draw(st.booleans()), draw(st.booleans())) for n in range(draw(st.integers(0, 8)))],
        metered=[(f"M{n}", draw(st.decimals(min_value=0, max_value=10**8, places=2)))
                 for n in range(draw(st.integers(0, 6)))],
        tickets=[TicketFact(f"T{n}", start + timedelta(days=draw(days)),
                            draw(st.one_of(st.none(), st.just(start + timedelta(days=draw(days) + 60)))))
                 for n in range(draw(st.integers(0, 6)))],
    )


@settings(max_examples=300, deadline=None)
@given(any_facts(), st.lists(st.integers(0, 100), min_size=5, max_size=5).filter(lambda w: sum(w) > 0))
def test_explain_reproduces_every_number(found: Facts, weights: list[int]) -> None:
    formula = Formula()
    caps = {
        ("quality", "findings"): formula.quality_findings_cap, ("quality", "failed_samples"): formula.failed_samples,
        ("quality", "late_rectification"): formula.late_rectification,
        ("quality", "rejected_batches"): formula.rejected_batches_cap,
        ("safety", "findings"): formula.safety_findings_cap, ("safety", "overdue_days"): formula.overdue_cap,
        ("progress", "behind_plan"): formula.behind_cap, ("progress", "days_behind"): formula.late_days_cap,
        ("civilized", "findings"): formula.civilized_findings_cap,
        ("civilized", "late_rectification"): formula.late_rectification,
        ("satisfaction", "tickets"): formula.tickets_cap, ("satisfaction", "late_resolution"): formula.late_resolution,
    }
    parts = components(found, formula)

    for part in parts:
        for term in part.terms:
            worked = evaluate(term.formula)
            cap = caps[part.component, term.term]
            assert term.points == rounded(min(worked, cap)), (term, worked)
            # a deduction with a cap of its own says it (the shares are at most their factor by themselves)
            assert ("; at most " in term.formula) == (not term.formula.startswith("0; no ") and term.term not in (
                "late_rectification", "failed_samples", "late_resolution")), term
        assert part.score == rounded(max(D(0), 100 - sum(t.points for t in part.terms)))
        assert D(0) <= part.score <= 100
    total = sum(p.score * w for p, w in zip(parts, weights, strict=True)) / sum(weights)
    assert D(0) <= rounded(total) <= 100


TRICKY_SCORES = ["87.50", "100.00", "100.01", "0.00", "9.5", "80.080", " 80.08", "80.08 ", "80.00 1.00", "",
                 "１0.00", "NaN", "-0.00", "999.99", None, 87, Decimal("87.50")]


@settings(max_examples=500, deadline=None)
@example(1, ["80.00 1.00", "1.00", "2.00", "3.00"])  # four scores that read as five
@example(1, ["1.00", "2.00", "3.00", "4.00", "5.00", "6.00"])
@given(st.sampled_from([0, 1, 2, True, False, None]),
                  st.lists(st.one_of(st.sampled_from(TRICKY_SCORES), st.text(max_size=8)), min_size=4, max_size=6))
def test_a_kept_row_is_read_as_each_score_alone_would_be(scored: Any, scores: list[Any]) -> None:
    # The kept scores are checked all at once; the rule is each score's: text of the form 87.50, at most 100.
    from renovation.projections.computed import _readable

    one = re.compile(r"[0-9]{1,3}\.[0-9]{2}")
    each = (scored in (0, 1) and len(scores) == 5
            and all(isinstance(s, str) and one.fullmatch(s) and Decimal(s) <= 100 for s in scores))
    assert _readable(scored, scores) == ((bool(scored), tuple(Decimal(s) for s in scores)) if each else None)


@settings(max_examples=400, deadline=None)
@example(facts(today=date(2021, 7, 5), findings=[finding(1, "civilized", "minor", date(2021, 6, 28),
                                                         date(2021, 7, 5))]), 1)  # due today: late tomorrow
@example(facts(today=date(2021, 7, 7), tickets=[TicketFact("T1", date(2021, 6, 30), None),
                                                 TicketFact("T2", date(2021, 6, 20), date(2021, 6, 22))]), 1)
@given(any_facts(), st.integers(0, 120))
def test_scores_kept_for_the_days_they_hold_are_those_days_scores(found: Facts, later: int) -> None:
    """A board keeps a compound's scores from ``today`` through ``steady_through``: on each of those days
    the same facts give the same scores (and the same flag), whether the findings are listed (``ranking
    explain``) or counted by the database with only the earliest due date ahead (a board)."""
    from dataclasses import replace

    formula = Formula()
    through = steady_through(found, formula)
    ahead = sorted(f.due for f in found.findings if f.fixed_on is None and f.due >= found.today)[:1]
    assert steady_through(replace(found, dues_ahead=ahead), formula) == through
    assert through >= found.today
    day = found.today + timedelta(days=later)
    if day > through:
        return
    then = replace(found, today=day)
    assert [c.score for c in components(then, formula, said=False)] == [
        c.score for c in components(found, formula, said=False)], (day, through)
    assert under_construction(then) == under_construction(found)


def test_a_period_counting_to_the_day_holds_only_today_and_a_finished_one_until_a_date_passes() -> None:
    formula = Formula()
    june = facts(period=JUNE, today=date(2021, 6, 29))
    assert steady_through(june, formula) == date(2021, 6, 29)  # progress counts to the day until 06-30
    assert steady_through(facts(today=date(2021, 6, 30)), formula) == date.max
    pending = facts(findings=[finding(1, "quality", "minor", date(2021, 6, 28), date(2021, 8, 2)),
                              finding(2, "civilized", "minor", date(2021, 6, 28), date(2021, 8, 9)),
                              finding(3, "quality", "minor", date(2021, 6, 28), date(2021, 7, 1),
                                      fixed=date(2021, 8, 1))],  # rectified (late): counts neither way any more
                    tickets=[TicketFact("T1", date(2021, 6, 30), None), TicketFact("T2", date(2021, 6, 20), None)])
    assert steady_through(pending, formula) == date(2021, 8, 2)  # today 07-31: F1 late from 08-03
    assert steady_through(replace_today(pending, date(2021, 8, 2)), formula) == date(2021, 8, 2)  # due today
    assert steady_through(replace_today(pending, date(2021, 8, 3)), formula) == date(2021, 8, 9)
    assert steady_through(replace_today(pending, date(2021, 8, 10)), formula) == date.max
    assert steady_through(replace_today(pending, date(2021, 7, 1)), formula) == date(2021, 7, 7)  # T1's window
    assert steady_through(replace_today(pending, date(2021, 7, 7)), formula) == date(2021, 7, 7)  # its last day


def replace_today(found: Facts, day: date) -> Facts:
    from dataclasses import replace

    return replace(found, today=day)

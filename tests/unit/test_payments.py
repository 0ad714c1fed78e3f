"""Progress payments (计量支付): certificates from the metering, payments against them, the retention."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from renovation.domain import errors
from renovation.domain.compound import CompoundProject, Context
from renovation.domain.errors import DomainError
from renovation.domain.rerun import DoesNotFollow, rerun
from renovation.domain.values import BoqItem, add_months, retention_of
from tests.unit.conftest import CST

THREE = Decimal(3)


@pytest.fixture
def metered(started: CompoundProject, ctx: Context) -> CompoundProject:
    """M1 (2021-03) 10302.75, M2 (2021-04) 6235.00, M3 (2021-04) 3100.00."""
    started.measure("010101", "2021-03", Decimal("120.5"), ctx)
    started.measure("010102", "2021-04", Decimal("100"), ctx)
    started.measure("020101", "2021-04", Decimal("10"), ctx)
    started.collect_events()
    return started


def test_a_certificate_records_the_cumulative_metering_the_retention_and_its_amount(metered, ctx, only_event):
    certificate_id = metered.certify("2021-03", THREE, ctx)

    event = only_event(metered)
    assert isinstance(event, CompoundProject.PaymentCertified)
    assert certificate_id == event.certificate_id == "C1"
    assert (event.period, event.through, event.correction, event.reason) == ("2021-03", "2021-03", False, None)
    assert event.cumulative_metered == Decimal("10302.75")
    assert event.retention_percent == THREE
    assert event.retention == Decimal("309.08")  # 309.0825, half-up to the fen
    assert event.previously_certified == 0
    assert event.amount == Decimal("9993.67")
    assert event.cumulative_certified == Decimal("9993.67")
    assert [(e.entry_id, e.period, e.value) for e in event.entries] == [("M1", "2021-03", Decimal("10302.75"))]
    assert event.on == ctx.now.date()


def test_a_later_certificate_adds_what_was_metered_since(metered, ctx, only_event):
    metered.certify("2021-03", THREE, ctx)
    metered.collect_events()

    assert metered.certify("2021-04", THREE, ctx) == "C2"

    event = only_event(metered)
    assert event.cumulative_metered == Decimal("19637.75")
    assert event.retention == Decimal("589.13")  # 589.1325
    assert event.previously_certified == Decimal("9993.67")
    assert event.amount == Decimal("19637.75") - Decimal("589.13") - Decimal("9993.67")
    assert event.cumulative_certified == Decimal("19048.62")
    assert [e.entry_id for e in event.entries] == ["M1", "M2", "M3"]


def test_a_period_without_metering_is_refused(metered, ctx):
    with pytest.raises(errors.NothingMetered):
        metered.certify("2021-05", THREE, ctx)
    assert metered.collect_events() == []


def test_a_period_certified_twice_or_before_the_latest_is_refused(metered, ctx):
    metered.certify("2021-04", THREE, ctx)
    with pytest.raises(errors.PeriodAlreadyCertified):
        metered.certify("2021-04", THREE, ctx)
    with pytest.raises(errors.PeriodBeforeCertified):
        metered.certify("2021-03", THREE, ctx)


def test_a_corrected_period_needs_a_correction_certificate_of_the_difference(metered, ctx, only_event):
    metered.certify("2021-03", THREE, ctx)
    metered.certify("2021-04", THREE, ctx)
    metered.correct_measurement("M1", Decimal("100.5"), "复核", ctx)  # -20 m2 × 85.5 = -1710.00
    metered.collect_events()

    with pytest.raises(errors.ReasonRequired):
        metered.certify("2021-03", THREE, ctx)
    with pytest.raises(errors.PeriodAlreadyCertified):
        metered.certify("2021-04", THREE, ctx, reason="x")  # its own metering did not change
    assert metered.certify("2021-03", THREE, ctx, reason="M1 复核") == "C3"

    event = only_event(metered)
    assert (event.period, event.through, event.correction) == ("2021-03", "2021-04", True)
    assert event.cumulative_metered == Decimal("17927.75")
    assert event.retention == Decimal("537.83")  # 537.8325
    assert event.amount == Decimal("17927.75") - Decimal("537.83") - Decimal("19048.62")
    assert event.amount == Decimal("-1658.70")
    with pytest.raises(errors.PeriodAlreadyCertified):
        metered.certify("2021-03", THREE, ctx, reason="again")


def test_a_later_period_waits_for_the_correction_of_a_certified_one(metered, ctx):
    metered.certify("2021-03", THREE, ctx)
    metered.correct_measurement("M1", Decimal("100"), "复核", ctx)
    metered.collect_events()

    with pytest.raises(errors.CorrectionNotCertified) as refused:
        metered.certify("2021-04", THREE, ctx)
    assert "2021-03" in str(refused.value)


def test_an_entry_metered_late_for_a_certified_period_is_a_change_too(metered, ctx):
    metered.certify("2021-04", THREE, ctx)
    metered.measure("010101", "2021-03", Decimal("1"), ctx)
    with pytest.raises(errors.CorrectionNotCertified):
        metered.certify("2021-05", THREE, ctx)
    metered.certify("2021-03", THREE, ctx, reason="补计量")
    assert metered.certificates["C2"].amount == Decimal("82.93")  # 85.50 less 2.57 more held (591.70 - 589.13)


@pytest.mark.parametrize("percent", [Decimal("-1"), Decimal("100.01"), Decimal("3.001"), Decimal("NaN")])
def test_a_retention_percent_out_of_range_is_refused(metered, ctx, percent):
    with pytest.raises(errors.InvalidValue):
        metered.certify("2021-03", percent, ctx)


def test_payments_against_a_certificate_up_to_what_it_certified(metered, ctx, only_event):
    metered.certify("2021-03", THREE, ctx)  # 9993.67
    metered.collect_events()

    assert metered.record_payment("C1", Decimal("5000"), ctx.now.date(), ctx) == "P1"
    event = only_event(metered)
    assert (event.payment_id, event.certificate_id, event.amount) == ("P1", "C1", Decimal("5000"))
    with pytest.raises(errors.PaymentExceedsCertified):
        metered.record_payment("C1", Decimal("4993.68"), ctx.now.date(), ctx)
    assert metered.record_payment("C1", Decimal("4993.67"), ctx.now.date(), ctx) == "P2"
    with pytest.raises(errors.PaymentExceedsCertified):
        metered.record_payment("C1", Decimal("0.01"), ctx.now.date(), ctx)


@pytest.mark.parametrize("amount", [Decimal(0), Decimal("-0"), Decimal("-5"), Decimal("0.001"), Decimal("NaN"),
                                    Decimal("Infinity"), Decimal("1e13")])
def test_a_payment_amount_must_be_positive_money(metered, ctx, amount):
    metered.certify("2021-03", THREE, ctx)
    with pytest.raises(errors.InvalidValue):
        metered.record_payment("C1", amount, ctx.now.date(), ctx)


def test_a_payment_is_refused_for_an_unknown_certificate_or_out_of_its_days(metered, ctx):
    metered.certify("2021-03", THREE, ctx)
    with pytest.raises(errors.UnknownCertificate):
        metered.record_payment("C2", Decimal(1), ctx.now.date(), ctx)
    with pytest.raises(errors.TimeInFuture):
        metered.record_payment("C1", Decimal(1), ctx.now.date() + timedelta(days=1), ctx)
    with pytest.raises(errors.DateOutOfOrder):
        metered.record_payment("C1", Decimal(1), ctx.now.date() - timedelta(days=1), ctx)


def handed_over(project: CompoundProject, ctx: Context) -> CompoundProject:
    project.complete_construction(date(2021, 4, 28), ctx)
    project.accept(date(2021, 4, 29), ctx)
    project.hand_over(date(2021, 4, 30), None, ctx)
    project.collect_events()
    return project


def test_the_retention_is_released_after_the_defects_liability_period(metered, ctx, only_event):
    metered.certify("2021-04", THREE, ctx)
    handed_over(metered, ctx)
    with pytest.raises(errors.RetentionNotDue) as refused:
        metered.release_retention(date(2021, 5, 1), 24, ctx)
    assert "2023-04-30" in str(refused.value)

    later = Context(user=ctx.user, now=datetime(2023, 5, 2, 9, tzinfo=CST))
    assert metered.release_retention(date(2023, 4, 30), 24, later) == Decimal("589.13")
    event = only_event(metered)
    assert (event.amount, event.defects_months, event.due) == (Decimal("589.13"), 24, date(2023, 4, 30))
    assert metered.retention_held() == 0
    with pytest.raises(errors.RetentionAlreadyReleased):
        metered.release_retention(date(2023, 5, 1), 24, later)


def test_no_release_before_hand_over_nor_with_nothing_held(metered, ctx):
    metered.certify("2021-04", THREE, ctx)
    with pytest.raises(errors.WrongStatus):
        metered.release_retention(date(2021, 5, 1), 24, ctx)
    later = Context(user=ctx.user, now=datetime(2024, 1, 1, tzinfo=CST))
    with pytest.raises(errors.NoRetentionHeld):
        handed_over(_compound(ctx), ctx).release_retention(date(2023, 12, 1), 24, later)


def test_add_months_keeps_the_day_or_takes_the_months_last():
    assert add_months(date(2021, 4, 30), 24) == date(2023, 4, 30)
    assert add_months(date(2021, 1, 31), 1) == date(2021, 2, 28)
    assert add_months(date(2021, 12, 15), 1) == date(2022, 1, 15)


def test_each_new_event_is_rerun_and_a_forged_value_does_not_follow(ctx):
    project = _bare_handed_over_with_payments(ctx)
    events = project.collect_events()
    kinds = {type(event).__name__ for event in events}
    assert {"PaymentCertified", "PaymentRecorded", "RetentionReleased"} <= kinds
    replayed = None
    for event in events:
        replayed, _ = rerun(replayed, event)
    certified = next(e for e in events if isinstance(e, CompoundProject.PaymentCertified))
    before = None
    for event in events[:events.index(certified)]:
        before, _ = rerun(before, event)
    for field, forged in (("amount", certified.amount + 1), ("retention", certified.retention - Decimal("0.01")),
                          ("cumulative_metered", certified.cumulative_metered + 1)):
        copy = CompoundProject.PaymentCertified(**{**vars(certified), field: forged})
        again = None
        for event in events[:events.index(certified)]:
            again, _ = rerun(again, event)
        with pytest.raises(DoesNotFollow, match=field):
            rerun(again, copy)
    assert before is not None


def _compound(ctx: Context) -> CompoundProject:
    """X1, under construction since 2021-03-01, with one item of 10 m at 33.33; its events pending."""
    project = CompoundProject.register(
        code="X1", name="x", district="y", contractor="z", households=1, contract_value=Decimal(1000),
        planned_start=date(2021, 3, 1), planned_finish=date(2021, 4, 1), ctx=ctx, registered_on=date(2021, 3, 1),
    )
    project.set_bill_of_quantities([BoqItem("A", "a", "m", Decimal(10), Decimal("33.33"))], ctx)
    project.start_construction(date(2021, 3, 1), ctx)
    return project


def _bare_handed_over_with_payments(ctx: Context) -> CompoundProject:
    project = _compound(ctx)
    project.measure("A", "2021-03", Decimal("3"), ctx)
    project.certify("2021-03", THREE, ctx)
    project.record_payment("C1", Decimal("50"), date(2021, 5, 1), ctx)
    project.complete_construction(date(2021, 4, 28), ctx)
    project.accept(date(2021, 4, 29), ctx)
    project.hand_over(date(2021, 4, 30), None, ctx)
    later = Context(user=ctx.user, now=datetime(2023, 5, 2, 9, tzinfo=CST))
    project.release_retention(date(2023, 5, 1), 24, later)
    return project


# ------------------------------------------------------------------------------ the invariant
CTX = Context(user="cost.auditor", now=datetime(2021, 9, 1, 9, 0, tzinfo=CST))
ITEMS = [BoqItem("A", "外墙保温", "m2", Decimal("500"), Decimal("12.345")),
         BoqItem("B", "屋面防水", "m2", Decimal("75"), Decimal("0.005"))]
PERIODS = ("2021-03", "2021-04", "2021-05", "2021-06")
quantities = st.decimals(min_value=0, max_value=60, places=3, allow_nan=False, allow_infinity=False)
commands = st.lists(
    st.one_of(
        st.tuples(st.just("measure"), st.sampled_from(["A", "B"]), st.sampled_from(PERIODS), quantities),
        st.tuples(st.just("correct"), st.integers(1, 6).map(lambda n: f"M{n}"), quantities),
        st.tuples(st.just("certify"), st.sampled_from(PERIODS), st.sampled_from(["0", "3", "5", "2.5"]),
                  st.booleans()),
        st.tuples(st.just("pay"), st.integers(1, 4).map(lambda n: f"C{n}"), quantities),
    ),
    max_size=30,
)


def new_project(ctx: Context) -> CompoundProject:
    """A compound under construction since 2021-03-01 with the items A and B."""
    project = CompoundProject.register(
        code="PROP", name="性质测试小区", district="龙山区", contractor="辽源建工", households=100,
        contract_value=Decimal("100000"), planned_start=date(2021, 3, 1), planned_finish=date(2021, 9, 30),
        ctx=ctx, registered_on=date(2021, 3, 1),
    )
    project.set_bill_of_quantities(ITEMS, ctx)
    project.start_construction(date(2021, 3, 1), ctx)
    return project


def run_step(project: CompoundProject, step: tuple[Any, ...], ctx: Context) -> Decimal | None:
    """One command of a drawn sequence (the release returns what it released)."""
    if step[0] == "measure":
        project.measure(step[1], step[2], step[3], ctx)
    elif step[0] == "correct":
        project.correct_measurement(step[1], step[2], "复核", ctx)
    elif step[0] == "certify":
        project.certify(step[1], Decimal(step[2]), ctx, reason="更正" if step[3] else None)
    elif step[0] == "pay":
        project.record_payment(step[1], step[2].quantize(Decimal("0.01")), ctx.now.date(), ctx)
    elif step[0] == "complete":
        project.complete_construction(date(2021, 7, 1), ctx)
    elif step[0] == "hand_over":
        project.accept(date(2021, 7, 2), ctx)
        project.hand_over(date(2021, 7, 3), None, ctx)
    elif step[0] == "certify_rest":  # every correction, then the latest period metered
        while changed := project.changed_since_certified():
            project.certify(changed[0], Decimal("3"), ctx, reason="更正")
        latest = project.latest_certificate()
        last = max((entry.period for entry in project.entries.values()), default=None)
        if last is not None and (latest is None or last > latest.through):
            project.certify(last, Decimal("3"), ctx)
    else:
        return project.release_retention(ctx.now.date(), 24, ctx)
    return None


@settings(max_examples=150, deadline=None)
@given(commands)
def test_certified_amounts_and_the_retention_add_up_to_the_metering_certified(steps):
    project = new_project(CTX)
    for step in steps:
        try:
            run_step(project, step, CTX)
        except DomainError:
            continue
        latest = project.latest_certificate()
        if latest is not None:
            total = sum((c.amount for c in project.certificates.values()), Decimal(0))
            assert total + project.retention_held() == latest.cumulative_metered
            assert latest.cumulative_metered == sum((e.value for e in latest.entries), Decimal(0))
            assert latest.retention == retention_of(latest.cumulative_metered, latest.retention_percent)
            assert all(c.paid <= max(c.amount, Decimal(0)) for c in project.certificates.values())
            if step[0] == "pay":  # a payment never takes what is paid past what is certified in all
                assert sum((c.paid for c in project.certificates.values()), Decimal(0)) <= total
            assert latest.cumulative_certified == total
    events = project.collect_events()
    replayed = None
    for stored in events:  # every event follows from its command, run again on the compound before it
        replayed, _ = rerun(replayed, stored)
    assert replayed is not None and replayed.certificates == project.certificates


#: any work, completion, any work again (corrections are allowed while completed), hand-over, perhaps
#: certificates of all that is not certified yet, release (on the day the certificates are issued)
LATER = Context(user="cost.auditor", now=datetime(2024, 9, 1, 9, 0, tzinfo=CST))
ending = st.tuples(commands, commands, st.booleans()).map(
    lambda drawn: [*drawn[0][:20], ("complete",), *drawn[1][:20], ("hand_over",),
                   *([("certify_rest",)] if drawn[2] else []), ("release",)])


@settings(max_examples=300, deadline=None)
@given(ending)
def test_once_the_retention_is_released_everything_metered_has_been_certified(steps):
    """For any order of meter / correct / certify / pay / complete / hand over / release: after a
    release, every metering is in a certificate (nothing can be certified after it)."""
    project = new_project(LATER)
    released = Decimal(0)
    for step in steps:
        try:
            released = run_step(project, step, LATER) or released
        except DomainError:
            continue
    if project.retention_released_on is not None:
        metered = sum((entry.value for entry in project.entries.values()), Decimal(0))
        certified = sum((c.amount for c in project.certificates.values()), Decimal(0))
        assert certified + released == metered, (certified, released, metered)


def test_a_certificate_that_does_not_add_up_to_the_metering_it_cites_is_a_difference(metered, ctx):
    from renovation.services.audit import certificate_differences

    metered.certify("2021-04", THREE, ctx)
    events = metered.collect_events()
    history = [
        CompoundProject.QuantityMeasured(originator_id=metered.id, originator_version=n, timestamp=ctx.now,
                                         user="x", entry_id=f"M{n}", item="010101", period=period, quantity=q,
                                         unit_price=Decimal(1), value=q)
        for n, (period, q) in enumerate((("2021-03", Decimal("10302.75")), ("2021-04", Decimal("6235.00")),
                                         ("2021-04", Decimal("3100.00"))), start=1)
    ]
    assert certificate_differences("JM", [*history, *events]) == []
    forged = CompoundProject.PaymentCertified(**{**vars(events[0]), "cumulative_metered": Decimal("20000.00")})
    [difference] = certificate_differences("JM", [*history, forged])
    assert (difference["item"], difference["what"]) == ("C1", "certificate")
    assert difference["events_side"].startswith("19637.75")


def test_a_correction_certificate_of_less_metering_is_netted_against_the_next_payment(metered, ctx):
    metered.certify("2021-03", THREE, ctx)  # C1 9993.67
    metered.record_payment("C1", Decimal("9993.67"), ctx.now.date(), ctx)
    metered.correct_measurement("M1", Decimal("100.5"), "复核", ctx)  # 1710.00 less
    metered.certify("2021-03", THREE, ctx, reason="M1 复核")  # C2 -1658.70
    metered.certify("2021-04", THREE, ctx)  # C3
    c3 = metered.certificates["C3"].amount
    assert c3 == Decimal("9054.95")  # (17927.75 less 537.83) less 8334.97 certified before
    # C1 is paid in full, C2 took 1658.70 off: of C3, 7396.25 is payable
    with pytest.raises(errors.PaymentExceedsOutstanding) as refused:
        metered.record_payment("C3", c3, ctx.now.date(), ctx)
    assert "7396.25" in str(refused.value)
    assert metered.record_payment("C3", Decimal("7396.25"), ctx.now.date(), ctx) == "P2"
    with pytest.raises(errors.PaymentExceedsOutstanding):
        metered.record_payment("C3", Decimal("0.01"), ctx.now.date(), ctx)

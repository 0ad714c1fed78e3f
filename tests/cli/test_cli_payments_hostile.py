"""Progress payments (计量支付) tried as a hostile reviewer did: a release that would strand metering
never certified, or dated before its certificate; amounts said to the fen; the correction flag in words;
forged rows of the payments read model found by `audit reconcile`; and, for any order of commands,
nothing metered left uncertified once the retention is released. On an SQLite file (the forged rows
are written with the sqlite3 module; the PostgreSQL side is in tests/integration/test_pg_payments_hostile.py)."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from cli_support import BOQ_CSV, REGISTER_JM, Renovation, event_count
from hypothesis import given, settings
from hypothesis import strategies as st

from renovation.domain.compound import CompoundProject, Context
from renovation.domain.errors import DomainError
from renovation.domain.values import BoqItem


@pytest.fixture
def run(tmp_path: Path) -> Renovation:
    return Renovation(tmp_path / "r.db")


@pytest.fixture
def started(run: Renovation, tmp_path: Path) -> str:
    """JM with A1 100 m at 123.45 and B2 50 m2 at 185, started on 2021-03-01."""
    boq = tmp_path / "boq.csv"
    boq.write_text(BOQ_CSV, encoding="utf-8")
    run.ok(*REGISTER_JM)
    run.ok("boq", "import", "JM", str(boq))
    run.ok("construction", "start", "JM", "--date", "2021-03-01")
    return "JM"


def _day(run: Renovation) -> str:
    """The day the store records a certificate on (today, in the store's zone)."""
    return str(run.json("payment", "list", "JM")[-1]["on"])


def _hand_over(run: Renovation) -> None:
    run.ok("construction", "complete", "JM", "--date", "2021-06-30")
    run.ok("construction", "accept", "JM", "--date", "2021-07-05")
    run.ok("construction", "handover", "JM", "--date", "2021-07-10")


# ----------------------------------------------------------------------------- 1. the release
def test_release_does_not_strand_metering_that_was_never_certified(run: Renovation, started: str) -> None:
    """M2 (2021-04, 2312.50 yuan) is metered but never certified: the retention is not released, since
    nothing is certified after the release and M2 could then never be paid."""
    run.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "60")
    run.ok("meter", "JM", "--item", "B2", "--period", "2021-04", "--quantity", "12.5")
    run.ok("payment", "certify", "JM", "--period", "2021-03")
    _hand_over(run)

    released = run("payment", "release", "JM", "--date", "2023-07-10")
    certified_after = run("payment", "certify", "JM", "--period", "2021-04")

    assert released.exit_code == 1 or certified_after.exit_code == 0, (released.output, certified_after.output)


def test_release_does_not_strand_a_correction_that_was_never_certified(run: Renovation, started: str) -> None:
    """M1 is corrected up from 60 to 100 m after C1 certified it: the release waits for the correction
    certificate, as a later certificate does."""
    run.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "60")
    run.ok("payment", "certify", "JM", "--period", "2021-03")
    run.ok("construction", "complete", "JM", "--date", "2021-06-30")
    run.ok("meter", "correct", "JM", "M1", "--quantity", "100", "--reason", "复核")
    run.ok("construction", "accept", "JM", "--date", "2021-07-05")
    run.ok("construction", "handover", "JM", "--date", "2021-07-10")

    released = run("payment", "release", "JM", "--date", "2023-07-10")
    correction = run("payment", "certify", "JM", "--period", "2021-03", "--reason", "M1 复核")

    assert released.exit_code == 1 or correction.exit_code == 0, (released.output, correction.output)


def test_release_dated_before_the_certificate_that_holds_the_retention_is_refused(run: Renovation,
                                                                                  started: str) -> None:
    """The certificate is issued today, after hand-over: a release dated before it is refused, as a
    payment dated before its certificate is."""
    run.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "60")
    _hand_over(run)
    run.ok("payment", "certify", "JM", "--period", "2021-03")
    issued = _day(run)
    assert date.fromisoformat(issued) > date(2023, 7, 10)
    before = event_count(run.db)

    released = run("payment", "release", "JM", "--date", "2023-07-10")

    assert released.exit_code == 1, released.output
    assert event_count(run.db) == before


# ----------------------------------------------------------------------------- 2. what is said
def test_the_unpaid_of_a_negative_certificate_is_said_to_the_fen(run: Renovation, started: str) -> None:
    """A payment against a correction certificate of less metering says what is unpaid to the fen
    ("0.00")."""
    run.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "60")
    run.ok("payment", "certify", "JM", "--period", "2021-03")
    run.ok("meter", "correct", "JM", "M1", "--quantity", "50", "--reason", "复核")
    run.ok("payment", "certify", "JM", "--period", "2021-03", "--reason", "M1 复核")  # C2 -1197.47

    refused = run("payment", "record", "JM", "C2", "--amount", "1", "--date", _day(run))

    assert refused.exit_code == 1
    assert run.lines(refused) == ["Error: payment 1 exceeds what certificate C2 has certified and not yet paid: "
                                  "0.00 (certified -1197.47, paid 0.00)"]


def test_the_correction_column_is_words_not_python_booleans(run: Renovation, started: str) -> None:
    """`payment list JM` shows the correction flag as a word, in Chinese too (as other boards show their
    flags)."""
    run.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "60")
    run.ok("payment", "certify", "JM", "--period", "2021-03")

    for lang in ("zh", "en"):
        table = run.ok("payment", "list", "JM", lang=lang).output
        assert "False" not in table and "True" not in table, (lang, table)


# ----------------------------------------------------------------------------- 3. audit reconcile
@pytest.mark.parametrize("forgery", [
    "INSERT INTO payments_payments VALUES ('JM', 'P2', 'C1', '50.00', '{day}')",  # a payment never made
    "DELETE FROM payments_payments",  # the payment made
    "UPDATE payments_cited SET value = '1.00'",  # the value of the entry the certificate cites
])
def test_reconcile_finds_a_forged_row_of_the_payments_read_model_the_certificate_prints(
        run: Renovation, started: str, tmp_path, forgery: str) -> None:
    """`audit reconcile` checks every row of the payments read model that the printed certificate shows
    (a payment, a cited entry) against the events."""
    run.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "60")
    run.ok("payment", "certify", "JM", "--period", "2021-03")
    day = _day(run)
    run.ok("payment", "record", "JM", "C1", "--amount", "7000", "--date", day)
    assert run.json("audit", "reconcile", "--json") == []
    connection = sqlite3.connect(run.db)
    with connection:
        connection.execute(forgery.format(day=day))
    connection.close()
    assert run("audit", "boards").exit_code != 0  # audit boards does see it

    reconciled = run("audit", "reconcile", "--json")

    assert reconciled.exit_code == 1, reconciled.output


# ----------------------------------------------------------------------------- 4. a property
CST = timezone(timedelta(hours=8), "CST")
CTX = Context(user="cost.auditor", now=datetime(2024, 9, 1, 9, 0, tzinfo=CST))
ITEMS = [BoqItem("A", "外墙保温", "m2", Decimal("500"), Decimal("12.345")),
         BoqItem("B", "屋面防水", "m2", Decimal("75"), Decimal("0.005"))]
PERIODS = ("2021-03", "2021-04", "2021-05", "2021-06")
quantities = st.decimals(min_value=0, max_value=60, places=3, allow_nan=False, allow_infinity=False)
work = st.lists(st.one_of(
    st.tuples(st.just("measure"), st.sampled_from(["A", "B"]), st.sampled_from(PERIODS), quantities),
    st.tuples(st.just("correct"), st.integers(1, 6).map(lambda n: f"M{n}"), quantities),
    st.tuples(st.just("certify"), st.sampled_from(PERIODS), st.sampled_from(["0", "3", "5", "2.5"]), st.booleans()),
    st.tuples(st.just("pay"), st.integers(1, 4).map(lambda n: f"C{n}"), quantities),
), max_size=20)
#: any work, completion, any work again (corrections are allowed while completed), hand-over, release
steps = st.tuples(work, work).map(lambda both: [*both[0], ("complete",), *both[1], ("hand_over",), ("release",)])


@settings(max_examples=300, deadline=None)
@given(steps)
def test_once_the_retention_is_released_everything_metered_has_been_certified(commands) -> None:
    """For any order of meter / correct / certify / pay / complete / hand over / release: after a
    release, every metering is in a certificate (nothing can be certified after it)."""
    project = CompoundProject.register(
        code="PROP", name="性质测试小区", district="龙山区", contractor="辽源建工", households=100,
        contract_value=Decimal("100000"), planned_start=date(2021, 3, 1), planned_finish=date(2021, 9, 30),
        ctx=CTX, registered_on=date(2021, 3, 1),
    )
    project.set_bill_of_quantities(ITEMS, CTX)
    project.start_construction(date(2021, 3, 1), CTX)
    released = Decimal(0)
    for step in commands:
        try:
            if step[0] == "measure":
                project.measure(step[1], step[2], step[3], CTX)
            elif step[0] == "correct":
                project.correct_measurement(step[1], step[2], "复核", CTX)
            elif step[0] == "certify":
                project.certify(step[1], Decimal(step[2]), CTX, reason="更正" if step[3] else None)
            elif step[0] == "pay":
                project.record_payment(step[1], step[2].quantize(Decimal("0.01")), CTX.now.date(), CTX)
            elif step[0] == "complete":
                project.complete_construction(date(2021, 7, 1), CTX)
            elif step[0] == "hand_over":
                project.accept(date(2021, 7, 2), CTX)
                project.hand_over(date(2021, 7, 3), None, CTX)
            else:
                released = project.release_retention(date(2024, 8, 1), 24, CTX)
        except DomainError:
            continue
    if project.retention_released_on is not None:
        metered = sum((entry.value for entry in project.entries.values()), Decimal(0))
        certified = sum((c.amount for c in project.certificates.values()), Decimal(0))
        assert certified + released == metered, (certified, released, metered)

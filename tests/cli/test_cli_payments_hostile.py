"""Progress payments (计量支付) tried as an attacker with a login would: a release that would strand metering
never certified, or dated before its certificate; amounts said to the fen; the correction flag in words;
forged rows of the payments read model found by `audit reconcile`. On an SQLite file (the forged rows
are written with the sqlite3 module). The PostgreSQL side is in tests/integration/test_pg_payments_hostile.py;
that nothing metered is left uncertified once the retention is released, for any order of commands, in
tests/unit/test_payments.py."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import pytest
from cli_support import BOQ_CSV, REGISTER_JM, Renovation, event_count


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

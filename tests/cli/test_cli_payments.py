"""Progress payments (计量支付) through the CLI: certificates, payments, the retention, the board."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cli_support import Renovation, event_count


@pytest.fixture
def metered(run: Renovation, started: str) -> str:
    """JM: M1 A1 2021-03 60 m (7407.00), M2 B2 2021-04 12.5 m2 (2312.50)."""
    run.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "60")
    run.ok("meter", "JM", "--item", "B2", "--period", "2021-04", "--quantity", "12.5")
    return started


def under_the_table(output: str) -> str:
    """What a board prints under its table (wrapped to the terminal), as one line."""
    lines = output.splitlines()
    last = max(number for number, line in enumerate(lines) if line.startswith(("└", "+", "╰")))
    return " ".join(lines[last + 1:])


def today(run: Renovation) -> str:
    """The day a certificate is recorded (the store's clock)."""
    return str(run.json("payment", "list", "JM")[0]["on"])


def test_certify_prints_the_certificate_and_its_money_to_the_fen(run: Renovation, metered: str) -> None:
    first = run.ok("payment", "certify", "JM", "--period", "2021-03")
    assert first.output.strip() == (
        "Payment certificate C1 of JM for 2021-03: cumulative metered 7407.00, retention 222.21 (3 %), "
        "previously certified 0.00, this certificate 7184.79 yuan.")

    second = run.json("payment", "certify", "JM", "--period", "2021-04")

    assert {key: second[key] for key in ("certificate_id", "period", "through", "correction", "cumulative_metered",
                                         "retention_percent", "retention", "previously_certified", "amount",
                                         "cumulative_certified", "entries")} == {
        "certificate_id": "C2", "period": "2021-04", "through": "2021-04", "correction": False,
        "cumulative_metered": "9719.50", "retention_percent": "3", "retention": "291.59",
        "previously_certified": "7184.79", "amount": "2243.12", "cumulative_certified": "9427.91",
        "entries": ["M1=7407.00", "M2=2312.50"],
    }


def test_the_retention_percent_comes_from_renovation_toml(run: Renovation, metered: str, tmp_path: Path) -> None:
    config = tmp_path / "renovation.toml"
    config.write_text("[payments]\nretention_percent = 5.5\ndefects_months = 12\n", encoding="utf-8")

    recorded = run.json("--config", str(config), "payment", "certify", "JM", "--period", "2021-03")

    assert (recorded["retention_percent"], recorded["retention"], recorded["amount"]) == ("5.5", "407.39", "6999.61")


@pytest.mark.parametrize("setting", ["retention_percent = 101", "retention_percent = 2.555", "retention_percent = -1",
                                     'retention_percent = "3"', "defects_months = 0", "defects_months = 1.5",
                                     "retention = 3"])
def test_a_bad_payments_setting_is_refused_before_anything_is_written(run: Renovation, metered: str,
                                                                      tmp_path: Path, setting: str) -> None:
    config = tmp_path / "renovation.toml"
    config.write_text(f"[payments]\n{setting}\n", encoding="utf-8")
    before = event_count(run.db)

    refused = run("--config", str(config), "payment", "certify", "JM", "--period", "2021-03")

    assert refused.exit_code != 0 and "Traceback" not in refused.output
    assert len(run.lines(refused)) == 1 and "payments." in refused.output
    assert event_count(run.db) == before


@pytest.mark.parametrize(("args", "said"), [
    (["--period", "2021-05"], "JM has no metering in 2021-05 to certify"),
    (["--period", "2021-13"], "'2021-13'"),
    (["--period", "2021-04", "--reason", " "], "reason"),
])
def test_certify_refuses_with_one_line_and_writes_nothing(run: Renovation, metered: str, args: list[str],
                                                          said: str) -> None:
    before = event_count(run.db)

    refused = run("payment", "certify", "JM", *args)

    assert refused.exit_code in (1, 2)
    (line,) = run.lines(refused)
    assert said in line
    assert event_count(run.db) == before


def test_a_correction_of_a_certified_period_needs_its_correction_certificate_first(run: Renovation,
                                                                                   metered: str) -> None:
    run.ok("payment", "certify", "JM", "--period", "2021-03")
    run.ok("payment", "certify", "JM", "--period", "2021-04")
    assert run("payment", "certify", "JM", "--period", "2021-04").exit_code == 1
    assert run("payment", "certify", "JM", "--period", "2021-03").exit_code == 1
    run.ok("meter", "correct", "JM", "M1", "--quantity", "58.5", "--reason", "复核")
    run.ok("meter", "JM", "--item", "A1", "--period", "2021-05", "--quantity", "1")

    waits = run("payment", "certify", "JM", "--period", "2021-05")
    assert waits.exit_code == 1
    assert "the metering of 2021-03, already certified, changed since" in run.lines(waits)[0]
    assert "a reason is required" in run.lines(run("payment", "certify", "JM", "--period", "2021-03"))[0]

    correction = run.json("payment", "certify", "JM", "--period", "2021-03", "--reason", "M1 复核")

    assert (correction["certificate_id"], correction["through"], correction["correction"]) == ("C3", "2021-04", True)
    assert correction["cumulative_metered"] == "9534.33"  # 7221.83 + 2312.50
    assert correction["amount"] == "-179.61"  # (9534.33 - 286.03) - 9427.91
    assert run.json("payment", "certify", "JM", "--period", "2021-05")["certificate_id"] == "C4"


def test_a_store_with_a_correction_certificate_exports_and_imports(run: Renovation, metered: str,
                                                                    tmp_path: Path) -> None:
    """A correction certificate takes back what the certificates before it certified (its amount below zero):
    the store's export imports, and its certificates read back the same, the correction's amount included."""
    run.ok("payment", "certify", "JM", "--period", "2021-03")
    run.ok("meter", "correct", "JM", "M1", "--quantity", "58.5", "--reason", "复核")
    assert run.json("payment", "certify", "JM", "--period", "2021-03", "--reason", "M1 复核")["amount"] == "-179.61"
    exported = tmp_path / "export.jsonl"
    run.ok("export", str(exported))
    target = Renovation(tmp_path / "target.db")

    result = target.ok("import", str(exported))

    assert "imported" in result.output
    assert target.json("payment", "list", "JM") == run.json("payment", "list", "JM")
    assert "the chain is intact" in target.ok("audit", "verify").output


def test_payments_up_to_what_a_certificate_certified(run: Renovation, metered: str) -> None:
    run.ok("payment", "certify", "JM", "--period", "2021-03")  # 7184.79
    day = today(run)

    first = run.ok("payment", "record", "JM", "C1", "--amount", "5000", "--date", day)
    assert first.output.strip() == "Payment P1 of 5000 yuan against C1 at JM; unpaid 2184.79."
    before = event_count(run.db)
    refused = run("payment", "record", "JM", "C1", "--amount", "2184.80", "--date", day)
    assert refused.exit_code == 1
    assert run.lines(refused) == ["Error: payment 2184.80 exceeds what certificate C1 has certified and not yet "
                                  "paid: 2184.79 (certified 7184.79, paid 5000.00)"]
    assert event_count(run.db) == before
    assert run.json("payment", "record", "JM", "C1", "--amount", "2184.79", "--date", day)["unpaid"] == "0.00"
    assert run("payment", "record", "JM", "C1", "--amount", "0.01", "--date", day).exit_code == 1


@pytest.mark.parametrize(("cert", "amount", "when", "code"), [
    ("C1", "0", "today", 2), ("C1", "-0", "today", 2), ("C1", "-5", "today", 2), ("C1", "0.001", "today", 2),
    ("C1", "NaN", "today", 2), ("C1", "Infinity", "today", 2), ("C1", "1e400", "today", 2),
    ("C1", "99999999999999", "today", 2), ("C1", "十", "today", 2), ("C1", "1", "2021-02-30", 2),
    ("C1", "1", "tomorrow", 1), ("C1", "1", "2021-03-01", 1), ("C9", "1", "today", 1), ("XYZ", "1", "today", 2),
])
def test_a_bad_payment_is_refused_with_one_line_and_nothing_written(run: Renovation, metered: str, cert: str,
                                                                    amount: str, when: str, code: int) -> None:
    run.ok("payment", "certify", "JM", "--period", "2021-03")
    day = date.fromisoformat(today(run))
    on = {"today": day.isoformat(), "tomorrow": (day + timedelta(days=1)).isoformat()}.get(when, when)
    before = event_count(run.db)

    refused = run("payment", "record", "JM", cert, "--amount", amount, "--date", on)

    assert refused.exit_code == code, refused.output
    assert len(run.lines(refused)) == 1 and "Traceback" not in refused.output
    assert event_count(run.db) == before


def test_1e3_is_a_thousand_yuan(run: Renovation, metered: str) -> None:
    run.ok("payment", "certify", "JM", "--period", "2021-03")
    paid = run.json("payment", "record", "JM", "C1", "--amount", "1e3", "--date", today(run))
    assert paid["amount"] == "1000"


def test_a_certificate_of_another_compound_is_unknown_here(run: Renovation, metered: str) -> None:
    run.ok("compound", "register", "LY", "--name", "利源小区", "--district", "西安区", "--contractor", "辽源建工",
           "--households", "100", "--contract-value", "100000", "--planned-start", "2021-03-01",
           "--planned-finish", "2021-09-30", "--registered-on", "2021-01-04")
    run.ok("payment", "certify", "JM", "--period", "2021-03")

    refused = run("payment", "record", "LY", "C1", "--amount", "1", "--date", today(run))

    assert (refused.exit_code, run.lines(refused)) == (1, ["Error: LY has no payment certificate C1"])


def test_release_waits_for_hand_over_and_the_defects_liability_period(run: Renovation, metered: str) -> None:
    run.ok("payment", "certify", "JM", "--period", "2021-04")
    day = today(run)
    refused = run("payment", "release", "JM", "--date", day)
    assert refused.exit_code == 1 and "handed over" in run.lines(refused)[0]
    run.ok("construction", "complete", "JM", "--date", "2021-06-30")
    run.ok("construction", "accept", "JM", "--date", "2021-07-05")
    run.ok("construction", "handover", "JM", "--date", "2021-07-10")

    # due on 2023-07-10; released on the day the certificate holding it was issued (not before it)
    released = run.json("payment", "release", "JM", "--date", day)

    assert released == {"code": "JM", "on": day, "amount": "291.59", "due": "2023-07-10"}
    twice = run("payment", "release", "JM", "--date", day)
    assert (twice.exit_code, run.lines(twice)) == (1, [f"Error: the retention of JM was released on {day}"])
    (row,) = run.json("payment", "list")
    assert (row["retained"], row["released"]) == ("0.00", "291.59")


def test_release_before_the_end_of_the_defects_liability_period_is_refused(run: Renovation, metered: str,
                                                                           tmp_path: Path) -> None:
    run.ok("payment", "certify", "JM", "--period", "2021-04")
    run.ok("construction", "complete", "JM", "--date", "2021-06-30")
    run.ok("construction", "accept", "JM", "--date", "2021-07-05")
    run.ok("construction", "handover", "JM", "--date", "2021-07-10")
    before = event_count(run.db)

    early = run("payment", "release", "JM", "--date", "2023-07-09")

    assert early.exit_code == 1
    assert run.lines(early) == ["Error: the retention of JM is held until 2023-07-10 (24 months after hand-over); "
                                "2023-07-09 is before it"]
    assert event_count(run.db) == before
    config = tmp_path / "renovation.toml"
    config.write_text("[payments]\ndefects_months = 12\n", encoding="utf-8")
    assert run.json("--config", str(config), "payment", "release", "JM", "--date", today(run))["due"] == "2022-07-10"


def test_payment_list_per_compound_and_per_certificate(run: Renovation, metered: str) -> None:
    assert run.json("payment", "list") == []
    run.ok("payment", "certify", "JM", "--period", "2021-03")
    run.ok("payment", "certify", "JM", "--period", "2021-04")
    run.ok("payment", "record", "JM", "C1", "--amount", "7000", "--date", today(run))

    (row,) = run.json("payment", "list")
    assert row == {"code": "JM", "certificates": 2, "through": "2021-04", "cumulative_metered": "9719.50",
                   "certified": "9427.91", "paid": "7000.00", "retained": "291.59", "released": "0.00",
                   "outstanding": "2427.91"}
    certificates = run.json("payment", "list", "JM")
    assert [(c["certificate_id"], c["certified"], c["paid"], c["outstanding"]) for c in certificates] == [
        ("C1", "7184.79", "7000.00", "184.79"), ("C2", "2243.12", "0.00", "2243.12")]
    csv = run.ok("payment", "list", "--csv").output.splitlines()
    assert csv[0].split(",")[:3] == ["code", "certificates", "through"]
    assert run("payment", "list", "NOPE").exit_code == 1


def test_payment_list_as_of_a_moment_before_the_certificates(run: Renovation, metered: str) -> None:
    run.ok("payment", "certify", "JM", "--period", "2021-03")
    assert run.json("payment", "list", "--as-of", "2021-12-31") == []
    assert len(run.json("payment", "list")) == 1


def test_ledger_and_audit_replay_show_the_payments_as_of_a_moment(run: Renovation, metered: str) -> None:
    assert under_the_table(run.ok("ledger", "JM").output) == (
        "Payments (yuan): certified 0.00, paid 0.00, retained 0.00, released 0.00, outstanding 0.00")
    run.ok("payment", "certify", "JM", "--period", "2021-04")
    time.sleep(1.1)
    between = datetime.now(UTC).isoformat(timespec="seconds")
    time.sleep(1.1)
    run.ok("payment", "record", "JM", "C1", "--amount", "9000", "--date", today(run))

    replayed = run.json("audit", "replay", "JM")
    assert {key: replayed[key] for key in ("total_value", "certified", "paid", "retained", "released",
                                           "outstanding")} == {
        "total_value": "9719.50", "certified": "9427.91", "paid": "9000.00", "retained": "291.59",
        "released": "0.00", "outstanding": "427.91"}
    assert {"code", "as_of", "items"} <= set(replayed)
    before = run.json("audit", "replay", "JM", "--as-of", between)
    assert (before["certified"], before["paid"], before["outstanding"]) == ("9427.91", "0.00", "9427.91")
    (row,) = run.json("payment", "list", "--as-of", between)
    assert (row["certified"], row["paid"]) == ("9427.91", "0.00")
    assert under_the_table(run.ok("ledger", "JM").output) == (
        "Payments (yuan): certified 9427.91, paid 9000.00, retained 291.59, released 0.00, outstanding 427.91")
    assert under_the_table(run.ok("audit", "replay", "JM").output) == under_the_table(run.ok("ledger", "JM").output)
    assert under_the_table(run.ok("--lang", "zh", "ledger", "JM").output).startswith("计量支付（元）：核定支付 9427.91")
    assert isinstance(run.json("ledger", "JM", "--json"), list)  # the ledger's JSON rows are as they were


def test_reconcile_checks_the_payments_read_model_against_the_events(run: Renovation, metered: str) -> None:
    run.ok("payment", "certify", "JM", "--period", "2021-04")
    run.ok("payment", "record", "JM", "C1", "--amount", "9000", "--date", today(run))
    assert run.json("audit", "reconcile", "--json") == []
    if not isinstance(run.db, Path):
        return  # the read model is changed behind the tracker's back on SQLite only
    import sqlite3

    connection = sqlite3.connect(run.db)
    with connection:
        connection.execute("UPDATE payments_certificates SET paid = '900.00' WHERE code = 'JM'")
    connection.close()

    refused = run("audit", "reconcile", "--json")

    assert refused.exit_code == 1
    assert '"what": "payments"' in refused.stdout
    assert "9427.91 / 9000.00 / 291.59 / 0.00 / 427.91" in refused.stdout

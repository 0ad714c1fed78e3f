"""Progress payments in an import: each certificate, payment and release is re-derived by its own
command, so a forged amount, retention or payment is refused whole, naming the line; nothing is stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_support import BOQ_CSV, REGISTER_JM, Renovation, event_count, events_of_export

Line = dict[str, Any]


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> list[Line]:
    """JM metered in March and April, certified twice (C1, C2), a correction certificate (C3), paid (P1)."""
    folder = tmp_path_factory.mktemp("import-payments")
    source = Renovation(folder / "source.db")
    boq = folder / "boq.csv"
    boq.write_text(BOQ_CSV, encoding="utf-8")
    source.ok(*REGISTER_JM)
    source.ok("boq", "import", "JM", str(boq))
    source.ok("construction", "start", "JM", "--date", "2021-03-01")
    source.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "60")
    source.ok("meter", "JM", "--item", "B2", "--period", "2021-04", "--quantity", "12.5")
    source.ok("payment", "certify", "JM", "--period", "2021-03")
    day = source.json("payment", "certify", "JM", "--period", "2021-04")["on"]
    source.ok("meter", "correct", "JM", "M1", "--quantity", "61", "--reason", "复核")
    source.ok("payment", "certify", "JM", "--period", "2021-03", "--reason", "M1 复核")
    source.ok("payment", "record", "JM", "C1", "--amount", "7000", "--date", day)
    file = folder / "log.jsonl"
    source.ok("export", str(file))
    return [json.loads(line) for line in events_of_export(file.read_text(encoding="utf-8"))]


def name_of(line: Line) -> str:
    return str(line["topic"]).rsplit(".", 1)[-1]


def nth(lines: list[Line], name: str, n: int = 0) -> int:
    return [index for index, line in enumerate(lines) if name_of(line) == name][n]


def setting(name: str, field: str, new: Any, n: int = 0) -> Any:
    def change(lines: list[Line]) -> int:
        index = nth(lines, name, n)
        state = lines[index]["state"]
        value = state[field]
        state[field] = {**value, "_data_": new} if isinstance(value, dict) and "_data_" in value else new
        return index + 1
    return change


def cited_value(lines: list[Line]) -> int:
    index = nth(lines, "PaymentCertified", 1)
    entry = lines[index]["state"]["entries"][0]
    entry["_data_"]["value"]["_data_"] = "9999.00"
    return index + 1


CASES = {
    "a certificate's amount": setting("PaymentCertified", "amount", "7284.79"),
    "a certificate's retention": setting("PaymentCertified", "retention", "122.21"),
    "a certificate's cumulative metered value": setting("PaymentCertified", "cumulative_metered", "7507.00"),
    "a certificate previously certified": setting("PaymentCertified", "previously_certified", "0.00", n=1),
    "a correction certificate's amount": setting("PaymentCertified", "amount", "0.00", n=2),
    "a cited entry's value": cited_value,
    "a certificate's retention percent out of range": setting("PaymentCertified", "retention_percent", "101"),
    "a payment above what its certificate certified": setting("PaymentRecorded", "amount", "7184.80"),
    "a payment of no money": setting("PaymentRecorded", "amount", "0"),
    "a payment against a certificate the compound lacks": setting("PaymentRecorded", "certificate_id", "C9"),
    "a payment dated before its certificate": setting("PaymentRecorded", "on", "2021-01-01"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_forged_payment_event_is_refused_and_nothing_is_written(export: list[Line], tmp_path: Path,
                                                                  case: str) -> None:
    lines = json.loads(json.dumps(export))
    number = CASES[case](lines)
    file = tmp_path / "forged.jsonl"
    file.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    target = Renovation(tmp_path / "target.db")
    target.ok("db", "zone", "Asia/Shanghai")

    result = target("import", str(file))

    assert result.exit_code == 2, (case, result.output)
    (message,) = target.lines(result)
    assert message.startswith("Error: ") and f"forged.jsonl: line {number}: " in message, message
    assert "Traceback" not in result.output
    assert event_count(target.db) == 0
    assert target.json("payment", "list") == []


def test_an_honest_export_with_payments_imports_whole_and_its_board_agrees(export: list[Line],
                                                                          tmp_path: Path) -> None:
    file = tmp_path / "log.jsonl"
    file.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in export), encoding="utf-8")
    target = Renovation(tmp_path / "target.db")

    target.ok("import", str(file))

    assert event_count(target.db) == len(export)
    (row,) = target.json("payment", "list")
    assert (row["certificates"], row["paid"]) == (3, "7000.00")
    certificates = target.json("payment", "list", "JM")
    assert [c["certificate_id"] for c in certificates] == ["C1", "C2", "C3"]
    assert certificates[2]["correction"] is True
    assert certificates[2]["certified"] == "119.75"  # 123.45, less 3.70 more held (295.29 - 291.59)
    assert target.json("audit", "reconcile") == []


def test_a_copys_certificate_rebased_on_a_store_that_certified_the_period_is_not_applied_nor_its_payment(
        tmp_path: Path) -> None:
    import shutil

    main = Renovation(tmp_path / "main.db")
    boq = tmp_path / "boq.csv"
    boq.write_text(BOQ_CSV, encoding="utf-8")
    main.ok(*REGISTER_JM)
    main.ok("boq", "import", "JM", str(boq))
    main.ok("construction", "start", "JM", "--date", "2021-03-01")
    main.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "60")
    shutil.copyfile(tmp_path / "main.db", tmp_path / "laptop.db")
    laptop = Renovation(tmp_path / "laptop.db")
    day = laptop.json("payment", "certify", "JM", "--period", "2021-03")["on"]
    laptop.ok("payment", "record", "JM", "C1", "--amount", "7000", "--date", day)
    exported = tmp_path / "laptop.jsonl"
    laptop.ok("export", str(exported))
    main.ok("meter", "JM", "--item", "B2", "--period", "2021-03", "--quantity", "1")
    main.ok("payment", "certify", "JM", "--period", "2021-03")

    rebased = main.ok("import", "--rebase", str(exported))

    assert "PaymentCertified: JM 2021-03 is already certified" in rebased.output
    assert "PaymentRecorded: refers to C1, which line" in rebased.output
    (row,) = main.json("payment", "list")
    assert (row["certificates"], row["certified"], row["paid"]) == (1, "7364.24", "0.00")
    assert main.json("audit", "reconcile") == []

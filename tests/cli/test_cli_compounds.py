"""Compounds through the CLI: register, list, show, bill of quantities, illegal structures, lifecycle."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from cli_support import ENV, Renovation, event_count
from click.testing import CliRunner

from renovation.cli import cli

REGISTER_LY = [
    "compound", "register", "LY", "--name", "利源小区", "--district", "龙山区", "--contractor", "辽源二建",
    "--households", "165", "--contract-value", "2500000.50",
    "--planned-start", "2021-04-01", "--planned-finish", "2021-10-31", "--registered-on", "2021-01-04",
]


def test_register_prints_the_code_and_name(run: Renovation) -> None:
    result = run.ok(*REGISTER_LY)

    assert result.output.strip() == "Registered compound LY (利源小区)."
    assert event_count(run.db) == 1


def test_register_with_json_prints_an_object(run: Renovation) -> None:
    assert run.json(*REGISTER_LY) == {"code": "LY", "name": "利源小区"}


def test_register_accepts_a_lower_case_code(run: Renovation) -> None:
    args = list(REGISTER_LY)
    args[2] = "ly"

    assert run.json(*args)["code"] == "LY"


def test_list_shows_every_compound_as_a_table(run: Renovation, registered: str) -> None:
    run.ok(*REGISTER_LY)

    output = run.ok("compound", "list").output

    assert "JM" in output and "吉明小区" in output
    assert "LY" in output and "利源小区" in output
    assert "1,000,000.00" in output


def test_list_with_json_gives_rows_with_money_as_strings(run: Renovation, registered: str) -> None:
    run.ok(*REGISTER_LY)

    rows = run.json("compound", "list")

    assert [row["code"] for row in rows] == ["JM", "LY"]
    assert rows[0] == {
        "code": "JM", "name": "吉明小区", "district": "龙山区", "contractor": "辽源建工",
        "status": "registered", "contract_value": "1000000", "metered_value": "0",
    }
    assert rows[1]["contract_value"] == "2500000.50"


def test_list_with_csv_parses_with_a_header_row(run: Renovation, registered: str) -> None:
    run.ok(*REGISTER_LY)

    rows = list(csv.DictReader(io.StringIO(run.ok("compound", "list", "--csv").stdout)))

    assert [row["code"] for row in rows] == ["JM", "LY"]
    assert rows[0]["name"] == "吉明小区"
    assert rows[0]["status"] == "registered"
    assert rows[1]["contract_value"] == "2500000.50"


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_neutralised(run: Renovation) -> None:
    """A name typed as "=HYPERLINK(...)" or "@SUM(...)" is text: the CSV quotes it for spreadsheet
    programs with a leading apostrophe; JSON keeps it as typed."""
    formula, at_sign = '=HYPERLINK("http://example.invalid","点此")', "@SUM(1+1)*cmd|' /C calc'!A0"
    run.ok("compound", "register", "ZZ", "--name", formula, "--district", "-2+3", "--contractor", at_sign,
           "--households", "10", "--contract-value", "1000", "--planned-start", "2021-03-01",
           "--planned-finish", "2021-09-30", "--registered-on", "2021-01-04")

    (row,) = list(csv.DictReader(io.StringIO(run.ok("compound", "list", "--csv").stdout)))

    assert (row["name"], row["district"], row["contractor"]) == ("'" + formula, "'-2+3", "'" + at_sign)
    assert row["contract_value"] == "1000" and row["metered_value"] == "0"
    (shown,) = run.json("compound", "list")
    assert (shown["name"], shown["district"], shown["contractor"]) == (formula, "-2+3", at_sign)


def test_list_of_an_empty_database_says_none(run: Renovation) -> None:
    run.ok("db", "zone", "Asia/Shanghai")  # an empty store
    assert run.ok("compound", "list").output.strip() == "(none)"
    assert run.json("compound", "list") == []


def test_show_gives_one_object(run: Renovation, started: str) -> None:
    shown = run.json("compound", "show", "jm")

    assert shown["code"] == "JM"
    assert shown["status"] == "under_construction"
    assert shown["contract_value"] == "1000000"
    assert shown["started_on"] == "2021-03-01"
    assert shown["planned_finish"] == "2021-09-30"
    assert shown["boq_items"] == 2
    assert shown["households"] == 320


def test_show_as_a_table_and_as_csv(run: Renovation, started: str) -> None:
    table = run.ok("compound", "show", "JM").output
    assert "吉明小区" in table and "under construction" in table

    (row,) = csv.DictReader(io.StringIO(run.ok("compound", "show", "JM", "--csv").stdout))
    assert row["code"] == "JM"
    assert row["started_on"] == "2021-03-01"
    assert row["boq_items"] == "2"


def test_boq_import_prints_items_and_total(run: Renovation, registered: str, boq_file: Path) -> None:
    before = event_count(run.db)

    result = run.ok("boq", "import", "JM", str(boq_file))

    # 100 × 123.45 + 50 × 185 = 12345.00 + 9250.00
    assert result.output.strip() == "Bill of quantities of JM: 2 items, total 21595.00 yuan."
    assert event_count(run.db) == before + 1


def test_boq_import_with_json(run: Renovation, registered: str, boq_file: Path) -> None:
    assert run.json("boq", "import", "JM", str(boq_file)) == {"code": "JM", "items": 2, "total": "21595.00"}


def test_boq_import_accepts_a_byte_order_mark(run: Renovation, registered: str, tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_text("\ufeffitem,description,unit,quantity,unit_price\nA1,雨污分流,m,100,123.45\n", encoding="utf-8")

    assert run.json("boq", "import", "JM", str(path))["items"] == 1


def test_demolition_record_then_clear(run: Renovation, registered: str) -> None:
    recorded = run.ok("demolition", "record", "JM", "--count", "4").output
    assert recorded.strip() == "Recorded 4 illegal structure(s) at JM; 4 standing."
    assert run.json("demolition", "record", "JM", "--count", "2") == {"code": "JM", "count": 2, "standing": 6}

    cleared = run.json("demolition", "clear", "JM")

    assert cleared == {"code": "JM", "count": 6}
    assert run.json("compound", "show", "JM")["illegal_structures"] == 0


def test_construction_can_start_once_illegal_structures_are_cleared(
    run: Renovation, registered: str, boq_file: Path
) -> None:
    run.ok("demolition", "record", "JM", "--count", "3")
    run.ok("demolition", "clear", "JM")

    result = run.ok("construction", "start", "JM", "--date", "2021-03-01")

    assert result.output.strip() == "Construction of JM started on 2021-03-01."


def test_the_whole_lifecycle_ends_with_fifteen_years_of_operation(run: Renovation, started: str) -> None:
    completed = run.json("construction", "complete", "JM", "--date", "2021-07-20")
    assert completed["on"] == "2021-07-20"
    assert completed["user"] == "tester"

    accepted = run.ok("construction", "accept", "JM", "--date", "2021-07-28")
    assert accepted.output.strip() == "JM accepted on 2021-07-28."

    handed = run.json("construction", "handover", "JM", "--date", "2021-08-01")

    assert handed["on"] == "2021-08-01"
    assert handed["operator"] == "辽源建工"  # whoever builds it operates it
    assert handed["om_end"] == "2036-08-01"
    shown = run.json("compound", "show", "JM")
    assert shown["status"] == "handed_over"
    assert shown["om_end"] == "2036-08-01"


def test_handover_names_another_operator_in_words(run: Renovation, started: str) -> None:
    run.ok("construction", "complete", "JM", "--date", "2021-07-20")
    run.ok("construction", "accept", "JM", "--date", "2021-07-28")

    result = run.ok("construction", "handover", "JM", "--date", "2021-08-01", "--operator", "龙山物业")

    assert result.output.strip() == "JM handed over on 2021-08-01 to 龙山物业; O&M until 2036-08-01."


def test_json_of_a_write_command_is_one_object(run: Renovation, started: str) -> None:
    output = run.ok("construction", "complete", "JM", "--date", "2021-07-20", "--json").stdout

    assert isinstance(json.loads(output), dict)


def test_the_user_is_recorded_on_the_event(run: Renovation, started: str) -> None:
    result = CliRunner().invoke(cli, ["--db", str(run.db), "--user", " 王监理 ", "construction", "complete", "JM",
                                      "--date", "2021-07-20", "--json"], env=ENV)

    assert result.exit_code == 0, result.output
    assert '"user": "王监理"' in result.stdout


def test_a_bill_of_quantities_file_larger_than_any_bill_is_refused_unread(run: Renovation, registered: str,
                                                                        tmp_path: Path) -> None:
    """`boq import /dev/zero` never ended; a file is read up to the size of the largest bill (10 MB)."""
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as handle:
        handle.truncate(10 * 1024 * 1024 + 1)  # sparse: eleven megabytes of zeros, nothing on disk
    before = event_count(run.db)

    result = run("boq", "import", "JM", str(huge))

    assert result.exit_code == 2
    assert run.lines(result) == [f"Error: {huge}: larger than 10 MB; no bill of quantities is that large"]
    assert event_count(run.db) == before


@pytest.mark.parametrize("day", ["1900-01-01", "2021-01-03"])
def test_construction_cannot_start_before_the_compound_was_registered(run: Renovation, day: str) -> None:
    run.ok(*REGISTER_LY)  # registered on 2021-01-04
    before = event_count(run.db)

    result = run("construction", "start", "LY", "--date", day)

    assert result.exit_code in (1, 2) and len(run.lines(result)) == 1, result.output
    assert event_count(run.db) == before
    run.ok("construction", "start", "LY", "--date", "2021-01-04")


def test_a_registration_is_on_the_day_it_is_recorded_unless_told(run: Renovation) -> None:
    run.ok(*REGISTER_LY[:-2])  # without --registered-on: today

    refused = run("construction", "start", "LY", "--date", "2021-04-01")

    assert refused.exit_code == 1
    assert "before the registration date" in refused.output
    future = run("compound", "register", "FU", *REGISTER_LY[3:-1], "2999-01-01")
    assert future.exit_code != 0 and "Traceback" not in future.output

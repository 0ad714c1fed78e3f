"""Terminals and spreadsheets (issue 13, item 8): a table stays readable in an 80-column terminal and is
never cut when piped; CSV has its header row even with no rows and booleans as true/false; `--xlsx`
on every read command writes a typed workbook (numbers kept to their scale, dates as dates, a frozen
header row, text never a formula)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from cli_support import ENV, Renovation
from click.testing import CliRunner
from rich.cells import cell_len

from renovation.cli import cli

TODAY = ("--today", "2021-03-20")


@pytest.fixture
def site(run: Renovation, started: str) -> Renovation:
    run.ok("inspect", "JM", "--kind", "patrol", "--at", "2021-03-02T09:00",
           "--finding", "safety:major:=HYPERLINK(\"http://x\")@3号楼")  # F1: text that looks like a formula
    run.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "10")  # 1234.50
    run.ok("material", "sample", "JM", "--material", "水泥", "--batch", "B-1", "--regime", "routine",
           "--at", "2021-03-03T10:00")
    run.ok("material", "result", "JM", "S1", "--pass", "--lab", "检测站", "--at", "2021-03-04T10:00")
    return run


def in_a_terminal(site: Renovation, *args: str, columns: int = 80) -> str:
    env = {**ENV, "TTY_COMPATIBLE": "1", "NO_COLOR": "1", "COLUMNS": str(columns), "TERM": "xterm"}
    result = CliRunner().invoke(cli, ["--db", str(site.db), "--user", "tester", *TODAY, *args], env=env)
    assert result.exit_code == 0, result.output
    return re.sub(r"\x1b\[[0-9;]*m", "", result.output)  # bold header labels: styles, not text


@pytest.mark.parametrize("args", [("quality", "--by", "contractor"), ("ranking",), ("progress",),
                                  ("finding", "list"), ("ledger", "JM")])
def test_an_80_column_terminal_shows_every_cell_whole(site: Renovation, args: tuple[str, ...]) -> None:
    if args == ("ranking",):
        scores = [part for name in ("quality", "safety", "progress", "civilized", "satisfaction")
                  for part in (f"--{name}", "80")]
        site.ok("score", "JM", "--period", "2021-03", *scores)

    shown = in_a_terminal(site, *args)

    assert "…" not in shown
    assert max(cell_len(line) for line in shown.splitlines()) <= 80
    assert ("1,234.50" if args[0] == "ledger" else "辽源建工") in shown  # the contractor's name, whole


def test_piped_output_is_never_cut(site: Renovation) -> None:
    site.ok("feedback", "JM", "--channel", "hotline", "--text", "长" * 300, "--at", "2021-03-05T09:00")

    shown = site.ok(*TODAY, "feedback", "list").output

    assert "长" * 300 in shown and "…" not in shown


def test_csv_has_its_header_with_no_rows_and_booleans_as_words(site: Renovation) -> None:
    from renovation.cli.output import to_csv

    empty = site.ok(*TODAY, "finding", "list", "--closed", "--csv").output

    assert empty.splitlines() == ["code,finding_id,contractor,category,severity,description,location,raised_at,"
                                  "raised_by,due,days_open,days_overdue,status,last_note"]
    assert site.ok(*TODAY, "feedback", "list", "--csv").output.startswith("code,ticket_id,channel,text")
    assert to_csv([{"code": "JM", "passed": True}, {"code": "LY", "passed": False}], "en") == (
        "code,passed\nJM,true\nLY,false\n")


@pytest.mark.parametrize("args", [("finding", "list"), ("material", "list"), ("ledger", "JM"), ("progress",),
                                  ("quality",), ("feedback", "list"), ("compound", "list"), ("compound", "show", "JM"),
                                  ("projections", "status"), ("finding", "show", "JM", "F1")])
def test_every_read_command_writes_a_workbook(site: Renovation, tmp_path: Path, args: tuple[str, ...]) -> None:
    from openpyxl import load_workbook

    path = tmp_path / "out.xlsx"
    result = site.ok(*TODAY, *args, "--xlsx", str(path), lang="zh")

    assert f"写入 {path}" in result.output
    sheet = load_workbook(path).active
    assert sheet.freeze_panes == "A2"
    assert all(isinstance(cell.value, str) for cell in sheet[1])
    assert sheet.max_row >= (1 if args == ("feedback", "list") else 2)  # no tickets: the header alone
    assert sheet.title == "-".join(part for part in args if part.islower())  # the command, e.g. finding-list


def test_a_workbooks_cells_are_typed(site: Renovation, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    ledger, findings = tmp_path / "ledger.xlsx", tmp_path / "findings.xlsx"
    site.ok(*TODAY, "ledger", "JM", "--xlsx", str(ledger))
    site.ok(*TODAY, "finding", "list", "--xlsx", str(findings))

    sheet = load_workbook(ledger).active
    header = [cell.value for cell in sheet[1]]
    row = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    value = next(cell for name, cell in row.items() if name == "Value")
    assert isinstance(value.value, (int, float, Decimal)) and Decimal(str(value.value)) == Decimal("1234.50")
    assert value.number_format == "0.00"
    sheet = load_workbook(findings).active
    header = [cell.value for cell in sheet[1]]
    row = {name: cell for name, cell in zip(header, sheet[2], strict=True)}
    assert row["Due"].value == datetime(2021, 3, 5) and row["Due"].number_format == "yyyy-mm-dd"
    assert row["Raised"].value == datetime(2021, 3, 2, 9, 0)
    description = next(cell for name, cell in row.items() if cell.value and str(cell.value).startswith("=HYPER"))
    assert description.data_type == "s"  # text, not a formula
    assert row["Days overdue"].value == (date(2021, 3, 20) - date(2021, 3, 5)).days


def test_xlsx_refuses_the_store_and_other_formats(site: Renovation) -> None:
    refused = site(*TODAY, "progress", "--xlsx", str(site.db))
    both = site(*TODAY, "progress", "--xlsx", "x.xlsx", "--csv")

    assert refused.exit_code == 2 and "--xlsx" in refused.output and len(site.lines(refused)) == 1
    assert both.exit_code == 2 and "give one of --json, --csv, --xlsx" in both.output
    assert not Path("x.xlsx").exists()


@pytest.mark.parametrize(("args", "header"), [
    (("quality", "--as-of", "2021-01-01"), "code,contractor,inspections,"),
    (("quality", "--by", "contractor", "--as-of", "2021-01-01"), "contractor,inspections,"),
    (("ranking",), "period,rank,contractor,compounds,total,"),
    (("ranking", "--by", "compound"), "period,rank,code,name,contractor,total,"),
    (("audit", "history", "JM", "--item", "B2"), "entry_id,kind,item,period,"),
    (("quality", "JM", "--missed", "--as-of", "2021-01-01"), "code,day"),
])
def test_every_board_has_its_header_with_no_rows(started: str, run: Renovation, args: tuple[str, ...],
                                                 header: str) -> None:
    shown = run.ok(*TODAY, *args, "--csv").output

    assert shown.splitlines()[0].startswith(header) and len(shown.splitlines()) == 1, shown

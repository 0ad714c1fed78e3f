"""The computed horse race through the CLI, on both backends: ``ranking --computed``, ``ranking explain``
and the computed totals beside the recorded board, worked out by hand from the facts recorded; the
constants from renovation.toml; ``--as-of``; a contractor seeing only its own compounds' computed
scores; a rebuild that changes no answer; and bad input refused in one line."""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from cli_support import ENV, Renovation
from click.testing import Result

from renovation.cli import cli

TODAY = ("--today", "2021-07-10")
SCORES = [part for name in ("quality", "safety", "progress", "civilized", "satisfaction")
          for part in (f"--{name}", "80")]
ROLES = """
[users]
"周科长" = { role = "bureau" }
"李经理" = { role = "contractor", contractor = "辽源建工" }
"""


@pytest.fixture
def june(run: Renovation, started: str) -> Renovation:
    """JM (辽源建工; 320 households; contract 1,000,000; planned 2021-03-01..2021-09-30; started on time)
    and LY (another contractor, started 2021-06-01, nothing else), with June's facts of JM:

    - 06-02 a morning round with F1 quality/major and F2 safety/minor, both due 06-09; 06-10 a round
      without findings. F1 rectified on 06-08 (on time); F2 never closed.
    - A1 metered 50 m for 2021-06 (6,172.50 yuan).
    - T1 received 06-05, resolved 06-20 (15 days: not within 7).
    - The bureau scored both compounds 80 on every dimension for 2021-06.
    """
    run.ok("compound", "register", "LY", "--name", "利源小区", "--district", "龙山区", "--contractor", "吉林建工",
           "--households", "100", "--contract-value", "500000", "--planned-start", "2021-06-01",
           "--planned-finish", "2021-12-31", "--registered-on", "2021-01-04")
    run.ok("construction", "start", "LY", "--date", "2021-06-01")
    run.ok("inspect", "JM", "--kind", "morning", "--at", "2021-06-02T06:40", "--due", "2021-06-09",
           "--finding", "quality:major:墙面空鼓", "--finding", "safety:minor:脚手架缺踢脚板")
    run.ok("inspect", "JM", "--kind", "morning", "--at", "2021-06-10T06:45")
    run.ok("finding", "rectify", "JM", "F1", "--at", "2021-06-08T15:00")
    run.ok("meter", "JM", "--item", "A1", "--period", "2021-06", "--quantity", "50")
    run.ok("feedback", "JM", "--channel", "hotline", "--text", "施工噪音", "--at", "2021-06-05T08:00")
    run.ok("feedback", "resolve", "JM", "T1", "--note", "已调整", "--at", "2021-06-20T10:00")
    for code in ("JM", "LY"):
        run.ok("score", code, "--period", "2021-06", *SCORES)
    return run


def explain(run: Renovation, *args: str) -> dict[str, Any]:
    result: dict[str, Any] = run.json(*TODAY, "ranking", "explain", "JM", "--period", "2021-06", *args)
    return result


def terms(found: dict[str, Any]) -> dict[tuple[str, str], tuple[str, list[str]]]:
    return {(part["component"], term["term"]): (term["points"], term["ids"])
            for part in found["components"] for term in part["terms"]}


def test_explain_works_every_score_out_from_the_facts(june: Renovation) -> None:
    found = explain(june)
    by_term = terms(found)

    # quality: 30 × 3 (one major) ÷ 2 inspections = 45, capped at 40; F1 rectified by its due date
    assert by_term["quality", "findings"] == ("40.00", ["F1", "I1", "I2"])
    assert by_term["quality", "late_rectification"] == ("0.00", [])
    # safety: a minor finding 2; F2 overdue 06-10..06-30, 21 days
    assert by_term["safety", "findings"] == ("2.00", ["F2"])
    assert by_term["safety", "overdue_days"] == ("21.00", ["F2"])
    # progress: planned 121 of 213 days = 56.81 %, metered 6,172.50 of 1,000,000 = 0.62 %: 56.19, capped at 50
    assert by_term["progress", "behind_plan"] == ("50.00", ["M1"])
    assert by_term["progress", "days_behind"] == ("0.00", [])
    # satisfaction: 10 × 1 ticket × 100 ÷ 320 households = 3.125 -> 3.13; T1 resolved after 15 days
    assert by_term["satisfaction", "tickets"] == ("3.13", ["T1"])
    assert by_term["satisfaction", "late_resolution"] == ("30.00", ["T1"])
    scores = {part["component"]: part["score"] for part in found["components"]}
    assert scores == {"quality": "60.00", "safety": "77.00", "progress": "50.00", "civilized": "100.00",
                      "satisfaction": "66.87"}
    # (60 × 30 + 77 × 25 + 50 × 20 + 100 × 15 + 66.87 × 10) ÷ 100 = 68.937 -> 68.94; the bureau gave 80
    assert (found["total"], found["recorded_total"], found["difference"], found["flagged"]) == (
        "68.94", "80.00", "11.06", True)
    assert found["scored"] is True
    # the numbers explain shows reproduce its scores and its total
    for part in found["components"]:
        assert Decimal(part["score"]) == max(Decimal(0), 100 - sum(Decimal(t["points"]) for t in part["terms"]))
    total = sum(Decimal(p["score"]) * p["weight"] for p in found["components"]) / sum(
        p["weight"] for p in found["components"])
    assert total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) == Decimal(found["total"])


def test_the_computed_board_and_the_recorded_board_agree_with_explain(june: Renovation) -> None:
    computed = june.json(*TODAY, "ranking", "--computed", "--by", "compound", "--period", "2021-06")
    recorded = june.json(*TODAY, "ranking", "--by", "compound", "--period", "2021-06")

    # LY: planned 29 of 213 days by 06-30 = 13.62 % behind, nothing else: (80 × 100 + 20 × 86.38) ÷ 100 = 97.28
    assert [(row["code"], row["rank"], row["total"]) for row in computed] == [("LY", 1, "97.28"),
                                                                              ("JM", 2, "68.94")]
    assert {row["code"]: (row["total"], row["computed_total"], row["difference"], row["flagged"])
            for row in recorded} == {"JM": ("80.00", "68.94", "11.06", True), "LY": ("80.00", "97.28", "-17.28", True)}
    by_contractor = june.json(*TODAY, "ranking", "--period", "2021-06")
    assert {row["contractor"]: row["computed_total"] for row in by_contractor} == {"辽源建工": "68.94",
                                                                                   "吉林建工": "97.28"}


def test_the_computed_board_defaults_to_the_latest_period_under_construction(june: Renovation) -> None:
    rows = june.json(*TODAY, "ranking", "--computed", "--by", "compound")

    assert {row["period"] for row in rows} == {"2021-07"}
    assert {row["code"] for row in rows} == {"JM", "LY"}
    earlier = june.json(*TODAY, "ranking", "--computed", "--by", "compound", "--period", "2021-03")
    assert [row["code"] for row in earlier] == ["JM"]  # LY started in June


def test_an_empty_computed_board_says_no_compound_was_under_construction(run: Renovation) -> None:
    """The computed board scores every compound under construction in the period: empty, it says that none
    was (no one's scores were recorded or left out), in both languages."""
    run.ok("compound", "register", "LY", "--name", "利源小区", "--district", "龙山区", "--contractor", "吉林建工",
           "--households", "100", "--contract-value", "500000", "--planned-start", "2021-06-01",
           "--planned-finish", "2021-12-31", "--registered-on", "2021-01-04")

    assert run.ok(*TODAY, "ranking", "--computed").output == "no compound has been under construction yet\n"
    assert run.ok(*TODAY, "ranking", "--computed", "--period", "2021-06").output == (
        "no compound was under construction in 2021-06\n")
    assert run.ok(*TODAY, "ranking", "--computed", lang="zh").output == "尚无在建小区，无可评分\n"
    assert run.ok(*TODAY, "ranking").output == "nobody has been scored yet\n"  # the bureau's recorded board


@pytest.mark.parametrize("board", [(), ("--computed",)])
def test_a_period_not_begun_is_refused_on_either_board(june: Renovation, board: tuple[str, ...]) -> None:
    """Nobody can have been scored for a period that has not begun: the recorded board refuses it as the
    computed one does (and as the web board refuses both), rather than saying nobody was scored."""
    result = june(*TODAY, "ranking", *board, "--period", "2021-08")

    assert result.exit_code == 1
    assert result.output == "Error: period 2021-08 has not begun (current period 2021-07)\n"
    assert june(*TODAY, "ranking", *board, "--period", "2021-07").exit_code == 0


def test_the_constants_come_from_renovation_toml(june: Renovation, tmp_path: Path) -> None:
    config = tmp_path / "horse.toml"
    config.write_text("[horse_race]\nflag_difference = 15\n[horse_race.safety]\noverdue_day = 0.5\n",
                      encoding="utf-8")
    found = june.json("--config", str(config), *TODAY, "ranking", "explain", "JM", "--period", "2021-06")

    assert terms(found)["safety", "overdue_days"] == ("10.50", ["F2"])
    assert found["flagged"] is False  # a difference of 8.43 is within 15 (safety 87.50: 2.63 more in total)


@pytest.mark.parametrize("text", [
    "[horse_race]\nflag_difference = -1\n", "[horse_race]\nflag_difference = 1e300\n",
    "[horse_race]\nflag_difference = true\n", "[horse_race]\nunknown = 1\n",
    "[horse_race.safety]\nseverity = { minor = 1 }\n", "[horse_race.satisfaction]\nresolve_days = 1.5\n",
    '[horse_race]\nflag_difference = "NaN"\n',
])
def test_a_bad_horse_race_table_is_refused_in_one_line(june: Renovation, tmp_path: Path, text: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text, encoding="utf-8")
    result = june("--config", str(config), *TODAY, "ranking", "--computed")

    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and "horse_race" in result.output


def test_as_of_sees_the_facts_recorded_by_then(june: Renovation) -> None:
    # the events were recorded now, by the wall clock: as of 2021 none was, as of 2100 every one
    before = june(*TODAY, "ranking", "explain", "JM", "--period", "2021-01", "--as-of", "2021-01-05")
    assert before.exit_code == 1 and before.output.strip() == "Error: no compound with code JM"
    assert june.json(*TODAY, "ranking", "--computed", "--as-of", "2021-01-05") == []
    # as of a day, a later period has not begun
    later = june(*TODAY, "ranking", "explain", "JM", "--period", "2021-06", "--as-of", "2021-01-05")
    assert later.exit_code == 1
    assert later.output.strip() == "Error: period 2021-06 has not begun (current period 2021-01)"
    latest = june.json(*TODAY, "ranking", "explain", "JM", "--period", "2021-06", "--as-of", "2100-01-01")
    assert latest["components"] == explain(june)["components"]


def test_a_rebuild_changes_no_answer(june: Renovation) -> None:
    before = explain(june), june.json(*TODAY, "ranking", "--computed", "--period", "2021-06")
    june.ok("projections", "rebuild", "computed")

    assert (explain(june), june.json(*TODAY, "ranking", "--computed", "--period", "2021-06")) == before
    assert june.ok("audit", "boards").exit_code == 0


def test_a_correction_and_a_late_rectification_change_the_period(june: Renovation) -> None:
    june.ok("meter", "correct", "JM", "M1", "--quantity", "100", "--reason", "复核")
    june.ok("finding", "rectify", "JM", "F2", "--at", "2021-06-19T09:00")
    june.ok("finding", "close", "JM", "F2", "--at", "2021-06-20T09:00")
    by_term = terms(explain(june))

    assert by_term["safety", "overdue_days"] == ("10.00", ["F2"])  # 06-10..06-19
    assert "− 1.23);" in next(term["formula"] for part in explain(june)["components"]
                                  for term in part["terms"] if term["term"] == "behind_plan")


def contractor(run: Renovation, tmp_path: Path, *args: str) -> Result:
    config = tmp_path / "roles.toml"
    config.write_text(ROLES, encoding="utf-8")
    return run.runner.invoke(cli, ["--db", str(run.db), "--user", "李经理", "--config", str(config), *TODAY, *args],
                             env=ENV)


def test_a_contractor_sees_the_computed_scores_of_its_own_compounds_only(june: Renovation, tmp_path: Path) -> None:
    import json

    board = contractor(june, tmp_path, "ranking", "--computed", "--by", "compound", "--period", "2021-06", "--json")
    assert board.exit_code == 0, board.output
    assert [(row["code"], row["rank"]) for row in json.loads(board.stdout)] == [("JM", 1)]
    recorded = json.loads(contractor(june, tmp_path, "ranking", "--by", "compound", "--period", "2021-06",
                                     "--json").stdout)
    # the recorded board is public; the computed total beside another's compound is not shown
    assert {row["code"]: row["computed_total"] for row in recorded} == {"JM": "68.94", "LY": None}
    own = contractor(june, tmp_path, "ranking", "explain", "JM", "--period", "2021-06", "--json")
    assert own.exit_code == 0, own.output
    other = contractor(june, tmp_path, "ranking", "explain", "LY", "--period", "2021-06")
    assert other.exit_code == 1 and "no compound with code LY" in other.output


@pytest.mark.parametrize("args", [
    ("ranking", "explain", "JM"),
    ("ranking", "explain", "JM", "--period", "2021-13"),
    ("ranking", "explain", "JM", "--period", "06-2021"),
    ("ranking", "explain", "", "--period", "2021-06"),
    ("ranking", "explain", "J M", "--period", "2021-06"),
    ("ranking", "explain", "JM", "--period", "2021-06", "--as-of", "yesterday"),
    ("ranking", "--computed", "--period", "2021-6"),
    ("ranking", "--computed", "--by", "district"),
    ("ranking", "explain", "JM", "--period", "2021-06", "--json", "--csv"),
])
def test_bad_input_is_refused_in_one_line(june: Renovation, args: tuple[str, ...]) -> None:
    result = june(*TODAY, *args)

    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


def test_an_unknown_compound_is_a_refusal(june: Renovation) -> None:
    result = june(*TODAY, "ranking", "explain", "NOPE", "--period", "2021-06")

    assert result.exit_code == 1 and result.output.strip() == "Error: no compound with code NOPE"


def test_explain_tables_csv_and_words(june: Renovation) -> None:
    en = june.ok(*TODAY, "ranking", "explain", "JM", "--period", "2021-06").stdout
    zh = june.ok(*TODAY, "ranking", "explain", "JM", "--period", "2021-06", lang="zh").stdout
    csv_text = june.ok(*TODAY, "ranking", "explain", "JM", "--period", "2021-06", "--csv").stdout

    assert "computed total 68.94; recorded 80.00, difference 11.06 ⚠" in en
    assert "计算总分 68.94；记录总分 80.00，差 11.06" in zh and "依据事件" in zh
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert list(rows[0]) == ["code", "period", "total", "recorded_total", "difference", "component", "weight",
                             "score", "term", "formula", "points", "ids"]
    assert {(row["code"], row["total"], row["recorded_total"]) for row in rows} == {("JM", "68.94", "80.00")}
    assert sum(Decimal(row["points"]) for row in rows if row["component"] == "quality") == 40
    assert rows[0]["ids"] == "F1 I1 I2"


def test_every_compound_s_explained_total_is_its_total_on_the_boards(run: Renovation) -> None:
    """The boards count a period's findings and results in the database; explain counts them one by one:
    on a simulated programme (findings rectified, closed, reopened and overdue; samples failed and
    resampled; tickets late), every compound's explained total is its total on both boards."""
    run.ok("demo", "--compounds", "8", "--until", "2021-06-30")
    today = ("--today", "2021-06-30")
    for period in ("2021-04", "2021-05"):  # the last months the bureau scored
        computed = {row["code"]: row["total"]
                    for row in run.json(*today, "ranking", "--computed", "--by", "compound", "--period", period)}
        beside = {row["code"]: row["computed_total"]
                  for row in run.json(*today, "ranking", "--by", "compound", "--period", period)}
        assert computed and beside, period
        for code in computed.keys() | beside.keys():
            explained = run.json(*today, "ranking", "explain", code, "--period", period)["total"]
            assert computed.get(code, explained) == explained == beside.get(code, explained), (period, code)


def test_the_board_counts_findings_and_results_as_explain_counts_them(run: Renovation) -> None:
    """The same, at the edges: for every period and for days that are the findings' due dates (a finding
    due today is not late yet; due yesterday, it is), the counts the boards get from the database are
    the counts worked out from the findings and results one by one, and so are the days the scores hold."""
    from datetime import date, timedelta

    from sqlalchemy import select

    from renovation.domain.horserace import Formula, steady_through
    from renovation.projections.computed import facts, findings
    from renovation.services.workspace import Workspace

    formula = Formula()
    run.ok("demo", "--compounds", "6", "--until", "2021-05-31")
    workspace = Workspace(str(run.db))
    try:
        with workspace.read_models("computed").engine.connect() as connection:
            dues = sorted(set(connection.execute(select(findings.c.due)).scalars()))
            days = sorted({*dues[::7], *(due + timedelta(days=1) for due in dues[::11]), date(2021, 5, 31)})
            checked = 0
            for period in ("2021-03", "2021-04", "2021-05"):
                for today in days:
                    board = {fact.code: fact for _who, fact in facts(connection, period, today)}
                    for code, fact in board.items():
                        ((_who, one),) = facts(connection, period, today, code)
                        for category in ("quality", "safety", "civilized"):
                            counted, listed = fact.tally(category), one.tally(category)
                            assert (counted.minor, counted.major, counted.critical, counted.late,
                                    counted.decided) == (listed.minor, listed.major, listed.critical, listed.late,
                                                         listed.decided), (period, today, code, category)
                        assert fact.results().resulted == one.results().resulted
                        assert steady_through(fact, formula) == steady_through(one, formula), (period, today, code)
                        assert (fact.results().failed, fact.results().rejected) == (
                            one.results().failed, one.results().rejected), (period, today, code)
                        checked += 1
            assert checked > 100
    finally:
        workspace.close()


@pytest.mark.parametrize("most", [10_000, 1])
def test_the_facts_of_some_compounds_are_those_of_the_board(run: Renovation, most: int,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The facts of a few compounds (fewer than three quarters of them, and at most ``BY_CODES_MOST``: read by
    their codes) and of most (read with the whole period's) are each compound's facts on the whole board, for
    every period and some days."""
    from datetime import date

    from renovation.projections.computed import facts

    monkeypatch.setattr("renovation.projections.computed.BY_CODES_MOST", most)
    from renovation.services.workspace import Workspace

    run.ok("demo", "--compounds", "6", "--until", "2021-05-31")
    workspace = Workspace(str(run.db))
    try:
        with workspace.read_models("computed").engine.connect() as connection:
            for period in ("2021-03", "2021-04", "2021-05"):
                for today in (date(2021, 4, 10), date(2021, 5, 31), date(2021, 6, 9)):
                    board = {who["code"]: (who, fact) for who, fact in facts(connection, period, today)}
                    codes = sorted(board)
                    assert len(codes) == 6
                    for chosen in ({codes[1], codes[4]}, {codes[2], "NOSUCH"}, set(codes[1:])):
                        assert facts(connection, period, today, codes=chosen) == [
                            board[code] for code in sorted(chosen) if code in board], (period, today, chosen)
    finally:
        workspace.close()


@pytest.mark.parametrize("forged", ["x'4142'", "'A' || char(0) || 'B'"], ids=["bytes", "nul"])
def test_a_code_forged_into_the_facts_stops_the_board_in_one_line(tmp_path: Path, forged: str,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """A compound's code written by hand into the computed read model's tables as bytes, or with a NUL (SQLite:
    PostgreSQL's text holds neither): no query can name it, nor a board sort it among the others. The boards
    that read it say so in one line (a rebuild mends it), not a traceback; and the facts of compounds among
    which it is are read with the whole period's, not by their codes."""
    import sqlite3
    from datetime import date

    from renovation.projections.computed import facts
    from renovation.services.workspace import Workspace

    run = Renovation(tmp_path / "r.db")
    run.ok("demo", "--compounds", "6", "--until", "2021-05-31")
    today = ("--today", "2021-05-31")
    run.ok(*today, "ranking", "--computed")  # every compound's scores kept
    connection = sqlite3.connect(run.db)
    with connection:
        codes = [code for (code,) in connection.execute("SELECT code FROM computed_compounds ORDER BY code")]
        tables = [name for (name,) in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'computed%'")]
        for table in tables:
            if "code" in [column[1] for column in connection.execute(f"PRAGMA table_info({table})")]:
                connection.execute(f"UPDATE {table} SET code = {forged} WHERE code = ?", (codes[0],))
        connection.execute(f"DELETE FROM computed_totals WHERE code = {forged} OR code IN (?, ?)", codes[1:3])
        (stored,), = connection.execute(f"SELECT {forged}").fetchall()
    connection.close()

    for board in (("ranking", "--computed"), ("ranking",)):
        result = run(*today, *board)
        assert result.exit_code == 1 and "Traceback" not in result.output, result.output
        assert result.output.startswith("Error: the computed read model holds ") and (
            "where a compound's code belongs" in result.output), result.output
        assert len(result.output.strip().splitlines()) == 1, result.output

    workspace = Workspace(str(run.db))
    try:
        with workspace.read_models("computed").engine.connect() as reading:
            chosen = {stored, codes[1], codes[2]}
            found = facts(reading, "2021-05", date(2021, 5, 31), codes=chosen)
            monkeypatch.setattr("renovation.projections.computed.BY_CODES_MOST", 0)  # the whole period's
            assert found == facts(reading, "2021-05", date(2021, 5, 31), codes=chosen)
            assert len(found) == 3
    finally:
        workspace.close()


def kept_sql(run: Renovation, statement: str) -> list[tuple[Any, ...]]:
    """Run SQL on the store's read models (either backend), as whoever holds the database could."""
    from sqlalchemy import text

    from renovation.services.workspace import Workspace

    ws = Workspace(str(run.db), config_path="/dev/null")
    try:
        with ws.read_models("computed").engine.begin() as connection:
            found = connection.execute(text(statement))
            return [tuple(row) for row in found] if found.returns_rows else []
    finally:
        ws.close()


def computed_totals(run: Renovation, *args: str) -> dict[str, str]:
    return {row["code"]: row["total"] for row in run.json(*args, "ranking", "--computed", "--by", "compound",
                                                          "--period", "2021-06")}


def test_computed_scores_are_kept_and_worked_out_again_when_a_fact_the_day_or_the_formula_changes(
        june: Renovation, tmp_path: Path) -> None:
    first = computed_totals(june, *TODAY)
    stamps = dict(kept_sql(june, "SELECT code, stamp FROM computed_totals WHERE period = '2021-06'"))
    assert set(stamps) == {"JM", "LY"} and all(" 2021-07-10..9999-12-31 " in stamp for stamp in stamps.values())
    assert computed_totals(june, *TODAY) == first
    assert dict(kept_sql(june, "SELECT code, stamp FROM computed_totals WHERE period = '2021-06'")) == stamps

    june.ok("finding", "rectify", "JM", "F2", "--at", "2021-06-19T09:00")  # facts of JM's June: JM again
    june.ok("finding", "close", "JM", "F2", "--at", "2021-06-20T09:00")
    after = computed_totals(june, *TODAY)
    assert after["JM"] != first["JM"] and after["LY"] == first["LY"]
    assert after["JM"] == explain(june)["total"]
    changed = dict(kept_sql(june, "SELECT code, stamp FROM computed_totals WHERE period = '2021-06'"))
    assert changed["JM"] != stamps["JM"] and changed["LY"] == stamps["LY"]

    later = computed_totals(june, "--today", "2021-07-11")  # another day: June's scores hold (June is over)
    assert later == after
    assert dict(kept_sql(june, "SELECT code, stamp FROM computed_totals WHERE period = '2021-06'")) == changed
    july = ("ranking", "--computed", "--by", "compound", "--period", "2021-07")  # July counts to the day
    june.json(*TODAY, *july)
    assert all(" 2021-07-10..2021-07-10 " in stamp for _code, stamp in kept_sql(
        june, "SELECT code, stamp FROM computed_totals WHERE period = '2021-07'"))
    june.json("--today", "2021-07-11", *july)  # another day: every compound again
    assert all(" 2021-07-11..2021-07-11 " in stamp for _code, stamp in kept_sql(
        june, "SELECT code, stamp FROM computed_totals WHERE period = '2021-07'"))

    config = tmp_path / "horse.toml"  # other constants: not the scores kept under the old ones
    config.write_text("[horse_race.safety]\noverdue_day = 0.5\n", encoding="utf-8")
    other = {row["code"]: row["total"] for row in june.json("--config", str(config), *TODAY, "ranking", "--computed",
                                                            "--by", "compound", "--period", "2021-06")}
    assert other["JM"] != after["JM"]
    assert other["JM"] == june.json("--config", str(config), *TODAY, "ranking", "explain", "JM", "--period",
                                    "2021-06")["total"]


def june_stamps(run: Renovation) -> dict[str, str]:
    return dict(kept_sql(run, "SELECT code, stamp FROM computed_totals WHERE period = '2021-06'"))


@pytest.fixture
def pending(june: Renovation) -> Renovation:
    """``june`` with, of JM's June, a civilized finding raised on 06-28 due 07-05 and never rectified; a
    ticket received on 06-22 and resolved on 06-25, and one received on 06-29 and never resolved (its 7
    days are up on 07-06)."""
    june.ok("inspect", "JM", "--kind", "morning", "--at", "2021-06-28T06:40", "--due", "2021-07-05",
            "--finding", "civilized:major:材料乱堆")
    june.ok("feedback", "JM", "--channel", "hotline", "--text", "路面积水", "--at", "2021-06-22T09:00")
    june.ok("feedback", "resolve", "JM", "T2", "--note", "已疏通", "--at", "2021-06-25T10:00")
    june.ok("feedback", "JM", "--channel", "hotline", "--text", "夜间施工", "--at", "2021-06-29T21:00")
    return june


def test_kept_scores_hold_until_the_first_day_that_changes_them(pending: Renovation) -> None:
    """After its last day a period's scores change only on the day after a finding's due date (not
    rectified: late) or a ticket's window (not resolved): kept until then, and worked out again from it."""
    def board(day: str) -> dict[str, str]:
        return computed_totals(pending, "--today", day)

    def explained(day: str) -> str:
        return str(pending.json("--today", day, "ranking", "explain", "JM", "--period", "2021-06")["total"])

    first = board("2021-06-30")  # June's last day: nothing counts to the day any more
    stamps = june_stamps(pending)
    assert stamps["JM"].split(" ")[1] == "2021-06-30..2021-07-05"  # F3 due 07-05, T3's window ends 07-06
    assert stamps["LY"].split(" ")[1] == "2021-06-30..9999-12-31"
    assert board("2021-07-05") == first and june_stamps(pending) == stamps  # taken as kept
    assert first["JM"] == explained("2021-07-05")

    due_passed = board("2021-07-06")  # F3 late: worked out again
    assert due_passed["JM"] != first["JM"] and due_passed["JM"] == explained("2021-07-06")
    assert due_passed["LY"] == first["LY"]
    assert june_stamps(pending)["JM"].split(" ")[1] == "2021-07-06..2021-07-06"
    assert june_stamps(pending)["LY"] == stamps["LY"]

    window_passed = board("2021-07-07")  # T3 late too
    assert window_passed["JM"] != due_passed["JM"] and window_passed["JM"] == explained("2021-07-07")
    assert june_stamps(pending)["JM"].split(" ")[1] == "2021-07-07..9999-12-31"
    assert board("2021-06-30") == first  # an earlier day than any kept: worked out for it
    assert june_stamps(pending)["JM"].split(" ")[1] == "2021-06-30..2021-07-05"


def test_kept_scores_stamped_to_hold_for_longer_than_they_do_are_named_by_audit_boards(
        pending: Renovation) -> None:
    import json

    honest = computed_totals(pending, "--today", "2021-06-30")
    stamp = june_stamps(pending)["JM"]
    longer = stamp.replace("..2021-07-05 ", "..2021-07-31 ")
    kept_sql(pending, f"UPDATE computed_totals SET stamp = '{longer}' WHERE code = 'JM' AND period = '2021-06'")

    assert computed_totals(pending, "--today", "2021-07-20")["JM"] == honest["JM"]  # the board takes it
    result = pending("audit", "boards", "--json")
    assert result.exit_code == 1
    assert [(row["table"], row["key"], row["column"], row["stored"], row["rebuilt"])
            for row in json.loads(result.stdout)] == [("computed_totals", "JM/2021-06", "stamp", longer, stamp)]
    shorter = stamp.replace("..2021-07-05 ", "..2021-07-01 ")  # kept for fewer days than they hold: harmless
    kept_sql(pending, f"UPDATE computed_totals SET stamp = '{shorter}' WHERE code = 'JM' AND period = '2021-06'")
    assert pending.ok("audit", "boards").exit_code == 0


def test_a_forged_kept_score_is_named_by_audit_boards_and_mended_by_a_rebuild(june: Renovation) -> None:
    honest = computed_totals(june, *TODAY)
    assert june.ok("audit", "boards").exit_code == 0
    kept_sql(june, "UPDATE computed_totals SET quality = '100.00' WHERE code = 'JM' AND period = '2021-06'")

    assert computed_totals(june, *TODAY)["JM"] != honest["JM"]  # the board takes the kept score as it is
    result = june("audit", "boards", "--json")
    assert result.exit_code == 1
    import json

    found = [(row["table"], row["key"], row["kind"], row["column"], row["stored"])
             for row in json.loads(result.stdout)]
    assert found == [("computed_totals", "JM/2021-06", "changed", "quality", "100.00")]
    june.ok("projections", "rebuild", "computed")
    assert computed_totals(june, *TODAY) == honest
    assert june.ok("audit", "boards").exit_code == 0


@pytest.mark.parametrize("value", ["abc", "sNaN", "NaN", "Infinity", "1e999999999", "-5", "-0.00", "100.01",
                                   "80.080", " 80.08", "80.00 1.00", "", "123456789012345678901234567890.123456789"])
def test_a_kept_score_a_board_could_not_have_kept_is_named_by_audit_boards_and_worked_out_again(
        june: Renovation, value: str) -> None:
    import json

    honest = computed_totals(june, *TODAY)
    june.json(*TODAY, "ranking", "--by", "compound", "--period", "2021-06")  # the recorded board caught up
    kept_sql(june, f"UPDATE computed_totals SET quality = '{value}' WHERE code = 'JM' AND period = '2021-06'")
    kept_sql(june, "UPDATE ranking_scores SET quality = '100' WHERE code = 'LY' AND period = '2021-06'")

    result = june("audit", "boards", "--json")
    assert result.exit_code == 1, result.output
    found = {(row["table"], row["key"], row["column"], row["stored"]) for row in json.loads(result.stdout)}
    assert found == {("ranking_scores", "LY/2021-06", "quality", "100"),
                     ("computed_totals", "JM/2021-06", "quality", value)}
    assert computed_totals(june, *TODAY) == honest  # not taken as it is: worked out again, and kept anew
    assert kept_sql(june, "SELECT quality FROM computed_totals WHERE code = 'JM' AND period = '2021-06'") != [
        (value,)]


def test_a_kept_score_stamped_with_a_forged_version_is_named_with_the_version(june: Renovation) -> None:
    import json

    computed_totals(june, *TODAY)
    (stamp,) = kept_sql(june, "SELECT stamp FROM computed_totals WHERE code = 'JM' AND period = '2021-06'")[0]
    kept_sql(june, "UPDATE computed_versions SET version = 9999 WHERE code = 'JM'")
    forged = "9999 " + stamp.partition(" ")[2]
    kept_sql(june, f"UPDATE computed_totals SET quality = '99.99', stamp = '{forged}' "
                   "WHERE code = 'JM' AND period = '2021-06'")

    assert computed_totals(june, *TODAY)["JM"] != explain(june)["total"]  # the board takes it
    found = {(row["table"], row["key"], row["column"], row["stored"])
             for row in json.loads(june("audit", "boards", "--json").stdout)}
    assert ("computed_totals", "JM/2021-06", "stamp", forged) in found  # a version the log has not reached
    assert ("computed_versions", "JM", "version", "9999") in found


def test_a_kept_score_stamped_with_a_version_the_log_has_not_reached_is_named(june: Renovation) -> None:
    """Keeping never writes one; a board would take it after the compound's next event."""
    import json

    computed_totals(june, *TODAY)
    ((version,),) = kept_sql(june, "SELECT version FROM computed_versions WHERE code = 'JM'")
    (stamp,) = kept_sql(june, "SELECT stamp FROM computed_totals WHERE code = 'JM' AND period = '2021-06'")[0]
    ahead = f"{int(version) + 1} " + stamp.partition(" ")[2]
    kept_sql(june, f"UPDATE computed_totals SET quality = '99.99', stamp = '{ahead}' "
                   "WHERE code = 'JM' AND period = '2021-06'")

    result = june("audit", "boards", "--json")
    assert result.exit_code == 1
    assert [(row["table"], row["key"], row["column"], row["stored"]) for row in json.loads(result.stdout)] == [
        ("computed_totals", "JM/2021-06", "stamp", ahead)]


def test_a_kept_score_stamped_with_a_version_of_thousands_of_digits_is_named(june: Renovation) -> None:
    import json

    computed_totals(june, *TODAY)
    (stamp,) = kept_sql(june, "SELECT stamp FROM computed_totals WHERE code = 'JM' AND period = '2021-06'")[0]
    digits = 30 if str(june.db).startswith("postgresql") else 5000  # PostgreSQL's column holds 80 characters
    huge = "9" * digits + " " + stamp.partition(" ")[2]
    kept_sql(june, f"UPDATE computed_totals SET stamp = '{huge}' WHERE code = 'JM' AND period = '2021-06'")

    result = june("audit", "boards", "--json")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert [(row["table"], row["key"], row["column"], row["stored"]) for row in json.loads(result.stdout)] == [
        ("computed_totals", "JM/2021-06", "stamp", huge)]


def test_audit_boards_says_how_many_kept_scores_it_could_not_check(june: Renovation, tmp_path: Path) -> None:
    config = tmp_path / "horse.toml"
    config.write_text("[horse_race.safety]\noverdue_day = 0.5\n", encoding="utf-8")
    # 2021-05 and the period before it (the movement), of JM and LY: four scores kept under those constants
    june.json("--config", str(config), *TODAY, "ranking", "--computed", "--by", "compound", "--period", "2021-05")

    result = june("audit", "boards")
    assert result.exit_code == 0, result.output
    assert ("note: 4 computed score(s) kept under other [horse_race] constants than this renovation.toml's were "
            "not checked") in result.stderr
    assert june("--config", str(config), "audit", "boards").stderr == ""

"""The computed horse race tried as an attacker with a login would: periods that have not begun, ``--as-of``,
findings closed, reopened and rectified again, a contractor's view (its default period, the report's
chart), caps with four decimals, explain in Chinese, and a rebuild after every kind of fact."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cli_support import ENV, Renovation
from click.testing import Result
from test_cli_horse_race import ROLES, SCORES, TODAY, june, terms

from renovation.cli import cli

__all__ = ["june"]  # the fixture, shared with test_cli_horse_race


def contractor(run: Renovation, tmp_path: Path, *args: str) -> Result:
    config = tmp_path / "roles.toml"
    config.write_text(ROLES, encoding="utf-8")
    return run.runner.invoke(cli, ["--db", str(run.db), "--user", "李经理", "--config", str(config), *TODAY, *args],
                             env=ENV)


@pytest.mark.parametrize("args", [
    ("ranking", "explain", "JM", "--period", "9999-12"),
    ("ranking", "--computed", "--period", "9999-12"),
    ("ranking", "--computed", "--by", "compound", "--period", "9999-12"),
])
def test_period_9999_12_is_answered_or_refused_without_a_traceback(june: Renovation, args: tuple[str, ...]) -> None:
    """A period that has not begun is refused in one line (9999-12 once made a date of the year 10000)."""
    result = june(*TODAY, *args)

    assert result.exit_code == 1, result.output
    assert result.output.strip() == "Error: period 9999-12 has not begun (current period 2021-07)"


def test_as_of_keeps_the_computed_total_beside_the_contractor_board(june: Renovation) -> None:
    """``ranking --as-of`` by contractor keeps the computed totals beside the recorded ones (its replay
    holds the recorded scores too): as of 2100, when every event was recorded, the live answer."""
    live = june.json(*TODAY, "ranking", "--period", "2021-06")
    as_of = june.json(*TODAY, "ranking", "--period", "2021-06", "--as-of", "2100-01-01")

    assert {row["contractor"]: row["computed_total"] for row in live} == {"辽源建工": "68.94", "吉林建工": "97.28"}
    by_compound = june.json(*TODAY, "ranking", "--period", "2021-06", "--by", "compound", "--as-of", "2100-01-01")
    assert {row["contractor"]: row["computed_total"] for row in by_compound} == {"辽源建工": "68.94",
                                                                               "吉林建工": "97.28"}
    assert {row["contractor"]: row["computed_total"] for row in as_of} == {"辽源建工": "68.94", "吉林建工": "97.28"}


def test_a_safety_finding_closed_in_time_then_reopened_was_not_overdue_while_closed(run: Renovation,
                                                                                   started: str) -> None:
    """F1 (safety, due 06-09) is rectified 06-04 and closed 06-05: in June it was never overdue. It is
    reopened on 07-20 and closed again on 07-25: overdue on the days it was not closed at their end,
    07-20..07-24, never on the days it stood closed."""
    run.ok("inspect", "JM", "--kind", "patrol", "--at", "2021-06-02T09:00", "--due", "2021-06-09",
           "--finding", "safety:major:临边无防护")
    run.ok("finding", "rectify", "JM", "F1", "--at", "2021-06-04T10:00")
    run.ok("finding", "close", "JM", "F1", "--at", "2021-06-05T10:00")
    june_before = terms(run.json("--today", "2021-07-10", "ranking", "explain", "JM", "--period", "2021-06"))
    assert june_before["safety", "overdue_days"] == ("0.00", [])

    run.ok("finding", "reopen", "JM", "F1", "--note", "复查不合格", "--at", "2021-07-20T10:00")
    run.ok("finding", "rectify", "JM", "F1", "--at", "2021-07-22T10:00")
    run.ok("finding", "close", "JM", "F1", "--at", "2021-07-25T10:00")
    june_after = terms(run.json("--today", "2021-07-31", "ranking", "explain", "JM", "--period", "2021-06"))
    july = terms(run.json("--today", "2021-07-31", "ranking", "explain", "JM", "--period", "2021-07"))

    assert june_after["safety", "overdue_days"] == ("0.00", [])
    assert july["safety", "overdue_days"] == ("5.00", ["F1"])


def test_a_contractor_report_draws_no_zero_computed_bar_for_other_contractors(june: Renovation,
                                                                             tmp_path: Path) -> None:
    """A contractor's report charts computed totals only where the contractor may see them: no bar of 0
    beside another contractor's recorded total."""
    import re

    out = tmp_path / "c.html"
    result = contractor(june, tmp_path, "report", "--html", str(out), "--period", "2021-06")
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    start = page.index("chart-horse")
    chart = page[start:page.index("</figure>", start)]
    labels = [t.strip() for t in re.findall(r"<text[^>]*>([^<]*)</text>", chart)]
    assert "68.9" in labels  # its own computed total
    assert "0.0" not in labels, labels


def test_a_contractor_whose_compounds_finished_sees_its_own_latest_computed_board(run: Renovation, started: str,
                                                                                 tmp_path: Path) -> None:
    """A contractor's default computed period is the latest its own compounds were under construction in
    (not another contractor's, which would tell it of their work), the same on both backends."""
    run.ok("compound", "register", "LY", "--name", "利源小区", "--district", "龙山区", "--contractor", "吉林建工",
           "--households", "100", "--contract-value", "500000", "--planned-start", "2021-06-01",
           "--planned-finish", "2021-12-31", "--registered-on", "2021-01-04")
    run.ok("construction", "start", "LY", "--date", "2021-06-01")
    run.ok("construction", "complete", "JM", "--date", "2021-05-20")
    result = contractor(run, tmp_path, "ranking", "--computed", "--by", "compound", "--json")
    assert result.exit_code == 0, result.output

    assert [(row["period"], row["code"]) for row in json.loads(result.stdout)] == [("2021-05", "JM")]


def test_a_rectification_rejected_by_reopening_and_redone_after_the_due_date_is_late(run: Renovation,
                                                                                   started: str) -> None:
    """A reopen sends the work back: F1 (quality, due 06-09) rectified 06-08, reopened 06-12, rectified
    again 06-20 was rectified late."""
    run.ok("inspect", "JM", "--kind", "morning", "--at", "2021-06-02T06:40", "--due", "2021-06-09",
           "--finding", "quality:major:墙面空鼓")
    run.ok("finding", "rectify", "JM", "F1", "--at", "2021-06-08T15:00")
    run.ok("finding", "reopen", "JM", "F1", "--note", "复查不合格", "--at", "2021-06-12T10:00")
    run.ok("finding", "rectify", "JM", "F1", "--at", "2021-06-20T10:00")
    found = terms(run.json("--today", "2021-07-10", "ranking", "explain", "JM", "--period", "2021-06"))

    assert found["quality", "late_rectification"] == ("20.00", ["F1"])


def test_explain_points_add_up_to_the_score_with_a_cap_of_four_decimals(june: Renovation, tmp_path: Path) -> None:
    """A cap with four decimal places: the points are rounded to 0.01 like every deduction, and add up to
    the score."""
    config = tmp_path / "cap.toml"
    config.write_text("[horse_race.quality]\nfindings_cap = 12.3456\n", encoding="utf-8")
    found = june.json("--config", str(config), *TODAY, "ranking", "explain", "JM", "--period", "2021-06")
    quality = next(part for part in found["components"] if part["component"] == "quality")

    assert all(len(term["points"].split(".")[-1]) == 2 and "." in term["points"] for term in quality["terms"]), [
        term["points"] for term in quality["terms"]]
    assert Decimal(100) - sum(Decimal(term["points"]) for term in quality["terms"]) == Decimal(quality["score"])


def test_explain_in_chinese_names_the_components_in_chinese(june: Renovation) -> None:
    """``--lang zh ranking explain`` names the components and deductions in Chinese."""
    out = june.ok(*TODAY, "ranking", "explain", "JM", "--period", "2021-06", lang="zh").stdout

    assert "质量" in out and "quality" not in out, out.splitlines()[:4]


def test_a_capped_deduction_says_its_cap(june: Renovation) -> None:
    """A deduction held by its cap says so in its formula ("; at most 40"), so its arithmetic (45) and its
    points (40) reconcile."""
    found = june.json(*TODAY, "ranking", "explain", "JM", "--period", "2021-06")
    rows = {(part["component"], term["term"]): term for part in found["components"] for term in part["terms"]}

    for key, cap in ((("quality", "findings"), "40"), (("progress", "behind_plan"), "50")):
        term = rows[key]
        assert Decimal(term["points"]) == Decimal(cap)
        assert f"; at most {cap}" in term["formula"], term["formula"]


def test_explain_of_a_period_after_today_says_so(june: Renovation) -> None:
    """A period after today's is refused, not explained from today's state."""
    result = june(*TODAY, "ranking", "explain", "JM", "--period", "2099-01")

    assert result.exit_code != 0 or "computed total" not in result.output, result.output.splitlines()[:2]


def boards_of(run: Renovation) -> Any:
    return ([run.json("--today", "2021-07-31", "ranking", "explain", "JM", "--period", p)
             for p in ("2021-06", "2021-07")],
            [run.json("--today", "2021-07-31", "ranking", "--computed", "--by", "compound", "--period", p)
             for p in ("2021-06", "2021-07")],
            run.json("--today", "2021-07-31", "ranking", "--period", "2021-06", "--by", "compound"))


def test_rebuild_gives_the_incremental_answers_after_corrections_reopens_and_resamples(run: Renovation,
                                                                                      started: str) -> None:
    """Every fact kind, each caught up one command at a time,
    then ``projections rebuild computed``: the same explanations and boards."""
    run.ok("inspect", "JM", "--kind", "morning", "--at", "2021-06-02T06:40", "--due", "2021-06-09",
           "--finding", "quality:major:墙面空鼓", "--finding", "safety:minor:脚手架",
           "--finding", "civilized:minor:扬尘")
    boards_of(run)
    run.ok("finding", "rectify", "JM", "F1", "--at", "2021-06-08T15:00")
    run.ok("finding", "close", "JM", "F1", "--at", "2021-06-09T15:00")
    run.ok("finding", "reopen", "JM", "F1", "--note", "复查不合格", "--at", "2021-06-12T10:00")
    run.ok("finding", "rectify", "JM", "F1", "--at", "2021-06-20T10:00")
    run.ok("finding", "rectify", "JM", "F2", "--at", "2021-07-02T10:00")
    run.ok("finding", "close", "JM", "F2", "--at", "2021-07-03T10:00")
    run.ok("meter", "JM", "--item", "A1", "--period", "2021-06", "--quantity", "50")
    boards_of(run)
    run.ok("meter", "correct", "JM", "M1", "--quantity", "60", "--reason", "复核")
    run.ok("meter", "JM", "--item", "B2", "--period", "2021-07", "--quantity", "10")
    run.ok("meter", "correct", "JM", "M2", "--quantity", "5", "--reason", "复核")
    run.ok("material", "sample", "JM", "--material", "水泥", "--batch", "P1", "--regime", "routine",
           "--at", "2021-06-03T10:00")
    run.ok("material", "result", "JM", "S1", "--fail", "--lab", "站", "--at", "2021-06-10T10:00")
    run.ok("material", "sample", "JM", "--material", "水泥", "--batch", "P1", "--regime", "routine",
           "--at", "2021-06-11T10:00")
    boards_of(run)
    run.ok("material", "result", "JM", "S2", "--fail", "--lab", "站", "--at", "2021-07-02T10:00")
    run.ok("feedback", "JM", "--channel", "hotline", "--text", "噪音", "--at", "2021-06-05T08:00")
    run.ok("feedback", "resolve", "JM", "T1", "--note", "已处理", "--at", "2021-07-20T10:00")
    run.ok("score", "JM", "--period", "2021-06", *SCORES)
    before = boards_of(run)
    run.ok("projections", "rebuild", "computed")

    assert boards_of(run) == before


def test_a_finding_closed_long_after_its_due_date(run: Renovation, started: str) -> None:
    """F1 safety and F2 quality, due 06-09, rectified and closed 08-15."""
    run.ok("inspect", "JM", "--kind", "patrol", "--at", "2021-06-02T09:00", "--due", "2021-06-09",
           "--finding", "safety:major:临边", "--finding", "quality:minor:空鼓")
    for finding in ("F1", "F2"):
        run.ok("finding", "rectify", "JM", finding, "--at", "2021-08-14T10:00")
        run.ok("finding", "close", "JM", finding, "--at", "2021-08-15T10:00")

    def term(period: str, component: str, name: str) -> tuple[str, list[str]]:
        found = run.json("--today", "2021-08-31", "ranking", "explain", "JM", "--period", period)
        return next((t["points"], t["ids"]) for c in found["components"] if c["component"] == component
                    for t in c["terms"] if t["term"] == name)

    assert term("2021-06", "safety", "overdue_days") == ("21.00", ["F1"])
    assert term("2021-07", "safety", "overdue_days") == ("30.00", ["F1"])  # 31 days, capped at 30
    assert term("2021-08", "safety", "overdue_days") == ("14.00", ["F1"])
    assert term("2021-06", "quality", "late_rectification") == ("20.00", ["F2"])

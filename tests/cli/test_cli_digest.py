"""`renovation digest` (issue 13, item 6): what needs attention on a day, one section each, on both
backends; scoped by who asks; thresholds from renovation.toml; an earlier day as recorded by its end."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cli_support import BLIND_SAMPLE_ID, BOQ_CSV, ENV, REGISTER_JM, Renovation

from renovation.cli import cli

TODAY = ("--today", "2021-03-20")
ROLES = """
[users]
"周科长" = { role = "bureau" }
"李经理" = { role = "contractor", contractor = "辽源建工" }
"""
SCORES = [part for name in ("quality", "safety", "progress", "civilized", "satisfaction")
          for part in (f"--{name}", "80")]


@pytest.fixture
def day_and_blind(run: Renovation, started: str, tmp_path: Path) -> tuple[Renovation, str]:
    """JM (辽源建工, started 03-01 as planned) and LY (示例建工, started 03-05, four days late), on 03-20;
    and the id of JM's blind sample, pending since 03-10."""
    boq = tmp_path / "ly-boq.csv"
    boq.write_text(BOQ_CSV, encoding="utf-8")
    run.ok("compound", "register", "LY", *REGISTER_JM[3:8], "示例建工", *REGISTER_JM[9:])
    run.ok("boq", "import", "LY", str(boq))
    run.ok("construction", "start", "LY", "--date", "2021-03-05")
    run.ok("inspect", "JM", "--kind", "patrol", "--at", "2021-03-02T09:00",
           "--finding", "safety:major:脚手架未挂安全网@3号楼")  # F1, due 03-05
    run.ok("inspect", "LY", "--kind", "patrol", "--at", "2021-03-18T09:00", "--finding", "quality:minor:墙面空鼓")
    run.ok("inspect", "JM", "--kind", "morning", "--at", "2021-03-20T06:40")
    run.ok("inspect", "LY", "--kind", "morning", "--at", "2021-03-20T08:10")
    sample_ids = [
        run.json("material", "sample", "JM", "--material", "水泥", "--batch", batch, "--regime", regime,
                 "--witness", "王工", "--at", at)["sample_id"]
        for batch, regime, at in (("B-1", "routine", "2021-03-10T10:00"), ("B-2", "blind", "2021-03-10T10:00"),
                                  ("B-3", "routine", "2021-03-18T10:00"), ("B-4", "routine", "2021-03-11T10:00"))
    ]
    # S1, the blind sample (named by its command: no count in its id), S2, S3
    (s1, blind, s2, s3) = sample_ids
    assert (s1, s2, s3) == ("S1", "S2", "S3") and BLIND_SAMPLE_ID.fullmatch(blind), sample_ids
    run.ok("material", "result", "JM", "S3", "--fail", "--lab", "检测站", "--report", "R-4", "--at", "2021-03-12T10:00")
    run.ok("feedback", "receive", "JM", "--channel", "hotline", "--text", "噪音太早", "--at", "2021-03-15T08:00")
    run.ok("feedback", "receive", "LY", "--channel", "visit", "--text", "停车难", "--at", "2021-03-19T08:00")
    return run, blind


@pytest.fixture
def day(day_and_blind: tuple[Renovation, str]) -> Renovation:
    return day_and_blind[0]


@pytest.fixture
def blind(day_and_blind: tuple[Renovation, str]) -> str:
    """The id of JM's blind sample, pending since 03-10."""
    return day_and_blind[1]


def sections(result: Any) -> dict[str, list[dict[str, Any]]]:
    return dict(result["sections"])


def keys(rows: list[dict[str, Any]], *names: str) -> list[tuple[Any, ...]]:
    return [tuple(row[name] for name in names) for row in rows]


def test_each_section_says_what_needs_attention(day: Renovation, blind: str) -> None:
    found = day.json(*TODAY, "digest")

    assert found["date"] == "2021-03-20" and found["period"] == "2021-02"
    assert found["thresholds"] == {"morning_round_by": "07:30", "sample_pending_days": 7, "ticket_open_days": 3}
    got = sections(found)
    assert keys(got["overdue_findings"], "contractor", "code", "finding_id", "due", "days_overdue") == [
        ("辽源建工", "JM", "F1", "2021-03-05", 15)]  # LY's F1 is due 03-25
    assert keys(got["no_morning_round"], "code", "first_morning_round") == [("LY", "08:10")]
    assert keys(got["pending_samples"], "code", "sample_id", "regime", "days_pending") == [
        ("JM", "S1", "routine", 10), ("JM", blind, "blind", 10)]  # S2 waits 2 days only
    assert keys(got["awaiting_resample"], "code", "batch", "sample_id", "report") == [("JM", "B-4", "S3", "R-4")]
    assert keys(got["open_tickets"], "code", "ticket_id", "days_open") == [("JM", "T1", 5)]  # LY's: 1 day
    assert keys(got["behind_plan"], "code", "days_behind") == [("LY", 4)]
    assert got["unscored"] == []  # nothing was under construction in February


def test_the_last_month_that_ended_is_scored_or_said(day: Renovation) -> None:
    day.ok("score", "JM", "--period", "2021-03", *SCORES)

    found = day.json("--today", "2021-04-02", "digest")

    assert found["period"] == "2021-03"
    assert keys(found["sections"]["unscored"], "code", "contractor", "period") == [("LY", "示例建工", "2021-03")]


def test_a_contractor_sees_its_own_compounds_and_no_pending_blind_sample(day: Renovation, blind: str,
                                                                        tmp_path: Path) -> None:
    config = tmp_path / "roles.toml"
    config.write_text(ROLES, encoding="utf-8")

    def digest_of(user: str) -> dict[str, list[dict[str, Any]]]:
        result = day.runner.invoke(cli, ["--db", str(day.db), "--user", user, "--config", str(config), *TODAY,
                                         "digest", "--json"], env=ENV)
        assert result.exit_code == 0, result.output
        return sections(json.loads(result.stdout))

    contractor, bureau = digest_of("李经理"), digest_of("周科长")

    assert {row["code"] for rows in bureau.values() for row in rows} == {"JM", "LY"}
    assert {row["code"] for rows in contractor.values() for row in rows} == {"JM"}
    assert keys(contractor["pending_samples"], "sample_id") == [("S1",)]  # the blind one is pending
    assert blind in {row["sample_id"] for row in bureau["pending_samples"]}


def test_thresholds_come_from_the_configuration(day: Renovation, blind: str, tmp_path: Path) -> None:
    config = tmp_path / "digest.toml"
    config.write_text('[digest]\nmorning_round_by = "08:30"\nsample_pending_days = 2\nticket_open_days = 1\n',
                      encoding="utf-8")

    result = day.runner.invoke(cli, ["--db", str(day.db), "--user", "tester", "--config", str(config), *TODAY,
                                     "digest", "--json"], env=ENV)

    got = sections(json.loads(result.stdout))
    assert got["no_morning_round"] == []  # LY's 08:10 is by 08:30
    assert [row["sample_id"] for row in got["pending_samples"]] == ["S1", "S2", blind]  # the S series, then the B
    assert [row["ticket_id"] for row in got["open_tickets"]] == ["T1", "T1"]  # JM's T1 and LY's T1


@pytest.mark.parametrize(("toml", "said"), [
    ('[digest]\nmorning_round_by = "7:30"\n', "digest.morning_round_by"),
    ("[digest]\nsample_pending_days = 0\n", "digest.sample_pending_days"),
    ("[digest]\nticket_open_days = \"3\"\n", "digest.ticket_open_days"),
])
def test_a_bad_threshold_is_a_one_line_error(day: Renovation, tmp_path: Path, toml: str, said: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(toml, encoding="utf-8")

    result = day.runner.invoke(cli, ["--db", str(day.db), "--user", "tester", "--config", str(config), *TODAY,
                                     "digest"], env=ENV)

    assert result.exit_code == 2 and said in result.output and len(Renovation.lines(result)) == 1


@pytest.mark.parametrize(("args", "said"), [
    (("--date", "2021-03-21"), "is after today"),
    (("--date", "2021-02-30"), "not a date"),
    (("--json", "--html", "x.html"), "cannot be combined"),
])
def test_bad_options_are_one_line_errors(day: Renovation, args: tuple[str, ...], said: str) -> None:
    result = day(*TODAY, "digest", *args)

    assert result.exit_code == 2 and said in result.output and len(day.lines(result)) == 1


def test_the_table_and_the_html_page(day: Renovation, tmp_path: Path) -> None:
    table = day.ok(*TODAY, "digest").output
    page = tmp_path / "digest.html"
    zh = day.ok(*TODAY, "digest", "--html", str(page), lang="zh")

    assert "Overdue findings, by contractor (1)" in table and "No morning round" not in table
    assert "Under construction, no morning round started by 07:30 (1)" in table
    assert "Samples without their result for 7 days or more (2)" in table
    assert str(page) in zh.output
    html = page.read_text(encoding="utf-8")
    assert "逾期未整改问题（按施工单位） (1)" in html and "2021-03-05" in html and "08:10" in html
    assert "<script" not in html and "http" not in html.replace("http-equiv", "")


def test_an_earlier_day_is_as_recorded_by_its_end(tmp_path: Path) -> None:
    """The demo records with its simulated clock: the digest of an earlier day agrees with the
    worklists as of that day's end, not with today's."""
    demo = Renovation(tmp_path / "demo.db")
    demo.ok("demo", "--compounds", "3", "--until", "2021-05-10")

    earlier = demo.json("--today", "2021-05-10", "digest", "--date", "2021-04-20")["sections"]
    overdue = demo.json("--today", "2021-05-10", "finding", "list", "--overdue", "--as-of", "2021-04-20")

    assert keys(earlier["overdue_findings"], "code", "finding_id") == sorted(
        keys(overdue, "code", "finding_id"), key=lambda pair: (
            next(row["contractor"] for row in overdue if row["code"] == pair[0]),
            -next(row["days_overdue"] for row in overdue if (row["code"], row["finding_id"]) == pair),
            pair[0], int(pair[1][1:])))
    assert earlier["overdue_findings"], "the demo has findings overdue on 2021-04-20"


def test_the_lists_and_the_digest_of_the_demo_agree_on_both_backends(tmp_path: Path) -> None:
    """The demo's programme on SQLite and on PostgreSQL: the worklists and the digest say the same."""
    from tests.backends import store_url

    answers = []
    for backend in ("sqlite", "postgres"):
        for url in store_url(backend, tmp_path):  # an SQLite file in tmp_path; a PostgreSQL schema, dropped after
            demo = Renovation(url)
            demo.ok("demo", "--compounds", "4", "--until", "2021-05-10")
            day = ("--today", "2021-05-10")
            answers.append((demo.json(*day, "finding", "list", "--open"), demo.json(*day, "material", "list"),
                            demo.json(*day, "digest")))

    # A blind sample is named by its command's id, random on each run: each is compared by what it is
    # (compound, material, batch, time taken), wherever its id appears (sample id, resample of, report).
    (sqlite_lists, postgres_lists) = (without_blind_ids(answer) for answer in answers)
    assert sqlite_lists == postgres_lists
    findings, samples, digest = sqlite_lists
    assert findings and samples and any(digest["sections"].values())


def without_blind_ids(answer: tuple[Any, Any, Any]) -> Any:
    """The answer with each blind sample's id replaced by what names it on any run; checks their shape."""
    samples = answer[1]
    blind = {row["sample_id"]: f"<blind {row['code']} {row['material']} {row['batch']} {row['sampled_at']}>"
             for row in samples if row["regime"] == "blind"}
    assert blind, "the demo takes blind samples"
    assert all(BLIND_SAMPLE_ID.fullmatch(sample_id) for sample_id in blind), sorted(blind)
    text = json.dumps(answer, ensure_ascii=False, sort_keys=True)
    text = re.sub(r"\bB[0-9A-F]{6,}\b", lambda found: blind.get(found[0], found[0]), text)
    return json.loads(text)

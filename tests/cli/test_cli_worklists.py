"""The daily worklists (issue 13): `finding list` and `finding show`, `material list`, each scoped by
who asks (a contractor sees its own compounds only, never a pending blind sample), and `--as-of` on
them and on `quality`, `ledger` and `feedback list`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from cli_support import BLIND_SAMPLE_ID, BOQ_CSV, ENV, REGISTER_JM, Renovation

from renovation.cli import cli

TODAY = ("--today", "2021-03-20")
CONFIG = """
[users]
"张工" = { role = "supervisor" }
"周科长" = { role = "bureau" }
"孙工" = { role = "auditor" }
"李经理" = { role = "contractor", contractor = "辽源建工" }
"赵经理" = { role = "contractor", contractor = "示例建工" }
"""


@pytest.fixture
def site_and_blind(run: Renovation, started: str, tmp_path: Path) -> tuple[Renovation, str]:
    """JM (辽源建工) with three findings and four samples, and LY (示例建工) with one of each; and the id
    of JM's blind sample, pending."""
    run.ok("inspect", "JM", "--kind", "patrol", "--at", "2021-03-02T09:00",
           "--finding", "safety:major:脚手架未挂安全网@3号楼", "--finding", "quality:minor:墙面空鼓")  # F1, F2
    run.ok("inspect", "JM", "--kind", "morning", "--at", "2021-03-05T06:40",
           "--finding", "civilized:minor:渣土未苫盖")  # F3
    run.ok("finding", "rectify", "JM", "F1", "--at", "2021-03-04T10:00", "--note", "已挂网")
    run.ok("finding", "close", "JM", "F1", "--at", "2021-03-05T10:00", "--note", "复查合格")
    run.ok("finding", "rectify", "JM", "F2", "--at", "2021-03-06T10:00", "--note", "已修补")
    sample_ids = [
        run.json("material", "sample", "JM", "--material", "水泥", "--batch", batch, "--regime", regime,
                 "--witness", "王工", "--at", "2021-03-03T10:00")["sample_id"]
        for batch, regime in (("B-1", "routine"), ("B-2", "routine"), ("B-3", "blind"), ("B-4", "cross"))
    ]
    # S1, S2, the blind sample (named by its command: no count in its id), S3
    (s1, s2, blind, s3) = sample_ids
    assert (s1, s2, s3) == ("S1", "S2", "S3") and BLIND_SAMPLE_ID.fullmatch(blind), sample_ids
    run.ok("material", "result", "JM", "S1", "--pass", "--lab", "检测站", "--at", "2021-03-04T10:00")
    run.ok("material", "result", "JM", "S2", "--fail", "--lab", "检测站", "--report", "R-2",
           "--at", "2021-03-04T11:00")
    boq = tmp_path / "ly-boq.csv"
    boq.write_text(BOQ_CSV, encoding="utf-8")
    run.ok("compound", "register", "LY", *REGISTER_JM[3:8], "示例建工", *REGISTER_JM[9:])
    run.ok("boq", "import", "LY", str(boq))
    run.ok("construction", "start", "LY", "--date", "2021-03-01")
    run.ok("inspect", "LY", "--kind", "patrol", "--at", "2021-03-02T09:00", "--finding", "quality:minor:门窗渗水")
    run.ok("material", "sample", "LY", "--material", "砂", "--batch", "L-1", "--regime", "routine",
           "--at", "2021-03-03T10:00")
    return run, blind


@pytest.fixture
def site(site_and_blind: tuple[Renovation, str]) -> Renovation:
    return site_and_blind[0]


@pytest.fixture
def blind(site_and_blind: tuple[Renovation, str]) -> str:
    """The id of JM's blind sample, pending."""
    return site_and_blind[1]


def codes_and_ids(rows: list[dict[str, Any]], key: str) -> list[tuple[str, str]]:
    return [(row["code"], row[key]) for row in rows]


def test_finding_list_and_its_filters(site: Renovation) -> None:
    every = site.json(*TODAY, "finding", "list")

    assert codes_and_ids(every, "finding_id") == [("JM", "F1"), ("JM", "F2"), ("JM", "F3"), ("LY", "F1")]
    f1 = every[0]
    assert (f1["category"], f1["severity"]) == ("safety", "major")
    assert (f1["description"], f1["location"]) == ("脚手架未挂安全网", "3号楼")
    assert (f1["raised_at"], f1["raised_by"], f1["due"]) == ("2021-03-02T09:00:00+08:00", "tester", "2021-03-05")
    assert (f1["status"], f1["last_note"], f1["days_open"], f1["days_overdue"]) == ("closed", "复查合格", "3.0", 0)
    f2 = every[1]  # minor, due 03-09; rectified, not closed: overdue on 03-20 by 11 days
    assert (f2["status"], f2["last_note"], f2["days_overdue"]) == ("rectified", "已修补", 11)
    assert codes_and_ids(site.json(*TODAY, "finding", "list", "--open"), "finding_id") == [
        ("JM", "F2"), ("JM", "F3"), ("LY", "F1")]
    assert codes_and_ids(site.json("--today", "2021-03-10", "finding", "list", "--overdue"), "finding_id") == [
        ("JM", "F2"), ("LY", "F1")]  # F3 is due 03-12
    assert codes_and_ids(site.json(*TODAY, "finding", "list", "--closed"), "finding_id") == [("JM", "F1")]
    assert codes_and_ids(site.json(*TODAY, "finding", "list", "--code", "ly"), "finding_id") == [("LY", "F1")]
    assert codes_and_ids(site.json(*TODAY, "finding", "list", "--contractor", "示例建工"), "finding_id") == [
        ("LY", "F1")]
    assert [row["finding_id"] for row in site.json(*TODAY, "finding", "list", "--category", "civilized")] == ["F3"]
    assert [row["finding_id"] for row in site.json(*TODAY, "finding", "list", "--severity", "major")] == ["F1"]
    both = site("finding", "list", "--open", "--closed")
    assert both.exit_code == 2 and len(site.lines(both)) == 1
    unknown = site("finding", "list", "--code", "NOPE")
    assert unknown.exit_code == 1 and "NOPE" in unknown.output


def test_finding_show_tells_its_whole_history(site: Renovation) -> None:
    steps = site.json("finding", "show", "JM", "f1")

    assert [(step["step"], step["at"], step["by"]) for step in steps] == [
        ("raised", "2021-03-02T09:00:00+08:00", "tester"),
        ("rectified", "2021-03-04T10:00:00+08:00", "tester"),
        ("closed", "2021-03-05T10:00:00+08:00", "tester"),
    ]
    assert "脚手架未挂安全网" in steps[0]["note"] and "3号楼" in steps[0]["note"]
    assert [step["note"] for step in steps[1:]] == ["已挂网", "复查合格"]
    missing = site("finding", "show", "JM", "F9")
    assert missing.exit_code == 1 and "F9" in missing.output


def test_material_list_and_its_filters(site: Renovation, blind: str) -> None:
    every = site.json("material", "list")

    assert codes_and_ids(every, "sample_id") == [("JM", "S1"), ("JM", "S2"), ("JM", "S3"), ("JM", blind), ("LY", "S1")]
    s2 = every[1]
    assert (s2["result"], s2["outcome"], s2["lab"], s2["report"], s2["witness"]) == (
        "failed", "resample_required", "检测站", "R-2", "王工")
    assert codes_and_ids(site.json("material", "list", "--pending"), "sample_id") == [
        ("JM", "S3"), ("JM", blind), ("LY", "S1")]
    assert codes_and_ids(site.json("material", "list", "--resample"), "sample_id") == [("JM", "S2")]
    assert site.json("material", "list", "--rejected") == []
    assert codes_and_ids(site.json("material", "list", "--batch", "B-1"), "sample_id") == [("JM", "S1")]
    site.ok("material", "sample", "JM", "--material", "水泥", "--batch", "B-2", "--regime", "routine",
            "--at", "2021-03-06T10:00")  # S4, the resample of S2
    assert site.json("material", "list", "--resample") == []  # no longer awaited


def as_user(site: Renovation, tmp_path: Path, user: str, *args: str) -> Any:
    """The command as ``user``, with roles configured."""
    config = tmp_path / "roles.toml"
    config.write_text(CONFIG, encoding="utf-8")
    return site.runner.invoke(cli, ["--db", str(site.db), "--user", user, "--config", str(config), *args], env=ENV)


def test_a_contractor_sees_its_own_compounds_and_no_pending_blind_sample(site: Renovation, blind: str,
                                                                        tmp_path: Path) -> None:
    import json

    own = json.loads(as_user(site, tmp_path, "李经理", "finding", "list", "--json").stdout)
    assert {row["code"] for row in own} == {"JM"}
    samples = json.loads(as_user(site, tmp_path, "李经理", "material", "list", "--json").stdout)
    # the blind sample, pending: not there; and no gap in the ids the contractor reads (S1, S2, S3)
    assert [row["sample_id"] for row in samples] == ["S1", "S2", "S3"]
    supervisor = json.loads(as_user(site, tmp_path, "张工", "material", "list", "--pending", "--json").stdout)
    assert ("JM", blind) in codes_and_ids(supervisor, "sample_id")
    other = as_user(site, tmp_path, "赵经理", "finding", "list", "--code", "JM")
    assert other.exit_code == 1 and "JM" in other.output  # another contractor's compound: as if not there
    assert as_user(site, tmp_path, "赵经理", "finding", "show", "JM", "F1").exit_code == 1
    assert as_user(site, tmp_path, "赵经理", "material", "list", "--code", "JM").exit_code == 1


def test_as_of_on_the_lists_and_the_boards(site: Renovation) -> None:
    site.ok("feedback", "JM", "--channel", "hotline", "--text", "噪音", "--at", "2021-03-06T09:00")
    # Every event above was recorded now (the clock of the test); as of a moment before, nothing is there.
    assert site.json("finding", "list", "--as-of", "2021-01-01") == []
    assert site.json("material", "list", "--as-of", "2021-01-01") == []
    assert site.json("feedback", "list", "--as-of", "2021-01-01") == []
    assert [row["inspections"] for row in site.json("quality", "--as-of", "2021-01-01")] == []
    assert site.json("ledger", "JM", "--as-of", "2021-01-01") == []
    assert site.json("finding", "list", "--as-of", "2999-01-01T00:00+08:00")  # everything recorded by then
    assert len(site.json("feedback", "list", "--as-of", "2999-01-01")) == 1
    bad = site("quality", "--as-of", "2021-03-04X12:00")
    assert bad.exit_code == 2


def test_a_blind_resample_still_pending_leaves_its_batch_awaited_for_a_contractor(site: Renovation,
                                                                                   tmp_path: Path) -> None:
    import json

    site.ok("material", "sample", "JM", "--material", "水泥", "--batch", "B-2", "--regime", "blind",
            "--at", "2021-03-06T10:00")  # a blind sample, the resample of S2, without its result

    awaited = json.loads(as_user(site, tmp_path, "李经理", "material", "list", "--resample", "--json").stdout)
    assert codes_and_ids(awaited, "sample_id") == [("JM", "S2")]  # nothing says a resample was taken
    assert json.loads(as_user(site, tmp_path, "张工", "material", "list", "--resample", "--json").stdout) == []


def test_as_of_counts_days_in_the_stores_zone_whatever_offset_it_is_typed_with(site: Renovation) -> None:
    shanghai = site.json("finding", "list", "--as-of", "2999-01-02T04:00+08:00")
    utc = site.json("finding", "list", "--as-of", "2999-01-01T20:00Z")

    assert shanghai == utc and shanghai
    f2 = next(row for row in utc if (row["code"], row["finding_id"]) == ("JM", "F2"))
    assert f2["days_overdue"] == (date(2999, 1, 2) - date(2021, 3, 9)).days


def test_a_contractor_filtering_its_own_compound_by_another_contractor_gets_none(site: Renovation,
                                                                                 tmp_path: Path) -> None:
    result = as_user(site, tmp_path, "李经理", "finding", "list", "--code", "JM", "--contractor", "示例建工", "--json")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "[]"


def test_the_worklists_rebuild_like_every_read_model(site: Renovation) -> None:
    before = site.json("finding", "list")

    rebuilt = site.ok("projections", "rebuild", "worklists")

    assert "rebuilt worklists" in rebuilt.output
    assert site.json("finding", "list") == before


def test_the_rectification_notice(site: Renovation, tmp_path: Path) -> None:
    page = tmp_path / "notice.html"

    said = site.ok(*TODAY, "finding", "notice", "JM", "--html", str(page), lang="zh")

    html = page.read_text(encoding="utf-8")
    assert "（1 个小区，2 个未销项问题）" in said.output  # F2 and F3; F1 is closed
    assert html.count('class="page"') == 1 and "整改通知单" in html and "编号：ZG-JM-20210320" in html
    assert "F2" in html and "F3" in html and ">F1<" not in html
    assert "2021-03-09" in html and "渣土未苫盖" in html and "施工单位签收" in html


def test_a_contractor_gets_notices_for_its_own_compounds_only(site: Renovation, tmp_path: Path) -> None:
    page = tmp_path / "notice.html"

    own = as_user(site, tmp_path, "李经理", *TODAY, "finding", "notice", "--contractor", "辽源建工",
                  "--html", str(page))
    other = as_user(site, tmp_path, "李经理", *TODAY, "finding", "notice", "LY", "--html", str(tmp_path / "x.html"))

    assert own.exit_code == 0, own.output
    assert 'id="notice-JM"' in page.read_text(encoding="utf-8")
    assert other.exit_code == 1 and "LY" in other.output and not (tmp_path / "x.html").exists()


@pytest.mark.parametrize(("args", "said"), [
    ((), "give CODE or --contractor"),
    (("--contractor", "无此单位"), "no open finding at any compound of 无此单位"),
])
def test_a_notice_for_nobody_is_a_one_line_error(site: Renovation, tmp_path: Path, args: tuple[str, ...],
                                                 said: str) -> None:
    result = site(*TODAY, "finding", "notice", *args, "--html", str(tmp_path / "n.html"))

    assert result.exit_code == 2 and said in result.output and len(site.lines(result)) == 1
    assert not (tmp_path / "n.html").exists()

"""The read commands through the CLI: figures worked out by hand, JSON keys and types, CSV that
round-trips to the JSON, tables in Chinese and English, the ranking weights from renovation.toml,
a read right after a write, and a rebuild that changes no answer.

Every write uses a 2021 date (the write rules compare against the wall clock); the boards count to
``--today 2021-05-10``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from cli_support import BLIND_SAMPLE_ID, Renovation, event_count
from click.testing import Result

TODAY = ("--today", "2021-05-10")
NAMES = ["progress", "quality", "ledger", "ranking", "feedback", "worklists", "payments", "computed"]

PROGRESS_KEYS = ["code", "name", "status", "contractor", "contract_value", "metered_value", "percent_complete"]
RANKING_KEYS = ["period", "rank", "total"]
QUALITY_KEYS = [
    "code", "contractor", "inspections", "morning_inspections", "patrols", "morning_coverage", "findings_open",
    "findings_overdue", "findings_closed", "samples", "samples_failed", "rejected_batches",
]
QUALITY_COUNTS = [
    "inspections", "morning_inspections", "patrols", "findings_open", "findings_overdue", "findings_closed",
    "samples", "samples_failed", "rejected_batches",
]


# ---------------------------------------------------------------------------------------------- set-ups
@pytest.fixture
def programme(run: Renovation, started: str, tmp_path: Path) -> Renovation:
    """JM (辽源建工; A1 100 m at 123.45, B2 50 m2 at 185; started 03-01, completed 03-06), LY (辽源建工,
    contract 20,000, C1 1000 at 1, started 03-11), YH (示例建工, registered only)."""
    # metering of JM: M1 A1 33.333 -> 4114.96, corrected to 30 -> 3703.50; M2 A1 0.1 -> 12.345 -> 12.35;
    # M3 B2 50 -> 9250.00; variation B2 to 60; M4 B2 9.5 -> 1757.50
    run.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "33.333")
    run.ok("meter", "JM", "--item", "A1", "--period", "2021-04", "--quantity", "0.1")
    run.ok("meter", "correct", "JM", "M1", "--quantity", "30", "--reason", "复核现场实测")
    run.ok("meter", "JM", "--item", "B2", "--period", "2021-04", "--quantity", "50")
    run.ok("variation", "JM", "--item", "B2", "--quantity", "60", "--reason", "变更令 BG-07")
    run.ok("meter", "JM", "--item", "B2", "--period", "2021-05", "--quantity", "9.5")
    # inspections of JM: mornings 03-01, 03-02, 03-04; a patrol 03-03 raising F1 (major, due 03-06) and
    # F2 (minor, due 03-10); F1 closed 2 days after it was raised
    run.ok("inspect", "JM", "--kind", "morning", "--at", "2021-03-01T06:30")
    run.ok("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30")
    run.ok("inspect", "JM", "--kind", "patrol", "--at", "2021-03-03T10:00",
           "--finding", "safety:major:脚手架未挂安全网", "--finding", "quality:minor:墙面空鼓")
    run.ok("inspect", "JM", "--kind", "morning", "--at", "2021-03-04T06:30")
    run.ok("finding", "rectify", "JM", "F1", "--at", "2021-03-05T09:00")
    run.ok("finding", "close", "JM", "F1", "--at", "2021-03-05T10:00")
    # samples of JM: S1 routine B1 fails, S2 (its resample) fails: B1 rejected; S3 cross passes
    run.ok("material", "sample", "JM", "--material", "水泥", "--batch", "B1", "--regime", "routine",
           "--at", "2021-03-05T11:00")
    run.ok("material", "result", "JM", "S1", "--fail", "--lab", "检测站", "--at", "2021-03-05T15:00")
    run.ok("material", "sample", "JM", "--material", "水泥", "--batch", "B1", "--regime", "routine",
           "--at", "2021-03-05T16:00")
    run.ok("material", "result", "JM", "S2", "--fail", "--lab", "检测站", "--at", "2021-03-05T18:00")
    run.ok("material", "sample", "JM", "--material", "保温板", "--batch", "C1", "--regime", "cross",
           "--at", "2021-03-05T11:30")
    run.ok("material", "result", "JM", "S3", "--pass", "--lab", "检测站", "--at", "2021-03-05T17:00")
    run.ok("construction", "complete", "JM", "--date", "2021-03-06")
    # feedback on JM: T1 03-02 08:00 resolved 03-04 20:00 (2.5 days); T2 03-03 09:00 open
    run.ok("feedback", "JM", "--channel", "hotline", "--text", "楼道施工噪音太早", "--at", "2021-03-02T08:00")
    run.ok("feedback", "resolve", "JM", "T1", "--note", "已调整施工时间", "--at", "2021-03-04T20:00")
    run.ok("feedback", "JM", "--channel", "form", "--text", "渣土未苫盖", "--at", "2021-03-03T09:00")

    boq = tmp_path / "ly.csv"
    boq.write_text("item,description,unit,quantity,unit_price\nC1,管网改造,m,1000,1\n", encoding="utf-8")
    run.ok("compound", "register", "LY", "--name", "利源小区", "--district", "龙山区", "--contractor", "辽源建工",
           "--households", "200", "--contract-value", "20000",
           "--planned-start", "2021-03-01", "--planned-finish", "2021-04-20", "--registered-on", "2021-01-04")
    run.ok("boq", "import", "LY", str(boq))
    run.ok("construction", "start", "LY", "--date", "2021-03-11")
    run.ok("meter", "LY", "--item", "C1", "--period", "2021-03", "--quantity", "245")
    run.ok("inspect", "LY", "--kind", "morning", "--at", "2021-03-11T06:30")
    run.ok("compound", "register", "YH", "--name", "颐和小区", "--district", "西安区", "--contractor", "示例建工",
           "--households", "150", "--contract-value", "500000",
           "--planned-start", "2021-04-01", "--planned-finish", "2021-12-31", "--registered-on", "2021-01-04")
    return run


def score(run: Renovation, code: str, period: str, *values: str) -> None:
    """quality, safety, progress, civilized, satisfaction; one value means all five."""
    q, s, p, c, sat = values * 5 if len(values) == 1 else values
    run.ok("score", code, "--period", period, "--quality", q, "--safety", s, "--progress", p, "--civilized", c,
           "--satisfaction", sat)


@pytest.fixture
def race(run: Renovation) -> Renovation:
    """Five compounds of four contractors (甲 has two) scored for 2021-04 and 2021-05.

    Totals with the default weights 30/25/20/15/10:
      04: AA 90/80/70/60/50 = 75; AB 85; BA 80; CA 100/90/80/70/60 = 85; DA 60.5/70/70/70/70 = 67.15
      05: AA 90; AB 90.01; BA 90.01; CA 70; DA 95
    """
    for code, contractor in (("AA", "甲公司"), ("AB", "甲公司"), ("BA", "乙公司"), ("CA", "丙公司"),
                             ("DA", "丁公司")):
        run.ok("compound", "register", code, "--name", f"{code}小区", "--district", "龙山区",
               "--contractor", contractor, "--households", "100", "--contract-value", "100000",
               "--planned-start", "2021-04-01", "--planned-finish", "2021-10-31", "--registered-on", "2021-01-04")
        run.ok("construction", "start", code, "--date", "2021-04-01")
    score(run, "AA", "2021-04", "90", "80", "70", "60", "50")
    score(run, "AB", "2021-04", "85")
    score(run, "BA", "2021-04", "80")
    score(run, "CA", "2021-04", "100", "90", "80", "70", "60")
    score(run, "DA", "2021-04", "60.5", "70", "70", "70", "70")
    for code, value in (("AA", "90"), ("AB", "90.01"), ("BA", "90.01"), ("CA", "70"), ("DA", "95")):
        score(run, code, "2021-05", value)
    return run


# ---------------------------------------------------------------------------------------------- helpers
def csv_of(run: Renovation, *args: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(run.ok(*args, "--csv").stdout)))


def cell(value: Any) -> str:
    """What a CSV cell holds for a JSON value: the same text (a boolean as JSON spells it); nothing for null."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def assert_csv_matches_json(run: Renovation, *args: str) -> list[dict[str, Any]]:
    as_json = run.json(*args)
    as_csv = csv_of(run, *args)
    assert as_json, args  # a real comparison, not of two empty outputs
    assert [list(row) for row in as_csv] == [list(row) for row in as_json]  # headers are the JSON keys
    assert as_csv == [{key: cell(value) for key, value in row.items()} for row in as_json]
    return list(as_json)


def table(result: Result) -> str:
    return result.stdout


def headers(result: Result) -> list[str]:
    """The column headers of the table a command printed (rich wraps a long header over lines)."""
    lines = result.stdout.splitlines()
    top = next(n for n, line in enumerate(lines) if line.startswith("┏"))
    bottom = next(n for n, line in enumerate(lines) if line.startswith("┡"))
    columns: list[list[str]] = []
    for line in lines[top + 1:bottom]:
        cells = [part.strip() for part in line.strip().strip("┃").split("┃")]
        columns = columns or [[] for _ in cells]
        for column, part in zip(columns, cells, strict=True):
            if part:
                column.append(part)
    return [" ".join(parts) for parts in columns]


# ---------------------------------------------------------------------------------------------- progress
def test_progress_json(programme: Renovation) -> None:
    rows = programme.json(*TODAY, "progress")

    assert [row["code"] for row in rows] == ["JM", "LY", "YH"]
    for row in rows:
        assert set(PROGRESS_KEYS) <= set(row)
        assert isinstance(row["days_behind"], int)
    assert [{key: row[key] for key in PROGRESS_KEYS} for row in rows] == [
        # 3703.50 + 12.35 + 9250.00 + 1757.50 = 14723.35; 1.472335 % -> 1.47
        {"code": "JM", "name": "吉明小区", "status": "completed", "contractor": "辽源建工",
         "contract_value": "1000000", "metered_value": "14723.35", "percent_complete": "1.47"},
        # 245 / 20,000 = 1.225 % -> 1.23 (half-up)
        {"code": "LY", "name": "利源小区", "status": "under_construction", "contractor": "辽源建工",
         "contract_value": "20000", "metered_value": "245.00", "percent_complete": "1.23"},
        {"code": "YH", "name": "颐和小区", "status": "registered", "contractor": "示例建工",
         "contract_value": "500000", "metered_value": "0", "percent_complete": "0.00"},
    ]
    # JM finished before its plan; LY: 05-10 is 20 days past its planned finish 04-20 (started 10 days
    # late); YH: planned to start 04-01, not started by 05-10: 39 days
    assert [row["days_behind"] for row in rows] == [0, 20, 39]
    assert (rows[0]["started_on"], rows[0]["completed_on"]) == ("2021-03-01", "2021-03-06")


def test_progress_csv_round_trips_to_the_json(programme: Renovation) -> None:
    rows = assert_csv_matches_json(programme, *TODAY, "progress")
    assert rows[0]["percent_complete"] == "1.47"


def test_progress_tables(programme: Renovation) -> None:
    zh = programme.ok(*TODAY, "progress", lang="zh")
    en = programme.ok(*TODAY, "progress", lang="en")

    assert headers(zh) == ["代码", "名称", "区县", "状态", "施工单位", "合同金额", "已计量产值", "完成率%", "计划开工",
                           "实际开工", "计划完工", "实际完工", "滞后天数"]
    assert "已完工" in table(zh) and "施工中" in table(zh)  # statuses in Chinese
    assert headers(en) == ["Code", "Name", "District", "Status", "Contractor", "Contract value", "Metered value",
                           "% complete", "Planned start", "Started", "Planned finish", "Completed", "Days behind"]
    assert "1,000,000.00" in table(en) and "14,723.35" in table(en) and "under construction" in table(en)


# ---------------------------------------------------------------------------------------------- quality
def test_quality_json(programme: Renovation) -> None:
    rows = programme.json(*TODAY, "quality")

    for row in rows:
        assert set(QUALITY_KEYS) <= set(row)
        assert all(isinstance(row[key], int) for key in QUALITY_COUNTS)
    assert [{key: row[key] for key in QUALITY_KEYS} for row in rows] == [
        # 03-01..03-06 (completed): 6 days, mornings on 3 of them = 50.00; F2 open and overdue (due 03-10);
        # F1 closed; S1 and S2 failed, B1 rejected
        {"code": "JM", "contractor": "辽源建工", "inspections": 4, "morning_inspections": 3, "patrols": 1,
         "morning_coverage": "50.00", "findings_open": 1, "findings_overdue": 1, "findings_closed": 1,
         "samples": 3, "samples_failed": 2, "rejected_batches": 1},
        # 03-11..05-10: 21 + 30 + 10 = 61 days, 1 morning = 1.639.. -> 1.64
        {"code": "LY", "contractor": "辽源建工", "inspections": 1, "morning_inspections": 1, "patrols": 0,
         "morning_coverage": "1.64", "findings_open": 0, "findings_overdue": 0, "findings_closed": 0,
         "samples": 0, "samples_failed": 0, "rejected_batches": 0},
        # not started: no construction day, no coverage
        {"code": "YH", "contractor": "示例建工", "inspections": 0, "morning_inspections": 0, "patrols": 0,
         "morning_coverage": None, "findings_open": 0, "findings_overdue": 0, "findings_closed": 0,
         "samples": 0, "samples_failed": 0, "rejected_batches": 0},
    ]
    jm = rows[0]
    assert jm["construction_days"] == 6
    # F1: 03-03 10:00 -> 03-05 10:00
    assert jm["mean_days_to_close"] == "2.00"
    # routine: S1, S2 failed: 0 of 2; cross: S3 passed: 1 of 1; no blind sample
    assert (jm["routine_pass_rate"], jm["cross_pass_rate"], jm["blind_pass_rate"]) == ("0.00", "100.00", None)


def test_overdue_follows_today(programme: Renovation) -> None:
    def overdue(day: str) -> int:
        (jm, *_) = programme.json("--today", day, "quality")
        return int(jm["findings_overdue"])

    assert overdue("2021-03-10") == 0  # F2 is due 03-10
    assert overdue("2021-03-11") == 1


def test_quality_by_contractor(programme: Renovation) -> None:
    rows = programme.json(*TODAY, "quality", "--by", "contractor")

    assert [row["contractor"] for row in rows] == ["示例建工", "辽源建工"]
    liaoyuan = rows[1]
    # JM + LY: 4 + 1 inspections; (3 + 1) covered days of (6 + 61) = 5.970.. -> 5.97
    assert {key: liaoyuan[key] for key in QUALITY_KEYS if key != "code"} == {
        "contractor": "辽源建工", "inspections": 5, "morning_inspections": 4, "patrols": 1,
        "morning_coverage": "5.97", "findings_open": 1, "findings_overdue": 1, "findings_closed": 1,
        "samples": 3, "samples_failed": 2, "rejected_batches": 1,
    }
    assert rows[0]["morning_coverage"] is None
    assert_csv_matches_json(programme, *TODAY, "quality", "--by", "contractor")


def test_quality_of_one_compound_and_its_missed_days(programme: Renovation) -> None:
    (jm,) = programme.json(*TODAY, "quality", "JM")
    missed = programme.json(*TODAY, "quality", "JM", "--missed")

    assert jm["code"] == "JM" and jm["morning_coverage"] == "50.00"
    assert missed == [{"code": "JM", "day": day} for day in ("2021-03-03", "2021-03-05", "2021-03-06")]
    assert_csv_matches_json(programme, *TODAY, "quality", "JM", "--missed")

    zh = programme.ok(*TODAY, "quality", "JM", "--missed", lang="zh")
    assert headers(zh) == ["代码", "日期"]
    assert "2021-03-05" in table(zh)
    assert headers(programme.ok(*TODAY, "quality", "JM", "--missed", lang="en")) == ["Code", "Day"]


def test_quality_refuses_an_unknown_compound_and_missed_without_one(programme: Renovation) -> None:
    unknown = programme(*TODAY, "quality", "NOPE")
    assert unknown.exit_code == 1
    assert len(Renovation.lines(unknown)) == 1
    without_code = programme(*TODAY, "quality", "--missed")
    assert without_code.exit_code == 2
    assert len(Renovation.lines(without_code)) == 1


def test_quality_csv_and_tables(programme: Renovation) -> None:
    assert_csv_matches_json(programme, *TODAY, "quality")

    zh = programme.ok(*TODAY, "quality", lang="zh")
    zh_by = programme.ok(*TODAY, "quality", "--by", "contractor", lang="zh")

    assert headers(zh) == [
        "代码", "施工单位", "检查次数", "晨检", "巡检", "施工天数", "晨检覆盖率%", "晨检准时率%", "未销项问题",
        "逾期问题", "已销项问题", "平均销项天数", "样品", "不合格样品", "常规检测合格率%", "交叉互检合格率%",
        "盲检合格率%", "退场批次",
    ]
    assert headers(zh_by) == headers(zh)[1:]
    assert "5.97" in table(zh_by)
    assert headers(programme.ok(*TODAY, "quality", "--by", "contractor", lang="en")) == [
        "Contractor", "Inspections", "Morning rounds", "Patrols", "Construction days", "Morning coverage %",
        "Morning on time %", "Findings open", "Findings overdue", "Findings closed", "Mean days to close", "Samples",
        "Samples failed", "Routine pass %", "Cross pass %", "Blind pass %", "Rejected batches",
    ]


# ---------------------------------------------------------------------------------------------- ledger
def test_ledger_json_csv_and_tables(programme: Renovation) -> None:
    rows = assert_csv_matches_json(programme, "ledger", "JM")

    keys = ["item", "period", "quantity", "value", "cumulative_quantity", "cumulative_value", "contract_quantity",
            "share_of_contract"]
    assert [[row[key] for key in keys] for row in rows] == [
        # 30 of 100 = 30.00 %
        ["A1", "2021-03", "30", "3703.50", "30", "3703.50", "100", "30.00"],
        # 0.1 -> 12.35; cumulative 30.1 / 3715.85
        ["A1", "2021-04", "0.1", "12.35", "30.1", "3715.85", "100", "30.10"],
        # B2 raised to 60 by the variation: 50 / 60 = 83.333.. -> 83.33
        ["B2", "2021-04", "50", "9250.00", "50", "9250.00", "60", "83.33"],
        # 59.5 / 60 = 99.166.. -> 99.17
        ["B2", "2021-05", "9.5", "1757.50", "59.5", "11007.50", "60", "99.17"],
    ]
    assert rows[0]["code"] == "JM"
    (only,) = programme.json("ledger", "JM", "--item", "B2", "--period", "2021-05")
    assert only == rows[3]

    zh = programme.ok("ledger", "JM", lang="zh")
    en = programme.ok("ledger", "JM", lang="en")
    assert headers(zh)[:6] == ["代码", "清单项", "项目名称", "单位", "期间", "数量"]
    assert headers(zh)[7:] == ["累计数量", "累计产值", "合同数量", "累计占合同%"]
    assert headers(en) == ["Code", "Item", "Description", "Unit", "Period", "Quantity", "Value",
                           "Cumulative quantity", "Cumulative value", "Contract quantity", "Share of contract %"]
    assert "11,007.50" in table(en) and "11,007.50" in table(zh)


def test_the_ledger_value_column_is_output_value_in_chinese(programme: Renovation) -> None:
    assert headers(programme.ok("ledger", "JM", lang="zh"))[6] == "产值"


# ---------------------------------------------------------------------------------------------- feedback
def test_feedback_list(programme: Renovation) -> None:
    everything = assert_csv_matches_json(programme, "feedback", "list")
    still_open = assert_csv_matches_json(programme, "feedback", "list", "--open")

    # T1: 03-02 08:00 -> 03-04 20:00 = 2.5 days
    assert [(r["ticket_id"], r["status"], r["days_to_resolve"]) for r in everything] == [
        ("T1", "resolved", "2.50"), ("T2", "unresolved", None)
    ]
    assert [(r["code"], r["ticket_id"], r["channel"], r["received_at"]) for r in still_open] == [
        ("JM", "T2", "form", "2021-03-03T09:00:00+08:00")
    ]

    zh = programme.ok("feedback", "list", "--open", lang="zh")
    en = programme.ok("feedback", "list", "--open", lang="en")
    assert headers(zh) == ["代码", "工单", "渠道", "内容", "受理时间", "办结时间", "办理情况", "状态", "办结天数"]
    assert headers(en) == ["Code", "Ticket", "Channel", "Text", "Received", "Resolved", "Note", "Status",
                           "Days to resolve"]
    assert "表格" in table(zh) and "未办结" in table(zh) and "T1" not in table(zh)
    assert "form" in table(en) and "open" in table(en)


# ---------------------------------------------------------------------------------------------- ranking
def test_ranking_by_contractor(race: Renovation) -> None:
    rows = assert_csv_matches_json(race, "ranking")

    for row in rows:
        assert set([*RANKING_KEYS, "contractor"]) <= set(row)
        assert isinstance(row["rank"], int) and isinstance(row["total"], str)
    assert [(r["period"], r["contractor"], r["total"], r["rank"], r["movement"], r["last"]) for r in rows] == [
        ("2021-05", "丁公司", "95.00", 1, 3, False),  # 4th in April
        ("2021-05", "乙公司", "90.01", 2, 0, False),
        # (90 + 90.01) / 2 = 90.005 -> 90.01 (half-up): shares rank 2 with 乙
        ("2021-05", "甲公司", "90.01", 2, 0, False),
        ("2021-05", "丙公司", "70.00", 4, -3, True),  # 1st in April; rank 3 skipped
    ]
    assert rows[2]["compounds"] == 2


def test_ranking_of_an_earlier_period(race: Renovation) -> None:
    rows = race.json("ranking", "--period", "2021-04")

    # 丙 85; 乙 80 and 甲 (75 + 85) / 2 = 80 share rank 2; 丁 67.15 fourth and last
    assert [(r["contractor"], r["total"], r["rank"], r["movement"], r["last"]) for r in rows] == [
        ("丙公司", "85.00", 1, None, False),
        ("乙公司", "80.00", 2, None, False),
        ("甲公司", "80.00", 2, None, False),
        ("丁公司", "67.15", 4, None, True),
    ]


def test_ranking_by_compound(race: Renovation) -> None:
    rows = assert_csv_matches_json(race, "ranking", "--by", "compound")

    for row in rows:
        assert set([*RANKING_KEYS, "code"]) <= set(row)
    # April: AB 85 and CA 85 rank 1, BA 80 rank 3, AA 75 rank 4, DA 67.15 rank 5
    assert [(r["code"], r["total"], r["rank"], r["movement"], r["last"]) for r in rows] == [
        ("DA", "95.00", 1, 4, False),
        ("AB", "90.01", 2, -1, False),
        ("BA", "90.01", 2, 1, False),
        ("AA", "90.00", 4, 0, False),
        ("CA", "70.00", 5, -4, True),
    ]


def test_ranking_tables(race: Renovation) -> None:
    zh = race.ok("ranking", lang="zh")
    en = race.ok("ranking", "--by", "compound", lang="en")

    assert headers(zh) == ["期间", "名次", "施工单位", "小区数", "总分", "质量", "安全", "进度", "文明施工", "满意度",
                           "名次变化", "末位", "计算总分", "记录−计算", "差异标记"]
    assert table(zh).count("末位") == 2  # the header and the mark on 丙公司's row
    assert "↑3" in table(zh) and "↓3" in table(zh) and "=" in table(zh)
    assert headers(en) == ["Period", "Rank", "Code", "Name", "Contractor", "Total", "Quality", "Safety", "Progress",
                           "Civilized", "Satisfaction", "Movement", "Last place", "Computed", "Recorded − computed",
                           "Flag"]
    assert "↑4" in table(en) and "↓4" in table(en) and "last" in table(en)


def write_weights(path: Path, quality: int, safety: int, progress: int, civilized: int, satisfaction: int) -> Path:
    path.write_text(
        "[ranking.weights]\n"
        f"quality = {quality}\nsafety = {safety}\nprogress = {progress}\ncivilized = {civilized}\n"
        f"satisfaction = {satisfaction}\n",
        encoding="utf-8",
    )
    return path


def test_ranking_weights_from_renovation_toml(race: Renovation, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    workdir = tmp_path / "office"
    workdir.mkdir()
    write_weights(workdir / "renovation.toml", 40, 30, 10, 10, 10)
    monkeypatch.chdir(workdir)

    compounds = race.json("ranking", "--period", "2021-04", "--by", "compound")
    contractors = race.json("ranking", "--period", "2021-04")

    # (40 q + 30 s + 10 p + 10 c + 10 sat) / 100
    assert [(r["code"], r["total"], r["rank"]) for r in compounds] == [
        ("CA", "88.00", 1),  # 40 + 27 + 8 + 7 + 6
        ("AB", "85.00", 2),
        ("BA", "80.00", 3),
        ("AA", "78.00", 4),  # 36 + 24 + 7 + 6 + 5
        ("DA", "66.20", 5),  # 24.2 + 21 + 7 + 7 + 7
    ]
    assert [(r["contractor"], r["total"], r["rank"]) for r in contractors] == [
        ("丙公司", "88.00", 1), ("甲公司", "81.50", 2), ("乙公司", "80.00", 3), ("丁公司", "66.20", 4)
    ]


def test_ranking_weights_from_a_config_file(race: Renovation, tmp_path: Path) -> None:
    config = write_weights(tmp_path / "weights.toml", 100, 0, 0, 0, 0)

    rows = race.json("--config", str(config), "ranking", "--by", "compound")

    # quality alone decides: AA 90, AB 90.01, BA 90.01, CA 70, DA 95
    assert [(r["code"], r["total"], r["rank"]) for r in rows] == [
        ("DA", "95.00", 1), ("AB", "90.01", 2), ("BA", "90.01", 2), ("AA", "90.00", 4), ("CA", "70.00", 5)
    ]


@pytest.mark.parametrize("weights", [(30, 25, 20, 15, 20), (10, 10, 10, 10, 10), (0, 0, 0, 0, 0)])
def test_ranking_weights_not_summing_to_100_are_refused(race: Renovation, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        weights: tuple[int, int, int, int, int]) -> None:
    write_weights(tmp_path / "renovation.toml", *weights)
    monkeypatch.chdir(tmp_path)

    result = race("ranking")

    assert result.exit_code == 2
    assert result.stdout == ""
    (line,) = Renovation.lines(result)
    assert "sum to 100" in line and f"not {sum(weights)}" in line
    assert "Traceback" not in result.output


def test_a_bad_renovation_toml_is_refused_by_every_read_command(programme: Renovation, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    write_weights(tmp_path / "renovation.toml", 50, 50, 50, 0, 0)
    monkeypatch.chdir(tmp_path)

    result = programme(*TODAY, "progress")

    assert result.exit_code == 2
    assert len(Renovation.lines(result)) == 1


def test_ranking_refuses_a_bad_period(race: Renovation) -> None:
    result = race("ranking", "--period", "2021-13")
    assert result.exit_code == 2
    assert len(Renovation.lines(result)) == 1


# ---------------------------------------------------------------------------------------------- projections
def test_projections_status(programme: Renovation) -> None:
    head = event_count(programme.db)  # on SQLite the notification ids run 1..count

    before = programme.json("projections", "status")
    programme.ok(*TODAY, "progress")
    after = assert_csv_matches_json(programme, "projections", "status")

    # no read command had run yet: nothing applied
    assert before == [{"projection": name, "position": 0, "head": head, "lag": head} for name in NAMES]
    # progress caught up when it was read; the others wait for their own reads
    assert {row["projection"]: row["lag"] for row in after} == {
        "progress": 0, "quality": head, "ledger": head, "ranking": head, "feedback": head, "worklists": head,
        "payments": head, "computed": head,
    }
    assert all(isinstance(row[key], int) for row in after for key in ("position", "head", "lag"))

    assert headers(programme.ok("projections", "status", lang="zh")) == ["读模型", "位置", "日志末尾", "滞后"]
    assert headers(programme.ok("projections", "status", lang="en")) == ["Projection", "Position", "Head", "Lag"]


def test_projections_rebuild_says_what_it_did(programme: Renovation) -> None:
    head = event_count(programme.db)

    en = programme.ok("projections", "rebuild", lang="en")
    zh = programme.ok("projections", "rebuild", "ranking", "ledger", lang="zh")

    assert Renovation.lines(en)[-1] == f"rebuilt {', '.join(NAMES)} from {head} events"
    assert Renovation.lines(zh)[-1] == f"已从 {head} 个事件重建 ranking, ledger"
    twice = programme.ok("projections", "rebuild", "quality", "quality", lang="en")
    assert Renovation.lines(twice)[-1] == f"rebuilt quality from {head} events"  # each name once
    status = programme.json("projections", "status")
    assert [(row["position"], row["lag"]) for row in status] == [(head, 0)] * len(NAMES)


def every_answer(run: Renovation) -> dict[str, Any]:
    """What every read command answers, as JSON."""
    reads = {
        "progress": (*TODAY, "progress"),
        "quality": (*TODAY, "quality"),
        "quality-by-contractor": (*TODAY, "quality", "--by", "contractor"),
        "quality-missed": (*TODAY, "quality", "JM", "--missed"),
        "ranking": ("ranking",),
        "ranking-by-compound": ("ranking", "--by", "compound"),
        "ranking-april": ("ranking", "--period", "2021-04"),
        "ledger-JM": ("ledger", "JM"),
        "ledger-LY": ("ledger", "LY"),
        "feedback": ("feedback", "list"),
        "feedback-open": ("feedback", "list", "--open"),
    }
    return {name: run.json(*args) for name, args in reads.items()}


def test_rebuild_changes_no_answer(programme: Renovation) -> None:
    for code, value in (("JM", "88"), ("LY", "91.5")):
        score(programme, code, "2021-04", value)
    score(programme, "LY", "2021-05", "77")
    incremental = every_answer(programme)  # each read model caught up by its first read
    programme.ok("meter", "LY", "--item", "C1", "--period", "2021-04", "--quantity", "5")
    programme.ok("inspect", "LY", "--kind", "patrol", "--at", "2021-03-12T10:00", "--finding", "safety:minor:围挡")
    programme.ok("feedback", "LY", "--channel", "visit", "--text", "停车", "--at", "2021-03-12T09:00")
    incremental = every_answer(programme)  # now caught up incrementally, from where each had got to

    programme.ok("projections", "rebuild")

    assert every_answer(programme) == incremental
    assert incremental["ledger-LY"][-1]["cumulative_value"] == "250.00"  # 245 + 5
    assert [row["code"] for row in incremental["ranking-by-compound"]] == ["LY"]


# ---------------------------------------------------------------------------------------------- read after write
def test_a_read_right_after_a_write_shows_it(run: Renovation, started: str) -> None:
    def progress_of(code: str) -> dict[str, Any]:
        return next(row for row in run.json(*TODAY, "progress") if row["code"] == code)

    def quality_of(code: str) -> dict[str, Any]:
        (row,) = run.json(*TODAY, "quality", code)
        return dict(row)

    assert progress_of("JM")["metered_value"] == "0"

    run.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "10")
    assert progress_of("JM")["metered_value"] == "1234.50"
    assert run.json("ledger", "JM")[0]["quantity"] == "10"

    run.ok("meter", "correct", "JM", "M1", "--quantity", "12", "--reason", "复核")
    assert run.json("ledger", "JM")[0]["value"] == "1481.40"  # 12 x 123.45
    assert progress_of("JM")["metered_value"] == "1481.40"

    run.ok("variation", "JM", "--item", "A1", "--quantity", "120", "--reason", "变更")
    assert run.json("ledger", "JM")[0]["contract_quantity"] == "120"

    run.ok("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30")
    assert quality_of("JM")["morning_inspections"] == 1

    run.ok("inspect", "JM", "--kind", "patrol", "--at", "2021-03-02T10:00", "--finding", "safety:major:临边无防护")
    assert (quality_of("JM")["patrols"], quality_of("JM")["findings_open"]) == (1, 1)

    run.ok("finding", "rectify", "JM", "F1", "--at", "2021-03-03T10:00")
    run.ok("finding", "close", "JM", "F1", "--at", "2021-03-04T10:00")
    assert (quality_of("JM")["findings_open"], quality_of("JM")["findings_closed"]) == (0, 1)

    blind = run.json("material", "sample", "JM", "--material", "钢筋", "--batch", "G1", "--regime", "blind",
                     "--at", "2021-03-02T11:00")["sample_id"]
    assert BLIND_SAMPLE_ID.fullmatch(blind), blind
    assert quality_of("JM")["samples"] == 1
    run.ok("material", "result", "JM", blind, "--fail", "--lab", "检测站", "--at", "2021-03-03T11:00")
    assert quality_of("JM")["samples_failed"] == 1

    run.ok("score", "JM", "--period", "2021-04", "--quality", "90", "--safety", "90", "--progress", "90",
           "--civilized", "90", "--satisfaction", "90")
    assert [(r["period"], r["total"]) for r in run.json("ranking")] == [("2021-04", "90.00")]
    run.ok("score", "JM", "--period", "2021-04", "--quality", "80", "--safety", "90", "--progress", "90",
           "--civilized", "90", "--satisfaction", "90", "--correct", "--reason", "复核")
    assert [r["total"] for r in run.json("ranking")] == ["87.00"]  # 90 - 0.3 x 10

    run.ok("feedback", "JM", "--channel", "hotline", "--text", "噪音", "--at", "2021-03-05T08:00")
    assert [r["ticket_id"] for r in run.json("feedback", "list", "--open")] == ["T1"]
    run.ok("feedback", "resolve", "JM", "T1", "--note", "已处理", "--at", "2021-03-05T20:00")
    assert run.json("feedback", "list", "--open") == []
    assert [r["days_to_resolve"] for r in run.json("feedback", "list")] == ["0.50"]

    run.ok("construction", "complete", "JM", "--date", "2021-03-31")
    assert progress_of("JM")["status"] == "completed"
    assert quality_of("JM")["construction_days"] == 31

    run.ok("compound", "register", "YH", "--name", "颐和小区", "--district", "西安区", "--contractor", "示例建工",
           "--households", "150", "--contract-value", "500000",
           "--planned-start", "2021-04-01", "--planned-finish", "2021-12-31", "--registered-on", "2021-01-04")
    assert progress_of("YH")["status"] == "registered"
    assert [row["code"] for row in run.json(*TODAY, "quality")] == ["JM", "YH"]

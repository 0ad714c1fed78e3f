"""On site through the CLI: inspections and findings (整改通知), material samples and results."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from cli_support import BLIND_SAMPLE_ID, ENV, REGISTER_JM, Renovation, event_count
from sqlalchemy import select

from renovation.cli import cli


def stored_findings(db: Path | str) -> dict[str, dict[str, Any]]:
    """The findings as the store holds them (the stored JSON of each event, undecoded), by id."""
    from renovation.services.application import RenovationApp

    app = RenovationApp(str(db))
    try:
        rows = [n.state for n in app.iter_notifications() if n.topic.endswith(".InspectionRecorded")]
    finally:
        app.close()
    findings = [finding["_data_"] for state in rows for finding in json.loads(state)["findings"]]
    return {finding["finding_id"]: finding for finding in findings}


def test_inspect_without_findings_prints_the_inspection_id(run: Renovation, started: str) -> None:
    before = event_count(run.db)

    result = run.ok("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30")

    assert result.output.strip() == "Recorded morning inspection I1 at JM."
    assert event_count(run.db) == before + 1


def test_inspect_with_several_findings_prints_their_ids(run: Renovation, started: str) -> None:
    result = run.ok(
        "inspect", "JM", "--kind", "patrol", "--at", "2021-03-02T06:40",
        "--finding", "safety:major:脚手架未挂安全网@3号楼",
        "--finding", "civilized:minor:渣土未苫盖",
        "--finding", "quality:critical:防水层破损@5号楼屋面",
    )

    assert result.output.strip() == "Recorded patrol inspection I1 at JM; findings: F1, F2, F3."


def test_inspect_with_json_names_the_finding_ids(run: Renovation, started: str) -> None:
    recorded = run.json(
        "inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30+08:00",
        "--finding", "safety:major:脚手架未挂安全网@3号楼", "--finding", "civilized:minor:渣土未苫盖",
        "--due", "2021-03-05",
    )

    assert recorded == {
        "code": "JM", "inspection_id": "I1", "kind": "morning", "at": "2021-03-02T06:30:00+08:00",
        "finding_ids": ["F1", "F2"], "photos": [],
    }
    second = run.json("inspect", "JM", "--kind", "patrol", "--at", "2021-03-03T10:00",
                      "--finding", "quality:minor:墙面空鼓")
    assert second["inspection_id"] == "I2"
    assert second["finding_ids"] == ["F3"]


def test_findings_keep_their_location_and_due_date(run: Renovation, started: str) -> None:
    run.ok("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30",
           "--finding", "safety:major:脚手架未挂安全网@3号楼", "--finding", "civilized:minor:渣土未苫盖")
    run.ok("inspect", "JM", "--kind", "patrol", "--at", "2021-03-03T09:00", "--due", "2021-03-10",
           "--finding", "quality:critical:防水层破损@5号楼屋面")

    findings = stored_findings(run.db)

    assert findings["F1"]["location"] == "3号楼"
    assert findings["F1"]["description"] == "脚手架未挂安全网"
    assert findings["F1"]["due"]["_data_"] == "2021-03-05"  # major: 3 days by default
    assert findings["F2"]["location"] is None
    assert findings["F2"]["due"]["_data_"] == "2021-03-09"  # minor: 7 days
    assert findings["F3"]["location"] == "5号楼屋面"
    assert findings["F3"]["due"]["_data_"] == "2021-03-10"  # --due wins over the severity's default


def test_an_inspection_time_without_offset_is_in_the_users_zone(run: Renovation, started: str) -> None:
    recorded = run.json("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30")

    assert recorded["at"] == "2021-03-02T06:30:00+08:00"  # RENOVATION_TZ=Asia/Shanghai in the tests


def test_findings_count_as_open_until_closed(run: Renovation, started: str) -> None:
    run.ok("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30",
           "--finding", "safety:major:脚手架未挂安全网@3号楼", "--finding", "civilized:minor:渣土未苫盖")

    shown = run.json("compound", "show", "JM")

    assert shown["inspections"] == 1
    assert shown["findings_open"] == 2
    assert shown["findings_closed"] == 0


def test_finding_rectify_close_reopen(run: Renovation, started: str) -> None:
    run.ok("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30",
           "--finding", "safety:major:脚手架未挂安全网")

    rectified = run.ok("finding", "rectify", "JM", "F1", "--note", "已挂安全网")
    assert rectified.output.strip() == "Finding F1 at JM: rectified."

    closed = run.json("finding", "close", "JM", "f1")
    assert closed["finding_id"] == "F1"
    assert closed["status"] == "closed"
    assert run.json("compound", "show", "JM")["findings_closed"] == 1

    reopened = run.json("finding", "reopen", "JM", "F1", "--note", "安全网破损")
    assert reopened["status"] == "reopened"
    assert reopened["note"] == "安全网破损"
    assert run.json("compound", "show", "JM")["findings_open"] == 1


def test_a_finding_can_be_closed_only_after_rectification(run: Renovation, started: str) -> None:
    run.ok("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30", "--finding", "quality:minor:墙面空鼓")
    before = event_count(run.db)

    result = run("finding", "close", "JM", "F1")

    assert result.exit_code == 1
    assert run.lines(result) == ["Error: cannot close finding F1: it is open"]
    assert event_count(run.db) == before


def test_material_sample_and_pass(run: Renovation, started: str) -> None:
    sampled = run.ok("material", "sample", "JM", "--material", "防水卷材", "--batch", "B2021-031",
                     "--regime", "routine", "--witness", "李监理")
    assert sampled.output.strip() == "Sample S1 of batch B2021-031 at JM."

    passed = run.json("material", "result", "JM", "S1", "--pass", "--lab", "辽源市建设工程质量检测站",
                      "--report", "JC-2021-101")

    assert passed == {"code": "JM", "sample_id": "S1", "batch": "B2021-031", "passed": True, "outcome": "passed"}


def test_a_blind_sample_that_fails_twice_rejects_the_batch(run: Renovation, started: str) -> None:
    sample = ("material", "sample", "JM", "--material", "防水卷材", "--batch", "B2021-031", "--regime", "blind")
    lab = ("--lab", "辽源市建设工程质量检测站")

    first = run.json(*sample)
    blind = first["sample_id"]  # named by its command: no count in its id
    assert BLIND_SAMPLE_ID.fullmatch(blind), blind
    assert first == {"code": "JM", "sample_id": blind, "batch": "B2021-031", "regime": "blind", "resample_of": None}

    failed = run.json("material", "result", "JM", blind, "--fail", *lab, "--report", "JC-2021-118")
    assert failed["outcome"] == "resample_required"
    assert failed["passed"] is False

    resample = run.json(*sample)
    blind_resample = resample["sample_id"]
    assert BLIND_SAMPLE_ID.fullmatch(blind_resample) and blind_resample != blind  # a blind resample: a B id
    assert resample["resample_of"] == blind

    failed_again = run.ok("material", "result", "JM", blind_resample, "--fail", *lab)
    assert failed_again.output.strip() == f"Sample {blind_resample}: fail on resample; batch B2021-031 rejected (退场)."
    assert run.json("compound", "show", "JM")["rejected_batches"] == ["B2021-031"]

    before = event_count(run.db)
    refused = run(*sample)
    assert refused.exit_code == 1
    assert run.lines(refused) == [
        "Error: batch B2021-031 was rejected after a failed resample and cannot be sampled again"
    ]
    assert event_count(run.db) == before


def test_a_resample_is_announced_in_words(run: Renovation, started: str) -> None:
    sample = ("material", "sample", "JM", "--material", "水泥", "--batch", "C7", "--regime", "cross")
    run.ok(*sample)
    failed = run.ok("material", "result", "JM", "S1", "--fail", "--lab", "吉林省检测中心")
    assert failed.output.strip() == "Sample S1: fail; batch C7 needs a resample (double quantity)."

    resampled = run.ok(*sample)

    assert resampled.output.strip() == "Sample S2 of batch C7 at JM (resample of S1, double quantity)."


def test_material_result_needs_pass_or_fail(run: Renovation, started: str) -> None:
    run.ok("material", "sample", "JM", "--material", "水泥", "--batch", "C7", "--regime", "routine")
    before = event_count(run.db)

    result = run("material", "result", "JM", "S1", "--lab", "吉林省检测中心")

    assert result.exit_code == 2
    assert run.lines(result) == ["Error: give --pass or --fail"]
    assert event_count(run.db) == before


def test_material_result_refuses_both_pass_and_fail(run: Renovation, started: str) -> None:
    """`--pass --fail` is not "fail" (the last one given): it is refused, and nothing is recorded."""
    run.ok("material", "sample", "JM", "--material", "水泥", "--batch", "C7", "--regime", "routine")
    before = event_count(run.db)

    for flags in (("--pass", "--fail"), ("--fail", "--pass")):
        result = run("material", "result", "JM", "S1", "--lab", "吉林省检测中心", *flags)

        assert result.exit_code == 2
        assert run.lines(result) == ["Error: give --pass or --fail, not both"]
    assert event_count(run.db) == before


def test_a_time_that_does_not_exist_in_the_stores_zone_is_refused(tmp_path: Path, boq_file: Path) -> None:
    """In a zone with daylight saving, 02:30 on the night the clocks go forward never happened: it is
    refused rather than stored as some other time; 02:30 the night before is fine."""
    from click.testing import CliRunner

    from renovation.cli import cli

    db = tmp_path / "berlin.db"

    def in_berlin(*args: str) -> Any:
        return CliRunner().invoke(cli, ["--db", str(db), "--user", "tester", *args],
                                  env={**ENV, "RENOVATION_TZ": "Europe/Berlin"})  # the zone of the new store

    in_berlin(*REGISTER_JM)
    in_berlin("boq", "import", "JM", str(boq_file))
    assert in_berlin("construction", "start", "JM", "--date", "2021-03-01").exit_code == 0
    run = Renovation(db)  # the test's own environment (RENOVATION_TZ=Asia/Shanghai): the store's zone holds
    before = event_count(db)

    result = run("inspect", "JM", "--kind", "patrol", "--at", "2021-03-28T02:30")

    assert result.exit_code == 2
    assert run.lines(result) == ["Error: --at: '2021-03-28T02:30' does not exist in Europe/Berlin "
                                 "(the clocks went forward)"]
    assert event_count(db) == before
    recorded = run("inspect", "JM", "--kind", "patrol", "--at", "2021-03-27T02:30", "--json")
    assert recorded.exit_code == 0 and json.loads(recorded.stdout)["at"] == "2021-03-27T02:30:00+01:00"


def test_a_findings_lifecycle_times_are_in_order(run: Renovation, started: str) -> None:
    """A finding cannot be closed before it was rectified, nor rectified before it was reopened."""
    run.ok("inspect", "JM", "--kind", "patrol", "--at", "2021-03-02T09:00", "--finding", "quality:minor:墙面空鼓")
    run.ok("finding", "rectify", "JM", "F1", "--at", "2021-03-03T10:00")
    before = event_count(run.db)

    early_close = run("finding", "close", "JM", "F1", "--at", "2021-03-03T09:00")

    assert early_close.exit_code == 1 and len(run.lines(early_close)) == 1, early_close.output
    assert event_count(run.db) == before
    run.ok("finding", "close", "JM", "F1", "--at", "2021-03-04T10:00")
    run.ok("finding", "reopen", "JM", "F1", "--at", "2021-03-05T10:00")
    early_rectify = run("finding", "rectify", "JM", "F1", "--at", "2021-03-05T09:00")
    assert early_rectify.exit_code == 1
    assert event_count(run.db) == before + 2


def test_a_new_store_without_renovation_tz_keeps_the_machines_named_zone(tmp_path: Path, boq_file: Path) -> None:
    """A store made on a machine whose zone is Europe/Berlin (TZ) keeps that zone: 06:40 on 2021-04-20
    is stored at +02:00 (summer time that day, not the offset of the day the command runs), also when
    the command runs where RENOVATION_TZ says otherwise."""
    from click.testing import CliRunner

    from renovation.cli import cli

    db = tmp_path / "berlin.db"
    berlin = {**ENV, "RENOVATION_TZ": None, "TZ": "Europe/Berlin"}
    for args in (REGISTER_JM, ("boq", "import", "JM", str(boq_file)), ("construction", "start", "JM", "--date",
                                                                     "2021-03-01")):
        assert CliRunner().invoke(cli, ["--db", str(db), "--user", "tester", *args], env=berlin).exit_code == 0
    run = Renovation(db)  # RENOVATION_TZ=Asia/Shanghai here: the store's zone holds

    recorded = run.json("inspect", "JM", "--kind", "patrol", "--at", "2021-04-20T06:40")

    assert recorded["at"] == "2021-04-20T06:40:00+02:00"
    gap = run("inspect", "JM", "--kind", "patrol", "--at", "2021-03-28T02:30")
    assert gap.exit_code == 2 and "does not exist in Europe/Berlin" in gap.output
    assert run.json("db", "info")["time_zone"] == "Europe/Berlin"


def test_a_morning_round_recorded_on_a_utc_machine_counts_on_the_stores_day(
        run: Renovation, boq_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """06:30 in 辽源 is 22:30 UTC the day before: a round recorded then without --at, from a machine
    whose zone is UTC, is the store's 06:30 (Asia/Shanghai) and counts for that morning."""
    from renovation.services import clock
    from renovation.store.postgres import PostgresBackend

    moment = [datetime(2021, 3, 1, 1, 0, tzinfo=UTC)]  # the store is set up that morning
    monkeypatch.setattr(clock, "now", lambda zone=None: moment[0].astimezone(zone or UTC))
    monkeypatch.setattr(PostgresBackend, "server_now", lambda _self: moment[0])  # the server's clock too
    run.ok(*REGISTER_JM)
    run.ok("boq", "import", "JM", str(boq_file))
    run.ok("construction", "start", "JM", "--date", "2021-03-01")
    moment[0] = datetime(2021, 3, 1, 22, 30, tzinfo=UTC)  # 2021-03-02 06:30 in the store's zone
    monkeypatch.setenv("TZ", "UTC")
    utc = {**ENV, "RENOVATION_TZ": None, "TZ": "UTC", "RENOVATION_TODAY": "2021-03-02"}

    result = run.runner.invoke(cli, ["--db", str(run.db), "--user", "tester", "inspect", "JM", "--kind", "morning",
                                     "--json"], env=utc)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["at"] == "2021-03-02T06:30:00+08:00"
    from renovation.projections.quality import morning_days
    from renovation.services.workspace import Workspace

    workspace = Workspace(str(run.db))
    with workspace.read_models("quality").engine.connect() as connection:
        days = connection.execute(select(morning_days.c.day).where(morning_days.c.code == "JM")).scalars().all()
    workspace.close()
    assert days == [date(2021, 3, 2)]


def test_a_morning_round_after_noon_is_refused(run: Renovation, started: str) -> None:
    """The morning round leaves at 06:30; one recorded at noon or later is a patrol."""
    before = event_count(run.db)

    result = run("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T12:00")

    assert result.exit_code == 1
    assert run.lines(result) == [
        "Error: a morning round at 2021-03-02T12:00+08:00 is after noon: record it as a patrol"]
    assert event_count(run.db) == before
    run.ok("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T11:59")
    run.ok("inspect", "JM", "--kind", "patrol", "--at", "2021-03-02T13:00")


def test_the_grace_of_a_morning_round_comes_from_renovation_toml(run: Renovation, started: str,
                                                                   tmp_path: Path) -> None:
    run.ok("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T07:20")
    late = tmp_path / "late.toml"
    late.write_text("[quality]\nmorning_grace_minutes = 60\n", encoding="utf-8")

    default = run.json("--today", "2021-03-02", "quality")[0]
    graced = run.json("--today", "2021-03-02", "--config", str(late), "quality")[0]

    assert (default["morning_coverage"], default["morning_on_time"]) == ("50.00", "0.00")
    assert graced["morning_on_time"] == "50.00"
    bad = tmp_path / "bad.toml"
    bad.write_text("[quality]\nmorning_grace_minutes = -5\n", encoding="utf-8")
    refused = run("--config", str(bad), "quality")
    assert refused.exit_code == 2 and "morning_grace_minutes" in refused.output

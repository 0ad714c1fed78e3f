"""``renovation demo``: the 2021 programme on a fresh database, refused on one that holds events."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cli_support import Renovation, event_count

NAMED_COMPOUNDS = ("JM", "LY", "YH", "SBCY", "KX9301", "HH")


@pytest.fixture
def in_empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    workdir = tmp_path / "empty"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return workdir


def test_demo_builds_the_programme_and_prints_the_board(in_empty_dir: Path) -> None:
    run = Renovation(in_empty_dir / "demo.db")

    result = run.ok("demo")

    count = event_count(run.db)
    assert count >= 20_000
    assert f"{count} events in {run.db}" in result.output
    assert "示例建工" in result.output and "2021-06" in result.output  # the contractor board of June
    assert "last" in result.output
    assert not (in_empty_dir / "renovation.db").exists()  # --db was honoured
    compounds = run.json("compound", "list")
    assert len(compounds) == 53
    names = {row["code"]: row["name"] for row in compounds}
    named = ("吉明小区", "利源小区", "颐和小区", "商标彩印小区", "科协9301号楼", "洪海小区")
    for code, name in zip(NAMED_COMPOUNDS, named, strict=True):
        assert names.pop(code) == name
    assert all(name.startswith("示例小区") for name in names.values())  # the rest are marked synthetic
    assert {row["district"] for row in compounds} == {"龙山区", "西安区", "东丰县", "东辽县"}
    statuses = {row["status"] for row in compounds}
    assert statuses == {"registered", "under_construction", "completed", "accepted", "handed_over"}
    show = run.json("compound", "show", next(row["code"] for row in compounds if row["status"] == "handed_over"))
    assert show["om_end"] == show["handed_over_on"].replace("2021", "2036")


def test_demo_refuses_a_database_that_holds_events_then_force_rebuilds_it(in_empty_dir: Path) -> None:
    run = Renovation(in_empty_dir / "demo.db")
    run.ok("demo", "--compounds", "6", "--until", "2021-03-31")
    count = event_count(run.db)

    again = run("demo")

    assert again.exit_code == 2
    assert "Traceback" not in again.output
    assert run.lines(again) == [f"Error: {run.db} already holds events; use an empty database (or --force)"]
    assert event_count(run.db) == count

    run.ok("demo", "--force", "--compounds", "6", "--until", "2021-03-31")

    assert event_count(run.db) == count  # the same seed builds the same programme


def test_demo_refuses_a_database_with_a_compound_registered_by_hand(run: Renovation, registered: str) -> None:
    before = event_count(run.db)

    result = run("demo")

    assert result.exit_code == 2
    assert len(run.lines(result)) == 1
    assert event_count(run.db) == before


@pytest.mark.parametrize("until", ["2021-02-01", "someday", "2021-02-30"])
def test_demo_until_must_be_a_date_after_the_kick_off(in_empty_dir: Path, until: str) -> None:
    run = Renovation(in_empty_dir / "demo.db")

    result = run("demo", "--until", until)

    assert result.exit_code == 2
    assert len(run.lines(result)) == 1
    assert "--until" in result.output
    assert event_count(run.db) == 0


def test_demo_until_must_be_past(in_empty_dir: Path) -> None:
    """The demo records each day's events at that day's hours: none may be recorded after the clock."""
    run = Renovation(in_empty_dir / "demo.db")
    zone = ZoneInfo("Asia/Shanghai")
    today = datetime.now(zone).date()

    for until in (today + timedelta(days=1), date(2999, 12, 31)):
        result = run("demo", "--until", until.isoformat())

        assert result.exit_code == 2
        assert run.lines(result) == [f"Error: --until: {until} is not past (today is {today} in Asia/Shanghai); "
                                     "give an earlier day"]
        assert event_count(run.db) == 0

    result = run("demo", "--until", today.isoformat())
    if datetime.now(zone).date() == today:  # not run across midnight there
        assert result.exit_code == 2 and "is not past" in result.output
        assert event_count(run.db) == 0


def test_demo_certifies_the_metering_and_records_payments(in_empty_dir: Path) -> None:
    run = Renovation(in_empty_dir / "demo.db")
    run.ok("demo", "--compounds", "8", "--until", "2021-05-31")

    rows = run.json("payment", "list")

    assert rows and all(row["certificates"] >= 1 for row in rows)
    assert any(row["paid"] != "0.00" for row in rows)
    for row in rows:  # certified + retention held = the cumulative metered value certified
        assert Decimal(row["certified"]) + Decimal(row["retained"]) == Decimal(row["cumulative_metered"])
        assert Decimal(row["outstanding"]) == Decimal(row["certified"]) - Decimal(row["paid"]) >= 0
    assert run.json("audit", "reconcile") == []

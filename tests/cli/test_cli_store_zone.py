"""One time zone per store (issue 12, item 9): kept when the store is created, shown by `db info`,
set once; the read models store times in one convention (UTC), so boards order them right whatever
offset each was typed with."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from cli_support import ENV, REGISTER_JM, Renovation, event_count
from click.testing import CliRunner, Result

from renovation.cli import cli


def invoke(db: Path, *args: str, **env: str | None) -> Result:
    return CliRunner().invoke(cli, ["--db", str(db), "--user", "tester", *args], env={**ENV, **env})


def test_the_demo_keeps_its_zone_whatever_the_machines(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    result = invoke(db, "demo", "--compounds", "1", "--until", "2021-02-20", RENOVATION_TZ="UTC")
    assert result.exit_code == 0, result.output

    info = Renovation(db).json("db", "info")

    assert info["time_zone"] == "Asia/Shanghai" and info["time_zone_kept"] is True
    assert info["events"] == event_count(db)


def test_a_store_keeps_its_zone_once_it_holds_events(run: Renovation, started: str) -> None:
    assert run.json("db", "info")["time_zone"] == "Asia/Shanghai"  # RENOVATION_TZ when it was created

    refused = run("db", "zone", "Europe/Berlin")

    assert refused.exit_code == 1
    assert run.lines(refused) == ["Error: the store's time zone is Asia/Shanghai, kept since it was created; "
                                  "its recorded times are in it"]
    assert run.json("db", "info")["time_zone"] == "Asia/Shanghai"
    run.ok("db", "zone", "Asia/Shanghai")  # the same: nothing to change
    unknown = run("db", "zone", "Mars/Olympus")
    assert unknown.exit_code == 2 and "'Mars/Olympus' is not a known time zone" in unknown.output


def test_an_empty_store_may_take_another_zone(run: Renovation) -> None:
    run.ok("db", "zone", "Asia/Shanghai")  # creates the store
    run.ok("db", "zone", "Europe/Berlin")

    assert run.json("db", "info")["time_zone"] == "Europe/Berlin"


def test_tickets_are_listed_in_time_order_whatever_offset_they_were_typed_with(run: Renovation, started: str) -> None:
    run.ok("feedback", "JM", "--channel", "hotline", "--text", "九点", "--at", "2021-03-05T09:00+08:00")  # 01:00 UTC
    run.ok("feedback", "JM", "--channel", "hotline", "--text", "两点", "--at", "2021-03-05T02:00+00:00")  # 10:00 +08

    rows = run.json("feedback", "list")

    assert [row["text"] for row in rows] == ["九点", "两点"]
    assert [row["received_at"] for row in rows] == ["2021-03-05T09:00:00+08:00", "2021-03-05T10:00:00+08:00"]


def test_an_export_carries_its_zone_to_a_new_store_and_refuses_another(run: Renovation, started: str,
                                                                       tmp_path: Path) -> None:
    exported = tmp_path / "log.jsonl"
    run.ok("export", str(exported))

    fresh = tmp_path / "fresh.db"
    assert invoke(fresh, "import", str(exported), RENOVATION_TZ="UTC").exit_code == 0
    assert Renovation(fresh).json("db", "info")["time_zone"] == "Asia/Shanghai"

    other = tmp_path / "utc.db"
    invoke(other, *REGISTER_JM, RENOVATION_TZ="UTC")
    refused = invoke(other, "import", str(exported), RENOVATION_TZ="UTC")
    assert refused.exit_code == 2 and "line 1: the file's store keeps the time zone Asia/Shanghai" in refused.output


def test_a_machine_zone_given_as_a_path_is_kept_by_its_name(tmp_path: Path) -> None:
    db = tmp_path / "berlin.db"
    invoke(db, *REGISTER_JM, RENOVATION_TZ=None, TZ=":/usr/share/zoneinfo/Europe/Berlin")  # creates it

    assert Renovation(db).json("db", "info")["time_zone"] == "Europe/Berlin"


def test_a_machine_zone_without_a_name_is_not_kept(tmp_path: Path) -> None:
    db = tmp_path / "posix.db"
    assert invoke(db, *REGISTER_JM, RENOVATION_TZ=None, TZ="IST-5:30").exit_code == 0  # creates it
    result = invoke(db, "db", "info", "--json", RENOVATION_TZ=None, TZ="IST-5:30")

    assert result.exit_code == 0, result.output
    assert '"time_zone_kept": false' in result.output
    assert invoke(db, "db", "zone", "Asia/Kolkata").exit_code == 0
    assert Renovation(db).json("db", "info")["time_zone"] == "Asia/Kolkata"


@pytest.mark.parametrize("name", ["Asia", "localtime", "x" * 300, "../../etc/passwd", ""])
def test_a_zone_name_that_is_no_zone_is_a_one_line_error(run: Renovation, name: str) -> None:
    run.ok("db", "zone", "Asia/Shanghai")
    result = run("db", "zone", name)

    assert result.exit_code == 2 and len(run.lines(result)) == 1 and "Traceback" not in result.output


def test_a_kept_zone_that_is_no_zone_is_said_and_can_be_mended(tmp_path: Path) -> None:
    run = Renovation(tmp_path / "edited.db")  # an SQLite file, edited by hand
    run.ok(*REGISTER_JM)
    with sqlite3.connect(run.db) as connection:
        connection.execute("UPDATE event_chain_meta SET value = 'Mars/Olympus' WHERE key = 'time_zone'")

    info = run("db", "info")

    assert info.exit_code == 0
    assert "the store keeps 'Mars/Olympus', which is no time zone" in info.output
    run.ok("db", "zone", "Asia/Shanghai")
    assert run.json("db", "info")["time_zone"] == "Asia/Shanghai"


@pytest.mark.parametrize("tz", ["Asia", "../etc/passwd", "posixrules"])
def test_a_machine_zone_that_names_no_zone_is_said_not_taken_for_one(tmp_path: Path, tz: str,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    db = tmp_path / "unnamed.db"
    result = invoke(db, *REGISTER_JM, RENOVATION_TZ=None, TZ=tz)  # creates it, with a warning on stderr

    assert result.exit_code == 0, result.output
    assert f"this machine's time zone has no IANA name (TZ={tz!r}): the store keeps none" in caplog.text
    facts = json.loads(invoke(db, "db", "info", "--json", RENOVATION_TZ=None, TZ=tz).stdout)
    assert facts["time_zone_kept"] is False and facts["time_zone"].startswith("UTC")  # an offset, not a name


def test_a_zone_refused_on_a_new_path_makes_no_store(tmp_path: Path) -> None:
    db = tmp_path / "never.db"

    result = invoke(db, "db", "zone", "Asia")

    assert result.exit_code == 2 and "not a known time zone" in result.output
    assert not db.exists()


def test_a_machine_zone_given_as_the_localtime_file_is_the_zone_it_links_to(tmp_path: Path) -> None:
    target = os.path.realpath("/etc/localtime")
    if "zoneinfo/" not in target:
        pytest.skip(f"/etc/localtime links to no zone of the zone database here ({target})")
    db = tmp_path / "local.db"

    assert invoke(db, *REGISTER_JM, RENOVATION_TZ=None, TZ=":/etc/localtime").exit_code == 0

    assert Renovation(db).json("db", "info")["time_zone"] == target.split("zoneinfo/", 1)[1]

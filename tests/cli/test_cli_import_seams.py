"""The import's seams (issue 12): a command recorded once whatever a file says, a copy's work re-applied
once, recording times that follow the log, a header that cannot crash the import, and an empty
store's time zone left as it was when an import fails."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_support import REGISTER_JM, Renovation, event_count

from renovation.services.application import RenovationApp

DEMOLITION = "IllegalStructuresRecorded"


def read(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """An export: its header line and its events."""
    header, *events = path.read_text(encoding="utf-8").splitlines()
    return header, [json.loads(line) for line in events]


def write(path: Path, header: str, events: list[dict[str, Any]]) -> Path:
    path.write_text(header + "\n" + "".join(json.dumps(event, ensure_ascii=False) + "\n" for event in events),
                    encoding="utf-8")
    return path


def moved(event: dict[str, Any], *, version: int, seconds: float = 0,
          at: str | None = None, command_id: str | bool | None = False) -> dict[str, Any]:
    """A copy of ``event`` as version ``version``, recorded ``seconds`` later (or at ``at``), with
    another command id if one is given."""
    copy = json.loads(json.dumps(event))
    copy["originator_version"] = version
    stamp = copy["state"]["timestamp"]
    stamp["_data_"] = at or (datetime.fromisoformat(stamp["_data_"]) + timedelta(seconds=seconds)).isoformat()
    if command_id is not False:
        copy["state"]["command_id"] = command_id
    return copy


def kinds(db: Path) -> list[str]:
    app = RenovationApp(str(db))
    try:
        return [n.topic.rsplit(".", 1)[-1] for n in app.iter_notifications()]
    finally:
        app.close()


@pytest.fixture
def copied(tmp_path: Path) -> tuple[Renovation, Path]:
    """The main store with JM registered, and the export of a copy of it that recorded a demolition
    (version 2) after."""
    main = Renovation(tmp_path / "main.db")
    main.ok(*REGISTER_JM)
    shutil.copyfile(tmp_path / "main.db", tmp_path / "copy.db")
    copy = Renovation(tmp_path / "copy.db")
    copy.ok("demolition", "record", "JM", "--count", "3")
    exported = tmp_path / "copy.jsonl"
    copy.ok("export", str(exported))
    return main, exported


def test_a_file_that_records_one_command_twice_is_refused(copied: tuple[Renovation, Path], tmp_path: Path) -> None:
    _main, exported = copied
    header, (registered, demolition) = read(exported)
    fresh = Renovation(tmp_path / "fresh.db")

    doubled = write(tmp_path / "doubled.jsonl", header, [registered, demolition, moved(demolition, version=3,
                                                                                         seconds=1)])
    result = fresh("import", str(doubled))

    assert result.exit_code == 2 and "line 4: command" in result.output and "recorded once" in result.output
    assert event_count(fresh.db) == 0
    # The same line with a command of its own is a second demolition, which the rules allow:
    fresh.ok("import", str(write(tmp_path / "two.jsonl", header, [
        registered, demolition, moved(demolition, version=3, seconds=1, command_id="d" * 32)])))
    assert kinds(Path(fresh.db)).count(DEMOLITION) == 2


def test_a_command_the_store_holds_is_not_recorded_again_by_a_file(copied: tuple[Renovation, Path],
                                                                   tmp_path: Path) -> None:
    main, exported = copied
    header, (registered, demolition) = read(exported)
    main.ok("import", str(exported))
    before = event_count(main.db)

    again = write(tmp_path / "again.jsonl", header, [registered, demolition, moved(demolition, version=3,
                                                                                      seconds=1)])
    result = main("import", str(again))

    assert result.exit_code == 2 and "is recorded already in this compound" in result.output, result.output
    assert event_count(main.db) == before


def test_rebase_applies_a_command_added_earlier_in_the_same_file_once(copied: tuple[Renovation, Path],
                                                                      tmp_path: Path) -> None:
    """Version 2 is appended as it is; version 3, the same command recorded before it, goes to be
    re-applied: it is the command this import has just added, so it is held already."""
    main, exported = copied
    header, (registered, demolition) = read(exported)
    earlier = registered["state"]["timestamp"]["_data_"]
    doubled = write(tmp_path / "doubled.jsonl", header, [registered, demolition, moved(demolition, version=3,
                                                                                         at=earlier)])

    result = main.ok("import", "--rebase", str(doubled))

    assert kinds(Path(main.db)).count(DEMOLITION) == 1, result.output
    assert "1 held already" in result.output


@pytest.mark.parametrize(("lines", "said"), [
    ((0, 3), "line 3: version 3 of"),  # version 2 of the copy is not in the file
    ((3,), "is the file's first line of its compound"),
])
def test_the_copys_work_to_rebase_follows_the_files_lines_of_its_compound(
        copied: tuple[Renovation, Path], tmp_path: Path, lines: tuple[int, ...], said: str) -> None:
    """The store holds JM version 3; the file's version 3 is another event: work to re-apply, which
    must follow the file's earlier lines of JM (what the copy did before it is unknown otherwise)."""
    main, exported = copied
    header, (registered, demolition) = read(exported)
    main.ok("import", str(exported))
    main.ok("demolition", "record", "JM", "--count", "1")
    before = event_count(main.db)
    other = moved(demolition, version=3, seconds=1, command_id="e" * 32)
    chosen = [{0: registered, 3: other}[index] for index in lines]

    result = main("import", "--rebase", str(write(tmp_path / "gap.jsonl", header, chosen)))

    assert result.exit_code == 2 and said in result.output and "missing" in result.output, result.output
    assert event_count(main.db) == before


def test_an_event_without_a_command_id_may_not_precede_one_with_it(copied: tuple[Renovation, Path],
                                                                   tmp_path: Path) -> None:
    """Events recorded before commands had ids may be out of order among themselves, but not before an
    event of a command: the next command's time is checked against the last event stored."""
    _main, exported = copied
    header, (registered, demolition) = read(exported)
    between = moved(demolition, version=3, seconds=-0.001, command_id=None)
    fresh = Renovation(tmp_path / "fresh.db")

    result = fresh("import", str(write(tmp_path / "legacy.jsonl", header, [registered, demolition, between])))

    assert result.exit_code == 2 and "line 4" in result.output and "before the latest event" in result.output
    assert event_count(fresh.db) == 0


@pytest.mark.parametrize("first", [
    "[" * 200_000 + "]" * 200_000,
    '{"renovation_export": true, "time_zone": null}',
    '{"renovation_export": 1.0, "time_zone": null}',
    '{"renovation_export": 1, "time_zone": "' + "\u202e" * 500 + '"}',
], ids=["nested", "true", "float", "long-zone"])
def test_a_bad_first_line_is_a_one_line_error(run: Renovation, tmp_path: Path, first: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(first + "\n", encoding="utf-8")

    result = run("import", str(bad))

    assert result.exit_code == 2 and len(run.lines(result)) == 1, result.output
    assert "Traceback" not in result.output and len(result.output) < 400
    assert event_count(run.db) == 0


def test_a_failed_import_leaves_an_empty_stores_zone_as_it_was(copied: tuple[Renovation, Path],
                                                               tmp_path: Path) -> None:
    _main, exported = copied
    _header, (registered, demolition) = read(exported)
    fresh = Renovation(tmp_path / "fresh.db")
    fresh.ok("db", "info")  # made, keeping RENOVATION_TZ's zone
    berlin = '{"renovation_export":1,"time_zone":"Europe/Berlin"}'
    bad = moved(demolition, version=3, seconds=1)  # the same command again: refused

    result = fresh("import", str(write(tmp_path / "bad.jsonl", berlin, [registered, demolition, bad])))

    assert result.exit_code == 2
    assert fresh.json("db", "info")["time_zone"] == "Asia/Shanghai"
    fresh.ok("import", str(write(tmp_path / "good.jsonl", berlin, [registered, demolition])))
    assert fresh.json("db", "info")["time_zone"] == "Europe/Berlin"


def test_a_bad_line_after_a_header_leaves_the_zone_on_either_backend(run: Renovation, tmp_path: Path) -> None:
    run.ok("db", "info")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"renovation_export":1,"time_zone":"Europe/Berlin"}\n{"originator_id": 1}\n', encoding="utf-8")

    result = run("import", str(bad))

    assert result.exit_code == 2 and "line 2" in result.output
    assert run.json("db", "info")["time_zone"] == "Asia/Shanghai"

"""`import --rebase` (issue 12, item 7): an offline copy's work on compounds the store advanced
meanwhile is re-applied on the current state, each command checked by the rules again, its ids given
afresh, its recording user and business time kept, the rebase itself recorded; what the rules refuse
now is reported, never dropped in silence; and rebasing the same file again applies nothing twice."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from cli_support import BOQ_CSV, REGISTER_JM, Renovation, event_count

from renovation.services.application import RenovationApp


def stored(db: Path) -> list[tuple[str, dict[str, Any]]]:
    """The store's events in log order: (event name, state as stored)."""
    app = RenovationApp(str(db))
    try:
        return [(n.topic.rsplit(".", 1)[-1], json.loads(n.state)) for n in app.iter_notifications()]
    finally:
        app.close()


@pytest.fixture
def diverged(tmp_path: Path) -> tuple[Renovation, Path]:
    """The main store and a field laptop's copy of it, each of which then inspected JM and went on."""
    main = Renovation(tmp_path / "main.db")
    boq = tmp_path / "boq.csv"
    boq.write_text(BOQ_CSV, encoding="utf-8")
    main.ok(*REGISTER_JM)
    main.ok("boq", "import", "JM", str(boq))
    main.ok("construction", "start", "JM", "--date", "2021-03-01")
    shutil.copyfile(tmp_path / "main.db", tmp_path / "laptop.db")
    laptop = Renovation(tmp_path / "laptop.db")
    laptop.ok("inspect", "JM", "--kind", "patrol", "--at", "2021-03-02T09:00",
              "--finding", "safety:major:脚手架未挂安全网")
    laptop.ok("finding", "rectify", "JM", "F1", "--at", "2021-03-03T10:00", "--note", "已挂网")
    laptop.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "60")
    laptop.ok("meter", "correct", "JM", "M1", "--quantity", "61", "--reason", "复核")
    main.ok("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30", "--finding", "quality:minor:墙面空鼓")
    main.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "50")
    exported = tmp_path / "laptop.jsonl"
    laptop.ok("export", str(exported))
    return main, exported


def test_without_rebase_the_conflict_is_refused_and_rebase_is_named(diverged: tuple[Renovation, Path]) -> None:
    main, exported = diverged
    before = event_count(main.db)

    result = main("import", str(exported))

    assert result.exit_code == 2
    assert "conflict" in result.output and "import --rebase" in result.output
    assert event_count(main.db) == before


def test_rebase_reapplies_the_copys_work_on_the_current_state(diverged: tuple[Renovation, Path]) -> None:
    main, exported = diverged
    before = stored(Path(main.db))

    result = main("import", "--rebase", str(exported))

    assert result.exit_code == 0, result.output
    after = stored(Path(main.db))
    added = after[len(before):]
    names = [name for name, _state in added]
    # The inspection and its rectification re-applied (ids anew: the store has I1/F1 already); the
    # metering of 60 is refused now (50 metered here, 100 contracted), and its correction with it.
    assert names == ["InspectionRecorded", "FindingRectified", "CopyRebased"]
    inspection, rectified, rebased = (state for _name, state in added)
    assert inspection["inspection_id"] == "I2" and inspection["findings"][0]["_data_"]["finding_id"] == "F2"
    assert rectified["finding_id"] == "F2" and rectified["note"] == "已挂网"
    assert inspection["at"]["_data_"] == "2021-03-02T09:00:00+08:00"  # the business time kept
    assert inspection["user"] == rectified["user"] == "tester"  # the recording user kept
    assert (rebased["applied"], rebased["not_applied"], rebased["renumbered"]) == (2, 2, ["I1=I2", "F1=F2"])
    assert rebased["source"] == "laptop.jsonl"
    output = main.lines(result)
    assert "re-applied 2 of the copy's commands on the current state, 2 not applied" in output
    refused = [line for line in output if line.startswith("not applied: ")]
    assert len(refused) == 2 and "QuantityMeasured" in refused[0] and "MeasurementCorrected" in refused[1]
    assert "refers to M1" in refused[1]
    times = [state["timestamp"]["_data_"] for _name, state in after]
    assert times == sorted(times)  # recorded now, after everything the store held
    assert "the chain is intact" in main.ok("audit", "verify").output
    (quality,) = main.json("quality")
    assert quality["inspections"] == 2 and quality["findings_open"] == 2  # F1, and F2 rectified, not closed


def test_rebasing_the_same_file_again_applies_nothing_twice(diverged: tuple[Renovation, Path]) -> None:
    main, exported = diverged
    main.ok("import", "--rebase", str(exported))
    count = event_count(main.db)

    again = main.ok("import", "--rebase", str(exported))

    assert event_count(main.db) == count
    assert "re-applied 0 of the copy's commands on the current state, 2 held already, 2 not applied" in again.output


def test_work_recorded_before_the_stores_latest_event_is_reapplied_not_appended(tmp_path: Path) -> None:
    """No version conflict (the copy worked on another compound), but the copy's events were
    recorded before the store's latest: appended as they are they would put the log's times out of
    order. Refused without --rebase; with it, recorded anew."""
    main = Renovation(tmp_path / "main.db")
    main.ok(*REGISTER_JM)
    shutil.copyfile(tmp_path / "main.db", tmp_path / "laptop.db")
    laptop = Renovation(tmp_path / "laptop.db")
    laptop.ok("demolition", "record", "JM", "--count", "3")
    main.ok("compound", "register", "XY", "--name", "兴业小区", "--district", "西安区", "--contractor", "示例建工",
            "--households", "120", "--contract-value", "500000", "--planned-start", "2021-04-01",
            "--planned-finish", "2021-10-31", "--registered-on", "2021-01-04")
    exported = tmp_path / "laptop.jsonl"
    laptop.ok("export", str(exported))

    refused = main("import", str(exported))
    assert refused.exit_code == 2 and "recording times follow the log" in refused.output

    main.ok("import", "--rebase", str(exported))
    names = [name for name, _state in stored(Path(main.db))]
    assert names[-2:] == ["IllegalStructuresRecorded", "CopyRebased"]


def test_a_copys_events_out_of_sequence_are_refused_not_applied_twice(diverged: tuple[Renovation, Path],
                                                                      tmp_path: Path) -> None:
    """Two exports of the copy concatenated: once a compound's lines are re-applied, its versions must
    still follow one another."""
    main, exported = diverged
    lines = exported.read_text(encoding="utf-8").splitlines()
    both = tmp_path / "both.jsonl"
    both.write_text("\n".join([*lines, *lines[1:]]) + "\n", encoding="utf-8")
    before = event_count(main.db)

    result = main("import", "--rebase", str(both))

    assert result.exit_code == 2 and "out of sequence" in result.output, result.output
    assert event_count(main.db) == before


def test_work_without_command_ids_is_rebased_once(diverged: tuple[Renovation, Path], tmp_path: Path) -> None:
    """A copy written before commands had ids: each of its events gets an id made from its content,
    the same at every rebase, so rebasing it again applies nothing."""
    main, exported = diverged
    lines = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    for line in lines[1:]:
        line["state"]["command_id"] = None
    legacy = tmp_path / "legacy.jsonl"
    legacy.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")

    main.ok("import", "--rebase", str(legacy))
    count = event_count(main.db)
    again = main.ok("import", "--rebase", str(legacy))

    assert event_count(main.db) == count
    assert "re-applied 0 of the copy's commands" in again.output


def test_a_copys_own_rebase_is_not_reapplied(diverged: tuple[Renovation, Path], tmp_path: Path) -> None:
    """The laptop rebased work of its own before: its CopyRebased says so of the laptop, not of here."""
    main, exported = diverged
    lines = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    last = lines[-1]
    own = {"originator_id": last["originator_id"], "originator_version": last["originator_version"] + 1,
           "topic": "renovation.domain.compound:CompoundProject.CopyRebased",
           "state": {"timestamp": last["state"]["timestamp"], "user": "tester", "command_id": "c" * 32,
                     "source": "older.jsonl", "applied": 1, "not_applied": 0, "renumbered": []}}
    copied = tmp_path / "copied.jsonl"
    copied.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in [*lines, own]),
                      encoding="utf-8")

    result = main.ok("import", "--rebase", str(copied))

    rebases = [state for name, state in stored(Path(main.db)) if name == "CopyRebased"]
    assert [state["source"] for state in rebases] == ["copied.jsonl"], result.output


def test_work_without_command_ids_is_known_however_its_lines_spell_it(diverged: tuple[Renovation, Path],
                                                                      tmp_path: Path) -> None:
    """The id made for an event without one comes from what the event says, not from how the line
    spells it: the same copy written again with its keys in another order, and without the empty
    command id, is the same work."""
    main, exported = diverged
    header, *lines = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        line["state"]["command_id"] = None
    legacy = tmp_path / "legacy.jsonl"
    legacy.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in [header, *lines]),
                      encoding="utf-8")
    respelled = tmp_path / "respelled.jsonl"
    for line in lines:
        line["state"] = {key: line["state"][key] for key in reversed(line["state"]) if key != "command_id"}
    respelled.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in [header, *lines]),
                         encoding="utf-8")

    main.ok("import", "--rebase", str(legacy))
    count = event_count(main.db)
    again = main.ok("import", "--rebase", str(respelled))

    assert event_count(main.db) == count
    assert "re-applied 0 of the copy's commands" in again.output, again.output


def test_a_copys_rebase_line_with_a_command_held_here_as_another_event_is_refused(
        diverged: tuple[Renovation, Path], tmp_path: Path) -> None:
    main, exported = diverged
    header, *lines = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    last = lines[-1]
    forged = {"originator_id": last["originator_id"], "originator_version": last["originator_version"] + 1,
              "topic": "renovation.domain.compound:CompoundProject.CopyRebased",
              "state": {"timestamp": last["state"]["timestamp"], "user": "tester",
                        "command_id": lines[0]["state"]["command_id"],  # the registration's, held here
                        "source": "older.jsonl", "applied": 1, "not_applied": 0, "renumbered": []}}
    copied = tmp_path / "forged.jsonl"
    copied.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in [header, *lines, forged]),
                      encoding="utf-8")
    before = event_count(main.db)

    result = main("import", "--rebase", str(copied))

    assert result.exit_code == 2 and "held here by another event (Registered" in result.output, result.output
    assert event_count(main.db) == before

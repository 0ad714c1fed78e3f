"""An import goes through the same rules as the commands (issue 12, item 6): every event of a file is
re-derived by running its command on the compound as it stood, with the event's own user, time and
arguments. A file holding an event no command would record is refused whole, naming the line and
the rule; nothing of it is stored, and every board still answers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_support import Renovation, event_count, events_of_export

Line = dict[str, Any]


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> list[Line]:
    """The lines of a two-compound programme's export, to the end of April."""
    folder = tmp_path_factory.mktemp("import-rules")
    source = Renovation(folder / "source.db")
    source.ok("demo", "--compounds", "2", "--until", "2021-04-30")
    file = folder / "log.jsonl"
    source.ok("export", str(file))
    return [json.loads(line) for line in events_of_export(file.read_text(encoding="utf-8"))]


def event_name(line: Line) -> str:
    return str(line["topic"]).rsplit(".", 1)[-1]


def first(lines: list[Line], name: str) -> int:
    return next(index for index, line in enumerate(lines) if event_name(line) == name)


def data(value: Any) -> Any:
    """A transcoded value's plain content (``{"_type_": ..., "_data_": x}`` gives x)."""
    return value["_data_"] if isinstance(value, dict) and "_data_" in value else value


def with_data(value: Any, new: Any) -> Any:
    return {**value, "_data_": new} if isinstance(value, dict) and "_data_" in value else new


def set_field(name: str, field: str, new: Callable[[Any], Any]) -> Callable[[list[Line]], int]:
    """Change ``field`` of the first event called ``name``; returns its line number (1-based)."""
    def change(lines: list[Line]) -> int:
        index = first(lines, name)
        state = lines[index]["state"]
        state[field] = with_data(state[field], new(data(state[field])))
        return index + 1
    return change


def second_score(lines: list[Line]) -> int:
    index = first(lines, "HorseRaceScored")
    again = json.loads(json.dumps(lines[index]))
    same = [i for i, line in enumerate(lines) if line["originator_id"] == again["originator_id"]]
    again["originator_version"] = lines[same[-1]]["originator_version"] + 1
    again["state"]["timestamp"] = lines[same[-1]]["state"]["timestamp"]
    lines.append(again)
    return len(lines)


def reused_inspection_ids(lines: list[Line]) -> int:
    inspections = [i for i, line in enumerate(lines) if event_name(line) == "InspectionRecorded"]
    indexes = [i for i in inspections if lines[i]["originator_id"] == lines[inspections[0]]["originator_id"]]
    later = lines[indexes[1]]["state"]
    later["inspection_id"] = lines[indexes[0]]["state"]["inspection_id"]
    return indexes[1] + 1


def backdated(lines: list[Line]) -> int:
    """A metering recorded, so the file says, a day before the compound's previous event."""
    index = first(lines, "QuantityMeasured")
    previous = max(i for i in range(index) if lines[i]["originator_id"] == lines[index]["originator_id"])
    stamp = data(lines[previous]["state"]["timestamp"])
    earlier = (datetime.fromisoformat(stamp) - timedelta(days=1)).isoformat()
    lines[index]["state"]["timestamp"] = with_data(lines[index]["state"]["timestamp"], earlier)
    return index + 1


def before_another_compounds(lines: list[Line]) -> int:
    """A metering recorded after its own compound's previous event but a second before the event of
    another compound logged just before it: recording times follow the log, store-wide."""
    def stamp(index: int) -> datetime:
        return datetime.fromisoformat(data(lines[index]["state"]["timestamp"]))

    for index, line in enumerate(lines):
        if event_name(line) != "QuantityMeasured" or lines[index - 1]["originator_id"] == line["originator_id"]:
            continue
        own = max(i for i in range(index) if lines[i]["originator_id"] == line["originator_id"])
        earlier = stamp(index - 1) - timedelta(seconds=1)
        if stamp(own) <= earlier:
            line["state"]["timestamp"] = with_data(line["state"]["timestamp"], earlier.isoformat())
            return index + 1
    raise AssertionError("the export has no metering right after another compound's later event")


def registration_of_version(version: int, registered_on: str | None) -> Callable[[list[Line]], int]:
    """The first registration, as of ``class_version`` ``version``, carrying ``registered_on``."""
    def change(lines: list[Line]) -> int:
        index = first(lines, "Registered")
        state = lines[index]["state"]
        state["class_version"] = version
        state["registered_on"] = {"_type_": "date_iso", "_data_": registered_on} if registered_on else None
        return index + 1
    return change


CASES: dict[str, Callable[[list[Line]], int]] = {
    "a registration day in a registration of class_version 1": registration_of_version(1, "2021-01-04"),
    "no registration day in a registration of class_version 2": registration_of_version(2, None),
    "a recording time before the compound's previous event": backdated,
    "a recording time before another compound's earlier event": before_another_compounds,
    "a recording time in the future": set_field("QuantityMeasured", "timestamp",
                                                lambda _v: "2099-01-01T00:00:00+08:00"),
    "a score of 999999": set_field("HorseRaceScored", "quality", lambda _v: "999999"),
    "a value that is not quantity times price": set_field("QuantityMeasured", "value", lambda _v: "99999999.00"),
    "an inspection kind no command takes": set_field("InspectionRecorded", "kind", lambda _v: "evening"),
    "a regime no command takes": set_field("MaterialSampled", "regime", lambda _v: "nope"),
    "a period that is no month": set_field("QuantityMeasured", "period", lambda _v: "9999-99"),
    "no households": set_field("Registered", "households", lambda _v: 0),
    "a name of 101 characters": set_field("Registered", "name", lambda _v: "长" * 101),
    "a second score for a scored period": second_score,
    "an inspection reusing an id": reused_inspection_ids,
    "a business time after its recording time": set_field(
        "InspectionRecorded", "at", lambda v: "2099-01-01T06:30:00+08:00"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_event_no_command_would_record_is_refused(export: list[Line], tmp_path: Path, case: str) -> None:
    lines = json.loads(json.dumps(export))
    number = CASES[case](lines)
    file = tmp_path / "forged.jsonl"
    file.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    target = Renovation(tmp_path / "target.db")
    target.ok("db", "zone", "Asia/Shanghai")  # an empty store, which the refused file leaves empty

    result = target("import", str(file))

    assert result.exit_code == 2, (case, result.output)
    (message,) = target.lines(result)
    assert message.startswith("Error: ") and f"forged.jsonl: line {number}: " in message, message
    assert "Traceback" not in result.output
    assert event_count(target.db) == 0
    for board in (("quality",), ("progress",), ("feedback", "list"), ("ranking",)):
        target.ok(*board)


def test_an_amount_within_a_list_is_held_to_its_scale(export: list[Line], tmp_path: Path) -> None:
    """A certificate's cited entry whose value is written with another scale than its command writes ("462.000"
    for "462.00": the same number) is refused, naming where within the event it differs."""
    lines = json.loads(json.dumps(export))
    index = first(lines, "PaymentCertified")
    cited = lines[index]["state"]["entries"][0]["_data_"]
    written = data(cited["value"])
    cited["value"] = with_data(cited["value"], written + "0")
    file = tmp_path / "forged.jsonl"
    file.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    target = Renovation(tmp_path / "target.db")

    result = target("import", str(file))

    assert result.exit_code == 2
    assert target.lines(result) == [f"Error: {file}: line {index + 1}: PaymentCertified does not follow from its "
                                    f"command: entries[0].value is {written}0, the rules give {written}"]
    assert event_count(target.db) == 0


def test_a_line_the_store_holds_but_for_an_amounts_scale_is_another_event(export: list[Line], tmp_path: Path) -> None:
    """Imported again with a cited entry's value written "462.000" for "462.00", a line is not the event the
    store holds (it was taken for it, and the import said it had nothing new)."""
    honest = tmp_path / "log.jsonl"
    honest.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in export), encoding="utf-8")
    target = Renovation(tmp_path / "target.db")
    target.ok("import", str(honest))
    lines = json.loads(json.dumps(export))
    index = first(lines, "PaymentCertified")
    cited = lines[index]["state"]["entries"][0]["_data_"]
    cited["value"] = with_data(cited["value"], data(cited["value"]) + "0")
    forged = tmp_path / "forged.jsonl"
    forged.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")

    result = target("import", str(forged))

    assert result.exit_code != 0, result.output
    (message,) = target.lines(result)
    assert message.startswith(f"Error: {forged}: line {index + 1}: conflict: "), message
    assert event_count(target.db) == len(export)


def test_a_value_within_a_list_that_does_not_follow_is_named_by_where_it_is(export: list[Line],
                                                                            tmp_path: Path) -> None:
    lines = json.loads(json.dumps(export))
    index = next(i for i, line in enumerate(lines)
                 if event_name(line) == "InspectionRecorded" and line["state"]["findings"])
    lines[index]["state"]["findings"][0]["_data_"]["status"] = "closed"
    file = tmp_path / "forged.jsonl"
    file.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    target = Renovation(tmp_path / "target.db")

    result = target("import", str(file))

    assert target.lines(result) == [f"Error: {file}: line {index + 1}: InspectionRecorded does not follow from its "
                                    "command: findings[0].status is closed, the rules give open"]
    assert event_count(target.db) == 0


def test_an_honest_export_still_imports_whole(export: list[Line], tmp_path: Path) -> None:
    file = tmp_path / "log.jsonl"
    file.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in export), encoding="utf-8")
    target = Renovation(tmp_path / "target.db")

    target.ok("import", str(file))

    assert event_count(target.db) == len(export)
    assert "the chain is intact" in target.ok("audit", "verify").output


def test_an_event_recorded_by_a_user_without_the_role_is_refused(tmp_path: Path) -> None:
    """With roles configured, an import may not carry a score (the bureau's to give) recorded by a
    supervisor: the file is made by people with their roles, then the score's user is changed."""
    from cli_support import BOQ_CSV, ENV, REGISTER_JM
    from click.testing import CliRunner

    from renovation.cli import cli

    config = tmp_path / "renovation.toml"
    config.write_text('[users]\n"孙工" = { role = "auditor" }\n"张工" = { role = "supervisor" }\n'
                      '"周科长" = { role = "bureau" }\n', encoding="utf-8")
    boq = tmp_path / "boq.csv"
    boq.write_text(BOQ_CSV, encoding="utf-8")

    def as_user(db: Path, user: str, *args: str) -> Any:
        result = CliRunner().invoke(cli, ["--db", str(db), "--user", user, "--config", str(config), *args], env=ENV)
        return result

    source = tmp_path / "source.db"
    for user, args in [("周科长", REGISTER_JM), ("孙工", ("boq", "import", "JM", str(boq))),
                       ("周科长", ("construction", "start", "JM", "--date", "2021-03-01")),
                       ("周科长", ("score", "JM", "--period", "2021-03", "--quality", "90", "--safety", "90",
                                 "--progress", "90", "--civilized", "90", "--satisfaction", "90"))]:
        assert as_user(source, user, *args).exit_code == 0
    file = tmp_path / "log.jsonl"
    assert as_user(source, "孙工", "export", str(file)).exit_code == 0
    lines = [json.loads(line) for line in events_of_export(file.read_text(encoding="utf-8"))]
    index = first(lines, "HorseRaceScored")
    lines[index]["state"]["user"] = "张工"
    file.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    target = tmp_path / "target.db"

    result = as_user(target, "孙工", "import", str(file))

    assert result.exit_code == 2, result.output
    assert f"line {index + 1}: " in result.output and "张工" in result.output
    assert event_count(target) == 0


def test_an_offline_copys_diverging_work_is_a_conflict_not_silently_dropped(tmp_path: Path) -> None:
    """A field laptop's copy recorded an inspection on a compound the main store had advanced too: the
    same version holds different events. Importing the copy's export used to say "imported 0 new
    events" and exit 0, losing the inspection; it is refused, naming the compound and version."""
    import shutil

    from cli_support import BOQ_CSV, REGISTER_JM

    main = Renovation(tmp_path / "main.db")
    boq = tmp_path / "boq.csv"
    boq.write_text(BOQ_CSV, encoding="utf-8")
    main.ok(*REGISTER_JM)
    main.ok("boq", "import", "JM", str(boq))
    main.ok("construction", "start", "JM", "--date", "2021-03-01")
    shutil.copyfile(tmp_path / "main.db", tmp_path / "laptop.db")
    laptop = Renovation(tmp_path / "laptop.db")
    laptop.ok("inspect", "JM", "--kind", "patrol", "--finding", "safety:major:脚手架未挂安全网")
    main.ok("meter", "JM", "--item", "A1", "--period", "2021-04", "--quantity", "3")
    exported = tmp_path / "laptop.jsonl"
    laptop.ok("export", str(exported))
    before = event_count(main.db)

    result = main("import", str(exported))

    assert result.exit_code == 2, result.output
    (line,) = main.lines(result)
    assert "line 5: " in line and "conflict" in line and "JM" in line and "version 4" in line  # after the header
    assert event_count(main.db) == before
    identical = tmp_path / "main.jsonl"
    main.ok("export", str(identical))
    assert "imported 0 new events" in main.ok("import", str(identical)).output  # the same events: skipped


def without_command_ids(lines: list[Line]) -> list[Line]:
    """The lines as written before commands had ids: no command id, and so each blind sample numbered
    B1, B2, ... in its compound, as the rules number one without a command id (a blind sample of a
    command is named by the command's id), wherever its id appears."""
    legacy: list[Line] = json.loads(json.dumps(lines))
    renamed: dict[str, dict[str, str]] = {}  # compound -> blind sample id -> its legacy id
    for line in legacy:
        line["state"]["command_id"] = None
        state = line["state"]
        if event_name(line) == "MaterialSampled" and data(state["regime"]) == "blind":
            ids = renamed.setdefault(line["originator_id"], {})
            ids[data(state["sample_id"])] = f"B{len(ids) + 1}"
    assert renamed, "the programme takes blind samples"
    for line in legacy:
        text = json.dumps(line["state"], ensure_ascii=False)
        for sample_id, legacy_id in renamed.get(line["originator_id"], {}).items():
            text = re.sub(rf"\b{sample_id}\b", legacy_id, text)
        line["state"] = json.loads(text)
    return legacy


def test_an_event_without_a_command_id_is_not_recorded_before_the_store_held(export: list[Line],
                                                                          tmp_path: Path) -> None:
    """Events written before commands had ids may be out of order among themselves, never before what
    the store held when the import began."""
    from cli_support import REGISTER_JM

    lines = without_command_ids(export)
    file = tmp_path / "legacy.jsonl"
    file.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
    target = Renovation(tmp_path / "target.db")
    target.ok("compound", "register", "ZZ", *REGISTER_JM[3:])  # recorded now, after every event of the file
    before = event_count(target.db)

    result = target("import", str(file))

    assert result.exit_code == 2 and "line 1: " in result.output and "recording times follow the log" in result.output
    assert event_count(target.db) == before
    assert Renovation(tmp_path / "empty.db").ok("import", str(file)).exit_code == 0  # into an empty store: whole

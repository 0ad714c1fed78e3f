"""The import's seams (issue 12): a command recorded once whatever a file says, a copy's work re-applied
once, recording times that follow the log, a header that cannot crash the import, and an empty
store's time zone left as it was when an import fails."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_support import ENV, REGISTER_JM, Renovation, event_count

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


def test_a_command_added_by_the_file_and_then_given_again_to_rebase_is_refused(copied: tuple[Renovation, Path],
                                                                                tmp_path: Path) -> None:
    """Version 2 is appended as it is; version 3, the same command recorded before it, would go to be
    re-applied: one command twice in a file is refused, with --rebase too."""
    main, exported = copied
    header, (registered, demolition) = read(exported)
    earlier = registered["state"]["timestamp"]["_data_"]
    doubled = write(tmp_path / "doubled.jsonl", header, [registered, demolition, moved(demolition, version=3,
                                                                                         at=earlier)])
    before = event_count(main.db)

    result = main("import", "--rebase", str(doubled))

    assert result.exit_code == 2 and "line 4: command" in result.output and "recorded once" in result.output
    assert event_count(main.db) == before


@pytest.mark.parametrize("command_id", ['x"y', "q\\z", "E" * 32, "e" * 31, "", "g" * 32])
def test_a_command_id_is_one_the_tracker_makes(copied: tuple[Renovation, Path], tmp_path: Path,
                                               command_id: str) -> None:
    """Anything else would escape the once-per-compound rule (a quote the store's scan cannot read,
    the same id in another case)."""
    _main, exported = copied
    header, (registered, demolition) = read(exported)
    fresh = Renovation(tmp_path / "fresh.db")

    result = fresh("import", str(write(tmp_path / "odd.jsonl", header, [
        registered, moved(demolition, version=2, command_id=command_id)])))

    assert result.exit_code == 2 and "command_id is not 32 lower-case hex digits" in result.output
    assert event_count(fresh.db) == 0


def test_a_line_to_rebase_whose_command_the_store_holds_as_another_event_is_refused(
        copied: tuple[Renovation, Path], tmp_path: Path) -> None:
    """A forged copy: its demolition carries the command id of the store's own registration. Taken as
    "held already", the demolition would be dropped in silence."""
    main, exported = copied
    header, (registered, demolition) = read(exported)
    main.ok("demolition", "record", "JM", "--count", "1")  # version 2 here: the copy's is a conflict
    before = event_count(main.db)
    forged = moved(demolition, version=2, command_id=registered["state"]["command_id"])

    result = main("import", "--rebase", str(write(tmp_path / "forged.jsonl", header, [registered, forged])))

    assert result.exit_code == 2, result.output
    assert ("held here by another event (Registered by tester; the line's IllegalStructuresRecorded differs "
            "in kind)") in result.output
    assert event_count(main.db) == before


def test_every_time_of_an_event_is_in_the_stores_zone(copied: tuple[Renovation, Path], tmp_path: Path) -> None:
    """A time in another offset would be read in that offset's day and hour (a morning round at
    06:30 UTC is 14:30 in Shanghai, after noon), and the store's times would no longer be one zone's."""
    _main, exported = copied
    header, (registered, demolition) = read(exported)
    utc = moved(demolition, version=2)
    stamp = datetime.fromisoformat(utc["state"]["timestamp"]["_data_"])
    utc["state"]["timestamp"]["_data_"] = stamp.astimezone(UTC).isoformat()  # the same instant
    fresh = Renovation(tmp_path / "fresh.db")

    result = fresh("import", str(write(tmp_path / "utc.jsonl", header, [registered, utc])))

    assert result.exit_code == 2 and "line 3: timestamp" in result.output
    assert "is not in the store's time zone Asia/Shanghai" in result.output
    assert event_count(fresh.db) == 0


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
    header, (registered, demolition) = read(exported)  # the header names Asia/Shanghai
    fresh = Renovation(tmp_path / "fresh.db")
    fresh.ok("db", "zone", "Europe/Berlin")  # made, empty
    bad = moved(demolition, version=3, seconds=1)  # the same command again: refused

    result = fresh("import", str(write(tmp_path / "bad.jsonl", header, [registered, demolition, bad])))

    assert result.exit_code == 2
    assert fresh.json("db", "info")["time_zone"] == "Europe/Berlin"
    fresh.ok("import", str(write(tmp_path / "good.jsonl", header, [registered, demolition])))
    assert fresh.json("db", "info")["time_zone"] == "Asia/Shanghai"


def test_a_killed_import_leaves_an_empty_stores_zone_as_it_was(copied: tuple[Renovation, Path],
                                                               tmp_path: Path) -> None:
    """The header's zone is kept in the import's own transaction: killed, the import leaves neither."""
    _main, exported = copied
    fresh = Renovation(tmp_path / "fresh.db")
    fresh.ok("db", "zone", "Europe/Berlin")
    env = {key: value for key, value in {**os.environ, **ENV}.items() if value is not None}
    env.update(RENOVATION_CRASH_AT="import_batch:1", RENOVATION_USER="tester")

    killed = subprocess.run([sys.executable, "-c", "from renovation.cli import cli; cli()", "--db", str(fresh.db),
                             "import", str(exported)], env=env, capture_output=True, text=True, timeout=120,
                            check=False)

    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert event_count(fresh.db) == 0
    assert fresh.json("db", "info")["time_zone"] == "Europe/Berlin"


def test_a_bad_line_after_a_header_leaves_the_zone_on_either_backend(run: Renovation, tmp_path: Path) -> None:
    run.ok("db", "zone", "Asia/Shanghai")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"renovation_export":1,"time_zone":"Europe/Berlin"}\n{"originator_id": 1}\n', encoding="utf-8")

    result = run("import", str(bad))

    assert result.exit_code == 2 and "line 2" in result.output
    assert run.json("db", "info")["time_zone"] == "Asia/Shanghai"


def test_an_amount_keeps_the_scale_its_command_records(run: Renovation, started: str, tmp_path: Path) -> None:
    """The fen is part of the record: a metered value of "1234.5" is not the "1234.50" that the
    command records, though the two are equal as numbers."""
    run.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "10")
    exported = tmp_path / "metered.jsonl"
    run.ok("export", str(exported))
    header, events = read(exported)
    metered = next(event for event in events if event["topic"].endswith("QuantityMeasured"))
    assert metered["state"]["value"]["_data_"] == "1234.50"
    metered["state"]["value"]["_data_"] = "1234.5"
    fresh = Renovation(tmp_path / "fresh.db")

    result = fresh("import", str(write(tmp_path / "scaled.jsonl", header, events)))

    assert result.exit_code == 2 and "value" in result.output and "1234.5" in result.output, result.output
    assert event_count(fresh.db) == 0


def test_a_refused_import_into_a_new_path_leaves_no_store(run: Renovation, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"originator_id": 1}\n', encoding="utf-8")
    db = tmp_path / "never.db"
    fresh = Renovation(db)

    result = fresh("import", str(bad))

    assert result.exit_code == 2
    assert not db.exists()
    assert "no store at" in fresh("compound", "list").output


def test_a_rebase_changing_a_held_commands_arguments_is_refused(copied: tuple[Renovation, Path],
                                                                tmp_path: Path) -> None:
    """The copy's demolition was re-applied here; the same file again, its count changed, is not the
    same work: refused, not "held already"."""
    main, exported = copied
    header, (registered, demolition) = read(exported)
    main.ok("demolition", "record", "JM", "--count", "1")  # version 2 here: the copy's is re-applied
    main.ok("import", "--rebase", str(exported))
    before = event_count(main.db)
    changed = json.loads(json.dumps(demolition))
    changed["state"]["count"] = 9

    result = main("import", "--rebase", str(write(tmp_path / "changed.jsonl", header, [registered, changed])))

    assert result.exit_code == 2 and "differs in count" in result.output, result.output
    assert event_count(main.db) == before


def test_an_old_stores_events_spelled_otherwise_are_the_same_events(tmp_path: Path) -> None:
    """A store written before commands had ids, exported and given back with an empty command id on
    every line: the same events, not a conflict, and with --rebase nothing is re-applied."""
    db = tmp_path / "old.db"
    shutil.copyfile(Path(__file__).parents[1] / "fixtures" / "store-2021-v1.db", db)
    old = Renovation(db)
    exported = tmp_path / "old.jsonl"
    old.ok("export", str(exported))
    header, events = read(exported)
    for event in events:
        event["state"]["command_id"] = None
    respelled = write(tmp_path / "respelled.jsonl", header, events)
    before = event_count(db)

    plain = old.ok("import", str(respelled))
    rebased = old.ok("import", "--rebase", str(respelled))

    assert "imported 0 new events" in plain.output and "imported 0 new events" in rebased.output
    assert "re-applied" not in rebased.output
    assert event_count(db) == before


@pytest.mark.parametrize(("line", "said"), [
    ('{"originator_id": "x", "topic": "unfinished', "(Invalid control character at character 44 of the line)"),
    ('{"originator_id": "x",, "topic": 1}', "(Expecting property name enclosed in double quotes, at character 23 "
                                            "of the line)"),
], ids=["cut", "comma"])
def test_a_line_that_is_not_json_is_named_with_where_it_breaks(run: Renovation, tmp_path: Path, line: str,
                                                               said: str) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"renovation_export": 1, "time_zone": null}\n' + line + "\n", encoding="utf-8")

    result = run("import", str(bad))

    assert result.exit_code == 2 and len(run.lines(result)) == 1, result.output
    assert f"line 2: not valid JSON {said}" in result.output


@pytest.mark.parametrize("count", [10**9 + 1, 2**64, 10**30], ids=["over-the-rule", "65-bits", "30-digits"])
def test_a_count_too_large_is_refused_however_large(copied: tuple[Renovation, Path], tmp_path: Path,
                                                    count: int) -> None:
    """A count past what a command records is refused in one line, the same words however large (orjson reads
    an integer past 64 bits as a float: such a line is read by the JSON module)."""
    main, exported = copied
    header, events = read(exported)
    events[-1]["state"]["count"] = count
    before = event_count(main.db)

    result = main("import", str(write(tmp_path / "large.jsonl", header, events)))

    assert result.exit_code == 2 and len(main.lines(result)) == 1, result.output
    said = f"line {len(events) + 1}: not a valid {DEMOLITION}: count is not of its type, or out of range"
    assert said in result.output
    assert event_count(main.db) == before


@pytest.mark.parametrize("depth", [101, 900, 990, 995, 1000, 1020, 1100])
def test_a_value_nested_deeper_than_any_event_is_refused_in_one_line(copied: tuple[Renovation, Path],
                                                                            tmp_path: Path, depth: int) -> None:
    """A value nested deeper than ``transcoding.DEEPEST`` is refused as nested too deeply, however the line is
    read (orjson, or the JSON module, whose own limit depends on the stack), nothing stored."""
    main, exported = copied
    header, events = read(exported)
    lines = write(tmp_path / "deep.jsonl", header, events).read_text(encoding="utf-8").splitlines()
    lines[-1] = lines[-1].replace('"count": 3', '"count": ' + "[" * depth + "]" * depth, 1)
    assert "[[[" in lines[-1]
    deep = tmp_path / "deeper.jsonl"
    deep.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = event_count(main.db)

    result = main("import", str(deep))

    assert result.exit_code == 2 and len(main.lines(result)) == 1, result.output
    assert f"line {len(lines)}: nested too deeply" in result.output and "Traceback" not in result.output
    assert event_count(main.db) == before


@pytest.mark.parametrize(("first", "said"), [
    ('"user":{"_type_":"nosuch","_data_":1},"user":', "a value does not decode (no value is of the type 'nosuch')"),
    ('"user":{"_type_":"date_iso","_data_":"bogus"},"user":', "not valid (Invalid isoformat string: 'bogus')"),
    ('"user":{"_type_":"decimal_str","_data_":"1E+99999"},"user":', "not valid ('1E+99999' is not a decimal"),
    ('"timestamp":{"_type_":"datetime_iso","_data_":{"_type_":"nosuch","_data_":0},"_data_":',
     "a value does not decode (no value is of the type 'nosuch')"),
], ids=["unknown-type", "bad-date", "exponent", "inner-data"])
@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_key_given_twice_is_read_as_the_json_module_reads_it(
        copied: tuple[Renovation, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first: str, said: str,
        workers: str) -> None:
    """Of a key given twice orjson reads the last value alone, the JSON module decodes the first too (and the
    application, loading a compound, reads as it does): a line whose first value does not decode is refused
    in the JSON module's words, by one process or by workers, nothing stored."""
    main, exported = copied
    monkeypatch.setenv("RENOVATION_IMPORT_WORKERS", workers)
    lines = exported.read_text(encoding="utf-8").splitlines()
    key = first[:first.index(":")]
    assert lines[-1].count(key + ":") == 1
    lines[-1] = lines[-1].replace(key + ":" if "_data_" not in key else '"_data_":', first, 1)
    twice = tmp_path / "twice.jsonl"
    twice.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = event_count(main.db)

    result = main("import", str(twice))

    assert result.exit_code == 2 and len(main.lines(result)) == 1, result.output
    assert f"line {len(lines)}: {said}" in result.output, result.output
    assert event_count(main.db) == before


def test_a_deep_value_beside_a_float_is_refused_as_nested_too_deeply(copied: tuple[Renovation, Path],
                                                                    tmp_path: Path) -> None:
    """A float leaves the line to the JSON module, which reads deeper than ``transcoding.DEEPEST``: refused all the
    same, in the same words."""
    main, exported = copied
    lines = exported.read_text(encoding="utf-8").splitlines()
    lines[-1] = lines[-1].replace('"count":3', '"count":[1.5,' + "[" * 100 + "]" * 100 + "]", 1)
    assert "1.5" in lines[-1]
    deep = tmp_path / "deep.jsonl"
    deep.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = main("import", str(deep))

    assert result.exit_code == 2 and f"line {len(lines)}: nested too deeply" in result.output, result.output


@pytest.mark.parametrize(("values", "said"), [
    ('{"_type_":"nosuch","_data_":1},"count":{"_type_":"date_iso","_data_":"x"}',
     "a value does not decode (no value is of the type 'nosuch')"),
    ('{"_type_":"date_iso","_data_":"x"},"count":{"_type_":"nosuch","_data_":1}',
     "not valid (Invalid isoformat string: 'x')"),
], ids=["unknown-type-first", "bad-date-first"])
def test_of_a_key_given_twice_neither_value_decoding_the_first_is_named(copied: tuple[Renovation, Path],
                                                                         tmp_path: Path, values: str,
                                                                         said: str) -> None:
    """orjson meets the last value alone and refuses it: the line is refused in the JSON module's words, which
    name the first (as the version before orjson did)."""
    main, exported = copied
    lines = exported.read_text(encoding="utf-8").splitlines()
    assert lines[-1].count('"count":3') == 1
    lines[-1] = lines[-1].replace('"count":3', '"count":' + values, 1)
    twice = tmp_path / "twice.jsonl"
    twice.write_text("\n".join(lines) + "\n", encoding="utf-8")

    result = main("import", str(twice))

    assert result.exit_code == 2 and f"line {len(lines)}: {said}" in result.output, result.output

"""``renovation export`` and ``import``: the log as JSON lines, streamed back idempotently."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import Renovation, event_count, events_of_export


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Renovation, Path]:
    """A six-compound programme to the end of April, and its export."""
    folder = tmp_path_factory.mktemp("transfer")
    source = Renovation(folder / "source.db")
    source.ok("demo", "--compounds", "6", "--until", "2021-04-30")
    file = folder / "log.jsonl"
    source.ok("export", str(file))
    return source, file


def boards(run: Renovation) -> list[object]:
    return [
        run.json("--today", "2021-04-30", "progress"),
        run.json("--today", "2021-04-30", "quality"),
        run.json("ranking", "--by", "compound"),
        run.json("ledger", "JM"),
        run.json("feedback", "list"),
        run.json("audit", "history", "JM"),
    ]


def test_the_export_has_every_event_in_log_order_as_readable_json(exported: tuple[Renovation, Path]) -> None:
    source, file = exported
    header, *lines = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]
    assert header == {"renovation_export": 1, "time_zone": "Asia/Shanghai"}
    assert len(lines) == event_count(source.db)
    assert lines[0]["topic"].endswith("CompoundProject.Registered")
    assert lines[0]["state"]["name"] == "吉明小区"
    assert all(set(line) == {"originator_id", "originator_version", "topic", "state"} for line in lines)


@pytest.mark.parametrize("workers", ["0", "2"], ids=["one process", "two workers"])
def test_an_import_into_a_fresh_store_gives_the_same_answers_and_a_valid_chain(
    exported: tuple[Renovation, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    source, file = exported
    monkeypatch.setenv("RENOVATION_IMPORT_WORKERS", workers)
    target = Renovation(tmp_path / "target.db")

    result = target.ok("import", str(file))

    count = event_count(source.db)
    assert f"imported {count} new events of {count}" in result.output
    assert event_count(target.db) == count
    assert boards(target) == boards(source)
    assert "the chain is intact" in target.ok("audit", "verify").output


def test_importing_the_same_file_again_adds_nothing(exported: tuple[Renovation, Path], tmp_path: Path) -> None:
    _source, file = exported
    target = Renovation(tmp_path / "target.db")
    target.ok("import", str(file))
    count = event_count(target.db)

    again = target.ok("import", str(file))

    assert f"imported 0 new events of {count}" in again.output
    assert event_count(target.db) == count


def test_a_partly_imported_file_is_completed_by_importing_it_again(
    exported: tuple[Renovation, Path], tmp_path: Path
) -> None:
    source, file = exported
    lines = events_of_export(file.read_text(encoding="utf-8"))
    first_half = tmp_path / "half.jsonl"
    first_half.write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")
    target = Renovation(tmp_path / "target.db")
    target.ok("import", str(first_half))

    target.ok("import", str(file))

    assert event_count(target.db) == event_count(source.db)
    assert boards(target) == boards(source)


def _bad_lines(lines: list[str]) -> dict[str, list[str]]:
    first = json.loads(lines[1])
    return {
        "truncated JSON": [lines[0], lines[1][: len(lines[1]) // 2] + "\n"],
        "not an object": [lines[0], "[1, 2]\n"],
        "a missing field": [lines[0], json.dumps({k: v for k, v in first.items() if k != "topic"}) + "\n"],
        "a version that is not a number": [lines[0], json.dumps({**first, "originator_version": "2"}) + "\n"],
        "an unknown topic": [lines[0], json.dumps({**first, "topic": "os:system"}) + "\n"],
        "a bad originator id": [lines[0], json.dumps({**first, "originator_id": "x"}) + "\n"],
        "a gap in versions": [lines[0], json.dumps({**first, "originator_version": 5}) + "\n"],
        "a state that does not decode": [lines[0], json.dumps({**first, "state": {"x": 1}}) + "\n"],
        "a forged aggregate id": [json.dumps({**json.loads(lines[0]),
                                              "originator_id": "00000000-0000-0000-0000-000000000001"}) + "\n"],
    }


@pytest.mark.parametrize("case", [
    "truncated JSON", "not an object", "a missing field", "a version that is not a number", "an unknown topic",
    "a bad originator id", "a gap in versions", "a state that does not decode", "a forged aggregate id",
])
def test_a_bad_line_is_named_and_nothing_is_stored(exported: tuple[Renovation, Path], tmp_path: Path,
                                                    case: str) -> None:
    _source, file = exported
    lines = events_of_export(file.read_text(encoding="utf-8"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(_bad_lines(lines)[case]), encoding="utf-8")
    target = Renovation(tmp_path / "target.db")

    result = target("import", str(bad))

    assert result.exit_code == 2, result.output
    assert len(target.lines(result)) == 1 and "line " in result.output
    assert "Traceback" not in result.output
    assert event_count(target.db) == 0


def test_a_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes("{\"originator_id\": \"吉明\"}\n".encode("gb18030"))
    target = Renovation(tmp_path / "target.db")

    result = target("import", str(bad))

    assert result.exit_code == 2 and "not UTF-8" in result.output
    assert event_count(target.db) == 0


def test_an_import_holding_one_compound_in_memory_stores_the_same_events(
    exported: tuple[Renovation, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, file = exported
    monkeypatch.setenv("RENOVATION_IMPORT_COMPOUNDS", "1")  # the other five wait in the spill file
    target = Renovation(tmp_path / "target.db")

    target.ok("import", str(file))

    again = tmp_path / "again.jsonl"
    target.ok("export", str(again))
    assert again.read_bytes() == file.read_bytes()
    assert boards(target) == boards(source)
    assert "the chain is intact" in target.ok("audit", "verify").output


def test_a_spilled_compound_still_refuses_an_event_that_does_not_follow(
    exported: tuple[Renovation, Path], tmp_path: Path
) -> None:
    from renovation.services.application import RenovationApp
    from renovation.services.transfer import BadImport, import_file

    _source, file = exported
    lines = events_of_export(file.read_text(encoding="utf-8"))
    metered = max(number for number, line in enumerate(lines) if line.count("QuantityMeasured"))
    event = json.loads(lines[metered])
    others = {json.loads(line)["originator_id"] for line in lines[:metered]} - {event["originator_id"]}
    assert others, "the compound must have been spilled for another before this line"
    event["state"]["item"] = "Z9"
    lines[metered] = json.dumps(event, ensure_ascii=False) + "\n"
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(lines), encoding="utf-8")
    app = RenovationApp(str(tmp_path / "target.db"))

    with pytest.raises(BadImport, match=f"line {metered + 1}: QuantityMeasured refused by the rules: .*item Z9"):
        import_file(app, bad, batch=50, resident=1)

    assert app.recorder.max_notification_id() in (None, 0)


@pytest.mark.parametrize(("setting", "value", "expected"), [
    ("RENOVATION_IMPORT_COMPOUNDS", "0", "a positive integer"), ("RENOVATION_IMPORT_BATCH", "0", "a positive integer"),
    ("RENOVATION_IMPORT_WORKERS", "-1", "a number of processes, 0 to 64"),
    ("RENOVATION_IMPORT_WORKERS", "65", "a number of processes, 0 to 64"),
])
def test_a_bad_import_setting_is_one_line_and_stores_nothing(
    exported: tuple[Renovation, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str, value: str,
    expected: str,
) -> None:
    _source, file = exported
    monkeypatch.setenv(setting, value)
    target = Renovation(tmp_path / "target.db")

    result = target("import", str(file))

    assert result.exit_code == 2, result.output
    assert target.lines(result) == [f"Error: {setting}={value!r}: expected {expected}"]
    assert not Path(target.db).exists() or event_count(target.db) == 0


def test_an_import_removes_the_temporary_folders_of_killed_imports(exported: tuple[Renovation, Path],
                                                                  tmp_path: Path) -> None:
    """A killed import cannot remove its temporary folder; the next import removes the folders whose
    process is gone, and leaves a running one's alone."""
    import os
    import tempfile

    from renovation.services.transfer import SPILL_PREFIX

    _source, file = exported
    dead = Path(tempfile.mkdtemp(prefix=f"{SPILL_PREFIX}999999999-"))
    (dead / "compounds.db").write_bytes(b"x" * 100)
    running = Path(tempfile.mkdtemp(prefix=f"{SPILL_PREFIX}{os.getpid()}-"))
    try:
        Renovation(tmp_path / "target.db").ok("import", str(file))

        assert not dead.exists()
        assert running.exists()
    finally:
        running.rmdir()


@pytest.fixture
def ctrl_c() -> Iterator[None]:
    """A Ctrl-C raises KeyboardInterrupt here, as in a terminal (a background job's tests start with it ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def interrupted_at(monkeypatch: pytest.MonkeyPatch, moment: str) -> None:
    """A Ctrl-C sent to this process at ``moment`` of the next import: "progress" (its first lines read) or
    "commit" (everything written, the transaction about to commit)."""
    from renovation.services import transfer

    original = transfer.import_file

    def import_file(*args: Any, **kwargs: Any) -> Any:
        def signal_now(*_args: Any) -> None:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.1)  # delivered meanwhile

        if moment == "progress":
            kwargs["progress"] = signal_now
        else:
            before = kwargs["before_commit"]
            kwargs["before_commit"] = lambda: (before(), signal_now())
        return original(*args, **kwargs)

    monkeypatch.setattr(transfer, "import_file", import_file)


@pytest.mark.usefixtures("ctrl_c")
@pytest.mark.parametrize("workers", ["0", "2"], ids=["one process", "two workers"])
def test_a_ctrl_c_as_the_import_commits_is_only_noted_and_the_import_said_stored(
    exported: tuple[Renovation, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    source, file = exported
    monkeypatch.setenv("RENOVATION_IMPORT_WORKERS", workers)
    interrupted_at(monkeypatch, "commit")
    target = Renovation(tmp_path / "target.db")

    result = target("import", str(file))

    assert result.exit_code == 0, result.output
    count = event_count(source.db)
    assert target.lines(result) == [f"imported {count} new events of {count} in {file}",
                                    "a Ctrl-C came as the import was being stored: it is stored"]
    assert event_count(target.db) == count


@pytest.mark.usefixtures("ctrl_c")
@pytest.mark.parametrize("workers", ["0", "2"], ids=["one process", "two workers"])
def test_a_ctrl_c_during_an_import_stores_nothing_and_leaves_no_new_store(
    exported: tuple[Renovation, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: str
) -> None:
    _source, file = exported
    monkeypatch.setenv("RENOVATION_IMPORT_WORKERS", workers)
    interrupted_at(monkeypatch, "progress")
    target = Renovation(tmp_path / "target.db")

    result = target("import", str(file))

    assert result.exit_code == 1 and target.lines(result)[-1] == "Aborted."
    assert not Path(target.db).exists()


@pytest.mark.parametrize("content", [b"", b"\n \n"], ids=["empty", "blank lines"])
def test_a_file_without_a_line_is_refused_and_leaves_no_store(tmp_path: Path, content: bytes) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(content)
    target = Renovation(tmp_path / "target.db")

    result = target("import", str(empty))

    assert result.exit_code == 2
    assert target.lines(result) == [f"Error: {empty}: the file holds no line (an export holds at least its header)"]
    assert not Path(target.db).exists()


@pytest.mark.parametrize("setting", ["RENOVATION_IMPORT_WORKERS", "RENOVATION_IMPORT_COMPOUNDS"])
@pytest.mark.parametrize("value", ["²", "٢"], ids=["superscript", "arabic-indic"])
def test_an_import_setting_in_other_digits_is_refused_naming_it(
    exported: tuple[Renovation, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str, value: str
) -> None:
    _source, file = exported
    monkeypatch.setenv(setting, value)
    target = Renovation(tmp_path / "target.db")

    result = target("import", str(file))

    assert result.exit_code == 2 and len(target.lines(result)) == 1
    assert target.lines(result)[0].startswith(f"Error: {setting}=")

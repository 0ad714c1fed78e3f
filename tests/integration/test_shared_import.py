"""An import whose lines are checked by worker processes, a share of the compounds each
(``transfer.Shared``): it stores what an import in one process stores, refuses what it refuses with the
same line and words, and falls back to one process when a worker cannot do its share."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from renovation.domain.compound import NewFinding
from renovation.services import transfer
from renovation.services.application import RenovationApp
from renovation.services.demo import DEMO_ZONE, Simulation
from renovation.services.transfer import BadImport, Importer, export_events, import_file
from renovation.store.photos import Photo
from tests.backends import drop_schema, pg_url, require_pg, with_schema
from tests.integration.process_support import stopped


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A six-compound programme to mid-April, with a photographed inspection: its export."""
    folder = tmp_path_factory.mktemp("shared-import")
    source = RenovationApp(str(folder / "source.db"))
    try:
        source.set_zone(DEMO_ZONE)
        simulation = Simulation(source, seed=7, compounds=6)
        simulation.run(date(2021, 4, 14))
        picture = io.BytesIO()
        Image.new("RGB", (8, 8), "red").save(picture, format="PNG")
        data = picture.getvalue()
        code = sorted(source.compound_codes())[0]
        source.clock = lambda: datetime.fromisoformat("2021-04-15T09:05:00+08:00")
        source.record_inspection(code, "patrol", at=datetime.fromisoformat("2021-04-15T09:00:00+08:00"),
                                 findings=[NewFinding("safety", "minor", "护栏")], user="sup",
                                 photos=[Photo(hashlib.sha256(data).hexdigest(), "image/png", None, data)])
        file = folder / "log.jsonl"
        with file.open("w", encoding="utf-8") as out:
            export_events(source, out)
    finally:
        source.close()
    return file


@pytest.fixture(params=["sqlite", "postgres"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Fresh empty stores of one kind, as many as asked for (PostgreSQL: a schema each, dropped after)."""
    made: list[str] = []

    def fresh() -> str:
        if request.param == "sqlite":
            return str(tmp_path / f"store-{len(list(tmp_path.glob('store-*')))}.db")
        require_pg()
        made.append(f"t_{uuid.uuid4().hex[:12]}")
        return with_schema(pg_url(), made[-1])

    yield fresh
    for schema in made:
        drop_schema(schema)


def imported(db: str, file: Path, workers: int,
             now: datetime | None = None) -> tuple[str | None, list[tuple[Any, ...]]]:
    """The import's refusal (None if it stored the file) and the store's events and photos after it (the
    importing clock at ``now``, if given)."""
    app = RenovationApp(db, clock_func=None if now is None else (lambda: now))
    try:
        try:
            import_file(app, file, workers=workers)
            problem = None
        except BadImport as error:
            problem = str(error)
        events = [(str(n.originator_id), n.originator_version, n.topic, bytes(n.state))
                  for n in app.iter_notifications()]
        from renovation.store import photos

        return problem, events + [(photo.sha256, photo.data) for photo in photos.every(app.backend)]
    finally:
        app.close()


def fallbacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if "made again in one process" in record.getMessage()]


def lines_of(file: Path) -> list[str]:
    return file.read_text(encoding="utf-8").splitlines(keepends=True)


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_shared_checking_stores_what_one_process_stores(
        export: Path, stores: Callable[[], str], caplog: pytest.LogCaptureFixture, workers: int) -> None:
    """The store's zone taken from the file's header by an empty store is the workers' too."""
    caplog.set_level(logging.INFO, logger="renovation.services.transfer")
    alone = imported(stores(), export, workers=0)
    shared = imported(stores(), export, workers=workers)

    assert alone[0] is None and len(alone[1]) > 1000
    assert shared == alone
    assert fallbacks(caplog) == []


def test_a_file_imported_again_by_workers_adds_nothing(export: Path, stores: Callable[[], str]) -> None:
    db = stores()
    first = imported(db, export, workers=2)

    assert imported(db, export, workers=2) == first


def _events(lines: list[str]) -> list[tuple[int, dict[str, Any]]]:
    return [(index, json.loads(line)) for index, line in enumerate(lines)
            if line.startswith('{"originator_id"')]


def _two_workers(lines: list[str]) -> tuple[str, str]:
    """A compound of each worker (their ids' ``int % 2``)."""
    ids = {uuid.UUID(line["originator_id"]) for _index, line in _events(lines)}
    return (str(next(i for i in ids if i.int % 2 == 0)), str(next(i for i in ids if i.int % 2 == 1)))


def _at(lines: list[str], kind: str, after: int = 0) -> tuple[int, dict[str, Any]]:
    """The first line of an event of ``kind`` past the first ``after`` lines."""
    return next((index, line) for index, line in _events(lines) if index >= after and line["topic"].endswith(kind))


def _line(line: dict[str, Any]) -> str:
    return json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"


def _changed(lines: list[str], index: int, change: Callable[[dict[str, Any]], None]) -> list[str]:
    line = json.loads(lines[index])
    change(line)
    return [*lines[:index], _line(line), *lines[index + 1:]]


def _timestamp(line: dict[str, Any], value: str) -> None:
    line["state"]["timestamp"]["_data_"] = value


def _faults(lines: list[str]) -> dict[str, list[str]]:
    """The file with one fault each, well inside it (every fault the checks find, each of its kind)."""
    middle = len(lines) // 2
    index, _measured = _at(lines, "QuantityMeasured", middle)
    inspected, inspection = _at(lines, "InspectionRecorded", middle)
    same = [i for i, line in _events(lines) if line["originator_id"] == inspection["originator_id"]]
    later = same[same.index(inspected) + 1]
    one, other = _two_workers(lines)
    previous = json.loads(lines[index - 1])["state"]["timestamp"]["_data_"]
    first_of_other = next(i for i, line in _events(lines) if line["originator_id"] == other)
    return {
        "truncated JSON": [*lines[:middle], lines[middle][:40] + "\n", *lines[middle + 1:]],
        "a value of another type": _changed(lines, index, lambda line: line["state"].update(item=7)),
        "a time in another zone": _changed(lines, index, lambda line: _timestamp(
            line, line["state"]["timestamp"]["_data_"][:-6] + "+09:00")),
        "a photo in neither file nor store": _changed(lines, inspected, lambda line: line["state"].update(
            photos=["a" * 64])),
        "a gap in a compound's versions": _changed(lines, index, lambda line: line.update(
            originator_version=line["originator_version"] + 2)),
        "a command recorded twice": _changed(lines, later, lambda line: line["state"].update(
            command_id=inspection["state"]["command_id"])),
        "a recording time before the line before it": _changed(lines, index, lambda line: _timestamp(
            line, datetime.fromisoformat(previous).replace(year=2020).isoformat())),
        "a value the command does not make": _changed(lines, index, lambda line: line["state"].update(
            value={"_type_": "decimal_str", "_data_": "1.00"})),
        "a line another says otherwise": [*lines[:later + 1], _line({**json.loads(lines[later]), "state": {
            **json.loads(lines[later])["state"], "kind": "night"}}), *lines[later + 1:]],
        "the first line of a compound spelling another's id first": [
            *lines[:first_of_other],
            lines[first_of_other].replace('{"originator_id":"', f'{{"originator_id":"{one}","originator_id":"', 1),
            *lines[first_of_other + 1:]],
    }


FAULTS = ["truncated JSON", "a value of another type", "a time in another zone", "a photo in neither file nor store",
          "a gap in a compound's versions", "a command recorded twice", "a recording time before the line before it",
          "a value the command does not make", "a line another says otherwise",
          "the first line of a compound spelling another's id first"]


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_is_found_at_the_line_and_in_the_words_of_one_process(
        export: Path, stores: Callable[[], str], fault: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Found by the workers themselves (no import made again in one process), but for the line that
    spells its compound otherwise (see the next test)."""
    caplog.set_level(logging.INFO, logger="renovation.services.transfer")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(_faults(lines_of(export))[fault]), encoding="utf-8")

    alone = imported(stores(), bad, workers=0)
    shared = imported(stores(), bad, workers=2)

    assert shared == alone
    if fault.startswith("the first line of a compound spelling"):
        assert alone[0] is None  # the id read is the last one written: stored as one process stores it
    else:
        assert alone[0] is not None and alone[0].startswith("line ")
        assert alone[1] == []  # nothing stored
        assert fallbacks(caplog) == []


@pytest.mark.parametrize("clock", ["2021-03-20T12:00:00+08:00", "2021-03-20T04:00:00+00:00"])
def test_the_workers_hold_the_lines_to_the_importing_clock(export: Path, stores: Callable[[], str],
                                                           clock: str) -> None:
    """An event recorded after the importing clock (and its tolerance) is refused as one process refuses
    it, however the workers' own clocks read; the clock said in the offset of the line's recording time."""
    now = datetime.fromisoformat(clock)
    alone = imported(stores(), export, workers=0, now=now)

    assert imported(stores(), export, workers=2, now=now) == alone
    assert alone[0] is not None and "in the future (this clock says 2021-03-20T12:00:00+08:00)" in alone[0]


def test_a_line_spelling_another_compounds_id_first_makes_the_import_again_in_one_process(
        export: Path, stores: Callable[[], str], caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    """Routed by the id it starts with, the line reaches the worker of another compound: that worker says
    so, and the file is imported again in one process (what one worker holds of a compound is all of it)."""
    caplog.set_level(logging.INFO, logger="renovation.services.transfer")
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(_faults(lines_of(export))["the first line of a compound spelling another's id first"]),
                   encoding="utf-8")

    imported(stores(), bad, workers=2)

    assert len(fallbacks(caplog)) == 1 and "another worker's compound" in fallbacks(caplog)[0]


@pytest.mark.parametrize("command", [("-c", "import sys; sys.exit(3)"), ("-c", "import time; time.sleep(0.5)")],
                         ids=["exits", "reads nothing"])
def test_a_worker_that_does_not_work_leaves_the_import_to_this_process(
        export: Path, stores: Callable[[], str], caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]) -> None:
    caplog.set_level(logging.INFO, logger="renovation.services.transfer")
    alone = imported(stores(), export, workers=0)
    monkeypatch.setattr(transfer, "IMPORT_WORKER", command)

    assert imported(stores(), export, workers=2) == alone
    assert len(fallbacks(caplog)) == 1


def test_a_worker_that_cannot_be_started_leaves_the_import_to_this_process(
        export: Path, stores: Callable[[], str], caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    caplog.set_level(logging.INFO, logger="renovation.services.transfer")
    alone = imported(stores(), export, workers=0)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))

    assert imported(stores(), export, workers=2) == alone
    assert len(fallbacks(caplog)) == 1 and "did not start" in fallbacks(caplog)[0]


def test_the_workers_hold_the_lines_to_the_configured_roles(
        export: Path, stores: Callable[[], str], tmp_path: Path) -> None:
    """Access rules the application was opened with reach the workers: a recording user without the role
    of an event is refused as one process refuses it."""
    from renovation.domain.access import Access, User

    roles = {"bureau": User("bureau"), "auditor": User("auditor")}
    found = []
    for workers in (0, 2):
        app = RenovationApp(stores(), access=Access(roles))
        try:
            with pytest.raises(BadImport) as refused:
                import_file(app, export, workers=workers)
            found.append(str(refused.value))
        finally:
            app.close()
    assert found[0] == found[1] and "refused by the rules" in found[0]


def test_the_import_workers_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    small.write_bytes(b"x" * 100)
    large.write_bytes(b"x" * transfer.SHARE_FROM)
    monkeypatch.delenv("RENOVATION_IMPORT_WORKERS", raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 2)

    assert (transfer.import_workers(small), transfer.import_workers(large)) == (0, 2)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert transfer.import_workers(large) == 0
    monkeypatch.setenv("RENOVATION_IMPORT_WORKERS", "3")
    assert transfer.import_workers(small) == 3
    monkeypatch.setenv("RENOVATION_IMPORT_WORKERS", "two")
    with pytest.raises(ValueError, match="RENOVATION_IMPORT_WORKERS"):
        transfer.import_workers(small)


def test_a_rebase_is_never_shared(export: Path, stores: Callable[[], str], monkeypatch: pytest.MonkeyPatch) -> None:
    from renovation.services.rebase import Rebase

    started: list[int] = []
    monkeypatch.setattr(transfer.Shared, "__init__", lambda *args: started.append(1) or None)
    app = RenovationApp(stores())
    try:
        import_file(app, export, workers=2, rebase=Rebase.of_file(export.name, "bureau"))
    finally:
        app.close()
    assert started == []


#: An import in a process of its own, each line merged slowly (so that it lasts): "merging" at the first.
CHILD = """
import signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # a Ctrl-C's, even when started with it ignored
from pathlib import Path
from renovation.services import transfer
from renovation.services.application import RenovationApp
merge = transfer.Importer.merge
def slow(self, checked):
    if self.lines == 0:
        print("merging", flush=True)
    time.sleep(0.01)
    return merge(self, checked)
transfer.Importer.merge = slow
transfer.CHUNK, transfer.AHEAD = 10, 1  # the workers kept a few lines ahead: alive to the end
app = RenovationApp(sys.argv[1])
try:
    transfer.import_file(app, Path(sys.argv[2]), workers=2)
except KeyboardInterrupt:
    print("interrupted", flush=True)
"""


def spilled(workers: list[int]) -> list[Path]:
    """The temporary folders of these workers' imports."""
    import tempfile

    return [folder for pid in workers
            for folder in Path(tempfile.gettempdir()).glob(f"{transfer.SPILL_PREFIX}{pid}-*")]


@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["kill", "ctrl-c"])
def test_the_workers_stop_with_the_import(export: Path, tmp_path: Path, stop: signal.Signals) -> None:
    """Killed, the importing process leaves its workers to find their pipes closed; a Ctrl-C (to its process
    group, as a terminal sends it) stops them from the importing process. Nothing is stored either way,
    and no worker's temporary folder is left (each holds one compound in memory, the rest spilled)."""
    script = tmp_path / "import.py"
    script.write_text(CHILD)
    db = str(tmp_path / "target.db")
    workers, output, errors, _pid = stopped([str(script), db, str(export)], "merging\n", b"import_worker", stop,
                                      env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path),
                                           "RENOVATION_IMPORT_COMPOUNDS": "1"})
    if stop == signal.SIGINT:
        assert output.endswith("interrupted\n") and errors == ""
    deadline = time.monotonic() + 10
    while spilled(workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert spilled(workers) == []
    app = RenovationApp(db)
    try:
        assert app.event_count() == 0
    finally:
        app.close()


def test_a_worker_checks_only_its_own_compounds(export: Path, tmp_path: Path) -> None:
    """A line of another worker's compound is not checked there (its compound's earlier lines are not)."""
    app = RenovationApp(str(tmp_path / "target.db"))
    try:
        app.take_zone(DEMO_ZONE)
        importer = Importer(app)
        importer.share, importer.in_order = (0, 2), False
        lines = lines_of(export)
        _one, other = _two_workers(lines)
        index = next(i for i, line in _events(lines) if line["originator_id"] == other)

        checked = importer.check(index + 1, lines[index].encode())

        assert checked.stage == transfer.ELSEWHERE and checked.stored is None
    finally:
        app.close()


def test_a_file_that_is_not_a_regular_file_is_read_once_in_this_process(
        export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pipe's lines cannot be read again: were the workers to stop, the import could not start again
    in one process. It is not shared, whatever the setting."""
    import threading

    started: list[int] = []
    original = transfer.Shared.__init__

    def counted(self: transfer.Shared, *args: Any) -> None:
        started.append(1)
        original(self, *args)

    monkeypatch.setattr(transfer.Shared, "__init__", counted)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    feeder = threading.Thread(target=lambda: fifo.write_bytes(export.read_bytes()), daemon=True)
    feeder.start()

    through_pipe = imported(str(tmp_path / "piped.db"), fifo, workers=2)
    feeder.join(timeout=30)

    assert started == []
    assert through_pipe == imported(str(tmp_path / "alone.db"), export, workers=0)
    assert imported(str(tmp_path / "shared.db"), export, workers=2) == through_pipe and started == [1]


def test_a_line_too_long_is_not_read_to_find_its_worker(export: Path, tmp_path: Path) -> None:
    """Refused unread by the worker it goes to, as in one process: routing it does not decode it."""
    app = RenovationApp(str(tmp_path / "target.db"))
    try:
        importer = Importer(app)
        decoded: list[bytes] = []

        def decode(raw: bytes) -> Any:
            decoded.append(raw)
            return {}

        importer.read_line = decode
        shared = transfer.Shared(importer, iter([]), 2)
        long = b"[" + b"{}," * (transfer.MAX_LINE // 3) + b"{}]\n"

        assert shared.route(long) == 0 and decoded == []
        assert shared.route(b"[{}]\n") == 0 and decoded == [b"[{}]\n"]  # a short one is read
    finally:
        app.close()


def test_what_a_worker_warns_of_is_said_by_the_importing_process(
        export: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A compound's snapshot whose state was edited is discarded with a warning as the worker loads the
    compound (evidence of an edit is never dropped in silence)."""
    import sqlite3

    from renovation.services import snapshots as sealed

    lines = lines_of(export)
    half = tmp_path / "half.jsonl"
    half.write_text("".join(lines[: len(lines) // 2]), encoding="utf-8")
    said = []
    for workers in (0, 2):
        db = str(tmp_path / f"store-{workers}.db")
        app = RenovationApp(db)
        try:
            import_file(app, half, workers=0)
            project = app.get_project(sorted(app.compound_codes())[0])
            snapshot = sealed.take(app, app.backend, project)
            assert snapshot is not None and app.snapshots is not None
            app.snapshots.put([snapshot])
        finally:
            app.close()
        with sqlite3.connect(db) as connection:
            edited = connection.execute("UPDATE stored_snapshots SET state = CAST(replace(CAST(state AS TEXT), "
                                        "'\"households\":', '\"households\":1') AS BLOB)").rowcount
            assert edited == 1
        caplog.clear()
        app = RenovationApp(db)
        try:
            with caplog.at_level(logging.WARNING):
                import_file(app, export, workers=workers)
        finally:
            app.close()
        said.append([record.getMessage() for record in caplog.records if "snapshot of" in record.getMessage()])
    assert said[0] == said[1] and len(said[0]) == 1 and "does not match its seal" in said[0][0]


def test_a_refused_import_leaves_no_worker_folder(export: Path, tmp_path: Path) -> None:
    """Its workers stopped at the refusal (each held one compound, the rest spilled), their temporary
    folders go with them."""
    import tempfile

    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(_faults(lines_of(export))["a gap in a compound's versions"]), encoding="utf-8")
    before = set(Path(tempfile.gettempdir()).glob(f"{transfer.SPILL_PREFIX}*"))
    app = RenovationApp(str(tmp_path / "target.db"))
    try:
        with pytest.raises(BadImport):
            import_file(app, bad, workers=2, resident=1)
    finally:
        app.close()

    assert set(Path(tempfile.gettempdir()).glob(f"{transfer.SPILL_PREFIX}*")) <= before

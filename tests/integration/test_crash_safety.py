"""Crash safety (issue 7): the ``renovation`` command killed with SIGKILL at injected points.

Each case runs the real command in a subprocess with ``RENOVATION_CRASH_AT`` naming a point of
``renovation.store.faults`` (``NAME:N``: the N-th time it is reached), checks that the process died by
SIGKILL, then that what is left is a state the application can stand on:

- every command is all-or-nothing: a write killed after its save has stored all of its events
  (exactly those a clean run stores) and the next read shows them; an import killed in the middle
  has stored nothing; a re-run import ends with exactly the events (ids and hash chain too) of a
  clean import into a fresh store;
- the read models resume: a rebuild or catch-up killed in the middle leaves each projection at a
  position it really reached (the status shows the lag), and the next read, or a rebuild, ends
  with exactly the rows of a clean rebuild into a fresh database;
- the hash chain verifies (``renovation audit verify`` exits 0).

The stores are small (the demo's 3 compounds to 2021-04-15, 577 events), built once per module and
copied per test. The cases with the ``db`` fixture also run on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import chdir
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine

from renovation.cli import cli
from renovation.projections import all_projections, read_models
from renovation.projections.runner import ReadModels
from renovation.services.application import RenovationApp
from renovation.store.chain import ChainStore
from tests.integration.projection_support import Snapshot, snapshot

DAY = "2021-04-15"  # the demo's last day, and "today" for the boards
IMPORT_BATCH = 100  # events per batch of an import under test (the product's default is 5000)
PREFIX = 300  # events of the export in the "prefix" store
CLI = [sys.executable, "-c", "from renovation.cli import cli; cli()"]

#: The environment of every command, in a subprocess or in this process.
ENV: dict[str, str | None] = {
    "LC_ALL": None,
    "LC_MESSAGES": None,
    "LANG": "C.UTF-8",
    "RENOVATION_TZ": "Asia/Shanghai",
    "RENOVATION_TODAY": DAY,
    "RENOVATION_DB": None,
    "RENOVATION_USER": None,
    "RENOVATION_CRASH_AT": None,
    "RENOVATION_IMPORT_BATCH": None,
}

#: The read command that catches up (only) each projection.
READ = {
    "progress": ("progress", "--json"),
    "quality": ("quality", "--json"),
    "ledger": ("ledger", "JM", "--json"),
    "ranking": ("ranking", "--json"),
    "feedback": ("feedback", "list", "--json"),
    "worklists": ("finding", "list", "--json"),
    "payments": ("payment", "list", "--json"),
    "computed": ("ranking", "--computed", "--json"),  # (the recorded board catches it up too, for beside)
}

# ---------------------------------------------------------------------------------------- helpers


def crash(db: Path | str, *args: str, at: str, env: dict[str, str] | None = None) -> None:
    """Run ``renovation --db DB ARGS`` in a subprocess that kills itself at crash point ``at``; check
    that it died by SIGKILL."""
    environment = {key: value for key, value in os.environ.items() if key not in ENV}
    environment.update({key: value for key, value in ENV.items() if value is not None})
    environment.update({"RENOVATION_CRASH_AT": at, "RENOVATION_USER": "tester", **(env or {})})
    done = subprocess.run([*CLI, "--db", str(db), *args], env=environment, capture_output=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, (at, args, done.returncode, done.stdout, done.stderr.decode()[-2000:])


def run(db: Path | str, *args: str) -> Result:
    """``renovation --db DB ARGS`` in this process; it must succeed."""
    result = CliRunner().invoke(cli, ["--db", str(db), "--user", "tester", *args], env=ENV)
    assert result.exit_code == 0, (args, result.exit_code, result.output, result.exception)
    return result


def read(db: Path | str, *args: str) -> Any:
    return json.loads(run(db, *args).stdout)


def copy_store(source: Path, target: Path) -> Path:
    """A copy of an SQLite store (closed: its write-ahead log is checkpointed, but copied if there)."""
    for suffix in ("", "-wal"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", f"{target}{suffix}")
    return target


Event = tuple[int, str, int, str, dict[str, Any]]


def events_of(db: Path | str) -> list[Event]:
    """Every stored event in log order: (notification id, aggregate, version, topic, decoded state)."""
    app = RenovationApp(str(db))
    try:
        # Without the command ids: made afresh by every run, so a killed run and a clean one differ there.
        return [(n.id, str(n.originator_id), n.originator_version, n.topic,
                 {k: v for k, v in json.loads(n.state).items() if k != "command_id"})
                for n in app.iter_notifications()]
    finally:
        app.close()


def without_ids(events: list[Event]) -> list[tuple[Any, ...]]:
    """The events without their notification ids (PostgreSQL skips ids a rolled-back insert took)."""
    return [event[1:] for event in events]


def without_time(events: list[Event]) -> list[tuple[Any, ...]]:
    """The events without ids and recording times (two runs of a command record at other moments)."""
    return [(*event[1:4], {k: v for k, v in event[4].items() if k != "timestamp"}) for event in events]


def chain_of(db: Path | str) -> list[tuple[int, int, str]]:
    app = RenovationApp(str(db))
    try:
        return list(ChainStore(app.backend).links())
    finally:
        app.close()


def positions(db: Path | str) -> dict[str, tuple[int, int]]:
    """(position, head) of each projection, as ``projections status`` prints them."""
    return {row["projection"]: (row["position"], row["head"]) for row in read(db, "projections", "status", "--json")}


def caught_up(db: Path | str) -> None:
    app = RenovationApp(str(db))
    models = read_models(app)
    try:
        models.catch_up()
    finally:
        models.close()
        app.close()


def read_model_tables(db: Path | str) -> Snapshot:
    """The live read models, every row, after catching up with what they have not applied yet."""
    app = RenovationApp(str(db))
    models = read_models(app)
    try:
        models.catch_up()
        assert all(row["lag"] == 0 for row in models.status())
        return snapshot(models, with_directory=True)
    finally:
        models.close()
        app.close()


def clean_rebuild(db: Path | str, scratch: Path) -> Snapshot:
    """The read models rebuilt from the store's events into a fresh SQLite database."""
    app = RenovationApp(str(db))
    models = ReadModels(app, all_projections(), engine=create_engine(f"sqlite:///{scratch / uuid.uuid4().hex}.db"))
    try:
        models.rebuild()
        return snapshot(models, with_directory=True)
    finally:
        models.close()
        app.close()


def assert_consistent(db: Path | str, scratch: Path) -> None:
    """The chain verifies, and the read models, caught up, equal a clean rebuild row by row."""
    verified = run(db, "audit", "verify").stdout
    assert "the chain is intact" in verified
    assert f"verified {len(events_of(db))} events" in verified
    assert read_model_tables(db) == clean_rebuild(db, scratch)


# ---------------------------------------------------------------------------------------- stores


@dataclass(frozen=True)
class Stores:
    demo: Path  # the demo, 577 events, every read model caught up
    export: Path  # its events as JSON lines
    prefix_export: Path  # the first PREFIX lines of that
    prefix: Path  # a fresh store with prefix_export imported, read models caught up
    lagging: Path  # prefix, then the whole export imported: the read models lag by the rest
    clean_import: Path  # a fresh store with the export imported, read models caught up
    clean_reads: dict[str, Any]  # what each command of READ answers on clean_import
    clean_tables: Snapshot  # clean_import's read models, every row


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Stores:
    root = tmp_path_factory.mktemp("crash-stores")
    with chdir(root):
        demo = root / "demo.db"
        built = subprocess.run([*CLI, "--db", str(demo), "demo", "--compounds", "3", "--until", DAY],
                               env={k: v for k, v in {**os.environ, **ENV}.items() if v is not None},
                               capture_output=True, timeout=300)
        assert built.returncode == 0, built.stderr.decode()
        caught_up(demo)
        export = root / "demo.jsonl"
        run(demo, "export", str(export))
        prefix_export = root / "prefix.jsonl"
        # the export's header line and its first PREFIX events
        prefix_export.write_text("".join(export.read_text(encoding="utf-8").splitlines(True)[:PREFIX + 1]),
                                 encoding="utf-8")
        prefix = root / "prefix.db"
        run(prefix, "import", str(prefix_export))
        caught_up(prefix)
        lagging = copy_store(prefix, root / "lagging.db")
        run(lagging, "import", str(export))
        clean_import = root / "clean-import.db"
        run(clean_import, "import", str(export))
        caught_up(clean_import)
        clean_reads = {name: read(clean_import, *command) for name, command in READ.items()}
        clean_tables = read_model_tables(clean_import)
    return Stores(demo, export, prefix_export, prefix, lagging, clean_import, clean_reads, clean_tables)


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path) -> Iterator[None]:
    with chdir(tmp_path):  # no renovation.toml of the working directory applies
        yield


# ---------------------------------------------------------------------------------------- after the save

@dataclass(frozen=True)
class Write:
    name: str
    command: tuple[str, ...]
    shown_by: tuple[str, ...]  # a read command whose answer the write changes


WRITES = [
    Write("inspect", ("inspect", "JM", "--kind", "patrol", "--at", f"{DAY}T10:00",
                      "--finding", "safety:major:脚手架未挂安全网@3号楼"), ("quality", "JM", "--json")),
    Write("meter", ("meter", "JM", "--item", "010101", "--period", "2021-04", "--quantity", "3.5"),
          ("ledger", "JM", "--json")),
    Write("meter-correct", ("meter", "correct", "JM", "M1", "--quantity", "1.0", "--reason", "复核现场实测"),
          ("ledger", "JM", "--json")),
    Write("variation", ("variation", "JM", "--item", "010101", "--quantity", "200", "--reason", "变更令 BG-07"),
          ("ledger", "JM", "--json")),
    # LY's S8, pending since 04-13 (its blind sample, 03-29, has a B id of its own: no gap in the S series)
    Write("material-result", ("material", "result", "LY", "S8", "--fail", "--lab", "示例检测站",
                              "--at", f"{DAY}T12:00"), ("quality", "LY", "--json")),
    Write("feedback", ("feedback", "LY", "--channel", "hotline", "--text", "楼道施工噪音太早", "--at", f"{DAY}T08:00"),
          ("feedback", "list", "--json")),
    Write("finding-close", ("finding", "close", "LY", "F30", "--note", "复查合格", "--at", f"{DAY}T18:00"),
          ("quality", "LY", "--json")),
    Write("complete", ("construction", "complete", "YH", "--date", DAY), ("progress", "--json")),
]
WRITE = {write.name: write for write in WRITES}


@dataclass(frozen=True)
class Reference:
    before: Any  # the read before the write
    after: Any  # the read after a clean run of the write
    new_events: list[tuple[Any, ...]]  # what a clean run stores (without ids and times)


@pytest.fixture(scope="module")
def references(stores: Stores, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Reference]:
    """Each write run cleanly, in this process, on a copy of the demo."""
    root = tmp_path_factory.mktemp("clean-writes")
    found = {}
    with chdir(root):
        for write in WRITES:
            db = copy_store(stores.demo, root / f"{write.name}.db")
            before = read(db, *write.shown_by)
            count = len(events_of(db))
            run(db, *write.command)
            new_events = without_time(events_of(db)[count:])
            found[write.name] = Reference(before, read(db, *write.shown_by), new_events)
    return found


def check_write_survived(db: Path | str, write: Write, before: list[Event], reference: Reference) -> None:
    after = events_of(db)
    assert after[: len(before)] == before
    assert reference.new_events and without_time(after[len(before):]) == reference.new_events  # all of it
    shown = read(db, *write.shown_by)
    assert shown == reference.after != reference.before


@pytest.mark.parametrize("name", list(WRITE))
def test_a_write_killed_after_its_save_is_recorded_whole(
        stores: Stores, references: dict[str, Reference], tmp_path: Path, name: str) -> None:
    db = copy_store(stores.demo, tmp_path / "crash.db")
    before = events_of(db)

    crash(db, *WRITE[name].command, at="after_store")

    check_write_survived(db, WRITE[name], before, references[name])
    assert_consistent(db, tmp_path)


@pytest.mark.parametrize("visit", [1, 12])
def test_the_demo_killed_after_a_days_batch_keeps_whole_days(stores: Stores, tmp_path: Path, visit: int) -> None:
    """The demo stores one transaction per simulated day (batch mode): killed after the save of
    day ``visit``, the store holds exactly the first days of the full demo, nothing of a day half."""
    db = tmp_path / "demo.db"

    crash(db, "demo", "--compounds", "3", "--until", DAY, at=f"after_store:{visit}")

    stored, full = events_of(db), events_of(stores.demo)
    assert 0 < len(stored) < len(full)
    assert stored == full[: len(stored)]  # the simulation is deterministic, its clock simulated
    assert_consistent(db, tmp_path)
    refused = CliRunner().invoke(cli, ["--db", str(db), "demo", "--compounds", "3", "--until", DAY], env=ENV)
    assert refused.exit_code == 2 and "already holds events" in refused.output


# ---------------------------------------------------------------------------------------- import

IMPORT_BATCHES = -(-577 // IMPORT_BATCH)  # 577 events: five batches of 100, then 77


def check_import_equals_clean(db: Path | str, stores: Stores, *, same_ids: bool) -> None:
    """The store holds exactly what a clean import into a fresh store holds, and reads the same."""
    expected = events_of(stores.clean_import)
    if same_ids:
        assert events_of(db) == expected
        assert chain_of(db) == chain_of(stores.clean_import)
    else:
        assert without_ids(events_of(db)) == without_ids(expected)
    assert {name: read(db, *command) for name, command in READ.items()} == stores.clean_reads
    assert read_model_tables(db) == stores.clean_tables


@pytest.mark.parametrize("batch", range(1, IMPORT_BATCHES + 1))
def test_an_import_killed_between_batches_stores_nothing(stores: Stores, tmp_path: Path, batch: int) -> None:
    db = tmp_path / "import.db"

    crash(db, "import", str(stores.export), at=f"import_batch:{batch}", env={"RENOVATION_IMPORT_BATCH": "100"})

    assert events_of(db) == []
    assert all(position == head == 0 for position, head in positions(db).values())
    assert "imported 577 new events of 577" in run(db, "import", str(stores.export)).stdout
    check_import_equals_clean(db, stores, same_ids=True)
    assert_consistent(db, tmp_path)


@pytest.mark.parametrize("batch", [1, 3])
def test_an_import_into_a_store_killed_leaves_the_store_as_it_was(
        stores: Stores, tmp_path: Path, batch: int) -> None:
    """A store that holds the first 300 events (read models current): the import of all 577 adds 277
    in three batches (100, 100, 77)."""
    db = copy_store(stores.prefix, tmp_path / "prefix.db")
    before, status = events_of(db), positions(db)

    crash(db, "import", str(stores.export), at=f"import_batch:{batch}", env={"RENOVATION_IMPORT_BATCH": "100"})

    assert events_of(db) == before
    assert positions(db) == status
    assert "imported 277 new events of 577" in run(db, "import", str(stores.export)).stdout
    check_import_equals_clean(db, stores, same_ids=True)
    assert_consistent(db, tmp_path)


# ---------------------------------------------------------------------------------------- rebuild

@dataclass(frozen=True)
class Interrupted:
    command: tuple[str, ...]
    at: str
    lagging: tuple[str, ...]  # the projections left behind (the batch in progress rolled back whole)
    resume: str  # "read": the next read of each; "rebuild": `projections rebuild`


ALL = tuple(READ)
REBUILD = ("projections", "rebuild")
REBUILDS = {
    # A rebuild clears every read model in one transaction, then replays the log once for all of them.
    "cleared": Interrupted(REBUILD, "rebuild_cleared:1", ALL, "read"),
    "cleared-then-rebuilt": Interrupted(REBUILD, "rebuild_cleared:1", ALL, "rebuild"),
    "first-event": Interrupted(REBUILD, "catch_up_apply:1", ALL, "read"),
    "event-100": Interrupted(REBUILD, "catch_up_apply:100", ALL, "rebuild"),
    "event-400": Interrupted(REBUILD, "catch_up_apply:400", ALL, "read"),
    "after-the-batch": Interrupted(REBUILD, "catch_up_batch:1", (), "read"),  # 577 events: one batch
    "ranking-alone": Interrupted(("projections", "rebuild", "ranking"), "catch_up_apply:5", ("ranking",), "read"),
}


@pytest.mark.parametrize("case", list(REBUILDS))
def test_a_rebuild_killed_resumes_to_a_clean_rebuild(stores: Stores, tmp_path: Path, case: str) -> None:
    interrupted = REBUILDS[case]
    db = copy_store(stores.demo, tmp_path / "rebuild.db")
    boards = {name: read(db, *command) for name, command in READ.items()}

    crash(db, *interrupted.command, at=interrupted.at)

    status = positions(db)
    behind = {name for name, (position, head) in status.items() if position < head}
    assert behind == set(interrupted.lagging)
    for name in interrupted.lagging:
        assert status[name] == (0, 577)  # cleared, and its replay rolled back whole
    if interrupted.resume == "read":
        for name in interrupted.lagging:
            assert read(db, *READ[name]) == boards[name]
    else:
        run(db, "projections", "rebuild")
    assert all(position == head for position, head in positions(db).values())
    assert {name: read(db, *command) for name, command in READ.items()} == boards
    assert_consistent(db, tmp_path)


# ---------------------------------------------------------------------------------------- catch-up

FOLLOW = ("projections", "follow", "--seconds", "0")  # catches up all of them in one pass, then stops
CATCH_UPS = {
    # Of the 277 events, progress takes 63, quality 202, ledger 63, ranking 3, feedback 6, payments 3 (and
    # the computed horse race most of them): a read catches up its own read model; the follower all of
    # them, each event read once for all.
    "progress-first-event": Interrupted(READ["progress"], "catch_up_apply:1", ("progress",), "read"),
    "quality-first-event": Interrupted(READ["quality"], "catch_up_apply:1", ("quality",), "read"),
    "quality-event-40": Interrupted(READ["quality"], "catch_up_apply:40", ("quality",), "read"),
    "ledger-event-10": Interrupted(READ["ledger"], "catch_up_apply:10", ("ledger",), "read"),
    "follow-event-7": Interrupted(FOLLOW, "catch_up_apply:7", ALL, "read"),
    "follow-event-200": Interrupted(FOLLOW, "catch_up_apply:200", ALL, "read"),
    "follow-after-the-batch": Interrupted(FOLLOW, "catch_up_batch:1", (), "read"),  # 277 events: one batch
}


@pytest.mark.parametrize("case", list(CATCH_UPS))
def test_a_catch_up_killed_keeps_its_position_and_completes_on_the_next_read(
        stores: Stores, tmp_path: Path, case: str) -> None:
    """The read models were current at event 300 when 277 more were imported: the first read of
    each projection catches it up (the follower catches up all of them at once)."""
    interrupted = CATCH_UPS[case]
    db = copy_store(stores.lagging, tmp_path / "lagging.db")

    crash(db, *interrupted.command, at=interrupted.at)

    status = positions(db)
    assert all(position in (PREFIX, head) and head == 577 for position, head in status.values())
    # The batch in progress is rolled back whole: no position moved. A read catches up only its own
    # read model, so after a read's crash every one is still behind.
    caught = interrupted.command[0] == "projections" and not interrupted.lagging
    assert {name for name, (position, head) in status.items() if position == head} == (set(READ) if caught else set())
    for name in interrupted.lagging:
        assert status[name] == (PREFIX, 577)
        assert read(db, *READ[name]) == stores.clean_reads[name]
        assert positions(db)[name] == (577, 577)
    assert_consistent(db, tmp_path)
    assert {name: read(db, *command) for name, command in READ.items()} == stores.clean_reads


# ---------------------------------------------------------------------------------------- both backends

@pytest.mark.parametrize("name", ["meter", "inspect"])
def test_a_write_killed_after_its_save_on_each_backend(
        db: str, stores: Stores, references: dict[str, Reference], tmp_path: Path, name: str) -> None:
    run(db, "import", str(stores.export))
    before = events_of(db)

    crash(db, *WRITE[name].command, at="after_store")

    check_write_survived(db, WRITE[name], before, references[name])
    assert_consistent(db, tmp_path)


@pytest.mark.parametrize("batch", [2, IMPORT_BATCHES])
def test_an_import_killed_on_each_backend_stores_nothing(db: str, stores: Stores, tmp_path: Path, batch: int) -> None:
    crash(db, "import", str(stores.export), at=f"import_batch:{batch}", env={"RENOVATION_IMPORT_BATCH": "100"})

    assert events_of(db) == []
    assert "imported 577 new events of 577" in run(db, "import", str(stores.export)).stdout
    check_import_equals_clean(db, stores, same_ids="://" not in db)
    assert_consistent(db, tmp_path)

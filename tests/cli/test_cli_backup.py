"""`renovation backup` while writers go on, and `renovation restore`: the restored store verifies and
gives the same read models."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest
from cli_support import Renovation, event_count


@pytest.fixture
def source(tmp_path: Path) -> Renovation:
    run = Renovation(tmp_path / "source.db")
    run.ok("demo", "--compounds", "4", "--until", "2021-04-10")
    return run


def boards(run: Renovation) -> list[object]:
    return [run.json("--today", "2021-04-10", "progress"), run.json("--today", "2021-04-10", "quality"),
            run.json("ranking", "--by", "compound"), run.json("ledger", "JM")]


def test_a_backup_taken_while_writers_go_on_restores_to_a_store_that_verifies(source: Renovation,
                                                                            tmp_path: Path) -> None:
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            subprocess.run([sys.executable, "-c", "from renovation.cli import cli; cli()", "--db", str(source.db),
                            "--user", "sup", "inspect", "JM", "--kind", "patrol"], capture_output=True, check=True)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        copies = []
        for n in range(3):
            copy = tmp_path / f"backup-{n}.db"
            source.ok("backup", str(copy))
            copies.append(copy)
    finally:
        stop.set()
        writer.join()
    for copy in copies:
        restored = Renovation(tmp_path / f"restored-{copy.stem}.db")
        assert "events verified" in restored.ok("restore", str(copy)).output
        assert "the chain is intact" in restored.ok("audit", "verify").output
        assert restored.ok("audit", "reconcile").exit_code == 0
    assert event_count(source.db) > event_count(tmp_path / "restored-backup-0.db")  # the writer went on


def test_a_restored_store_gives_the_same_read_models(source: Renovation, tmp_path: Path) -> None:
    copy = tmp_path / "backup.db"
    source.ok("backup", str(copy))
    restored = Renovation(tmp_path / "restored.db")

    restored.ok("restore", str(copy))

    assert boards(restored) == boards(source)
    assert event_count(restored.db) == event_count(source.db)


def test_restore_refuses_to_replace_a_store_with_events_unless_forced(source: Renovation, tmp_path: Path) -> None:
    copy = tmp_path / "backup.db"
    source.ok("backup", str(copy))

    refused = source("restore", str(copy))

    assert refused.exit_code == 2 and len(source.lines(refused)) == 1
    assert "events verified" in source.ok("restore", str(copy), "--force").output


def test_a_tampered_backup_is_not_restored(source: Renovation, tmp_path: Path) -> None:
    import sqlite3

    copy = tmp_path / "backup.db"
    source.ok("backup", str(copy))
    with sqlite3.connect(copy) as connection:
        connection.execute("DELETE FROM stored_events WHERE rowid = 10")
    target = Renovation(tmp_path / "restored.db")

    result = target("restore", str(copy))

    assert result.exit_code == 1 and "does not verify" in result.output
    assert event_count(target.db) == 0


def test_backup_of_a_postgresql_store_points_to_pg_dump(tmp_path: Path) -> None:
    run = Renovation("postgresql://postgres@127.0.0.1:5432/test?schema=unused")

    result = run("backup", str(tmp_path / "x.db"))

    assert result.exit_code == 2 and "pg_dump" in result.output and len(run.lines(result)) == 1


@pytest.mark.parametrize("kind", ["empty-file", "text-file", "other-sqlite-db"])
def test_restore_reads_its_input_and_refuses_anything_but_a_store(source: Renovation, tmp_path: Path,
                                                                 kind: str) -> None:
    """`restore empty.db --force` once created tables in the empty file and replaced the store with an
    empty one. The input is only read; what is not a store of this tracker is refused, naming it."""
    import hashlib
    import sqlite3

    given = tmp_path / "given.db"
    if kind == "empty-file":
        given.write_bytes(b"")
    elif kind == "text-file":
        given.write_text("not a store\n" * 50, encoding="utf-8")
    else:
        with sqlite3.connect(given) as connection:
            connection.execute("CREATE TABLE notes (body TEXT)")
        sqlite3.connect(given).close()
    before = hashlib.sha256(given.read_bytes()).hexdigest()
    events = event_count(source.db)

    result = source("restore", str(given), "--force")

    assert result.exit_code != 0 and "Traceback" not in result.output
    (line,) = source.lines(result)
    assert str(given) in line and "not a renovation store" in line
    assert hashlib.sha256(given.read_bytes()).hexdigest() == before  # the input is untouched
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("given")) == ["given.db"]
    assert event_count(source.db) == events  # the store is untouched


def test_restore_and_backup_never_write_through_a_file_or_link_that_was_there(source: Renovation,
                                                                              tmp_path: Path) -> None:
    """Their temporary files have names of their own: a link planted at `<store>.restoring` or at
    `<backup>.partial` is left alone, and so is a file of that name."""
    copy = tmp_path / "backup.db"
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n", encoding="utf-8")
    (tmp_path / "backup2.db.partial").symlink_to(victim)
    source.ok("backup", str(copy))
    source.ok("backup", str(tmp_path / "backup2.db"))
    target = tmp_path / "target.db"
    (tmp_path / "target.db.restoring").symlink_to(victim)
    mine = tmp_path / "mine.db.restoring"
    mine.write_text("a user's file\n", encoding="utf-8")

    Renovation(target).ok("restore", str(copy))

    assert victim.read_text(encoding="utf-8") == "keep me\n"
    assert target.is_file() and not target.is_symlink()
    assert mine.read_text(encoding="utf-8") == "a user's file\n"
    assert event_count(target) == event_count(source.db)


def test_a_backup_onto_the_stores_own_files_is_refused(source: Renovation) -> None:
    for suffix in ("-journal", "-wal", "-writer.lock"):
        target = Path(str(source.db) + suffix)
        existed = target.exists()
        result = source("backup", str(target))

        assert result.exit_code == 2, (suffix, result.output)
        assert target.exists() == existed


def test_a_writer_that_waited_through_a_restore_records_nothing(source: Renovation, tmp_path: Path) -> None:
    """A writer whose store was restored while it waited would write into the old file, gone from the
    directory: its command stops with a one-line refusal, and the restored store has nothing of it."""
    from eventsourcing.persistence import OperationalError

    from renovation.services import admin
    from renovation.services.application import RenovationApp
    from renovation.services.workspace import Workspace

    copy = tmp_path / "backup.db"
    source.ok("backup", str(copy))
    waiting = RenovationApp(str(source.db))  # opened before the restore
    workspace = Workspace(str(source.db))
    admin.restore(workspace, copy, force=True)
    workspace.close()
    before = event_count(source.db)

    with pytest.raises(OperationalError, match="the store was replaced"):
        waiting.record_inspection("JM", "patrol", user="sup")

    waiting.close()
    assert event_count(source.db) == before


def test_a_restored_store_answers_from_its_events_not_from_copied_read_models(source: Renovation,
                                                                             tmp_path: Path) -> None:
    """Only the events and their chain are verified; the read models in a backup could say anything.
    They are rebuilt from the restored events on the next read."""
    import sqlite3

    copy = tmp_path / "backup.db"
    source.ok("backup", str(copy))
    honest = source.json("--today", "2021-04-30", "progress")
    with sqlite3.connect(copy) as connection:
        connection.execute("UPDATE progress_compounds SET metered_value = contract_value")
    connection.close()
    target = Renovation(tmp_path / "restored.db")

    target.ok("restore", str(copy))

    assert target.json("--today", "2021-04-30", "progress") == honest


def test_a_backup_leaves_no_write_ahead_log_beside_the_store(source: Renovation, tmp_path: Path) -> None:
    """As after every other command, the store is left as one file when nothing else has it open: the backup
    read it through a connection that, closing last, folds its write-ahead log back in."""
    def companions() -> list[str]:
        return [suffix for suffix in ("-wal", "-shm") if Path(f"{source.db}{suffix}").exists()]

    cli = [sys.executable, "-c", "from renovation.cli import cli; cli()", "--db", str(source.db)]
    subprocess.run([*cli, "--user", "sup", "inspect", "JM", "--kind", "patrol"], capture_output=True, check=True)
    assert companions() == []

    subprocess.run([*cli, "backup", str(tmp_path / "copy.db")], capture_output=True, check=True)

    assert companions() == []
    assert not [path.name for path in tmp_path.iterdir() if path.name.startswith("copy.db")
                and path.name != "copy.db"]

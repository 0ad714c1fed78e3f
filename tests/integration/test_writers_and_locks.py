"""Many writers at once through the CLI, and a writer that holds the lock: nothing is lost or doubled,
a stuck lock makes a command give up with "database busy" and write nothing, and on PostgreSQL a
stuck session is ended by the server so that it cannot block every writer."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.backends import pg_url, store_url
from tests.integration.conftest import open_app, start_compound

PROCESSES, COMMANDS = 8, 25


def _write_through_the_cli(db: str, worker: int, commands: int) -> list[str]:
    """One OS process recording `commands` inspections through the CLI; returns the findings it was
    told were recorded (a finding text names the worker and the command)."""
    from click.testing import CliRunner

    from renovation.cli import cli

    runner = CliRunner()
    recorded = []
    for n in range(commands):
        text = f"P{worker}-{n}"
        result = runner.invoke(cli, ["--db", db, "--user", f"sup{worker}", "inspect", "JM", "--kind", "patrol",
                                     "--finding", f"quality:minor:{text}"],
                               env={"RENOVATION_TZ": "Asia/Shanghai"})
        if result.exit_code == 0:
            recorded.append(text)
        else:  # a clear one-line refusal after bounded retries is allowed, a traceback is not
            assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
    return recorded


def test_eight_processes_recording_on_one_compound_lose_nothing_and_double_nothing(db: str) -> None:
    app = open_app(db)
    start_compound(app)
    before = app.event_count()
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
        results = pool.starmap(_write_through_the_cli, [(db, worker, COMMANDS) for worker in range(PROCESSES)])
    elapsed = time.perf_counter() - started
    reported = sorted(text for texts in results for text in texts)

    project = app.get_project("JM")
    stored = sorted(finding.description for finding in project.findings.values())
    assert stored == reported  # exactly the commands that reported success: none lost, none doubled
    assert app.event_count() == before + len(reported)
    assert len(reported) == PROCESSES * COMMANDS  # with bounded retries, here every one succeeded
    app.close()
    print(f"{PROCESSES} processes × {COMMANDS} commands through the CLI: {elapsed:.1f} s")


def _hold_sqlite_write_lock(path: str, seconds: float, held: threading.Event) -> None:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("BEGIN IMMEDIATE")
    held.set()
    time.sleep(seconds)
    connection.execute("ROLLBACK")
    connection.close()


def _inspect(db: str, timeout: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from renovation.cli import cli; cli()", "--db", db, "--user", "sup",
         "inspect", "JM", "--kind", "patrol"],
        capture_output=True, text=True, env={**os.environ, "RENOVATION_LOCK_TIMEOUT": str(timeout)},
    )


@pytest.fixture
def sqlite_db(tmp_path: Path) -> str:
    db = str(tmp_path / "locks.db")
    app = open_app(db)
    start_compound(app)
    app.close()
    return db


def test_a_lock_held_longer_than_the_timeout_makes_the_command_give_up_and_write_nothing(sqlite_db: str) -> None:
    held = threading.Event()
    holder = threading.Thread(target=_hold_sqlite_write_lock, args=(sqlite_db, 4.0, held))
    holder.start()
    held.wait()
    before = open_app(sqlite_db).event_count()

    result = _inspect(sqlite_db, timeout=1)

    holder.join()
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "Error: database busy, try again (another writer holds the lock); nothing was recorded"
    ]
    assert open_app(sqlite_db).event_count() == before


def test_a_lock_held_shorter_than_the_timeout_is_waited_for(sqlite_db: str) -> None:
    held = threading.Event()
    holder = threading.Thread(target=_hold_sqlite_write_lock, args=(sqlite_db, 1.0, held))
    holder.start()
    held.wait()
    before = open_app(sqlite_db).event_count()

    result = _inspect(sqlite_db, timeout=8)

    holder.join()
    assert result.returncode == 0, result.stderr
    assert open_app(sqlite_db).event_count() == before + 1


@pytest.fixture
def pg_db(tmp_path: Path) -> Iterator[str]:
    yield from store_url("postgres", tmp_path)


def test_on_postgresql_a_stuck_session_is_ended_so_writers_go_on(pg_db: str) -> None:
    import psycopg

    db = pg_db
    app = open_app(db)
    start_compound(app)
    before = app.event_count()
    schema = db.rsplit("schema=", 1)[1]
    # A client with the application's settings takes the events table's lock, then hangs.
    stuck = psycopg.connect(pg_url(), options="-c idle_in_transaction_session_timeout=2s")
    stuck.execute(f'LOCK TABLE "{schema}".renovation_events IN EXCLUSIVE MODE')
    started = time.perf_counter()

    result = _inspect(db, timeout=5)

    waited = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    assert waited < 30
    assert app.event_count() == before + 1
    with pytest.raises(psycopg.Error):  # the server ended the stuck session
        stuck.execute("SELECT 1")
    stuck.close()
    app.close()

"""``renovation serve`` starts on the demo's store and answers every page (the fuller tests are beside
this one and in tests/browser)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.serve_support import run_cli, serving

DAY = "2021-05-10"


def test_every_page_answers_on_a_store_without_users(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    run_cli(db, "demo", "--compounds", "6", "--until", DAY, cwd=tmp_path)
    with serving(db, "--today", DAY, cwd=tmp_path) as server:
        for path in ("/ranking", "/ranking?by=compound", "/ranking?computed=1", "/progress", "/quality",
                     "/quality?by=contractor", "/digest", "/worklist", "/compound/JM", "/report", "/head"):
            status, headers, body = server.get(path)
            assert status == 200, (path, body[:300])
            assert "default-src 'none'" in headers["content-security-policy"]
        status, _headers, _body = server.get("/compound/NOPE")
        assert status == 404


@pytest.mark.parametrize(("stop", "ends"), [("SIGTERM", -15), ("SIGINT", 0)])
def test_stopped_by_its_service_manager_it_leaves_the_store_as_one_file(tmp_path: Path, stop: str, ends: int) -> None:
    """SIGTERM (``systemctl stop``, ``kill``) or Ctrl-C: the server shuts down and closes every connection
    to the store before the process ends (by the signal; after Ctrl-C, as a server is meant to stop, with
    no error), so no write-ahead log is left beside it."""
    import os
    import signal

    db = tmp_path / "demo.db"
    run_cli(db, "demo", "--compounds", "2", "--until", DAY, cwd=tmp_path)
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith("demo.db-")] == []
    with serving(db, "--today", DAY, cwd=tmp_path) as server:
        for path in ("/ranking", "/progress"):
            assert server.get(path)[0] == 200
        assert Path(f"{db}-wal").exists()  # the store is open
        os.killpg(server.process.pid, getattr(signal, stop))
        assert server.process.wait(timeout=30) == ends, server.log()
        assert "Aborted" not in server.log() and "Traceback" not in server.log()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith("demo.db-")] == []


def test_a_value_written_into_a_boards_table_is_a_page_saying_what_mends_it(tmp_path: Path) -> None:
    """A value the tracker did not write (here a decimal that is not one) is not a passing fault: the page
    says what mends it (no 'try again', no traceback), and after a rebuild the board answers again."""
    import sqlite3

    db = tmp_path / "demo.db"
    run_cli(db, "demo", "--compounds", "2", "--until", DAY, cwd=tmp_path)
    connection = sqlite3.connect(db)
    with connection:
        connection.execute("UPDATE progress_compounds SET contract_value = 'abc'")
    connection.close()
    with serving(db, "--today", DAY, cwd=tmp_path) as server:
        status, headers, body = server.get("/progress")
        assert status == 500 and "retry-after" not in headers
        page = body.decode()
        assert "renovation audit boards" in page and "renovation projections rebuild" in page
        assert "Traceback" not in page and "Traceback" not in server.log()
        run_cli(db, "projections", "rebuild", cwd=tmp_path)
        assert server.get("/progress")[0] == 200

"""``renovation serve`` starts on the demo's store and answers every page (the fuller tests are beside
this one and in tests/browser)."""

from __future__ import annotations

from pathlib import Path

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


def test_stopped_by_its_service_manager_it_leaves_the_store_as_one_file(tmp_path: Path) -> None:
    """SIGTERM (``systemctl stop``, ``kill``): the server shuts down and closes every connection to the
    store before the signal ends the process, so no write-ahead log is left beside it."""
    import os
    import signal

    db = tmp_path / "demo.db"
    run_cli(db, "demo", "--compounds", "2", "--until", DAY, cwd=tmp_path)
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith("demo.db-")] == []
    with serving(db, "--today", DAY, cwd=tmp_path) as server:
        for path in ("/ranking", "/progress"):
            assert server.get(path)[0] == 200
        assert Path(f"{db}-wal").exists()  # the store is open
        os.killpg(server.process.pid, signal.SIGTERM)
        assert server.process.wait(timeout=30) == -signal.SIGTERM, server.log()
    assert [path.name for path in tmp_path.iterdir() if path.name.startswith("demo.db-")] == []

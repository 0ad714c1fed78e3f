"""The boards read the few rows they need through indexes, not every row the programme has recorded:
on a province's store (hundreds of thousands of morning days, findings and samples) a scan of one of
those tables is what made a board take a third of a second. Checked on SQLite's query plans, for the
queries the boards send while they answer (the same SQL runs on PostgreSQL, whose planner has the
same indexes and its own statistics)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import event

from renovation.cli import cli
from renovation.services import boards, digest, worklists
from renovation.services.workspace import Workspace

#: Tables with a row per day, finding, sample or ticket of every compound.
PER_EVENT_TABLES = ("quality_morning_days_v2", "quality_findings_v2", "quality_samples", "worklist_findings",
                    "worklist_samples", "feedback_tickets", "ledger_entries")
TODAY = date(2021, 5, 31)


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    db = tmp_path_factory.mktemp("plans") / "demo.db"
    result = CliRunner().invoke(cli, ["--db", str(db), "demo", "--compounds", "8", "--until", TODAY.isoformat()])
    assert result.exit_code == 0, result.output
    ws = Workspace(str(db), config_path="/dev/null")
    yield ws
    ws.close()


def scans(ws: Workspace, answer: Any) -> list[str]:
    """The per-event tables that the queries sent while ``answer()`` runs read whole."""
    models = ws.read_models()  # caught up first: only the board's own queries are looked at
    sent: list[str] = []

    def keep(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            sent.append(statement)

    event.listen(models.engine, "before_cursor_execute", keep)
    try:
        answer()
    finally:
        event.remove(models.engine, "before_cursor_execute", keep)
    assert sent
    found: list[str] = []
    with models.engine.connect() as connection:
        for statement in sent:
            params = tuple(None for _ in range(statement.count("?")))
            for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params):
                detail = row[-1]
                found += [f"{table}: {detail}" for table in PER_EVENT_TABLES
                          if detail.startswith(f"SCAN {table}") and "INDEX" not in detail]
    return found


@pytest.mark.parametrize("board", ["quality", "quality by contractor", "digest", "open findings",
                                   "overdue findings", "pending samples", "resamples", "open tickets", "ledger"])
def test_a_board_reads_no_table_of_every_event_whole(workspace: Workspace, board: str) -> None:
    ws = workspace
    user = "bench-bureau"
    answers = {
        "quality": lambda: boards.quality(ws, TODAY, code=None, by="compound", missed=False, hide_blind=False),
        "quality by contractor": lambda: boards.quality(ws, TODAY, code=None, by="contractor", missed=False,
                                                        hide_blind=True),
        "digest": lambda: digest.digest(ws, TODAY, TODAY, user),
        "open findings": lambda: worklists.finding_list(ws, TODAY, user, state="open"),
        "overdue findings": lambda: worklists.finding_list(ws, TODAY, user, state="overdue"),
        "pending samples": lambda: worklists.material_list(ws, TODAY, user, state="pending"),
        "resamples": lambda: worklists.material_list(ws, TODAY, user, state="resample"),
        "open tickets": lambda: boards.feedback(ws, only_open=True),
        "ledger": lambda: boards.ledger(ws, "JM", None, None),
    }
    assert scans(ws, answers[board]) == []

"""Helpers for the CLI tests: the ``renovation`` command run with ``CliRunner`` on a temp SQLite file,
and the number of events stored in that file, read with sqlite3 behind the application's back.

Business rules compare against the wall clock (nothing may happen in the future), so every date a
test types is in 2021, safely in the past.
"""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from renovation.cli import cli

#: The environment every invocation sees: English messages, the demo's zone, no stray defaults.
ENV: dict[str, str | None] = {
    "LC_ALL": None,
    "LC_MESSAGES": None,
    "LANG": "C.UTF-8",
    "RENOVATION_TZ": "Asia/Shanghai",
    "RENOVATION_DB": None,
    "RENOVATION_USER": None,
}

BOQ_CSV = (
    "item,description,unit,quantity,unit_price\n"
    "A1,雨污分流,m,100,123.45\n"
    "B2,外墙保温,m2,50,185\n"
)

#: The id of a blind sample recorded by a command: B and (at least) the first six hex digits of the
#: command's id, upper-case; it tells nothing of how many blind samples there are.
BLIND_SAMPLE_ID = re.compile(r"B[0-9A-F]{6,}")

REGISTER_JM = [
    "compound", "register", "JM", "--name", "吉明小区", "--district", "龙山区", "--contractor", "辽源建工",
    "--households", "320", "--contract-value", "1000000",
    "--planned-start", "2021-03-01", "--planned-finish", "2021-09-30", "--registered-on", "2021-01-04",
]


def event_count(db: Path | str) -> int:
    """Stored events, read behind the application's back: rows of the ``stored_events`` table of the
    SQLite file ``db`` (0 if the file or table is missing), or of ``renovation_events`` in the
    PostgreSQL schema of the URL ``db``."""
    if isinstance(db, str) and db.startswith("postgresql://"):
        return _postgres_event_count(db)
    db = Path(db)
    if not db.exists():
        return 0
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        (count,) = connection.execute("SELECT COUNT(*) FROM stored_events").fetchone()
    except sqlite3.OperationalError:  # no such table: nothing was ever stored
        return 0
    finally:
        connection.close()
    return int(count)


def checkpoint(db: Path) -> None:
    """Fold the write-ahead log into the file, so that copying the file alone copies the store."""
    connection = sqlite3.connect(db)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def _postgres_event_count(url: str) -> int:
    import psycopg

    base, _, query = url.partition("?")
    schema = query.removeprefix("schema=")
    with psycopg.connect(base) as connection:
        found = connection.execute("SELECT to_regclass(%s)", (f'"{schema}".renovation_events',)).fetchone()
        if not found or found[0] is None:
            return 0
        row = connection.execute(f'SELECT COUNT(*) FROM "{schema}".renovation_events').fetchone()
    return int(row[0]) if row else 0


def events_of_export(text: str) -> list[str]:
    """An export's event lines (with their ends), without its header line (its first, naming the
    store's time zone)."""
    return [line for line in text.splitlines(True) if not line.startswith('{"renovation_export"')]


class Renovation:
    """The ``renovation`` command on one test database, run as user ``tester``.

    ``run(*args)`` gives click's result whatever happened; ``run.ok(*args)`` checks that the command
    succeeded; ``run.json(*args)`` also parses what it printed as JSON. ``lang="zh"`` adds ``--lang zh``.
    """

    def __init__(self, db: Path | str) -> None:
        self.db = db
        self.runner = CliRunner()

    def __call__(self, *args: str, lang: str | None = None) -> Result:
        options = ["--db", str(self.db), "--user", "tester"]
        if lang:
            options += ["--lang", lang]
        return self.runner.invoke(cli, [*options, *args], env=ENV)

    def ok(self, *args: str, lang: str | None = None) -> Result:
        result = self(*args, lang=lang)
        assert result.exit_code == 0, (args, result.exit_code, result.output, result.exception)
        assert "Traceback" not in result.output
        return result

    def json(self, *args: str, lang: str | None = None) -> Any:
        return json.loads(self.ok(*args, "--json", lang=lang).stdout)

    @staticmethod
    def lines(result: Result) -> list[str]:
        """What the command printed (stdout and stderr together), line by line."""
        return result.output.strip().splitlines()

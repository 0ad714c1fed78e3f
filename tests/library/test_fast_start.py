"""``renovation`` starts fast: help imports none of the heavy libraries, and a write imports no read model.

Each check runs in a fresh interpreter (``sys.executable``), so that what the test process itself has
imported cannot hide an import:

- one interpreter imports the command and asks every command of the click tree (hidden ones too) for
  its ``--help`` in turn, in process, looking at ``sys.modules`` before the first and after each; since
  ``sys.modules`` only grows, the first help after which a heavy module shows up is the one that
  imported it, and an empty set after the last one means that none did;
- a few helps (the top level, and the commands whose modules are most tempted by a heavy import) are
  also run the way a user runs them, through the entry point in a new interpreter each, with
  ``python -X importtime``;
- recording an inspection on an SQLite store (``renovation --db X inspect JM --kind patrol``) imports
  neither SQLAlchemy nor matplotlib nor pydantic's model machinery: read models catch up when they
  are read, not when events are written, charts belong to ``report`` alone, and inputs are checked by
  pydantic-core schemas.

There is no ``renovation/__main__.py``; the entry point is run as
``python -c "from renovation.cli import cli; cli()" ARGS``, which is what the console script does.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

#: Never imported by ``--help``.
HEAVY = ("sqlalchemy", "eventsourcing", "pydantic", "matplotlib", "rich")
#: Never imported by recording an event: packages, and pydantic's model machinery (inputs are
#: validated by pydantic-core schemas, which ``import pydantic`` has already loaded).
NOT_ON_WRITE = ("sqlalchemy", "matplotlib", "pydantic.main", "pydantic._internal._generate_schema")

ROOT = Path(__file__).resolve().parents[2]
ENTRY = "from renovation.cli import cli; cli()"

HELP_PROBE = r"""
import contextlib, io, json, sys

import click

from renovation.cli import cli

HEAVY = set(sys.argv[1].split(","))


def heavy():
    return sorted(name for name in sys.modules if name.split(".")[0] in HEAVY)


def walk(command, path=()):
    yield path
    if isinstance(command, click.Group):
        context = click.Context(command)
        for name in sorted(set(command.list_commands(context)) | set(command.commands)):
            yield from walk(command.get_command(context, name), (*path, name))


report = {"at_import": heavy(), "helps": []}
for path in walk(cli):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        try:
            cli.main([*path, "--help"], prog_name="renovation", standalone_mode=False)
            code = None
        except SystemExit as exit:
            code = exit.code
    report["helps"].append({"path": " ".join(path), "exit": code, "heavy": heavy(), "printed": printed.getvalue()})
print(json.dumps(report))
"""

COMMAND_PROBE = r"""
import contextlib, io, json, sys

from renovation.cli import cli

HEAVY = set(sys.argv[1].split(","))
printed = io.StringIO()
with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
    try:
        cli.main(sys.argv[2:], prog_name="renovation")
        code = None
    except SystemExit as exit:
        code = exit.code
modules = sorted(name for name in sys.modules if name.split(".")[0] in HEAVY)
print(json.dumps({"exit": code, "heavy": modules, "printed": printed.getvalue()}))
"""


def environment() -> dict[str, str]:
    """A user's environment, but this checkout's ``renovation`` and no settings from the caller."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("RENOVATION_") and name not in ("LC_ALL", "LC_MESSAGES")}
    env.update(LANG="C.UTF-8", RENOVATION_TZ="Asia/Shanghai", PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]))
    return env


def python(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=environment(), capture_output=True, text=True,
                          timeout=120, check=False)


def probe(script: str, *args: str, cwd: Path) -> Any:
    done = python("-c", script, ",".join(HEAVY), *args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def imported_by(importtime: str) -> set[str]:
    """The top-level packages named in ``python -X importtime`` output."""
    packages = set()
    for line in importtime.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            packages.add(name.split(".")[0])
    return packages


def test_every_help_imports_nothing_heavy(tmp_path: Path) -> None:
    report = probe(HELP_PROBE, cwd=tmp_path)

    assert report["at_import"] == [], "importing renovation.cli imports heavy modules"
    helps = report["helps"]
    paths = [shown["path"] for shown in helps]
    assert len(helps) > 30 and {"", "inspect", "report", "projections status", "audit verify"} <= set(paths), paths
    for shown in helps:
        assert shown["exit"] == 0, (shown["path"], shown["printed"])
        assert "Usage:" in shown["printed"], (shown["path"], shown["printed"])
    first = next((shown for shown in helps if shown["heavy"]), None)
    assert first is None, f"`renovation {first['path']} --help` imported {first['heavy']}" if first else ""


@pytest.mark.parametrize("command", ["", "inspect", "report", "projections status", "audit verify", "demo"],
                         ids=lambda command: command or "renovation")
def test_help_through_the_entry_point(tmp_path: Path, command: str) -> None:
    done = python("-X", "importtime", "-c", ENTRY, *command.split(), "--help", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout
    heavy = sorted(imported_by(done.stderr) & set(HEAVY))
    assert heavy == [], f"`renovation {command} --help` imported {heavy}"


def test_recording_an_inspection_imports_no_read_model_and_no_chart(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    boq = tmp_path / "boq.csv"
    boq.write_text("item,description,unit,quantity,unit_price\nA1,雨污分流,m,100,123.45\nB2,外墙保温,m2,50,185\n",
                   encoding="utf-8")
    common = ["--db", str(db), "--user", "tester"]
    for args in (
        ["compound", "register", "JM", "--name", "吉明小区", "--district", "龙山区", "--contractor", "辽源建工",
         "--households", "320", "--contract-value", "1000000", "--planned-start", "2021-03-01",
         "--planned-finish", "2021-09-30", "--registered-on", "2021-01-04"],
        ["boq", "import", "JM", str(boq)],
        ["construction", "start", "JM", "--date", "2021-03-01"],
    ):
        done = python("-c", ENTRY, *common, *args, cwd=tmp_path)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    before = event_count(db)

    recorded = probe(COMMAND_PROBE, *common, "inspect", "JM", "--kind", "patrol", "--at", "2021-05-10T09:00",
                     cwd=tmp_path)

    assert recorded["exit"] == 0, recorded["printed"]
    assert event_count(db) == before + 1, "the inspection was not recorded"
    imported = set(recorded["heavy"]) | {name.split(".")[0] for name in recorded["heavy"]}
    assert "eventsourcing.sqlite" in imported, recorded["heavy"]
    assert not imported & set(NOT_ON_WRITE), f"recording an inspection imported {sorted(imported & set(NOT_ON_WRITE))}"

    # A board's catch-up reads states with the JSON module, as the application does (not orjson: see runner._json).
    done = python("-c", COMMAND_PROBE, "orjson,sqlalchemy", *common, "ranking", "--json", cwd=tmp_path)
    board = json.loads(done.stdout)
    assert board["exit"] in (None, 0) and "sqlalchemy" in board["heavy"], board
    assert "orjson" not in board["heavy"], board


def event_count(db: Path) -> int:
    connection = sqlite3.connect(db)
    try:
        return int(connection.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0])
    finally:
        connection.close()


EXIT_PROBE = r"""
import atexit, gc, os, sys

def report():  # registered before the command's own exit handlers, so it runs after them
    os.write(1, f"\nleft to collect {len(gc.get_objects())} frozen {gc.get_freeze_count()}\n".encode())

atexit.register(report)
from renovation.cli import cli

cli.main(sys.argv[1:], prog_name="renovation")
"""


def test_a_command_leaves_python_nothing_to_collect_at_exit(tmp_path: Path) -> None:
    # Python's collections at exit walk every object the command made (the memory goes back to the
    # system anyway); the command hands them over frozen, so those collections have nothing to walk.
    done = python("-c", EXIT_PROBE, "--help", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "Usage:" in done.stdout
    left, frozen = (int(word) for word in done.stdout.rsplit("left to collect", 1)[1].split()[::2])
    assert frozen > 10_000 and left < 100, (left, frozen)

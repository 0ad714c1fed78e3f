"""Fixtures for the CLI tests (helpers in ``cli_support``): a temp database — an SQLite file, and a
PostgreSQL schema of the test's own — the command on it, a bill of quantities file, and 吉明小区 (JM)
registered or started through the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_support import BOQ_CSV, REGISTER_JM, Renovation

from tests.backends import BACKENDS, require_pg, store_url


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path | str]:
    if request.param == "sqlite":
        yield tmp_path / "r.db"
        return
    require_pg()
    yield from store_url("postgres", tmp_path)


@pytest.fixture
def run(db: Path | str) -> Renovation:
    return Renovation(db)


@pytest.fixture
def boq_file(tmp_path: Path) -> Path:
    path = tmp_path / "boq.csv"
    path.write_text(BOQ_CSV, encoding="utf-8")
    return path


@pytest.fixture
def registered(run: Renovation) -> str:
    """吉明小区 registered as JM (contract value 1,000,000; planned 2021-03-01..2021-09-30)."""
    run.ok(*REGISTER_JM)
    return "JM"


@pytest.fixture
def started(run: Renovation, registered: str, boq_file: Path) -> str:
    """JM with its bill of quantities (A1 100 m at 123.45, B2 50 m2 at 185), started on 2021-03-01."""
    run.ok("boq", "import", registered, str(boq_file))
    run.ok("construction", "start", registered, "--date", "2021-03-01")
    return registered

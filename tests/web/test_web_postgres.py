"""The web board on PostgreSQL after ``renovation db roles --apply``: the password hashes are the
bureau's to set and the projector's to read (``renovation serve`` runs under its login), nobody else's.

The demo's store in a schema of its own and roles under a prefix of their own, both dropped after; each
person's login is tried with psycopg (trust auth on 127.0.0.1) and through the CLI."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from renovation.store.pg_roles import login_role, projector_role
from tests.backends import drop_schema, pg_url, require_pg, with_schema
from tests.integration.test_pg_roles import drop_roles
from tests.serve_support import serving
from tests.web.board_support import BUREAU, DAY, ONE, SUPERVISOR, TWO, Board, Client, demo_board, password


@dataclass
class PgBoard:
    board: Board
    schema: str
    prefix: str

    def url_as(self, login: str) -> str:
        server = conninfo_to_dict(pg_url())
        return (f"postgresql://{quote(login, safe='')}@{server.get('host', '127.0.0.1')}:"
                f"{server.get('port', 5432)}/{server['dbname']}?schema={self.schema}")

    def url_of(self, person: str) -> str:
        return self.url_as(login_role(self.prefix, person))

    def connect(self, person: str | None = None) -> psycopg.Connection[Any]:
        params: dict[str, Any] = {**conninfo_to_dict(pg_url()), "autocommit": True}
        if person is not None:
            params.update(user=login_role(self.prefix, person), password="")
        return psycopg.connect(**params)

    def hashes(self) -> dict[str, str]:
        with self.connect() as connection:
            rows = connection.execute(sql.SQL("SELECT name, hash FROM {}.web_accounts").format(
                sql.Identifier(self.schema))).fetchall()
        return {str(name): str(hashed) for name, hashed in rows}


@pytest.fixture(scope="module")
def pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgBoard]:
    """The demo in its own schema, [users] with passwords set (as the superuser), roles applied."""
    require_pg()
    token = uuid.uuid4().hex[:10]
    schema, prefix = f"t_{token}", f"rw{token}"
    try:
        board = demo_board(tmp_path_factory.mktemp("pg"), db=with_schema(pg_url(), schema))
        board.cli("db", "roles", "--apply", "--prefix", prefix)
        yield PgBoard(board, schema, prefix)
    finally:
        drop_schema(schema)
        drop_roles(prefix)


@pytest.mark.parametrize("person", [ONE, TWO, SUPERVISOR])
def test_only_the_bureau_and_the_projector_read_the_hashes(pg: PgBoard, person: str) -> None:
    for statement in ("SELECT hash FROM {}.web_accounts", "SELECT count(*) FROM {}.web_accounts",
                      "UPDATE {}.web_accounts SET hash = 'x'",
                      "INSERT INTO {}.web_accounts VALUES ('x', 'y', 'z', 'w')"):
        with pg.connect(person) as connection, pytest.raises(psycopg.errors.InsufficientPrivilege):
            connection.execute(sql.SQL(statement).format(sql.Identifier(pg.schema)))
    with pg.connect(BUREAU) as connection:
        assert connection.execute(sql.SQL("SELECT count(*) FROM {}.web_accounts").format(
            sql.Identifier(pg.schema))).fetchone() == (4,)


def test_the_bureau_sets_a_password_under_its_own_login_and_a_contractor_cannot(pg: PgBoard) -> None:
    before = pg.hashes()
    # a contractor who claims to be the bureau still connects as itself: the server refuses the write
    claimed = pg.board.cli("user", "passwd", TWO, "--password-stdin", stdin="taken-over-2021!\n",
                           db=pg.url_of(TWO), check=False)
    assert claimed.returncode == 1 and "permission denied" in claimed.stderr, claimed.stderr
    assert "Traceback" not in claimed.stderr
    assert len(claimed.stderr.strip().splitlines()) == 1, claimed.stderr
    assert pg.hashes() == before
    pg.board.passwd(ONE, "set-by-the-bureau-2021", db=pg.url_of(BUREAU))
    after = pg.hashes()
    assert after[ONE] != before[ONE] and after[ONE].startswith("$argon2id$")
    pg.board.passwd(ONE, password(ONE), db=pg.url_of(BUREAU))  # back to what the other tests sign in with


def test_serve_under_the_projectors_login_serves_pages_and_signs_people_in(pg: PgBoard) -> None:
    with serving(pg.url_as(projector_role(pg.prefix)), "--today", DAY, cwd=pg.board.cwd) as server:
        assert Client(server).signin(ONE, "not-the-password").status == 401
        contractor = Client(server)
        assert contractor.signin(ONE).status == 303 and contractor.cookie
        progress = contractor.get("/progress")
        assert progress.status == 200 and ">JM<" in progress.text and ">LY<" not in progress.text
        assert contractor.get("/compound/JM").status == 200
        assert contractor.get("/compound/LY").status == 404
        supervisor = Client(server)
        assert supervisor.signin(SUPERVISOR).status == 303
        for path in ("/ranking?computed=1&by=compound", "/quality", "/digest", "/worklist", "/compound/LY", "/report"):
            assert supervisor.get(path).status == 200, path

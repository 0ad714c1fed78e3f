"""``renovation db roles`` (issue 7): least privilege on the local PostgreSQL server.

Each test gets a schema and a role prefix of its own (roles are cluster-wide), both dropped after.
The store is filled through the application as the superuser, the roles applied through the CLI,
then each person's login is tried with psycopg (``user=...``, trust auth on 127.0.0.1) and through
the CLI (``--db postgresql://<login>@.../test?schema=...``).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from click.testing import CliRunner, Result
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from renovation.cli import cli
from renovation.domain.access import User
from renovation.projections import read_models
from renovation.services.application import RenovationApp
from renovation.services.horserace import computed_ranking
from renovation.services.workspace import Workspace
from renovation.store.pg_roles import MAX_IDENTIFIER_BYTES, BadRoles, build, login_role, projector_role
from tests.backends import drop_schema, pg_unreachable, pg_url, require_pg, with_schema

CST = timezone(timedelta(hours=8))
ENV: dict[str, str | None] = {
    "LC_ALL": None, "LC_MESSAGES": None, "LANG": "C.UTF-8", "RENOVATION_TZ": "Asia/Shanghai",
    "RENOVATION_DB": None, "RENOVATION_USER": None,
}
CONFIG = """\
[users]
"张工" = { role = "supervisor" }
"王工" = { role = "supervisor" }
"孙工" = { role = "auditor" }
"周科长" = { role = "bureau" }
"李经理" = { role = "contractor", contractor = "辽源建工" }
"赵经理" = { role = "contractor", contractor = "示例建工" }
"""
USERS = {
    "张工": User("supervisor"), "王工": User("supervisor"), "孙工": User("auditor"), "周科长": User("bureau"),
    "李经理": User("contractor", "辽源建工"), "赵经理": User("contractor", "示例建工"),
}
REFUSED = (psycopg.errors.InsufficientPrivilege,)
#: The append-only tables, each with a column to "update".
APPEND_ONLY = {"renovation_events": "topic", "event_chain": "hash", "event_chain_meta": "value"}
#: Events ``fill`` records: JM 7 (register, start, score, inspection, 2 samples, a result), LY 5.
EVENTS = 12


@dataclass
class Store:
    schema: str
    prefix: str
    config: Path
    runner: CliRunner
    #: The id of JM's blind sample (one that tells nothing: see CompoundProject.next_sample_id).
    blind: str = ""

    @property
    def url(self) -> str:
        """The superuser's --db URL of this store."""
        return with_schema(pg_url(), self.schema)

    def login(self, user: str) -> str:
        return login_role(self.prefix, user)

    def url_of(self, user: str) -> str:
        """The --db URL of a person's own login."""
        return self.url_as(self.login(user))

    def url_as(self, login: str) -> str:
        """The --db URL of a login role (a person's, or the projector's)."""
        server = conninfo_to_dict(pg_url())
        return (f"postgresql://{quote(login, safe='')}@{server.get('host', '127.0.0.1')}:"
                f"{server.get('port', 5432)}/{server['dbname']}?schema={self.schema}")

    @property
    def projector(self) -> str:
        return projector_role(self.prefix)

    def project(self) -> None:
        """Catch the read models up (and take the snapshots due) as the projector's login, as
        `projections follow` does."""
        app = RenovationApp(self.url_as(self.projector))
        try:
            models = read_models(app)
            models.catch_up()
            models.close()
            app.snapshot_lagging()
        finally:
            app.close()

    def cli(self, *args: str, db: str | None = None, user: str = "周科长") -> Result:
        options = ["--db", db or self.url, "--user", user, "--config", str(self.config), "--lang", "en"]
        return self.runner.invoke(cli, [*options, *args], env=ENV)

    def connect(self, user: str | None = None, role: str | None = None, *,
                login: str | None = None) -> psycopg.Connection[Any]:
        """Autocommit connection as a person's login, or a login role, or the superuser (optionally
        SET ROLE)."""
        params: dict[str, Any] = {**conninfo_to_dict(pg_url()), "autocommit": True}
        if user is not None or login is not None:
            params.update(user=login or self.login(str(user)), password="")
        connection = psycopg.connect(**params)
        if role is not None:
            connection.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        return connection

    def table(self, name: str) -> sql.Composable:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(name))

    def rows(self, user: str, query: str, *names: str) -> list[tuple[Any, ...]]:
        with self.connect(user) as connection:
            return connection.execute(sql.SQL(query).format(*(self.table(n) for n in names))).fetchall()

    def refused(self, user: str | None, query: str, *names: str, role: str | None = None) -> str:
        """Run a statement that must fail for lack of privilege (or a trigger); return the error."""
        with self.connect(user, role) as connection, pytest.raises(REFUSED) as caught:
            connection.execute(sql.SQL(query).format(*(self.table(n) for n in names)))
        return str(caught.value)

    def apply(self) -> Result:
        result = self.cli("db", "roles", "--apply", "--prefix", self.prefix)
        assert result.exit_code == 0, result.output
        return result


def fill(url: str) -> str:
    """Two compounds of two contractors, started, inspected (a finding on JM), sampled (a blind sample
    of JM still without result, a routine one, S1, with), scored; the read models caught up. Returns
    the blind sample's id."""
    app = RenovationApp(url)
    try:
        for code, name, contractor in (("JM", "吉明小区", "辽源建工"), ("LY", "利源小区", "示例建工")):
            app.register_compound(
                code=code, name=name, district="龙山区", contractor=contractor, households=300,
                contract_value=Decimal("1000000"), planned_start=date(2021, 3, 1),
                planned_finish=date(2021, 9, 30), registered_on=date(2021, 1, 4), user="周科长",
            )
            app.start_construction(code, date(2021, 3, 1), user="周科长")
            app.score(code, "2021-03", {d: Decimal(80 if code == "JM" else 70) for d in
                                        ("quality", "safety", "progress", "civilized", "satisfaction")},
                      user="周科长")
        app.record_inspection("JM", "morning", at=datetime(2021, 3, 2, 6, 40, tzinfo=CST), user="张工")
        app.record_inspection("LY", "morning", at=datetime(2021, 3, 2, 6, 50, tzinfo=CST), user="张工")
        blind = app.sample_material("JM", material="防水卷材", batch="B-1", regime="blind", user="张工").sample_id
        app.sample_material("JM", material="水泥", batch="C-1", regime="routine", user="张工")
        app.record_material_result("JM", "S1", passed=True, lab="市质检站", user="张工")
        app.sample_material("LY", material="水泥", batch="C-9", regime="routine", user="张工")
        models = read_models(app)
        models.catch_up()
        models.close()
    finally:
        app.close()
    return blind


def drop_roles(prefix: str) -> None:
    with psycopg.connect(pg_url(), autocommit=True) as connection:
        names = [row[0] for row in connection.execute(
            "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s)", (f"{prefix}_",)
        )]
        for name in names:
            connection.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(name)))
        if names:
            connection.execute(sql.SQL("DROP ROLE {}").format(sql.SQL(", ").join(map(sql.Identifier, names))))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A filled store in a schema of its own; roles not applied yet."""
    require_pg()
    token = uuid.uuid4().hex[:10]
    config = tmp_path / "renovation.toml"
    config.write_text(CONFIG, encoding="utf-8")
    created = Store(schema=f"t_{token}", prefix=f"rt{token}", config=config, runner=CliRunner())
    try:
        created.blind = fill(created.url)
        yield created
    finally:
        drop_schema(created.schema)
        drop_roles(created.prefix)


@pytest.fixture
def applied(store: Store) -> Store:
    store.apply()
    return store


# ------------------------------------------------------------------ the CLI without a server
def test_dry_run_prints_the_sql_and_creates_nothing(tmp_path: Path) -> None:
    config = tmp_path / "renovation.toml"
    config.write_text(CONFIG, encoding="utf-8")
    prefix = f"rt{uuid.uuid4().hex[:10]}"
    result = CliRunner().invoke(
        cli, ["--db", with_schema(pg_url(), "t_dry"), "--config", str(config), "db", "roles", "--prefix", prefix],
        env=ENV,
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1] == "BEGIN;" and lines[-1] == "COMMIT;"
    assert f'CREATE ROLE "{prefix}_u_张工" LOGIN' in result.output
    assert f'GRANT "{prefix}_contractor" TO "{prefix}_u_李经理";' in result.output
    assert 'ADD COLUMN IF NOT EXISTS "recorded_by" text;' in result.output
    assert "BEFORE TRUNCATE" in result.output and "ENABLE ROW LEVEL SECURITY" in result.output
    if pg_unreachable() is None:  # nothing was created on the server
        with psycopg.connect(pg_url()) as connection:
            found = connection.execute("SELECT count(*) FROM pg_roles WHERE starts_with(rolname, %s)", (prefix,))
            assert found.fetchone() == (0,)


def test_sqlite_store_is_refused_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "renovation.toml"
    config.write_text(CONFIG, encoding="utf-8")
    for apply in ([], ["--apply"]):
        result = CliRunner().invoke(
            cli, ["--db", str(tmp_path / "r.db"), "--config", str(config), "db", "roles", *apply], env=ENV
        )
        assert result.exit_code == 2
        assert len(result.output.strip().splitlines()) == 1
        assert "PostgreSQL" in result.output
    assert not (tmp_path / "r.db").exists()


def test_a_prefix_is_letters_and_digits_so_no_two_stores_share_a_role() -> None:
    """With an underscore, the person "owner" of prefix rvq would have the login rvq_u_owner: the owner
    role of prefix rvq_u."""
    with pytest.raises(BadRoles, match="letters or digits"):
        build("s", USERS, "rvq_u")
    assert login_role("rvq", "owner") == "rvq_u_owner" != f"{build('s', USERS, 'rvqu').prefix}_owner"


def test_without_users_or_with_a_bad_prefix_is_bad_usage(tmp_path: Path) -> None:
    config = tmp_path / "renovation.toml"
    config.write_text("[ranking.weights]\nquality = 100\nsafety = 0\nprogress = 0\ncivilized = 0\nsatisfaction = 0\n",
                      encoding="utf-8")
    url = with_schema(pg_url(), "t_dry")
    result = CliRunner().invoke(cli, ["--db", url, "--config", str(config), "db", "roles"], env=ENV)
    assert result.exit_code == 2 and "[users]" in result.output
    config.write_text(CONFIG, encoding="utf-8")
    result = CliRunner().invoke(cli, ["--db", url, "--config", str(config), "db", "roles", "--prefix", "A;"], env=ENV)
    assert result.exit_code == 2 and "--prefix" in result.output


def test_login_role_names_are_deterministic_and_safe() -> None:
    assert login_role("renovation", "张工") == "renovation_u_张工"
    assert login_role("renovation", 'O"Brien; DROP') == 'renovation_u_O"Brien; DROP'  # quoted, never spliced
    long = "很长的名字" * 10
    for name in (long, "a\tb", "x\u200by"):
        role = login_role("renovation", name)
        assert role == login_role("renovation", name)
        assert len(role.encode()) <= MAX_IDENTIFIER_BYTES
        assert role.startswith("renovation_u_") and all(ch.isprintable() for ch in role)
    assert login_role("renovation", long) != login_role("renovation", long + "!")
    assert 'CREATE ROLE "renovation_u_O""Brien; DROP" LOGIN' in build("s", {'O"Brien; DROP': User("bureau")}).render()


# ------------------------------------------------------------------ on the server
def test_apply_creates_the_roles_and_is_repeatable(store: Store) -> None:
    first = store.apply()
    assert f"login {store.login('张工')}, supervisor" in first.output
    again = store.apply()
    assert again.output.splitlines()[-1] == first.output.splitlines()[-1]  # the same position, kept
    with store.connect() as connection:
        owners = connection.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = %s", (store.schema,)
        ).fetchall()
        assert owners == [(f"{store.prefix}_owner",)]
        member = connection.execute(
            "SELECT pg_has_role(%s, %s, 'MEMBER'), pg_has_role(%s, %s, 'MEMBER')",
            (store.login("张工"), f"{store.prefix}_supervisor", store.login("张工"), f"{store.prefix}_bureau"),
        ).fetchone()
        assert member == (True, False)


def test_apply_needs_a_superuser(store: Store) -> None:
    store.apply()
    result = store.cli("db", "roles", "--apply", "--prefix", store.prefix, db=store.url_of("周科长"))
    assert result.exit_code == 1
    assert "superuser" in result.output


@pytest.mark.parametrize("person", ["孙工", "张工", "周科长", "李经理"])
def test_nobody_updates_deletes_or_truncates_the_events(applied: Store, person: str) -> None:
    for table, column in APPEND_ONLY.items():
        for statement in (f"UPDATE {{}} SET {column} = {column}", "DELETE FROM {}", "TRUNCATE {}"):
            applied.refused(person, statement, table)
    assert applied.rows("孙工", "SELECT count(*) FROM {}", "renovation_events") == [(EVENTS,)]


def test_the_trigger_binds_the_owner_and_the_superuser(applied: Store) -> None:
    owner = f"{applied.prefix}_owner"
    for role in (owner, None):
        for table, column in APPEND_ONLY.items():
            for statement, op in ((f"UPDATE {{}} SET {column} = {column}", "UPDATE"), ("DELETE FROM {}", "DELETE"),
                                  ("TRUNCATE {}", "TRUNCATE")):
                message = applied.refused(None, statement, table, role=role)
                assert f"{op} on {applied.schema}.{table} refused: the event log is append-only" in message
    verified = applied.cli("audit", "verify")
    assert verified.exit_code == 0, verified.output


def test_auditor_reads_everything_and_inserts_nothing_but_its_events(applied: Store) -> None:
    for table in ("renovation_events", "renovation_snapshots", "event_chain", "event_chain_meta", "db_logins",
                  "progress_compounds", "quality_samples", "ranking_scores"):
        assert applied.rows("孙工", "SELECT count(*) FROM {}", table)[0][0] > 0 or table == "renovation_snapshots"
    assert len(applied.rows("孙工", "SELECT * FROM {}", "progress_compounds")) == 2  # no row-level limit
    applied.refused("孙工", "INSERT INTO {} VALUES ('roles_applied_at_position', '999999')", "event_chain_meta")
    applied.refused("孙工", "INSERT INTO {} VALUES ('x', 'y', 'auditor', NULL)", "db_logins")
    # Nobody chooses the login an event is recorded under.
    applied.refused("孙工", "INSERT INTO {} (originator_id, originator_version, topic, state, recorded_by) "
                    "VALUES (gen_random_uuid(), 1, 't', '\\x7b7d', 'someone')", "renovation_events")
    verified = applied.cli("audit", "verify", db=applied.url_of("孙工"), user="孙工")
    assert verified.exit_code == 0, verified.output


def test_contractor_sees_the_ranking_and_its_own_rows_only(applied: Store) -> None:
    for table in ("renovation_events", "renovation_snapshots", "event_chain", "db_logins", "compound_directory"):
        applied.refused("李经理", "SELECT * FROM {}", table)
    applied.refused("李经理", "INSERT INTO {} VALUES ('X', 'x', '辽源建工')", "ranking_compounds")
    ranking = applied.rows("李经理", "SELECT code, contractor FROM {} ORDER BY code", "ranking_compounds")
    assert ranking == [("JM", "辽源建工"), ("LY", "示例建工")]
    assert len(applied.rows("李经理", "SELECT * FROM {}", "ranking_scores")) == 2
    assert applied.rows("李经理", "SELECT code FROM {}", "progress_compounds") == [("JM",)]
    assert applied.rows("李经理", "SELECT DISTINCT code FROM {}", "quality_morning_days_v2") == [("JM",)]
    assert applied.rows("赵经理", "SELECT code FROM {}", "progress_compounds") == [("LY",)]
    assert applied.rows("赵经理", "SELECT code, sample_id FROM {}", "quality_samples") == [("LY", "S1")]
    # JM's blind sample has no result yet: hidden; the routine S1 with its result is shown.
    assert applied.rows("李经理", "SELECT code, sample_id FROM {}", "quality_samples") == [("JM", "S1")]
    assert applied.rows("李经理", "SELECT count(*) FROM {}", "quality_samples")[0][0] == 1
    # SET ROLE to the group does not widen (or change) what the login sees.
    with applied.connect("李经理") as connection:
        connection.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(f"{applied.prefix}_contractor")))
        assert connection.execute(sql.SQL("SELECT code FROM {}").format(applied.table("progress_compounds"))
                                  ).fetchall() == [("JM",)]
    result = applied.cli("material", "result", "JM", applied.blind, "--pass", "--lab", "市质检站", user="张工",
                         db=applied.url_of("张工"))
    assert result.exit_code == 0, result.output
    applied.project()
    shown = applied.rows("李经理", "SELECT sample_id FROM {} ORDER BY sample_id", "quality_samples")
    assert shown == sorted([(applied.blind,), ("S1",)])


def test_a_contractor_reads_the_facts_of_its_own_compounds_computed_scores_only(applied: Store) -> None:
    for table in ("computed_compounds", "computed_inspections", "computed_results"):
        assert {row[0] for row in applied.rows("李经理", "SELECT code FROM {}", table)} == {"JM"}, table
    assert {row[0] for row in applied.rows("赵经理", "SELECT code FROM {}", "computed_inspections")} == {"LY"}
    applied.refused("李经理", "DELETE FROM {}", "computed_findings")
    board = applied.cli("--today", "2021-03-31", "ranking", "--computed", "--by", "compound", "--json",
                        user="李经理", db=applied.url_of("李经理"))
    assert board.exit_code == 0, board.output
    assert [row["code"] for row in json.loads(board.stdout)] == ["JM"]
    other = applied.cli("--today", "2021-03-31", "ranking", "explain", "LY", "--period", "2021-03",
                        user="李经理", db=applied.url_of("李经理"))
    assert other.exit_code == 1 and "no compound with code LY" in other.output
    bureau = applied.cli("--today", "2021-03-31", "ranking", "--computed", "--by", "compound", "--json",
                         user="周科长", db=applied.url_of("周科长"))
    assert sorted(row["code"] for row in json.loads(bureau.stdout)) == ["JM", "LY"]


def test_a_contractor_login_reads_only_its_own_rows_of_every_computed_table(store: Store, tmp_path: Path) -> None:
    """Facts of both contractors' compounds in every table of the computed horse race, read through each
    login after ``db roles --apply``; and the boards through a contractor's own login."""
    boq = tmp_path / "boq.csv"
    boq.write_text("item,description,unit,quantity,unit_price\nA1,雨污分流,m,100,123.45\n", encoding="utf-8")
    for code in ("JM", "LY"):
        for args, user in (
            (("boq", "import", code, str(boq)), "周科长"),
            (("inspect", code, "--kind", "patrol", "--at", "2021-03-05T09:00", "--due", "2021-03-09",
              "--finding", "safety:minor:x", "--finding", "quality:major:y"), "张工"),
            (("finding", "rectify", code, "F1", "--at", "2021-03-06T09:00"), "李经理" if code == "JM" else "赵经理"),
            (("finding", "close", code, "F1", "--at", "2021-03-07T09:00"), "张工"),
            (("finding", "reopen", code, "F1", "--note", "复查不合格", "--at", "2021-03-08T09:00"), "张工"),
            (("meter", code, "--item", "A1", "--period", "2021-03", "--quantity", "10"), "孙工"),
            (("feedback", code, "--channel", "hotline", "--text", "噪音", "--at", "2021-03-06T08:00"), "周科长"),
        ):
            result = store.cli(*args, user=user)
            assert result.exit_code == 0, (args, result.output)
    result = store.cli("material", "result", "LY", "S1", "--fail", "--lab", "站", user="张工")
    assert result.exit_code == 0, result.output
    store.apply()
    store.project()
    # The projector's login keeps the computed scores it works out (a contractor's login keeps none).
    kept = Workspace(store.url_as(store.projector), config_path=str(store.config))
    try:
        assert computed_ranking(kept, "2021-03", "compound", date(2021, 3, 31))
    finally:
        kept.close()
    tables = ("computed_compounds", "computed_inspections", "computed_findings", "computed_closed_spans",
              "computed_results", "computed_entries", "computed_metered", "computed_tickets", "computed_versions",
              "computed_totals")
    for table in tables:
        assert {row[0] for row in store.rows("周科长", "SELECT code FROM {}", table)} == {"JM", "LY"}, table
        assert {row[0] for row in store.rows("李经理", "SELECT code FROM {}", table)} == {"JM"}, table
        assert {row[0] for row in store.rows("赵经理", "SELECT code FROM {}", table)} == {"LY"}, table
    # no pending blind sample among the results a contractor reads
    assert all(not row[0].startswith("B") for row in store.rows("李经理", "SELECT sample_id FROM {}",
                                                                 "computed_results"))
    own = store.url_of("李经理")
    for args in (("ranking", "--json"), ("ranking", "--by", "compound", "--json"), ("ranking", "--computed", "--json"),
                 ("ranking", "explain", "JM", "--period", "2021-03", "--json"),
                 ("report", "--html", str(tmp_path / "r.html"))):
        result = store.cli("--today", "2021-03-31", *args, user="李经理", db=own)
        assert result.exit_code == 0, (args, result.output)
    board = json.loads(store.cli("--today", "2021-03-31", "ranking", "--by", "compound", "--json",
                                 user="李经理", db=own).stdout)
    assert {row["code"]: row["computed_total"] is not None for row in board} == {"JM": True, "LY": False}


def test_supervisor_records_through_its_own_login(applied: Store) -> None:
    result = applied.cli("inspect", "JM", "--kind", "patrol", "--at", "2021-03-03T09:00",
                         "--finding", "safety:major:脚手架未挂安全网", "--json", user="张工", db=applied.url_of("张工"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["finding_ids"] == ["F1"]
    stale = applied.cli("quality", "--json", user="张工", db=applied.url_of("张工"))  # may not catch up
    assert stale.exit_code == 0, stale.output
    assert {row["code"]: row["patrols"] for row in json.loads(stale.stdout)} == {"JM": 0, "LY": 0}
    assert "the boards are 1 event(s) behind the log" in stale.stderr
    applied.project()
    board = applied.cli("quality", "--json", user="张工", db=applied.url_of("张工"))
    assert board.exit_code == 0, board.output
    assert {row["code"]: row["patrols"] for row in json.loads(board.stdout)} == {"JM": 1, "LY": 0}
    assert board.stderr == ""
    last = applied.rows("孙工", "SELECT recorded_by, convert_from(state, 'UTF8') FROM {} "
                        "ORDER BY notification_id DESC LIMIT 1", "renovation_events")[0]
    assert last[0] == applied.login("张工")
    assert json.loads(last[1])["user"] == "张工"
    before = applied.rows("孙工", "SELECT DISTINCT recorded_by FROM {} WHERE notification_id <= 12",
                          "renovation_events")
    assert before == [(conninfo_to_dict(pg_url()).get("user", "postgres"),)]  # the superuser's, not checked
    verified = applied.cli("audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert "verified 13 events" in verified.output and "after position 12" in verified.output


def test_a_login_may_record_only_as_its_own_person(applied: Store) -> None:
    """Item 1: the append function compares each event's user with the person whose login calls it."""
    forged = applied.cli("inspect", "LY", "--kind", "patrol", "--at", "2021-03-03T09:00",
                         user="王工", db=applied.url_of("张工"))
    assert forged.exit_code == 1
    (line,) = forged.output.strip().splitlines()
    assert line == (f"Error: refused by the database: {applied.login('张工')} may record only as 张工, not as 王工 "
                    "(the login of 张工); nothing was recorded")
    honest = applied.cli("inspect", "JM", "--kind", "patrol", "--at", "2021-03-03T10:00",
                         user="王工", db=applied.url_of("王工"))
    assert honest.exit_code == 0, honest.output
    assert applied.rows("孙工", "SELECT count(*) FROM {}", "renovation_events") == [(EVENTS + 1,)]
    verified = applied.cli("audit", "verify")
    assert verified.exit_code == 0, verified.output


def test_a_role_records_only_the_kinds_of_event_its_role_may(applied: Store) -> None:
    """Item 1: a supervisor's login with no configuration (so the application checks nothing) still
    cannot record the bureau's score: the database refuses it."""
    before = applied.rows("孙工", "SELECT count(*) FROM {}", "renovation_events")
    scores = ["--quality", "100", "--safety", "100", "--progress", "100", "--civilized", "100", "--satisfaction", "100"]
    result = applied.runner.invoke(cli, ["--db", applied.url_of("张工"), "--user", "张工", "--config", "/dev/null",
                                         "score", "LY", "--period", "2021-04", *scores], env=ENV)
    assert result.exit_code == 1
    assert result.output.strip() == ("Error: refused by the database: a supervisor may not record HorseRaceScored; "
                                     "nothing was recorded")
    metering = applied.runner.invoke(cli, ["--db", applied.url_of("周科长"), "--user", "周科长", "--config",
                                           "/dev/null", "inspect", "JM", "--kind", "patrol"], env=ENV)
    assert "a bureau may not record InspectionRecorded" in metering.output
    assert applied.rows("孙工", "SELECT count(*) FROM {}", "renovation_events") == before
    # The same through the function itself, with a state of one's own making.
    state = json.dumps({"timestamp": {"_type_": "datetime_iso", "_data_": "2021-03-03T01:00:00+00:00"},
                        "user": "张工", "code": "X", "command_id": uuid.uuid4().hex}).encode()
    topic = "renovation.domain.compound:CompoundProject.HorseRaceScored"
    call = sql.SQL("SELECT {}(%s, %s, %s, %s)").format(applied.table("renovation_append"))
    with applied.connect("张工") as connection, pytest.raises(REFUSED, match="a supervisor may not record "
                                                                           "HorseRaceScored"):
        connection.execute(call, ([uuid.uuid4()], [1], [topic], [state]))
    # Nor an event dated ahead of the server's clock (it would hold up every later writer), nor one
    # without a command id (whose time the order of the log does not bind).
    inspection = "renovation.domain.compound:CompoundProject.InspectionRecorded"
    for forged, refusal in (({"_data_": "2099-01-01T00:00:00+00:00", "command_id": uuid.uuid4().hex},
                             "after the server's clock"),
                            ({"_data_": "2021-03-05T00:00:00+00:00"}, "only events of a command")):
        made = json.dumps({"timestamp": {"_type_": "datetime_iso", "_data_": forged.pop("_data_")},
                           "user": "张工", **forged}).encode()
        with applied.connect("张工") as connection, pytest.raises(REFUSED, match=refusal):
            connection.execute(call, ([uuid.uuid4()], [1], [inspection], [made]))
    # Nor one whose state says two times (the log's order reads the first, the application the last),
    # nor a time without its offset: either would hold up or break every later writer.
    twice = ('{"timestamp":{"_type_":"datetime_iso","_data_":"2099-01-01T00:00:00+08:00"},"user":"张工",'
             f'"command_id":"{uuid.uuid4().hex}","timestamp":{{"_type_":"datetime_iso","_data_":'
             f'"{datetime.now(UTC).isoformat()}"}}}}').encode()
    naive = _state("张工")
    naive = naive.replace(datetime.now(UTC).isoformat()[:10].encode(), b"2021-03-03", 1)
    naive = json.dumps({**json.loads(naive), "timestamp": {"_type_": "datetime_iso",
                                                            "_data_": "2021-03-03T06:59:22"}}).encode()
    for made in (twice, naive):
        with applied.connect("张工") as connection, pytest.raises(REFUSED, match="one time with its offset"):
            connection.execute(call, ([uuid.uuid4()], [1], [inspection], [made]))
    # A login that is nobody's (the projector's service login) records nothing.
    with applied.connect(login=applied.projector) as connection, pytest.raises(REFUSED):
        connection.execute(call, ([uuid.uuid4()], [1], [topic], [state]))


def test_verify_names_an_event_a_writer_made_up_that_its_command_would_not_record(applied: Store) -> None:
    """A supervisor may record inspections, and could call the append function with one of its own
    making (the right kind, its own user) that no command would record: verify runs each event's
    command on its compound and names it."""
    with applied.connect() as connection:  # the superuser reads the last inspection (LY's) as a model
        row = connection.execute(sql.SQL(
            "SELECT originator_id, convert_from(state, 'UTF8') FROM {} WHERE topic LIKE %s ORDER BY notification_id "
            "DESC LIMIT 1").format(applied.table("renovation_events")), ("%InspectionRecorded",)).fetchone()
        assert row is not None
        version = connection.execute(sql.SQL("SELECT max(originator_version) FROM {} WHERE originator_id = %s")
                                     .format(applied.table("renovation_events")), (row[0],)).fetchone()
        assert version is not None
    state = json.loads(row[1])
    state.update(inspection_id="I99", command_id=uuid.uuid4().hex,
                 timestamp={"_type_": "datetime_iso", "_data_": datetime.now(UTC).isoformat()})
    call = sql.SQL("SELECT {}(%s, %s, %s, %s)").format(applied.table("renovation_append"))
    with applied.connect("张工") as connection:
        connection.execute(call, ([row[0]], [version[0] + 1],
                                  ["renovation.domain.compound:CompoundProject.InspectionRecorded"],
                                  [json.dumps(state, separators=(",", ":")).encode()]))
    verified = applied.cli("audit", "verify", user="孙工", db=applied.url_of("孙工"))
    assert verified.exit_code == 1
    assert verified.stderr == (f"Error: position {EVENTS + 1}: does_not_follow: InspectionRecorded (LY version "
                               f"{version[0] + 1}) does not follow from its command: inspection_id is I99, the rules "
                               "give I2 (1 problem(s) in all)\n")


def test_verify_names_an_event_its_users_role_could_not_have_recorded(store: Store) -> None:
    """Item 1: recorded before the roles (or by the superuser, whom the function does not check), a
    supervisor's score is named by verify."""
    app = RenovationApp(store.url)
    try:
        app.score("LY", "2021-04", {d: Decimal(99) for d in ("quality", "safety", "progress", "civilized",
                                                              "satisfaction")}, user="张工")
    finally:
        app.close()
    store.apply()
    verified = store.cli("audit", "verify")
    assert verified.exit_code == 1
    assert verified.stderr.startswith(f"Error: position {EVENTS + 1}: role_mismatch: recorded by 张工, a supervisor, "
                                      "who may not record HorseRaceScored")


def test_writers_write_nothing_but_through_the_append_function(applied: Store) -> None:
    """Items 2 and 3: no writer inserts into the events, the chain, the snapshots or the read models;
    the chain cannot be poisoned ahead of the log; writes go on afterwards and the chain verifies."""
    ahead = "INSERT INTO {} (position, previous, hash) SELECT p, p - 1, 'x' FROM generate_series(13, 112) p"
    for person in ("张工", "孙工", "周科长"):
        applied.refused(person, ahead, "event_chain")
        applied.refused(person, "INSERT INTO {} (originator_id, originator_version, topic, state) VALUES "
                        "(gen_random_uuid(), 1, 't', '\\x7b7d')", "renovation_events")
        applied.refused(person, "INSERT INTO {} (originator_id, originator_version, topic, state) SELECT "
                        "originator_id, originator_version + 1, topic, state FROM {} LIMIT 1",
                        "renovation_snapshots", "renovation_events")
        with applied.connect(person) as connection, pytest.raises(REFUSED), connection.transaction():
            connection.execute(sql.SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(applied.table("renovation_events")))
        applied.refused(person, "UPDATE {} SET quality = '100'", "ranking_scores")
        applied.refused(person, "DELETE FROM {}", "quality_samples")
        applied.refused(person, "UPDATE {} SET position = 0", "projection_tracking")
    result = applied.cli("inspect", "JM", "--kind", "patrol", "--at", "2021-03-03T09:00", user="张工",
                         db=applied.url_of("张工"))
    assert result.exit_code == 0, result.output
    verified = applied.cli("audit", "verify", user="孙工", db=applied.url_of("孙工"))
    assert verified.exit_code == 0, verified.output
    assert f"verified {EVENTS + 1} events" in verified.output


def test_the_projectors_large_rebuild_goes_through_its_vacuum(applied: Store,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A catch-up of many events ends with ``VACUUM (ANALYZE)`` of its tables: as the projector's login,
    which does not own them (PostgreSQL skips them), the rebuild goes through all the same."""
    from renovation.projections import runner

    monkeypatch.setattr(runner, "ANALYZE_AFTER", 5)
    app = RenovationApp(applied.url_as(applied.projector))
    try:
        models = read_models(app)
        models.rebuild()
        assert [row["lag"] for row in models.status()] == [0] * len(models.projections)
        models.close()
    finally:
        app.close()


def test_snapshots_are_taken_by_the_projector_alone(applied: Store) -> None:
    """Item 3: a writer's command takes no snapshot however many events it records; the projector's
    catch-up takes the ones due, sealed, and loads use them."""
    for hour in range(100):
        at = f"2021-03-{4 + hour // 12:02d}T{7 + hour % 12:02d}:00"
        result = applied.cli("inspect", "JM", "--kind", "patrol", "--at", at, user="张工", db=applied.url_of("张工"))
        assert result.exit_code == 0, result.output
    assert applied.rows("孙工", "SELECT count(*) FROM {}", "renovation_snapshots") == [(0,)]
    applied.project()
    assert applied.rows("孙工", "SELECT originator_version FROM {}", "renovation_snapshots") == [(107,)]
    shown = applied.cli("compound", "show", "JM", "--json", user="张工", db=applied.url_of("张工"))
    assert shown.exit_code == 0, shown.output
    assert shown.stderr == ""  # the sealed snapshot was used without a warning
    verified = applied.cli("audit", "verify", user="孙工", db=applied.url_of("孙工"))
    assert verified.exit_code == 0, verified.output


def test_only_the_projector_writes_read_models_and_audit_boards_finds_a_forged_row(applied: Store) -> None:
    """Item 4: the auditor may not forge the ranking; the superuser (or the projector's login) can, and
    `audit boards` names every forged row; `projections rebuild` as the projector mends them."""
    applied.refused("孙工", "UPDATE {} SET quality = '100'", "ranking_scores")
    for command in (["projections", "rebuild"], ["projections", "follow"]):
        refused = applied.cli(*command, user="孙工", db=applied.url_of("孙工"))
        assert refused.exit_code == 1
        assert refused.output.strip() == ("Error: this database login may not write the read models: after "
                                          "`renovation db roles --apply` only the projector's login does "
                                          "(PREFIX_projector)")
    clean = applied.cli("audit", "boards", user="孙工", db=applied.url_of("孙工"))
    assert clean.exit_code == 0, clean.output
    assert clean.output.startswith("read models agree with the log:")
    with applied.connect(login=applied.projector) as connection:
        connection.execute(sql.SQL("UPDATE {} SET quality = '100' WHERE code = 'LY'").format(
            applied.table("ranking_scores")))
        connection.execute(sql.SQL("DELETE FROM {} WHERE code = 'JM'").format(applied.table("quality_samples")))
        connection.execute(sql.SQL("DELETE FROM {} WHERE code = 'JM'").format(applied.table("quality_blind_pending")))
    forged = applied.cli("audit", "boards", "--json", user="孙工", db=applied.url_of("孙工"))
    assert forged.exit_code == 1
    found = {(d["table"], d["key"], d["kind"], d["column"], d["stored"], d["rebuilt"])
             for d in json.loads(forged.stdout)}
    assert found == {("ranking_scores", "LY/2021-03", "changed", "quality", "100", "70"),
                     ("quality_blind_pending", f"JM/{applied.blind}", "missing", None, None, None),
                     ("quality_samples", "JM/S1", "missing", None, None, None)}
    assert "3 difference(s) between the read models and the log" in forged.stderr
    rebuilt = applied.cli("projections", "rebuild", db=applied.url_as(applied.projector), user="周科长")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert applied.cli("audit", "boards", user="孙工", db=applied.url_of("孙工")).exit_code == 0


def test_a_reader_reads_the_boards_as_last_caught_up_and_hears_how_far_behind(applied: Store) -> None:
    """Item 6: a contractor's login (which may read no event) runs the boards without a database error,
    reads them as the projector left them and is told how far behind they are."""
    for args in (["ranking"], ["ranking", "--json"], ["progress"], ["quality", "--json"], ["ledger", "JM"],
                 ["quality", "JM"], ["compound", "list"], ["finding", "list"], ["material", "list"], ["digest"],
                 ["feedback", "list"], ["projections", "status"]):
        result = applied.cli(*args, user="李经理", db=applied.url_of("李经理"))
        assert result.exit_code == 0, (args, result.output)
        assert "Error" not in result.output and "sqlalche.me" not in result.output
        assert result.stderr == ""
    for args in (["compound", "show", "JM"], ["audit", "history", "JM"], ["finding", "show", "JM", "F1"]):
        refused = applied.cli(*args, user="李经理", db=applied.url_of("李经理"))
        assert refused.exit_code == 1, (args, refused.output)
        assert refused.output.strip() == ("Error: this database login may not read the event log (after `renovation "
                                          "db roles --apply`, a contractor's login reads the boards and its own "
                                          "lists only)"), args
    other = applied.cli("ledger", "LY", user="李经理", db=applied.url_of("李经理"))
    assert (other.exit_code, other.output.strip()) == (1, "Error: no compound with code LY")
    recorded = applied.cli("score", "LY", "--period", "2021-04", "--quality", "90", "--safety", "90", "--progress",
                           "90", "--civilized", "90", "--satisfaction", "90", db=applied.url_of("周科长"))
    assert recorded.exit_code == 0, recorded.output
    behind = applied.cli("ranking", "--json", user="李经理", db=applied.url_of("李经理"))
    assert behind.exit_code == 0, behind.output
    assert "the boards are 1 event(s) behind the log" in behind.stderr
    assert "2021-04" not in behind.stdout
    applied.project()
    current = applied.cli("ranking", "--json", "--period", "2021-04", user="李经理", db=applied.url_of("李经理"))
    assert current.exit_code == 0, current.output
    assert current.stderr == "" and "示例建工" in current.stdout


def test_a_contractor_can_count_no_pending_blind_sample(applied: Store) -> None:
    """Item 5: JM's blind sample waits for its result. The contractor's sample ids have no gap (the
    routine samples are S1, S2, ...), the pending blind samples are in tables it may not read, and the
    statistics, row estimates and sizes that would count rows are not its to read."""
    with applied.connect() as connection:  # the superuser: statistics as autovacuum would leave them
        connection.execute(sql.SQL("ANALYZE {}").format(applied.table("quality_samples")))
    ids = applied.rows("李经理", "SELECT sample_id FROM {} ORDER BY sample_id", "worklist_samples")
    assert ids == [("S1",)]
    listed = applied.cli("material", "list", "--json", user="李经理", db=applied.url_of("李经理"))
    assert listed.exit_code == 0, listed.output
    assert [row["sample_id"] for row in json.loads(listed.stdout)] == ["S1"]
    for table in ("quality_blind_pending", "worklist_blind_pending"):
        applied.refused("李经理", "SELECT count(*) FROM {}", table)
        applied.refused("李经理", "EXPLAIN SELECT * FROM {}", table)
    qualified = f'"{applied.schema}"."quality_blind_pending"'
    for statement in ("SELECT n_live_tup FROM pg_stat_user_tables", "SELECT n_tup_ins FROM pg_stat_all_tables",
                      "SELECT heap_blks_read FROM pg_statio_user_tables",
                      f"SELECT pg_stat_get_live_tuples('{qualified}'::regclass)",
                      f"SELECT pg_stat_get_tuples_inserted('{qualified}'::regclass)",
                      f"SELECT pg_relation_size('{qualified}'::regclass)",
                      f"SELECT pg_total_relation_size('{qualified}'::regclass)",
                      f"SELECT reltuples FROM pg_class WHERE oid = '{qualified}'::regclass"):
        applied.refused("李经理", statement)
    # What psql and the drivers need of the catalogue is still there; the supervisor keeps the statistics.
    found = applied.rows("李经理", f"SELECT relname, relkind FROM pg_class WHERE oid = '{qualified}'::regclass")
    assert found == [("quality_blind_pending", "r")]
    assert applied.rows("张工", "SELECT count(*) >= 0 FROM pg_stat_user_tables") == [(True,)]
    # The blind sample's rows, to those who may see it.
    assert applied.rows("张工", "SELECT code, sample_id FROM {}", "quality_blind_pending") == [("JM", applied.blind)]
    assert re.fullmatch(r"B[0-9A-F]{6,}", applied.blind)  # no count in it


def _state(user: str, **fields: Any) -> bytes:
    now = datetime.now(UTC).isoformat()
    return json.dumps({"timestamp": {"_type_": "datetime_iso", "_data_": now}, "user": user,
                       "command_id": uuid.uuid4().hex, **fields}).encode()


def _whole(topic: str, user: str, **fields: Any) -> bytes:
    """A state with every field of its kind (those not given null): what the append function's check of a
    person's fields lets through, whatever the values."""
    from renovation.store.pg_roles import event_fields

    empty = dict.fromkeys(set(event_fields()[topic]) - {"timestamp", "user", "command_id"})
    return _state(user, **{**empty, **fields})


def test_the_append_function_keeps_each_compound_whole(applied: Store) -> None:
    """What no crafted call may break for others: an event follows its compound's last version (no
    gap, no repeat, nothing before 1), a compound begins with its registration and only there, a
    registration makes the compound's class (its ``originator_topic``, which the library imports to make
    the compound), a code is registered once."""
    from renovation.domain.compound import CompoundProject

    with applied.connect() as connection:
        (jm, last), = connection.execute(sql.SQL(
            "SELECT originator_id, max(originator_version) FROM {} WHERE originator_id = (SELECT originator_id "
            "FROM {} WHERE topic LIKE '%%Registered' ORDER BY notification_id LIMIT 1) GROUP BY originator_id"
        ).format(applied.table("renovation_events"), applied.table("renovation_events"))).fetchall()
    inspection = "renovation.domain.compound:CompoundProject.InspectionRecorded"
    registered = "renovation.domain.compound:CompoundProject.Registered"
    call = sql.SQL("SELECT {}(%s, %s, %s, %s)").format(applied.table("renovation_append"))
    tries = [
        ("张工", [jm], [last + 5], [inspection], "does not follow its last"),
        ("张工", [jm], [-5], [inspection], "does not follow its last"),
        ("张工", [jm, jm], [last + 1, last + 1], [inspection, inspection], "does not follow its last"),
        ("张工", [uuid.uuid4()], [1], [inspection], "begins with its registration"),
        ("张工", [uuid.uuid4()], [5], [inspection], "does not follow its last"),
        ("周科长", [uuid.uuid4()], [1], [registered], "registered already"),
        ("周科长", [uuid.uuid4()], [1], [registered], "not a compound code"),
        ("周科长", [uuid.uuid4()], [1], [registered], "another class"),
        ("周科长", [uuid.uuid4()], [1], [registered], "no class"),
        ("周科长", [uuid.uuid4()], [1], [registered], "not a compound code "),  # a number, not text
    ]
    compound = "renovation.domain.compound:CompoundProject"
    spelled = {"registered already": {"code": "JM", "originator_topic": compound},
               "not a compound code": {"code": "JM ", "originator_topic": compound},
               "another class": {"code": "NEWX", "originator_topic": "this:x"},
               "no class": {"code": "NEWX"},
               "not a compound code ": {"code": 77, "originator_topic": compound}}
    for person, ids, versions, topics, refusal in tries:  # every field of its kind: refused for what it tries
        states = [_whole(topic, person, **(spelled[refusal] if topic == registered else {})) for topic in topics]
        words = "names another class" if refusal == "no class" else refusal
        with applied.connect(person) as connection, pytest.raises(REFUSED, match=words):
            connection.execute(call, (ids, versions, topics, states))
    for person, superuser in (("周科长", False), ("孙工", True)):  # the superuser's call too
        with applied.connect(None if superuser else person) as connection, pytest.raises(
                REFUSED, match="the registration of NEWX names another class than the compound's"):
            connection.execute(call, ([CompoundProject.create_id("NEWX")], [1], [registered],
                                      [_whole(registered, person, **spelled["another class"])]))
    assert applied.rows("孙工", "SELECT count(*) FROM {}", "renovation_events") == [(EVENTS,)]
    assert applied.rows("孙工", "SELECT count(*) FROM {} WHERE code = 'NEWX'", "compound_codes") == [(0,)]
    # An empty call takes no lock: another writer is not held up by a transaction left open after it.
    with applied.connect("王工") as idle, idle.transaction():
        idle.execute(call, ([], [], [], []))
        result = applied.cli("inspect", "JM", "--kind", "patrol", "--at", "2021-03-03T09:00", user="张工",
                             db=applied.url_of("张工"))
        assert result.exit_code == 0, result.output
    assert applied.cli("audit", "verify", user="孙工", db=applied.url_of("孙工")).exit_code == 0


def test_a_person_may_not_hold_up_the_writers(applied: Store) -> None:
    """A contractor may not take the writers' advisory locks, nor see who holds which lock; a person's
    session ends a transaction left open and a statement that runs without end."""
    for statement in ("SELECT pg_advisory_lock(hashtext('renovation:x:JM'))", "SELECT pg_try_advisory_lock(1)",
                      "SELECT pg_advisory_xact_lock(1)", "SELECT count(*) FROM pg_locks",
                      "SELECT count(*) FROM pg_stat_activity", "SELECT count(*) FROM pg_lock_status()"):
        applied.refused("李经理", statement)
    with applied.connect("张工") as connection:
        settings = connection.execute("SELECT current_setting('idle_in_transaction_session_timeout'), "
                                      "current_setting('statement_timeout')").fetchone()
    assert settings == ("10s", "5min")


def test_an_event_the_application_cannot_read_is_named_and_stops_the_boards_in_one_line(applied: Store) -> None:
    """Through the superuser (whom the function lets append anything well formed), an event whose value
    the application cannot read: verify names it; the projector stops before it, in one line."""
    with applied.connect() as connection:
        (ly, last), = connection.execute(sql.SQL(
            "SELECT originator_id, max(originator_version) FROM {} WHERE originator_id = (SELECT originator_id "
            "FROM {} WHERE topic LIKE '%%Registered' ORDER BY notification_id DESC LIMIT 1) GROUP BY originator_id"
        ).format(applied.table("renovation_events"), applied.table("renovation_events"))).fetchall()
        state = _state("孙工", item="A1", period="2021-03", entry_id="M1",
                       quantity={"_type_": "decimal_str", "_data_": "abc"})
        connection.execute(sql.SQL("SELECT {}(%s, %s, %s, %s)").format(applied.table("renovation_append")),
                           ([ly], [last + 1], ["renovation.domain.compound:CompoundProject.QuantityMeasured"],
                            [state]))
    verified = applied.cli("audit", "verify", user="孙工", db=applied.url_of("孙工"))
    assert verified.exit_code == 1
    assert verified.stderr.startswith(f"Error: position {EVENTS + 1}: undecodable: the application cannot read "
                                      "this event (")
    stopped = applied.cli("projections", "rebuild", db=applied.url_as(applied.projector))
    assert stopped.exit_code == 1
    (line,) = stopped.output.strip().splitlines()[-1:]
    assert line.startswith(f"Error: event {EVENTS + 1} cannot be applied to the ") and "audit verify" in line
    assert "Traceback" not in stopped.output


def test_a_person_records_an_event_with_its_kinds_fields_and_no_other(applied: Store) -> None:
    """Every event the application stored holds its kind's fields as the roles' table lists them; through a
    person's login, an event with a field more (one the library would set on the event object: ``mutate``,
    ``topic``) or one less is refused, its compound and code left as they were; the same registration with
    its kind's fields is recorded."""
    from renovation.domain.compound import CompoundProject
    from renovation.store.pg_roles import event_fields

    fields = event_fields()
    with applied.connect() as connection:
        stored = connection.execute(sql.SQL("SELECT originator_id, originator_version, topic, state FROM {} "
                                            "ORDER BY notification_id").format(applied.table("renovation_events")))
        found = [(topic, sorted(json.loads(state))) for _id, _version, topic, state in stored]
        (jm, last), = connection.execute(sql.SQL(
            "SELECT originator_id, max(originator_version) FROM {} WHERE originator_id = %s GROUP BY originator_id"
        ).format(applied.table("renovation_events")), (CompoundProject.create_id("JM"),)).fetchall()
        (registration,), = connection.execute(sql.SQL(
            "SELECT state FROM {} WHERE originator_id = %s AND originator_version = 1").format(
            applied.table("renovation_events")), (jm,)).fetchall()
    assert {topic for topic, _keys in found} >= {"renovation.domain.compound:CompoundProject.Registered",
                                                 "renovation.domain.compound:CompoundProject.InspectionRecorded"}
    assert all(keys == fields[topic] for topic, keys in found), found
    registered = "renovation.domain.compound:CompoundProject.Registered"
    inspection = "renovation.domain.compound:CompoundProject.InspectionRecorded"
    now = {"_type_": "datetime_iso", "_data_": datetime.now(UTC).isoformat()}
    new = {**json.loads(registration), "code": "NEWY", "timestamp": now, "command_id": uuid.uuid4().hex}
    inspected = {**dict.fromkeys(fields[inspection]), "at": now, "timestamp": now, "user": "张工",
                 "command_id": uuid.uuid4().hex, "kind": "patrol", "inspection_id": f"I{last}", "findings": [],
                 "photos": [], "class_version": 2}
    call = sql.SQL("SELECT {}(%s, %s, %s, %s)").format(applied.table("renovation_append"))
    tries = [("周科长", CompoundProject.create_id("NEWY"), 1, registered, {**new, "topic": "this:x"}),
             ("周科长", CompoundProject.create_id("NEWY"), 1, registered, {**new, "mutate": "x"}),
             ("周科长", CompoundProject.create_id("NEWY"), 1, registered,
              {key: value for key, value in new.items() if key != "district"}),
             ("张工", jm, last + 1, inspection, {**inspected, "mutate": "x"}),
             ("张工", jm, last + 1, inspection, {key: value for key, value in inspected.items() if key != "photos"})]
    for person, originator, version, topic, state in tries:
        with applied.connect(person) as connection, pytest.raises(
                REFUSED, match=f"an event holds other fields than its kind, {topic.rsplit('.', 1)[1]}, does"):
            connection.execute(call, ([originator], [version], [topic], [json.dumps(state).encode()]))
    assert applied.rows("孙工", "SELECT count(*) FROM {}", "renovation_events") == [(EVENTS,)]
    assert applied.rows("孙工", "SELECT count(*) FROM {} WHERE code = 'NEWY'", "compound_codes") == [(0,)]
    with applied.connect("周科长") as connection:  # its kind's fields: recorded
        connection.execute(call, ([CompoundProject.create_id("NEWY")], [1], [registered], [json.dumps(new).encode()]))
    assert applied.rows("孙工", "SELECT count(*) FROM {} WHERE code = 'NEWY'", "compound_codes") == [(1,)]
    shown = applied.cli("compound", "show", "NEWY", user="孙工", db=applied.url_of("孙工"))
    assert shown.exit_code == 0, shown.output


def test_a_registration_under_another_code_s_id_is_named_by_verify(applied: Store) -> None:
    """The aggregate id follows from the code: a registration of NEW2 under NEW1's id (which the
    database cannot work out) is named by verify."""
    from renovation.domain.compound import CompoundProject

    state = _state("周科长", code="NEW2", name="新小区", district="龙山区", contractor="辽源建工", households=10,
                   contract_value={"_type_": "decimal_str", "_data_": "1000.00"},
                   planned_start={"_type_": "date_iso", "_data_": "2021-03-01"},
                   planned_finish={"_type_": "date_iso", "_data_": "2021-09-30"},
                   registered_on={"_type_": "date_iso", "_data_": "2021-01-04"},
                   originator_topic="renovation.domain.compound:CompoundProject", class_version=2)
    with applied.connect("周科长") as connection:
        connection.execute(sql.SQL("SELECT {}(%s, %s, %s, %s)").format(applied.table("renovation_append")),
                           ([CompoundProject.create_id("NEW1")], [1],
                            ["renovation.domain.compound:CompoundProject.Registered"], [state]))
    verified = applied.cli("audit", "verify", user="孙工", db=applied.url_of("孙工"))
    assert verified.exit_code == 1
    assert f"position {EVENTS + 1}: does_not_follow: Registered" in verified.stderr
    assert "originator_id is" in verified.stderr


def test_a_registration_naming_another_class_is_refused_on_reading_and_named_by_verify(applied: Store) -> None:
    """A registration whose state names another class than the compound's (``originator_topic``, which the
    library imports to make the compound: "this" prints when imported), written into the events table by
    hand past the append function (which refuses it), as the owner or a superuser may: every command
    reading the compound says so in one line and imports nothing, and verify names the event."""
    import sys

    from renovation.domain.compound import CompoundProject

    state = _state("周科长", code="EV", name="新小区", district="龙山区", contractor="辽源建工", households=10,
                   contract_value={"_type_": "decimal_str", "_data_": "1000.00"},
                   planned_start={"_type_": "date_iso", "_data_": "2021-03-01"},
                   planned_finish={"_type_": "date_iso", "_data_": "2021-09-30"},
                   registered_on={"_type_": "date_iso", "_data_": "2021-01-04"}, originator_topic="this:x")
    _written_by_hand(applied, CompoundProject.create_id("EV"), state)
    imported = "this" in sys.modules
    for args in (("compound", "show", "EV"), ("audit", "replay", "EV")):
        result = applied.cli(*args, user="孙工", db=applied.url_of("孙工"))
        assert result.exit_code == 1 and "Zen of Python" not in result.output, result.output
        assert result.output.strip().splitlines() == [
            "Error: compound EV cannot be read: one of its events is not one the application wrote (its "
            "originator_topic names another class than the compound's ('this:x')); `renovation audit verify` names "
            "it"], result.output
    assert ("this" in sys.modules) == imported
    verified = applied.cli("audit", "verify", user="孙工", db=applied.url_of("孙工"))
    assert verified.exit_code == 1
    assert f"position {EVENTS + 1}: undecodable: the application cannot read this event (its originator_topic" in (
        verified.stderr), verified.stderr


def _written_by_hand(applied: Store, originator: uuid.UUID, state: bytes) -> None:
    """A registration written into the events table past the append function, with its chain link, as the
    owner or a superuser may."""
    from renovation.store.chain import link

    topic = "renovation.domain.compound:CompoundProject.Registered"
    with applied.connect() as connection, connection.transaction():
        (position,), = connection.execute(sql.SQL(
            "INSERT INTO {} (originator_id, originator_version, topic, state) VALUES (%s, 1, %s, %s) "
            "RETURNING notification_id").format(applied.table("renovation_events")),
            (originator, topic, state)).fetchall()
        (previous, last), = connection.execute(sql.SQL("SELECT position, hash FROM {} ORDER BY position DESC "
                                                       "LIMIT 1").format(applied.table("event_chain"))).fetchall()
        connection.execute(sql.SQL("INSERT INTO {} (position, previous, hash) VALUES (%s, %s, %s)").format(
            applied.table("event_chain")), (position, previous, link(last, position, originator, 1, topic, state)))


def test_a_registration_whose_code_is_a_number_is_refused_and_named_by_verify_in_lines(applied: Store) -> None:
    """A registration whose code is a number, not text: the append function refuses it (its text would pass
    for a code); written by hand past it, verify names the event in its lines, and ends in no traceback."""
    from renovation.domain.compound import CompoundProject

    state = _state("周科长", code=77, name="新小区", district="龙山区", contractor="辽源建工", households=10,
                   contract_value={"_type_": "decimal_str", "_data_": "1000.00"},
                   planned_start={"_type_": "date_iso", "_data_": "2021-03-01"},
                   planned_finish={"_type_": "date_iso", "_data_": "2021-09-30"},
                   registered_on={"_type_": "date_iso", "_data_": "2021-01-04"},
                   originator_topic="renovation.domain.compound:CompoundProject", class_version=2)
    call = sql.SQL("SELECT {}(%s, %s, %s, %s)").format(applied.table("renovation_append"))
    with applied.connect("周科长") as connection, pytest.raises(REFUSED, match="77 is not a compound code"):
        connection.execute(call, ([CompoundProject.create_id("77")], [1],
                                  ["renovation.domain.compound:CompoundProject.Registered"], [state]))
    _written_by_hand(applied, CompoundProject.create_id("77"), state)
    verified = applied.cli("audit", "verify", user="孙工", db=applied.url_of("孙工"))
    assert verified.exit_code == 1
    assert "Traceback" not in verified.output and "Error" in verified.stderr, verified.output
    assert f"position {EVENTS + 1}:" in verified.stderr, verified.stderr


def test_an_untouched_store_verifies_before_and_after(store: Store) -> None:
    before = store.cli("audit", "verify")
    assert before.exit_code == 0, before.output
    assert "roles applied" not in before.output
    store.apply()
    after = store.cli("audit", "verify")
    assert after.exit_code == 0, after.output
    assert "verified 12 events; the chain is intact" in after.output


def test_a_new_store_records_the_login(tmp_path: Path) -> None:
    require_pg()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        RenovationApp(with_schema(pg_url(), schema)).close()
        with psycopg.connect(pg_url()) as connection:
            default = connection.execute(
                "SELECT column_default FROM information_schema.columns WHERE table_schema = %s "
                "AND table_name = 'renovation_events' AND column_name = 'recorded_by'", (schema,)
            ).fetchone()
        assert default is not None and "session_user" in str(default[0]).lower()
    finally:
        drop_schema(schema)


def test_a_read_model_newer_than_the_roles_says_how_to_mend_it(applied: Store) -> None:
    """A version of the tracker that adds a read model's table, on a store whose roles were applied
    before: the login may not create it; the one-line error says what to run."""
    with applied.connect() as connection:  # the superuser: as if the table had never been made
        connection.execute(sql.SQL("DROP TABLE {}").format(applied.table("worklist_findings")))

    result = applied.cli("finding", "list", user="张工", db=applied.url_of("张工"))

    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert '"worklist_findings" does not exist' in line and "renovation db roles --apply" in line
    assert applied.apply().exit_code == 0
    mended = applied.cli("finding", "list", "--json", user="张工", db=applied.url_of("张工"))
    assert mended.exit_code == 0, mended.output


def test_roles_applied_by_a_version_without_the_append_function_say_how_to_mend_it(applied: Store) -> None:
    with applied.connect() as connection:  # the superuser: as if an earlier version had applied the roles
        connection.execute(sql.SQL("DROP FUNCTION {}(uuid[], bigint[], text[], bytea[])").format(
            applied.table("renovation_append")))
    result = applied.cli("inspect", "JM", "--kind", "patrol", "--at", "2021-03-03T09:00", user="张工",
                         db=applied.url_of("张工"))
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert "renovation_append" in line and "renovation db roles --apply" in line
    assert applied.apply().exit_code == 0
    again = applied.cli("inspect", "JM", "--kind", "patrol", "--at", "2021-03-03T09:00", user="张工",
                        db=applied.url_of("张工"))
    assert again.exit_code == 0, again.output


def test_roles_applied_to_a_store_made_before_photos_give_it_their_table(store: Store) -> None:
    with store.connect() as connection:  # the superuser: as if the store predated photos
        connection.execute(sql.SQL("DROP TABLE {}").format(store.table("event_photos")))

    assert store.apply().exit_code == 0
    verified = store.cli("audit", "verify", user="孙工", db=store.url_of("孙工"))
    assert verified.exit_code == 0, verified.output


def test_a_read_model_this_version_changed_is_set_up_by_the_owner_not_by_a_reader(applied: Store) -> None:
    """A new version of a read model (its row in projection_tracking not there yet, as after an
    upgrade): a reader's board says in one line who sets it up, and makes nothing; once a superuser has
    applied the roles again, the projector catches it up and the board reads it."""
    from renovation.projections.quality import QualityProjection

    key = QualityProjection().key
    with applied.connect() as connection:
        connection.execute(sql.SQL("DELETE FROM {} WHERE name = %s").format(applied.table("projection_tracking")),
                           (key,))
    refused = applied.cli("quality", "--json", user="李经理", db=applied.url_of("李经理"))
    assert refused.exit_code == 1
    (line,) = refused.output.strip().splitlines()
    assert line.startswith("Error: this version of the tracker changed the quality read model") and (
        "`renovation db roles --apply` again" in line)
    with applied.connect() as connection:
        assert connection.execute(sql.SQL("SELECT count(*) FROM {} WHERE name = %s").format(
            applied.table("projection_tracking")), (key,)).fetchone() == (0,)

    assert applied.cli("db", "roles", "--apply", "--prefix", applied.prefix).exit_code == 0
    applied.project()
    board = applied.cli("quality", "--json", user="李经理", db=applied.url_of("李经理"))
    assert board.exit_code == 0, board.output


def certify_both(applied: Store, tmp_path: Path) -> None:
    """JM and LY each with item A1 in its bill, 10 m of it metered for 2021-03 and certified (C1), through
    the auditor's own login."""
    boq = tmp_path / "boq.csv"
    boq.write_text("item,description,unit,quantity,unit_price\nA1,雨污分流,m,100,123.45\n", encoding="utf-8")
    for code in ("JM", "LY"):
        for user, args in (("孙工", ("boq", "import", code, str(boq))),
                           ("孙工", ("meter", code, "--item", "A1", "--period", "2021-03", "--quantity", "10")),
                           ("孙工", ("payment", "certify", code, "--period", "2021-03"))):
            result = applied.cli(*args, user=user, db=applied.url_of(user))
            assert result.exit_code == 0, (args, result.output)


def test_a_contractor_reads_its_own_certificates_and_payments_only(applied: Store, tmp_path: Path) -> None:
    """Progress payments: each login records what its role may (the auditor certifies, the bureau pays;
    the database refuses a supervisor's certificate), and a contractor's login reads the payments
    tables of its own compounds only, through row-level security as the other read models."""
    certify_both(applied, tmp_path)
    metered = applied.cli("meter", "JM", "--item", "A1", "--period", "2021-04", "--quantity", "1", user="孙工",
                          db=applied.url_of("孙工"))
    assert metered.exit_code == 0, metered.output
    refused = applied.runner.invoke(cli, ["--db", applied.url_of("张工"), "--user", "张工", "--config", "/dev/null",
                                          "payment", "certify", "JM", "--period", "2021-04"], env=ENV)
    assert refused.exit_code == 1
    assert "a supervisor may not record PaymentCertified" in refused.output
    applied.project()
    on = applied.rows("孙工", "SELECT issued_on FROM {} WHERE code = 'JM'", "payments_certificates")[0][0]
    paid = applied.cli("payment", "record", "JM", "C1", "--amount", "100", "--date", on, user="周科长",
                       db=applied.url_of("周科长"))
    assert paid.exit_code == 0, paid.output
    applied.project()
    for user, own in (("李经理", "JM"), ("赵经理", "LY")):
        for table in ("payments_certificates", "payments_cited", "payments_retention"):
            assert {row[0] for row in applied.rows(user, "SELECT code FROM {}", table)} == {own}, (user, table)
        payments = applied.rows(user, "SELECT code, payment_id FROM {}", "payments_payments")
        assert payments == ([("JM", "P1")] if own == "JM" else [])
        shown = applied.cli("payment", "list", "--json", user=user, db=applied.url_of(user))
        assert shown.exit_code == 0, shown.output
        assert [row["code"] for row in json.loads(shown.stdout)] == [own]
        other = "LY" if own == "JM" else "JM"
        hidden = applied.cli("payment", "list", other, user=user, db=applied.url_of(user))
        assert (hidden.exit_code, hidden.output.strip()) == (1, f"Error: no compound with code {other}")
    assert len(applied.rows("孙工", "SELECT * FROM {}", "payments_certificates")) == 2


def test_the_projector_updates_rows_from_a_scratch_table_under_its_policies(
        applied: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The projector's catch-up writes the rows it changed by COPY into a temporary scratch table and one
    UPDATE from it (here every update: batches of 4 events, bulk from one row), under its row-level
    policies: the rebuilt read models agree with the log."""
    from renovation.projections import rows as rows_module
    from renovation.projections import runner

    monkeypatch.setattr(rows_module, "BULK_UPDATE", 1)
    monkeypatch.setattr(runner, "BATCH", 4)
    scratch = rows_module.Rows._scratch
    asked: list[bool] = []

    def noted(self: Any, cursor: Any) -> bool:
        asked.append(scratch(self, cursor))
        return asked[-1]

    monkeypatch.setattr(rows_module.Rows, "_scratch", noted)
    rebuilt = applied.cli("projections", "rebuild", db=applied.url_as(applied.projector), user="周科长")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert asked and all(asked)  # the projector may make temporary tables, and did
    checked = applied.cli("audit", "boards", user="孙工", db=applied.url_of("孙工"))
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith("read models agree with the log:")


def _met_again(app: RenovationApp, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The next insert commits, then runs again: what the library's retry of an insert whose acknowledgement
    was lost does (it meets the events it committed; through the append function, as a version that does
    not follow its compound's last, not a duplicate key)."""
    calls: list[int] = []
    insert = app.recorder.insert_events

    def committed_then_retried(events: Any, **kwargs: Any) -> Any:
        calls.append(len(events))
        result = insert(events, **kwargs)
        return insert(events, **kwargs) if len(calls) == 1 else result

    monkeypatch.setattr(app.recorder, "insert_events", committed_then_retried)
    return calls


def test_a_command_whose_commit_was_not_acknowledged_is_recorded_once_through_a_persons_login(
        applied: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """A person's command whose commit was not acknowledged: its retry, refused by the append function (the
    compound's last version is the command's own), finds the command's id stored and says it was recorded,
    once; it is neither reported as failed (and so recorded again by the user) nor run again. A registration
    so, likewise; a code registered by another command meanwhile is "registered already"."""
    app = RenovationApp(applied.url_of("张工"))
    try:
        before, version = app.event_count(), app.get_project("JM").version
        calls = _met_again(app, monkeypatch)
        recorded = app.record_inspection("JM", "patrol", user="张工")
        assert calls == [1]
        assert recorded.inspection_id == "I2"
        assert app.event_count() == before + 1
        assert app.get_project("JM").version == version + 1
    finally:
        app.close()
    monkeypatch.undo()
    bureau = RenovationApp(applied.url_of("周科长"))
    try:
        nb: dict[str, Any] = {
            "code": "NB", "name": "新建小区", "district": "龙山区", "contractor": "辽源建工", "households": 10,
            "contract_value": Decimal("100000"), "planned_start": date(2021, 4, 1),
            "planned_finish": date(2021, 9, 30), "user": "周科长", "registered_on": date(2021, 1, 4)}
        calls = _met_again(bureau, monkeypatch)
        bureau.register_compound(**nb)
        assert calls == [1]
        assert bureau.compound("NB").code == "NB"
        monkeypatch.undo()
        with pytest.raises(Exception, match="NB") as refused:
            bureau.register_compound(**nb)
        assert type(refused.value).__name__ == "CompoundAlreadyRegistered"
    finally:
        bureau.close()
    assert applied.cli("audit", "verify").exit_code == 0


@pytest.mark.parametrize(("words", "conflict"), [
    ("version 8 of aggregate 5dbbf699-195e-5f98-9791-4aef0ec7dfd5 does not follow its last, 8", True),
    ("version 1 of aggregate 5dbbf699-195e-5f98-9791-4aef0ec7dfd5 does not follow its last, 1 is not a compound "
     "code as the application writes one", False),  # a code echoed by another refusal, made to look like it
    ("compound JM is registered already", False),
])
def test_only_the_append_functions_own_words_are_the_keys_conflict(store: Store, words: str, conflict: bool) -> None:
    """The refusal a writer takes for another writer's (or its own, acknowledged late) is the append function's
    own, word for word, with its SQLSTATE; no other, however it begins."""
    from eventsourcing.persistence import ProgrammingError

    app = RenovationApp(store.url)
    try:
        with store.connect() as connection:
            try:
                connection.execute(sql.SQL("DO $$ BEGIN RAISE EXCEPTION {} USING ERRCODE = 'insufficient_privilege'; "
                                           "END $$").format(sql.Literal(words)))
            except psycopg.errors.InsufficientPrivilege as raised:
                error = ProgrammingError(str(raised))
                error.__cause__ = raised
        assert app.backend.is_version_conflict(error) is conflict
    finally:
        app.close()

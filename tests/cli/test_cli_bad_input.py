"""Bad input and refused commands: exit 1 (a rule refused it) or 2 (bad input), exactly one line saying
why, no traceback, and nothing recorded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import ENV, REGISTER_JM, Renovation, event_count
from click.testing import CliRunner

from renovation.cli import cli
from renovation.services.application import RenovationApp

METER = ("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity")
SCORES = ("--quality", "90", "--safety", "90", "--progress", "90", "--civilized", "90", "--satisfaction", "90")


def register_with(**changes: str) -> list[str]:
    """``compound register LY ...`` with some options changed."""
    args = ["compound", "register", "LY", *REGISTER_JM[3:]]
    for option, value in changes.items():
        flag = "--" + option.replace("_", "-")
        args[args.index(flag) + 1] = value
    return args


def assert_refused_in_one_line(run: Renovation, args: list[str] | tuple[str, ...], exit_code: int,
                               *expected: str) -> None:
    before = event_count(run.db)

    result = run(*args)

    assert result.exit_code == exit_code, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = run.lines(result)
    assert len(lines) == 1, lines
    assert lines[0].strip()
    for words in expected:
        assert words in lines[0]
    assert result.stdout == ""  # errors go to stderr, never mixed into what a script reads
    assert event_count(run.db) == before


@pytest.mark.parametrize(
    ("args", "exit_code", "expected"),
    [
        pytest.param(("meter", "JM", "--item", "A1", "--period", "2021-13", "--quantity", "1"), 2,
                     ["--period", "2021-13"], id="period-month-13"),
        pytest.param(("score", "JM", "--period", "2021-13", *SCORES), 2, ["--period"], id="score-period-month-13"),
        pytest.param((*METER, "-5"), 2, ["--quantity", "negative"], id="quantity-negative"),
        pytest.param((*METER, "abc"), 2, ["--quantity", "not a number"], id="quantity-abc"),
        pytest.param((*METER, "NaN"), 2, ["--quantity", "finite"], id="quantity-nan"),
        pytest.param((*METER, "Infinity"), 2, ["--quantity", "finite"], id="quantity-infinity"),
        pytest.param((*METER, "1e400"), 2, ["--quantity", "larger"], id="quantity-1e400"),
        pytest.param((*METER, "0"), 2, ["--quantity"], id="quantity-zero"),
        pytest.param(("meter", "correct", "JM", "M1", "--quantity", "NaN", "--reason", "x"), 2, ["--quantity"],
                     id="correct-quantity-nan"),
        pytest.param(("variation", "JM", "--item", "A1", "--quantity", "-5", "--reason", "x"), 2, ["--quantity"],
                     id="variation-quantity-negative"),
        pytest.param(("meter", "JM", "--item", "Z9", "--period", "2021-03", "--quantity", "1"), 1,
                     ["Z9", "A1, B2"], id="unknown-boq-item"),
        pytest.param(("meter", "XX", "--item", "A1", "--period", "2021-03", "--quantity", "1"), 1,
                     ["no compound with code XX"], id="unknown-compound-meter"),
        pytest.param(("compound", "show", "XX"), 1, ["no compound with code XX"], id="unknown-compound-show"),
        pytest.param(("inspect", "XX", "--kind", "morning", "--at", "2021-03-02T06:30"), 1, ["XX"],
                     id="unknown-compound-inspect"),
        pytest.param(("meter", "correct", "JM", "M9", "--quantity", "5", "--reason", "复核"), 1,
                     ["no metering entry M9"], id="unknown-entry"),
        pytest.param(("meter", "correct", "JM", "entry-1", "--quantity", "5", "--reason", "复核"), 2,
                     ["ENTRY_ID", "entry-1"], id="malformed-entry-id"),
        pytest.param(("finding", "rectify", "JM", "F9"), 1, ["no finding F9"], id="unknown-finding"),
        pytest.param(("finding", "close", "JM", "F9", "--note", "ok"), 1, ["no finding F9"],
                     id="unknown-finding-close"),
        pytest.param(("material", "result", "JM", "S9", "--pass", "--lab", "检测站"), 1, ["no material sample S9"],
                     id="unknown-sample"),
        pytest.param(("feedback", "resolve", "JM", "T9", "--note", "ok"), 1, ["no feedback ticket T9"],
                     id="unknown-ticket"),
        pytest.param(("score", "JM", "--period", "2021-04", *SCORES[:3], "101", *SCORES[4:]), 2,
                     ["--safety", "101"], id="score-101"),
        pytest.param(("score", "JM", "--period", "2021-04", *SCORES[:-1], "-1"), 2, ["--satisfaction"],
                     id="score-negative"),
        pytest.param(("inspect", "JM", "--kind", "evening"), 2, ["--kind", "evening"], id="kind-evening"),
        pytest.param(("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30", "--finding", "quality:huge:x"),
                     2, ["quality:huge:x", "severity"], id="finding-severity-huge"),
        pytest.param(("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30", "--finding", "nonsense"),
                     2, ["nonsense", "CATEGORY:SEVERITY:TEXT"], id="finding-nonsense"),
        pytest.param(("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30", "--finding", "noise:minor:x"),
                     2, ["category"], id="finding-category-noise"),
        pytest.param(("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30", "--finding", "quality:minor:"),
                     2, ["--finding"], id="finding-empty-text"),
        pytest.param(("inspect", "JM", "--kind", "morning", "--at", "not-a-time"), 2, ["--at", "not-a-time"],
                     id="at-not-a-time"),
        pytest.param(("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30", "--due", "soon"), 2,
                     ["--due"], id="due-not-a-date"),
        pytest.param(("inspect", "JM", "--kind", "morning", "--at", "2021-02-01T06:30"), 1, ["2021-02-01"],
                     id="inspection-before-start"),
        pytest.param(("inspect", "JM", "--kind", "morning", "--at", "2999-01-01T06:30"), 1, ["future"],
                     id="inspection-in-the-future"),
        pytest.param(("feedback", "JM", "--channel", "email", "--text", "x"), 2, ["--channel"], id="channel-email"),
        pytest.param(("material", "sample", "JM", "--material", "水泥", "--batch", "C1", "--regime", "random"), 2,
                     ["--regime"], id="regime-random"),
        pytest.param(("meter", "JM", "--item", "A1", "--period", "2999-01", "--quantity", "1"), 1, ["2999-01"],
                     id="period-in-the-future"),
        pytest.param(tuple(REGISTER_JM), 1, ["JM", "already registered"], id="duplicate-code"),
        pytest.param(tuple(register_with(name="")), 2, ["--name", "empty"], id="empty-name"),
        pytest.param(tuple(register_with(name="   ")), 2, ["--name", "empty"], id="blank-name"),
        pytest.param(tuple(register_with(contract_value="-1000")), 2, ["--contract-value", "negative"],
                     id="negative-contract-value"),
        pytest.param(tuple(register_with(households="many")), 2, ["--households"], id="households-not-a-number"),
        pytest.param(tuple(register_with(planned_start="2021-02-30")), 2, ["--planned-start"], id="february-30"),
        pytest.param(tuple(register_with(planned_finish="2021-02-28")), 1, ["planned finish", "2021-02-28"],
                     id="planned-finish-before-start"),
        pytest.param(("compound", "register", "list", *REGISTER_JM[3:]), 2, ["list"], id="code-is-a-subcommand"),
        pytest.param(("compound", "register", "JM!", *REGISTER_JM[3:]), 2, ["JM!"], id="code-with-punctuation"),
        pytest.param(("construction", "start", "JM", "--date", "2021-03-02"), 1, ["under construction"],
                     id="started-twice"),
        pytest.param(("construction", "complete", "JM", "--date", "2021-02-01"), 1, ["2021-02-01"],
                     id="completed-before-start"),
        pytest.param(("construction", "complete", "JM", "--date", "yesterday"), 2, ["--date"], id="date-word"),
        pytest.param(("construction", "accept", "JM", "--date", "2021-08-01"), 1, ["completed"],
                     id="accept-before-completion"),
        pytest.param(("nosuchcommand",), 2, ["nosuchcommand"], id="unknown-command"),
        pytest.param(("meter", "JM", "--item", "A1", "--period", "2021-03"), 2, ["--quantity"], id="missing-option"),
        pytest.param(("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "1", "--bogus"), 2,
                     ["--bogus"], id="unknown-option"),
    ],
)
def test_bad_input_on_a_started_compound_is_refused_in_one_line(
    run: Renovation, started: str, args: tuple[str, ...], exit_code: int, expected: list[str]
) -> None:
    assert_refused_in_one_line(run, args, exit_code, *expected)


def test_missing_boq_file(run: Renovation, registered: str, tmp_path: Path) -> None:
    assert_refused_in_one_line(run, ["boq", "import", "JM", str(tmp_path / "missing.csv")], 2, "missing.csv")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param("item,description,unit,quantity,unit_price\nA1,雨污分流,m,ten,123.45\n",
                     ["line 2", "quantity", "'ten'"], id="quantity-ten"),
        pytest.param("item,description,unit,quantity,unit_price\nA1,雨污分流,m,100,123.45\nB2,外墙保温,m2,-50,185\n",
                     ["line 3", "quantity"], id="second-row-negative"),
        pytest.param("item,description,unit,quantity,unit_price\nA1,雨污分流,m,100,abc\n",
                     ["line 2", "unit_price"], id="price-abc"),
        pytest.param("item,description,unit,quantity,unit_price\nA1,雨污分流,m,100\n",
                     ["line 2", "columns"], id="missing-column"),
        pytest.param("code,text,unit,qty,price\nA1,雨污分流,m,100,1\n", ["header"], id="wrong-header"),
        pytest.param("item,description,unit,quantity,unit_price\n", ["no items"], id="no-rows"),
        pytest.param("", ["header"], id="empty-file"),
    ],
)
def test_bad_boq_file(run: Renovation, registered: str, tmp_path: Path, content: str, expected: list[str]) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")

    assert_refused_in_one_line(run, ["boq", "import", "JM", str(path)], 2, *expected)


def test_boq_file_that_is_not_utf8(run: Renovation, registered: str, tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("item,description,unit,quantity,unit_price\nA1,雨污分流,m,100,1\n".encode("gbk"))

    assert_refused_in_one_line(run, ["boq", "import", "JM", str(path)], 2, "UTF-8")


def test_duplicate_boq_item(run: Renovation, registered: str, tmp_path: Path) -> None:
    path = tmp_path / "twice.csv"
    path.write_text("item,description,unit,quantity,unit_price\nA1,x,m,1,1\nA1,y,m,2,2\n", encoding="utf-8")

    assert_refused_in_one_line(run, ["boq", "import", "JM", str(path)], 1, "A1", "twice")


def test_a_second_result_for_one_sample(run: Renovation, started: str) -> None:
    run.ok("material", "sample", "JM", "--material", "水泥", "--batch", "C1", "--regime", "routine")
    run.ok("material", "result", "JM", "S1", "--pass", "--lab", "检测站")

    assert_refused_in_one_line(run, ["material", "result", "JM", "S1", "--fail", "--lab", "检测站"], 1,
                               "S1", "already has a result")


def test_construction_start_while_illegal_structures_stand(run: Renovation, registered: str, boq_file: Path) -> None:
    run.ok("demolition", "record", "JM", "--count", "4")

    assert_refused_in_one_line(run, ["construction", "start", "JM", "--date", "2021-03-01"], 1,
                               "4 illegal structure(s) still stand")


def test_clearing_when_nothing_stands(run: Renovation, registered: str) -> None:
    assert_refused_in_one_line(run, ["demolition", "clear", "JM"], 1, "no illegal structures")


@pytest.mark.parametrize("count", ["0", "-3", "four", "1.5"])
def test_demolition_count_must_be_a_positive_whole_number(run: Renovation, registered: str, count: str) -> None:
    assert_refused_in_one_line(run, ["demolition", "record", "JM", "--count", count], 2, "--count")


def test_acceptance_with_an_open_finding(run: Renovation, started: str) -> None:
    run.ok("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30", "--finding", "quality:minor:墙面空鼓")
    run.ok("construction", "complete", "JM", "--date", "2021-07-20")

    assert_refused_in_one_line(run, ["construction", "accept", "JM", "--date", "2021-07-28"], 1, "F1")


@pytest.mark.parametrize(
    "db",
    ["mysql://x/y", "sqlite:///", "postgresql://postgres@127.0.0.1:5432/test?schema=a%22b",
     "postgresql://postgres@127.0.0.1:5432/test?schema=x%00y", "postgresql://postgres@127.0.0.1:5432/test?schema=pg_x",
     "postgresql://postgres@127.0.0.1:5432/test?schema=" + "s" * 64, "postgresql://[::1/test",
     "postgresql://postgres@127.0.0.1:5432/test?schema=Mixed_Case", "postgresql://postgres@127.0.0.1:5432/test?schema=",
     "postgresql://postgres@127.0.0.1:5432/test?schema=a&schema=b",
     "postgresql://postgres@127.0.0.1:5432/test?sslmode=require", "file:renovation.db?mode=ro"],
    ids=["mysql-url", "no-path", "schema-quote", "schema-nul", "schema-reserved", "schema-too-long", "bad-ipv6",
         "schema-mixed-case", "schema-empty", "schema-twice", "unread-parameter", "sqlite-uri"],
)
def test_a_bad_database_url(db: str) -> None:
    result = CliRunner().invoke(cli, ["--db", db, "compound", "list"], env=ENV)

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_database_server_that_is_not_there_is_said_in_sentences() -> None:
    db = "postgresql://postgres@127.0.0.1:1/test"  # no server listens on port 1
    result = CliRunner().invoke(cli, ["--db", db, "compound", "list"], env=ENV)

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Connection refused; Is the server running on that host" in result.output


def test_a_database_file_that_is_not_a_database(tmp_path: Path) -> None:
    garbage = tmp_path / "notes.db"
    garbage.write_text("not an SQLite file\n" * 10, encoding="utf-8")
    run = Renovation(garbage)

    for args in (["compound", "list"], REGISTER_JM):
        result = run(*args)

        assert result.exit_code == 1
        assert "Traceback" not in result.output
        assert run.lines(result) == [f"Error: database error on {garbage}: file is not a database"]
    assert garbage.read_text(encoding="utf-8") == "not an SQLite file\n" * 10


def test_a_database_in_a_missing_directory(tmp_path: Path) -> None:
    run = Renovation(tmp_path / "missing" / "r.db")

    result = run(*REGISTER_JM)

    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert len(run.lines(result)) == 1


@pytest.mark.parametrize(
    "args",
    [
        ["inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30"],
        REGISTER_JM[:-2],  # registered today
    ],
    ids=["time-typed", "time-now"],
)
def test_an_unknown_time_zone(tmp_path: Path, args: list[str]) -> None:
    """RENOVATION_TZ names the zone of a new store (a store keeps its own): an unknown one is refused."""
    db = tmp_path / "new.db"

    result = CliRunner().invoke(cli, ["--db", str(db), *args], env={**ENV, "RENOVATION_TZ": "Mars/Olympus"})

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    (line,) = result.output.strip().splitlines()
    assert "RENOVATION_TZ='Mars/Olympus' is not a known time zone" in line
    assert not db.exists()  # refused before the store was created


def test_json_and_csv_cannot_be_combined(run: Renovation, registered: str) -> None:
    assert_refused_in_one_line(run, ["compound", "list", "--json", "--csv"], 2, "--json", "--csv")


@pytest.mark.parametrize("user", ["", "   ", "wang\x00", "\u202eevil", "x" * 101], ids=repr)
def test_a_user_name_an_auditor_could_not_read(run: Renovation, started: str, user: str) -> None:
    before = event_count(run.db)

    result = CliRunner().invoke(cli, ["--db", str(run.db), "--user", user, "feedback", "JM", "--channel", "form",
                                      "--text", "噪音"], env=ENV)

    assert result.exit_code == 2
    assert "Traceback" not in result.output
    (line,) = result.output.strip().splitlines()
    assert "--user" in line
    assert event_count(run.db) == before


@pytest.mark.parametrize("login", ["ops\tteam", "x" * 1000, "   "], ids=repr)
def test_a_system_login_name_an_auditor_could_not_read_is_not_recorded(run: Renovation, started: str,
                                                                       login: str) -> None:
    """Without --user, the system's login name is recorded: held to the same rule (a tab in it was recorded,
    and every later command found the compound unreadable)."""
    before = event_count(run.db)
    env = {**ENV, "RENOVATION_USER": None, **dict.fromkeys(("LOGNAME", "USER", "LNAME", "USERNAME"), login)}

    result = CliRunner().invoke(cli, ["--db", str(run.db), "feedback", "JM", "--channel", "form", "--text", "噪音"],
                                env=env)

    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert "login name" in line and "--user or RENOVATION_USER" in line, line
    assert event_count(run.db) == before
    fine = CliRunner().invoke(cli, ["--db", str(run.db), "feedback", "JM", "--channel", "form", "--text", "噪音"],
                              env={**env, "LOGNAME": " 张工 ", "USER": " 张工 "})
    assert fine.exit_code == 0, fine.output
    app = RenovationApp(str(run.db))
    try:
        (last,) = app.recorder.select_notifications(start=before + 1, limit=10)
    finally:
        app.close()
    assert json.loads(last.state)["user"] == "张工"



def test_a_server_without_a_connection_to_spare_is_busy_not_a_raw_error() -> None:
    """Forty people on one PostgreSQL server can take its connection slots: one line, no driver text."""
    from eventsourcing.persistence import OperationalError

    from renovation.cli import translate

    for said in ('connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  remaining '
                 "connection slots are reserved for non-replication superuser connections",
                 "connection failed: FATAL:  sorry, too many clients already"):
        refused = translate(OperationalError(said), None)
        assert refused.exit_code == 1
        assert refused.format_message() == ("database busy, try again (the server has no connection to spare: see "
                                            "its max_connections); nothing was recorded")

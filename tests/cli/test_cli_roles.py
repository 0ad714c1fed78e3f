"""Who may record what (roles from renovation.toml `[users]`), through the CLI: every write command
as every role, reads for everyone, blind samples invisible to contractors until their result, and
everyone may write when there is no configuration."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cli_support import BLIND_SAMPLE_ID, BOQ_CSV, ENV, Renovation, event_count
from click.testing import CliRunner, Result

from renovation.cli import cli
from renovation.domain.access import ALLOWED

CONTRACTOR = "辽源建工"  # builds every compound of these tests
USERS = {
    "supervisor": "张工",
    "auditor": "孙工",
    "bureau": "周科长",
    "contractor": "李经理",  # works for 辽源建工: its own compounds
    "other contractor": "王经理",  # works for 吉林二建
    "not listed": "路人甲",
}
CONFIG = f"""
[ranking.weights]
quality = 30
safety = 25
progress = 20
civilized = 15
satisfaction = 10

[users]
"张工" = {{ role = "supervisor" }}
"孙工" = {{ role = "auditor" }}
"周科长" = {{ role = "bureau" }}
"李经理" = {{ role = "contractor", contractor = "{CONTRACTOR}" }}
"王经理" = {{ role = "contractor", contractor = "吉林二建" }}
"""

#: The roles that may record each action, as the issue states them (checked against renovation.domain.access).
MAY = {
    "register": {"bureau"}, "demolition": {"bureau"}, "lifecycle": {"bureau"}, "boq": {"bureau", "auditor"},
    "variation": {"bureau"}, "score": {"bureau"}, "feedback": {"bureau"},
    "inspect": {"supervisor"}, "sample": {"supervisor"}, "result": {"supervisor"}, "close": {"supervisor"},
    "reopen": {"supervisor"}, "rectify": {"contractor"}, "meter": {"auditor"}, "correct": {"auditor"},
    "maintain": {"bureau", "auditor"}, "certify": {"auditor"}, "pay": {"bureau"}, "accounts": {"bureau"},
}

SCORES = ["--quality", "80", "--safety", "85", "--progress", "90", "--civilized", "75", "--satisfaction", "88"]

#: Every write command: (action, arguments), each recordable on the template store by whoever may.
WRITES: dict[str, tuple[str, list[str]]] = {
    "compound register": ("register", [
        "compound", "register", "NEW", "--name", "新小区", "--district", "龙山区", "--contractor", CONTRACTOR,
        "--households", "100", "--contract-value", "100000", "--planned-start", "2021-04-01",
        "--planned-finish", "2021-10-31", "--registered-on", "2021-01-04"]),
    "boq import": ("boq", ["boq", "import", "KX", "{boq}"]),
    "demolition record": ("demolition", ["demolition", "record", "KX", "--count", "3"]),
    "demolition clear": ("demolition", ["demolition", "clear", "HH"]),
    "construction start": ("lifecycle", ["construction", "start", "KX", "--date", "2021-03-05"]),
    "construction complete": ("lifecycle", ["construction", "complete", "JM", "--date", "2021-06-30"]),
    "construction accept": ("lifecycle", ["construction", "accept", "YH", "--date", "2021-07-05"]),
    "construction handover": ("lifecycle", ["construction", "handover", "SB", "--date", "2021-07-10"]),
    "inspect": ("inspect", ["inspect", "JM", "--kind", "morning", "--at", "2021-04-02T06:30"]),
    "finding rectify": ("rectify", ["finding", "rectify", "JM", "F1", "--note", "已挂安全网"]),
    "finding close": ("close", ["finding", "close", "JM", "F2"]),
    "finding reopen": ("reopen", ["finding", "reopen", "JM", "F3", "--note", "复查未通过"]),
    "material sample": ("sample", ["material", "sample", "JM", "--material", "水泥", "--batch", "C-01",
                                   "--regime", "routine"]),
    "material result": ("result", ["material", "result", "JM", "S1", "--pass", "--lab", "辽源市检测站"]),
    "meter": ("meter", ["meter", "JM", "--item", "A1", "--period", "2021-04", "--quantity", "5"]),
    "meter correct": ("correct", ["meter", "correct", "JM", "M1", "--quantity", "9", "--reason", "复核"]),
    "variation": ("variation", ["variation", "JM", "--item", "A1", "--quantity", "150", "--reason", "变更令"]),
    "score": ("score", ["score", "JM", "--period", "2021-04", *SCORES]),
    "feedback": ("feedback", ["feedback", "JM", "--channel", "hotline", "--text", "楼道灯不亮"]),
    "feedback resolve": ("feedback", ["feedback", "resolve", "JM", "T1", "--note", "已维修"]),
    "payment certify": ("certify", ["payment", "certify", "JM", "--period", "2021-04"]),
    "payment record": ("pay", ["payment", "record", "JM", "C1", "--amount", "100", "--date", "{today}"]),
    "audit verify --init": ("maintain", ["audit", "verify", "--init"]),
    "import": ("maintain", ["import", "{import}"]),
    "export": ("maintain", ["export", "{export}"]),
    "user passwd": ("accounts", ["user", "passwd", "张工", "--password-stdin"]),  # records no event
}

READS = [
    ["compound", "list"], ["compound", "show", "JM"], ["compound", "show", "JM", "--as-of", "2030-01-01"],
    ["progress"], ["progress", "--as-of", "2030-01-01"], ["quality"], ["quality", "--by", "contractor"],
    ["quality", "JM", "--missed"], ["ranking"], ["ranking", "--by", "compound"], ["ledger", "JM"],
    ["feedback", "list"], ["audit", "history", "JM"], ["audit", "replay", "JM"], ["audit", "reconcile"],
    ["audit", "verify"], ["audit", "digest"], ["projections", "status"], ["payment", "list"],
    ["payment", "list", "JM"],
]


def invoke(db: Path, user: str, *args: str, config: Path | None = None) -> Result:
    options = ["--db", str(db), "--user", user, "--today", "2021-06-30"]
    if config is not None:
        options += ["--config", str(config)]
    return CliRunner().invoke(cli, [*options, *args], env=ENV, input="a-long-enough-password\n")


def accounts_of(db: Path) -> list[str]:
    """The names with a web password in the store (none before the first is set)."""
    connection = sqlite3.connect(db)
    try:
        if not connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'web_accounts'").fetchall():
            return []
        return [name for (name,) in connection.execute("SELECT name FROM web_accounts")]
    finally:
        connection.close()


def ok(db: Path, user: str, *args: str, config: Path | None = None) -> Result:
    result = invoke(db, user, *args, config=config)
    assert result.exit_code == 0, (user, args, result.output)
    return result


def register(db: Path, config: Path, code: str) -> None:
    ok(db, USERS["bureau"], "compound", "register", code, "--name", f"{code}小区", "--district", "龙山区",
       "--contractor", CONTRACTOR, "--households", "120", "--contract-value", "600000",
       "--planned-start", "2021-03-01", "--planned-finish", "2021-09-30", "--registered-on", "2021-01-04",
       config=config)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A store where every write command can be recorded by whoever may (built once): the store,
    the configuration file and a bill of quantities (next to them: ``import.jsonl``, the export of
    another store, with one compound the template does not have)."""
    root = tmp_path_factory.mktemp("roles")
    config = root / "renovation.toml"
    config.write_text(CONFIG, encoding="utf-8")
    boq = root / "boq.csv"
    boq.write_text(BOQ_CSV, encoding="utf-8")
    db = root / "template.db"
    bureau, supervisor, auditor, contractor = (USERS[r] for r in ("bureau", "supervisor", "auditor", "contractor"))
    for code in ("JM", "KX", "HH", "YH", "SB"):
        register(db, config, code)
    ok(db, auditor, "boq", "import", "JM", str(boq), config=config)
    ok(db, bureau, "construction", "start", "JM", "--date", "2021-03-01", config=config)
    ok(db, auditor, "meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "10", config=config)
    ok(db, auditor, "meter", "JM", "--item", "A1", "--period", "2021-04", "--quantity", "2", config=config)
    ok(db, auditor, "payment", "certify", "JM", "--period", "2021-03", config=config)
    ok(db, supervisor, "inspect", "JM", "--kind", "patrol", "--at", "2021-03-02T10:00",
       "--finding", "safety:major:脚手架未挂安全网", "--finding", "civilized:minor:渣土未苫盖",
       "--finding", "quality:minor:墙面空鼓", "--due", "2021-03-10", config=config)
    ok(db, contractor, "finding", "rectify", "JM", "F2", config=config)
    ok(db, contractor, "finding", "rectify", "JM", "F3", config=config)
    ok(db, supervisor, "finding", "close", "JM", "F3", config=config)
    ok(db, supervisor, "material", "sample", "JM", "--material", "防水卷材", "--batch", "B-01", "--regime", "routine",
       config=config)
    ok(db, bureau, "feedback", "JM", "--channel", "hotline", "--text", "噪音扰民", config=config)
    ok(db, bureau, "demolition", "record", "HH", "--count", "2", config=config)
    for code in ("YH", "SB"):
        ok(db, bureau, "construction", "start", code, "--date", "2021-03-01", config=config)
        ok(db, bureau, "construction", "complete", code, "--date", "2021-06-30", config=config)
    ok(db, bureau, "construction", "accept", "SB", "--date", "2021-07-01", config=config)
    other = root / "other.db"
    register(other, config, "IM")
    ok(other, bureau, "export", str(root / "import.jsonl"), config=config)
    return db, config, boq


@pytest.fixture
def store(template: tuple[Path, Path, Path], tmp_path: Path) -> tuple[Path, Path, Path]:
    """A copy of the template for one test."""
    db, config, boq = template
    copy = tmp_path / "r.db"
    shutil.copyfile(db, copy)
    return copy, config, boq


def expected_allowed(action: str, who: str) -> bool:
    if who == "not listed":
        return False
    role = "contractor" if who == "other contractor" else who
    return role in MAY[action] and who != "other contractor"


def test_the_matrix_is_the_one_the_access_policy_applies() -> None:
    assert {action: set(roles) for action, roles in ALLOWED.items()} == MAY
    assert {action for action, _args in WRITES.values()} == set(MAY)


@pytest.mark.parametrize("who", list(USERS))
@pytest.mark.parametrize("command", list(WRITES))
def test_every_write_command_as_every_role(store: tuple[Path, Path, Path], command: str, who: str) -> None:
    db, config, boq = store
    action, args = WRITES[command]
    files = {"{boq}": boq, "{import}": boq.with_name("import.jsonl"), "{export}": db.with_name("export.jsonl"),
             "{today}": datetime.now(ZoneInfo(str(ENV["RENOVATION_TZ"]))).date().isoformat()}  # the store's day
    args = [str(files[arg]) if arg in files else arg for arg in args]
    user = USERS[who]
    if command == "audit verify --init":
        connection = sqlite3.connect(db)
        with connection:
            connection.execute("DELETE FROM event_chain")
        connection.close()
    before = event_count(db)

    result = invoke(db, user, *args, config=config)

    assert "Traceback" not in result.output
    if expected_allowed(action, who):
        assert result.exit_code == 0, (command, who, result.output)
        if command == "audit verify --init":
            assert "chained" in result.output and f"by {user}" in result.output
        elif command == "export":
            assert event_count(db) == before and files["{export}"].exists()
        elif command == "user passwd":
            assert event_count(db) == before and accounts_of(db) == ["张工"]
        else:
            assert event_count(db) == before + 1
        return
    assert result.exit_code == 1, (command, who, result.output)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines
    (line,) = lines
    assert event_count(db) == before
    assert not files["{export}"].exists()
    assert accounts_of(db) == []
    if who == "not listed":
        needed = " or ".join(sorted(MAY[action], key=ALLOWED[action].index))
        assert line.startswith(f"Error: user {user} is not in the configuration file's [users]; to ")
        assert line.endswith(f" needs the role {needed}")
    elif who == "other contractor" and action == "rectify":
        assert line == "Error: no compound with code JM"  # another's compound: as if it did not exist
    else:
        role = "contractor" if who == "other contractor" else who
        needed = " or ".join(sorted(MAY[action], key=ALLOWED[action].index))
        assert line.startswith(f"Error: user {user} ({role}) may not ")
        assert line.endswith(f": this needs the role {needed}")


def test_a_refused_init_leaves_the_store_without_a_chain(store: tuple[Path, Path, Path]) -> None:
    db, config, _boq = store
    connection = sqlite3.connect(db)
    with connection:
        connection.execute("DELETE FROM event_chain")
    connection.close()

    assert invoke(db, USERS["supervisor"], "audit", "verify", "--init", config=config).exit_code == 1

    refused = invoke(db, USERS["supervisor"], "audit", "verify", config=config)
    assert refused.exit_code == 1 and "no hash chain yet" in refused.output


@pytest.mark.parametrize("who", [who for who in USERS if expected_allowed("maintain", who)])
def test_projections_rebuild_by_a_maintaining_role(store: tuple[Path, Path, Path], who: str) -> None:
    db, config, _boq = store

    assert ok(db, USERS[who], "projections", "rebuild", config=config).output.strip().startswith("rebuilt ")


@pytest.mark.parametrize("who", [who for who in USERS if not expected_allowed("maintain", who)])
def test_projections_rebuild_is_refused_to_other_roles(store: tuple[Path, Path, Path], who: str) -> None:
    db, config, _boq = store

    result = invoke(db, USERS[who], "projections", "rebuild", config=config)

    assert result.exit_code == 1, result.output
    assert len(result.output.strip().splitlines()) == 1


#: Reads that show one compound's work: refused as unknown to whoever may not see it in detail.
DETAILS = [args for args in READS if len(args) > 1 and "JM" in args]
#: Whoever sees no compound of these tests in detail: a contractor whose company built none, and a
#: person the configuration does not name.
OUTSIDERS = ("other contractor", "not listed")


@pytest.mark.parametrize("who", list(USERS))
def test_every_read_command_runs_for_everyone_and_shows_only_what_they_may_see(
    store: tuple[Path, Path, Path], who: str
) -> None:
    db, config, _boq = store
    before = event_count(db)
    for args in READS:
        for output in ([], ["--json"], ["--csv"]):
            if args[:2] in (["audit", "verify"], ["audit", "digest"]) and output:
                continue  # these print one line, without formats
            result = invoke(db, USERS[who], *args, *output, config=config)
            assert "Traceback" not in result.output
            if who in OUTSIDERS and args in DETAILS:
                assert result.exit_code == 1, (who, args, output, result.output)
                assert result.output.strip() == "Error: no compound with code JM", (who, args)
                continue
            assert result.exit_code == 0, (who, args, output, result.output)
            if who in OUTSIDERS and output == ["--json"] and args[0] in ("compound", "progress", "quality",
                                                                          "feedback", "payment"):
                assert json.loads(result.stdout) == [], (who, args)  # every compound is another's
    ranking = json.loads(invoke(db, USERS[who], "ranking", "--json", config=config).stdout)
    assert ranking == json.loads(invoke(db, USERS["bureau"], "ranking", "--json", config=config).stdout)
    assert event_count(db) == before


def test_a_contractor_sees_its_own_compounds_in_detail_and_not_another_s(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14, item 7: two contractors, each with a compound: each sees its own row of every board, its
    own ledger and history, and the other's compound as if it did not exist; the ranking shows both."""
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "roles.toml"
    config.write_text(CONFIG, encoding="utf-8")
    db = tmp_path / "two.db"
    boq = tmp_path / "boq.csv"
    boq.write_text(BOQ_CSV, encoding="utf-8")
    for code, builder in (("JM", CONTRACTOR), ("LY", "吉林二建")):
        ok(db, USERS["bureau"], "compound", "register", code, "--name", f"{code}小区", "--district", "龙山区",
           "--contractor", builder, "--households", "120", "--contract-value", "600000", "--planned-start",
           "2021-03-01", "--planned-finish", "2021-09-30", "--registered-on", "2021-01-04", config=config)
        ok(db, USERS["auditor"], "boq", "import", code, str(boq), config=config)
        ok(db, USERS["bureau"], "construction", "start", code, "--date", "2021-03-01", config=config)
        ok(db, USERS["auditor"], "meter", code, "--item", "A1", "--period", "2021-03", "--quantity", "5",
           config=config)
        ok(db, USERS["bureau"], "score", code, "--period", "2021-03", *SCORES, config=config)
        ok(db, USERS["auditor"], "payment", "certify", code, "--period", "2021-03", config=config)
    for who, own, other in (("contractor", "JM", "LY"), ("other contractor", "LY", "JM")):
        for board in (["progress"], ["quality"], ["compound", "list"], ["quality", "--by", "contractor"],
                      ["payment", "list"]):
            rows = json.loads(ok(db, USERS[who], *board, "--json", config=config).stdout)
            assert len(rows) == 1 and rows[0].get("code", own) == own, (who, board, rows)
        for view in (["ledger"], ["audit", "history"], ["audit", "replay"], ["compound", "show"], ["quality"],
                     ["payment", "list"]):
            assert ok(db, USERS[who], *view, own, "--json", config=config).stdout.strip() not in ("", "[]")
            refused = invoke(db, USERS[who], *view, other, config=config)
            assert (refused.exit_code, refused.output.strip()) == (1, f"Error: no compound with code {other}"), view
        ranking = json.loads(ok(db, USERS[who], "ranking", "--by", "compound", "--json", config=config).stdout)
        assert {row["code"] for row in ranking} == {"JM", "LY"}  # the horse race is public
    assert len(json.loads(ok(db, USERS["supervisor"], "progress", "--json", config=config).stdout)) == 2


def test_compound_show_names_the_role_of_the_user(store: tuple[Path, Path, Path]) -> None:
    db, config, _boq = store

    for who, role in [("supervisor", "supervisor"), ("contractor", "contractor")]:
        shown = json.loads(ok(db, USERS[who], "compound", "show", "JM", "--json", config=config).stdout)
        assert shown["access"] == f"roles from {config}; you are {role}"


# ---------------------------------------------------------------- blind samples


def site(tmp_path: Path, name: str, *, blind: bool) -> tuple[Path, Path, str | None]:
    """JM started, with a routine sample that passed and (if ``blind``) a blind sample awaiting its result:
    the database, the configuration and the blind sample's id (None without one)."""
    db = tmp_path / f"{name}.db"
    (tmp_path / "roles.toml").write_text(CONFIG, encoding="utf-8")
    config = Path("roles.toml")  # relative: the temporary path names the test, which says "blind"
    boq = tmp_path / "boq.csv"
    boq.write_text(BOQ_CSV, encoding="utf-8")
    supervisor = USERS["supervisor"]
    register(db, config, "JM")
    ok(db, USERS["auditor"], "boq", "import", "JM", str(boq), config=config)
    ok(db, USERS["bureau"], "construction", "start", "JM", "--date", "2021-03-01", config=config)
    ok(db, supervisor, "inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30", config=config)
    ok(db, supervisor, "material", "sample", "JM", "--material", "水泥", "--batch", "C-0301", "--regime", "routine",
       config=config)
    ok(db, supervisor, "material", "result", "JM", "S1", "--pass", "--lab", "辽源市检测站", config=config)
    if blind:
        recorded = json.loads(ok(db, supervisor, "material", "sample", "JM", "--material", "防水卷材",
                                 "--batch", "B-BLIND-0326", "--regime", "blind", "--json", config=config).stdout)
        blind_id: str = recorded["sample_id"]
        assert BLIND_SAMPLE_ID.fullmatch(blind_id), blind_id  # named by its command: no count in its id
        return db, config, blind_id
    return db, config, None


VIEWS = [
    ["compound", "show", "JM"], ["compound", "show", "JM", "--as-of", "2030-01-01"],
    ["quality"], ["quality", "--by", "contractor"], ["quality", "JM"],
]


def without_events(view: list[str], output: str) -> str:
    """``compound show`` counts the compound's events; everything else must be the same."""
    if view[:2] != ["compound", "show"]:
        return output
    if output.lstrip().startswith("{"):
        shown = json.loads(output)
        shown.pop("events")
        return json.dumps(shown)
    if output.startswith("code,"):
        rows = list(csv.DictReader(io.StringIO(output)))
        for row in rows:
            row.pop("events")
        return json.dumps(rows)
    return "\n".join(line for line in output.splitlines() if "Events" not in line)


@pytest.mark.parametrize("view", VIEWS, ids=" ".join)
@pytest.mark.parametrize("output", ["table", "--json", "--csv"])
def test_a_pending_blind_sample_leaves_no_trace_for_a_contractor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, view: list[str], output: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with_blind, config, blind_id = site(tmp_path, "with", blind=True)
    without_blind, _config, _none = site(tmp_path, "without", blind=False)
    assert blind_id is not None
    formats = [] if output == "table" else [output]

    for who in OUTSIDERS:  # another's compound: the same refusal whether the sample is there or not
        with_, without = (invoke(db, USERS[who], *view, *formats, config=config) for db in (with_blind, without_blind))
        assert (with_.exit_code, with_.output) == (without.exit_code, without.output), who
    for who in ("contractor",):
        seen = ok(with_blind, USERS[who], *view, *formats, config=config).output
        unseen = ok(without_blind, USERS[who], *view, *formats, config=config).output
        assert "B-BLIND" not in seen and "防水卷材" not in seen and blind_id not in seen
        # "blind" only where it is part of the layout (the column blind_pass_rate), as without the sample
        assert seen.count("blind") == unseen.count("blind"), who
        assert without_events(view, seen) == without_events(view, unseen), who


def test_counts_exclude_a_pending_blind_sample_for_a_contractor_and_the_unlisted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db, config, blind_id = site(tmp_path, "site", blind=True)
    assert blind_id is not None

    def show(who: str) -> dict[str, object]:
        shown: dict[str, object] = json.loads(ok(db, USERS[who], "compound", "show", "JM", "--json",
                                                 config=config).stdout)
        return shown

    def quality(who: str, by: str = "compound") -> dict[str, object]:
        (row,) = json.loads(ok(db, USERS[who], "quality", "--by", by, "--json", config=config).stdout)
        return dict(row)

    def quality_csv(who: str) -> dict[str, str]:
        (row,) = csv.DictReader(io.StringIO(ok(db, USERS[who], "quality", "--csv", config=config).stdout))
        return dict(row)

    for who in ("contractor",):
        assert (show(who)["samples"], show(who)["samples_pending"]) == (1, 0), who
        assert show(who)["events"] == show("supervisor")["events"] - 1, who  # the blind sample's is not counted
        assert quality(who)["samples"] == 1 and quality(who, "contractor")["samples"] == 1, who
        assert quality_csv(who)["samples"] == "1", who
    # A person [users] does not name sees least: no compound in detail.
    assert invoke(db, USERS["not listed"], "compound", "show", "JM", config=config).exit_code == 1
    assert json.loads(ok(db, USERS["not listed"], "quality", "--json", config=config).stdout) == []
    assert quality("contractor")["blind_pass_rate"] is None and quality("supervisor")["blind_pass_rate"] is None
    for who in ("supervisor", "bureau", "auditor"):
        assert (show(who)["samples"], show(who)["samples_pending"]) == (2, 1), who
        assert quality(who)["samples"] == 2 and quality(who, "contractor")["samples"] == 2, who
        assert quality_csv(who)["samples"] == "2", who

    # Once the result is recorded the contractor sees the sample, its regime included.
    ok(db, USERS["supervisor"], "material", "result", "JM", blind_id, "--fail", "--lab", "辽源市检测站", config=config)

    assert (show("contractor")["samples"], show("contractor")["samples_pending"]) == (2, 0)
    row = quality("contractor")
    assert row["samples"] == 2 and row["samples_failed"] == 1 and row["blind_pass_rate"] == "0.00"
    assert quality("contractor", "contractor")["samples"] == 2
    assert quality_csv("contractor")["samples"] == "2"
    table = ok(db, USERS["contractor"], "quality", config=config).output
    assert table == ok(db, USERS["supervisor"], "quality", config=config).output


# ---------------------------------------------------------------- without a configuration


def test_without_a_configuration_file_everyone_may_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no renovation.toml here
    db = tmp_path / "open.db"
    boq = tmp_path / "boq.csv"
    boq.write_text(BOQ_CSV, encoding="utf-8")

    ok(db, "任何人", *WRITES["compound register"][1])
    ok(db, "路人甲", "boq", "import", "NEW", str(boq))
    ok(db, "李经理", "construction", "start", "NEW", "--date", "2021-04-01")
    ok(db, "someone", "meter", "NEW", "--item", "A1", "--period", "2021-04", "--quantity", "1")
    ok(db, "李经理", "material", "sample", "NEW", "--material", "水泥", "--batch", "X", "--regime", "blind")
    ok(db, "李经理", "audit", "verify")

    shown = json.loads(ok(db, "李经理", "compound", "show", "NEW", "--json").stdout)
    assert shown["access"] == "everyone may record (no [users] in a configuration file)"
    assert shown["samples_pending"] == 1  # nobody is a contractor without roles
    table = ok(db, "李经理", "compound", "show", "NEW").output
    assert "everyone may record" in table


def test_a_configuration_without_users_leaves_everyone_free(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "renovation.toml").write_text("[ranking.weights]\nquality = 40\nsafety = 15\n", encoding="utf-8")
    db = tmp_path / "open.db"

    ok(db, "路人甲", *WRITES["compound register"][1])

    shown = json.loads(ok(db, "路人甲", "compound", "show", "NEW", "--json").stdout)
    assert shown["access"] == "everyone may record (no [users] in a configuration file)"


def test_renovation_toml_in_the_working_directory_applies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "renovation.toml").write_text(CONFIG, encoding="utf-8")
    db = tmp_path / "roles.db"

    refused = invoke(db, USERS["supervisor"], *WRITES["compound register"][1])
    assert refused.exit_code == 1
    assert refused.output.strip() == (f"Error: user {USERS['supervisor']} (supervisor) may not register compounds: "
                                      "this needs the role bureau")
    ok(db, USERS["bureau"], *WRITES["compound register"][1])
    shown = json.loads(ok(db, USERS["supervisor"], "compound", "show", "NEW", "--json").stdout)
    assert shown["access"] == "roles from renovation.toml; you are supervisor"
    stranger = invoke(db, USERS["not listed"], "demolition", "record", "NEW", "--count", "1")
    assert stranger.exit_code == 1 and "is not in the configuration file's [users]" in stranger.output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[ranking.weights]\nquality = true\nsafety = 25\nprogress = 20\ncivilized = 15\nsatisfaction = 40\n",
         "ranking.weights.quality"),
        ('[ranking.weights]\nquality = "30"\nsafety = 25\nprogress = 20\ncivilized = 15\nsatisfaction = 10\n',
         "ranking.weights.quality"),
        ("[users]\n", "Error: renovation.toml: [users] is empty"),  # a rule of the whole file: no place named
    ],
    ids=["weight-true", "weight-text", "empty-users"],
)
def test_a_configuration_that_says_something_else_than_it_seems_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, expected: str
) -> None:
    """A weight of `true` (read as 1) or "30", and an empty [users] (which refused everyone), are
    refused in one line instead of taken."""
    (tmp_path / "renovation.toml").write_text(content, encoding="utf-8")
    monkeypatch.chdir(tmp_path)

    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "r.db"), "compound", "list"], env=ENV)

    assert result.exit_code == 2, result.output
    assert expected in result.output and len(result.output.strip().splitlines()) == 1


def test_a_configuration_saved_with_a_byte_order_mark_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "renovation.toml").write_bytes(
        "\ufeff[ranking.weights]\nquality = 30\nsafety = 25\nprogress = 20\ncivilized = 15\nsatisfaction = 10\n"
        .encode())
    monkeypatch.chdir(tmp_path)
    Renovation(tmp_path / "r.db").ok("db", "zone", "Asia/Shanghai")  # an empty store

    result = CliRunner().invoke(cli, ["--db", str(tmp_path / "r.db"), "compound", "list"], env=ENV)

    assert result.exit_code == 0, result.output

"""The auditor through the CLI: `audit verify` names the first event changed behind the application's
back (edited, deleted, reordered, inserted, truncated against a digest) by position and compound, on
SQLite and PostgreSQL; a store without a chain is refused until `--init`; history, replay, reconcile
and the boards as of a past moment."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from cli_support import REGISTER_JM, Renovation
from click.testing import Result

from renovation.domain.compound import CompoundProject
from tests.backends import pg_url, store_url

VERIFIED = re.compile(r"^verified (\d+) events; the chain is intact; head (\d+):([0-9a-f]{64})$")


def build(run: Renovation, boq_file: Path) -> None:
    """JM and LY: 9 events. Positions 1-7 and 9 are JM versions 1-8, position 8 is LY's registration.

    1 registered, 2 bill of quantities, 3 started, 4 M1 (A1 10), 5 inspection, 6 M2 (B2 5),
    7 M1 corrected to 9.5, 8 LY registered, 9 inspection."""
    run.ok(*REGISTER_JM)
    run.ok("boq", "import", "JM", str(boq_file))
    run.ok("construction", "start", "JM", "--date", "2021-03-01")
    run.ok("meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "10")
    run.ok("inspect", "JM", "--kind", "morning", "--at", "2021-03-02T06:30")
    run.ok("meter", "JM", "--item", "B2", "--period", "2021-04", "--quantity", "5")
    run.ok("meter", "correct", "JM", "M1", "--quantity", "9.5", "--reason", "复核现场实测")
    run.ok("compound", "register", "LY", "--name", "利源小区", "--district", "西安区", "--contractor", "吉林二建",
           "--households", "180", "--contract-value", "800000", "--planned-start", "2021-03-10",
           "--planned-finish", "2021-10-31", "--registered-on", "2021-01-04")
    run.ok("inspect", "JM", "--kind", "patrol", "--at", "2021-03-03T10:00")


def sqlite(db: Path, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """SQL on the store's file, behind the application's back."""
    connection = sqlite3.connect(db)
    try:
        with connection:
            return connection.execute(statement, params).fetchall()
    finally:
        connection.close()


def refused(result: Result) -> str:
    """The one line of a refused `audit verify` (further problems follow as 'also position' lines)."""
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1, lines
    assert all(line == errors[0] or line.startswith("  also position ") or line.startswith("chain initialised ")
               for line in lines), lines
    return errors[0]


def verified(result: Result) -> int:
    assert result.exit_code == 0, (result.exit_code, result.output)
    lines = [line for line in result.output.strip().splitlines() if not line.startswith("the digest ")]
    match = VERIFIED.match(lines[-1])
    assert match, result.output
    return int(match.group(1))


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """An SQLite file only: these tests tamper with it through sqlite3 (PostgreSQL ones use `pg`)."""
    return tmp_path / "r.db"


@pytest.fixture
def store(run: Renovation, boq_file: Path) -> Renovation:
    build(run, boq_file)
    return run


# ---------------------------------------------------------------- an untouched store


def test_an_untouched_store_verifies(store: Renovation) -> None:
    result = store.ok("audit", "verify")

    assert verified(result) == 9
    assert len(result.output.strip().splitlines()) == 1
    head = result.output.strip().rsplit(" ", 1)[1]
    assert store.ok("audit", "digest").output.strip() == head
    assert head.startswith("9:")


def test_an_empty_store_has_nothing_to_verify(run: Renovation) -> None:
    run.ok("db", "zone", "Asia/Shanghai")  # an empty store
    assert run.ok("audit", "verify").output.strip() == "the store is empty; nothing to verify"


# ---------------------------------------------------------------- tampering on SQLite


def test_an_edited_event_is_named_by_position_and_compound(store: Renovation) -> None:
    (state,) = sqlite(store.db, "SELECT state FROM stored_events WHERE rowid = 4")[0]
    assert b'"_data_":"10"' in state
    sqlite(store.db, "UPDATE stored_events SET state = ? WHERE rowid = 4",
           (state.replace(b'"_data_":"10"', b'"_data_":"100"'),))

    line = refused(store("audit", "verify"))

    assert line == ("Error: position 4: edited: altered (edited or reordered): JM version 4 (QuantityMeasured) "
                    "(1 problem(s) in all)")


@pytest.mark.parametrize("change", [
    "UPDATE stored_events SET topic = replace(topic, 'InspectionRecorded', 'FindingClosed') WHERE rowid = 5",
    "UPDATE stored_events SET originator_version = 99 WHERE rowid = 5",
    "UPDATE stored_events SET state = CAST(state AS TEXT) || ' ' WHERE rowid = 5",
])
def test_any_column_of_an_event_edited_is_found(store: Renovation, change: str) -> None:
    sqlite(store.db, change)

    line = refused(store("audit", "verify"))

    assert line.startswith("Error: position 5: edited: ")
    assert " JM version " in line


def test_a_deleted_event_is_named_by_position_and_compound(store: Renovation) -> None:
    sqlite(store.db, "DELETE FROM stored_events WHERE rowid = 6")

    line = refused(store("audit", "verify"))

    assert line == ("Error: position 6: deleted: the chain has a link here but the event is gone: JM version 6 "
                    "(1 problem(s) in all)")


def test_a_deleted_registration_is_named_by_position(store: Renovation) -> None:
    sqlite(store.db, "DELETE FROM stored_events WHERE rowid = 8")  # LY's only event

    line = refused(store("audit", "verify"))

    assert line.startswith("Error: position 8: deleted: the chain has a link here but the event is gone")


def test_reordered_events_are_named_by_position_and_compound(store: Renovation) -> None:
    sqlite(store.db, "UPDATE stored_events SET rowid = 100 WHERE rowid = 5")
    sqlite(store.db, "UPDATE stored_events SET rowid = 5 WHERE rowid = 6")
    sqlite(store.db, "UPDATE stored_events SET rowid = 6 WHERE rowid = 100")

    result = store("audit", "verify")
    line = refused(result)

    assert line == ("Error: position 5: edited: altered (edited or reordered): JM version 6 (QuantityMeasured) "
                    "(2 problem(s) in all)")
    assert "  also position 6: edited" in result.output.splitlines()


def test_swapped_states_are_named_by_position_and_compound(store: Renovation) -> None:
    (fourth,), (sixth,) = sqlite(store.db, "SELECT state FROM stored_events WHERE rowid IN (4, 6) ORDER BY rowid")
    sqlite(store.db, "UPDATE stored_events SET state = ? WHERE rowid = 4", (sixth,))
    sqlite(store.db, "UPDATE stored_events SET state = ? WHERE rowid = 6", (fourth,))

    line = refused(store("audit", "verify"))

    assert line.startswith("Error: position 4: edited: altered (edited or reordered): JM version 4 ")
    assert line.endswith("(2 problem(s) in all)")


def test_an_inserted_event_is_named_by_position_and_compound(store: Renovation) -> None:
    sqlite(store.db, "INSERT INTO stored_events (originator_id, originator_version, topic, state) "
                     "SELECT originator_id, 9, topic, state FROM stored_events WHERE rowid = 4")

    line = refused(store("audit", "verify"))

    assert line == ("Error: position 10: inserted: no link was written with it: JM version 9 (QuantityMeasured) "
                    "(1 problem(s) in all)")


def test_an_event_inserted_into_a_hole_is_named_by_position(store: Renovation) -> None:
    """An event deleted and another put in its place, with its own version."""
    sqlite(store.db, "DELETE FROM stored_events WHERE rowid = 9")
    sqlite(store.db, "DELETE FROM event_chain WHERE position = 9")
    sqlite(store.db, "INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) "
                     "SELECT 9, originator_id, 8, topic, state FROM stored_events WHERE rowid = 6")

    line = refused(store("audit", "verify"))

    assert line.startswith("Error: position 9: inserted: no link was written with it: JM version 8 (QuantityMeasured)")


def test_truncation_is_found_against_a_digest_taken_before(store: Renovation) -> None:
    digest = store.ok("audit", "digest").output.strip()
    sqlite(store.db, "DELETE FROM stored_events WHERE rowid > 7")
    sqlite(store.db, "DELETE FROM event_chain WHERE position > 7")

    assert verified(store.ok("audit", "verify")) == 7  # consistent in itself: only the digest tells
    line = refused(store("audit", "verify", "--digest", digest))

    assert line == ("Error: position 9: truncated: the log no longer reaches the digest's position "
                    "(1 problem(s) in all)")


def test_a_log_grown_after_the_digest_still_extends_it(store: Renovation) -> None:
    digest = store.ok("audit", "digest").output.strip()
    store.ok("inspect", "JM", "--kind", "patrol", "--at", "2021-03-04T10:00")

    assert verified(store.ok("audit", "verify", "--digest", digest)) == 10


def rewritten(store: Renovation, position: int, old: bytes, new: bytes) -> None:
    """The state of the event at ``position`` edited (``old`` made ``new``, once) and the whole log chained
    afresh, as whoever knows the algorithm can; the compounds' snapshots dropped."""
    from renovation.store.chain import GENESIS, link

    (state,) = sqlite(store.db, "SELECT state FROM stored_events WHERE rowid = ?", (position,))[0]
    assert state.count(old) == 1, state
    sqlite(store.db, "UPDATE stored_events SET state = ? WHERE rowid = ?", (state.replace(old, new), position))
    sqlite(store.db, "DELETE FROM stored_snapshots")
    previous = GENESIS
    rows = sqlite(store.db, "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
                            "ORDER BY rowid")
    for at, originator, version, topic, body in rows:
        previous = link(previous, at, UUID(originator), version, topic, body)
        sqlite(store.db, "UPDATE event_chain SET hash = ? WHERE position = ?", (previous, at))


def test_a_chain_rewritten_after_an_edit_is_found_against_the_digest(store: Renovation) -> None:
    digest = store.ok("audit", "digest").output.strip()
    rewritten(store, 4, b'"_data_":"10"', b'"_data_":"100"')

    # The chain holds; what the edit made does not follow from its command (the value of 100 of A1 is
    # not the one stored), and the digest kept elsewhere proves the log was rewritten.
    rules = refused(store("audit", "verify"))
    line = refused(store("audit", "verify", "--digest", digest))

    assert rules.startswith("Error: position 4: does_not_follow: QuantityMeasured (JM version 4) does not follow "
                            "from its command: value is ")
    assert line.startswith("Error: position 9: digest_mismatch: ")


def test_an_event_holding_a_key_its_command_does_not_write_does_not_follow(store: Renovation) -> None:
    """A key more, null (``apply``: the event read then has no method to apply it with), was taken for the
    field's absence and verified."""
    rewritten(store, 5, b'"kind":"morning"', b'"kind":"morning","apply":null')

    assert refused(store("audit", "verify")) == (
        "Error: position 5: does_not_follow: InspectionRecorded (JM version 5) does not follow from its command: "
        "apply is None, the rules give nothing (1 problem(s) in all)")


@pytest.mark.parametrize("digest", ["9", "9:abc", "x:" + "0" * 64, "9:" + "G" * 64])
def test_a_malformed_digest_is_bad_usage(store: Renovation, digest: str) -> None:
    result = store("audit", "verify", "--digest", digest)

    assert result.exit_code == 2
    assert "--digest" in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------- a store without a chain


@pytest.mark.parametrize("remove", ["DELETE FROM event_chain", "DROP TABLE event_chain"])
def test_a_store_without_a_chain_is_refused_until_init(store: Renovation, remove: str) -> None:
    sqlite(store.db, remove)

    line = refused(store("audit", "verify"))
    assert line == "Error: this store has no hash chain yet; run `renovation audit verify --init` once"
    assert store("audit", "digest").exit_code == 1

    init = store.ok("audit", "verify", "--init")

    lines = init.output.strip().splitlines()
    assert lines[0] == "chained 9 existing events (recorded as an initialisation)"
    assert re.fullmatch(
        r"chain initialised on \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00 by tester over 9 events: "
        r"changes before then cannot be detected", lines[1]), lines[1]
    assert verified(init) == 9
    # Every later verification says so, and the chain grows with new events.
    store.ok("meter", "JM", "--item", "A1", "--period", "2021-04", "--quantity", "1")
    again = store.ok("audit", "verify")
    assert again.output.startswith("chain initialised on ") and " by tester over 9 events" in again.output
    assert verified(again) == 10
    # Changes after the initialisation are found as usual.
    sqlite(store.db, "DELETE FROM stored_events WHERE rowid = 6")
    assert refused(store("audit", "verify")).startswith("Error: position 6: deleted: ")


def test_init_on_a_chained_store_is_refused(store: Renovation) -> None:
    line = refused(store("audit", "verify", "--init"))

    assert line == "Error: this store already has a hash chain; --init is only for a store without one"
    assert verified(store.ok("audit", "verify")) == 9


# ---------------------------------------------------------------- PostgreSQL


@pytest.fixture
def pg(tmp_path: Path, boq_file: Path) -> Iterator[Renovation]:
    for url in store_url("postgres", tmp_path):
        run = Renovation(url)  # type: ignore[arg-type]  # a URL where the helper expects a path
        build(run, boq_file)
        yield run


def pg_sql(run: Renovation, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    import psycopg

    schema = str(run.db).rsplit("schema=", 1)[1]
    with psycopg.connect(pg_url(), autocommit=True) as connection:
        cursor = connection.execute(statement.replace("{events}", f'"{schema}".renovation_events'), params)
        return cursor.fetchall() if cursor.description else []


def pg_positions(run: Renovation) -> list[int]:
    return [row[0] for row in pg_sql(run, "SELECT notification_id FROM {events} ORDER BY notification_id")]


def test_an_untouched_postgresql_store_verifies(pg: Renovation) -> None:
    assert verified(pg.ok("audit", "verify")) == 9


def test_an_edited_event_on_postgresql_is_named_by_position_and_compound(pg: Renovation) -> None:
    position = pg_positions(pg)[3]
    (state,) = pg_sql(pg, "SELECT state FROM {events} WHERE notification_id = %s", (position,))[0]
    pg_sql(pg, "UPDATE {events} SET state = %s WHERE notification_id = %s",
           (bytes(state).replace(b'"_data_":"10"', b'"_data_":"100"'), position))

    line = refused(pg("audit", "verify"))

    assert line == (f"Error: position {position}: edited: altered (edited or reordered): JM version 4 "
                    "(QuantityMeasured) (1 problem(s) in all)")


def test_a_deleted_event_on_postgresql_is_named_by_position_and_compound(pg: Renovation) -> None:
    position = pg_positions(pg)[5]
    pg_sql(pg, "DELETE FROM {events} WHERE notification_id = %s", (position,))

    line = refused(pg("audit", "verify"))

    assert line == (f"Error: position {position}: deleted: the chain has a link here but the event is gone: "
                    "JM version 6 (1 problem(s) in all)")


def test_a_gap_from_a_rolled_back_transaction_on_postgresql_verifies(pg: Renovation) -> None:
    pg_sql(pg, "SELECT nextval(pg_get_serial_sequence('{events}', 'notification_id'))")
    pg.ok("inspect", "JM", "--kind", "patrol", "--at", "2021-03-04T10:00")
    positions = pg_positions(pg)
    assert positions[-1] == positions[-2] + 2

    assert verified(pg.ok("audit", "verify")) == 10


# ---------------------------------------------------------------- history, replay, reconcile, as of


def test_history_lists_measured_corrected_and_variation_with_who_and_why(store: Renovation) -> None:
    store.ok("variation", "JM", "--item", "A1", "--quantity", "120", "--reason", "变更令 BG-07")

    rows = store.json("audit", "history", "JM")

    assert [(r["kind"], r["entry_id"], r["item"], r["period"], r["previous_quantity"], r["quantity"], r["value"],
             r["user"], r["reason"]) for r in rows] == [
        ("measured", "M1", "A1", "2021-03", None, "10", "1234.50", "tester", None),
        ("measured", "M2", "B2", "2021-04", None, "5", "925.00", "tester", None),
        ("corrected", "M1", "A1", "2021-03", "10", "9.5", "1172.78", "tester", "复核现场实测"),
        ("variation", None, "A1", None, "100", "120", None, "tester", "变更令 BG-07"),
    ]
    times = [datetime.fromisoformat(r["recorded_at"]) for r in rows]
    assert times == sorted(times) and len(set(times)) == 4
    assert [r["kind"] for r in store.json("audit", "history", "JM", "--item", "A1")] == [
        "measured", "corrected", "variation"]
    assert [r["entry_id"] for r in store.json("audit", "history", "JM", "--period", "2021-04")] == ["M2"]


def test_replay_as_of_before_a_correction_shows_the_original_quantity(store: Renovation) -> None:
    rows = store.json("audit", "history", "JM")
    corrected_at = datetime.fromisoformat(rows[2]["recorded_at"])
    just_before = (corrected_at - timedelta(microseconds=1)).isoformat()

    before = store.json("audit", "replay", "JM", "--as-of", just_before)
    after = store.json("audit", "replay", "JM", "--as-of", corrected_at.isoformat())
    now = store.json("audit", "replay", "JM")

    assert before == {
        "code": "JM", "as_of": just_before,
        "items": [{"item": "A1", "description": "雨污分流", "unit": "m", "quantity": "10", "value": "1234.50"},
                  {"item": "B2", "description": "外墙保温", "unit": "m2", "quantity": "5", "value": "925.00"}],
        "total_value": "2159.50",
        # progress payments then: none certified yet
        "certified": "0.00", "paid": "0.00", "retained": "0.00", "released": "0.00", "outstanding": "0.00",
    }
    assert after["items"][0]["quantity"] == "9.5" and after["items"][0]["value"] == "1172.78"
    assert after["total_value"] == "2097.78"
    assert now["total_value"] == "2097.78"
    first = datetime.fromisoformat(rows[0]["recorded_at"])  # the first metering, after the registration
    assert store.json("audit", "replay", "JM", "--as-of", (first - timedelta(microseconds=1)).isoformat())[
        "total_value"] == "0"
    before = store("audit", "replay", "JM", "--as-of", "2021-01-01", "--json")  # before JM was registered
    assert before.exit_code == 1 and "JM was not registered by 2021-01-01" in before.output


def test_reconcile_agrees_then_names_a_corrupted_ledger_row(store: Renovation) -> None:
    agreed = store.ok("audit", "reconcile")
    assert agreed.output.strip() == "ledgers of 2 compounds agree with the events, to the fen"
    assert store.json("audit", "reconcile") == []

    sqlite(store.db, "UPDATE ledger_entries SET quantity = '12', value = '1481.40' WHERE code = 'JM' AND "
                     "entry_id = 'M1'")

    result = store("audit", "reconcile", "--json")
    assert result.exit_code == 1
    assert '"code": "JM"' in result.stdout and '"item": "A1"' in result.stdout
    assert "Error: 1 difference(s) between the events and the read models" in result.output
    csv = store("audit", "reconcile", "--csv")
    assert csv.exit_code == 1
    assert "JM,A1,ledger,9.5 / 1172.78,12 / 1481.40" in csv.output


def test_verify_names_each_event_its_users_role_could_not_have_recorded(store: Renovation, tmp_path: Path) -> None:
    """Issue 14, item 1, on SQLite: the store was written without roles by `tester`; judged against a
    configuration that makes `tester` a supervisor, every event but the inspections is one a supervisor
    may not record. A user the configuration does not name is not judged."""
    config = tmp_path / "roles.toml"
    config.write_text('[users]\n"tester" = { role = "supervisor" }\n', encoding="utf-8")

    result = store("--config", str(config), "audit", "verify")

    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first == ("Error: position 1: role_mismatch: recorded by tester, a supervisor, who may not record "
                     "Registered (7 problem(s) in all)")
    assert "position 5: role_mismatch" not in result.stderr  # an inspection: a supervisor's
    config.write_text('[users]\n"someone" = { role = "supervisor" }\n', encoding="utf-8")
    assert store("--config", str(config), "audit", "verify").exit_code == 0


def test_audit_boards_names_every_forged_row_of_every_read_model(store: Renovation) -> None:
    """Issue 14, item 4, on SQLite (where whoever holds the file can write a board): verify and reconcile
    see nothing wrong with a forged ranking or progress row; `audit boards` names each, and a rebuild
    mends them."""
    store.ok("score", "JM", "--period", "2021-03", "--quality", "80", "--safety", "80", "--progress", "80",
             "--civilized", "80", "--satisfaction", "80")
    assert store.ok("audit", "boards").output.startswith("read models agree with the log: ")
    sqlite(store.db, "UPDATE ranking_scores SET quality = '100' WHERE code = 'JM'")
    sqlite(store.db, "UPDATE progress_compounds SET status = 'accepted' WHERE code = 'LY'")
    sqlite(store.db, "DELETE FROM worklist_compounds WHERE code = 'LY'")
    assert store("audit", "verify").exit_code == 0
    assert store("audit", "reconcile").exit_code == 0

    result = store("audit", "boards", "--json")

    assert result.exit_code == 1
    found = {(row["table"], row["key"], row["kind"], row["column"], row["stored"], row["rebuilt"])
             for row in json.loads(result.stdout)}
    assert ("ranking_scores", "JM/2021-03", "changed", "quality", "100", "80") in found
    assert ("progress_compounds", "LY", "changed", "status", "accepted", "registered") in found
    assert ("worklist_compounds", "LY", "missing", None, None, None) in found
    assert "difference(s) between the read models and the log" in result.stderr
    store.ok("projections", "rebuild")
    assert store.ok("audit", "boards").output.startswith("read models agree with the log: ")


def test_compound_show_and_boards_as_of_a_past_moment(store: Renovation) -> None:
    rows = store.json("audit", "history", "JM")
    corrected_at = datetime.fromisoformat(rows[2]["recorded_at"])
    before = (corrected_at - timedelta(microseconds=1)).isoformat()

    then = store.json("compound", "show", "JM", "--as-of", before)
    now = store.json("compound", "show", "JM")

    assert then["metered_value"] == "2159.50" and now["metered_value"] == "2097.78"
    assert then["entries"] == 2 and then["inspections"] == 1 and now["inspections"] == 2
    assert then["events"] == 6 and now["events"] == 8
    progress_then = {r["code"]: r for r in store.json("progress", "--as-of", before)}
    assert list(progress_then) == ["JM"]  # LY was registered later
    assert progress_then["JM"]["metered_value"] == "2159.50"
    assert {r["code"]: r["metered_value"] for r in store.json("progress")}["JM"] == "2097.78"
    unknown = store("compound", "show", "JM", "--as-of", "2021-01-01")
    assert unknown.exit_code == 1 and "JM" in unknown.output
    for odd in ("yesterday", "20210531", "2021-W22", "2021-05-31T"):  # not a start of day in disguise
        bad = store("compound", "show", "JM", "--as-of", odd)
        assert bad.exit_code == 2 and "--as-of" in bad.output, odd



def test_ranking_as_of_a_past_moment(store: Renovation) -> None:
    def scores(value: str) -> list[str]:
        return [part for name in ("quality", "safety", "progress", "civilized", "satisfaction")
                for part in (f"--{name}", value)]

    store.ok("construction", "start", "LY", "--date", "2021-03-10")
    store.ok("score", "JM", "--period", "2021-03", *scores("80"))
    between = datetime.now(ZoneInfo("Asia/Shanghai")).isoformat()  # after JM's score, before LY's
    store.ok("score", "LY", "--period", "2021-03", *scores("90"))

    live = store.json("ranking", "--by", "compound")
    then = store.json("ranking", "--by", "compound", "--as-of", between)
    before_any = store.json("ranking", "--by", "compound", "--as-of", "2021-01-01")

    assert [(r["code"], r["rank"]) for r in live] == [("LY", 1), ("JM", 2)]
    assert [(r["code"], r["rank"], r["total"]) for r in then] == [("JM", 1, "80.00")]
    assert before_any == []


def test_imported_events_are_chained_like_the_originals(store: Renovation, tmp_path: Path) -> None:
    exported = tmp_path / "log.jsonl"
    store.ok("export", str(exported))
    copy = Renovation(tmp_path / "copy.db")

    copy.ok("import", str(exported))

    assert verified(copy.ok("audit", "verify")) == 9
    assert copy.ok("audit", "digest").output == store.ok("audit", "digest").output
    copy.ok("import", str(exported))  # again: nothing added, the chain unchanged
    assert verified(copy.ok("audit", "verify")) == 9


def test_audit_boards_names_a_value_no_read_model_could_have_written_and_goes_on(store: Renovation) -> None:
    """A stored value its column's type cannot read (a time that is not one, a decimal that is not one, a
    blob) is reported as the row it is in, with the text found, and the audit goes on to the other rows:
    the tool that finds forged rows must not end on one."""
    store.ok("inspect", "JM", "--kind", "patrol", "--at", "2021-03-04T10:00", "--finding", "safety:major:未挂安全网")
    assert store.ok("audit", "boards").output.startswith("read models agree with the log: ")
    sqlite(store.db, "UPDATE worklist_findings SET raised_at = 'garbage' WHERE code = 'JM' AND finding_id = 'F1'")
    sqlite(store.db, "UPDATE progress_compounds SET contract_value = 'abc', planned_finish = '2021-02-30' "
                     "WHERE code = 'LY'")
    sqlite(store.db, "UPDATE progress_compounds SET metered_value = X'00' WHERE code = 'JM'")
    sqlite(store.db, "UPDATE ranking_compounds SET name = '改了' WHERE code = 'JM'")  # a plain forgery beside them

    result = store("audit", "boards", "--json")

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    found = {(row["table"], row["key"], row["kind"], row["column"], row["stored"])
             for row in json.loads(result.stdout)}
    assert ("worklist_findings", "JM/F1", "changed", "raised_at", "garbage") in found
    assert ("progress_compounds", "LY", "changed", "contract_value", "abc") in found
    assert ("progress_compounds", "LY", "changed", "planned_finish", "2021-02-30") in found
    assert any(row[:4] == ("progress_compounds", "JM", "changed", "metered_value") for row in found)
    assert ("ranking_compounds", "JM", "changed", "name", "改了") in found
    assert "difference(s) between the read models and the log" in result.stderr
    store.ok("projections", "rebuild")
    assert store.ok("audit", "boards").output.startswith("read models agree with the log: ")


@pytest.mark.parametrize(("statement", "board"), [
    ("UPDATE worklist_findings SET raised_at = 'garbage' WHERE code = 'JM'", ("finding", "list")),
    ("UPDATE worklist_findings SET due = '2021-02-30' WHERE code = 'JM'", ("finding", "list")),
    ("UPDATE progress_compounds SET contract_value = 'abc' WHERE code = 'LY'", ("progress",)),
    ("UPDATE progress_compounds SET metered_value = 'NaN' WHERE code = 'JM'", ("progress",)),
    ("UPDATE progress_compounds SET metered_value = X'00' WHERE code = 'JM'", ("progress",)),
    ("UPDATE ranking_scores SET safety = 'Infinity' WHERE code = 'JM'", ("ranking",)),
    # a decimal whose exponent no amount has: formatted, it would be a gigabyte; summed, an overflow
    ("UPDATE progress_compounds SET contract_value = '1e999999999' WHERE code = 'JM'", ("progress",)),
    ("UPDATE progress_compounds SET metered_value = '-1e-999999999' WHERE code = 'JM'", ("progress", "--json")),
    # a day or time at the calendar's edge: moved to the store's zone, it overflows
    ("UPDATE worklist_findings SET raised_at = '0001-01-01T00:00:00+01:00' WHERE code = 'JM'", ("finding", "list")),
    ("UPDATE progress_compounds SET planned_finish = '9999-12-31' WHERE code = 'JM'", ("progress",)),
    ("UPDATE projection_tracking SET position = 'abc' WHERE name LIKE 'progress%'", ("progress",)),
    # a time without its zone: every one is written in UTC, and the board compares it with aware times
    ("UPDATE feedback_tickets SET received_at = '2021-03-02T08:00:00' WHERE code = 'JM'", ("feedback", "list")),
])
def test_a_board_that_meets_a_value_no_read_model_writes_says_so_in_one_line(
        store: Renovation, statement: str, board: tuple[str, ...]) -> None:
    """A value written into a read model's table by hand (a decimal, date or time that is not one) stops
    the board that reads it with one line naming the value and what mends it, never a traceback; a
    rebuild makes the table again from the log."""
    store.ok("inspect", "JM", "--kind", "patrol", "--at", "2021-03-04T10:00", "--finding", "safety:major:未挂安全网")
    store.ok("score", "JM", "--period", "2021-03", "--quality", "80", "--safety", "80", "--progress", "80",
             "--civilized", "80", "--satisfaction", "80")
    store.ok("feedback", "JM", "--channel", "hotline", "--text", "楼道施工噪音太早", "--at", "2021-03-02T08:00")
    before = store.ok(*board).output
    sqlite(store.db, statement)

    result = store(*board)

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and re.match(r"Error: (a|the \w+) read model holds ", lines[0]), lines
    assert "renovation projections rebuild" in lines[0]
    # audit boards names a row; a read model's position it cannot read either (it stops with the same line)
    assert ("renovation audit boards" in lines[0]) == ("projection_tracking" not in statement)
    store.ok("projections", "rebuild")
    assert store.ok(*board).output == before


@pytest.mark.parametrize(("statement", "board"), [
    ("UPDATE computed_metered SET value = 'abc' WHERE code = 'JM'", ("ranking", "--computed")),
    ("UPDATE computed_metered SET value = 'NaN' WHERE code = 'JM'", ("ranking", "--computed", "--by", "contractor")),
    ("UPDATE computed_tickets SET received_on = 'abc' WHERE code = 'JM'", ("ranking", "--computed")),
    ("UPDATE computed_findings SET due = 'abc' WHERE code = 'JM'",
     ("ranking", "explain", "JM", "--period", "2021-03")),
    ("UPDATE computed_findings SET raised_on = '2021-02-30' WHERE code = 'JM'", ("ranking", "--computed")),
])
def test_the_computed_horse_race_that_meets_a_value_no_read_model_writes_says_so_in_one_line(
        store: Renovation, statement: str, board: tuple[str, ...], monkeypatch: pytest.MonkeyPatch) -> None:
    """The computed horse race reads its facts as the driver gives them (thousands a board): each is read as
    its column would be, so a value written by hand stops the board with the same one line. The facts are
    read on a day no score was kept for (an earlier day than the one they were kept on: a kept score is not
    worked out again), and every compound's at once, as a province's board reads them."""
    monkeypatch.setattr("renovation.services.horserace.ONE_BY_ONE", 0)
    store.ok("inspect", "JM", "--kind", "patrol", "--at", "2021-03-04T10:00", "--finding", "safety:major:未挂安全网")
    store.ok("feedback", "JM", "--channel", "hotline", "--text", "楼道施工噪音太早", "--at", "2021-03-02T08:00")
    store.ok("--today", "2021-04-01", *board)
    sqlite(store.db, statement)

    result = store("--today", "2021-03-31", *board)

    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and re.match(r"Error: a read model holds ", lines[0]), lines
    store.ok("projections", "rebuild")
    store.ok("--today", "2021-04-03", *board)


@pytest.mark.parametrize(("change", "named"), [
    ("UPDATE stored_events SET topic = CAST(topic AS BLOB) WHERE rowid = 5", "(InspectionRecorded)"),
    ("UPDATE stored_events SET originator_version = 5.5 WHERE rowid = 5", "JM version 5.5"),
], ids=["topic-as-bytes", "version-not-whole"])
def test_a_column_edited_into_another_type_is_named_not_a_traceback(store: Renovation, change: str,
                                                                     named: str) -> None:
    sqlite(store.db, change)

    line = refused(store("audit", "verify"))

    assert line.startswith("Error: position 5: edited: ") and named in line


@pytest.mark.parametrize("change", ["state = CAST(state AS TEXT)", "originator_version = 2.5"],
                         ids=["state-as-text", "version-out-of-sequence"])
def test_a_snapshots_compound_whose_events_cannot_be_read_is_named(run: Renovation, change: str) -> None:
    """A state stored as text (its bytes unchanged: the chain holds) cannot be read back as an event, nor a
    compound whose versions are out of sequence replayed: the check of the compound's snapshot, which replays
    its events, says so in one line (or the chain, first, that the row was edited)."""
    run.ok("demo", "--compounds", "2", "--until", "2021-04-10")
    (code, aggregate), = sqlite(run.db, "SELECT code, originator_id FROM compound_directory LIMIT 1")
    stored_id = aggregate.replace("-", "")
    assert sqlite(run.db, "SELECT count(*) FROM stored_snapshots WHERE originator_id = ?", (stored_id,))[0][0]
    sqlite(run.db, f"UPDATE stored_events SET {change} WHERE originator_id = ? AND originator_version = 2",
           (stored_id,))

    result = run("audit", "verify")

    line = refused(result)
    if "TEXT" in change:
        assert f"the events of {code} up to version " in line and "cannot be read" in line
        assert "(MapperDeserialisationError: version 2, a " in line  # which event, not the library's long words
    else:
        assert line.startswith("Error: position ") and ": edited: " in line and ": snapshot" in result.output


@pytest.mark.parametrize("version", [1, 2])
def test_registering_a_code_again_reads_only_its_registration(run: Renovation, version: int) -> None:
    """A code registered already: the refusal looks for the command's own registration (a commit whose
    acknowledgement was lost) at version 1 only. A later state stored as text by hand does not turn the
    refusal into a traceback; a registration stored so is named in one line."""
    run.ok(*REGISTER_JM)
    run.ok("construction", "start", "JM", "--date", "2021-03-01")
    stored_id = CompoundProject.create_id("JM").hex
    sqlite(run.db, "UPDATE stored_events SET state = CAST(state AS TEXT) WHERE originator_id = ? "
           "AND originator_version = ?", (stored_id, version))

    result = run(*REGISTER_JM)

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert ("already registered" in result.output) == (version == 2), result.output
    assert ("cannot be read" in result.output) == (version == 1), result.output
    line = refused(run("audit", "verify"))  # where the line sends the user: it names the event
    assert line.startswith(f"Error: position {version}: undecodable: the application cannot read this event "
                           f"(version {version}, a "), line  # its kind and version, not the library's long words


@pytest.mark.parametrize("command", [["compound", "show", "JM"], ["--today", "2021-03-05", "inspect", "JM", "--kind",
                                                                  "patrol"], ["audit", "replay", "JM"]],
                         ids=["show", "inspect", "replay"])
def test_a_topic_written_by_hand_is_refused_not_imported(run: Renovation, command: list[str]) -> None:
    """A stored event's topic names a module and a class in it, which the library imports: one written into the
    store by hand ("this:x", a module that prints when imported) is refused in one line, never imported; the
    chain's walk names the row."""
    import sys

    run.ok(*REGISTER_JM)
    run.ok("construction", "start", "JM", "--date", "2021-03-01")
    sqlite(run.db, "UPDATE stored_events SET topic = 'this:x' WHERE originator_id = ? AND originator_version = 2",
           (CompoundProject.create_id("JM").hex,))
    imported = "this" in sys.modules

    result = run(*command)

    assert result.exit_code == 1, result.output
    assert "Zen of Python" not in result.output and ("this" in sys.modules) == imported
    assert result.output.strip().splitlines() == [
        "Error: compound JM cannot be read: one of its events is not one the application wrote ('this:x' is not "
        "the topic of an event of this application); `renovation audit verify` names it"]
    assert ": edited: " in refused(run("audit", "verify"))


def _forge_timestamp(db: Path, value: object) -> None:
    """JM's version 2 stored with this in place of its recording time (by hand: the chain then names it)."""
    stored_id = CompoundProject.create_id("JM").hex
    (state,), = sqlite(db, "SELECT state FROM stored_events WHERE originator_id = ? AND originator_version = 2",
                       (stored_id,))
    fields = json.loads(state)
    fields["timestamp"] = value
    sqlite(db, "UPDATE stored_events SET state = ? WHERE originator_id = ? AND originator_version = 2",
           (json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode(), stored_id))


@pytest.mark.parametrize("forged", ["topic", "no time", "no zone"])
@pytest.mark.parametrize("command", [["progress", "--as-of", "2099-01-01"], ["ranking", "--as-of", "2099-01-01"]],
                         ids=["progress", "ranking"])
def test_a_board_as_of_a_day_names_an_event_it_cannot_read(run: Renovation, command: list[str], forged: str) -> None:
    """The boards as of a day are made from the log in memory: an event the application cannot read (a topic
    written by hand, a recording time that is none, or without its zone) is said in one line, as a catch-up says
    it, not a traceback; the replay of a compound as of a day so too."""
    run.ok(*REGISTER_JM)
    run.ok("construction", "start", "JM", "--date", "2021-03-01")
    if forged == "topic":
        sqlite(run.db, "UPDATE stored_events SET topic = 'this:x' WHERE originator_id = ? AND originator_version = 2",
               (CompoundProject.create_id("JM").hex,))
    else:
        _forge_timestamp(run.db, "x" if forged == "no time" else {"_type_": "datetime_iso",
                                                                   "_data_": "2021-03-01T09:00:00"})

    result = run("--today", "2021-03-05", *command)

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    (line,) = result.output.strip().splitlines()
    assert line.startswith("Error: event 2 cannot be applied to the "), line
    assert line.endswith("); it stays as it was before that event: `renovation audit verify` names what is wrong"), line
    if forged == "topic":
        assert "('this:x' is not the topic of an event of this application)" in line, line
    replayed = run("--today", "2021-03-05", "audit", "replay", "JM", "--as-of", "2099-01-01")
    assert replayed.exit_code in (0, 1) and "Traceback" not in replayed.output, replayed.output
    assert replayed.exit_code == 0 or len(replayed.output.strip().splitlines()) == 1, replayed.output


@pytest.mark.parametrize("command", [["audit", "replay", "{code}"], ["audit", "history", "{code}"],
                                     ["finding", "show", "{code}", "F1"]],
                         ids=["replay", "history", "finding-show"])
def test_a_command_reading_a_compounds_events_names_one_it_cannot_read(run: Renovation, command: list[str]) -> None:
    """A state stored as text (by hand) behind the compound's snapshot: the compound loads from its snapshot,
    but a command that reads each of its events says in one line which compound it cannot read (``audit
    reconcile`` first catches the ledger up, which names the event)."""
    run.ok("demo", "--compounds", "2", "--until", "2021-04-10")
    (code, aggregate), = sqlite(run.db, "SELECT code, originator_id FROM compound_directory WHERE code = 'JM'")
    stored_id = aggregate.replace("-", "")
    assert sqlite(run.db, "SELECT count(*) FROM stored_snapshots WHERE originator_id = ?", (stored_id,))[0][0]
    sqlite(run.db, "UPDATE stored_events SET state = CAST(state AS TEXT) WHERE originator_id = ? "
           "AND originator_version = 2", (stored_id,))

    result = run("--today", "2021-04-10", *(part.format(code=code) for part in command))

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.output.strip().splitlines() == [
        f"Error: compound {code} cannot be read: one of its events is not one the application wrote "
        "(version 2, a BillOfQuantitiesSet: 'str' object has no attribute 'decode'); "
        "`renovation audit verify` names it"]


@pytest.mark.parametrize(("position", "field", "written"), [
    (4, "quantity", {"_type_": "decimal_str", "_data_": "1E+999999999999999999"}),  # no sum nor rounding survives it
    (5, "at", "soon"),  # a text where a time belongs
])
def test_a_value_no_command_records_makes_its_compound_unreadable_in_one_line(
        store: Renovation, position: int, field: str, written: Any) -> None:
    """A value written into an event by hand (as a login of the database may) that no command records: every
    command reading the compound says in one line that it cannot be read and records nothing; the boards stop
    before the event in one line; verify names it."""
    (state,) = sqlite(store.db, "SELECT state FROM stored_events WHERE rowid = ?", (position,))[0]
    edited = {**json.loads(state), field: written}
    sqlite(store.db, "UPDATE stored_events SET state = ? WHERE rowid = ?",
           (json.dumps(edited, ensure_ascii=False, separators=(",", ":")).encode(), position))

    for args in (("compound", "show", "JM"), ("meter", "JM", "--item", "A1", "--period", "2021-05", "--quantity", "1"),
                 ("inspect", "JM", "--kind", "patrol", "--at", "2021-03-04T10:00"), ("audit", "replay", "JM")):
        result = store(*args)
        assert result.exit_code == 1, (args, result.output)
        (line,) = result.output.strip().splitlines()
        assert line.startswith("Error: compound JM cannot be read: one of its events is not one the application "
                               "wrote ("), (args, line)
    assert sqlite(store.db, "SELECT count(*) FROM stored_events") == [(9,)]
    rebuilt = store("projections", "rebuild")
    assert rebuilt.exit_code == 1 and "Traceback" not in rebuilt.output, rebuilt.output
    assert rebuilt.output.strip().splitlines()[-1].startswith(f"Error: event {position} cannot be "), rebuilt.output
    assert refused(store("audit", "verify")).startswith(f"Error: position {position}: ")

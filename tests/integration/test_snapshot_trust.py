"""Snapshots are not trusted blindly (issue 12, item 5): a snapshot row edited in the database is found
on load (its own hash no longer matches, or it no longer sits on the chain), discarded with a warning,
and the compound is replayed from its events; `audit verify` names it."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

import pytest

from renovation.domain import errors
from renovation.domain.compound import CompoundProject
from renovation.services import admin
from renovation.services.application import RenovationApp
from renovation.services.workspace import Workspace
from tests.integration.conftest import open_app, start_compound
from tests.integration.test_chain import sql

INTERVAL = RenovationApp.snapshotting_intervals[CompoundProject]


def snapshots_table(db: str) -> str:
    if db.startswith("postgresql://"):
        return f'"{db.rsplit("schema=", 1)[1]}".renovation_snapshots'
    return "stored_snapshots"


def with_a_snapshot(db: str) -> RenovationApp:
    app = open_app(db)
    start_compound(app)
    while app.get_project("JM").version < INTERVAL:
        app.record_inspection("JM", "patrol", user="sup")
    assert app.snapshots is not None and list(app.snapshots.get(app.get_project("JM").id))
    return app


def forge(db: str, change: Any) -> None:
    """Edit the latest snapshot's JSON behind the application's back."""
    table = snapshots_table(db)
    rows = sql(db, f"SELECT originator_version, state FROM {table} ORDER BY originator_version DESC")
    version, state = rows[0]
    data = json.loads(bytes(state))
    change(data)
    sql(db, f"UPDATE {table} SET state = ? WHERE originator_version = ?",
        (json.dumps(data).encode(), version))


def generous_bill(data: dict[str, Any]) -> None:
    """The bill of quantities inside the snapshot: A1 1,000,000 units at 100,000 yuan."""
    item = data["state"]["boq"]["A1"]["_data_"]
    item["quantity"]["_data_"] = "1000000"
    item["unit_price"]["_data_"] = "100000"


def test_a_forged_snapshot_is_discarded_and_the_rules_hold(db: str, caplog: pytest.LogCaptureFixture) -> None:
    app = with_a_snapshot(db)
    forge(db, generous_bill)
    app.close()
    fresh = open_app(db)

    with caplog.at_level(logging.WARNING), pytest.raises(errors.MeteringExceedsContract):
        fresh.measure("JM", "A1", "2021-05", Decimal("5000"), user="auditor")

    assert fresh.get_project("JM").boq["A1"].quantity == Decimal("100")
    assert any("snapshot" in record.getMessage() and "JM" in record.getMessage() for record in caplog.records)
    fresh.close()


def test_audit_verify_names_a_forged_snapshot(db: str) -> None:
    app = with_a_snapshot(db)
    app.close()
    forge(db, generous_bill)
    workspace = Workspace(db)

    found = admin.verify_chain(workspace)

    assert found is not None
    kinds = [(problem.kind, problem.detail) for problem in found.problems]
    assert any(kind == "snapshot" and "JM" in detail for kind, detail in kinds), kinds
    workspace.close()


def test_an_honest_snapshot_is_used_and_verifies(db: str) -> None:
    app = with_a_snapshot(db)
    app.close()
    workspace = Workspace(db)

    found = admin.verify_chain(workspace)

    assert found is not None and found.problems == []
    _project, from_snapshot = workspace.app.load(CompoundProject.create_id("JM"), "JM")
    assert from_snapshot == INTERVAL  # the load started from it
    workspace.close()


def stored_snapshot(db: str) -> bytes:
    rows = sql(db, f"SELECT originator_version, state FROM {snapshots_table(db)} ORDER BY originator_version DESC")
    return bytes(rows[0][1])


def test_the_seal_is_checked_from_the_stored_bytes_as_from_the_state(
        db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A load hashes the stored bytes less the seal (no state encoded again): for a snapshot as the
    application writes it, the same hash as the state's."""
    from renovation.services import snapshots
    from renovation.services.snapshots import SEAL, state_hash, stored_state_hash

    app = with_a_snapshot(db)
    stored = stored_snapshot(db)
    state = json.loads(stored)["state"]
    assert app.snapshots is not None
    (snapshot,) = list(app.snapshots.get(app.get_project("JM").id, desc=True, limit=1))
    assert stored_state_hash(stored) == state[SEAL]["state"] == state_hash(app, snapshot.state)  # type: ignore[attr-defined]
    app.close()

    def encoded_again(*_args: object) -> str:
        raise AssertionError("the state was encoded again")

    monkeypatch.setattr(snapshots, "state_hash", encoded_again)
    workspace = Workspace(db)
    assert workspace.app.load(CompoundProject.create_id("JM"), "JM")[1] == INTERVAL
    workspace.close()


def test_a_snapshot_edited_in_the_applications_own_format_is_discarded(
        db: str, caplog: pytest.LogCaptureFixture) -> None:
    from renovation.services.snapshots import stored_state_hash

    app = with_a_snapshot(db)
    app.close()
    table = snapshots_table(db)
    version = sql(db, f"SELECT max(originator_version) FROM {table}")[0][0]
    data = json.loads(stored_snapshot(db))
    generous_bill(data)
    edited = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    sql(db, f"UPDATE {table} SET state = ? WHERE originator_version = ?", (edited, version))
    assert stored_state_hash(edited) is not None  # read as the application writes it: its hash is not the seal's
    fresh = open_app(db)

    with caplog.at_level(logging.WARNING), pytest.raises(errors.MeteringExceedsContract):
        fresh.measure("JM", "A1", "2021-05", Decimal("5000"), user="auditor")

    assert any("does not match its seal" in record.getMessage() for record in caplog.records)
    fresh.close()


def test_a_snapshot_written_otherwise_with_the_same_state_is_used(db: str, caplog: pytest.LogCaptureFixture) -> None:
    """Stored bytes not as the application writes them (spaces after the separators, say) are not read
    for the hash: the state is encoded again, and the seal holds."""
    app = with_a_snapshot(db)
    app.close()
    forge(db, lambda data: None)  # the same state, written by json.dumps's defaults
    workspace = Workspace(db)

    with caplog.at_level(logging.WARNING):
        _project, from_snapshot = workspace.app.load(CompoundProject.create_id("JM"), "JM")

    assert from_snapshot == INTERVAL
    assert not [record for record in caplog.records if "snapshot" in record.getMessage()]
    workspace.close()


def edit_stored(db: str, change: Any) -> None:
    """Edit the latest snapshot's stored bytes behind the application's back, keeping its own format."""
    table = snapshots_table(db)
    version = sql(db, f"SELECT max(originator_version) FROM {table}")[0][0]
    sql(db, f"UPDATE {table} SET state = ? WHERE originator_version = ?", (change(stored_snapshot(db)), version))


def unsealed_bill(stored: bytes) -> bytes:
    """A generous bill, and the seal's hash of the state taken out (the rest of the seal kept)."""
    import re

    data = json.loads(stored)
    generous_bill(data)
    edited = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return re.sub(rb',"state":"[0-9a-f]{64}"', b"", edited)


def test_a_snapshot_whose_seal_has_no_hash_of_its_state_is_discarded(
        db: str, caplog: pytest.LogCaptureFixture) -> None:
    app = with_a_snapshot(db)
    app.close()
    edit_stored(db, unsealed_bill)
    fresh = open_app(db)

    with caplog.at_level(logging.WARNING), pytest.raises(errors.MeteringExceedsContract):
        fresh.measure("JM", "A1", "2021-05", Decimal("5000"), user="auditor")

    assert any("does not match its seal" in record.getMessage() for record in caplog.records)
    fresh.close()


@pytest.mark.parametrize("where", ["row", "state"])
def test_a_snapshot_naming_another_class_is_discarded_without_importing_it(
        db: str, where: str, caplog: pytest.LogCaptureFixture) -> None:
    """Reading a snapshot of another class (the row's topic, or the state's) would import the module it
    names: it is discarded first, and ``audit verify`` names it."""
    import sys

    app = with_a_snapshot(db)
    app.close()
    table = snapshots_table(db)
    sys.modules.pop("this", None)
    if where == "row":
        sql(db, f"UPDATE {table} SET topic = 'this:s' WHERE originator_version = {INTERVAL}")
    else:
        edit_stored(db, lambda stored: stored.replace(b'"topic":"renovation.domain.compound:CompoundProject"',
                                                      b'"topic":"this:s"', 1))
    workspace = Workspace(db)

    with caplog.at_level(logging.WARNING):
        project, from_snapshot = workspace.app.load(CompoundProject.create_id("JM"), "JM")

    assert from_snapshot == 0 and project.version == INTERVAL  # replayed from its events
    assert "this" not in sys.modules
    assert any("another class" in record.getMessage() for record in caplog.records)
    found = admin.verify_chain(workspace)
    assert found is not None
    assert any(problem.kind == "snapshot" and "another class" in problem.detail for problem in found.problems)
    assert "this" not in sys.modules
    workspace.close()


@pytest.mark.parametrize("state", [b"[1]", b"not json", b"\xff\xfe", b"", b"[" * 990 + b"]" * 990,
                                   b'{"timestamp":1,"topic":"renovation.domain.compound:CompoundProject"}',
                                   b'{"timestamp":{"_type_":"nothing","_data_":"x"},"topic":"t","state":{}}'])
def test_a_snapshot_row_that_cannot_be_read_is_discarded_and_named(
        db: str, state: bytes, caplog: pytest.LogCaptureFixture) -> None:
    """A row the application did not write (not JSON, not an object, a value of no type it knows) is not
    a traceback for whoever loads the compound: it is discarded with a warning, the compound replayed
    from its events, and ``audit verify`` names it."""
    app = with_a_snapshot(db)
    app.close()
    table = snapshots_table(db)
    sql(db, f"UPDATE {table} SET state = ? WHERE originator_version = {INTERVAL}", (state,))
    workspace = Workspace(db)

    with caplog.at_level(logging.WARNING):
        project, from_snapshot = workspace.app.load(CompoundProject.create_id("JM"), "JM")

    assert from_snapshot == 0 and project.version == INTERVAL
    assert any("cannot be read" in record.getMessage() for record in caplog.records)
    found = admin.verify_chain(workspace)
    assert found is not None
    assert any(problem.kind == "snapshot" and "cannot be read" in problem.detail for problem in found.problems)
    workspace.close()


def stored_id(db: str, code: str) -> str:
    """A compound's id as its snapshots' table holds it (SQLite: hex digits; PostgreSQL: a uuid)."""
    found = CompoundProject.create_id(code)
    return str(found) if db.startswith("postgresql://") else found.hex


def snapshot_at(db: str, code: str, version: int) -> bytes:
    table = snapshots_table(db)
    rows = sql(db, f"SELECT state FROM {table} WHERE originator_id = ? AND originator_version = ?",
               (stored_id(db, code), version))
    return bytes(rows[0][0])


def transplant(db: str, source: bytes, code: str, version: int) -> None:
    """Another snapshot's bytes written into ``code``'s row at ``version``, with that row's chain link in
    its seal (no hash worked out)."""
    import re

    own = re.search(rb'"chain":"[0-9a-f]{64}"', snapshot_at(db, code, version))
    assert own is not None
    moved = re.sub(rb'"chain":"[0-9a-f]{64}"', own.group(0), source)
    sql(db, f"UPDATE {snapshots_table(db)} SET state = ? WHERE originator_id = ? AND originator_version = ?",
        (moved, stored_id(db, code), version))


@pytest.mark.parametrize("moved", ["another version", "another compound"])
def test_a_snapshot_moved_to_another_version_or_compound_is_discarded_and_named(
        db: str, moved: str, caplog: pytest.LogCaptureFixture) -> None:
    """The seal's hash is of the state alone: a snapshot copied to another row, with that row's chain link
    put in its seal, is found by its code (its compound) and its last change (the time of the event at its
    version)."""
    from datetime import timedelta

    from tests.integration.conftest import NOW

    app = with_a_snapshot(db)
    target = "JM"
    if moved == "another version":
        app.close()
        app = open_app(db, now=NOW + timedelta(hours=1))  # its later events recorded an hour later
        while app.get_project("JM").version < 2 * INTERVAL:
            app.record_inspection("JM", "patrol", user="sup")
        version = 2 * INTERVAL
    else:
        target, version = "HH", INTERVAL
        start_compound(app, "HH")
        while app.get_project("HH").version < INTERVAL:
            app.record_inspection("HH", "patrol", user="sup")
    app.close()
    transplant(db, snapshot_at(db, "JM", INTERVAL), target, version)
    workspace = Workspace(db)

    with caplog.at_level(logging.WARNING):
        project, from_snapshot = workspace.app.load(CompoundProject.create_id(target), target)

    assert from_snapshot == 0 and project.code == target and project.version == version
    assert any(f"of {moved}" in record.getMessage() for record in caplog.records)
    found = admin.verify_chain(workspace)
    assert found is not None
    assert any(problem.kind == "snapshot" and f"of {moved}" in problem.detail for problem in found.problems)
    workspace.close()

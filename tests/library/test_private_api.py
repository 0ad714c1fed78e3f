"""The parts of eventsourcing that are not its public API, which the store relies on: pinned here, so
that an upgrade of the library that changes one of them fails this one clear test, not a user's import
or write. Each is called (or overridden) only in ``renovation/store`` (checked below with ``ast``).

What they do for us:
- SQLite ``_insert_events(cursor, stored_events)``: inserts a save's events inside the recorder's
  transaction; ``ChainedSQLiteRecorder`` overrides it to write the chain links in the same
  transaction, and ``SQLiteBackend.appending`` calls it to import in one transaction; the aggregate
  recorder's (one statement run over all the events) inserts an import's batch.
- ``JSONTranscoder._encode_obj`` and ``types``: ``store.transcoding.light_encoder`` encodes a value of a
  type it does not know as the transcoder does (its error).
- PostgreSQL ``_insert_events``, ``_insert_stored_events``, ``_notify_channel`` and
  ``_fetch_ids_after_insert_events``: the steps of the library's insert, which
  ``ChainedPostgresRecorder.insert_events`` runs in one transaction that an error rolls back (the
  events go to the store's append function, which locks, inserts and links), and
  ``PostgresBackend.appending`` calls in one transaction; ``lock_table_statements``, whose first is the
  lock timeout (the append function takes the lock itself).
- ``Application._take_snapshots(processing_event)``: the step of ``save`` after the events are
  committed; ``services.writer.CompoundWriter`` overrides it so that no snapshot failure fails a
  command (the one override outside ``store``, allowed below).
- ``datastore.transaction(commit=...)`` and the recorders' ``events_table_name``, ``datastore.schema``,
  ``datastore.originator_id_type`` and ``sql_create_statements``.
- ``MetaDomainEvent.__new__``: ``domain.compound._Lean`` makes the compound's events as it does (a frozen
  dataclass with a signature) but for the methods ``values.FieldsCompared`` gives them all (pinned below by
  what each makes of the same class).
"""

from __future__ import annotations

import ast
import inspect
from importlib.metadata import version
from pathlib import Path

import pytest
from eventsourcing.application import Application
from eventsourcing.persistence import JSONTranscoder
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder, SQLiteDatastore

PACKAGE = Path(__file__).resolve().parents[2] / "renovation"

#: (class, method) -> its parameters as the store calls or overrides them.
PINNED = {
    (SQLiteApplicationRecorder, "_insert_events"): ["self", "c", "stored_events", "_"],
    (SQLiteAggregateRecorder, "_insert_events"): ["self", "c", "stored_events", "_"],
    (JSONTranscoder, "_encode_obj"): ["self", "o"],
    (PostgresApplicationRecorder, "_insert_stored_events"): ["self", "curs", "stored_events", "kwargs"],
    (PostgresApplicationRecorder, "_fetch_ids_after_insert_events"): ["self", "curs", "stored_events", "_"],
    (PostgresApplicationRecorder, "_insert_events"): ["self", "curs", "stored_events", "_"],
    (PostgresApplicationRecorder, "_notify_channel"): ["self", "curs"],
    (Application, "_take_snapshots"): ["self", "processing_event"],
    (SQLiteDatastore, "transaction"): ["self", "commit"],
    (PostgresDatastore, "transaction"): ["self", "commit"],
}
PRIVATE_NAMES = {name for _cls, name in PINNED if name.startswith("_")}


def test_the_library_is_the_version_these_pins_were_read_from() -> None:
    assert version("eventsourcing").startswith("9.5."), (
        "eventsourcing changed version: check each pinned method below against the new release, then update"
    )


@pytest.mark.parametrize(("owner", "name"), sorted(PINNED, key=lambda key: (key[0].__name__, key[1])),
                         ids=lambda value: getattr(value, "__name__", value))
def test_each_pinned_method_exists_with_the_parameters_the_store_uses(owner: type, name: str) -> None:
    method = getattr(owner, name, None)
    assert method is not None, f"{owner.__name__}.{name} is gone"
    assert list(inspect.signature(method).parameters) == PINNED[(owner, name)]


def test_the_recorders_keep_the_attributes_the_store_reads() -> None:
    for owner in (SQLiteApplicationRecorder, PostgresApplicationRecorder):
        assert "events_table_name" in inspect.signature(owner.__init__).parameters
    source = inspect.getsource(PostgresApplicationRecorder.__init__)
    assert "self.sql_create_statements" in inspect.getsource(PostgresApplicationRecorder)
    assert "events_table_name" in source
    assert "schema" in inspect.getsource(PostgresDatastore.__init__)
    assert "originator_id_type" in inspect.getsource(PostgresDatastore)
    # Our PostgreSQL insert runs every statement of the library's lock but the last, LOCK TABLE.
    statements = inspect.getsource(PostgresApplicationRecorder.__init__)
    assert statements.index("SET LOCAL lock_timeout") < statements.index("LOCK TABLE") > statements.index(
        "self.lock_table_statements = [")


#: Outside ``store``, the one module that may override a pinned method (the write path's snapshot step).
ALSO_ALLOWED = {("services/writer.py", "_take_snapshots")}


def private_calls() -> list[tuple[str, str]]:
    """(module, name) of every use of a pinned private name in the package, outside ``store``."""
    found = []
    for path in PACKAGE.rglob("*.py"):
        if path.relative_to(PACKAGE).parts[0] == "store":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "name", None)
            where = (str(path.relative_to(PACKAGE)), str(name))
            if name in PRIVATE_NAMES and where not in ALSO_ALLOWED:
                found.append(where)
    return found


def test_only_the_store_touches_the_librarys_private_methods() -> None:
    assert private_calls() == []


def test_the_store_does_use_them() -> None:
    """Not vacuous: the scan would find them where they are."""
    store = "".join(path.read_text(encoding="utf-8") for path in (PACKAGE / "store").glob("*.py"))
    store += (PACKAGE / "services" / "writer.py").read_text(encoding="utf-8")
    for name in PRIVATE_NAMES:
        assert f"._{name.lstrip('_')}(" in store or f"def {name}(" in store, name


def test_the_compounds_events_are_made_as_the_library_makes_its_events_but_for_three_methods() -> None:
    """What ``MetaDomainEvent.__new__`` makes of a class, ``_Lean`` makes too: the same attributes (but the
    three methods ``FieldsCompared`` gives, and the dataclass's parameters saying so), the same fields,
    signature and frozenness. A release of the library that makes its events otherwise fails here."""
    import dataclasses

    from eventsourcing.domain import DomainEvent

    from renovation.domain.compound import _Lean
    from renovation.domain.values import FieldsCompared

    namespace = {"__annotations__": {"kind": "str", "count": "int"}, "count": 0, "__module__": __name__}
    stock = type(DomainEvent)("Probe", (FieldsCompared, DomainEvent), dict(namespace))
    lean = _Lean("Probe", (FieldsCompared, DomainEvent), dict(namespace))

    assert set(vars(stock)) - {"__eq__", "__hash__", "__repr__"} == set(vars(lean))
    assert [(each.name, each.default) for each in dataclasses.fields(stock)] == \
        [(each.name, each.default) for each in dataclasses.fields(lean)]
    assert str(stock.__signature__) == str(lean.__signature__) == str(inspect.signature(lean.__init__))
    assert stock.__dataclass_params__.frozen and lean.__dataclass_params__.frozen
    assert {name for name in dir(lean.__dataclass_params__) if not name.startswith("_")} == \
        {name for name in dir(stock.__dataclass_params__) if not name.startswith("_")}

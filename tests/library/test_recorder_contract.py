"""eventsourcing's own recorder contract, run against the recorders the application is really built with.

The test cases of ``eventsourcing.tests.persistence`` (the ones the library runs on its own SQLite and
PostgreSQL recorders) are given recorders made the way ``RenovationApp`` makes them: the
``InfrastructureFactory`` constructed from the environment of ``renovation.store.open_backend(db)`` under
the application's name, inside ``Backend.prepared`` (which creates the ``?schema=`` on PostgreSQL).
So the application recorder is ``ChainedSQLiteRecorder`` / ``ChainedPostgresRecorder`` (writing a
hash-chain link with every event), the snapshot store's aggregate recorder is the library's own, and
the settings are the project's (SQLite lock timeout, PostgreSQL lock and idle timeouts, database
functions off, pool sizes left at the library's defaults).

SQLite: a database file in a temporary directory (the project never uses an in-memory database).
PostgreSQL: a schema of each test's own on ``RENOVATION_TEST_PG_URL``, dropped afterwards; skipped
with the reason when the server cannot be reached, failed under ``CI=true`` (``tests.backends``).

After every test on a chained recorder (the library's insert/select, performance, concurrent-writer and
non-interleaving cases included), the chain is verified: every stored event has its link and
``renovation.store.chain.verify`` finds no problem. None of the library's tests needed overriding: all pass
unchanged on the chained recorders, each in a few seconds at most.

Besides the library's ``AggregateRecorderTestCase`` (snapshot store), ``ApplicationRecorderTestCase``
(chained recorder), ``TrackingRecorderTestCase`` and ``ProcessRecorderTestCase`` (the library's own
recorders, which the factory provides unchanged; the project does not use them), this runs
``NonInterleavingNotificationIDsBaseCase`` on the chained recorders and, on PostgreSQL, the library's
``optional_test_insert_subscribe``, as the library does for its own recorders.
"""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar
from unittest import TestCase

from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    IntegrityError,
    ProcessRecorder,
    StoredEvent,
    TrackingRecorder,
)
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresProcessRecorder, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteProcessRecorder, SQLiteTrackingRecorder
from eventsourcing.tests import persistence as contract
from eventsourcing.utils import Environment

from renovation.services.application import RenovationApp
from renovation.store import open_backend, persistence_env
from renovation.store.backend import LOCK_TIMEOUT_SECONDS, Backend
from renovation.store.chain import ChainStore, verify
from renovation.store.postgres import ChainedPostgresRecorder
from renovation.store.sqlite import ChainedSQLiteRecorder
from tests.backends import drop_schema, pg_url, require_pg, with_schema

#: The environment name the application's factory reads its settings under (and, on PostgreSQL,
#: the prefix of its table names: renovation_events, renovation_snapshots).
APP_NAME = RenovationApp.name


if TYPE_CHECKING:  # the mixins below are only ever used together with a TestCase
    _Base = TestCase
else:
    _Base = object


def project_env(db: str) -> dict[str, str]:
    """What ``RenovationApp.construct_env`` puts together, less ``os.environ``: the project's
    persistence settings, with snapshotting on (the application sets ``snapshotting_intervals``)."""
    return {"IS_SNAPSHOTTING_ENABLED": "y", **persistence_env(db)}


def stored(originator_id: uuid.UUID | None = None, version: int = 1, topic: str = "topic") -> StoredEvent:
    return StoredEvent(originator_id=originator_id or uuid.uuid4(), originator_version=version, topic=topic,
                       state=b'{"a": 1}')


class ProjectStore(_Base):
    """A fresh store per test, and recorders made from it exactly as the application makes them.

    A mixin, not a TestCase (so not collected by itself): the concrete classes below put it before
    the library's test case, so that its ``setUp``/``tearDown`` wrap the library's."""

    backend: ClassVar[str]

    def setUp(self) -> None:
        super().setUp()
        self.factories: list[InfrastructureFactory[Any]] = []
        self.recorders: list[Any] = []
        self.backends: dict[int, Backend] = {}
        if self.backend == "sqlite":
            self.tmp = Path(tempfile.mkdtemp(prefix="renovation-contract-"))
            self.db = str(self.tmp / "renovation.db")
        else:
            require_pg()
            self.schema = f"contract_{uuid.uuid4().hex[:12]}"
            self.db = with_schema(pg_url(), self.schema)

    def tearDown(self) -> None:
        try:
            self.check_after_test()
        finally:
            for factory in self.factories:
                factory.close()
            for backend in self.backends.values():
                backend.close()
            if self.backend == "sqlite":
                shutil.rmtree(self.tmp, ignore_errors=True)
            else:
                drop_schema(self.schema)
            super().tearDown()

    def check_after_test(self) -> None:
        """Hook for the chained recorders' check."""

    def make(self, build: Any) -> Any:
        """Construct the factory from the project's environment and build a recorder with it, inside
        ``Backend.prepared`` as ``RenovationApp.__init__`` does (on PostgreSQL: schema created, DDL
        under the advisory lock, or skipped once the chain's tables exist)."""
        backend = open_backend(self.db)
        with backend.prepared() as env:
            factory = InfrastructureFactory.construct(Environment(APP_NAME, {**project_env(self.db), **env}))
            self.factories.append(factory)
            made = build(factory)
        backend.bind(made)
        self.backends[id(made)] = backend
        self.recorders.append(made)
        return made

    def chain(self, recorder: Any) -> ChainStore:
        """The chain of the store ``recorder`` writes to, read through the backend bound to it."""
        return ChainStore(self.backends[id(recorder)])


class ChainChecked(ProjectStore):
    """After each test (whatever the library's test did: inserts, failed inserts, concurrent writers),
    every event the chained recorders stored has a link and the chain verifies."""

    def check_after_test(self) -> None:
        for recorder in self.recorders:
            if isinstance(recorder, (ChainedSQLiteRecorder, ChainedPostgresRecorder)):
                self.assert_chain_intact(recorder)

    def assert_chain_intact(self, recorder: ApplicationRecorder) -> int:
        chain = self.chain(recorder)
        events = sum(1 for _ in chain.events())
        verified, problems = verify(chain)
        self.assertEqual(problems, [], "the chain no longer verifies")
        self.assertEqual(verified, events, "not every stored event has a verified link")
        return events

    def create_recorder(self) -> Any:
        recorder = self.make(lambda factory: factory.application_recorder())
        self.assertIsInstance(recorder, self.chained_class())
        return recorder

    def chained_class(self) -> type[ApplicationRecorder]:
        return ChainedSQLiteRecorder if self.backend == "sqlite" else ChainedPostgresRecorder


class ChainExtras(ChainChecked):
    """Beyond the library's cases, for the chained application recorders."""

    def test_chain_valid_after_insert_select(self) -> None:
        """The library's insert/select test (three events, a rejected duplicate) leaves a chain of
        exactly three links that verifies, the last at position 3."""
        self.test_insert_select()  # type: ignore[attr-defined]
        recorder = self.recorders[-1]
        self.assertEqual(self.assert_chain_intact(recorder), 3)
        chain = self.chain(recorder)
        self.assertEqual([position for position, _, _ in chain.links()], [1, 2, 3])
        head = chain.head()
        assert head is not None
        self.assertEqual(head[0], 3)

    def test_chain_check_is_not_vacuous(self) -> None:
        """The after-test check would notice: an event edited behind the recorder's back is reported."""
        recorder = self.create_recorder()
        originator = uuid.uuid4()
        recorder.insert_events([stored(originator, 1), stored(originator, 2)])
        self.tamper(recorder)
        _, problems = verify(self.chain(recorder))
        self.assertEqual([(problem.position, problem.kind) for problem in problems], [(2, "edited")])
        self.recorders.remove(recorder)  # tampered on purpose: not for the after-test check

    def tamper(self, recorder: Any) -> None:
        if self.backend == "sqlite":
            connection = sqlite3.connect(self.db)
            with connection:
                connection.execute(f"UPDATE {recorder.events_table_name} SET state = ? WHERE rowid = 2", (b"{}",))
            connection.close()
            return
        import psycopg
        from psycopg import sql

        with psycopg.connect(pg_url(), autocommit=True) as connection:
            connection.execute(
                sql.SQL("UPDATE {}.{} SET state = %s WHERE notification_id = 2").format(
                    sql.Identifier(self.schema), sql.Identifier(recorder.events_table_name)
                ),
                (b"{}",),
            )


class ConfigurationParity(ProjectStore):
    """The recorders these tests build are the application's: same classes, same tables."""

    def test_factory_builds_what_the_application_uses(self) -> None:
        app = RenovationApp(self.db)
        try:
            recorder = self.make(lambda factory: factory.application_recorder())
            snapshots = self.make(lambda factory: factory.aggregate_recorder("snapshots"))
            assert app.snapshots is not None
            self.assertIs(type(app.recorder), type(recorder))
            self.assertIs(type(app.snapshots.recorder), type(snapshots))
            self.assertEqual(app.recorder.events_table_name, recorder.events_table_name)  # type: ignore[attr-defined]
            self.assertEqual(
                app.snapshots.recorder.events_table_name, snapshots.events_table_name  # type: ignore[attr-defined]
            )
        finally:
            app.close()


class ProcessBypassesChain(ProjectStore):
    def test_stock_process_recorder_writes_no_link(self) -> None:
        """The stock process recorder writes to the application's events table but is not chained: on
        SQLite an event stored through it is reported as ``inserted`` (no link was written with it);
        PostgreSQL does not store it at all."""
        chained = self.make(lambda factory: factory.application_recorder())
        chained.insert_events([stored()])
        process = self.make(lambda factory: factory.process_recorder())
        self.assertEqual(process.events_table_name, chained.events_table_name)
        if self.backend == "sqlite":
            process.insert_events([stored()])
            _, problems = verify(self.chain(chained))
            self.assertEqual([problem.kind for problem in problems], ["inserted"])
            return
        # PostgreSQL refuses to commit an event without its link (a deferred constraint trigger).
        with self.assertRaisesRegex(IntegrityError, "has no chain link"):
            process.insert_events([stored()])
        self.assertEqual(verify(self.chain(chained)), (1, []))


# ================================================================== SQLite (a temporary file)
class SQLiteStore(ProjectStore):
    backend = "sqlite"


class TestSQLiteSnapshotRecorder(SQLiteStore, contract.AggregateRecorderTestCase):
    """The snapshot store's recorder: the library's ``SQLiteAggregateRecorder`` (``stored_snapshots``)."""

    def create_recorder(self) -> AggregateRecorder:
        recorder = self.make(lambda factory: factory.aggregate_recorder("snapshots"))
        self.assertIs(type(recorder), SQLiteAggregateRecorder)
        self.assertEqual(recorder.events_table_name, "stored_snapshots")
        return recorder


class TestChainedSQLiteRecorder(SQLiteStore, ChainExtras, contract.ApplicationRecorderTestCase):
    """``ChainedSQLiteRecorder`` from the factory (``stored_events`` + ``event_chain``), lock timeout 10 s.

    ``subscribe`` is not part of it: the library's SQLite recorder has none (NotImplementedError), and
    the library runs ``optional_test_insert_subscribe`` only on PostgreSQL."""

    def test_project_settings_reach_the_recorder(self) -> None:
        """A file database (never in-memory) with the project's lock timeout."""
        recorder = self.create_recorder()
        self.assertEqual(recorder.datastore.pool.db_name, self.db)
        self.assertEqual(recorder.datastore.pool.lock_timeout, LOCK_TIMEOUT_SECONDS)


class TestChainedSQLiteNonInterleaving(SQLiteStore, ChainChecked, contract.NonInterleavingNotificationIDsBaseCase):
    """Two writers racing 10,000 events each (as the library does on its SQLite file recorder): one
    batch's positions never interleave with the other's, and the chain both extended stays valid."""

    insert_num = 10000


class TestSQLiteTrackingRecorder(SQLiteStore, contract.TrackingRecorderTestCase):
    """The library's ``SQLiteTrackingRecorder``, as the factory provides it unchanged with the project's
    environment (no TRACKING_RECORDER_TOPIC). Not used by the project: its read models keep their
    positions in their own SQLAlchemy table, ``projection_tracking``."""

    def create_recorder(self) -> TrackingRecorder:
        recorder = self.make(lambda factory: factory.tracking_recorder())
        self.assertIs(type(recorder), SQLiteTrackingRecorder)
        return recorder


class TestSQLiteProcessRecorder(SQLiteStore, ProcessBypassesChain, contract.ProcessRecorderTestCase):
    """The library's ``SQLiteProcessRecorder``, as the factory provides it unchanged with the project's
    environment (no PROCESS_RECORDER_TOPIC). Not used by the project, and it must not be on an
    application's store: it writes the same events table without chain links
    (``test_stock_process_recorder_writes_no_link``)."""

    def create_recorder(self) -> ProcessRecorder:
        recorder = self.make(lambda factory: factory.process_recorder())
        self.assertIs(type(recorder), SQLiteProcessRecorder)
        return recorder


class TestSQLiteConfigurationParity(SQLiteStore, ConfigurationParity, TestCase):
    pass


# ================================================================== PostgreSQL (a schema of the test's own)
class PostgresStore(ProjectStore):
    backend = "postgres"


class TestPostgresSnapshotRecorder(PostgresStore, contract.AggregateRecorderTestCase):
    """The snapshot store's recorder: the library's ``PostgresAggregateRecorder`` (``renovation_snapshots``)."""

    def create_recorder(self) -> AggregateRecorder:
        recorder = self.make(lambda factory: factory.aggregate_recorder("snapshots"))
        self.assertIs(type(recorder), PostgresAggregateRecorder)
        self.assertEqual(recorder.events_table_name, "renovation_snapshots")
        self.assertEqual(recorder.datastore.schema, self.schema)
        return recorder


class TestChainedPostgresRecorder(PostgresStore, ChainExtras, contract.ApplicationRecorderTestCase):
    """``ChainedPostgresRecorder`` from the factory (``renovation_events`` + ``event_chain`` in the test's
    schema), database functions off (inserts go through the recorder's hook), EXCLUSIVE table lock with
    the project's 10 s lock timeout, pool at the library's defaults (5 + 10 overflow)."""

    def test_insert_subscribe(self) -> None:
        """The library's ``optional_test_insert_subscribe``, which it runs on its own PostgreSQL
        recorder: LISTEN/NOTIFY still wakes subscribers when the chained recorder inserts."""
        self.optional_test_insert_subscribe()

    def test_project_settings_reach_the_recorder(self) -> None:
        """What the chain relies on is configured: inserts go through the recorder (no database
        function), under the EXCLUSIVE table lock, with the project's lock timeout."""
        recorder = self.create_recorder()
        self.assertTrue(any("EXCLUSIVE" in str(statement) for statement in recorder.lock_table_statements))
        self.assertFalse(recorder.datastore.enable_db_functions)
        self.assertEqual(recorder.datastore.lock_timeout, LOCK_TIMEOUT_SECONDS)


class TestChainedPostgresNonInterleaving(
    PostgresStore, ChainChecked, contract.NonInterleavingNotificationIDsBaseCase
):
    """Two writers racing 1,000 events each (the library uses 100 on PostgreSQL): no interleaving,
    one valid chain."""

    insert_num = 1000


class TestPostgresTrackingRecorder(PostgresStore, contract.TrackingRecorderTestCase):
    """The library's ``PostgresTrackingRecorder`` (``renovation_tracking``), as the factory provides it
    unchanged with the project's environment. Not used by the project (see the SQLite case)."""

    def create_recorder(self) -> TrackingRecorder:
        recorder = self.make(lambda factory: factory.tracking_recorder())
        self.assertIs(type(recorder), PostgresTrackingRecorder)
        return recorder


class TestPostgresProcessRecorder(PostgresStore, ProcessBypassesChain, contract.ProcessRecorderTestCase):
    """The library's ``PostgresProcessRecorder``, as the factory provides it unchanged with the
    project's environment. Not used by the project, and not chained (see the SQLite case)."""

    def create_recorder(self) -> ProcessRecorder:
        recorder = self.make(lambda factory: factory.process_recorder())
        self.assertIs(type(recorder), PostgresProcessRecorder)
        return recorder


class TestPostgresConfigurationParity(PostgresStore, ConfigurationParity, TestCase):
    pass

"""The PostgreSQL backend and its chained recorder (see ``renovation.store.chain``); kept apart so that
SQLite users never import psycopg.

Its events table has one column more than the library's: ``recorded_by text DEFAULT session_user``,
the database login that wrote the row (never written by the application, so the server fills it in).
Stores created before that column existed get it from ``renovation db roles --apply``; their older
rows keep NULL (unknown), never a guess. ``user_mismatches`` is the check ``audit verify`` runs with it.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    ProgrammingError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg import sql
from psycopg.sql import SQL, Identifier, Literal

from renovation.store.backend import (
    DDL_LOCK,
    LOCK_TIMEOUT_SECONDS,
    Append,
    Backend,
    BadDatabaseURL,
)
from renovation.store.chain import (
    CHAIN_TABLE,
    LOGINS_TABLE,
    META_TABLE,
    ROLES_APPLIED_KEY,
    TIME_ZONE_KEY,
    Problem,
    describe,
)
from renovation.store.photos import PHOTO_COLUMNS, PHOTOS_TABLE, Photo
from renovation.store.timeorder import RecordedOutOfOrder

if TYPE_CHECKING:
    from psycopg.sql import Composed
    from sqlalchemy import Connection, Engine

#: The events table's column that holds the database login (``session_user``) of each event.
RECORDED_BY = "recorded_by"


class ChainedPostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        self.sql_create_statements.extend(recorded_by_statements(self.datastore.schema, events_table_name))
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {}.{} (position bigint PRIMARY KEY, previous bigint NOT NULL, "
                "hash text NOT NULL)"
            ).format(schema, Identifier(CHAIN_TABLE))
        )
        self.sql_create_statements.extend(require_link_statements(self.datastore.schema, events_table_name))
        self.sql_create_statements.append(
            SQL("CREATE TABLE IF NOT EXISTS {}.{} (" + PHOTO_COLUMNS.format(binary="bytea") + ")").format(
                schema, Identifier(PHOTOS_TABLE))
        )
        # Last: once this table exists the store is complete (PostgresBackend.prepared).
        self.sql_create_statements.append(
            SQL("CREATE TABLE IF NOT EXISTS {}.{} (key text PRIMARY KEY, value text NOT NULL)").format(
                schema, Identifier(META_TABLE)
            )
        )
        self.sql_create_statements[-1:-1] = append_function_statements(self.datastore.schema, events_table_name)
        self._append = SQL("SELECT {}.{}(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) AS ids").format(
            schema, Identifier(APPEND_FUNCTION)
        )

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        """As the library's, but an error raised on the way rolls the transaction back: the library's
        pipelined version commits what it inserted before it re-raises, which would store events whose
        command then reports a failure."""
        if not stored_events:
            return None
        with out_of_order_raised(), self.datastore.get_connection() as connection, connection.transaction(), \
                connection.cursor() as cursor:
            self._insert_events(cursor, stored_events, **kwargs)
            self._insert_stored_events(cursor, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(cursor, stored_events, **kwargs)

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        """Append through the store's one way in, :data:`APPEND_FUNCTION` (see
        :func:`append_function_statements`): it takes the events table's lock, checks the recording
        times (and, once ``db roles --apply`` has made it its guarded self, who may record what), inserts
        the events and writes their links. Events go as four arrays of plain values, which psycopg
        writes in C."""
        for statement in self.lock_table_statements[:-1]:  # the lock timeout; the function locks
            curs.execute(statement, prepare=True)
        self._notify_channel(curs)
        curs.execute(self._append, (
            [event.originator_id for event in stored_events],
            [event.originator_version for event in stored_events],
            [event.topic for event in stored_events],
            [event.state for event in stored_events],
        ))

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        row = curs.fetchone()
        ids = list(row["ids"]) if row and row["ids"] is not None else []
        if len(ids) != len(stored_events):
            raise ProgrammingError(f"appended {len(ids)} events of {len(stored_events)}")
        return ids


@contextmanager
def out_of_order_raised() -> Iterator[None]:
    """The append function's refusal of an event recorded too early as :class:`RecordedOutOfOrder`
    (which the writer answers by running its command again)."""
    try:
        yield
    except IntegrityError as error:  # the library's translation of psycopg's (class 23), its cause kept
        if getattr(error.__cause__, "sqlstate", None) == OUT_OF_ORDER:
            raise RecordedOutOfOrder(str(error.__cause__).splitlines()[0]) from error
        raise


#: The application's tables (eventsourcing names them after the application, "renovation").
EVENTS_TABLE = "renovation_events"
#: The constraint trigger that refuses to commit an event without its chain link.
REQUIRE_LINK_TRIGGER = "renovation_requires_link"
REQUIRE_LINK_FUNCTION = "renovation_require_link"


#: The guarded append function's refusal of a version that does not follow its compound's last (see below).
_NOT_FOLLOWING = re.compile(r"version \d+ of aggregate [0-9a-f-]{36} does not follow its last, \d+")


def require_link_statements(schema: str, events_table: str) -> list[Composed]:
    """A deferred constraint trigger: at COMMIT, every event inserted in the transaction must have its
    link in the chain, or the whole transaction fails. The library commits what its pipeline inserted
    before it re-raises an error raised meanwhile (in working out the links, say); with this, such a
    commit fails instead of storing an event without its link."""
    s = Identifier(schema)
    function = SQL("{}.{}").format(s, Identifier(REQUIRE_LINK_FUNCTION))
    table = SQL("{}.{}").format(s, Identifier(events_table))
    chain = SQL("{}.{}").format(s, Identifier(CHAIN_TABLE))
    body = SQL(
        "BEGIN IF NOT EXISTS (SELECT FROM {} WHERE position = NEW.notification_id) THEN RAISE EXCEPTION "
        "'event % (version % of %) has no chain link: not stored', NEW.notification_id, NEW.originator_version, "
        "NEW.originator_id USING ERRCODE = 'integrity_constraint_violation'; END IF; RETURN NULL; END"
    ).format(chain).as_string()
    create = SQL(
        "CREATE CONSTRAINT TRIGGER {} AFTER INSERT ON {} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
        "EXECUTE FUNCTION {}()"
    ).format(Identifier(REQUIRE_LINK_TRIGGER), table, function).as_string()
    guard = SQL(
        "BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_trigger WHERE tgname = {} AND tgrelid = {}::regclass) "
        "THEN {}; END IF; END"
    ).format(Literal(REQUIRE_LINK_TRIGGER), Literal(table.as_string()), SQL(create)).as_string()
    return [
        SQL("CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS ").format(function)
        + SQL(dollar_quoted(body)),
        SQL("DO ") + SQL(dollar_quoted(guard)),
    ]


#: ``db roles --apply``: the log's last position, for logins that may not read the log.
HEAD_FUNCTION = "renovation_log_head"
#: The store's one way in for events (see :func:`append_function_statements`).
APPEND_FUNCTION = "renovation_append"
#: ``db roles --apply``: which application role may record which kind of event (by topic).
KINDS_TABLE = "event_kinds"
#: ``db roles --apply``: each registered compound's code and aggregate, kept by the append function.
CODES_TABLE = "compound_codes"
#: The kind of event that begins a compound (version 1, and only version 1).
REGISTERED_TOPIC = "renovation.domain.compound:CompoundProject.Registered"
#: The class a registration makes (its state's ``originator_topic``, which the library imports to make it).
COMPOUND_CLASS_TOPIC = "renovation.domain.compound:CompoundProject"
#: The SQLSTATE the append function raises for an event recorded before the latest stored one (class
#: 23, integrity: psycopg raises IntegrityError); the writer runs its command again (RecordedOutOfOrder).
OUT_OF_ORDER = "23R01"


def append_function_statements(schema: str, events_table: str, *, guarded: bool = False) -> list[Composed]:
    """``renovation_append(ids, versions, topics, states)``: under the events table's EXCLUSIVE lock,
    refuse an event that carries a command id and is recorded before the latest stored event (see
    ``renovation.store.timeorder``), insert the events, write each one's link (the same SHA-256 as
    :func:`renovation.store.chain.link`, worked out here so that nobody supplies one) and return
    their positions.

    ``guarded`` is the version ``db roles --apply`` installs: SECURITY DEFINER (it runs with its
    owner's privileges; writers may call it and insert nothing themselves), and it also refuses,
    with SQLSTATE 42501, an event whose payload ``user`` is not the person whose login calls it, or
    whose kind that person's role may not record (the :data:`KINDS_TABLE`), or whose state holds other
    fields than its kind's (as the tracker that applied the roles writes them), or without a command id
    and a recording time, or recorded after the server's clock (an event dated ahead would hold up
    every later writer); a login that is not a person's may append only if it is a superuser (an
    import, the demo: they may carry older events as recorded)."""
    s = Identifier(schema)
    events = SQL("{}.{}").format(s, Identifier(events_table)).as_string()
    chain = SQL("{}.{}").format(s, Identifier(CHAIN_TABLE)).as_string()
    logins = SQL("{}.{}").format(s, Identifier(LOGINS_TABLE)).as_string()
    kinds = SQL("{}.{}").format(s, Identifier(KINDS_TABLE)).as_string()
    function = SQL("{}.{}").format(s, Identifier(APPEND_FUNCTION))
    codes = SQL("{}.{}").format(s, Identifier(CODES_TABLE)).as_string()
    who = ""
    check = ""
    shape = ""
    fields = ""
    if guarded:
        # Each event follows its compound's last (within the call too), a compound begins with its
        # registration and only there, a registration makes the compound's class, and a code is registered
        # once: what the application's load, the boards and the directory rely on, and what no crafted call
        # may break for others.
        shape = (
            "last := (seen->>p_ids[i]::text)::bigint; "
            f"IF last IS NULL THEN SELECT max(originator_version) INTO last FROM {events} "
            "WHERE originator_id = p_ids[i]; last := coalesce(last, 0); END IF; "
            "IF p_versions[i] IS DISTINCT FROM last + 1 THEN RAISE EXCEPTION "
            "'version % of aggregate % does not follow its last, %', p_versions[i], p_ids[i], last "
            "USING ERRCODE = 'insufficient_privilege'; END IF; "
            "seen := seen || jsonb_build_object(p_ids[i]::text, p_versions[i]); "
            f"IF (p_versions[i] = 1) IS DISTINCT FROM (p_topics[i] = '{REGISTERED_TOPIC}') THEN RAISE EXCEPTION "
            "'a compound begins with its registration, and only there (aggregate %, version %)', p_ids[i], "
            "p_versions[i] USING ERRCODE = 'insufficient_privilege'; END IF; "
            # A code as the application writes one (renovation.domain.values.CODE_PATTERN, upper case).
            "IF p_versions[i] = 1 AND (jsonb_typeof(doc->'code') IS DISTINCT FROM 'string' "
            "OR (doc->>'code') !~ '^[A-Z0-9][A-Z0-9-]{0,15}$') THEN RAISE EXCEPTION "
            "'% is not a compound code as the application writes one', doc->>'code' "
            "USING ERRCODE = 'insufficient_privilege'; END IF; "
            # The class the library makes of a registration: the compound's, as the application reads it.
            f"IF p_versions[i] = 1 AND (doc->>'originator_topic') IS DISTINCT FROM '{COMPOUND_CLASS_TOPIC}' THEN "
            "RAISE EXCEPTION 'the registration of % names another class than the compound''s (originator_topic)', "
            "doc->>'code' USING ERRCODE = 'insufficient_privilege'; END IF; "
            f"IF p_versions[i] = 1 THEN IF EXISTS (SELECT FROM {codes} WHERE code = upper(doc->>'code')) "
            "OR doc->>'code' IS NULL THEN RAISE EXCEPTION 'compound % is registered already', doc->>'code' "
            f"USING ERRCODE = 'insufficient_privilege'; END IF; INSERT INTO {codes} (code, originator_id) "
            "VALUES (upper(doc->>'code'), p_ids[i]); END IF; "
        )
        who = (
            f"SELECT app_user, app_role INTO person, person_role FROM {logins} WHERE login_role = session_user::text; "
            "IF NOT FOUND AND NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = session_user) THEN "
            "RAISE EXCEPTION 'the login % is not a person''s (renovation.toml [users]): it may record nothing', "
            "session_user USING ERRCODE = 'insufficient_privilege'; END IF; "
        )
        check = (
            "IF person IS NOT NULL THEN "
            "IF NOT coalesce(commanded, false) OR recorded IS NULL THEN RAISE EXCEPTION "
            "'% may record only events of a command, with their recording time', session_user "
            "USING ERRCODE = 'insufficient_privilege'; END IF; "
            # The application records at the server's clock: an event dated later would hold up every
            # honest writer after it (none may record before the latest event).
            "IF recorded > clock_timestamp() + interval '1 minute' THEN RAISE EXCEPTION "
            "'recorded at %, after the server''s clock (%)', recorded, clock_timestamp() "
            "USING ERRCODE = 'insufficient_privilege'; END IF; "
            "IF doc->>'user' IS DISTINCT FROM person THEN RAISE EXCEPTION "
            "'% may record only as %, not as % (the login of %)', session_user, person, doc->>'user', person "
            "USING ERRCODE = 'insufficient_privilege'; END IF; "
            f"IF NOT EXISTS (SELECT FROM {kinds} WHERE topic = p_topics[i] AND app_role = person_role) THEN "
            "RAISE EXCEPTION 'a % may not record %', person_role, split_part(p_topics[i], '.', -1) "
            "USING ERRCODE = 'insufficient_privilege'; END IF; END IF; "
        )
        # A person's event holds its kind's fields, no more and no fewer (as the tracker that applied the
        # roles writes them): a field the library would set on the event object (``mutate``, ``topic``) makes
        # its compound unreadable. Checked after its compound's order, which a lost race is told by.
        fields = (
            "IF person IS NOT NULL AND (CASE WHEN jsonb_typeof(doc) = 'object' THEN (SELECT array_agg(k ORDER BY "
            "k COLLATE \"C\") FROM jsonb_object_keys(doc) AS k) END) IS DISTINCT FROM (SELECT fields FROM "
            f"{kinds} WHERE topic = p_topics[i] AND app_role = person_role) THEN RAISE EXCEPTION "
            "'an event holds other fields than its kind, %, does as the tracker that applied the roles writes it "
            "(a tracker of another version: a superuser runs renovation db roles --apply with this one)', "
            "split_part(p_topics[i], '.', -1) USING ERRCODE = 'insufficient_privilege'; END IF; "
        )
    if guarded:  # an event must be JSON: its user, time and command id are read from it
        # Its time is read twice, as the log's order reads it (the first "timestamp" in the bytes) and as
        # the application decodes it (the last): a state that says two times, or a time without its
        # offset, is refused.
        read = ("doc := convert_from(p_states[i], 'UTF8')::jsonb; "
                "IF (doc #>> '{timestamp,_data_}') !~ '[+-][0-9][0-9]:[0-9][0-9]$' OR "
                f"{recorded_time_sql('p_states[i]')} IS DISTINCT FROM (doc #>> '{{timestamp,_data_}}')::timestamptz "
                "THEN RAISE EXCEPTION 'event %: its recording time is not one time with its offset', i "
                "USING ERRCODE = 'insufficient_privilege'; END IF; "
                "recorded := (doc #>> '{timestamp,_data_}')::timestamptz; "
                "commanded := jsonb_typeof(doc->'command_id') = 'string'; ")
    else:
        read = (f"recorded := {recorded_time_sql('p_states[i]')}; "
                "commanded := encode(p_states[i], 'escape') ~ '\"command_id\":\\s*\"'; ")
    body = (
        "DECLARE ids bigint[]; last_position bigint; last_hash text; latest timestamptz; recorded timestamptz; "
        "commanded boolean; doc jsonb; n int := coalesce(array_length(p_ids, 1), 0); person text; "
        "person_role text; last bigint; seen jsonb := '{}'; BEGIN "
        "IF n = 0 THEN RETURN '{}'::bigint[]; END IF; "
        f"LOCK TABLE {events} IN EXCLUSIVE MODE; {who}"
        f"SELECT {recorded_time_sql('state')} INTO latest FROM {events} ORDER BY notification_id DESC LIMIT 1; "
        f"FOR i IN 1 .. n LOOP {read}{check}{shape}{fields}"
        "IF recorded IS NOT NULL THEN "
        "IF latest IS NOT NULL AND recorded < latest AND commanded THEN "
        "RAISE EXCEPTION 'recorded at %, before the latest stored event (%)', recorded, latest "
        f"USING ERRCODE = '{OUT_OF_ORDER}'; END IF; "
        "IF latest IS NULL OR recorded > latest THEN latest := recorded; END IF; END IF; END LOOP; "
        f"WITH inserted AS (INSERT INTO {events} (originator_id, originator_version, topic, state) "
        "SELECT * FROM unnest(p_ids, p_versions, p_topics, p_states) RETURNING notification_id) "
        "SELECT array_agg(notification_id ORDER BY notification_id) INTO ids FROM inserted; "
        f"SELECT position, hash INTO last_position, last_hash FROM {chain} ORDER BY position DESC LIMIT 1; "
        "last_position := coalesce(last_position, 0); last_hash := coalesce(last_hash, repeat('0', 64)); "
        "FOR i IN 1 .. n LOOP "
        "last_hash := encode(sha256(convert_to(last_hash || chr(31) || ids[i]::text || chr(31) || p_ids[i]::text "
        "|| chr(31) || p_versions[i]::text || chr(31) || p_topics[i] || chr(31), 'UTF8') || p_states[i]), 'hex'); "
        f"INSERT INTO {chain} (position, previous, hash) VALUES (ids[i], last_position, last_hash); "
        "last_position := ids[i]; END LOOP; RETURN ids; END"
    )
    definer = " SECURITY DEFINER SET search_path = pg_catalog, pg_temp" if guarded else ""
    return [
        SQL("CREATE OR REPLACE FUNCTION {}(p_ids uuid[], p_versions bigint[], p_topics text[], p_states bytea[]) "
            "RETURNS bigint[] LANGUAGE plpgsql" + definer + " AS ").format(function)
        + SQL(dollar_quoted(body)),
    ]


#: How the application begins an event's state: its recording time, whose text follows (see
#: ``renovation.store.timeorder``).
STATE_START = '{"timestamp":{"_type_":"datetime_iso","_data_":"'


def recorded_time_sql(state: str) -> str:
    """SQL for the recording time in the stored state ``state`` (an expression of type bytea): the first
    "timestamp" in its bytes as the application writes one, however spaced (the pattern of
    ``renovation.store.timeorder``); NULL for a state without one (as there, taken as recorded).

    The pattern's search costs about 30 microseconds a row (PostgreSQL's regular expressions with a
    capture); a state that begins as the application writes it (``STATE_START``, a time, ``"}``) is read
    from where its time is, which is what the search finds there (nothing can match before it)."""
    pattern = ('\"timestamp\":\\s*\\{\\s*\"_type_\":\\s*\"datetime_iso\",\\s*\"_data_\":\\s*\"'
               '(\\d{4}-\\d\\d-\\d\\dT[0-9:.]+([+-]\\d\\d:\\d\\d)?)\"\\s*\\}')
    start = len(STATE_START)
    text = f"split_part(encode(substring({state} from {start + 1} for 48), 'escape'), '\"', 1)"
    return (f"(CASE WHEN substring({state} from 1 for {start}) = '\\x{STATE_START.encode().hex()}'::bytea "
            f"AND {text} ~ '^\\d{{4}}-\\d\\d-\\d\\dT[0-9:.]+(?:[+-]\\d\\d:\\d\\d)?$' "
            f"AND substring({state} from {start + 1} + length({text}) for 2) = '\\x227d'::bytea "
            f"THEN {text} ELSE substring(encode({state}, 'escape') from '{pattern}') END)::timestamptz")


def dollar_quoted(body: str, tag: str = "body") -> str:
    """``body`` between dollar quotes whose tag does not occur in it."""
    n = 0
    quote = f"${tag}$"
    while quote in body:
        n += 1
        quote = f"${tag}{n}$"
    return f"{quote}{body}{quote}"


def recorded_by_statements(schema: str, events_table: str) -> list[Composed]:
    """Add ``recorded_by`` to the events table: first without a default, so that rows already stored
    stay NULL (a default added with the column would be stamped on every old row as if the person
    running this had written them), then ``DEFAULT session_user`` for every row from now on."""
    table = SQL("{}.{}").format(Identifier(schema), Identifier(events_table))
    column = Identifier(RECORDED_BY)
    return [
        SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} text").format(table, column),
        SQL("ALTER TABLE {} ALTER COLUMN {} SET DEFAULT session_user").format(table, column),
    ]


def user_mismatches(recorder: Any, batch: int = 5000) -> list[Problem]:
    """Events written through a person's own login (``recorded_by`` is in the logins table) whose
    payload ``user`` is somebody else — only after the position at which the roles were applied
    (before that everyone wrote through a shared or superuser login, and nothing can be told)."""
    schema = Identifier(recorder.datastore.schema)
    events = SQL("{}.{}").format(schema, Identifier(recorder.events_table_name))
    logins = SQL("{}.{}").format(schema, Identifier(LOGINS_TABLE))
    qualified = f'"{recorder.datastore.schema}"."{LOGINS_TABLE}"'
    problems: list[Problem] = []
    with recorder.datastore.transaction(commit=False) as curs:
        curs.execute(
            SQL("SELECT value FROM {}.{} WHERE key = %s").format(schema, Identifier(META_TABLE)), (ROLES_APPLIED_KEY,)
        )
        row = curs.fetchone()
        if row is None:
            return []  # roles never applied
        curs.execute(
            "SELECT to_regclass(%s) IS NOT NULL AS logins, EXISTS (SELECT FROM pg_attribute WHERE attrelid = "
            "to_regclass(%s) AND attname = %s AND NOT attisdropped) AS column",
            (qualified, f'"{recorder.datastore.schema}"."{recorder.events_table_name}"', RECORDED_BY),
        )
        found = curs.fetchone()
        if not found or not found["logins"] or not found["column"]:
            return []
        after = int(row["value"])
        select = SQL(
            "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, e.state, e.{} AS login, "
            "l.app_user FROM {} e JOIN {} l ON l.login_role = e.{} WHERE e.notification_id > %s "
            "ORDER BY e.notification_id LIMIT %s"
        ).format(Identifier(RECORDED_BY), events, logins, Identifier(RECORDED_BY))
        while True:
            curs.execute(select, (after, batch))
            rows = curs.fetchall()
            for event in rows:
                user = payload_user(event["state"])
                if user != event["app_user"]:
                    problems.append(
                        Problem(
                            int(event["notification_id"]),
                            "user_mismatch",
                            f"recorded as user {user!r} through the database login {event['login']!r} of "
                            f"{event['app_user']!r}: "
                            + describe(event["originator_id"], event["originator_version"], event["topic"]),
                        )
                    )
            if len(rows) < batch:
                return problems
            after = int(rows[-1]["notification_id"])


def payload_user(state: Any) -> str | None:
    """The application user recorded in an event's JSON, or None if it has none (or is not JSON)."""
    try:
        data = json.loads(bytes(state))
    except (ValueError, TypeError):
        return None
    user = data.get("user") if isinstance(data, dict) else None
    return user if isinstance(user, str) else None


#: The last table the application creates: once it exists, so do the others.
CHAIN_CHECK_TABLE = META_TABLE
#: Most events written by one statement: eventsourcing's pipelined insert of a few thousand events hung
#: the connection (psycopg 3.3 here); ``appending`` writes larger batches in chunks of one transaction.
MAX_SAVE_EVENTS = 1000


#: A ``?schema=`` the tracker accepts: a plain identifier PostgreSQL keeps whole (it cuts names at 63 bytes).
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")  # lower case: PostgreSQL folds unquoted names


def postgres_env(url: str, timeout: str) -> dict[str, str]:
    try:
        parts = urlsplit(url)
        parts.hostname  # noqa: B018  (a malformed host, "[::1" say, is found when it is read)
    except ValueError as error:
        raise BadDatabaseURL(f"{url!r}: {error}") from None
    dbname = unquote(parts.path.lstrip("/"))
    if not dbname:
        raise BadDatabaseURL(f"database name missing in {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise BadDatabaseURL(f"bad port in {url!r}") from None
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "APPLICATION_RECORDER_TOPIC": "renovation.store.postgres:ChainedPostgresRecorder",
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",  # inserts go through the chained recorder's hook
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": parts.hostname or "localhost",
        "POSTGRES_PORT": str(port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_LOCK_TIMEOUT": timeout,
        "POSTGRES_CONNECT_TIMEOUT": "5",
        "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": timeout,
        # One connection kept open (the library's default opens five at once): a command runs one thing
        # at a time, and forty people's commands must not take a server's hundred connection slots. A
        # long-running process serving many may set POSTGRES_POOL_SIZE.
        "POSTGRES_POOL_SIZE": os.environ.get("POSTGRES_POOL_SIZE", "1"),
    }
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"schema"})
    if unknown:  # sslmode and the like would be dropped without a word: refused instead
        raise BadDatabaseURL(f"{url!r}: the tracker reads only ?schema=, not {', '.join(unknown)}")
    schema = query.get("schema")
    if schema is not None:
        if len(schema) > 1 or not SCHEMA_NAME.fullmatch(schema[0]) or schema[0].startswith("pg_"):
            raise BadDatabaseURL(f"?schema={schema[0]!r}: one schema, 1-63 lower-case letters, digits or _, not "
                                 "starting with a digit or pg_")
        env["POSTGRES_SCHEMA"] = schema[0]
    return env


class PostgresBackend(Backend):
    kind = "postgres"
    marker: ClassVar[str] = "%s"
    position_column: ClassVar[str] = "notification_id"
    writers_at_once: ClassVar[bool] = True

    def __init__(self, db: str, env: dict[str, str]) -> None:
        super().__init__(db, env)
        self._side_connection: psycopg.Connection[Any] | None = None
        self._privileges: dict[tuple[str, str], bool] = {}

    @property
    def schema(self) -> str:
        return self.env.get("POSTGRES_SCHEMA") or "public"

    def qualified(self, table: str) -> str:
        return f'"{self.schema}"."{table}"'

    def exists(self) -> bool:
        """Whether the schema holds a store (its events table); a server that cannot be reached says
        so when the store is opened."""
        try:
            row = self._side().execute("SELECT to_regclass(%s) IS NOT NULL", (self.qualified(EVENTS_TABLE),)).fetchone()
        except (psycopg.Error, OperationalError):
            self._drop_side()
            return True  # let the opening say what is wrong
        return bool(row and row[0])

    def peek_zone(self) -> str | None:
        try:
            table = SQL("{}.{}").format(Identifier(self.schema), Identifier(META_TABLE))
            row = self._side().execute(SQL("SELECT value FROM {} WHERE key = %s").format(table),
                                       (TIME_ZONE_KEY,)).fetchone()
        except (psycopg.Error, OperationalError):
            self._drop_side()
            return None
        return str(row[0]) if row else None

    def originator_param(self, aggregate_id: UUID) -> Any:
        return aggregate_id

    def _side(self) -> psycopg.Connection[Any]:
        """The backend's own connection (autocommit): the checks before the store opens and its DDL lock
        (closed when the store is open), then the writers' lock (kept for the command's length)."""
        if self._side_connection is None or self._side_connection.closed:
            seconds = self.env.get("POSTGRES_LOCK_TIMEOUT", str(LOCK_TIMEOUT_SECONDS))
            self._side_connection = self.connect(options=f"-c lock_timeout={seconds}s")
        return self._side_connection

    def _drop_side(self) -> None:
        """Forget a side connection that failed (its session locks, if any, went with it)."""
        if self._side_connection is not None:
            with contextlib.suppress(psycopg.Error):
                self._side_connection.close()
            self._side_connection = None

    def connect(self, *, options: str | None = None) -> psycopg.Connection[Any]:
        """A connection of its own (autocommit) as the URL's user; OperationalError if it cannot."""
        env = self.env
        try:
            return psycopg.connect(
                dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"], port=env["POSTGRES_PORT"],
                user=env["POSTGRES_USER"], password=env["POSTGRES_PASSWORD"],
                connect_timeout=int(env["POSTGRES_CONNECT_TIMEOUT"]), autocommit=True, options=options,
            )
        except psycopg.Error as error:
            raise OperationalError(error) from error

    @contextmanager
    def prepared(self) -> Iterator[dict[str, str]]:
        """Create the ``?schema=`` schema if missing and, while the tables do not exist yet, hold an
        advisory lock so that processes starting together do not run the same DDL at once (PostgreSQL
        refuses concurrent DDL on one catalogue row); once they exist, skip the DDL."""
        connection = self._side()
        try:
            found = connection.execute(
                "SELECT to_regclass(%s) IS NOT NULL", (self.qualified(CHAIN_CHECK_TABLE),)
            ).fetchone()
            if found and found[0]:
                self._require_links(connection)
                yield {**self.env, "CREATE_TABLE": "n"}
                return
            connection.execute("SELECT pg_advisory_lock(%s)", (DDL_LOCK,))
            try:
                connection.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
                yield self.env
            finally:
                connection.execute("SELECT pg_advisory_unlock(%s)", (DDL_LOCK,))
        finally:
            # Closed once the store is open (the application has its own connection now); a writer's
            # lock opens it again: a command holds at most two of the server's connections at once.
            self._drop_side()

    def _require_links(self, connection: psycopg.Connection[Any]) -> None:
        """A store made before the link trigger or the append function existed gets them from the first
        login that may create them (the tables' owner; ``db roles --apply`` adds them too); a writer's
        login leaves them for them."""
        events = self.qualified(EVENTS_TABLE)
        found = connection.execute(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_trigger WHERE tgname = %s AND tgrelid = to_regclass(%s)), "
            "to_regprocedure(%s) IS NOT NULL",
            (REQUIRE_LINK_TRIGGER, events, self._append_signature()),
        ).fetchone()
        if found and found[0] and found[1]:
            return
        statements = [] if found and found[0] else require_link_statements(self.schema, EVENTS_TABLE)
        if not (found and found[1]):
            statements += append_function_statements(self.schema, EVENTS_TABLE)
        try:
            connection.execute("SELECT pg_advisory_lock(%s)", (DDL_LOCK,))
        except psycopg.errors.InsufficientPrivilege:
            return  # a contractor's login, after db roles --apply: it makes nothing
        try:
            with connection.transaction():
                for statement in statements:
                    connection.execute(statement)
        except psycopg.errors.InsufficientPrivilege:
            pass
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (DDL_LOCK,))

    def _append_signature(self) -> str:
        return f"{self.qualified(APPEND_FUNCTION)}(uuid[], bigint[], text[], bytea[])"

    @contextmanager
    def writer_lock(self, code: str) -> Iterator[None]:
        """One writer per compound from load to save: an advisory lock, on a connection of its own whose
        waits obey the lock timeout."""
        connection = self._side()
        key = f"renovation:{self.schema}:{code}"
        try:
            connection.execute("SELECT pg_advisory_lock(hashtext(%s))", (key,))
        except psycopg.errors.LockNotAvailable:
            raise OperationalError("database is busy: another writer holds the compound (lock timeout)") from None
        except psycopg.Error as error:
            raise OperationalError(error) from error
        try:
            yield
        finally:
            try:
                connection.execute("SELECT pg_advisory_unlock(hashtext(%s))", (key,))
            except psycopg.Error:  # the connection is gone, and its advisory lock with it
                self._drop_side()

    @contextmanager
    def appending(self, zone: str | None = None) -> Iterator[Append]:
        recorder = self.recorder
        with out_of_order_raised(), self.transaction(commit=True) as cursor:
            if zone is not None:
                meta = SQL("{}.{}").format(Identifier(self.schema), Identifier(META_TABLE))
                cursor.execute(SQL("DELETE FROM {} WHERE key = %s").format(meta), (TIME_ZONE_KEY,))
                cursor.execute(SQL("INSERT INTO {} (key, value) VALUES (%s, %s)").format(meta), (TIME_ZONE_KEY, zone))

            def append(batch: Sequence[StoredEvent], photos: Sequence[Photo] = ()) -> Sequence[int]:
                table = SQL("{}.{}").format(Identifier(self.schema), Identifier(PHOTOS_TABLE))
                for photo in photos:
                    cursor.execute(SQL("INSERT INTO {} (sha256, media_type, size, taken_at, data) VALUES "
                                       "(%s, %s, %s, %s, %s) ON CONFLICT (sha256) DO NOTHING").format(table),
                                   (photo.sha256, photo.media_type, photo.size, photo.taken_at, photo.data))
                ids: list[int] = []
                for start in range(0, len(batch), MAX_SAVE_EVENTS):
                    chunk = batch[start:start + MAX_SAVE_EVENTS]
                    recorder._insert_stored_events(cursor, chunk)  # lock the table, notify, insert
                    found = recorder._fetch_ids_after_insert_events(cursor, chunk)  # ids, then the links
                    assert found is not None
                    ids.extend(found)
                return ids

            yield append

    def engine(self) -> Engine:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import URL

        env = self.env
        url = URL.create(
            "postgresql+psycopg", username=env["POSTGRES_USER"], password=env.get("POSTGRES_PASSWORD") or None,
            host=env["POSTGRES_HOST"], port=int(env["POSTGRES_PORT"]), database=env["POSTGRES_DBNAME"],
        )
        seconds = env.get("POSTGRES_LOCK_TIMEOUT", str(LOCK_TIMEOUT_SECONDS))
        # This engine writes only the read models, which are made again from the log: a commit lost to a
        # crash is caught up again (each commit is whole, position and rows together), so it need not wait
        # for the disk. The events are written through the application's own connections, which do.
        options = (f"-c lock_timeout={seconds}s -c idle_in_transaction_session_timeout={seconds}s "
                   "-c synchronous_commit=off")
        if env.get("POSTGRES_SCHEMA"):
            options += f" -c search_path={env['POSTGRES_SCHEMA']}"
        return create_engine(url, connect_args={"options": options, "connect_timeout": 5})

    def lock_ddl(self, connection: Connection) -> None:
        from sqlalchemy import text

        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DDL_LOCK})

    def analyze(self, connection: Connection, tables: Sequence[str]) -> None:
        from sqlalchemy import text

        with connection.begin():
            for table in tables:
                connection.execute(text(f'ANALYZE "{table}"'))  # our own tables' names

    def tidy(self, connection: Connection, tables: Sequence[str]) -> None:
        # VACUUM (ANALYZE): a first catch-up updates a row once a batch it changes in (a finding at each
        # step), and the dead rows stay until a vacuum, which a server's autovacuum may not have run yet (or
        # at all, where it is off): a province's boards then read hundreds of thousands of them. VACUUM
        # runs outside a transaction: on the driver's own connection, in autocommit for as long.
        # Only a table's owner may vacuum it (PostgreSQL 15): the projector's login after `db roles --apply`
        # is told it skips them, and the server's autovacuum does it. The catch-up is committed: a vacuum
        # that fails (a lock not had in time) is given up, not the command's failure.
        driver = connection.connection.driver_connection
        assert driver is not None
        before = driver.autocommit
        driver.autocommit = True
        try:
            for table in tables:
                driver.execute(f'VACUUM (ANALYZE) "{table}"')  # our own tables' names
        except psycopg.Error as error:
            import logging

            logging.getLogger(__name__).info("the vacuum after a catch-up was given up: %s", error)
        finally:
            driver.autocommit = before

    def server_now(self) -> datetime | None:
        rows = self.query("SELECT clock_timestamp()")
        value = rows[0][0]
        assert isinstance(value, datetime)
        return value

    def is_version_conflict(self, error: Exception) -> bool:
        if isinstance(error, RecordedOutOfOrder):
            return True
        cause = error.__cause__ or (error.args[0] if error.args else None)
        if getattr(cause, "sqlstate", None) == psycopg.errors.InsufficientPrivilege.sqlstate:
            # The guarded append function's (``db roles --apply``): a version that does not follow its compound's
            # last is the key's conflict, met through it (another writer's, or this command's own events,
            # committed by an insert whose acknowledgement was lost and met again by the library's retry).
            said = getattr(getattr(cause, "diag", None), "message_primary", None)  # its words alone, whole
            return _NOT_FOLLOWING.fullmatch(str(said)) is not None
        if getattr(cause, "sqlstate", None) != psycopg.errors.UniqueViolation.sqlstate:
            return False
        # The events' (aggregate, version) key; a duplicate chain position is not a lost race.
        return getattr(getattr(cause, "diag", None), "table_name", None) in (None, EVENTS_TABLE)

    def missing_safeguards(self) -> list[str]:
        rows = self.query(
            "SELECT EXISTS (SELECT FROM pg_catalog.pg_trigger WHERE tgname = ? AND tgrelid = to_regclass(?))",
            (REQUIRE_LINK_TRIGGER, self.qualified(EVENTS_TABLE)),
        )
        if rows and rows[0][0]:
            return []
        return [f"the events table has no {REQUIRE_LINK_TRIGGER} trigger: an event could be committed without its "
                "link; run the tracker once with the tables' owner login, or `renovation db roles --apply`"]

    def user_problems(self) -> list[Problem]:
        return user_mismatches(self.recorder)

    def may_write(self, table: str) -> bool:
        return self._may(table, "INSERT")

    def may_read(self, table: str) -> bool:
        return self._may(table, "SELECT")

    def _may(self, table: str, privilege: str) -> bool:
        found = self._privileges.get((table, privilege))
        if found is None:
            # A table not made yet is made by whoever opens the store first (so far as it may).
            rows = self.query("SELECT to_regclass(?) IS NULL OR has_table_privilege(?, ?)",
                              (self.qualified(table), self.qualified(table), privilege))
            found = self._privileges[(table, privilege)] = bool(rows and rows[0][0])
        return found

    def reads_log(self) -> bool:
        return self.may_read(EVENTS_TABLE)

    def log_head(self) -> int:
        if not self.reads_log():  # a contractor's login: the function db roles --apply made
            found = self.query(f"SELECT {self.qualified(HEAD_FUNCTION)}()")
            return int(found[0][0])
        return super().log_head()

    def close(self) -> None:
        self._drop_side()

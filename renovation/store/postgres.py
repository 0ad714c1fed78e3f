"""The chained recorder for PostgreSQL (see ``renovation.store.chain``); kept apart so that SQLite users
never import psycopg.

Its events table has one column more than the library's: ``recorded_by text DEFAULT session_user``,
the database login that wrote the row (never written by the application, so the server fills it in).
Stores created before that column existed get it from ``renovation db roles --apply``; their older
rows keep NULL (unknown), never a guess. ``user_mismatches`` is the check ``audit verify`` runs with it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder

if TYPE_CHECKING:
    from psycopg.sql import Composed

from renovation.store.chain import (
    CHAIN_TABLE,
    LOGINS_TABLE,
    META_TABLE,
    ROLES_APPLIED_KEY,
    Problem,
    describe,
    links_after,
)

#: The events table's column that holds the database login (``session_user``) of each event.
RECORDED_BY = "recorded_by"


class ChainedPostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        from psycopg.sql import SQL, Identifier

        schema = Identifier(self.datastore.schema)
        self.sql_create_statements.extend(recorded_by_statements(self.datastore.schema, events_table_name))
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {}.{} (position bigint PRIMARY KEY, previous bigint NOT NULL, "
                "hash text NOT NULL)"
            ).format(schema, Identifier(CHAIN_TABLE))
        )
        # Last: once this table exists the store is complete (renovation.store.backend.prepared).
        self.sql_create_statements.append(
            SQL("CREATE TABLE IF NOT EXISTS {}.{} (key text PRIMARY KEY, value text NOT NULL)").format(
                schema, Identifier(META_TABLE)
            )
        )
        self._select_last_link = SQL("SELECT position, hash FROM {}.{} ORDER BY position DESC LIMIT 1").format(
            schema, Identifier(CHAIN_TABLE)
        )
        self._insert_events_arrays = SQL(
            "INSERT INTO {}.{} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::{}[], %b::bigint[], %b::text[], %b::bytea[]) RETURNING notification_id"
        ).format(schema, Identifier(events_table_name), SQL(self.datastore.originator_id_type))
        # One statement for all the links of a save: an executemany would queue a statement per event
        # in eventsourcing's pipeline, and a large batch can fill both ends' buffers and hang.
        self._insert_link = SQL(
            "INSERT INTO {}.{} (position, previous, hash) "
            "SELECT * FROM unnest(%b::bigint[], %b::bigint[], %b::text[])"
        ).format(schema, Identifier(CHAIN_TABLE))

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        """As the library's (lock the table, notify, insert returning the notification ids), with the
        events passed as four arrays of plain values rather than one array of a composite type: psycopg
        writes plain arrays in C, composites value by value in Python (an import of 22,000 events
        spent a sixth of its time escaping them)."""
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(self._insert_events_arrays, (
            [event.originator_id for event in stored_events],
            [event.originator_version for event in stored_events],
            [event.topic for event in stored_events],
            [event.state for event in stored_events],
        ))

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        assert ids is not None
        # eventsourcing has locked the events table (EXCLUSIVE): inserts are serialised.
        curs.execute(self._select_last_link)
        row = curs.fetchone()
        last = (row["position"], row["hash"]) if row else None
        links = links_after(last, ids, stored_events)
        curs.execute(self._insert_link, ([p for p, _, _ in links], [q for _, q, _ in links], [h for _, _, h in links]))
        return ids


def recorded_by_statements(schema: str, events_table: str) -> list[Composed]:
    """Add ``recorded_by`` to the events table: first without a default, so that rows already stored
    stay NULL (a default added with the column would be stamped on every old row as if the person
    running this had written them), then ``DEFAULT session_user`` for every row from now on."""
    from psycopg.sql import SQL, Identifier

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
    from psycopg.sql import SQL, Identifier

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

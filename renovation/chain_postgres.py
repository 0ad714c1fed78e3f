"""The chained recorder for PostgreSQL (see ``renovation.chain``); kept apart so that SQLite users
never import psycopg."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder

from renovation.chain import CHAIN_TABLE, META_TABLE, links_after


class ChainedPostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: Any, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        from psycopg.sql import SQL, Identifier

        schema = Identifier(self.datastore.schema)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {}.{} (position bigint PRIMARY KEY, previous bigint NOT NULL, "
                "hash text NOT NULL)"
            ).format(schema, Identifier(CHAIN_TABLE))
        )
        self.sql_create_statements.append(
            SQL("CREATE TABLE IF NOT EXISTS {}.{} (key text PRIMARY KEY, value text NOT NULL)").format(
                schema, Identifier(META_TABLE)
            )
        )
        self._select_last_link = SQL("SELECT position, hash FROM {}.{} ORDER BY position DESC LIMIT 1").format(
            schema, Identifier(CHAIN_TABLE)
        )
        self._insert_link = SQL("INSERT INTO {}.{} VALUES (%s, %s, %s)").format(schema, Identifier(CHAIN_TABLE))

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        assert ids is not None
        # eventsourcing has locked the events table (EXCLUSIVE): inserts are serialised.
        curs.execute(self._select_last_link)
        row = curs.fetchone()
        last = (row["position"], row["hash"]) if row else None
        curs.executemany(self._insert_link, links_after(last, ids, stored_events))
        return ids

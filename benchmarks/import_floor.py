"""Benchmark 1: importing the demo's export, against the floor of the hardware and the database.

Floor: the same lines json-decoded, the state re-encoded, and ``executemany``'d into a table with a
unique (stream, version) index, in 1000-row transactions (SQLite in WAL mode; PostgreSQL in the
same database server). Ours: ``renovation import`` (every line validated first, then stored in
batches through the chained recorder), into a fresh store. Must reach 0.4 of the floor (aim 0.6) for
the 200-compound programme's export through the CLI.

    python benchmarks/import_floor.py [--postgres URL] [--runs 3] [--compounds 200 --cli]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import tempfile
import uuid
from pathlib import Path

from common import WORK, demo_store, run_cli, seconds

from renovation.services.application import RenovationApp
from renovation.services.transfer import import_file


def rows(export: Path) -> list[tuple[str, int, str, bytes]]:
    result = []
    with export.open("rb") as handle:
        for raw in handle:
            line = json.loads(raw)
            if "renovation_export" in line:
                continue  # the header line (the store's time zone)
            state = json.dumps(line["state"], ensure_ascii=False, separators=(",", ":")).encode()
            result.append((line["originator_id"], line["originator_version"], line["topic"], state))
    return result


def sqlite_floor(export: Path, folder: Path) -> float:
    def load() -> None:
        connection = sqlite3.connect(folder / "floor.db", isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE events (stream TEXT, version INTEGER, topic TEXT, state BLOB)")
        connection.execute("CREATE UNIQUE INDEX events_stream_version ON events (stream, version)")
        batch = rows(export)  # decoding and re-encoding is part of the floor: it is timed here
        for start in range(0, len(batch), 1000):
            connection.execute("BEGIN")
            connection.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", batch[start:start + 1000])
            connection.execute("COMMIT")
        connection.close()

    return seconds(load)


def postgres_floor(export: Path, url: str) -> float:
    import psycopg

    schema = f"floor_{uuid.uuid4().hex[:8]}"

    def load() -> None:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f"CREATE SCHEMA {schema}")
            connection.execute(f"CREATE TABLE {schema}.events (stream uuid, version bigint, topic text, state bytea)")
            connection.execute(f"CREATE UNIQUE INDEX ON {schema}.events (stream, version)")
            batch = rows(export)
            for start in range(0, len(batch), 1000):
                with connection.transaction(), connection.cursor() as cursor:
                    cursor.executemany(f"INSERT INTO {schema}.events VALUES (%s, %s, %s, %s)",
                                       batch[start:start + 1000])

    try:
        return seconds(load)
    finally:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {schema} CASCADE")


def ours(export: Path, db: str, cli: bool = False) -> float:
    """Seconds to import the export into a fresh store: in this process, or (``cli``) as a user runs
    `renovation import`, the interpreter's start included (the floor runs in this process)."""
    if cli:
        return seconds(lambda: run_cli("--db", db, "import", str(export)))
    app = RenovationApp(db)

    def load() -> None:
        import_file(app, export)

    try:
        return seconds(load)
    finally:
        app.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default=None, metavar="URL",
                        help="also on PostgreSQL, e.g. postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--runs", type=int, default=3, help="runs of each, taking turns; medians are compared")
    parser.add_argument("--compounds", type=int, default=53,
                        help="the demo programme's size (its store and export are built once)")
    parser.add_argument("--cli", action="store_true", help="import through `renovation import`, not in this process")
    args = parser.parse_args()
    demo_store(args.compounds)
    export = WORK / f"demo-{args.compounds}.jsonl"
    events = sum(1 for _ in export.open("rb"))
    how = " through the CLI" if args.cli else ""
    print(f"importing {events} events of the {args.compounds}-compound demo's export{how} "
          f"({export.stat().st_size / 1e6:.1f} MB), medians of {args.runs} runs")
    floors, mine = [], []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            floors.append(sqlite_floor(export, folder))
            mine.append(ours(export, str(folder / "ours.db"), args.cli))
    report("SQLite", events, statistics.median(floors), statistics.median(mine))
    if args.postgres:
        floors, mine = [], []
        for _ in range(args.runs):
            floors.append(postgres_floor(export, args.postgres))
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            url = f"{args.postgres}{'&' if '?' in args.postgres else '?'}schema={schema}"
            try:
                mine.append(ours(export, url, args.cli))
            finally:
                import psycopg

                with psycopg.connect(args.postgres, autocommit=True) as connection:
                    connection.execute(f"DROP SCHEMA {schema} CASCADE")
        report("PostgreSQL", events, statistics.median(floors), statistics.median(mine))


def report(backend: str, events: int, floor: float, mine: float) -> None:
    print(f"{backend:10}  floor {events / floor:9.0f} events/s   renovation import {events / mine:9.0f} events/s"
          f"   ratio {floor / mine:.2f} (must ≥ 0.4, aim 0.6)")


if __name__ == "__main__":
    main()

"""Stress: 8 OS processes each recording 50 inspections through the CLI on ONE compound, on SQLite
and (with --postgres URL) PostgreSQL. Prints the wall time and checks that the store holds exactly
the commands that reported success.

    python benchmarks/concurrent_stress.py [--processes 8] [--commands 50] [--postgres URL]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.conftest import open_app, start_compound
from tests.integration.test_writers_and_locks import _write_through_the_cli


def stress(db: str, processes: int, commands: int) -> None:
    app = open_app(db)
    start_compound(app)
    before = app.event_count()
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.starmap(_write_through_the_cli, [(db, worker, commands) for worker in range(processes)])
    elapsed = time.perf_counter() - started
    reported = sorted(text for texts in results for text in texts)
    stored = sorted(finding.description for finding in app.get_project("JM").findings.values())
    added = app.event_count() - before
    app.close()
    verdict = "exact" if stored == reported and added == len(reported) else "MISMATCH"
    print(f"{processes} × {commands} commands: {len(reported)} succeeded, {processes * commands - len(reported)} "
          f"refused, {added} events stored ({verdict}), {elapsed:.1f} s, {len(reported) / elapsed:.0f} commands/s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--commands", type=int, default=50)
    parser.add_argument("--postgres", default=None, metavar="URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print("SQLite:", end=" ")
        stress(str(Path(tmp) / "stress.db"), args.processes, args.commands)
    if args.postgres:
        import psycopg

        schema = f"stress_{uuid.uuid4().hex[:8]}"
        print("PostgreSQL:", end=" ")
        try:
            stress(f"{args.postgres}?schema={schema}", args.processes, args.commands)
        finally:
            with psycopg.connect(args.postgres, autocommit=True) as connection:
                connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    main()

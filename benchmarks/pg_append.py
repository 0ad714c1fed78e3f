"""PostgreSQL's append function (``renovation.store.postgres.append_function_statements``) alone: the
first 20,000 events of the 200-compound demo's export appended into a fresh schema, 5,000 a call, in one
transaction, as an import appends them; the seconds of each call and of the commit (the deferred check
that each event has its link).

    python benchmarks/pg_append.py [--postgres URL] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from uuid import UUID

from common import WORK, demo_store

from renovation.services.application import RenovationApp

EVENTS = 20_000
CALL = 5000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test", metavar="URL")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import psycopg

    demo_store(200)
    with (WORK / "demo-200.jsonl").open("rb") as handle:
        lines = [json.loads(raw) for raw, _ in zip(handle, range(EVENTS + 1), strict=False)][1:]
    ids = [UUID(line["originator_id"]) for line in lines]
    versions = [line["originator_version"] for line in lines]
    topics = [line["topic"] for line in lines]
    states = [json.dumps(line["state"], ensure_ascii=False, separators=(",", ":")).encode() for line in lines]
    totals = []
    for _ in range(args.runs):
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        RenovationApp(f"{args.postgres}{'&' if '?' in args.postgres else '?'}schema={schema}").close()
        try:
            with psycopg.connect(args.postgres) as connection:
                started = time.perf_counter()
                calls = []
                for start in range(0, len(ids), CALL):
                    begun = time.perf_counter()
                    connection.execute(
                        f'SELECT "{schema}".renovation_append(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[])',
                        (ids[start:start + CALL], versions[start:start + CALL], topics[start:start + CALL],
                         states[start:start + CALL]))
                    calls.append(time.perf_counter() - begun)
                begun = time.perf_counter()
                connection.commit()
                commit = time.perf_counter() - begun
                totals.append(time.perf_counter() - started)
                print(f"calls {' '.join(f'{call:.3f}' for call in calls)} s, commit {commit:.3f} s, "
                      f"in all {totals[-1]:.3f} s")
        finally:
            with psycopg.connect(args.postgres, autocommit=True) as connection:
                connection.execute(f'DROP SCHEMA "{schema}" CASCADE')
    print(f"{EVENTS} events appended in {statistics.median(totals):.3f} s (median of {args.runs})")


if __name__ == "__main__":
    main()

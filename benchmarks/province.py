"""Benchmark 5: a province — `renovation demo --compounds 3000` (about two million events) — on
SQLite and on PostgreSQL: build time, database bytes per event, peak memory of the build (must stay
≤ 500 MB), the first catch-up of the read models, and p50/p95 of the use cases measured in-process
(without interpreter start): progress, quality, ranking and one recorded inspection (aim p95 ≤ 100 ms).

    python benchmarks/province.py [--compounds 3000] [--postgres URL] [--runs 30]
    python benchmarks/province.py --measure DB [--runs 30]      (a store built before: measure only)
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import time
import uuid
from datetime import date
from pathlib import Path

from common import WORK, percentile, store_bytes

from renovation.projections import read_models
from renovation.projections.progress import progress_rows
from renovation.projections.quality import quality_rows
from renovation.projections.ranking import ranking_rows
from renovation.services.application import RenovationApp

TODAY = date(2021, 7, 31)
WEIGHTS = {"quality": 30, "safety": 25, "progress": 20, "civilized": 15, "satisfaction": 10}


def build(db: str, compounds: int) -> tuple[float, float]:
    """Seconds and peak resident megabytes of the demo build, in a child process."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from renovation.cli import cli; cli()", "--db", db, "demo",
                    "--compounds", str(compounds)], check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, peak_kb / 1024


def measure(db: str, runs: int) -> dict[str, tuple[float, float]]:
    app = RenovationApp(db)
    models = read_models(app)
    started = time.perf_counter()
    models.catch_up()
    catch_up = time.perf_counter() - started
    with models.engine.connect() as connection:
        building = [row["code"] for row in progress_rows(connection, TODAY)
                    if row["status"] == "under_construction"][:200]
    timings: dict[str, list[float]] = {"progress": [], "quality": [], "ranking": [], "inspection": []}
    rnd = random.Random(7)
    for _ in range(runs):
        for name, query in (("progress", lambda c: progress_rows(c, TODAY)),
                            ("quality", lambda c: quality_rows(c, TODAY)),
                            ("ranking", lambda c: ranking_rows(c, WEIGHTS))):
            begun = time.perf_counter()
            models.catch_up(name)
            with models.engine.connect() as connection:
                query(connection)
            timings[name].append(time.perf_counter() - begun)
        begun = time.perf_counter()
        app.record_inspection(rnd.choice(building), "patrol", user="bench")
        timings["inspection"].append(time.perf_counter() - begun)
    events = app.event_count()
    size = store_bytes(app, db)
    models.close()
    app.close()
    print(f"  events {events}, {size / events:.0f} bytes per event (events, chain, snapshots, read models); "
          f"first catch-up of the read models {catch_up:.1f} s")
    return {name: (percentile(values, 0.5), percentile(values, 0.95)) for name, values in timings.items()}


def report(backend: str, db: str, compounds: int, runs: int) -> None:
    seconds, peak = build(db, compounds)
    print(f"{backend}: built {compounds} compounds in {seconds:.0f} s, peak memory {peak:.0f} MB (must ≤ 500)")
    for name, (p50, p95) in measure(db, runs).items():
        print(f"  {name:11} p50 {p50 * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   (aim p95 ≤ 100 ms)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--compounds", type=int, default=3000)
    parser.add_argument("--postgres", default=None, metavar="URL")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--measure", default=None, metavar="DB",
                        help="only measure an existing store (a province built by an earlier run), then stop")
    args = parser.parse_args()
    if args.measure:
        for name, (p50, p95) in measure(args.measure, args.runs).items():
            print(f"  {name:11} p50 {p50 * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms   (aim p95 ≤ 100 ms)")
        return
    WORK.mkdir(exist_ok=True)
    if not args.skip_sqlite:
        db = WORK / f"province-{args.compounds}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        report("SQLite", str(db), args.compounds, args.runs)
    if args.postgres:
        schema = f"province_{uuid.uuid4().hex[:8]}"
        url = f"{args.postgres}{'&' if '?' in args.postgres else '?'}schema={schema}"
        try:
            report("PostgreSQL", url, args.compounds, args.runs)
        finally:
            import psycopg

            with psycopg.connect(args.postgres, autocommit=True) as connection:
                connection.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


if __name__ == "__main__":
    main()

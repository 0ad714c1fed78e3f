"""The first catch-up of every read model of a store (a copy of a province built by `renovation demo
--compounds 3000`, say), in this process: its wall time and this process's peak memory.

    python benchmarks/catch_up.py STORE [--rebuild | --fresh]

``--rebuild`` clears the read models' rows and catches up again (on PostgreSQL the cleared rows stay
as dead tuples until a vacuum, which a server with autovacuum off never runs: each rebuild then
writes into larger tables); ``--fresh`` drops their tables and makes them again, a first catch-up
whatever the store held.
"""

from __future__ import annotations

import argparse
import gc
import resource
import time

from renovation.cli import YOUNG_OBJECTS
from renovation.projections import read_models
from renovation.projections.base import metadata
from renovation.services.application import RenovationApp


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", help="the store's --db value (its read models are changed)")
    first = parser.add_mutually_exclusive_group()
    first.add_argument("--rebuild", action="store_true", help="clear the read models first")
    first.add_argument("--fresh", action="store_true", help="drop the read models' tables (and positions) first")
    args = parser.parse_args()
    gc.set_threshold(YOUNG_OBJECTS, 10, 10)  # as every command of the CLI runs
    app = RenovationApp(args.db)
    if args.fresh:
        read_models(app).close()  # every read model's tables (made if missing), then all dropped
        engine = app.backend.engine()
        metadata.drop_all(engine)
        engine.dispose()
    models = read_models(app)
    started = time.perf_counter()
    if args.rebuild:
        models.rebuild()
    else:
        models.catch_up()
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"catch-up {seconds:.1f} s, peak {peak:.0f} MB; lag of each read model: "
          + ", ".join(f"{row['projection']} {row['lag']}" for row in models.status()))
    models.close()
    app.close()


if __name__ == "__main__":
    main()

"""The first catch-up of every read model of a store (a copy of a province built by `renovation demo
--compounds 3000`, say), in this process: its wall time, this process's peak memory and its workers' (the
largest of them, where the catch-up was shared out).

    python benchmarks/catch_up.py STORE [--rebuild | --fresh] [--one-process]

``--rebuild`` clears the read models' rows and catches up again (on PostgreSQL the cleared rows stay
as dead tuples until a vacuum, which a server with autovacuum off never runs: each rebuild then
writes into larger tables); ``--fresh`` drops their tables and makes them again, a first catch-up
whatever the store held. ``--one-process``: not shared out among processes (on PostgreSQL a catch-up
this far behind is, see ``renovation.projections.runner.SHARE_AFTER``).
"""

from __future__ import annotations

import argparse
import gc
import resource
import time
from typing import Any

from renovation.cli import YOUNG_OBJECTS
from renovation.projections import read_models, runner
from renovation.projections.base import metadata
from renovation.services.application import RenovationApp


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db", help="the store's --db value (its read models are changed)")
    first = parser.add_mutually_exclusive_group()
    first.add_argument("--rebuild", action="store_true", help="clear the read models first")
    first.add_argument("--fresh", action="store_true", help="drop the read models' tables (and positions) first")
    parser.add_argument("--one-process", action="store_true", help="no worker processes (as before they were)")
    args = parser.parse_args()
    gc.set_threshold(YOUNG_OBJECTS, 10, 10)  # as every command of the CLI runs
    app = RenovationApp(args.db)
    if args.fresh:
        read_models(app).close()  # every read model's tables (made if missing), then all dropped
        engine = app.backend.engine()
        metadata.drop_all(engine)
        engine.dispose()
    models = read_models(app)
    copying: list[float] = []
    if hasattr(runner, "adopt"):  # on SQLite, shared: the copy of the workers' read models into the store, timed
        adopt = runner.adopt

        def timed(*args: Any) -> bool:
            began = time.perf_counter()
            try:
                return adopt(*args)
            finally:
                copying.append(time.perf_counter() - began)

        runner.adopt = timed
    started = time.perf_counter()
    if args.rebuild:
        models.rebuild(share=not args.one_process)
    else:
        models.catch_up(share=not args.one_process)
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    copied = f" (the copy into the store {sum(copying):.1f} s)" if copying else ""
    print(f"catch-up {seconds:.1f} s{copied}, peak {peak:.0f} MB, a worker's {workers:.0f} MB; lag of each read model: "
          + ", ".join(f"{row['projection']} {row['lag']}" for row in models.status()))
    models.close()
    app.close()


if __name__ == "__main__":
    main()

"""The first computed horse-race board of each of several days in a row (``ranking --computed`` as the CLI
asks for it, the first of each day), from a day on: with how many compounds' kept scores of each period
it shows were out of date (worked out again). Right after a month ends, the month that is over (the
board's movement) has many compounds whose findings fall due day after day; ``boards.py``'s "a new day"
takes days further on, where few do.

    python benchmarks/new_days.py STORE [--from 2021-07-31] [--days 6]

It keeps computed scores in the store (the board does): give it a fresh copy each time.
"""

from __future__ import annotations

import argparse
import gc
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from renovation.cli import YOUNG_OBJECTS
from renovation.projections import computed
from renovation.services import horserace
from renovation.services.workspace import Workspace


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("--from", dest="first", type=date.fromisoformat, default=date(2021, 7, 31))
    parser.add_argument("--days", type=int, default=6)
    args = parser.parse_args()
    gc.set_threshold(YOUNG_OBJECTS, 10, 10)  # as every command of the CLI runs
    if "://" not in args.db and not Path(args.db).exists():
        raise SystemExit(f"no store at {args.db}")
    stale: list[str] = []
    kept_scores = computed.kept_scores

    def counted(*given: Any, **named: Any) -> Any:
        listed, kept = kept_scores(*given, **named)
        stale.append(f"{len(listed) - len(kept)}/{len(listed)}")
        return listed, kept

    computed.kept_scores = counted  # type: ignore[assignment]  # the board imports it when asked
    ws = Workspace(args.db, config_path="/dev/null")
    ws.read_models("computed")  # caught up first (untimed)
    for day in (args.first + timedelta(days=n) for n in range(args.days)):
        stale.clear()
        started = time.perf_counter()
        rows = horserace.computed_ranking(ws, None, "compound", day)
        took = (time.perf_counter() - started) * 1000
        print(f"{day}  {took:7.1f} ms  {len(rows)} rows  worked out again (the period, the one before): "
              f"{', '.join(stale)}")
    ws.close()


if __name__ == "__main__":
    main()

"""Benchmark 4: loading a compound with 20,000 events costs at most 2× loading one with 200
(snapshots bound the events replayed). The events are inspections without findings, so that what is
measured is the replay, not the size of the state (which grows with findings and metering entries
whatever the snapshots do; see docs/scaling.md).

    python benchmarks/snapshots.py
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from renovation.services.application import RenovationApp

NOW = datetime(2021, 7, 31, 9, tzinfo=timezone(timedelta(hours=8)))


def build(app: RenovationApp, code: str, events: int) -> None:
    app.register_compound(code=code, name="示例小区", district="龙山区", contractor="示例建工", households=300,
                          contract_value=Decimal("1e7"), planned_start=date(2021, 3, 1),
                          planned_finish=date(2021, 9, 30), user="bench")
    app.start_construction(code, date(2021, 3, 1), user="bench")
    with app.batch():
        for _ in range(events - 3):
            app.record_inspection(code, "patrol", user="bench")


def load_time(db: str, code: str, runs: int = 30) -> float:
    timings = []
    for _ in range(runs):
        app = RenovationApp(db, clock_func=lambda: NOW)  # a fresh process's view: no cache
        started = time.perf_counter()
        app.get_project(code)
        timings.append(time.perf_counter() - started)
        app.close()
    return statistics.median(timings)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "snap.db")
        app = RenovationApp(db, clock_func=lambda: NOW)
        build(app, "SMALL", 200)
        build(app, "LARGE", 20_000)
        app.close()
        small, large = load_time(db, "SMALL"), load_time(db, "LARGE")
    print(f"load (median of 30): 200 events {small * 1000:.2f} ms; 20,000 events {large * 1000:.2f} ms; "
          f"ratio {large / small:.2f} (must ≤ 2)")


if __name__ == "__main__":
    main()

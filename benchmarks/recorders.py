"""Which eventsourcing recorder the project stores its events with: measured, not assumed.

Runs the same use cases (register, bill of quantities, start, then N inspections and N meterings,
each its own command: load, decide, save) through RenovationApp on a fresh SQLite file with
eventsourcing's core recorder (``eventsourcing.sqlite``, the baseline) and with
``eventsourcing-sqlalchemy`` (``pip install eventsourcing-sqlalchemy``), and prints commands per
second and the ratio to the baseline. Run by hand:

    python benchmarks/recorders.py [--commands 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from renovation.domain.values import BoqItem
from renovation.services.application import RenovationApp

NOW = datetime(2021, 6, 30, 9, tzinfo=timezone(timedelta(hours=8)))


def run(env: dict[str, str], commands: int) -> tuple[float, float]:
    """Seconds for the commands, and seconds to load the compound afterwards (no snapshot)."""
    app = RenovationApp(env.get("SQLITE_DBNAME", "unused.db"),
                        env=env, clock_func=lambda: NOW)
    app.register_compound(code="JM", name="吉明小区", district="龙山区", contractor="c", households=300,
                          contract_value=Decimal("1e7"), planned_start=date(2021, 3, 1),
                          planned_finish=date(2021, 9, 30), user="b")
    app.set_bill_of_quantities("JM", [BoqItem("A1", "d", "m", Decimal("1e9"), Decimal("1.5"))], user="a")
    app.start_construction("JM", date(2021, 3, 1), user="b")
    started = time.perf_counter()
    for n in range(commands // 2):
        app.record_inspection("JM", "morning", user="s")
        app.measure("JM", "A1", "2021-06", Decimal(n + 1), user="a")
    elapsed = time.perf_counter() - started
    loaded = time.perf_counter()
    app.get_project("JM")
    load = time.perf_counter() - loaded
    app.close()
    return elapsed, load


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--no-snapshots", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        core_db = str(Path(tmp) / "core.db")
        sa_db = str(Path(tmp) / "sa.db")
        no_snapshots = {"IS_SNAPSHOTTING_ENABLED": "n" if args.no_snapshots else "y"}
        candidates = {
            "eventsourcing.sqlite (baseline)": {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
                                                "SQLITE_DBNAME": core_db, **no_snapshots},
            "eventsourcing_sqlalchemy": {"PERSISTENCE_MODULE": "eventsourcing_sqlalchemy",
                                         "SQLALCHEMY_URL": f"sqlite:///{sa_db}", **no_snapshots},
        }
        results = {name: run(env, args.commands) for name, env in candidates.items()}
    base_cmd, base_load = results["eventsourcing.sqlite (baseline)"]
    print(f"{args.commands} commands on one compound, fresh SQLite file each, "
          f"snapshots {'off' if args.no_snapshots else 'as configured'}")
    print(f"{'recorder':34} {'commands/s':>11} {'ratio':>6} {'load ms':>8} {'ratio':>6}")
    for name, (seconds, load) in results.items():
        print(f"{name:34} {args.commands / seconds:11.0f} {base_cmd / seconds:6.2f} "
              f"{load * 1000:8.1f} {base_load / load:6.2f}")


if __name__ == "__main__":
    main()

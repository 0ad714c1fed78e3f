"""Benchmark 3: rebuilding every read model from the whole log, against the floor of selecting and
json-decoding every stored event (must ≥ 0.3 of the floor, aim 0.5). Medians of ``--runs`` runs, the
floor and the rebuild taking turns.

    python benchmarks/rebuild.py [--runs 3]
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import sqlite3
import statistics
import tempfile
from pathlib import Path

from common import demo_store, seconds

from renovation.cli import YOUNG_OBJECTS
from renovation.projections import read_models
from renovation.services.application import RenovationApp


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    gc.set_threshold(YOUNG_OBJECTS, 10, 10)  # as every command of the CLI runs
    source = demo_store()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.db"
        shutil.copy(source, db)

        def floor() -> None:
            connection = sqlite3.connect(db)
            for (state,) in connection.execute("SELECT state FROM stored_events ORDER BY rowid"):
                json.loads(state)
            connection.close()

        events = sqlite3.connect(db).execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]
        app = RenovationApp(str(db))
        models = read_models(app)
        floors, ours = [], []
        for _ in range(args.runs):
            floors.append(seconds(floor))
            ours.append(seconds(models.rebuild))
        models.close()
        app.close()
    floor_seconds, our_seconds = statistics.median(floors), statistics.median(ours)
    print(f"{events} events, medians of {args.runs}: floor (select + json-decode) {events / floor_seconds:9.0f} "
          f"events/s;  rebuild of all {len(models.projections)} read models {events / our_seconds:7.0f} events/s;  "
          f"ratio {floor_seconds / our_seconds:.2f} (must ≥ 0.3, aim 0.5)")


if __name__ == "__main__":
    main()

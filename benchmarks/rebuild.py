"""Benchmark 3: rebuilding every read model from the whole log, against the floor of selecting and
json-decoding every stored event (aim ≥ 0.25 of the floor).

    python benchmarks/rebuild.py
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from pathlib import Path

from common import demo_store, seconds

from renovation.projections import read_models
from renovation.services.application import RenovationApp


def main() -> None:
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
        floor_seconds = seconds(floor)
        app = RenovationApp(str(db))
        models = read_models(app)
        ours = seconds(models.rebuild)
        models.close()
        app.close()
    print(f"{events} events: floor (select + json-decode) {events / floor_seconds:9.0f} events/s;  "
          f"rebuild of all five read models {events / ours:7.0f} events/s;  "
          f"ratio {floor_seconds / ours:.2f} (aim ≥ 0.25)")


if __name__ == "__main__":
    main()

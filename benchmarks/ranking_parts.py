"""Where the recorded horse-race board's time goes as a store grows, and what the same work costs without
the project's code: each part of ``ranking_rows`` on each store given, the fastest of ``--runs`` runs, then
plain Python and SQLite doing alike work on as many rows (a sort of (Decimal, text) pairs by descending
total and key, dicts of five Decimals built from text, SQLite scanning the scores' table).

    python benchmarks/ranking_parts.py STORE [STORE ...] [--runs 21]

The stores are SQLite files (``renovation demo --compounds N``); their ranking read model is caught up
first (untimed).
"""

from __future__ import annotations

import argparse
import gc
import random
import sqlite3
from decimal import Decimal

from common import fastest

from renovation.cli import YOUNG_OBJECTS
from renovation.projections import ranking
from renovation.services.workspace import Workspace


def plain(rows: int, runs: int) -> dict[str, float]:
    """Work alike to the board's on ``rows`` rows, without the project's code."""
    random.seed(1)
    totals = [(Decimal(random.randint(5000, 9999)) / 100, f"C{index:05d}") for index in range(rows)]
    texts = [[f"{random.randint(5000, 9999) / 100:.2f}" for _ in range(5)] for _ in range(rows)]
    return {
        "plain sort (-total, key)": fastest(lambda: sorted(totals, key=lambda pair: (-pair[0], pair[1])), runs),
        "plain dicts of 5 Decimals": fastest(
            lambda: [{"code": index, **dict(zip("abcde", map(Decimal, row), strict=True))}
                     for index, row in enumerate(texts)], runs),
    }


def parts(db: str, runs: int) -> tuple[int, int, dict[str, float]]:
    ws = Workspace(db, config_path="/dev/null")
    models = ws.read_models("ranking")
    weights = ws.config.ranking.weights.as_dict()
    with models.engine.connect() as connection:
        periods = ranking.periods(connection)
        latest = periods[-1]
        found = ranking._scored(connection, latest, weights)
        figures = {
            "periods": fastest(lambda: ranking.periods(connection), runs),
            "_scored (a period)": fastest(lambda: ranking._scored(connection, latest, weights), runs),
            "standings": fastest(lambda: ranking.standings(found, "compound"), runs),
            "ranked": fastest(lambda: ranking.ranked(found, "compound"), runs),
            "ranks": fastest(lambda: ranking.ranks(found, "compound"), runs),
            "ranking_rows (the board)": fastest(lambda: ranking.ranking_rows(connection, weights, None, "compound"),
                                                runs),
        }
    ws.close()
    raw = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    table_rows = raw.execute("SELECT count(*) FROM ranking_scores").fetchone()[0]
    figures["sqlite: scan of the scores"] = fastest(
        lambda: raw.execute("SELECT period, quality FROM ranking_scores").fetchall(), runs)
    raw.close()
    figures.update(plain(len(found), runs))
    return len(found), table_rows, figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("stores", nargs="+")
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    gc.set_threshold(YOUNG_OBJECTS, 10, 10)  # as every command of the CLI runs
    measured = [(db, *parts(db, args.runs)) for db in args.stores]
    print(f"fastest of {args.runs} runs, ms (µs a row of the period's board; the scan: a row of the table)")
    print(f"{'':30}" + "".join(f"{f'{rows} rows ({table} in the table)':>36}" for _db, rows, table, _f in measured))
    for name in measured[0][3]:
        cells = []
        for _db, rows, table, figures in measured:
            each = figures[name] / (table if name.startswith("sqlite") else rows) * 1e6
            cells.append(f"{figures[name] * 1000:10.1f} ms {each:8.2f} µs/row")
        print(f"{name:30}" + "".join(f"{cell:>36}" for cell in cells))


if __name__ == "__main__":
    main()

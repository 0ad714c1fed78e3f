"""The statements a computed board counts a month's findings with (``computed._finding_tallies`` and the dues
ahead of ``computed.facts``, as SQLite runs them), and the keeping of its worked-out scores two ways (through
SQLAlchemy's statement with a dict of named values per row, as before section 20, and through the driver's
``executemany`` with tuples, as ``computed.keep_scores`` does): each the fastest of ``--runs``.

    python benchmarks/facts_queries.py STORE [--period 2021-07] [--today 2021-07-15] [--runs 5]

STORE is an SQLite file whose computed read model is caught up (a copy: the keeping writes into it). The
query plans are printed, so that a store's indexes (version 2's or 3's) show which each statement reads.
"""

from __future__ import annotations

import argparse
import sqlite3
from decimal import Decimal

from common import fastest
from sqlalchemy import create_engine, text

from renovation.domain.values import SCORE_DIMENSIONS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("--period", default="2021-07")
    parser.add_argument("--today", default="2021-07-15")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    period, today = args.period, args.today
    statements = {
        "the findings' tallies": (
            "SELECT code, category, severity, count(*), sum(CASE WHEN ((fixed_on IS NOT NULL AND fixed_on > due) "
            f"OR (fixed_on IS NULL AND due < '{today}')) THEN 1 ELSE 0 END), sum(CASE WHEN (fixed_on IS NOT NULL "
            f"OR due < '{today}') THEN 1 ELSE 0 END) FROM computed_findings WHERE period = '{period}' "
            "GROUP BY code, category, severity"),
        "the dues ahead": (
            f"SELECT code, min(due) FROM computed_findings WHERE period = '{period}' AND fixed_on IS NULL "
            f"AND due >= '{today}' GROUP BY code"),
    }
    connection = sqlite3.connect(args.db)
    for name, statement in statements.items():
        plan = "; ".join(row[-1] for row in connection.execute("EXPLAIN QUERY PLAN " + statement))
        took = fastest(lambda statement=statement: connection.execute(statement).fetchall(), args.runs) * 1000
        print(f"{name:24} {took:7.1f} ms  ({plan})")
    codes = [code for (code,) in connection.execute("SELECT code FROM computed_compounds")]
    connection.close()

    engine = create_engine(f"sqlite:///{args.db}")
    columns = ["code", "period", "stamp", "scored", *SCORE_DIMENSIONS]
    upsert = (f"INSERT INTO computed_totals ({', '.join(columns)}) VALUES ({{}}) ON CONFLICT (code, period) "
              "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in columns[2:]))
    scores = tuple(format(Decimal("87.50"), "f") for _ in SCORE_DIMENSIONS)
    stamp = f"1 {today}..{today} 0123456789abcdef"

    def named() -> None:
        with engine.begin() as kept:
            kept.execute(text(upsert.format(", ".join(f":{c}" for c in columns))), [
                {"code": code, "period": period, "stamp": stamp, "scored": True,
                 **dict(zip(SCORE_DIMENSIONS, scores, strict=True))} for code in codes])

    def driver() -> None:
        with engine.begin() as kept:
            kept.exec_driver_sql(upsert.format(", ".join("?" for _ in columns)),
                                 [(code, period, stamp, True, *scores) for code in codes])

    named()  # the rows there once: each way then updates them
    for name, keep in (("keep, named values", named), ("keep, driver's tuples", driver)):
        print(f"{name:24} {fastest(keep, args.runs) * 1000:7.1f} ms  ({len(codes)} rows)")
    engine.dispose()


if __name__ == "__main__":
    main()

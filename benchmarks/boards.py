"""Every board of a store as the CLI asks for it (the services, in this process, as a bureau user who
sees every compound), each called once untimed, then ``--runs`` times: p50 and p95. ``ranking`` is the
recorded board with the computed totals beside it, as ``renovation ranking`` shows it (the computed
scores kept from the call before); ``ranking, a new day`` the same on a later day than any call before
(the first ranking of a day: the scores of the recorded board's period worked out again where a day
after the last one kept changes them); ``ranking --computed, a new day`` the computed board so (its
period counts to the day: every compound's scores worked out again); ``r. --computed, a day of the
month`` the same on each day of ``--today``'s month in turn; ``ranking recorded`` the recorded
board alone (what ``ranking`` was before the computed horse race).

    python benchmarks/boards.py STORE [--runs 30] [--today 2021-07-31]

It keeps computed scores in the store (those boards do): give it a copy.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from common import percentile

from renovation.cli import YOUNG_OBJECTS
from renovation.services import boards, digest, horserace, worklists
from renovation.services.workspace import Workspace


def board_calls(ws: Workspace, today: date, user: str) -> tuple[dict[str, Callable[[], Any]], list[str]]:
    """Each board as the CLI asks for it, by name, and the codes of up to 200 compounds under construction
    (the ledger is of one of them, chosen at random)."""
    building = [row["code"] for row in boards.progress(ws, today) if row["status"] == "under_construction"][:200]
    calls: dict[str, Callable[[], Any]] = {
        "progress": lambda: boards.progress(ws, today, user=user),
        "quality": lambda: boards.quality(ws, today, code=None, by="compound", missed=False, hide_blind=False,
                                          user=user),
        "ranking": lambda: horserace.beside(ws, boards.ranking(ws, None, "compound", today), "compound", today,
                                            user=user),
        "ranking, a new day": lambda: _a_new_day(ws, today),
        "ranking recorded": lambda: boards.ranking(ws, None, "compound", today),
        "ranking --computed": lambda: horserace.computed_ranking(ws, None, "compound", today, user=user),
        "ranking --computed, a new day": lambda: _a_new_computed_day(ws, today),
        "r. --computed, a day of the month": lambda: _a_day_of_the_month(ws, today),
        "ledger": lambda: boards.ledger(ws, random.choice(building), None, None, user=user),
        "feedback": lambda: boards.feedback(ws, only_open=True, user=user),
        "finding list": lambda: worklists.finding_list(ws, today, user, state="open"),
        "digest": lambda: digest.digest(ws, today, today, user),
    }
    return calls, building


_days = iter(range(1, 10_000))


def _a_new_day(ws: Workspace, today: date) -> Any:
    """``ranking`` as asked on a day after every earlier call's (the first ranking of each day): a kept
    computed score holds for it only if no date in its facts has passed since."""
    day = today + timedelta(days=next(_days))
    return horserace.beside(ws, boards.ranking(ws, None, "compound", day), "compound", day)


def _a_new_computed_day(ws: Workspace, today: date) -> Any:
    """``ranking --computed`` as asked on a day after every earlier call's: its period (the latest) counts
    to the day, so every compound's scores are worked out again (the first computed board of each day)."""
    day = today + timedelta(days=next(_days))
    return horserace.computed_ranking(ws, None, "compound", day)


_of_the_month = iter(range(10_000))


def _a_day_of_the_month(ws: Workspace, today: date) -> Any:
    """``ranking --computed`` as asked on each day of the month of ``today`` in turn, from its first, before
    ``today`` (then from the first again): the month under way holds its facts (a new day's after the store's
    last holds almost none), all of its compounds worked out for the day, and the month before for those one
    of whose dates has passed since the day before."""
    day = today.replace(day=1) + timedelta(days=next(_of_the_month) % max(1, today.day - 1))
    return horserace.computed_ranking(ws, None, "compound", day)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--today", type=date.fromisoformat, default=date(2021, 7, 31))
    args = parser.parse_args()
    gc.set_threshold(YOUNG_OBJECTS, 10, 10)  # as every command of the CLI runs
    if "://" not in args.db and not Path(args.db).exists():
        raise SystemExit(f"no store at {args.db}")
    ws = Workspace(args.db, config_path="/dev/null")
    calls, _building = board_calls(ws, args.today, "bench-bureau")
    random.seed(7)
    for name, call in calls.items():
        call()
        timings = []
        for _ in range(args.runs):
            started = time.perf_counter()
            call()
            timings.append(time.perf_counter() - started)
        p50, p95 = percentile(timings, 0.5) * 1000, percentile(timings, 0.95) * 1000
        print(f"{name:34} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
    ws.close()


if __name__ == "__main__":
    main()

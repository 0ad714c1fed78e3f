"""Crash stress (issue 7): the kinds of crashes of tests/integration/test_crash_safety.py, at many
random points. Run by hand:

    python benchmarks/crash_stress.py [--runs 100] [--seed 7] [--db postgresql://...]

Each run takes a small store (the demo's 3 compounds to 2021-04-15, or a prefix of its export), runs
one ``renovation`` command in a subprocess that kills itself with SIGKILL at a random crash point
(``RENOVATION_CRASH_AT``, see renovation/faults.py), then checks what is left:

- write (``after_store``): every event of the command is stored (as many as a clean run stores);
- demo (``after_store:N``, one transaction per simulated day): the store is a prefix of the full demo;
- import into an empty store or into a prefix (``import_batch:N``, random batch size): nothing of the
  import is stored; re-run, the store equals a clean import (events, ids, chain);
- rebuild (``rebuild_cleared``, ``catch_up_apply``, ``catch_up_batch``, random projections) and
  catch-up of a store whose read models lag (random prefix, random read or ``projections follow``):
  every projection is at a position it really reached; the next read (or a rebuild) completes it;

and in every case that ``audit verify`` passes and that the read models, caught up, equal a clean
rebuild into a fresh database row by row. A crash point beyond what the command reaches lets it
finish (counted as "finished"); the checks still run. Prints a summary; exits 1 on any failure.
With ``--db`` (a PostgreSQL URL) each run uses a schema of its own there instead of an SQLite file.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from contextlib import chdir
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import create_engine, select

from renovation.cli import cli
from renovation.projections import NAMES, all_projections, read_models
from renovation.projections.runner import ReadModels, directory
from renovation.services.application import RenovationApp
from renovation.store.chain import ChainStore

DAY = "2021-04-15"
CLI = [sys.executable, "-c", "from renovation.cli import cli; cli()"]
ENV: dict[str, str | None] = {
    "LC_ALL": None, "LC_MESSAGES": None, "LANG": "C.UTF-8", "RENOVATION_TZ": "Asia/Shanghai",
    "RENOVATION_TODAY": DAY, "RENOVATION_DB": None, "RENOVATION_USER": None, "RENOVATION_CRASH_AT": None,
    "RENOVATION_IMPORT_BATCH": None,
}
READ = {
    "progress": ("progress", "--json"),
    "quality": ("quality", "--json"),
    "ledger": ("ledger", "JM", "--json"),
    "ranking": ("ranking", "--json"),
    "feedback": ("feedback", "list", "--json"),
}
FOLLOW = ("projections", "follow", "--seconds", "0")
WRITES = {
    "inspect": ("inspect", "JM", "--kind", "patrol", "--at", f"{DAY}T10:00", "--finding", "safety:major:脚手架"),
    "meter": ("meter", "JM", "--item", "010101", "--period", "2021-04", "--quantity", "3.5"),
    "meter-correct": ("meter", "correct", "JM", "M1", "--quantity", "1.0", "--reason", "复核"),
    "variation": ("variation", "JM", "--item", "010101", "--quantity", "200", "--reason", "变更令"),
    "material-sample": ("material", "sample", "LY", "--material", "钢筋", "--batch", "LY-B99", "--regime", "blind"),
    "material-result": ("material", "result", "LY", "S9", "--fail", "--lab", "检测站", "--at", f"{DAY}T12:00"),
    "feedback": ("feedback", "LY", "--channel", "hotline", "--text", "噪音", "--at", f"{DAY}T08:00"),
    "finding-close": ("finding", "close", "LY", "F30", "--note", "复查合格", "--at", f"{DAY}T11:00"),
    "finding-rectify": ("finding", "rectify", "JM", "F21", "--note", "已整改", "--at", f"{DAY}T09:00"),
    "complete": ("construction", "complete", "YH", "--date", DAY),
    "score": ("score", "JM", "--period", "2021-04", "--quality", "90", "--safety", "85", "--progress", "80",
              "--civilized", "88", "--satisfaction", "92"),
}


class Failed(AssertionError):
    pass


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


# ---------------------------------------------------------------------------------------- commands

def killed(db: str, args: tuple[str, ...], at: str, env: dict[str, str] | None = None) -> bool:
    """Run the command in a subprocess crashing at ``at``: True if it died by SIGKILL, False if it
    finished (the point was not reached that often)."""
    environment = {k: v for k, v in os.environ.items() if k not in ENV}
    environment.update({k: v for k, v in ENV.items() if v is not None})
    environment.update({"RENOVATION_CRASH_AT": at, "RENOVATION_USER": "stress", **(env or {})})
    done = subprocess.run([*CLI, "--db", db, *args], env=environment, capture_output=True, timeout=300)
    if done.returncode == -signal.SIGKILL:
        return True
    check(done.returncode == 0, f"{args} at {at}: exit {done.returncode}: {done.stderr.decode()[-500:]}")
    return False


def run(db: str, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", db, "--user", "stress", *args], env=ENV)
    check(result.exit_code == 0, f"{args}: exit {result.exit_code}: {result.output[-500:]} {result.exception!r}")
    return result.stdout


def read(db: str, *args: str) -> Any:
    return json.loads(run(db, *args))


def events_of(db: str) -> list[tuple[Any, ...]]:
    app = RenovationApp(db)
    try:
        return [(n.id, str(n.originator_id), n.originator_version, n.topic, json.loads(n.state))
                for n in app.iter_notifications()]
    finally:
        app.close()


def chain_of(db: str) -> list[tuple[int, int, str]]:
    app = RenovationApp(db)
    try:
        return list(ChainStore(app.backend).links())
    finally:
        app.close()


def positions(db: str) -> dict[str, tuple[int, int]]:
    return {row["projection"]: (row["position"], row["head"]) for row in read(db, "projections", "status", "--json")}


def tables(models: ReadModels) -> dict[str, list[tuple[Any, ...]]]:
    found = {}
    with models.engine.connect() as connection:
        for projection in models.projections.values():
            for table in projection.tables:
                found[table.name] = sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
        found[directory.name] = sorted(tuple(row) for row in connection.execute(select(directory)))
    return found


def catch_up(db: str) -> None:
    app = RenovationApp(db)
    models = read_models(app)
    try:
        models.catch_up()
    finally:
        models.close()
        app.close()


def check_consistent(db: str, scratch: Path) -> None:
    """The chain verifies; the read models, caught up, equal a clean rebuild into a fresh database."""
    verified = run(db, "audit", "verify")
    check("the chain is intact" in verified, f"audit verify: {verified}")
    app = RenovationApp(db)
    live = read_models(app)
    fresh = ReadModels(app, all_projections(), engine=create_engine(f"sqlite:///{scratch / uuid.uuid4().hex}.db"))
    try:
        live.catch_up()
        fresh.rebuild()
        check(tables(live) == tables(fresh), "the read models differ from a clean rebuild")
    finally:
        live.close()
        fresh.close()
        app.close()


# ---------------------------------------------------------------------------------------- stores

class Stores:
    """The demo store, its export, and a way to get a fresh store (an SQLite file or a PG schema)."""

    def __init__(self, root: Path, pg_url: str | None) -> None:
        self.root = root
        self.pg_url = pg_url
        self.schemas: list[str] = []
        self.demo = str(root / "demo.db")
        environment = {k: v for k, v in {**os.environ, **ENV}.items() if v is not None}
        subprocess.run([*CLI, "--db", self.demo, "demo", "--compounds", "3", "--until", DAY], env=environment,
                       check=True, capture_output=True)
        catch_up(self.demo)
        self.export = root / "demo.jsonl"
        run(self.demo, "export", str(self.export))
        self.lines = self.export.read_text(encoding="utf-8").splitlines(True)
        self.demo_events = events_of(self.demo)
        self.clean_import = self.fresh()
        run(self.clean_import, "import", str(self.export))
        catch_up(self.clean_import)
        self.clean_events = events_of(self.clean_import)
        self.clean_chain = chain_of(self.clean_import)
        self.written: dict[str, int] = {}  # events a clean run of each write stores

    def fresh(self) -> str:
        if self.pg_url is None:
            return str(self.root / f"{uuid.uuid4().hex}.db")
        schema = f"stress_{uuid.uuid4().hex[:12]}"
        self.schemas.append(schema)
        return f"{self.pg_url}{'&' if '?' in self.pg_url else '?'}schema={schema}"

    def copy_of_demo(self) -> str:
        if self.pg_url is None:
            target = self.fresh()
            shutil.copy(self.demo, target)
            return target
        target = self.fresh()
        run(target, "import", str(self.export))
        catch_up(target)
        return target

    def prefix(self, lines: int, *, caught_up: bool) -> str:
        db = self.fresh()
        part = self.root / f"prefix-{uuid.uuid4().hex}.jsonl"
        part.write_text("".join(self.lines[:lines]), encoding="utf-8")
        run(db, "import", str(part))
        part.unlink()
        if caught_up:
            catch_up(db)
        return db

    def same_ids(self) -> bool:
        return self.pg_url is None  # PostgreSQL's sequences skip the ids a rolled-back import took

    def drop(self) -> None:
        if not self.schemas:
            return
        import psycopg
        from psycopg import sql

        assert self.pg_url is not None
        with psycopg.connect(self.pg_url.split("?")[0], autocommit=True) as connection:
            for schema in self.schemas:
                connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


# ---------------------------------------------------------------------------------------- scenarios

def visit(rng: random.Random, reach: int) -> int:
    """Which visit of a crash point to crash at: one the command reaches (1..reach), or now and then
    one past it, where the command finishes."""
    return reach + 1 if rng.random() < 0.1 else rng.randint(1, max(reach, 1))


def write_scenario(stores: Stores, rng: random.Random, scratch: Path) -> str:
    name = rng.choice(sorted(WRITES))
    if name not in stores.written:
        reference = stores.copy_of_demo()
        run(reference, *WRITES[name])
        stores.written[name] = len(events_of(reference)) - len(stores.demo_events)
    db = stores.copy_of_demo()
    before = events_of(db)
    crashed = killed(db, WRITES[name], "after_store")
    after = events_of(db)
    check(after[: len(before)] == before, "events stored before the command changed")
    check(len(after) - len(before) == stores.written[name],
          f"{len(after) - len(before)} events stored, a clean run stores {stores.written[name]}")
    check_consistent(db, scratch)
    return f"write {name} at after_store" + ("" if crashed else " (finished)")


def demo_scenario(stores: Stores, rng: random.Random, scratch: Path) -> str:
    db = stores.fresh()
    at = f"after_store:{visit(rng, 48)}"  # 48 simulated days save events
    crashed = killed(db, ("demo", "--compounds", "3", "--until", DAY), at)
    stored = events_of(db)
    check(stored == stores.demo_events[: len(stored)], "the killed demo's events are not a prefix of the demo")
    check(bool(stored), "nothing stored")
    check_consistent(db, scratch)
    return f"demo at {at}" + ("" if crashed else " (finished)")


def import_scenario(stores: Stores, rng: random.Random, scratch: Path) -> str:
    total = len(stores.lines)
    prefix = rng.choice([0, rng.randint(1, total - 1)])
    db = stores.prefix(prefix, caught_up=rng.random() < 0.5) if prefix else stores.fresh()
    before = events_of(db) if prefix else []
    status = positions(db)
    size = rng.randint(1, 150)
    batches = -(-(total - prefix) // size)
    at = f"import_batch:{visit(rng, batches)}"
    crashed = killed(db, ("import", str(stores.export)), at, {"RENOVATION_IMPORT_BATCH": str(size)})
    if crashed:
        check(events_of(db) == before, "a killed import left events behind")
        check(positions(db) == status, "a killed import moved the read models")
        run(db, "import", str(stores.export))
    stored = events_of(db)
    if stores.same_ids():
        check(stored == stores.clean_events, "the store differs from a clean import")
        check(chain_of(db) == stores.clean_chain, "the chain differs from a clean import's")
    else:
        check([e[1:] for e in stored] == [e[1:] for e in stores.clean_events], "the store differs from a clean import")
    check_consistent(db, scratch)
    what = f"import of {total - prefix} after {prefix} in batches of {size} at {at}"
    return what + ("" if crashed else " (finished)")


def relevant(db: str) -> dict[str, int]:
    """Events each projection has yet to apply."""
    app = RenovationApp(db)
    models = read_models(app)
    try:
        counts = {}
        with models.engine.connect() as connection:
            from renovation.projections.base import position_of

            for name, projection in models.projections.items():
                start = position_of(connection, name) + 1
                counts[name] = len(app.recorder.select_notifications(start, 10**6, topics=models.topics(projection)))
        return counts
    finally:
        models.close()
        app.close()


def resume(db: str, rng: random.Random, behind: set[str]) -> None:
    if rng.random() < 0.3:
        run(db, "projections", "rebuild")
    else:
        for name in sorted(behind):
            read(db, *READ[name])
    status = positions(db)
    check(all(status[name][0] == status[name][1] for name in behind), f"still behind after resuming: {status}")


def rebuild_scenario(stores: Stores, rng: random.Random, scratch: Path) -> str:
    db = stores.copy_of_demo()
    chosen = list(NAMES) if rng.random() < 0.5 else rng.sample(list(NAMES), rng.randint(1, 4))
    chosen.sort(key=list(NAMES).index)
    counts = relevant_all(db)
    point = rng.choice(["rebuild_cleared", "catch_up_apply", "catch_up_apply", "catch_up_batch"])
    reach = {"rebuild_cleared": len(chosen), "catch_up_batch": len(chosen),
             "catch_up_apply": sum(counts[name] for name in chosen)}[point]
    at = f"{point}:{visit(rng, reach)}"
    before = positions(db)
    args = ("projections", "rebuild", *(chosen if len(chosen) < len(NAMES) else []))
    crashed = killed(db, args, at)
    status = positions(db)
    for name, (position, head) in status.items():
        check(position in (0, head) if name in chosen else (position, head) == before[name],
              f"{name} at {position} of {head} after a rebuild killed at {at}")
    resume(db, rng, {name for name, (position, head) in status.items() if position < head})
    check_consistent(db, scratch)
    return f"rebuild {','.join(chosen)} at {at}" + ("" if crashed else " (finished)")


def relevant_all(db: str) -> dict[str, int]:
    """Events of the whole log each projection applies (what a rebuild replays)."""
    app = RenovationApp(db)
    models = read_models(app)
    try:
        return {name: len(app.recorder.select_notifications(1, 10**6, topics=models.topics(projection)))
                for name, projection in models.projections.items()}
    finally:
        models.close()
        app.close()


def catch_up_scenario(stores: Stores, rng: random.Random, scratch: Path) -> str:
    prefix = rng.randint(1, len(stores.lines) - 1)
    db = stores.prefix(prefix, caught_up=True)
    run(db, "import", str(stores.export))
    counts = relevant(db)
    before = positions(db)
    name = rng.choice([*NAMES, "follow"])
    args = FOLLOW if name == "follow" else READ[name]
    covered = list(NAMES) if name == "follow" else [name]
    point = rng.choice(["catch_up_apply", "catch_up_apply", "catch_up_batch"])
    reach = sum(counts[n] for n in covered) if point == "catch_up_apply" else len(covered)
    at = f"{point}:{visit(rng, reach)}"
    crashed = killed(db, args, at)
    status = positions(db)
    for projection, (position, head) in status.items():
        check(position in (before[projection][0], head), f"{projection} at {position}: neither where it was nor {head}")
        check(projection in covered or position == before[projection][0], f"{projection} moved, not being read")
    resume(db, rng, {n for n, (position, head) in status.items() if position < head})
    check_consistent(db, scratch)
    return f"catch-up by {name} after {prefix} at {at}" + ("" if crashed else " (finished)")


SCENARIOS: dict[str, Callable[[Stores, random.Random, Path], str]] = {
    "write": write_scenario,
    "demo": demo_scenario,
    "import": import_scenario,
    "rebuild": rebuild_scenario,
    "catch-up": catch_up_scenario,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--db", default=None, help="a postgresql:// URL: run on PostgreSQL schemas instead of SQLite")
    parser.add_argument("--verbose", action="store_true", help="print every run")
    options = parser.parse_args()
    seed = options.seed if options.seed is not None else random.randrange(10**6)
    rng = random.Random(seed)
    results: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    failures: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder, chdir(folder):
        root = Path(folder)
        stores = Stores(root, options.db)
        built = time.perf_counter() - started
        try:
            for number in range(1, options.runs + 1):
                kind = rng.choice([k for k in SCENARIOS if not (options.db and k == "demo")])
                scratch = root / f"run-{number}"
                scratch.mkdir()
                try:
                    what = SCENARIOS[kind](stores, rng, scratch)
                except Exception as error:  # noqa: BLE001 - every failure is reported, the runs go on
                    results[kind]["failed"] += 1
                    detail = error if isinstance(error, Failed) else traceback.format_exc(limit=3)
                    failures.append(f"run {number} ({kind}): {detail}")
                    print(f"{number:4} {kind:9} FAILED: {detail}", flush=True)
                    continue
                results[kind]["finished" if "(finished)" in what else "killed"] += 1
                if options.verbose:
                    print(f"{number:4} {kind:9} ok: {what}", flush=True)
                shutil.rmtree(scratch, ignore_errors=True)
        finally:
            stores.drop()
    elapsed = time.perf_counter() - started
    backend = "PostgreSQL" if options.db else "SQLite"
    print(f"\ncrash stress on {backend}, seed {seed}: {options.runs} runs in {elapsed:.0f} s "
          f"(stores built in {built:.1f} s)")
    print(f"{'scenario':10} {'runs':>5} {'killed':>7} {'finished':>9} {'failed':>7}")
    for kind in SCENARIOS:
        counts = results[kind]
        total = sum(counts.values())
        print(f"{kind:10} {total:5} {counts['killed']:7} {counts['finished']:9} {counts['failed']:7}")
    if failures:
        print(f"\n{len(failures)} FAILED:")
        for failure in failures:
            print(" ", failure)
        sys.exit(1)
    print("all checks passed: every command all-or-nothing, read models equal to a clean rebuild, chain intact")


if __name__ == "__main__":
    main()

"""Benchmark 7: the growth curve. For each size of programme (compounds), on each backend: build the
demo, export it, import the export into a fresh store, catch up every read model of the imported
store, rebuild them, then time each board and a recorded inspection in-process; the database's
size; the peak memory of each command. Writes the figures as JSON and plots each against the size
(PNG files next to this script).

    python benchmarks/growth.py --sqlite 53,500,3000 --postgres URL --pg-sizes 53,500,3000,12000
    python benchmarks/growth.py --plot benchmarks/growth.json        (plot figures measured before)

Each command runs in a child process under ``/usr/bin/time``, so its wall time and its maximum
resident set are its own. The boards are called through the same services as the CLI (each catching
up its read models first), as a bureau user with no ``renovation.toml``: it sees every compound.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from common import WORK, percentile, store_bytes

HERE = Path(__file__).resolve().parent
TODAY = date(2021, 7, 31)
CLI = [sys.executable, "-c", "from renovation.cli import cli; cli()"]


def timed(command: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak resident megabytes of a child command (which must succeed)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%M", *command], cwd=cwd,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command[3:])} failed: {done.stderr.strip()[-500:]}")
        return seconds, int(report.read().strip().splitlines()[-1]) / 1024


def catch_up_script(db: str) -> list[str]:
    return [sys.executable, "-c",
            "import sys; from renovation.services.application import RenovationApp; "
            "from renovation.projections import read_models; "
            "app = RenovationApp(sys.argv[1]); models = read_models(app); models.catch_up(); "
            "models.close(); app.close()", db]


def measure_latency(db: str, runs: int) -> dict[str, Any]:
    """In this process: p50/p95 of each board (its read models caught up first, as the CLI does)
    and of one recorded inspection, taking turns; the event count and the database's bytes."""
    from boards import board_calls

    from renovation.services.workspace import Workspace

    ws = Workspace(db)
    app = ws.app
    calls, building = board_calls(ws, TODAY, "bench-bureau")
    code = building[0]
    calls["inspection"] = lambda: app.record_inspection(random.choice(building), "patrol", user="bench-supervisor")
    random.seed(7)
    timings: dict[str, list[float]] = {name: [] for name in calls}
    for call in calls.values():  # once each, untimed: the first call of a kind loads its modules
        call()
    # A new day's board keeps every compound's scores of that day (one kept row a compound and period): taken
    # in turns with the others, it would make each of theirs a new day's too. It is timed after them.
    later = {name: calls.pop(name) for name in ("ranking, a new day",)}
    for turns in (calls, later):
        for _ in range(runs):
            for name, call in turns.items():
                begun = time.perf_counter()
                call()
                timings[name].append(time.perf_counter() - begun)
    figures: dict[str, Any] = {
        name: {"p50_ms": percentile(values, 0.5) * 1000, "p95_ms": percentile(values, 0.95) * 1000}
        for name, values in timings.items()
    }
    figures["events"] = app.event_count()
    figures["bytes"] = store_bytes(app, db)
    figures["first_code"] = code
    return figures


class Store:
    """A store of one run: an SQLite file, or a PostgreSQL schema of its own (dropped afterwards)."""

    def __init__(self, backend: str, name: str, postgres: str | None) -> None:
        self.backend, self.postgres = backend, postgres
        if backend == "sqlite":
            self.path = WORK / f"growth-{name}.db"
            self.drop()
            self.db = str(self.path)
        else:
            assert postgres is not None
            self.schema = f"growth_{name.replace('-', '_')}_{uuid.uuid4().hex[:6]}"
            self.db = f"{postgres}{'&' if '?' in postgres else '?'}schema={self.schema}"

    def vacuum(self) -> None:
        """What autovacuum would have done by the time the boards are read (this machine's server runs
        with it off, and a rebuild leaves every old row of the read models dead: docs/scaling.md)."""
        if self.backend == "sqlite":
            return
        import psycopg

        with psycopg.connect(self.postgres, autocommit=True) as connection:
            tables = connection.execute("SELECT relname FROM pg_stat_user_tables WHERE schemaname = %s",
                                        (self.schema,)).fetchall()
            for (table,) in tables:
                connection.execute(f'VACUUM (ANALYZE) "{self.schema}"."{table}"')

    def drop(self) -> None:
        if self.backend == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            return
        import psycopg

        with psycopg.connect(self.postgres, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")


def one_size(backend: str, compounds: int, postgres: str | None, runs: int, transfer: bool = True) -> dict[str, Any]:
    """The figures of one size on one backend. Without ``transfer`` (to save the time of the largest
    size): no export and import, the read models rebuilt on the built store (the rebuild is its
    first catch-up from empty tables) and the boards timed there."""
    figures: dict[str, Any] = {"backend": backend, "compounds": compounds}
    source = Store(backend, f"{compounds}-built", postgres)
    target = Store(backend, f"{compounds}-imported", postgres)
    export = WORK / f"growth-{backend}-{compounds}.jsonl"
    with tempfile.TemporaryDirectory() as folder:  # no renovation.toml: every user sees everything
        cwd = Path(folder)
        try:
            figures["build_s"], figures["build_mb"] = timed([*CLI, "--db", source.db, "demo", "--compounds",
                                                              str(compounds)], cwd)
            measured = source
            if transfer:
                figures["export_s"], figures["export_mb"] = timed([*CLI, "--db", source.db, "export", str(export)],
                                                                  cwd)
                source.drop()
                figures["import_s"], figures["import_mb"] = timed([*CLI, "--db", target.db, "import", str(export)],
                                                                  cwd)
                figures["catch_up_s"], figures["catch_up_mb"] = timed(catch_up_script(target.db), cwd)
                measured = target
            figures["rebuild_s"], figures["rebuild_mb"] = timed([*CLI, "--db", measured.db, "projections",
                                                                  "rebuild"], cwd)
            measured.vacuum()
            done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--latency", measured.db,
                                   "--runs", str(runs)], cwd=cwd, capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"latency failed: {done.stderr.strip()[-800:]}")
            figures.update(json.loads(done.stdout))
        finally:
            source.drop()
            target.drop()
            export.unlink(missing_ok=True)
    if transfer:
        figures["import_events_per_s"] = figures["events"] / figures["import_s"]
    return figures


PLOTS = {
    "growth-times.png": ("seconds", ["build_s", "import_s", "catch_up_s", "rebuild_s"]),
    "growth-latency.png": ("p95, ms", ["progress", "quality", "ranking", "ranking recorded", "ranking --computed",
                                        "ranking, a new day", "ledger", "feedback", "finding list", "digest",
                                        "inspection"]),
    "growth-memory.png": ("peak resident MB", ["build_mb", "import_mb", "catch_up_mb", "rebuild_mb"]),
    "growth-size.png": ("database bytes per event", ["bytes_per_event"]),
}


def plot(results: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for row in results:
        row["bytes_per_event"] = row["bytes"] / row["events"]
    for file, (label, keys) in PLOTS.items():
        figure, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=False)
        for axis, backend in zip(axes, ("sqlite", "postgres"), strict=True):
            rows = sorted((row for row in results if row["backend"] == backend), key=lambda row: row["compounds"])
            if not rows:
                axis.set_visible(False)
                continue
            for index, key in enumerate(keys):
                points = [(row["compounds"], row[key]["p95_ms"] if isinstance(row[key], dict) else row[key])
                          for row in rows if key in row]
                # past the ten colours of the cycle, another marker and line: no two lines look alike
                axis.plot([size for size, _ in points], [value for _, value in points], marker="os"[index // 10],
                          linestyle="-" if index < 10 else "--", label=key)
            axis.set_xscale("log")
            axis.set_yscale("log" if file != "growth-size.png" else "linear")
            axis.set_xlabel("compounds")
            axis.set_ylabel(label)
            axis.set_title({"sqlite": "SQLite", "postgres": "PostgreSQL"}[backend])
            axis.grid(True, which="both", alpha=0.3)
            axis.legend(fontsize=8)
        figure.tight_layout()
        figure.savefig(HERE / file, dpi=90)
        plt.close(figure)


def table(results: list[dict[str, Any]]) -> str:
    """The figures as a text table per backend, with each one's growth: the exponent k of size**k
    between the smallest and the largest size measured (1 is linear; the build, import and catch-up
    grow with the events, which grow with the compounds)."""
    import math

    keys = ["events", "build_s", "import_s", "import_events_per_s", "catch_up_s", "rebuild_s", "bytes_per_event",
            "build_mb", "import_mb", "catch_up_mb", "rebuild_mb", *PLOTS["growth-latency.png"][1]]
    lines = []
    for backend in ("sqlite", "postgres"):
        rows = sorted((row for row in results if row["backend"] == backend), key=lambda row: row["compounds"])
        if not rows:
            continue
        lines.append(f"{backend}: compounds " + " ".join(f"{row['compounds']:>12}" for row in rows) + "   growth")
        for key in keys:
            values = []
            for row in rows:
                value = row.get(key)
                if key == "bytes_per_event":
                    value = row["bytes"] / row["events"]
                values.append(value["p95_ms"] if isinstance(value, dict) else value)
            shown = " ".join(f"{value:>12.1f}" if value is not None else f"{'-':>12}" for value in values)
            known = [(row["compounds"], value) for row, value in zip(rows, values, strict=True) if value]
            growth = ""
            if len(known) >= 2 and known[-1][0] > known[0][0]:
                growth = f"size^{math.log(known[-1][1] / known[0][1]) / math.log(known[-1][0] / known[0][0]):.2f}"
            label = f"{key} p95 ms" if key in PLOTS["growth-latency.png"][1] else key
            lines.append(f"  {label:26} {shown}   {growth}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sqlite", default="53,500,3000", help="sizes on SQLite (compounds), comma-separated")
    parser.add_argument("--postgres", default=None, metavar="URL")
    parser.add_argument("--pg-sizes", default="53,500,3000,12000")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--no-transfer", default="", metavar="SIZES",
                        help="sizes measured without export and import (rebuild and boards on the built store)")
    parser.add_argument("--out", default=str(HERE / "growth.json"))
    parser.add_argument("--latency", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--plot", default=None, metavar="JSON",
                        help="only plot (and tabulate) the figures in this file")
    args = parser.parse_args()
    if args.latency:
        print(json.dumps(measure_latency(args.latency, args.runs)))
        return
    if args.plot:
        results = json.loads(Path(args.plot).read_text())
        plot(results)
        print(table(results))
        return
    WORK.mkdir(exist_ok=True)
    os.environ.pop("RENOVATION_CONFIG", None)
    plan = [("sqlite", int(size)) for size in args.sqlite.split(",") if size]
    if args.postgres:
        plan += [("postgres", int(size)) for size in args.pg_sizes.split(",") if size]
    results: list[dict[str, Any]] = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else []
    for backend, compounds in plan:
        results = [row for row in results if (row["backend"], row["compounds"]) != (backend, compounds)]
        untransferred = {int(size) for size in args.no_transfer.split(",") if size}
        row = one_size(backend, compounds, args.postgres, args.runs, transfer=compounds not in untransferred)
        results.append(row)
        Path(args.out).write_text(json.dumps(results, indent=1, ensure_ascii=False))
        print(json.dumps(row, ensure_ascii=False), flush=True)
    plot(results)
    print(table(results))


if __name__ == "__main__":
    main()

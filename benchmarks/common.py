"""Shared by the benchmarks: building a demo store once, timing, and medians."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

WORK = Path(__file__).resolve().parent / ".work"


def demo_store(compounds: int = 53, until: str = "2021-07-31") -> Path:
    """An SQLite demo store (built once, then reused) and its JSON-lines export."""
    WORK.mkdir(exist_ok=True)
    db = WORK / f"demo-{compounds}.db"
    export = WORK / f"demo-{compounds}.jsonl"
    if not db.exists():
        run_cli("--db", str(db), "demo", "--compounds", str(compounds), "--until", until)
    if not export.exists():
        run_cli("--db", str(db), "export", str(export))
    return db


def run_cli(*args: str) -> None:
    subprocess.run([sys.executable, "-c", "from renovation.cli import cli; cli()", *args], check=True,
                   stdout=subprocess.DEVNULL)


def seconds(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def fastest(call: Callable[[], Any], runs: int) -> float:
    """The seconds of the fastest of ``runs`` calls."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def median_seconds(command: list[str], runs: int) -> float:
    return paired_medians([command], runs)[0]


def paired_medians(commands: list[list[str]], runs: int) -> list[float]:
    """The median wall time of each command, run in turn (one of each, ``runs`` times), so that a
    slower or faster spell of the machine falls on all of them alike."""
    timings: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for command, times in zip(commands, timings, strict=True):
            started = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            times.append(time.perf_counter() - started)
    return [statistics.median(times) for times in timings]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def store_bytes(app: Any, db: str) -> int:
    """The bytes of a store: its SQLite file and WAL, or every table of its PostgreSQL schema (indexes
    and TOAST included)."""
    backend = app.backend
    if backend.is_postgres:
        schema = backend.env.get("POSTGRES_SCHEMA") or "public"
        (row,) = backend.query("SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                               "JOIN pg_namespace n ON n.oid = c.relnamespace "
                               "WHERE n.nspname = ? AND c.relkind = 'r'", (schema,))
        return int(row[0])
    return sum(Path(db + suffix).stat().st_size for suffix in ("", "-wal") if Path(db + suffix).exists())

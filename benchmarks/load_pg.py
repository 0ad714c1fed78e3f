"""Load: 40 people at once on PostgreSQL, each through a database login of their own, for five minutes.

A fresh schema (``load_<hex>``) in the database of ``--postgres`` is filled with ``renovation demo``
as the superuser; a ``renovation.toml`` names 30 supervisors, 6 contractors (each a construction unit
building demo compounds under construction), 4 auditors and 1 bureau person, and ``db roles --apply
--prefix rl<hex>`` gives each a login (``rl<hex>_u_<name>``) and the projector its own
(``rl<hex>_projector``). Then, while ``renovation projections follow`` runs under the projector's
login, 40 OS processes (multiprocessing, spawn) each run the click command in-process, one call after
another without a pause, for ``--seconds``:

- 30 supervisors: ``inspect CODE --kind patrol|morning --at ... [--finding ...]`` on a compound under
  construction (a morning round at a morning hour of the store's zone, a patrol some minutes ago;
  about half with findings);
- 6 contractors: ``ranking``, ``progress``, ``quality``, ``finding list``, ``material list`` (``--json``);
- 4 auditors: ``audit replay CODE``, ``audit history CODE``, ``ledger CODE`` (``--json``).

A call whose command exits non-zero (or raises) is an error; the note a reader prints when the boards
are behind the log is not. It prints, per kind of call, the count, the errors and the p50/p95/p99
latency of the calls that succeeded, then each distinct error message (its first lines) with its
count, and the most server connections the test's logins held at once. Then it checks, as the
superuser, that the store gained exactly one event per inspection that reported success, that no
command id is stored twice, that ``audit verify`` passes (an auditor's login) and, once the follower
has caught up and stopped, that ``audit boards`` passes. The schema and every ``rl<hex>_`` role are
dropped at the end, also on failure (or SIGTERM). Exits 1 if a check fails.

    python benchmarks/load_pg.py [--postgres URL] [--seconds 300] [--pool-size N]

``--pool-size N`` sets ``POSTGRES_POOL_SIZE`` for every process (eventsourcing's connection pool; the
tracker keeps one connection in it). While it runs, the test's logins hold nearly every connection
slot of the server (``max_connections``): other users of the same server may be refused meanwhile.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import multiprocessing
import os
import queue
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import percentile

CLI = "from renovation.cli import cli; cli()"
#: The follower is stopped as Ctrl-C would stop it, even when started from a shell that ignores SIGINT.
FOLLOW = f"import signal; signal.signal(signal.SIGINT, signal.default_int_handler); {CLI}"
SUPERVISORS, CONTRACTORS, AUDITORS = 30, 6, 4
BUREAU = "bur01"
EVENTS_TABLE = "renovation_events"
#: The contractors' calls and the auditors' (CODE is a compound's code), taken in turn.
BOARDS = (("ranking", "--json"), ("progress", "--json"), ("quality", "--json"), ("finding", "list", "--json"),
          ("material", "list", "--json"))
AUDITS = (("audit", "replay", "CODE", "--json"), ("audit", "history", "CODE", "--json"), ("ledger", "CODE", "--json"))
FINDINGS = ("quality:minor:抹灰空鼓@{n}号楼", "safety:major:脚手架未挂安全网@{n}号楼", "civilized:minor:渣土未苫盖",
            "quality:major:保温板粘结不牢@{n}号楼", "safety:critical:临边无防护@{n}号楼")
#: The command modules and use cases a client loads before the clock starts (the CLI loads them lazily).
MODULES = ("renovation.cli.site", "renovation.cli.boards", "renovation.cli.audit", "renovation.services.workspace",
           "renovation.services.application", "renovation.services.boards", "renovation.projections")
STALE_NOTE = "note: the boards are"


@dataclass(frozen=True)
class Client:
    name: str
    role: str  # supervisor, contractor or auditor
    url: str
    config: str
    zone: str
    building: tuple[str, ...]  # compounds under construction (where supervisors inspect)
    metered: tuple[str, ...]  # compounds past registration (what auditors replay)
    seed: int


@dataclass
class Tally:
    """What one client measured: the seconds of each call, of each that succeeded, errors by message,
    and the inspections' kinds."""

    name: str
    seconds: dict[str, list[float]] = field(default_factory=dict)
    succeeded: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, Counter[str]] = field(default_factory=dict)
    inspections: Counter[str] = field(default_factory=Counter)


# --- one client --------------------------------------------------------------------------------------------


def run_in_process(args: list[str]) -> str | None:
    """Run the click command in this process; None if it exited 0, else the first lines it said."""
    from renovation.cli import cli

    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            cli.main(args=args, standalone_mode=False)
    except SystemExit as exit_:
        code = exit_.code
    except Exception as error:  # noqa: BLE001 - an error that escaped the CLI is counted and named, the load goes on
        return f"uncaught {type(error).__name__}: {' '.join(str(error).split())[:300]}"
    if code in (0, None):
        return None
    said = [line.strip() for line in err.getvalue().splitlines() if line.strip() and not line.startswith(STALE_NOTE)]
    return f"exit {code}: " + (" | ".join(said[:2])[:300] if said else "(nothing on stderr)")


def next_call(client: Client, rng: random.Random, turn: int) -> tuple[str, list[str]]:
    """The kind of call (the name in the table) and the command line of this client's next call."""
    who = ["--db", client.url, "--user", client.name, "--config", client.config]
    if client.role == "supervisor":
        kind = "morning" if rng.random() < 0.3 else "patrol"
        at = inspection_time(client, rng, kind)
        args = [*who, "inspect", rng.choice(client.building), "--kind", kind, "--at", at]
        if rng.random() < 0.5:
            for _ in range(rng.choice((1, 1, 2, 3))):
                args += ["--finding", rng.choice(FINDINGS).format(n=rng.randint(1, 12))]
        return "inspect", args
    if client.role == "contractor":
        words = list(BOARDS[turn % len(BOARDS)])
        return " ".join(words), [*who, *words]
    words = list(AUDITS[turn % len(AUDITS)])
    code = rng.choice(client.metered)
    return " ".join(words).replace("CODE ", ""), [*who, *(code if word == "CODE" else word for word in words)]


def inspection_time(client: Client, rng: random.Random, kind: str) -> str:
    """A plausible business time, never after now: a patrol 1-30 minutes ago; a morning round between
    06:30 and 07:59 of the store's zone, today if that is past, else yesterday."""
    now = datetime.now(ZoneInfo(client.zone))
    if kind == "patrol":
        at = now - timedelta(seconds=rng.randint(60, 1800))
    else:
        at = now.replace(hour=6, minute=30, second=0, microsecond=0) + timedelta(minutes=rng.randint(0, 89))
        if at > now - timedelta(minutes=1):
            at -= timedelta(days=1)
    return at.isoformat(timespec="seconds")


def client_main(client: Client, seconds: float, ready: Any, results: Any) -> None:
    """One person: load the CLI, wait for everyone, then call for ``seconds``; put a Tally on ``results``."""
    for module in MODULES:
        importlib.import_module(module)
    rng = random.Random(client.seed)
    tally = Tally(client.name)
    ready.wait(timeout=900)
    deadline = time.perf_counter() + seconds
    turn = rng.randrange(len(BOARDS) * len(AUDITS))  # the clients of one role do not call in step
    while time.perf_counter() < deadline:
        kind, args = next_call(client, rng, turn)
        turn += 1
        started = time.perf_counter()
        error = run_in_process(args)
        took = time.perf_counter() - started
        tally.seconds.setdefault(kind, []).append(took)
        if error is not None:  # the same message from every login counts as one
            error = error.replace(client.url, "<own login>")
            tally.errors.setdefault(kind, Counter())[error] += 1
            continue
        tally.succeeded.setdefault(kind, []).append(took)
        if kind == "inspect":
            tally.inspections["recorded"] += 1
            tally.inspections[args[args.index("--kind") + 1]] += 1
            tally.inspections["with findings" if "--finding" in args else "without findings"] += 1
    results.put(tally)


# --- setup, the follower and the checks ----------------------------------------------------------------------


def login_url(postgres: str, login: str, schema: str) -> str:
    """The --postgres server and database, as ``login`` (trust authentication: no password)."""
    parts = urlsplit(postgres)
    port = f":{parts.port}" if parts.port else ""
    return f"postgresql://{login}@{parts.hostname}{port}{parts.path}?schema={schema}"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process, its output captured."""
    return subprocess.run([sys.executable, "-c", CLI, *args], capture_output=True, text=True, check=False)


def cli_ok(*args: str) -> str:
    """The CLI's stdout; RuntimeError with what it said if it exited non-zero."""
    done = cli(*args)
    if done.returncode != 0:
        raise RuntimeError(f"renovation {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def write_config(path: Path, contractors: list[str]) -> None:
    lines = ["[users]"]
    lines += [f'sup{n:02d} = {{ role = "supervisor" }}' for n in range(1, SUPERVISORS + 1)]
    lines += [f'con{n:02d} = {{ role = "contractor", contractor = {json.dumps(company, ensure_ascii=False)} }}'
              for n, company in enumerate(contractors, start=1)]
    lines += [f'aud{n:02d} = {{ role = "auditor" }}' for n in range(1, AUDITORS + 1)]
    lines.append(f'{BUREAU} = {{ role = "bureau" }}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def events_now(postgres: str, schema: str, after: int = 0) -> tuple[int, int, int, int]:
    """(the last position, events after ``after``, those with a command id, distinct command ids among them)."""
    import psycopg
    from psycopg import sql

    query = sql.SQL(
        "SELECT (SELECT coalesce(max(notification_id), 0) FROM {t}), count(*), count(c), count(DISTINCT c) "
        "FROM (SELECT convert_from(state, 'UTF8')::jsonb ->> 'command_id' AS c FROM {t} "
        "WHERE notification_id > %s) AS new"
    ).format(t=sql.Identifier(schema, EVENTS_TABLE))
    with psycopg.connect(postgres, autocommit=True) as connection:
        row = connection.execute(query, (after,)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2]), int(row[3])


def start_follower(url: str, config: Path, log: Path) -> subprocess.Popen[bytes]:
    """``projections follow`` under the projector's login; returns once it has caught up and listens."""
    with log.open("wb") as out:
        follower = subprocess.Popen([sys.executable, "-c", FOLLOW, "--db", url, "--user", BUREAU, "--config",
                                     str(config), "projections", "follow"], stdout=out, stderr=subprocess.STDOUT,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
    started = time.perf_counter()
    while "following" not in log.read_text(encoding="utf-8", errors="replace"):
        if follower.poll() is not None or time.perf_counter() - started > 600:
            raise RuntimeError(f"projections follow did not start: {log.read_text(encoding='utf-8', errors='replace')}")
        time.sleep(0.2)
    return follower


class ConnectionPeak(threading.Thread):
    """The most server connections the test's logins (``<prefix>_...``) held at once, sampled from
    ``pg_stat_activity`` every 0.2 s while the load runs; and the server's ``max_connections``."""

    def __init__(self, postgres: str, prefix: str) -> None:
        super().__init__(daemon=True)
        self.postgres, self.prefix = postgres, prefix
        self.peak, self.limit = 0, 0
        self.done = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.postgres, autocommit=True) as connection:
            limit = connection.execute("SHOW max_connections").fetchone()
            self.limit = int(limit[0]) if limit else 0
            while not self.done.wait(0.2):
                row = connection.execute("SELECT count(*) FROM pg_stat_activity WHERE starts_with(usename, %s)",
                                         (self.prefix + "_",)).fetchone()
                self.peak = max(self.peak, int(row[0]) if row else 0)

    def __enter__(self) -> ConnectionPeak:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.done.set()
        self.join()


def stop(follower: subprocess.Popen[bytes]) -> int:
    """Interrupt the follower (as Ctrl-C would) and return its exit code."""
    if follower.poll() is None:
        follower.send_signal(signal.SIGINT)
        try:
            return follower.wait(timeout=60)
        except subprocess.TimeoutExpired:
            follower.kill()
            return follower.wait()
    return follower.returncode


def wait_caught_up(url: str, user: str, config: Path, limit: float = 600) -> tuple[float, int]:
    """Seconds until every read model has caught up with the log (``projections status``), and the lag left."""
    started = time.perf_counter()
    while True:
        rows = json.loads(cli_ok("--db", url, "--user", user, "--config", str(config), "projections", "status",
                                 "--json"))
        lag = max(int(row["lag"]) for row in rows)
        if lag == 0 or time.perf_counter() - started > limit:
            return time.perf_counter() - started, lag
        time.sleep(1)


def drop_everything(postgres: str, schema: str, prefix: str) -> None:
    """Drop the schema and every role named ``<prefix>_...`` (their sessions ended first)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(postgres, autocommit=True) as connection:
        mine = "starts_with(usename, %s)"
        connection.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {mine}", (prefix + "_",))
        connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        roles = [row[0] for row in connection.execute(
            "SELECT rolname FROM pg_roles WHERE starts_with(rolname, %s) ORDER BY rolname", (prefix + "_",))]
        for role in roles:
            connection.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(role)))
        for role in roles:
            connection.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    print(f"dropped schema {schema} and {len(roles)} roles {prefix}_*")


# --- the run -------------------------------------------------------------------------------------------------


def run(postgres: str, seconds: float, schema: str, prefix: str, tmp: Path) -> list[str]:
    """Set up, load, check; returns the failed checks (none: all passed)."""
    superuser = login_url(postgres, urlsplit(postgres).username or "postgres", schema)
    config = tmp / "renovation.toml"
    started = time.perf_counter()
    cli_ok("--db", superuser, "demo")
    compounds = json.loads(cli_ok("--db", superuser, "compound", "list", "--json"))
    zone = json.loads(cli_ok("--db", superuser, "db", "info", "--json"))["time_zone"]
    building = sorted(c["code"] for c in compounds if c["status"] == "under_construction")
    metered = sorted(c["code"] for c in compounds if c["status"] != "registered")
    if not building:
        raise RuntimeError("the demo left no compound under construction: nothing to inspect")
    companies = Counter(c["contractor"] for c in compounds if c["status"] == "under_construction")
    contractors = sorted(companies, key=lambda name: (-companies[name], name))[:CONTRACTORS]
    if len(contractors) < CONTRACTORS:
        raise RuntimeError(f"only {len(contractors)} construction units build compounds under construction")
    write_config(config, contractors)
    cli_ok("--db", superuser, "--user", BUREAU, "--config", str(config), "db", "roles", "--apply", "--prefix", prefix)
    print(f"schema {schema}: demo of {len(compounds)} compounds ({len(building)} under construction, zone {zone}), "
          f"roles {prefix}_*, {time.perf_counter() - started:.0f} s; POSTGRES_POOL_SIZE "
          f"{os.environ.get('POSTGRES_POOL_SIZE', 'unset')}")

    follower = start_follower(login_url(postgres, f"{prefix}_projector", schema), config, tmp / "follow.log")
    try:
        before, _, _, _ = events_now(postgres, schema)
        people = ([(f"sup{n:02d}", "supervisor") for n in range(1, SUPERVISORS + 1)]
                  + [(f"con{n:02d}", "contractor") for n in range(1, CONTRACTORS + 1)]
                  + [(f"aud{n:02d}", "auditor") for n in range(1, AUDITORS + 1)])
        clients = [Client(name, role, login_url(postgres, f"{prefix}_u_{name}", schema), str(config), zone,
                          tuple(building), tuple(metered), seed) for seed, (name, role) in enumerate(people)]
        with ConnectionPeak(postgres, prefix) as connections:
            tallies, elapsed = load(clients, seconds)
        follower_alive = follower.poll() is None
        caught_up, lag = wait_caught_up(superuser, BUREAU, config)
    finally:
        follower_code = stop(follower)
    report(tallies, seconds, elapsed, len(clients))
    print(f"    server connections of the test's logins: at most {connections.peak} at once (sampled every 0.2 s; "
          f"max_connections {connections.limit})")
    return check(postgres, schema, prefix, config, before, tallies, follower_alive, follower_code, caught_up, lag,
                 tmp / "follow.log")


def load(clients: list[Client], seconds: float) -> tuple[list[Tally], float]:
    """Start one process per client, let them all go at once, and gather what they measured."""
    context = multiprocessing.get_context("spawn")
    ready = context.Barrier(len(clients) + 1)
    results = context.Queue()
    processes = [context.Process(target=client_main, args=(client, seconds, ready, results), name=client.name)
                 for client in clients]
    for process in processes:
        process.start()
    try:
        ready.wait(timeout=900)
        started = time.perf_counter()
        tallies: list[Tally] = []
        while len(tallies) < len(clients):
            try:
                tallies.append(results.get(timeout=seconds + 600 - (time.perf_counter() - started)))
            except queue.Empty:
                raise RuntimeError(f"only {len(tallies)} of {len(clients)} clients reported") from None
        elapsed = time.perf_counter() - started
        for process in processes:
            process.join(timeout=60)
        return tallies, elapsed
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()


def report(tallies: list[Tally], seconds: float, elapsed: float, clients: int) -> None:
    timings: dict[str, list[float]] = {}
    succeeded: dict[str, list[float]] = {}
    errors: dict[str, Counter[str]] = {}
    for tally in tallies:
        for kind, values in tally.seconds.items():
            timings.setdefault(kind, []).extend(values)
        for kind, values in tally.succeeded.items():
            succeeded.setdefault(kind, []).extend(values)
        for kind, said in tally.errors.items():
            errors.setdefault(kind, Counter()).update(said)
    inspections = sum((tally.inspections for tally in tallies), Counter())
    calls = sum(len(values) for values in timings.values())
    print(f"\n{clients} clients ({SUPERVISORS} supervisors, {CONTRACTORS} contractors, {AUDITORS} auditors) for "
          f"{seconds:g} s (the last call ended at {elapsed:.0f} s), each call in-process, no pause between calls; "
          f"{calls} calls, {calls / elapsed:.1f}/s")
    print(f"    {'call':<22}{'count':>7}{'errors':>8}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}   "
          "(latency of the calls that succeeded)")
    order = ["inspect", *(" ".join(words) for words in BOARDS),
             *(" ".join(words).replace("CODE ", "") for words in AUDITS)]
    for kind in sorted(timings, key=lambda name: order.index(name) if name in order else len(order)):
        values = [value * 1000 for value in succeeded.get(kind, [])]
        failed = sum(errors.get(kind, Counter()).values())
        shares = "".join(f"{percentile(values, share):>10.0f}" if values else f"{'-':>10}"
                         for share in (0.5, 0.95, 0.99))
        print(f"    {kind:<22}{len(timings[kind]):>7}{failed:>8}{shares}")
    print(f"    inspections recorded: {inspections['recorded']} ({inspections['patrol']} patrols, "
          f"{inspections['morning']} morning rounds; {inspections['with findings']} with findings, "
          f"{inspections['without findings']} without)")
    for kind, said in errors.items():
        for message, count in said.most_common():
            print(f"    error {count} × {kind}: {message}")


def check(postgres: str, schema: str, prefix: str, config: Path, before: int, tallies: list[Tally],
          follower_alive: bool, follower_code: int, caught_up: float, lag: int, follow_log: Path) -> list[str]:
    failed: list[str] = []
    recorded = sum(tally.inspections["recorded"] for tally in tallies)
    _, gained, with_id, distinct = events_now(postgres, schema, after=before)
    print("\nfinal check")
    print(f"    (1) events gained {gained}, inspections that reported success {recorded}: "
          f"{'equal' if gained == recorded else 'NOT EQUAL'}")
    if gained != recorded:
        failed.append(f"the store gained {gained} events for {recorded} recorded inspections")
    print(f"    (2) command ids among the new events: {distinct} distinct of {gained} ({with_id} carry one)")
    if not (distinct == with_id == gained):
        failed.append(f"{gained} new events carry {with_id} command ids, {distinct} distinct")
    auditor = login_url(postgres, f"{prefix}_u_aud01", schema)
    verify = cli("--db", auditor, "--user", "aud01", "--config", str(config), "audit", "verify")
    said = " ".join((verify.stdout + verify.stderr).split())
    print(f"    (3) audit verify as {prefix}_u_aud01: exit {verify.returncode}: {said[:300]}")
    if verify.returncode != 0:
        failed.append(f"audit verify exited {verify.returncode}: {said[:300]}")
    follow_said = " ".join(follow_log.read_text(encoding="utf-8", errors="replace").split())
    print(f"    (4) projections follow {'ran' if follower_alive else 'HAD STOPPED'} to the end of the load, caught up "
          f"{caught_up:.1f} s after it (lag {lag}), stopped with exit {follower_code}: {follow_said[:300]}")
    if not follower_alive or lag != 0 or follower_code != 0:
        failed.append(f"projections follow: alive {follower_alive}, lag {lag}, exit {follower_code}: "
                      f"{follow_said[:300]}")
    auditor2 = login_url(postgres, f"{prefix}_u_aud02", schema)
    boards = cli("--db", auditor2, "--user", "aud02", "--config", str(config), "audit", "boards")
    said = " ".join((boards.stdout + boards.stderr).split())
    print(f"        audit boards as {prefix}_u_aud02: exit {boards.returncode}: {said[:300]}")
    if boards.returncode != 0:
        failed.append(f"audit boards exited {boards.returncode}: {said[:300]}")
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test", metavar="URL",
                        help="a superuser's URL of the database to load (a schema of its own is made and dropped)")
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--pool-size", type=int, default=None, metavar="N",
                        help="POSTGRES_POOL_SIZE for every process (eventsourcing's connection pool, which opens "
                             "that many connections per process; unset, the library's 5)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # killed: still drop the schema and the roles
    if args.pool_size is not None:
        os.environ["POSTGRES_POOL_SIZE"] = str(args.pool_size)
    token = uuid.uuid4().hex[:8]
    schema, prefix = f"load_{token}", f"rl{token}"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            failed = run(args.postgres, args.seconds, schema, prefix, Path(tmp))
    finally:
        drop_everything(args.postgres, schema, prefix)
    if failed:
        print("FAILED: " + "; ".join(failed))
        sys.exit(1)
    print("nothing lost or doubled; the chain verifies")


if __name__ == "__main__":
    main()

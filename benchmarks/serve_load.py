"""Load: 50 people at once on the web board (``renovation serve``), each signed in, for a minute.

For each backend (``--backend sqlite|postgres|both``) a fresh store gets ``renovation demo`` (53
compounds, the 2021 programme to 2021-07-31): an SQLite file in a temporary directory, or a schema
of its own (``serve_<hex>``) in the database of ``--postgres``, dropped at the end (also on failure or
SIGTERM). A ``renovation.toml`` names a bureau person, a supervisor and a contractor of each of the
three construction units with the most compounds; the bureau sets their passwords (``user passwd
--password-stdin``). Then ``renovation --today 2021-07-31 serve --port P`` runs as a subprocess (the
checkout's code, as the tests run it), and ``--clients`` threads of this process (http.client, one
keep-alive connection each) sign in, taking the people in turn, and go through:

    /ranking  /ranking?by=compound  /ranking?computed=1  /progress  /quality  /digest  /worklist
    /compound/CODE (a compound its person may see, a different one each round)  /report

each client starting at another page, one request after another: as fast as the server answers, or
with ``--pause SECONDS`` a pause after each response of that mean (exponential, as people reading;
the clients start spread over one pause). A request is an error unless it is a 200 whose body came whole
(a redirect to the sign-in, a 4xx/5xx, a timeout or a dropped connection are errors).

Measured in the same run, in this order:

- alone: one client, one request at a time, each page ``--alone`` times (after a first round of every
  page for every person, not counted, which draws the report once for each): the page's own time;
- the floor: the same clients, signed in, asking for ``/static/site.css`` only, for ``--floor-seconds``:
  the server stack (uvicorn, Starlette's session middleware and static files, the project's header
  middleware) and this client, without the pages' code (each page's p95 is given as a ratio to the
  floor's p95);
- the load, for ``--seconds``;
- in-process (after the load, the server idle): the median of the use case behind each page, called
  as the page calls it (``renovation.web.views``; the report drawn, as a cache miss draws it), without
  HTTP or the template; with ``--profile PAGE``, cProfile's top functions of that page's.

It prints per page the requests, errors and p50/p95/p99 latency of those that succeeded, the overall
requests/s, each distinct error with its count, the CPU the server and the clients took, the server's
peak memory and, on PostgreSQL, the most database connections the server held at once. Exits 1 on any
error (also one the server logged).

    python benchmarks/serve_load.py [--backend both] [--clients 50] [--seconds 60] [--floor-seconds 15]
                                    [--postgres URL] [--workspaces N] [--pause 0] [--profile PAGE]
                                    [--write-every SECONDS]

With ``--write-every S`` the supervisor records a patrol from the command line every S seconds during
the load: the server keeps each page drawn until the next event, so this is the load with pages drawn
anew, not only served again.

The aim: p95 of every page ≤ 100 ms on the demo. The load generator runs on the same machine as the
server (and the database), in one Python process: its threads take CPU from the server, as in the
floor.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import http.client
import io
import json
import os
import pstats
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's renovation, not an installed one

from common import percentile

ROOT = Path(__file__).resolve().parents[1]
#: The CLI of this checkout (not whichever renovation is installed), as tests/serve_support.py runs it.
CLI = [sys.executable, "-c", "import sys; from renovation.cli import cli; sys.argv[0] = 'renovation'; cli.main()"]
TODAY = "2021-07-31"
AIM_MS = 100.0
PAGES = ("/ranking", "/ranking?by=compound", "/ranking?computed=1", "/progress", "/quality", "/digest", "/worklist",
         "/compound/CODE", "/report")
FLOOR = "/static/site.css"
#: uvicorn closes a keep-alive connection idle for 5 s (its default, which serve keeps); a client idle for
#: this long opens a new one first, as a browser would rather than fail (the connect is in the latency).
IDLE_SECONDS = 4.0
BUREAU, SUPERVISOR = "周科长", "张工"
CONTRACTORS = ("李经理", "王经理", "赵经理")


@dataclass(frozen=True)
class Person:
    name: str
    role: str
    contractor: str | None
    codes: tuple[str, ...]  # the compounds whose page they may see
    password: str


@dataclass
class Tally:
    """What the clients of one phase measured: the seconds of each request that succeeded, by page,
    the requests by page, and the errors by page and what they were."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    errors: dict[str, Counter[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, page: str, took: float, error: str | None) -> None:
        with self.lock:
            self.requests[page] += 1
            if error is None:
                self.seconds.setdefault(page, []).append(took)
            else:
                self.errors.setdefault(page, Counter())[error] += 1

    @property
    def failed(self) -> int:
        return sum(sum(counts.values()) for counts in self.errors.values())


# --- the store, the people and the server ----------------------------------------------------------------


def environment(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    for name in ("RENOVATION_USER", "RENOVATION_DB", "RENOVATION_TODAY", "RENOVATION_WEB_WORKSPACES"):
        env.pop(name, None)
    return {**env, **extra}


def cli_ok(cwd: Path, *args: str, stdin: str | None = None) -> str:
    """The CLI's stdout, run in ``cwd`` (a renovation.toml of the caller's directory is not read);
    RuntimeError with what it said if it exited non-zero."""
    done = subprocess.run([*CLI, *args], cwd=cwd, input=stdin, capture_output=True, text=True, env=environment(),
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"renovation {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


def drop_schema(postgres: str, schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(postgres, autocommit=True) as connection:
        connection.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    print(f"dropped schema {schema}")


def people_of(db: str, config: Path) -> list[Person]:
    """The bureau person, the supervisor and a contractor of each of the three construction units with
    the most compounds, written to ``config``, each with a password the bureau sets."""
    compounds = json.loads(cli_ok(config.parent, "--db", db, "compound", "list", "--json"))
    every = tuple(sorted(c["code"] for c in compounds))
    built = Counter(c["contractor"] for c in compounds)
    companies = sorted(built, key=lambda name: (-built[name], name))[:len(CONTRACTORS)]
    people = [Person(BUREAU, "bureau", None, every, "bureau-password-1"),
              Person(SUPERVISOR, "supervisor", None, every, "supervisor-password-1")]
    for n, (name, company) in enumerate(zip(CONTRACTORS, companies, strict=True), start=1):
        own = tuple(sorted(c["code"] for c in compounds if c["contractor"] == company))
        people.append(Person(name, "contractor", company, own, f"contractor-password-{n}"))
    lines = ["[users]"]
    for person in people:
        company = f", contractor = {json.dumps(person.contractor, ensure_ascii=False)}" if person.contractor else ""
        lines.append(f'{json.dumps(person.name, ensure_ascii=False)} = {{ role = "{person.role}"{company} }}')
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for person in people:
        cli_ok(config.parent, "--db", db, "--config", str(config), "--user", BUREAU, "user", "passwd", person.name,
               "--password-stdin", stdin=person.password + "\n")
    return people


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: Path
    command: str


@contextlib.contextmanager
def serving(db: str, config: Path, log: Path, workspaces: int | None) -> Iterator[Server]:
    """``renovation --today 2021-07-31 serve --port P`` until the block ends (SIGINT, as Ctrl-C)."""
    port = free_port()
    args = ["--db", db, "--config", str(config), "--today", TODAY, "serve", "--port", str(port)]
    extra = {"RENOVATION_WEB_WORKSPACES": str(workspaces)} if workspaces is not None else {}
    with log.open("wb") as out:
        process = subprocess.Popen([*CLI, *args], cwd=config.parent, env=environment(**extra), stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    command = " ".join(f"{k}={v}" for k, v in extra.items()) + (" " if extra else "") + "renovation " + " ".join(args)
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"renovation serve stopped ({process.returncode}): {log.read_text()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("renovation serve did not listen within 120 s") from None
                time.sleep(0.1)
        yield Server(port, process, log, command)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


class Watch(threading.Thread):
    """The server's most resident memory and, on PostgreSQL, the most connections it held to the
    database at once (its established TCP sockets to the database's port), sampled every 0.2 s."""

    def __init__(self, pid: int, db_port: int | None) -> None:
        super().__init__(daemon=True)
        self.pid, self.db_port = pid, db_port
        self.connections = 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.2):
            with contextlib.suppress(OSError):  # the process or a descriptor went away while it was read
                self.connections = max(self.connections, self.count())

    def count(self) -> int:
        if self.db_port is None:
            return 0
        inodes = set()
        for fd in Path(f"/proc/{self.pid}/fd").iterdir():
            with contextlib.suppress(OSError):  # closed since the directory was listed
                inodes.add(os.readlink(fd).removeprefix("socket:[").rstrip("]"))
        remote = f":{self.db_port:04X}"
        count = 0
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[2].endswith(remote) and fields[3] == "01" and fields[9] in inodes:
                    count += 1
        return count

    def cpu_seconds(self) -> float:
        """The server's CPU time so far (user and system, its threads together)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def peak_memory(self) -> str:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return f"{int(line.split()[1]) / 1024:.0f} MiB"
        return "?"


# --- the clients -------------------------------------------------------------------------------------------


class Client:
    """One person's browser: a keep-alive connection and the session cookie of their sign-in."""

    def __init__(self, port: int, person: Person, number: int) -> None:
        self.port, self.person, self.number = port, person, number
        self.cookie = ""
        self.connection: http.client.HTTPConnection | None = None
        self.used = 0.0  # time.monotonic() at the end of the last response

    def open(self) -> None:
        self.close()
        self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        self.connection.connect()
        self.used = time.monotonic()

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def request(self, method: str, path: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, http.client.HTTPResponse, bytes]:
        if self.connection is None or time.monotonic() - self.used > IDLE_SECONDS:
            self.open()
        assert self.connection is not None
        try:
            self.connection.request(method, path, body=body, headers={"Cookie": self.cookie, **(headers or {})})
            response = self.connection.getresponse()
            content = response.read()
        except Exception:
            self.close()  # the next request opens a new connection
            raise
        self.used = time.monotonic()
        if response.will_close:
            self.close()
        return response.status, response, content

    def sign_in(self) -> None:
        form = urlencode({"name": self.person.name, "password": self.person.password, "next": "/ranking"})
        status, response, _ = self.request("POST", "/signin", form,
                                           {"Content-Type": "application/x-www-form-urlencoded"})
        cookie = response.getheader("set-cookie") or ""
        if status != 303 or not cookie.startswith("renovation="):
            raise RuntimeError(f"{self.person.name} could not sign in: {status}")
        self.cookie = cookie.split(";")[0]

    def get(self, page: str, round_: int, tally: Tally) -> None:
        codes = self.person.codes
        path = page.replace("CODE", codes[(self.number + round_) % len(codes)])
        started = time.perf_counter()
        error: str | None = None
        try:
            status, _, content = self.request("GET", path)
            if status != 200:
                error = f"{status} {content[:120].decode('utf-8', 'replace')}"
        except Exception as failure:  # noqa: BLE001 - a failed request is counted and named, the load goes on
            error = f"{type(failure).__name__}: {failure}"
        tally.add(page, time.perf_counter() - started, error)


def phase(clients: list[Client], pages: tuple[str, ...], seconds: float, pause: float) -> tuple[Tally, float]:
    """Every client goes through ``pages`` (each from its own start) for ``seconds``; returns what they
    measured and the seconds from the start to the end of the last request."""
    tally = Tally()
    ready = threading.Barrier(len(clients) + 1)
    deadline: list[float] = []

    def work(client: Client) -> None:
        rng = random.Random(client.number)
        client.open()  # connected before the clock starts
        ready.wait()
        if pause:  # the clients start spread over one pause, not all at once
            time.sleep(rng.uniform(0, pause))
        turn = client.number
        while time.perf_counter() < deadline[0]:
            client.get(pages[turn % len(pages)], turn // len(pages), tally)
            turn += 1
            if pause:  # a person's reading time: exponential, of mean ``pause`` (no waves of requests in step)
                time.sleep(min(rng.expovariate(1 / pause), max(0.0, deadline[0] - time.perf_counter())))

    threads = [threading.Thread(target=work, args=(client,), daemon=True) for client in clients]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    deadline.append(started + seconds)
    ready.wait()
    for thread in threads:
        thread.join()
    return tally, time.perf_counter() - started


def alone(client: Client, rounds: int) -> dict[str, float]:
    """The median of each page asked ``rounds`` times by one client, one request at a time."""
    tally = Tally()
    for round_ in range(rounds):
        for page in PAGES:
            client.get(page, round_, tally)
    if tally.failed:
        raise RuntimeError(f"alone, one client: {dict(tally.errors)}")
    return {page: statistics.median(values) for page, values in tally.seconds.items()}


# --- in-process: the use cases behind the pages ---------------------------------------------------------------


def use_cases(db: str, config: Path, person: Person) -> tuple[Any, dict[str, Callable[[], object]]]:
    """A workspace of the store and, per page, its use case as the page calls it (no HTTP, no template)."""
    from renovation.services import report
    from renovation.services.workspace import Workspace
    from renovation.web import views

    ws = Workspace(db, str(config))
    ws.creates = False
    user, today, code = person.name, date.fromisoformat(TODAY), person.codes[0]
    cases: dict[str, Callable[[], object]] = {
        "/ranking": lambda: views.ranking(ws, user, today, views.RankingQuery.of({})),
        "/ranking?by=compound": lambda: views.ranking(ws, user, today, views.RankingQuery.of({"by": "compound"})),
        "/ranking?computed=1": lambda: views.ranking(ws, user, today, views.RankingQuery.of({"computed": "1"})),
        "/progress": lambda: views.progress(ws, user, today),
        "/quality": lambda: views.quality(ws, user, today, "compound"),
        "/digest": lambda: views.digest(ws, user, today, {}, "zh"),
        "/worklist": lambda: views.worklist(ws, user, today),
        "/compound/CODE": lambda: views.compound(ws, user, today, code),
        "/report": lambda: report.document(report.gathered(ws, user, today, None), "zh"),
    }
    return ws, cases


def in_process(db: str, config: Path, person: Person, runs: int, profile: str | None) -> dict[str, float]:
    ws, cases = use_cases(db, config, person)
    try:
        medians = {}
        for page, case in cases.items():
            case()  # the read models caught up, the modules imported
            medians[page] = statistics.median(seconds_of(case) for _ in range(runs))
        if profile is not None:
            profiler = cProfile.Profile()
            profiler.runcall(cases[profile])
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(18)
            print(f"\ncProfile of {profile} as {person.name}, in-process (cumulative; the top 18):")
            print("\n".join("    " + line for line in out.getvalue().strip().splitlines()[4:] if line.strip()))
        return medians
    finally:
        ws.close()


def own_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def seconds_of(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


# --- the run -------------------------------------------------------------------------------------------------


def run(backend: str, args: argparse.Namespace, tmp: Path) -> list[str]:
    """Set up, load, measure; returns the failures (none: every request succeeded)."""
    started = time.perf_counter()
    if backend == "sqlite":
        db, label, cleanup = str(tmp / "demo.db"), "SQLite", None
    else:
        schema = f"serve_{uuid.uuid4().hex[:8]}"
        db, label, cleanup = with_schema(args.postgres, schema), f"PostgreSQL schema {schema}", schema
    try:
        cli_ok(tmp, "--db", db, "demo")
        config = tmp / "renovation.toml"
        people = people_of(db, config)
        print(f"\n=== {label}: demo of 53 compounds to {TODAY}, {len(people)} people "
              f"({', '.join(f'{p.name} {p.role}' + (f' of {p.contractor} ({len(p.codes)} compounds)' if p.contractor else '') for p in people)}), "  # noqa: E501
              f"{time.perf_counter() - started:.0f} s")
        return load(db, config, people, args, tmp)
    finally:
        if cleanup is not None:
            drop_schema(args.postgres, cleanup)


class Writer(threading.Thread):
    """The supervisor at a terminal during the load: a patrol of a compound under construction recorded
    from the command line every ``every`` seconds (each a new event: every page kept by the server is
    drawn anew after it)."""

    def __init__(self, db: str, config: Path, people: list[Person], every: float) -> None:
        super().__init__(daemon=True)
        self.db, self.config, self.every = db, config, every
        self.supervisor = next(person for person in people if person.role == "supervisor")
        listed = json.loads(cli_ok(config.parent, "--db", db, "--config", str(config), "--user",
                                   self.supervisor.name, "--today", "2021-07-31", "compound", "list", "--json"))
        self.codes = [row["code"] for row in listed if row["status"] == "under_construction"]
        self.stopped = threading.Event()
        self.done = 0
        self.failed: list[str] = []

    def run(self) -> None:
        n = 0
        while not self.stopped.wait(self.every):
            code = self.codes[n % len(self.codes)]
            at = f"2021-07-31T{8 + n // 60 % 10:02d}:{n % 60:02d}"
            try:
                cli_ok(self.config.parent, "--db", self.db, "--config", str(self.config), "--user",
                       self.supervisor.name, "inspect", code, "--kind", "patrol", "--at", at)
                self.done += 1
            except RuntimeError as error:
                self.failed.append(f"write: {' '.join(str(error).split())[:200]}")
            n += 1


def load(db: str, config: Path, people: list[Person], args: argparse.Namespace, tmp: Path) -> list[str]:
    failed: list[str] = []
    db_port = (urlsplit(args.postgres).port or 5432) if db.startswith("postgresql") else None
    with serving(db, config, tmp / "serve.log", args.workspaces) as server:
        print(f"server: {server.command}")
        watch = Watch(server.process.pid, db_port)
        watch.start()
        clients = [Client(server.port, people[n % len(people)], n) for n in range(args.clients)]
        signing = time.perf_counter()
        for client in clients:
            client.sign_in()
        print(f"{len(clients)} clients signed in ({time.perf_counter() - signing:.1f} s), taking the people in turn")
        for person in people:  # every page once for each person (not counted): the report is drawn for each
            warm = Tally()
            first = next(client for client in clients if client.person is person)
            for page in PAGES:
                first.get(page, 0, warm)
            if warm.failed:
                failed.append(f"first round as {person.name}: {dict(warm.errors)}")
        baseline = alone(clients[0], args.alone)
        cpu = [(watch.cpu_seconds(), own_cpu_seconds())]
        floor, floor_elapsed = phase(clients, (FLOOR,), args.floor_seconds, args.pause)
        cpu.append((watch.cpu_seconds(), own_cpu_seconds()))
        writer = Writer(db, config, people, args.write_every) if args.write_every else None
        if writer is not None:
            writer.start()
        tally, elapsed = phase(clients, PAGES, args.seconds, args.pause)
        if writer is not None:
            writer.stopped.set()
            writer.join()
        cpu.append((watch.cpu_seconds(), own_cpu_seconds()))
        for client in clients:
            client.close()
        watch.stopped.set()
        watch.join()
        memory = watch.peak_memory()
    said = server.log.read_text(encoding="utf-8", errors="replace")
    logged = [line for line in said.splitlines() if line.startswith(("ERROR", "WARNING", "Traceback"))]

    floor_ms = sorted(value * 1000 for value in floor.seconds.get(FLOOR, []))
    floor_requests = sum(floor.requests.values())
    print(f"alone: one client, one request at a time, median of {args.alone} of each page, as {clients[0].person.name}")
    print(f"floor: {len(clients)} clients × GET {FLOOR} for {args.floor_seconds:g} s: {floor_requests} requests, "
          f"{floor_requests / floor_elapsed:.0f}/s, {floor.failed} errors, p50 {percentile(floor_ms, 0.5):.1f} ms, "
          f"p95 {percentile(floor_ms, 0.95):.1f} ms, p99 {percentile(floor_ms, 0.99):.1f} ms")
    total = sum(tally.requests.values())
    pause = (f", a pause of {args.pause:g} s on average after each (exponential)" if args.pause
             else ", no pause between requests")
    print(f"load: {len(clients)} clients for {args.seconds:g} s (the last request ended at {elapsed:.1f} s){pause}: "
          f"{total} requests, {total / elapsed:.1f}/s, {tally.failed} errors")
    if writer is not None:
        print(f"writes: the supervisor recorded an inspection every {args.write_every:g} s from the command line "
              f"({writer.done} recorded, {len(writer.failed)} failed): every kept page drawn anew after each")
        failed.extend(writer.failed)
    floor_p95 = percentile(floor_ms, 0.95) if floor_ms else float("nan")
    print(f"    {'page':<22}{'requests':>9}{'errors':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'alone ms':>10}"
          f"{'p95/floor':>10}   aim p95 ≤ {AIM_MS:.0f} ms")
    for page in PAGES:
        values = sorted(value * 1000 for value in tally.seconds.get(page, []))
        errors = sum(tally.errors.get(page, Counter()).values())
        if values:
            p50, p95, p99 = (percentile(values, share) for share in (0.5, 0.95, 0.99))
            shares = f"{p50:>9.0f}{p95:>9.0f}{p99:>9.0f}"
            verdict = "met" if p95 <= AIM_MS and not errors else "MISSED"
            ratio = f"{p95 / floor_p95:>10.1f}"
        else:
            shares, verdict, ratio = f"{'-':>9}" * 3, "MISSED", f"{'-':>10}"
        print(f"    {page:<22}{tally.requests[page]:>9}{errors:>7}{shares}{baseline[page] * 1000:>10.1f}{ratio}   "
              f"{verdict}")
    for name, (before, after), took, count in (("floor", cpu[0:2], floor_elapsed, floor_requests),
                                               ("load", cpu[1:3], elapsed, total)):
        server_cpu, client_cpu = after[0] - before[0], after[1] - before[1]
        print(f"CPU during the {name}: the server {server_cpu / took:.2f} cores ({server_cpu / count * 1000:.2f} ms a "
              f"request), these clients {client_cpu / took:.2f} cores (of {os.cpu_count()})")
    print(f"server: peak memory {memory}" + (f", at most {watch.connections} database connections at once "
                                             f"(sampled every 0.2 s)" if db_port else "")
          + f"; {len(logged)} warnings or errors in its log")
    for name, phase_tally in (("floor", floor), ("load", tally)):
        for page, counts in phase_tally.errors.items():
            for message, count in counts.most_common():
                print(f"    error {count} × {name} {page}: {' '.join(message.split())[:300]}")
                failed.append(f"{count} × {page}")
    for line in logged[:10]:
        print(f"    server log: {line[:300]}")
    if logged:
        failed.append(f"the server logged {len(logged)} warnings or errors")

    person = people[0]
    cases = in_process(db, config, person, args.alone, None)
    print(f"in-process, the server idle: median of {args.alone} calls of each page's use case as {person.name} "
          "(no HTTP, no template; the report drawn, not kept)")
    print("    " + "   ".join(f"{page} {cases[page] * 1000:.1f}" for page in PAGES) + "  (ms)")
    if args.profile:
        in_process(db, config, person, 1, args.profile)
    return failed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--write-every", type=float, default=0, metavar="SECONDS",
                        help="During the load, the supervisor records an inspection from the command line this "
                             "often (every kept page is then drawn anew); 0: a read-only load.")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--floor-seconds", type=float, default=15)
    parser.add_argument("--alone", type=int, default=5, metavar="RUNS",
                        help="requests of each page by one client alone (and calls of each use case in-process)")
    parser.add_argument("--pause", type=float, default=0, metavar="SECONDS",
                        help="each client's mean pause after each response, exponential (0: none, as fast as the "
                             "server answers)")
    parser.add_argument("--workspaces", type=int, default=None, metavar="N",
                        help="RENOVATION_WEB_WORKSPACES of the server (unset: serve's own default, 4)")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test", metavar="URL",
                        help="a superuser's URL of the database (a schema of its own is made and dropped)")
    parser.add_argument("--profile", choices=PAGES, default=None, metavar="PAGE",
                        help="also cProfile this page's use case in-process (its top functions), e.g. /compound/CODE")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # killed: still stop the server and drop the schema
    print(f"python benchmarks/serve_load.py {' '.join(sys.argv[1:])}".rstrip())
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    failed: list[str] = []
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp:
            failed += [f"{backend}: {what}" for what in run(backend, args, Path(tmp))]
    if failed:
        print("FAILED: " + "; ".join(failed))
        sys.exit(1)
    print("every request succeeded")


if __name__ == "__main__":
    main()

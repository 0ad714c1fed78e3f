"""The web board as a person (or an attacker) meets it over HTTP: the demo's store with people in
``[users]`` and their passwords, a client with its own cookie and its own loopback address (sign-in
failures are counted per address), and raw sockets for what a client library will not send."""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import re
import socket
import sqlite3
import subprocess
import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.serve_support import Server, run_cli, serving

DAY = "2021-05-10"
BUREAU, SUPERVISOR, ONE, TWO = "周科长", "张工", "李经理", "赵经理"
#: The demo's companies of the two contractors' people: ONE builds JM, TWO builds LY.
COMPANY = {ONE: "示例建工一公司", TWO: "示例建工二公司"}
USERS = {
    BUREAU: 'role = "bureau"',
    SUPERVISOR: 'role = "supervisor"',
    ONE: f'role = "contractor", contractor = "{COMPANY[ONE]}"',
    TWO: f'role = "contractor", contractor = "{COMPANY[TWO]}"',
}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def password(name: str) -> str:
    return f"board-{name}-2021!"


def config_text(users: dict[str, str], web: str = "") -> str:
    lines = ["[users]", *(f'"{name}" = {{ {entry} }}' for name, entry in users.items())]
    return "\n".join([*lines, "", "[web]", web, ""])


@dataclass
class Board:
    """The demo's store (``db``), the folder its renovation.toml is in (``cwd``), and what the demo holds:
    every compound's code, name and company as the bureau sees them."""

    db: str
    cwd: Path
    compounds: list[dict[str, Any]]

    def cli(self, *args: str, user: str = BUREAU, stdin: str | None = None, check: bool = True,
            db: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(db or self.db, "--today", DAY, "--lang", "en", *args, cwd=self.cwd, stdin=stdin, user=user,
                       check=check)

    def json(self, *args: str, user: str = BUREAU) -> Any:
        return json.loads(self.cli(*args, "--json", user=user).stdout)

    def passwd(self, name: str, secret: str | None = None, *, db: str | None = None) -> None:
        self.cli("user", "passwd", name, "--password-stdin", stdin=(secret or password(name)) + "\n", db=db)

    @property
    def codes(self) -> set[str]:
        return {row["code"] for row in self.compounds}

    def codes_of(self, company: str) -> set[str]:
        return {row["code"] for row in self.compounds if row["contractor"] == company}


def demo_board(folder: Path, users: dict[str, str] = USERS, web: str = "", db: str | None = None) -> Board:
    """The demo's six compounds to DAY, ``[users]`` in renovation.toml, and every person's password."""
    folder.mkdir(parents=True, exist_ok=True)
    store = db or str(folder / "demo.db")
    run_cli(store, "demo", "--compounds", "6", "--until", DAY, cwd=folder)  # before [users]: anyone may
    (folder / "renovation.toml").write_text(config_text(users, web), encoding="utf-8")
    board = Board(store, folder, [])
    board.compounds = board.json("progress")
    for name in users:
        board.passwd(name)
    return board


def accounts(db: str | Path) -> list[tuple[str, str]]:
    """The SQLite store's web accounts (name, hash)."""
    with sqlite3.connect(db) as connection:
        return [(str(name), str(hashed)) for name, hashed in
                connection.execute("SELECT name, hash FROM web_accounts ORDER BY name")]


# -- clients -------------------------------------------------------------------------------------------------

_addresses = itertools.count(2)


def fresh_address() -> str:
    """A loopback address of its own (127.0.0.0/8 is all this machine's): the server counts failed
    sign-ins per address, so a test's failures do not lock out another's."""
    n = next(_addresses)
    return f"127.{100 + os.getpid() % 100}.{n // 250 % 250}.{n % 250 + 2}"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    cookies: list[str] = field(default_factory=list)  # the Set-Cookie headers

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    @property
    def location(self) -> str | None:
        return self.headers.get("location")


def port_of(server: Server) -> int:
    return int(server.url.rsplit(":", 1)[1])


@dataclass
class Client:
    """A browser of a sort: its own loopback address, and the session cookie the server last set."""

    server: Server
    address: str = field(default_factory=fresh_address)
    cookie: str | None = None  # "renovation=..."

    def request(self, method: str, path: str, body: bytes | str | Iterable[bytes] | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", port_of(self.server), timeout=60,
                                                source_address=(self.address, 0))
        sent = dict(headers or {})
        if self.cookie and "Cookie" not in sent:
            sent["Cookie"] = self.cookie
        if isinstance(body, str):
            body = body.encode("utf-8")
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            reply = Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read(),
                          [v for k, v in response.getheaders() if k.lower() == "set-cookie"])
        finally:
            connection.close()
        for set_cookie in reply.cookies:
            pair = set_cookie.split(";", 1)[0]
            if pair.startswith("renovation="):
                ended = "1970" in set_cookie or pair in ("renovation=", "renovation=null")
                self.cookie = None if ended else pair
        return reply

    def get(self, path: str, **headers: str) -> Reply:
        return self.request("GET", path, headers=headers)

    def post(self, path: str, fields: dict[str, str] | str | bytes, headers: dict[str, str] | None = None) -> Reply:
        body = urllib.parse.urlencode(fields) if isinstance(fields, dict) else fields
        return self.request("POST", path, body, {**FORM, **(headers or {})})

    def signin(self, name: str, secret: str | None = None, **fields: str) -> Reply:
        return self.post("/signin", {"name": name, "password": password(name) if secret is None else secret,
                                     **fields})


def signed_in(server: Server, name: str) -> Client:
    client = Client(server)
    reply = client.signin(name)
    assert reply.status == 303 and client.cookie, (name, reply.status, reply.text[:300])
    return client


def raw(server: Server, data: bytes, timeout: float = 10) -> bytes:
    """Send bytes as they are; what came back before the server closed (or reset) the connection, or
    before ``timeout`` seconds of silence. (The connection stays open for writing: a server hearing the
    end of the request stream may drop its answer.)"""
    received = b""
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=timeout,
                                  source_address=(fresh_address(), 0)) as sock:
        with contextlib.suppress(OSError):  # closed while sending: it would hear no more
            sock.sendall(data)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except OSError:  # reset, or silent for timeout seconds
            pass
    return received


def codes_in(page: str, codes: set[str]) -> set[str]:
    """Which of ``codes`` the page names (as a whole word: "JM", not the "JM" of "JM-B26")."""
    return {code for code in codes if re.search(rf"(?<![A-Za-z0-9-]){re.escape(code)}(?![A-Za-z0-9-])", page)}


def without_section(page: str, section: str) -> str:
    """The page less one ``<section id=...>`` (the report's public horse-race board)."""
    cut = re.sub(rf'<section id="{section}">.*?</section>', "", page, flags=re.S)
    assert cut != page, f"no section {section}"
    return cut




@contextlib.contextmanager
def board_served(board: Board, cwd: Path | None = None) -> Iterator[Server]:
    """The board's store served on its day; on leaving, no request was a fault of the server (no
    traceback in its log)."""
    with serving(board.db, "--today", DAY, cwd=cwd or board.cwd) as running:
        yield running
        log = running.log()
    assert "Traceback" not in log, log[-3000:]


def answers(server: Server) -> None:
    """The server is still up and answers."""
    assert server.process.poll() is None, "renovation serve stopped"
    reply = Client(server).get("/signin")
    assert reply.status == 200, reply.status

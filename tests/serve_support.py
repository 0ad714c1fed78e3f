"""``renovation serve`` run for real: a subprocess on a free port of this machine, waited for until it
answers, stopped (and its output shown on failure) afterwards. Shared by the HTTP-level tests
(``tests/web``) and the browser tests (``tests/browser``)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: The CLI as an installed console script would run it (the checkout on the path, as the tests have it).
CLI = [sys.executable, "-c", "import sys; from renovation.cli import cli; sys.argv[0] = 'renovation'; cli.main()"]
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def environment(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "RENOVATION_TZ": "Asia/Shanghai", **extra}
    env.pop("RENOVATION_USER", None)
    return env


def run_cli(db: str | Path, *args: str, cwd: Path | None = None, stdin: str | None = None,
            user: str = "tester", check: bool = True) -> subprocess.CompletedProcess[str]:
    """One CLI command in a process of its own (as a person at a terminal runs it)."""
    done = subprocess.run([*CLI, "--db", str(db), "--user", user, *args], cwd=cwd, input=stdin, text=True,
                          capture_output=True, env=environment(), timeout=300)
    if check:
        assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    output: Path  # what the server prints (a file: a pipe nobody reads could fill and stop it)

    def log(self) -> str:
        return self.output.read_text(encoding="utf-8", errors="replace")

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """One GET on a connection of its own: status, headers (lower-case names), body."""
        host, port = self.url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        try:
            connection.request("GET", path, headers=headers or {})
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()


@contextmanager
def serving(db: str | Path, *options: str, cwd: Path | None = None, serve_args: Sequence[str] = (),
            env: dict[str, str] | None = None) -> Iterator[Server]:
    """``renovation [options] serve --port P [serve_args]`` until the block ends."""
    port = free_port()
    output = Path(tempfile.mkstemp(prefix="renovation-serve-", suffix=".log")[1])
    with output.open("w") as sink:
        process = subprocess.Popen([*CLI, "--db", str(db), *options, "serve", "--port", str(port), *serve_args],
                                   cwd=cwd, env=environment(**(env or {})), text=True, stdout=sink,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(f"http://127.0.0.1:{port}", process, output)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"renovation serve stopped ({process.returncode}): {server.log()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("renovation serve did not listen within 60 s") from None
                time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        output.unlink(missing_ok=True)

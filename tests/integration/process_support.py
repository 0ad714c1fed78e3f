"""Finding a process's workers, and whether a process is alive, from /proc; stopping a process that
shares its work out (the shared catch-up's and the shared import's tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def workers_of(pid: int, module: bytes) -> list[int]:
    """The children of ``pid`` whose command line names ``module`` (their worker's module)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                command = (entry / "cmdline").read_bytes()
            except OSError:  # gone meanwhile
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid and module in command:
                found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def stopped(arguments: list[str], first: str, module: bytes, stop: signal.Signals,
            env: dict[str, str] | None = None) -> tuple[list[int], str, str, int]:
    """Run ``arguments`` (a script and what it takes) in a session of its own; once it prints ``first``,
    find its two workers (children naming ``module``) and send ``stop`` to its process group (as a
    terminal sends a Ctrl-C: the workers are in sessions of their own, not in it). Returns the workers,
    all gone (within 30 s), what the process wrote on its standard output and error, and its id."""
    child = subprocess.Popen([sys.executable, *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, start_new_session=True, env=env)
    try:
        assert child.stdout is not None
        assert child.stdout.readline() == first
        workers = workers_of(child.pid, module)
        assert len(workers) == 2
        os.killpg(child.pid, stop)
        output, errors = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    deadline = time.monotonic() + 30
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers)
    return workers, output, errors, child.pid

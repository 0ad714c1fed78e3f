"""Finding a process's workers, and whether a process is alive, from /proc (the shared catch-up's and
the shared import's tests)."""

from __future__ import annotations

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

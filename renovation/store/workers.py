"""Worker processes of this process's own work (a shared catch-up, a shared import): started isolated
(``python -I``: nothing imported from the working folder, no PYTHON* variables) in a session of their
own (a Ctrl-C to the terminal is this process's, which then stops them), their standard error going
nowhere. Each first reads, from its standard input, where this process finds its modules (a line of
JSON), then imports its module and runs its ``run()``, which reads its task from there too."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tempfile


def command(module: str) -> tuple[str, ...]:
    """The interpreter's arguments that run ``module``'s ``run()`` in a worker."""
    return ("-I", "-c", "import json, sys; sys.path[:] = json.loads(sys.stdin.buffer.readline()); "
                        f"from {module} import run; run()")


def start(arguments: tuple[str, ...], *messages: object, bufsize: int = -1) -> subprocess.Popen[bytes]:
    """A worker run with ``arguments`` (see ``command``), given this process's module path, then each of
    ``messages`` pickled. OSError if it cannot be started or fed (it is then stopped)."""
    worker = subprocess.Popen([sys.executable, *arguments], bufsize=bufsize, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    assert worker.stdin is not None
    try:
        worker.stdin.write(json.dumps(sys.path).encode() + b"\n")
        for message in messages:
            pickle.dump(message, worker.stdin, protocol=pickle.HIGHEST_PROTOCOL)
        worker.stdin.flush()
    except (OSError, ValueError, pickle.PicklingError):
        worker.kill()
        worker.wait()
        raise OSError("a worker ended as it was given its task") from None
    return worker


def scratch(prefix: str) -> tempfile.TemporaryDirectory[str]:
    """A temporary folder of this process's work, named after the process (``prefix``, its id, then a dash):
    if the process is killed before it removes it, ``remove_stale`` does."""
    import tempfile  # here: most commands of the CLI import this module and never make one

    return tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-")


def remove_stale(prefix: str) -> int:
    """Remove the temporary folders made by ``scratch(prefix)`` of processes that are gone; returns how many."""
    import shutil
    import tempfile
    from pathlib import Path

    removed = 0
    try:
        folders = list(Path(tempfile.gettempdir()).glob(f"{prefix}*"))
    except OSError:  # no temporary folder to look in (none usable: none was made there either)
        return 0
    for folder in folders:
        pid = folder.name.removeprefix(prefix).split("-", 1)[0]
        if not pid.isdigit() or not folder.is_dir() or _alive(int(pid)):
            continue
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process, or no such pid to ask about: leave it
    return True

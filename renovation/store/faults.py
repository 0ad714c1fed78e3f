"""Fault injection for the crash tests: ``crash_point(name)`` kills the process at a named point.

It does nothing unless the environment variable ``RENOVATION_CRASH_AT`` names the point: ``NAME``
crashes the first time the point is reached, ``NAME:N`` the N-th time (counted in this process).
The process then kills itself with SIGKILL: no cleanup, no flush, no rollback by Python, as if the
machine had lost power under it. The variable is read once per process.

Points: ``after_store`` (events saved, command not yet answered), ``import_batch`` (a batch of an
import written, its transaction still open), ``catch_up_apply`` (one event applied to a read model,
its position not yet written), ``catch_up_batch`` (a catch-up batch committed), ``rebuild_cleared``
(a rebuild's clearing committed, nothing replayed yet).
"""

from __future__ import annotations

import functools
import os

ENV_VAR = "RENOVATION_CRASH_AT"

_reached = 0  # times the chosen point was reached in this process


@functools.cache
def planned() -> tuple[str, int] | None:
    """The point to crash at and on which visit, from the environment (read once)."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return None
    name, _, count = raw.partition(":")
    if not name or (count and (not count.isdigit() or int(count) < 1)):
        raise ValueError(f"{ENV_VAR}={raw!r}: expected NAME or NAME:N with N >= 1")
    return name, int(count) if count else 1


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL if ``RENOVATION_CRASH_AT`` names this point and visit."""
    plan = planned()
    if plan is None or plan[0] != name:
        return
    global _reached
    _reached += 1
    if _reached == plan[1]:
        import signal  # only for a planned crash

        os.kill(os.getpid(), signal.SIGKILL)

"""A worker of a shared catch-up (``ReadModels._share``), a process of its own run by ``runner.WORKER``.

It reads from its standard input where the process that started it finds its modules (a line of JSON,
read by ``runner.WORKER`` itself), then its task (pickled ``runner.Task``); catches those read models up to the
head (on SQLite those of its part of the compounds, in a scratch file that process then copies into the store:
``runner.catch_up_apart``); and writes a line ``name events`` to its standard output after each batch it
commits. A bad event ends it as done, each read model as far as it got (the catch-up that follows in the
process that started it meets the event again and says it); whatever else stops it ends it with exit 1 and
nothing said (its standard error goes nowhere), and that process says a worker stopped. That process gone, the
next line finds the pipe closed, and the worker stops after the batch it has just committed.
"""

from __future__ import annotations

import gc
import pickle
import sys


def run() -> None:
    try:
        _catch_up(pickle.load(sys.stdin.buffer))
    except (Exception, KeyboardInterrupt):  # noqa: BLE001 (said by the catch-up that follows: see above)
        sys.exit(1)


def _catch_up(task: object) -> None:
    from renovation.projections import runner
    from renovation.projections.errors import BadEvent, BadValue
    from renovation.projections.runner import ReadModels, Source, Task

    if not isinstance(task, Task):
        raise TypeError(f"a worker's task is a Task, not {type(task).__name__}")
    runner.BATCH = task.batch  # as the process that started it batches and collects
    gc.set_threshold(*task.thresholds)

    def tell(name: str, events: int) -> None:
        sys.stdout.write(f"{name} {events}\n")
        sys.stdout.flush()

    source = task.reopen(task.db)
    try:
        read = Source(source.backend, source.mapper, task.zone)
        if task.path is not None:  # a store of one writer at a time: made apart, then copied in by that process
            runner.catch_up_apart(read, task, tell)
            return
        models = ReadModels(read, [kind() for kind in task.kinds])
        try:
            models.catch_up(upto=task.head, progress=tell, share=False)
        except (BadEvent, BadValue):  # its read models as far as they got: that process meets it and says it
            pass
        finally:
            models.close()
    finally:
        source.close()

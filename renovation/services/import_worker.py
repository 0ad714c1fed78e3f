"""A worker of a shared import (``transfer.Shared``), a process of its own run by ``transfer.IMPORT_WORKER``.

It reads from its standard input where the importing process finds its modules (a line of JSON, read by
``IMPORT_WORKER`` itself), its task (a pickled ``transfer.Share``), the store's zone and the import's
horizon; then groups of lines, each answered on its standard output by what it found of each line
(``Importer.check``) and what it warned of meanwhile (a snapshot discarded: said by the importing
process), until None. It opens the store to read it only. It stops after a line with a problem
(the importing process stops there too), and whatever else stops it ends it with exit 1 and nothing said
(its standard error goes nowhere): the importing process then imports the file itself.
"""

from __future__ import annotations

import gc
import logging
import pickle
import sys


def run() -> None:
    try:
        _check(pickle.load(sys.stdin.buffer))
    except (Exception, KeyboardInterrupt):  # noqa: BLE001 (the importing process imports in one process: see above)
        sys.exit(1)


def _check(share: object) -> None:
    from renovation.services.transfer import Importer, Share

    if not isinstance(share, Share):
        raise TypeError(f"a worker's task is a Share, not {type(share).__name__}")
    gc.set_threshold(*share.thresholds)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    zone, horizon = pickle.load(stdin)
    app = share.reopen(share.db, access=share.access)
    notes = Notes()  # from here on: the importing process said its own store's warnings as it opened it
    logging.getLogger().addHandler(notes)
    try:
        app.zone_name, app.zone, app.zone_problem = zone
        importer = Importer(app, resident=share.resident)
        importer.horizon, importer.in_order, importer.share = horizon, False, (share.index, share.count)
        try:
            while (group := pickle.load(stdin)) is not None:
                number, lines = group
                found = []
                for line, raw in lines:
                    found.append(tuple(importer.check(line, raw)))  # a plain tuple: read faster
                    if found[-1][1] is not None:
                        break
                pickle.dump((number, found, notes.said), stdout, protocol=pickle.HIGHEST_PROTOCOL)
                stdout.flush()
                notes.said = []
                if found[-1][1] is not None:
                    return
        finally:
            importer.compounds.close()
    finally:
        app.close()


class Notes(logging.Handler):
    """The warnings of a worker's checks, as (logger, level, message), to be sent with its next group."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.said: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.said.append((record.name, record.levelno, record.getMessage()))

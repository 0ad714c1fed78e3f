"""Bulk export and import of the event log (JSON lines)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from renovation.cli import Session, pass_session


@click.command("export")
@click.argument("file", type=click.Path(path_type=Path))
@pass_session
def export(session: Session, file: Path) -> None:
    """Write every stored event, in log order, to FILE as JSON lines (one event a line, its stored JSON
    as is). Streams: memory stays constant however large the store.

    \b
    Example:
      renovation export liaoyuan-2021.jsonl
    """
    from renovation.cli.output import progress_bar, say
    from renovation.services.outputs import check_target, writing
    from renovation.services.transfer import export_events

    protected = session.workspace.store_files()
    check_target(file, protected)  # before anything is opened or counted
    session.may("maintain")
    app = session.app
    total = app.recorder.max_notification_id() or 0
    # The progress bar on stderr: stdout is the user's to redirect, and a full one must not fail the file.
    with writing(file, protected) as out, progress_bar() as bar:
        task = bar.add_task("export", total=total or 1)
        count = export_events(app, out, progress=lambda done: bar.advance(task, done))
    say(f"exported {count} events to {file}", after="exported")  # a file that exists is complete


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--rebase", is_flag=True,
              help="Re-apply, on the current state, an offline copy's work that conflicts with the store.")
@pass_session
def import_(session: Session, file: Path, rebase: bool) -> None:
    """Store the events of a JSON-lines FILE made by `renovation export`. Every line is checked
    against the rules of the command that records it, and all is stored in one transaction: nothing
    is stored if a line is bad. Events already in the store are skipped, so importing the same file
    twice adds nothing. An event where the store holds another (an offline copy's work on a compound
    that moved on meanwhile) is a conflict: refused, naming it. With --rebase, the copy's conflicting
    work is re-applied on the current state instead: each command checked by the rules again, with
    its recording user and business time, its ids given afresh; what the rules refuse now is listed.
    Streams, in large batches; holds the state of at most RENOVATION_IMPORT_COMPOUNDS compounds
    (default 4000) in memory. A file of 5 MB or more is checked by two worker processes (on a machine
    of two cores or more), a share of the compounds each; RENOVATION_IMPORT_WORKERS sets how many for
    any file (0 to 64; 0: none). A Ctrl-C stops the workers too, and stores nothing, unless the import
    was already being stored.

    \b
    Examples:
      renovation --db province.db import liaoyuan-2021.jsonl
      renovation import --rebase laptop.jsonl     # a field laptop's copy, back in the office
    """
    from renovation.cli.output import progress_bar
    from renovation.services.rebase import Rebase
    from renovation.services.transfer import (
        BadImport,
        import_batch_size,
        import_file,
        import_workers,
        resident_compounds,
    )

    try:
        batch, resident, workers = import_batch_size(), resident_compounds(), import_workers(file)
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    session.may("maintain")
    session.creating()
    new = not session.workspace.backend.exists()
    app = session.app
    rebasing = Rebase.of_file(file.name, session.user) if rebase else None
    with CtrlC() as ctrl_c:
        try:
            with progress_bar() as bar:
                task = bar.add_task("import", total=None)
                lines, added = import_file(app, file, progress=lambda done: bar.advance(task, done), batch=batch,
                                           resident=resident, rebase=rebasing,
                                           photo_limit=session.config.photos.max_bytes, workers=workers,
                                           before_commit=ctrl_c.hold)
        except (BadImport, KeyboardInterrupt) as error:
            if new and not session.workspace.backend.is_postgres:
                session.workspace.discard()  # the store this import began holds nothing: it is not left behind
            if isinstance(error, KeyboardInterrupt):
                raise
            raise click.UsageError(f"{file}: {error}") from None
        report_import(file, lines, added, rebasing)
        if ctrl_c.noted:
            click.echo("a Ctrl-C came as the import was being stored: it is stored", err=True)


class CtrlC:
    """A Ctrl-C as ever (KeyboardInterrupt) until ``hold``; from then on only noted: the import's
    transaction is committing, and a command never says it failed once its events are stored. (Only
    where a Ctrl-C raises KeyboardInterrupt: in the main thread, Python's own handler in place.)"""

    def __init__(self) -> None:
        self.held = False
        self.noted = False
        self.previous: Any = None

    def __enter__(self) -> CtrlC:
        import signal
        import threading

        main = threading.current_thread() is threading.main_thread()
        if main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self.previous = signal.signal(signal.SIGINT, self.heard)
        return self

    def heard(self, number: int, frame: Any) -> None:
        if not self.held:
            raise KeyboardInterrupt
        self.noted = True

    def hold(self) -> None:
        self.held = True

    def __exit__(self, *exc: object) -> None:
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def report_import(file: Path, lines: int, added: int, rebasing: Any) -> None:
    from renovation.cli.output import say

    say(f"imported {added} new events of {lines} in {file}", after="imported")
    if rebasing is not None and rebasing.tails:
        held = f", {rebasing.already} held already" if rebasing.already else ""
        say(f"re-applied {rebasing.applied} of the copy's commands on the current state{held}, "
            f"{len(rebasing.not_applied)} not applied", after="imported")
        if rebasing.renumbered:
            say(f"ids given anew (the copy's=here): {', '.join(rebasing.renumbered)}", after="imported")
        for line in rebasing.not_applied:
            click.echo(f"not applied: {line}", err=True)


COMMANDS = [export, import_]

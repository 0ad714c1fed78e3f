"""Backup and restore of a store."""

from __future__ import annotations

from pathlib import Path

import click

from renovation.cli import Session, pass_session


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_session
def backup(session: Session, file: Path) -> None:
    """Copy the store to FILE while writers go on (SQLite's online backup API: a consistent snapshot
    of the whole file, events, chain and read models). For PostgreSQL it says how to use pg_dump.

    \b
    Example:
      renovation backup renovation-2021-07-31.db
    """
    from renovation.services import admin

    admin.sqlite_store(session.workspace, "backup")  # PostgreSQL: how to use pg_dump instead
    session.may("maintain")
    source = admin.backup(session.workspace, file)
    click.echo(f"backed up {source} to {file}")


@click.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace a store that already holds events.")
@pass_session
def restore(session: Session, file: Path, force: bool) -> None:
    """Restore the store (--db) from a backup FILE made by `renovation backup`. The backup's hash
    chain is verified first; a store holding events is only replaced with --force.

    \b
    Example:
      renovation --db renovation.db restore renovation-2021-07-31.db
    """
    from renovation.services import admin

    target = admin.sqlite_store(session.workspace, "restore").path
    session.may("maintain")
    verified = admin.restore(session.workspace, file, force=force)
    click.echo(f"restored {target} from {file}: {verified} events verified")


COMMANDS = [backup, restore]

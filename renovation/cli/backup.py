"""Backup and restore of a store."""

from __future__ import annotations

from pathlib import Path

import click

from renovation.cli import RuleRefused, Session, pass_session


def _sqlite_path(session: Session, action: str) -> str:
    from renovation.store.backend import persistence_env

    env = persistence_env(session.db)
    if "SQLITE_DBNAME" not in env:
        raise click.UsageError(
            f"{action} copies an SQLite file; for PostgreSQL use pg_dump, e.g. "
            "`pg_dump --format=custom --schema=SCHEMA DBNAME > FILE` (a consistent snapshot while writers go "
            "on) and `pg_restore --dbname=DBNAME FILE`, then `renovation audit verify`"
        )
    return env["SQLITE_DBNAME"]


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
    import sqlite3

    source = _sqlite_path(session, "backup")
    session.may("maintain")
    if not Path(source).exists():
        raise click.UsageError(f"{source}: no such store")
    if file.exists():
        raise click.UsageError(f"{file} exists; give a new file name")
    partial = file.with_name(file.name + ".partial")
    try:
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30) as origin, \
                sqlite3.connect(partial) as copy:
            origin.backup(copy, pages=1024)  # steps, so writers are not held up for the whole copy
        partial.replace(file)
    except (sqlite3.Error, OSError) as error:
        partial.unlink(missing_ok=True)
        raise RuleRefused(f"backup failed: {' '.join(str(error).split())}") from None
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
    import shutil

    from renovation.services.application import RenovationApp
    from renovation.store.chain import ChainStore, verify

    target = _sqlite_path(session, "restore")
    session.may("maintain")
    try:
        checked = RenovationApp(str(file))
    except (OSError, ValueError) as error:
        raise click.UsageError(f"{file}: not a store ({error})") from None
    try:
        verified, problems = verify(ChainStore(checked.recorder))
    finally:
        checked.close()
    if problems:
        raise RuleRefused(f"{file} does not verify: position {problems[0].position}: {problems[0].kind}; not restored")
    if Path(target).exists() and not force and not session.app.is_empty():
        raise click.UsageError(f"{target} holds events; use --force to replace it")
    session.close()
    for suffix in ("-wal", "-shm"):
        Path(target + suffix).unlink(missing_ok=True)
    shutil.copyfile(file, target + ".restoring")
    Path(target + ".restoring").replace(target)
    click.echo(f"restored {target} from {file}: {verified} events verify")


COMMANDS = [backup, restore]

"""One way out for every command: a table (rich) by default, ``--json`` or ``--csv``.

JSON carries money, quantities, percentages and totals as strings and counts as integers; CSV is
UTF-8 with a header row of the JSON keys (stable for scripts, whatever the language); table headers
and words follow ``--lang``.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import click

from renovation.report.labels import display, label, plain

F = TypeVar("F", bound=Callable[..., Any])


def output_options(func: F) -> F:
    """``--json`` and ``--csv`` for a read command (a table without them)."""
    func = click.option("--csv", "as_csv", is_flag=True, help="CSV (UTF-8, header row) on stdout.")(func)
    func = click.option("--json", "as_json", is_flag=True, help="JSON on stdout.")(func)
    return func


def is_record(value: Any) -> bool:
    """A use case's result: a named tuple or a dataclass instance."""
    return hasattr(value, "_asdict") or (dataclasses.is_dataclass(value) and not isinstance(value, type))


def as_row(value: Any) -> dict[str, Any]:
    """A result (a named tuple or a dataclass) or a row as a dict of its fields, in order."""
    if hasattr(value, "_asdict"):
        return dict(value._asdict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    return dict(value)


def emit(rows: Any, *, as_json: bool, as_csv: bool, lang: str, title: str | None = None) -> None:
    """Print rows (a sequence of dicts or dataclasses) or one object in the chosen format."""
    if as_json and as_csv:
        raise click.UsageError("--json and --csv cannot be combined")
    rows = as_row(rows) if isinstance(rows, dict) or is_record(rows) else [as_row(r) for r in rows]
    if as_json:
        click.echo(json.dumps(plain(rows), ensure_ascii=False, indent=2))
        return
    if isinstance(rows, dict):
        if as_csv:
            rows = [rows]
        else:
            rows = [{"field": label(key, lang), "detail": display(key, value, lang)} for key, value in rows.items()]
    if as_csv:
        click.echo(to_csv(rows, lang), nl=False)
        return
    print_table(rows, lang, title)


def to_csv(rows: Sequence[dict[str, Any]], lang: str) -> str:
    buffer = io.StringIO()
    if rows:
        keys = list(rows[0])
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(keys)
        for row in rows:
            writer.writerow([_csv_cell(row.get(key)) for key in keys])
    return buffer.getvalue()


#: What a spreadsheet program reads as the start of a formula when a cell begins with it.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return _neutralised(";".join(str(plain(item)) for item in value))
    if value is None:
        return ""
    if isinstance(value, str):  # text a person typed; numbers (decimals included) stay numbers
        return _neutralised(value)
    return plain(value)


def _neutralised(text: str) -> str:
    """Text that a spreadsheet would run as a formula, kept as text with a leading apostrophe (the
    convention spreadsheet programs themselves use)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


@contextlib.contextmanager
def progress_bar() -> Iterator[Any]:
    """A transient progress bar on stderr: stdout carries only the command's answer, and a bar that
    cannot be drawn (stderr full or closed) never fails the work, nor reports work that is done as
    failed."""
    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    bar = Progress(console=console, transient=True, disable=not console.is_terminal)  # no bar in a log
    with contextlib.suppress(OSError, ValueError):  # ValueError: a closed file
        bar.start()
    try:
        yield bar
    finally:
        with contextlib.suppress(OSError, ValueError):
            bar.stop()


def print_table(rows: Sequence[dict[str, Any]], lang: str, title: str | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    if not rows:
        click.echo("(无)" if lang == "zh" else "(none)")
        return
    keys = list(rows[0])
    for key in keys:
        table.add_column(label(key, lang))
    for row in rows:
        table.add_row(*(display(key, row.get(key), lang) for key in keys))
    # Cells are data (a name may read "[/x]" or ":warning:"), never rich markup or emoji codes.
    console = Console(markup=False, emoji=False)
    if not console.is_terminal:
        console = Console(width=240, markup=False, emoji=False)  # piped or captured: never truncate a column
    console.print(table)


def write_options(func: F) -> F:
    """``--json`` for a write command: print what was recorded as one JSON object."""
    return click.option("--json", "as_json", is_flag=True, help="Print what was recorded as JSON.")(func)


def recorded(result: Any, message: str, *, as_json: bool) -> None:
    """Print what a write command recorded. Its events are stored already: if stdout cannot take the
    confirmation, the command has still succeeded (a user who saw it fail would record it again)."""
    say(json.dumps(plain(result), ensure_ascii=False) if as_json else message, after="recorded")


def say(message: str, *, after: str) -> None:
    """Print the confirmation of work that is done (``after``: "recorded", "written"...). If stdout
    cannot take it (a full disk, a closed pipe, no stdout at all), the work still stands: the
    command says so on stderr and succeeds."""
    import os
    import sys

    if sys.stdout is None:
        with contextlib.suppress(OSError, AttributeError):
            click.echo(f"{after}, but its confirmation could not be printed (no standard output)", err=True)
        return
    try:
        click.echo(message)
        sys.stdout.flush()
    except OSError as error:
        # Nothing more may reach the broken stdout, not even the interpreter's flush at exit.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        reason = error.strerror or type(error).__name__
        with contextlib.suppress(OSError):
            click.echo(f"{after}, but its confirmation could not be printed ({reason})", err=True)

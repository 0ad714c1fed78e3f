"""One way out for every command: a table (rich) by default, ``--json`` or ``--csv``.

JSON carries money, quantities, percentages and totals as strings and counts as integers; CSV is
UTF-8 with a header row of the JSON keys (stable for scripts, whatever the language); table headers
and words follow ``--lang``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from renovation.report.labels import display, label, plain

F = TypeVar("F", bound=Callable[..., Any])


#: Where ``--xlsx`` keeps its file for ``emit`` (the click context's meta).
XLSX = "renovation.xlsx"


def output_options(func: F) -> F:
    """``--json``, ``--csv`` and ``--xlsx FILE`` for a read command (a table without them)."""
    func = click.option("--xlsx", metavar="FILE", type=click.Path(path_type=Path), default=None,
                        expose_value=False, callback=_remember_xlsx,
                        help="Write the rows to this Excel workbook (typed cells, a frozen header row).")(func)
    func = click.option("--csv", "as_csv", is_flag=True, help="CSV (UTF-8, header row) on stdout.")(func)
    func = click.option("--json", "as_json", is_flag=True, help="JSON on stdout.")(func)
    return func


def _remember_xlsx(ctx: click.Context, _param: click.Parameter, value: Path | None) -> Path | None:
    """Check ``--xlsx FILE`` before the command's work (never the store's own files), and keep it."""
    if value is not None:
        from renovation.services.outputs import BadOutput, check_target

        session = ctx.find_object(_session_type())
        try:
            check_target(value, session.workspace.store_files() if session else ())
        except BadOutput as error:
            raise click.BadParameter(f"cannot write {error}", param_hint="--xlsx") from None
        ctx.meta[XLSX] = value
    return value


def _session_type() -> type[Any]:
    from renovation.cli import Session

    return Session


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


def emit(rows: Any, *, as_json: bool, as_csv: bool, lang: str, title: str | None = None,
         columns: Sequence[str] | None = None) -> None:
    """Print rows (a sequence of dicts or dataclasses) or one object in the chosen format (or write
    them to the ``--xlsx`` workbook). ``columns``: the keys of a row, for the header of no rows."""
    context = click.get_current_context(silent=True)
    xlsx: Path | None = context.meta.get(XLSX) if context else None
    if sum((as_json, as_csv, xlsx is not None)) > 1:
        raise click.UsageError("give one of --json, --csv, --xlsx")
    rows = as_row(rows) if isinstance(rows, dict) or is_record(rows) else [as_row(r) for r in rows]
    if xlsx is not None:
        _write_xlsx(xlsx, [rows] if isinstance(rows, dict) else rows, columns, lang, context)
        return
    if as_json:
        click.echo(json.dumps(plain(rows), ensure_ascii=False, indent=2))
        return
    if isinstance(rows, dict):
        if as_csv:
            rows = [rows]
        else:
            rows = [{"field": label(key, lang), "detail": display(key, value, lang)} for key, value in rows.items()]
    if as_csv:
        click.echo(to_csv(rows, lang, columns), nl=False)
        return
    print_table(rows, lang, title)


def _write_xlsx(path: Path, rows: Sequence[dict[str, Any]], columns: Sequence[str] | None, lang: str,
                context: click.Context | None) -> None:
    from renovation.report.workbook import workbook
    from renovation.services.outputs import BadOutput, writing

    keys = list(rows[0]) if rows else list(columns or ())
    name = "-".join(context.command_path.split()[1:]) if context else "renovation"  # e.g. finding-list
    session = context.find_object(_session_type()) if context else None
    try:
        with writing(path, session.workspace.store_files() if session else (), binary=True) as out:
            out.write(workbook(rows, keys, lang, title=name))
    except BadOutput as error:
        raise click.UsageError(f"--xlsx: cannot write {error}") from None
    say(f"已将 {len(rows)} 行写入 {path}" if lang == "zh" else f"{len(rows)} rows written to {path}", after="written")


def to_csv(rows: Sequence[dict[str, Any]], lang: str, columns: Sequence[str] | None = None) -> str:
    """A header row (the keys; of ``columns`` when there are no rows) and a row per row."""
    buffer = io.StringIO()
    keys = list(rows[0]) if rows else list(columns or ())
    if keys:
        import csv  # only for --csv

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
    if isinstance(value, bool):
        return "true" if value else "false"
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
    from rich.measure import Measurement
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
        console = Console(width=PIPED_WIDTH, markup=False, emoji=False)  # piped or captured: never cut a cell
        console.print(table)
        return
    if Measurement.get(console, console.options, table).minimum + 2 * len(keys) > console.width:
        _print_records(console, rows, keys, lang, title)  # too many columns for the terminal: one row a block
        return
    console.print(table)


#: The width a table is drawn at when it is not drawn on a terminal: wide enough for any row.
PIPED_WIDTH = 100_000


def _print_records(console: Any, rows: Sequence[dict[str, Any]], keys: Sequence[str], lang: str,
                   title: str | None) -> None:
    """Each row as a block of "label  value" lines: readable in a narrow terminal, nothing cut."""
    from rich.table import Table

    if title:
        console.print(title)
    for number, row in enumerate(rows):
        block = Table.grid(padding=(0, 2))
        block.add_column(style="bold", no_wrap=True)
        block.add_column(overflow="fold")
        for key in keys:
            block.add_row(label(key, lang), display(key, row.get(key), lang))
        if number:
            console.print()
        console.print(block)


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


def payments_summary(figures: Mapping[str, Any], lang: str) -> str:
    """A compound's progress payments (under ``ledger`` and ``audit replay``), wrapped to the terminal's
    width (the fields are never cut)."""
    import shutil
    import textwrap

    keys = ("certified", "paid", "retained", "released", "outstanding")
    if lang == "zh":
        words = ("核定支付", "已支付", "保留金", "已返还", "应付未付")
        said = (f"{word} {plain(figures[key])}" for word, key in zip(words, keys, strict=True))
        text = "计量支付（元）：" + "， ".join(said)
        width = shutil.get_terminal_size().columns // 2  # a Chinese character takes two columns
    else:
        text = "Payments (yuan): " + ", ".join(f"{key} {plain(figures[key])}" for key in keys)
        width = shutil.get_terminal_size().columns
    return textwrap.fill(text, width=max(width, 40), break_long_words=False, break_on_hyphens=False)

"""Reading a bill of quantities from CSV: every row validated before anything is stored."""

from __future__ import annotations

import csv
from pathlib import Path

import click
from pydantic_core import ValidationError

from renovation.cli.inputs import BoqRow
from renovation.domain.values import BoqItem

COLUMNS = ("item", "description", "unit", "quantity", "unit_price")
MAX_ROWS = 10_000
#: The largest file read: far above 10,000 rows of the longest fields.
MAX_BYTES = 10 * 2**20


def read_boq(path: Path) -> list[BoqItem]:
    """The items of the file, or a usage error naming the first bad row."""
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)  # never more: a device or a pipe may never end
        if len(raw) > MAX_BYTES:
            raise click.UsageError(f"{path}: larger than {MAX_BYTES // 2**20} MB; no bill of quantities is that large")
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise click.UsageError(f"{path}: not UTF-8 text (save the CSV as UTF-8)") from None
    except OSError as error:
        raise click.UsageError(f"{path}: {error.strerror}") from None
    reader = csv.DictReader(text.splitlines())
    try:
        header = tuple(name.strip() for name in reader.fieldnames or ())
    except csv.Error as error:
        raise click.UsageError(f"{path}: not valid CSV ({error})") from None
    if header != COLUMNS:
        found = ",".join(header) or "nothing"
        raise click.UsageError(f"{path}: the header must be {','.join(COLUMNS)} (found {found})")
    items = []
    try:
        for number, row in enumerate(reader, start=2):
            if number > MAX_ROWS + 1:
                raise click.UsageError(f"{path}: more than {MAX_ROWS} rows")
            if None in row or any(value is None for value in row.values()):
                raise click.UsageError(f"{path} line {number}: expected {len(COLUMNS)} columns")
            items.append(_item(path, number, row))
    except csv.Error as error:
        raise click.UsageError(f"{path}: not valid CSV ({error})") from None
    if not items:
        raise click.UsageError(f"{path}: no items")
    return items


def _item(path: Path, number: int, row: dict[str, str]) -> BoqItem:
    try:
        parsed = BoqRow.validate_dict({key.strip(): value for key, value in row.items()})
    except ValidationError as error:
        first = error.errors()[0]
        field = first["loc"][0] if first["loc"] else "row"
        message = first["msg"].removeprefix("Value error, ")
        raise click.UsageError(f"{path} line {number}: {field}: {message}") from None
    return BoqItem(
        code=parsed.item, description=parsed.description, unit=parsed.unit,
        quantity=parsed.quantity, unit_price=parsed.unit_price,
    )

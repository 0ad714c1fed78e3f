"""A read command's rows as an Excel workbook (``--xlsx FILE``), for the bureau and the cost consultant
who work in Excel: one sheet, the columns' labels in the chosen language as a frozen header row, and
typed cells — an amount is a number kept to its scale (``1234.50`` shown as 1234.50, written as the
exact decimal, never through a float), a date a date, a time the store's local time, a yes/no a
boolean, text as text (never a formula, whatever it begins with)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from renovation.report.labels import display, label, plain

#: The widest a column is drawn (in characters); its cells are not cut, only shown narrower.
MAX_WIDTH = 60


def workbook(rows: Sequence[dict[str, Any]], keys: Sequence[str], lang: str, title: str = "renovation") -> bytes:
    """The rows as the bytes of an .xlsx file."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING
    from openpyxl.styles import Font

    book = Workbook()
    sheet: Any = book.active
    sheet.title = title[:31]
    sheet.append([label(key, lang) for key in keys])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    widths = [len(label(key, lang)) for key in keys]
    for number, row in enumerate(rows, start=2):
        for column, key in enumerate(keys, start=1):
            value, shape = typed(key, row.get(key), lang)
            cell = sheet.cell(row=number, column=column)
            cell.value = value
            if isinstance(value, str):
                cell.data_type = TYPE_STRING  # "=1+2" typed by a person stays text, never a formula
            if shape:
                cell.number_format = shape
            widths[column - 1] = max(widths[column - 1], len(str(value)) if value is not None else 0)
    sheet.freeze_panes = "A2"
    for column, width in enumerate(widths, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=column).column_letter].width = min(MAX_WIDTH, width + 2)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def typed(key: str, value: Any, lang: str) -> tuple[Any, str | None]:
    """A cell's value and number format."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return value, None
    if isinstance(value, Decimal):
        places = max(0, -int(value.as_tuple().exponent))
        return value, "0" if places == 0 else "0." + "0" * places
    if isinstance(value, int):
        return value, "0"
    if isinstance(value, datetime):
        return value.replace(tzinfo=None), "yyyy-mm-dd hh:mm:ss"  # shown in the store's zone, as elsewhere
    if isinstance(value, date):
        return value, "yyyy-mm-dd"
    if isinstance(value, (list, tuple)):
        return "; ".join(str(plain(item)) for item in value), None
    return display(key, value, lang), None

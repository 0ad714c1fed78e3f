"""The leaders' report as a use case: gathered from the caught-up read models for who asks (a
contractor: its own compounds), with the computed horse race beside the recorded board, and rendered
as one self-contained HTML document (``renovation report --html`` writes it; ``renovation serve``
shows it)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from renovation.report.data import ReportData
    from renovation.services.workspace import Workspace

READ_MODELS = ("progress", "quality", "ledger", "ranking", "feedback")


def gathered(ws: Workspace, user: str | None, today: date, period: str | None) -> ReportData:
    """The report's data: the boards to ``today``, the horse race of ``period`` (default: the latest
    scored) with the computed totals beside it."""
    from renovation.report.data import gather
    from renovation.services.horserace import beside
    from renovation.services.scope import own_codes

    weights = ws.config.ranking.weights.as_dict()  # a bad renovation.toml fails here, before any work
    models = ws.read_models(*READ_MODELS)
    codes = own_codes(ws, user)
    with models.engine.connect() as connection:
        data = gather(connection, today=today, weights=weights, period=period, codes=codes)
    return replace(data, **{  # the computed horse race beside the recorded board
        name: cast(Any, beside(ws, cast(Any, getattr(data, name)), by, today, user=user))
        for name, by in (("board_contractors", "contractor"), ("board_compounds", "compound"))})


def document(data: ReportData, lang: str) -> str:
    from renovation.report.html import render

    return render(data, lang)

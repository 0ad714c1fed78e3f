"""The morning digest (``renovation digest``): what needs attention on a day, one section each.

- ``overdue_findings``: findings not closed past their due date, by contractor (the most overdue first);
- ``no_morning_round``: compounds under construction whose first morning round of the day did not
  start by ``[digest] morning_round_by`` (default 07:30), or that have none;
- ``pending_samples``: samples without their result for ``sample_pending_days`` (default 7) or more;
- ``awaiting_resample``: failed samples whose batch awaits the double-quantity resample;
- ``open_tickets``: residents' tickets open for ``ticket_open_days`` (default 3) or more;
- ``behind_plan``: compounds not completed that are behind their plan (a late start, or past the
  planned finish);
- ``unscored``: compounds under construction during the last month that ended (the horse-race
  period) without a score for it.

Counted on the day: today's digest from the live read models; an earlier day's from the events
recorded by its end (as ``--as-of`` does), so it says what was known then. Scoped by who asks, as
every board: a contractor sees its own compounds only, and never a blind sample before its result.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from renovation.domain.values import Status

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from renovation.projections.runner import ReadModels
    from renovation.report.digest import Digest
    from renovation.services.workspace import Workspace

Row = dict[str, Any]
NAMES = ("progress", "quality", "worklists", "feedback", "ranking")


def last_period(day: date) -> str:
    """The last month that ended before ``day``, as YYYY-MM."""
    previous = day.replace(day=1) - timedelta(days=1)
    return f"{previous.year:04d}-{previous.month:02d}"


def digest(ws: Workspace, day: date, today: date, user: str) -> Digest:
    """The digest of ``day`` (not after ``today``) as ``user`` may see it."""
    from renovation.services.worklists import own_contractor

    settings = ws.config.digest  # a bad renovation.toml fails here, before any work
    models = _models(ws, day, today)
    own = own_contractor(ws, user)
    hide_blind = ws.config.access().hides_pending_blind_samples(user)
    period = last_period(day)
    zone = ws.app.zone
    with models.engine.connect() as connection:
        compounds = _compounds(connection, day, own)
        codes = None if own is None else sorted(compounds)  # every compound: no list of them all to match
        sections: dict[str, list[Row]] = {
            "overdue_findings": _overdue(connection, day, codes, zone),
            "no_morning_round": _no_morning_round(connection, day, compounds, settings.morning_round_by),
            "pending_samples": _pending(connection, day, codes, hide_blind, zone, settings.sample_pending_days),
            "awaiting_resample": _awaiting_resample(connection, codes, hide_blind, zone),
            "open_tickets": _open_tickets(connection, day, compounds, zone, settings.ticket_open_days),
            "behind_plan": _behind(compounds),
            "unscored": _unscored(connection, compounds, period),
        }
    return {"date": day, "period": period, "thresholds": {
        "morning_round_by": settings.morning_round_by.strftime("%H:%M"),
        "sample_pending_days": settings.sample_pending_days, "ticket_open_days": settings.ticket_open_days,
    }, "sections": sections}


def _models(ws: Workspace, day: date, today: date) -> ReadModels:
    """The live read models for today; for an earlier day, a replay of the events recorded by its end."""
    if day == today:
        return ws.read_models(*NAMES)
    from renovation.services.audit import read_models_as_of

    end = datetime.combine(day, time.max, ws.app.zone)
    return read_models_as_of(ws.app, end, *NAMES)


def _compounds(connection: Connection, day: date, own: str | None) -> dict[str, Row]:
    """The compounds (a contractor: its own), by code, as the progress board has them on ``day``."""
    from renovation.projections.progress import progress_rows

    return {row["code"]: dict(row) for row in progress_rows(connection, day)
            if own is None or row["contractor"] == own}


def _overdue(connection: Connection, day: date, codes: list[str] | None, zone: Any) -> list[Row]:
    from renovation.projections.worklists import finding_rows

    found = finding_rows(connection, day, state="overdue", codes=codes, zone=zone)
    found.sort(key=lambda row: (row["contractor"], -row["days_overdue"], row["code"], int(row["finding_id"][1:])))
    return [{"contractor": row["contractor"], "code": row["code"], "finding_id": row["finding_id"],
             "severity": row["severity"], "category": row["category"], "description": row["description"],
             "location": row["location"], "due": row["due"], "days_overdue": row["days_overdue"],
             "status": row["status"]} for row in found]


def _no_morning_round(connection: Connection, day: date, compounds: dict[str, Row], by: time) -> list[Row]:
    from sqlalchemy import select

    from renovation.projections.quality import morning_days

    building = [row for row in compounds.values() if row["status"] == Status.UNDER_CONSTRUCTION
                and row["started_on"] is not None and row["started_on"] <= day]
    if not building:
        return []
    first = dict(connection.execute(
        select(morning_days.c.code, morning_days.c.first_start).where(morning_days.c.day == day)
    ).tuples().all())
    latest = by.isoformat(timespec="seconds")
    return [{"code": row["code"], "name": row["name"], "contractor": row["contractor"],
             "first_morning_round": first.get(row["code"], "")[:5] or None}
            for row in building if first.get(row["code"], "99") > latest]


def _pending(connection: Connection, day: date, codes: list[str] | None, hide_blind: bool, zone: Any,
             days: int) -> list[Row]:
    from renovation.projections.worklists import sample_rows

    rows: list[Row] = []
    for row in sample_rows(connection, state="pending", codes=codes, hide_pending_blind=hide_blind, zone=zone):
        waited = (day - row["sampled_at"].date()).days
        if waited >= days:
            rows.append({"contractor": row["contractor"], "code": row["code"], "sample_id": row["sample_id"],
                         "material": row["material"], "batch": row["batch"], "regime": row["regime"],
                         "sampled_at": row["sampled_at"], "days_pending": waited})
    return rows


def _awaiting_resample(connection: Connection, codes: list[str] | None, hide_blind: bool, zone: Any) -> list[Row]:
    from renovation.projections.worklists import sample_rows

    return [{"contractor": row["contractor"], "code": row["code"], "batch": row["batch"],
             "material": row["material"], "sample_id": row["sample_id"], "lab": row["lab"], "report": row["report"]}
            for row in sample_rows(connection, state="resample", codes=codes, hide_pending_blind=hide_blind,
                                   zone=zone)]


def _open_tickets(connection: Connection, day: date, compounds: dict[str, Row], zone: Any, days: int) -> list[Row]:
    from renovation.projections.feedback import feedback_rows

    rows: list[Row] = []
    for row in feedback_rows(connection, only_open=True, zone=zone):
        compound = compounds.get(row["code"])
        waited = (day - row["received_at"].date()).days
        if compound is not None and waited >= days:
            rows.append({"contractor": compound["contractor"], "code": row["code"], "ticket_id": row["ticket_id"],
                         "channel": row["channel"], "text": row["text"], "received_at": row["received_at"],
                         "days_open": waited})
    return rows


def _behind(compounds: dict[str, Row]) -> list[Row]:
    behind = [row for row in compounds.values() if row["completed_on"] is None and row["days_behind"] > 0]
    behind.sort(key=lambda row: (-row["days_behind"], row["code"]))
    return [{"code": row["code"], "name": row["name"], "contractor": row["contractor"], "status": row["status"],
             "planned_start": row["planned_start"], "started_on": row["started_on"],
             "planned_finish": row["planned_finish"], "days_behind": row["days_behind"]} for row in behind]


def _unscored(connection: Connection, compounds: dict[str, Row], period: str) -> list[Row]:
    """Compounds under construction on some day of ``period`` without a score for it."""
    from sqlalchemy import select

    from renovation.projections.ranking import scores

    first = date.fromisoformat(period + "-01")
    last = (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    scored = set(connection.execute(select(scores.c.code).where(scores.c.period == period)).scalars())
    return [{"code": row["code"], "name": row["name"], "contractor": row["contractor"], "period": period}
            for row in compounds.values()
            if row["started_on"] is not None and row["started_on"] <= last
            and (row["completed_on"] is None or row["completed_on"] >= first) and row["code"] not in scored]

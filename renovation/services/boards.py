"""The boards as use cases: each catches its read model up (or replays the log up to ``--as-of``) and
returns its rows: dicts keyed as the spec's ``--json`` output, each board's a TypedDict of
``renovation.projections`` (``ProgressRow``, ``CompoundQuality``, ``RankingRow``, ``LedgerRow``, ...)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from renovation.domain import errors
from renovation.services import scope

if TYPE_CHECKING:
    from renovation.projections.feedback import TicketRow
    from renovation.projections.ledger import LedgerRow
    from renovation.projections.payments import CertificateRow, PaymentRow
    from renovation.projections.progress import ProgressRow
    from renovation.projections.quality import MissedDay, QualityRows
    from renovation.projections.ranking import RankingRow
    from renovation.projections.runner import ProjectionStatus, ReadModels
    from renovation.services.workspace import Workspace

Row = dict[str, Any]
#: The read models, in the order a rebuild of all of them runs.
NAMES = ("progress", "quality", "ledger", "ranking", "feedback", "worklists", "payments", "computed")


def models_for(ws: Workspace, name: str | tuple[str, ...], today: date,
               as_of: datetime | None) -> tuple[ReadModels, date]:
    """The caught-up live read model(s) and today; or, as of a moment, a temporary replay (one pass for all
    the named read models) and that day."""
    names = (name,) if isinstance(name, str) else name
    if as_of is None:
        return ws.read_models(*names), today
    from renovation.services.audit import read_models_as_of

    return read_models_as_of(ws.app, as_of, *names), as_of.date()


def require_compound(ws: Workspace, code: str) -> None:
    """Refuse an unknown code (rather than show it as empty): from the log, or, for a login that may not
    read the log (a contractor's on PostgreSQL after ``db roles --apply``), from the progress board."""
    app = ws.app  # binds the backend to the store
    if ws.backend.reads_log():
        app.get_project(code)
        return
    from sqlalchemy import select

    from renovation.domain.values import normalise_code
    from renovation.projections.progress import compounds

    with ws.read_models("progress").engine.connect() as connection:
        found = connection.execute(select(compounds.c.code).where(compounds.c.code == normalise_code(code))).first()
    if found is None:
        raise errors.CompoundNotFound(code=normalise_code(code))


def progress(ws: Workspace, today: date, as_of: datetime | None = None, *,
             user: str | None = None) -> list[ProgressRow]:
    from renovation.projections.progress import progress_rows

    models, day = models_for(ws, "progress", today, as_of)
    with models.engine.connect() as connection:
        rows = progress_rows(connection, day)
    return scope.keep(ws, user, rows)


def columns(kind: str) -> list[str]:
    """The keys of a row of a board (progress, ledger, feedback, findings, samples): the header of a
    CSV or workbook with no rows."""
    from renovation.domain.values import SCORE_DIMENSIONS
    from renovation.projections.feedback import TicketRow
    from renovation.projections.ledger import LedgerRow
    from renovation.projections.progress import ProgressRow
    from renovation.projections.quality import MissedDay, QualityFigures
    from renovation.projections.worklists import FindingRow, SampleRow
    from renovation.services.audit import HistoryRow

    figures = list(QualityFigures.__annotations__)
    fixed: dict[str, list[str]] = {
        "quality-compound": ["code", "contractor", *figures], "quality-contractor": ["contractor", *figures],
        "ranking-compound": ["period", "rank", "code", "name", "contractor", "total", *SCORE_DIMENSIONS, "movement",
                             "last"],
        "ranking-contractor": ["period", "rank", "contractor", "compounds", "total", *SCORE_DIMENSIONS, "movement",
                               "last"],
    }
    beside = ["computed_total", "difference", "flagged"]
    fixed["ranking-compound-beside"] = [*fixed["ranking-compound"], *beside]
    fixed["ranking-contractor-beside"] = [*fixed["ranking-contractor"], *beside]
    if kind in fixed:
        return fixed[kind]
    from renovation.projections.payments import CertificateRow, PaymentRow

    rows: dict[str, type] = {"progress": ProgressRow, "ledger": LedgerRow, "feedback": TicketRow,
                             "payments": PaymentRow, "certificates": CertificateRow,
                             "findings": FindingRow, "samples": SampleRow, "missed": MissedDay, "history": HistoryRow}
    return list(rows[kind].__annotations__)


#: ``compound list``'s columns.
COMPOUND_COLUMNS = ("code", "name", "district", "contractor", "status", "contract_value", "metered_value")


def compounds(ws: Workspace, today: date, *, user: str | None = None) -> list[Row]:
    """``compound list``: the progress board's identifying columns."""
    return [{key: row[key] for key in COMPOUND_COLUMNS}  # type: ignore[literal-required]
            for row in progress(ws, today, user=user)]


def quality(ws: Workspace, today: date, *, code: str | None, by: str, missed: bool,
            hide_blind: bool, as_of: datetime | None = None, user: str | None = None) -> QualityRows | list[MissedDay]:
    """The quality board (by compound or contractor), one compound's row, or its days without a
    morning round. A contractor (``hide_blind``) never learns of a blind sample before its result."""
    from renovation.projections.quality import missed_days, quality_rows

    on_time_by = ws.config.quality.on_time_by  # a bad renovation.toml fails here, before any work
    models, today = models_for(ws, "quality", today, as_of)
    hidden = frozenset({"blind"}) if hide_blind else frozenset()
    if code is not None:
        scope.require(ws, user, code)
    with models.engine.connect() as connection:
        if code is None:
            return scope.keep(ws, user, quality_rows(connection, today, by, hidden, on_time_by))
        require_compound(ws, code)
        if missed:
            days: list[MissedDay] = [{"code": code, "day": day} for day in missed_days(connection, code, today)]
            return days
        return [row for row in quality_rows(connection, today, "compound", hidden, on_time_by) if row["code"] == code]


def check_period(period: str, today: date) -> None:
    """Refuse a period after today's: nothing of it has happened yet (on the recorded board, the computed
    one and the report alike)."""
    from renovation.domain.values import period_of

    current = period_of(today)
    if period > current:
        raise errors.PeriodInFuture(period=period, current=current)


def ranking(ws: Workspace, period: str | None, by: str, today: date,
            as_of: datetime | None = None) -> list[RankingRow]:
    from renovation.projections.ranking import ranking_rows

    weights = ws.config.ranking.weights.as_dict()  # a bad renovation.toml fails here, before any work
    models, day = models_for(ws, "ranking", today, as_of)
    if period is not None:
        check_period(period, day)
    with models.engine.connect() as connection:
        return ranking_rows(connection, weights, period, by)


def ranking_periods(ws: Workspace) -> list[str]:
    """The periods the bureau has scored, earliest first."""
    from renovation.projections.ranking import periods

    with ws.read_models("ranking").engine.connect() as connection:
        return periods(connection)


def ledger(ws: Workspace, code: str, item: str | None, period: str | None,
           as_of: datetime | None = None, *, user: str | None = None) -> list[LedgerRow]:
    from renovation.projections.ledger import ledger_items_of, ledger_rows

    scope.require(ws, user, code)
    require_compound(ws, code)
    models, _day = models_for(ws, "ledger", date.today(), as_of)
    with models.engine.connect() as connection:
        if item is not None and item not in (known := ledger_items_of(connection, code)):
            raise errors.UnknownItem(code=code, item=item, known=", ".join(sorted(known)))
        return ledger_rows(connection, code, item, period)


def payments(ws: Workspace, code: str | None, as_of: datetime | None = None, *,
             user: str | None = None) -> list[PaymentRow] | list[CertificateRow]:
    """Progress payments: per compound (certified, paid, retained, released, outstanding), or per
    certificate of one compound."""
    from renovation.projections.payments import certificate_rows, payment_rows

    if code is not None:
        scope.require(ws, user, code)
        require_compound(ws, code)
    models, _day = models_for(ws, "payments", date.today(), as_of)
    with models.engine.connect() as connection:
        if code is None:
            return scope.keep(ws, user, payment_rows(connection))
        return certificate_rows(connection, code)


def certificate(ws: Workspace, code: str, certificate_id: str, *,
                user: str | None = None) -> dict[str, Any]:
    """One payment certificate as printed (``payment certificate``): the compound (code, name,
    district, contractor), the certificate's figures, the metering entries it cites and the payments
    against it. A compound the user may not see, or a certificate it does not have, is refused."""
    from sqlalchemy import select

    from renovation.projections.payments import certificate_rows, cited_rows, payments_of
    from renovation.projections.progress import compounds

    scope.require(ws, user, code)
    require_compound(ws, code)
    models = ws.read_models("progress", "payments")
    with models.engine.connect() as connection:
        found = [row for row in certificate_rows(connection, code) if row["certificate_id"] == certificate_id]
        if not found:
            raise errors.UnknownCertificate(code=code, certificate_id=certificate_id)
        compound = connection.execute(select(compounds.c.code, compounds.c.name, compounds.c.district,
                                             compounds.c.contractor).where(compounds.c.code == code)).one()
        return {"compound": dict(compound._mapping), "certificate": found[0],
                "entries": cited_rows(connection, code, certificate_id),
                "payments": payments_of(connection, code, certificate_id)}


def payment_summary(ws: Workspace, code: str, as_of: datetime | None = None) -> dict[str, Decimal]:
    """One compound's progress payments (certified, paid, retained, released, outstanding); zero
    without a certificate. The caller has checked the user may see the compound."""
    from renovation.projections.payments import ZERO, payment_rows

    models, _day = models_for(ws, "payments", date.today(), as_of)
    with models.engine.connect() as connection:
        found = [row for row in payment_rows(connection) if row["code"] == code]
    keys = ("certified", "paid", "retained", "released", "outstanding")
    return {key: found[0][key] if found else ZERO for key in keys}  # type: ignore[literal-required]


def feedback(ws: Workspace, *, only_open: bool, as_of: datetime | None = None,
             user: str | None = None) -> list[TicketRow]:
    from renovation.projections.feedback import feedback_rows

    models, _day = models_for(ws, "feedback", date.today(), as_of)
    with models.engine.connect() as connection:
        rows = feedback_rows(connection, only_open=only_open, zone=models.zone)
    return scope.keep(ws, user, rows)


def summary(ws: Workspace, last: date) -> tuple[list[Row], list[Row]]:
    """The demo's closing board: the contractor ranking of the latest period, and progress by status."""
    from renovation.projections.common import percent

    board: list[Row] = [
        {"period": row["period"], "rank": row["rank"], "contractor": row["contractor"],
         "compounds": row.get("compounds"), "total": row["total"], "movement": row["movement"], "last": row["last"]}
        for row in ranking(ws, None, "contractor", last)
    ]
    rows = progress(ws, last)
    by_status: list[Row] = []
    for status in ("registered", "under_construction", "completed", "accepted", "handed_over", "all"):
        chosen = rows if status == "all" else [row for row in rows if row["status"] == status]
        if chosen or status == "all":
            contract = sum((row["contract_value"] for row in chosen), Decimal(0))
            metered = sum((row["metered_value"] for row in chosen), Decimal(0))
            by_status.append({"status": status, "compounds": len(chosen), "contract_value": contract,
                              "metered_value": metered, "percent_complete": percent(metered, contract)})
    return board, by_status


# ---------------------------------------------------------------------------------- the read models
def status(ws: Workspace) -> list[ProjectionStatus]:
    """Per projection: its position, the head of the log and the lag (without catching up first)."""
    from renovation.projections import read_models

    models = read_models(ws.app)
    try:
        return models.status()
    finally:
        models.close()


def _may_project(ws: Workspace) -> None:
    """Refuse, before any work, a login that may not write the read models (on PostgreSQL after ``db roles
    --apply``: all but the projector's)."""
    from renovation.projections.base import tracking
    from renovation.services.errors import Refused

    ws.app  # noqa: B018  (binds the backend to the store)
    if not ws.backend.may_write(tracking.name):
        raise Refused("this database login may not write the read models: after `renovation db roles --apply` "
                      "only the projector's login does (PREFIX_projector)")


def rebuild(ws: Workspace, names: tuple[str, ...], started: Callable[[int], Callable[[str, int], None]]) -> int:
    """Clear and replay the named read models (or all); ``started(head)`` gives the progress callback
    ``advance(name, events_done)``. Returns the head of the log they were rebuilt to."""
    from renovation.projections import read_models

    _may_project(ws)
    models = read_models(ws.app)
    try:
        head = models.head()
        advance = started(head)
        models.rebuild(*(names or NAMES), progress=advance)  # one pass over the log feeds them all
        return head
    finally:
        models.close()


#: How long a follower on PostgreSQL waits for an event before it looks whether the day has changed.
DAY_LOOK = 60.0


def follow(ws: Workspace, stop: threading.Event, started: Callable[[int], None],
           caught_up: Callable[[], None] | None = None, day: Callable[[], object] = lambda: None) -> int:
    """Keep the read models current until ``stop`` is set: woken by LISTEN/NOTIFY on PostgreSQL (the
    library's subscription; and every ``DAY_LOOK`` seconds), polling once a second on SQLite;
    ``caught_up`` is called after each catch-up that found events, and when ``day()`` changes (the
    computed scores of the month under way count to the day). Returns the position reached."""
    from renovation.projections import read_models

    _may_project(ws)
    models = read_models(ws.app)
    snapshotted = 0
    kept: tuple[int, object] | None = None

    def current() -> None:  # the read models, then the snapshots of the compounds written meanwhile
        nonlocal snapshotted, kept
        head = models.head()
        models.catch_up(upto=head)
        ws.app.snapshot_lagging(after=snapshotted)
        snapshotted = head
        if caught_up is not None and (head, today := day()) != kept:
            caught_up()
            kept = (head, today)

    try:
        start = models.head()
        current()
        started(start)
        if ws.backend.is_postgres:
            # Subscribing after `start` also delivers what was recorded while catching up.
            with ws.app.recorder.subscribe(gt=start) as subscription:
                woken = threading.Event()
                failed: list[BaseException] = []

                def listen() -> None:  # each event recorded wakes the follower; the work is done here
                    try:
                        for _notification in subscription:
                            woken.set()
                    except Exception as error:  # noqa: BLE001 (whatever stops the subscription is raised by the follower below)
                        failed.append(error)
                    finally:
                        woken.set()

                def stop_when_told() -> None:
                    stop.wait()
                    subscription.stop()

                listener = threading.Thread(target=listen, daemon=True)
                listener.start()
                threading.Thread(target=stop_when_told, daemon=True).start()
                while True:
                    woken.wait(DAY_LOOK)
                    woken.clear()  # before the catch-up: an event recorded from now on wakes it again
                    if failed:
                        raise failed[0]
                    if not listener.is_alive():  # stopped
                        break
                    current()
        else:
            while not stop.wait(1.0):
                current()
        return models.head()
    finally:
        stop.set()
        models.close()

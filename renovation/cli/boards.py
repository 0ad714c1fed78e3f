"""The read side: progress, quality, ranking, ledger, and the projections themselves.

Every read command first catches its read model up with every event recorded so far.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import click

from renovation.cli import Session, pass_session
from renovation.cli.output import emit, output_options

if TYPE_CHECKING:
    from renovation.projections.runner import ReadModels


AS_OF_HELP = "Answer as on that moment (ISO 8601 or a date), from the events recorded by then."


def models_for(session: Session, name: str, as_of: str | None) -> tuple[ReadModels, date]:
    """The caught-up live read models and today; or, with --as-of, a temporary replay and that day."""
    if as_of is None:
        return session.read_models(name), session.today()
    from renovation.cli.audit import parse_as_of
    from renovation.services.audit import read_models_as_of

    moment = parse_as_of(as_of)
    assert moment is not None
    return read_models_as_of(session.app, moment, name), moment.date()


@click.command()
@click.option("--as-of", "as_of", default=None, help=AS_OF_HELP)
@output_options
@pass_session
def progress(session: Session, as_of: str | None, as_json: bool, as_csv: bool) -> None:
    """Progress of every compound: status, contract and metered value, percent complete by value
    (metered ÷ contract × 100), planned and actual dates, days behind plan.

    Days behind plan: a late start counts until the compound is finished; after the planned finish
    every day until completion counts; a completed compound shows how late it finished.

    \b
    Example:
      renovation progress --json
    """
    from renovation.projections.progress import progress_rows

    models, today = models_for(session, "progress", as_of)
    with models.engine.connect() as connection:
        rows = progress_rows(connection, today)
    emit(rows, as_json=as_json, as_csv=as_csv, lang=session.lang)


@click.command()
@click.argument("code", required=False)
@click.option("--by", type=click.Choice(["compound", "contractor"]), default="compound", show_default=True,
              help="One row per compound or per contractor.")
@click.option("--missed", is_flag=True, help="List the construction days of CODE without a morning round.")
@output_options
@pass_session
def quality(session: Session, code: str | None, by: str, missed: bool, as_json: bool, as_csv: bool) -> None:
    """Quality: inspections by kind; morning-round coverage (days with a morning inspection ÷
    construction days, from the start to completion or today); findings open, overdue (not closed
    by the due date, as of today) and closed, with the mean days to close; material samples, pass
    rate by regime, rejected batches.

    \b
    Examples:
      renovation quality
      renovation quality --by contractor
      renovation quality JM --missed
    """
    from renovation.cli.inputs import CodeInput, validate
    from renovation.projections.quality import missed_days, quality_rows

    if missed and not code:
        raise click.UsageError("--missed needs a compound CODE")
    models = session.read_models("quality")
    today = session.today()
    # Contractors never learn of a blind sample before its result.
    hidden = frozenset({"blind"}) if session.hides_pending_blind_samples else frozenset()
    with models.engine.connect() as connection:
        if code:
            chosen = validate(CodeInput, code=code).code
            session.app.get_project(chosen)  # an unknown code is refused, not shown as empty
            if missed:
                rows = [{"code": chosen, "day": day} for day in missed_days(connection, chosen, today)]
            else:
                rows = [row for row in quality_rows(connection, today, "compound", hidden) if row["code"] == chosen]
        else:
            rows = quality_rows(connection, today, by, hidden)
    emit(rows, as_json=as_json, as_csv=as_csv, lang=session.lang)


@click.command()
@click.option("--period", default=None, help="Scoring period, YYYY-MM (default: the latest scored).")
@click.option("--by", type=click.Choice(["contractor", "compound"]), default="contractor", show_default=True,
              help="Rank contractors or compounds.")
@click.option("--as-of", "as_of", default=None, help=AS_OF_HELP)
@output_options
@pass_session
def ranking(session: Session, period: str | None, by: str, as_of: str | None, as_json: bool, as_csv: bool) -> None:
    """The horse-race board (赛马) of a period. A compound's total is its weighted score (weights from
    renovation.toml; default quality 30, safety 25, progress 20, civilized 15, satisfaction 10); a
    contractor's total is the mean of its compounds' totals. Equal totals share a rank; movement is
    the change in rank since the previous scored period; the last place is marked (末位).

    \b
    Examples:
      renovation ranking
      renovation ranking --period 2021-05 --by compound --json
    """
    from renovation.cli.inputs import period_option
    from renovation.projections.ranking import ranking_rows

    period = period_option(period)
    weights = session.config.ranking.weights.as_dict()  # a bad renovation.toml: exit 2, one line
    models, _today = models_for(session, "ranking", as_of)
    with models.engine.connect() as connection:
        rows = ranking_rows(connection, weights, period, by)
    emit(rows, as_json=as_json, as_csv=as_csv, lang=session.lang)


@click.command()
@click.argument("code")
@click.option("--item", default=None, help="Only this bill-of-quantities item.")
@click.option("--period", default=None, help="Only this period, YYYY-MM (cumulative figures still count earlier ones).")
@output_options
@pass_session
def ledger(session: Session, code: str, item: str | None, period: str | None, as_json: bool, as_csv: bool) -> None:
    """The metering ledger (计量台账) of CODE: per item and period, the quantity and value metered, the
    cumulative quantity and value, and the share of the item's contract quantity.

    \b
    Examples:
      renovation ledger JM
      renovation ledger JM --item 010101 --period 2021-04 --csv
    """
    from renovation.cli.inputs import LedgerInput, validate
    from renovation.domain.errors import UnknownItem
    from renovation.projections.ledger import ledger_items_of, ledger_rows

    data = validate(LedgerInput, code=code, item=item, period=period)
    session.app.get_project(data.code)  # an unknown code is refused, not shown as empty
    models = session.read_models("ledger")
    with models.engine.connect() as connection:
        if data.item is not None and data.item not in (known := ledger_items_of(connection, data.code)):
            raise UnknownItem(code=data.code, item=data.item, known=", ".join(sorted(known)))
        rows = ledger_rows(connection, data.code, data.item, data.period)
    emit(rows, as_json=as_json, as_csv=as_csv, lang=session.lang)


@click.group()
def projections() -> None:
    """The read models: how far each has caught up, and rebuilding them from the events.

    \b
    Examples:
      renovation projections status
      renovation projections rebuild
    """


@projections.command("status")
@output_options
@pass_session
def status(session: Session, as_json: bool, as_csv: bool) -> None:
    """Per projection: its position in the event log, the head of the log, and the lag (without
    catching up first).

    \b
    Example:
      renovation projections status
    """
    from renovation.projections import read_models

    models = read_models(session.app)
    try:
        emit(models.status(), as_json=as_json, as_csv=as_csv, lang=session.lang)
    finally:
        models.close()


@projections.command("rebuild")
@click.argument("names", nargs=-1, type=click.Choice(["progress", "quality", "ledger", "ranking", "feedback"]))
@pass_session
def rebuild(session: Session, names: tuple[str, ...]) -> None:
    """Clear the read models' tables (all, or those named) and replay the whole event log into them.

    \b
    Example:
      renovation projections rebuild
      renovation projections rebuild ranking
    """
    from rich.progress import Progress, TaskID

    from renovation.projections import NAMES, read_models

    session.may("maintain")  # rebuilding is maintenance (renovation/access.py)
    models = read_models(session.app)
    chosen = names or NAMES
    try:
        head = models.head()
        with Progress(transient=True) as bar:
            tasks = {name: bar.add_task(name, total=head or 1) for name in chosen}
            for name in chosen:
                task = tasks[name]

                def advance(done: int, task: TaskID = task) -> None:
                    bar.advance(task, done)

                models.rebuild(name, progress=advance)
                bar.update(task, completed=head or 1)
    finally:
        models.close()
    if session.lang == "zh":
        click.echo(f"已从 {head} 个事件重建 {', '.join(chosen)}")
    else:
        click.echo(f"rebuilt {', '.join(chosen)} from {head} events")


@projections.command("follow")
@click.option("--seconds", type=click.FloatRange(min=0), default=None,
              help="Stop after this many seconds (default: run until interrupted).")
@pass_session
def follow(session: Session, seconds: float | None) -> None:
    """Keep the read models current as events arrive: on PostgreSQL woken by LISTEN/NOTIFY (through
    eventsourcing's subscription), on SQLite by polling once a second. Read commands still catch up
    by themselves; this only keeps their wait short.

    \b
    Example:
      renovation --db postgresql://renovation@db/city projections follow
    """
    import threading

    from renovation.projections import read_models

    models = read_models(session.app)
    stop = threading.Event()
    if seconds is not None:
        threading.Timer(seconds, stop.set).start()
    try:
        start = models.head()
        models.catch_up()
        click.echo(f"following {session.db} from position {start}")
        recorder: Any = session.app.recorder
        if hasattr(recorder.datastore, "schema"):  # PostgreSQL: LISTEN/NOTIFY
            # Subscribing after `start` also delivers what was recorded while catching up.
            with recorder.subscribe(gt=start) as subscription:

                def stop_when_told() -> None:
                    stop.wait()
                    subscription.stop()

                threading.Thread(target=stop_when_told, daemon=True).start()
                for _notification in subscription:
                    models.catch_up()
        else:
            while not stop.wait(1.0):
                models.catch_up()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        models.close()
    if seconds is not None:
        click.echo(f"stopped after {seconds} s at position {models.head()}")


COMMANDS = [progress, quality, ranking, ledger, projections]

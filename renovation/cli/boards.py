"""The read side: progress, quality, ranking, ledger, and the projections themselves.

Every read command first catches its read model up with every event recorded so far.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from renovation.cli import Session, ZhHelp, pass_session
from renovation.cli.output import emit, output_options

AS_OF_HELP = "Answer as on that moment (ISO 8601 or a date), from the events recorded by then."


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
    from renovation.cli.audit import parse_as_of
    from renovation.services import boards

    moment = parse_as_of(as_of)
    rows = boards.progress(session.workspace, session.today() if moment is None else moment.date(), moment,
                          user=session.user)
    from renovation.services.boards import columns

    emit(rows, as_json=as_json, as_csv=as_csv, lang=session.lang, columns=columns("progress"))


@click.command()
@click.argument("code", required=False)
@click.option("--by", type=click.Choice(["compound", "contractor"]), default="compound", show_default=True,
              help="One row per compound or per contractor.")
@click.option("--missed", is_flag=True, help="List the construction days of CODE without a morning round.")
@click.option("--as-of", "as_of", default=None, help=AS_OF_HELP)
@output_options
@pass_session
def quality(session: Session, code: str | None, by: str, missed: bool, as_of: str | None, as_json: bool,
            as_csv: bool) -> None:
    """Quality: inspections by kind; morning-round coverage (days with a morning inspection ÷
    construction days, from the start to completion or today) and rounds on time (started by 06:30
    plus [quality] morning_grace_minutes of renovation.toml, default 30); findings open, overdue (not closed
    by the due date, as of today) and closed, with the mean days to close; material samples, pass
    rate by regime, rejected batches.

    \b
    Examples:
      renovation quality
      renovation quality --by contractor
      renovation quality JM --missed
    """
    from renovation.cli.inputs import CodeInput, validate
    from renovation.services import boards

    if missed and not code:
        raise click.UsageError("--missed needs a compound CODE")
    from renovation.cli.audit import parse_as_of

    chosen = validate(CodeInput, code=code).code if code else None
    moment = parse_as_of(as_of)
    rows = boards.quality(session.workspace, session.today() if moment is None else moment.date(), code=chosen,
                          by=by, missed=missed, hide_blind=session.hides_pending_blind_samples, as_of=moment,
                          user=session.user)
    from renovation.services.boards import columns

    emit(rows, as_json=as_json, as_csv=as_csv, lang=session.lang,
         columns=columns("missed" if missed else f"quality-{by}"))


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
    from renovation.cli.audit import parse_as_of
    from renovation.cli.inputs import period_option
    from renovation.services import boards

    period = period_option(period)
    moment = parse_as_of(as_of)
    rows = boards.ranking(session.workspace, period, by, session.today() if moment is None else moment.date(),
                          moment)
    if not rows and not (as_json or as_csv):
        if period is not None:
            click.echo(f"{period} 无人评分" if session.lang == "zh" else f"nobody was scored for {period}")
        else:
            click.echo("尚无赛马评分" if session.lang == "zh" else "nobody has been scored yet")
        return
    emit(rows, as_json=as_json, as_csv=as_csv, lang=session.lang, columns=boards.columns(f"ranking-{by}"))


@click.command()
@click.argument("code")
@click.option("--item", default=None, help="Only this bill-of-quantities item.")
@click.option("--period", default=None, help="Only this period, YYYY-MM (cumulative figures still count earlier ones).")
@click.option("--as-of", "as_of", default=None, help=AS_OF_HELP)
@output_options
@pass_session
def ledger(session: Session, code: str, item: str | None, period: str | None, as_of: str | None, as_json: bool,
           as_csv: bool) -> None:
    """The metering ledger (计量台账) of CODE: per item and period, the quantity and value metered, the
    cumulative quantity and value, and the share of the item's contract quantity.

    \b
    Examples:
      renovation ledger JM
      renovation ledger JM --item 010101 --period 2021-04 --csv
    """
    from renovation.cli.audit import parse_as_of
    from renovation.cli.inputs import LedgerInput, validate
    from renovation.services import boards

    data = validate(LedgerInput, code=code, item=item, period=period)
    moment = parse_as_of(as_of)
    rows = boards.ledger(session.workspace, data.code, data.item, data.period, moment, user=session.user)
    from renovation.services.boards import columns

    emit(rows, as_json=as_json, as_csv=as_csv, lang=session.lang, columns=columns("ledger"))
    from renovation.cli.output import XLSX

    if not (as_json or as_csv) and click.get_current_context().meta.get(XLSX) is None:
        from renovation.cli.output import payments_summary

        click.echo(payments_summary(boards.payment_summary(session.workspace, data.code, moment), session.lang))


@click.group(cls=ZhHelp)
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
    from renovation.services import boards

    emit(boards.status(session.workspace), as_json=as_json, as_csv=as_csv, lang=session.lang)


@projections.command("rebuild")
@click.argument("names", nargs=-1,
                type=click.Choice(["progress", "quality", "ledger", "ranking", "feedback", "worklists", "payments"]))
@pass_session
def rebuild(session: Session, names: tuple[str, ...]) -> None:
    """Clear the read models' tables (all, or those named) and replay the whole event log into them.

    \b
    Example:
      renovation projections rebuild
      renovation projections rebuild ranking
    """
    from renovation.cli.output import progress_bar
    from renovation.services import boards
    from renovation.services.boards import NAMES

    session.may("maintain")  # rebuilding is maintenance (renovation/domain/access.py)
    chosen = names or NAMES
    with progress_bar() as bar:

        def started(head: int) -> Callable[[str, int], None]:
            tasks = {name: bar.add_task(name, total=head or 1) for name in chosen}
            return lambda name, done: bar.advance(tasks[name], done)

        head = boards.rebuild(session.workspace, chosen, started)
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

    from renovation.services import boards

    stop = threading.Event()
    if seconds is not None:
        threading.Timer(seconds, stop.set).start()
    try:
        position = boards.follow(session.workspace, stop,
                                 lambda start: click.echo(f"following {session.db} from position {start}"))
    except KeyboardInterrupt:
        position = None
    if seconds is not None:
        click.echo(f"stopped after {seconds} s at position {position}")


COMMANDS = [progress, quality, ranking, ledger, projections]

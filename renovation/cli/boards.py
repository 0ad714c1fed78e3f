"""The read side: progress, quality, ranking, ledger, and the projections themselves.

Every read command first catches its read model up with every event recorded so far.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import click

from renovation.cli import DefaultGroup, Session, ZhHelp, pass_session
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


@click.group(cls=DefaultGroup, default="board", default_when_empty=True)
def ranking() -> None:
    """The horse race (赛马): the board of a period (ranking [board], the default), and one
    compound's computed scores explained (ranking explain). The board's options (--period, --by,
    --computed, --json, ...): renovation ranking board --help.

    \b
    Examples:
      renovation ranking
      renovation ranking --period 2021-05 --by compound --json
      renovation ranking --computed
      renovation ranking explain JM --period 2021-05
    """


@ranking.command("board")
@click.option("--period", default=None, help="Scoring period, YYYY-MM (default: the latest scored).")
@click.option("--by", type=click.Choice(["contractor", "compound"]), default="contractor", show_default=True,
              help="Rank contractors or compounds.")
@click.option("--computed", is_flag=True,
              help="The board computed from the recorded facts, rather than the bureau's recorded scores.")
@click.option("--as-of", "as_of", default=None, help=AS_OF_HELP)
@output_options
@pass_session
def ranking_board(session: Session, period: str | None, by: str, computed: bool, as_of: str | None, as_json: bool,
                  as_csv: bool) -> None:
    """The horse-race board (赛马) of a period. A compound's total is its weighted score (weights from
    renovation.toml; default quality 30, safety 25, progress 20, civilized 15, satisfaction 10); a
    contractor's total is the mean of its compounds' totals. Equal totals share a rank; movement is
    the change in rank since the previous scored period; the last place is marked (末位).

    The official board is the bureau's recorded scores; beside each total it shows the total computed
    from the recorded facts (computed_total), the difference (recorded − computed) and a flag
    where the difference is larger than [horse_race] flag_difference (default 10). With --computed,
    the board of the computed scores: every compound under construction in the period (default: the
    latest such period). A contractor sees computed scores of its own compounds only.

    \b
    Examples:
      renovation ranking
      renovation ranking --period 2021-05 --by compound --json
      renovation ranking --computed --by compound
    """
    from renovation.cli.audit import parse_as_of
    from renovation.cli.inputs import period_option
    from renovation.services import boards, horserace

    period = period_option(period)
    moment = parse_as_of(as_of)
    today = session.today() if moment is None else moment.date()
    rows: list[Any]
    if computed:
        rows = horserace.computed_ranking(session.workspace, period, by, today, moment, user=session.user)
    else:
        rows = horserace.beside(session.workspace, boards.ranking(session.workspace, period, by, today, moment),
                                by, today, moment, user=session.user)
    if not rows and not (as_json or as_csv):
        zh = session.lang == "zh"
        if computed:  # scored by the tracker: a compound under construction in the period is on the board
            click.echo((f"{period} 无在建小区，无可评分" if zh else f"no compound was under construction in {period}")
                       if period is not None else
                       ("尚无在建小区，无可评分" if zh else "no compound has been under construction yet"))
        elif period is not None:
            click.echo(f"{period} 无人评分" if zh else f"nobody was scored for {period}")
        else:
            click.echo("尚无赛马评分" if zh else "nobody has been scored yet")
        return
    kind = f"ranking-{by}" if computed else f"ranking-{by}-beside"
    emit(rows, as_json=as_json, as_csv=as_csv, lang=session.lang, columns=boards.columns(kind))


@ranking.command("explain")
@click.argument("code")
@click.option("--period", required=True, help="Scoring period, YYYY-MM.")
@click.option("--as-of", "as_of", default=None, help=AS_OF_HELP)
@output_options
@pass_session
def ranking_explain(session: Session, code: str, period: str, as_of: str | None, as_json: bool,
                    as_csv: bool) -> None:
    """Why CODE scored what it did in a period: each computed score, every deduction with its formula
    and numbers, and the ids of the events behind it (F findings, I inspections, S/B samples, M
    metering entries, T tickets); the computed total, and the bureau's recorded total beside it. Each
    score is 100 less its deductions (never below 0); the total is Σ score × weight ÷ Σ weights.

    \b
    Examples:
      renovation ranking explain JM --period 2021-05
      renovation ranking explain JM --period 2021-05 --json
    """
    from renovation.cli.audit import parse_as_of
    from renovation.cli.inputs import CodeInput, period_option, validate
    from renovation.services import horserace

    chosen = validate(CodeInput, code=code).code
    checked = period_option(period)
    assert checked is not None
    moment = parse_as_of(as_of)
    today = session.today() if moment is None else moment.date()
    found = horserace.explain(session.workspace, chosen, checked, today, moment, user=session.user)
    if as_json:
        emit(found, as_json=True, as_csv=as_csv, lang=session.lang)  # refuses --json with --csv
        return
    from renovation.cli.output import XLSX

    table = not as_csv and click.get_current_context().meta.get(XLSX) is None
    # A file (CSV, workbook) carries the compound, the period and the totals on every row; a table says
    # them once, above it.
    heading: dict[str, Any] = {} if table else {
        "code": found["code"], "period": found["period"], "total": found["total"],
        "recorded_total": found["recorded_total"], "difference": found["difference"]}
    rows = [{**heading, "component": part["component"], "weight": part["weight"], "score": part["score"],
             "term": term["term"], "formula": term["formula"], "points": term["points"],
             "ids": compact(term["ids"]) if table else " ".join(term["ids"])}
            for part in found["components"] for term in part["terms"]]
    if table:
        click.echo(explained(found, session.lang))
    emit(rows, as_json=False, as_csv=as_csv, lang=session.lang)


def compact(ids: list[str]) -> str:
    """Ids with runs of consecutive numbers of one letter shortened: "F3 F5 I12–I40 M1–M9"."""
    import re

    parts: list[str] = []
    run: list[tuple[str, int]] = []

    def close() -> None:
        if run:
            first, last = run[0], run[-1]
            parts.append(f"{first[0]}{first[1]}" if len(run) == 1 else
                         f"{first[0]}{first[1]} {last[0]}{last[1]}" if len(run) == 2 else
                         f"{first[0]}{first[1]}–{last[0]}{last[1]}")
            run.clear()

    for identifier in ids:
        found = re.fullmatch(r"([A-Z]+)([0-9]+)", identifier)
        if found is None:
            close()
            parts.append(identifier)
            continue
        letter, number = found.group(1), int(found.group(2))
        if run and (run[-1][0] != letter or run[-1][1] + 1 != number):
            close()
        run.append((letter, number))
    close()
    return " ".join(parts)


def explained(found: Any, lang: str) -> str:
    """The heading of ``ranking explain``: the computed total, and the recorded one beside it."""
    zh = lang == "zh"
    line = (f"{found['code']} {found['name']}（{found['contractor']}）{found['period']} 计算总分 {found['total']}"
            if zh else f"{found['code']} {found['name']} ({found['contractor']}) {found['period']}: computed total "
            f"{found['total']}")
    if found["recorded_total"] is not None:
        line += (f"；记录总分 {found['recorded_total']}，差 {found['difference']}" if zh
                 else f"; recorded {found['recorded_total']}, difference {found['difference']}")
        if found["flagged"]:
            line += " ⚠"
    if not found["scored"]:
        line += ("（该期未施工，不上计算榜）" if zh
                 else " (not under construction in the period: not on the computed board)")
    from renovation.report.labels import label

    scores = ", ".join(f"{label(part['component'], lang)} {part['score']} × {part['weight']}"
                       for part in found["components"])
    return f"{line}\n{scores}"


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
                type=click.Choice(["progress", "quality", "ledger", "ranking", "feedback", "worklists", "payments",
                                   "computed"]))
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
    chosen = tuple(dict.fromkeys(names)) or NAMES  # each named once, in the order given
    with progress_bar() as bar:

        def started(head: int) -> Callable[[str, int], None]:
            tasks = {name: bar.add_task(name, total=head or 1) for name in chosen}
            return lambda name, done: bar.advance(tasks[name], done)

        head = boards.rebuild(session.workspace, chosen, started)
    if session.lang == "zh":
        click.echo(f"已从 {head} 个事件重建 {', '.join(chosen)}")
    else:
        click.echo(f"rebuilt {', '.join(chosen)} from {head} events")


def _a_number(_ctx: click.Context, _param: click.Parameter, value: float | None) -> float | None:
    if value is not None and math.isnan(value):
        raise click.BadParameter("nan is not a number of seconds")
    return value


@projections.command("follow")
@click.option("--seconds", type=click.FloatRange(min=0, max=10**7), default=None, callback=_a_number,
              help="Stop after this many seconds (default: run until interrupted).")
@pass_session
def follow(session: Session, seconds: float | None) -> None:
    """Keep the read models current as events arrive: on PostgreSQL woken by LISTEN/NOTIFY (through
    eventsourcing's subscription), on SQLite by polling once a second. Read commands still catch up
    by themselves; this only keeps their wait short. After each catch-up, and on each new day, it also
    works out (and keeps) the computed horse-race scores `ranking` and `ranking --computed` show by
    default.

    \b
    Example:
      renovation --db postgresql://renovation@db/city projections follow
    """
    import signal
    import threading

    from renovation.services import boards, horserace

    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set) if seconds is not None else None
    if timer is not None:
        timer.start()
    # Stopped by its service manager (SIGTERM) as by Ctrl-C: the catch-up under way is rolled back and the
    # store closed, not left with its write-ahead log beside it.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        position = boards.follow(session.workspace, stop,
                                 lambda start: click.echo(f"following {session.db} from position {start}"),
                                 # the computed scores the horse-race boards show, kept for the people's
                                 # logins, which may not keep them (PostgreSQL, after db roles --apply)
                                 lambda: horserace.keep_default_boards(session.workspace, session.today()),
                                 session.today)
    except KeyboardInterrupt:
        return
    finally:
        if timer is not None:
            timer.cancel()  # stopped sooner (Ctrl-C, SIGTERM, an error): the process does not wait for it
    if seconds is not None:
        click.echo(f"stopped after {seconds} s at position {position}")


COMMANDS = [progress, quality, ranking, ledger, projections]

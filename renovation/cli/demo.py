"""``renovation demo``: the 2021 programme, simulated, on a fresh database."""

from __future__ import annotations

from datetime import date

import click

from renovation.cli import Session, pass_session


@click.command()
@click.option("--seed", default=2021, show_default=True, type=click.IntRange(0, 2**31), help="Random seed.")
@click.option("--until", default="2021-07-31", show_default=True, help="Last simulated day (a past one), YYYY-MM-DD.")
@click.option("--compounds", default=53, show_default=True, type=click.IntRange(1, 100_000),
              help="How many compounds (the first six are the ones the article names).")
@click.option("--force", is_flag=True, help="Delete an existing SQLite database file first.")
@pass_session
def demo(session: Session, seed: int, until: str, compounds: int, force: bool) -> None:
    """Build the 2021 renovation programme of 辽源 (kick-off 2021-02-16) on a fresh database and print
    the board. Deterministic for a seed; everything beyond the six named compounds is synthetic.

    \b
    Example:
      renovation demo
      renovation --db city.db demo --until 2021-07-31
    """
    from renovation.cli.inputs import parse_date
    from renovation.cli.output import progress_bar
    from renovation.services.clock import now
    from renovation.services.demo import DEMO_ZONE, KICK_OFF, ZONE, Simulation, days

    try:
        last = parse_date(until)
    except ValueError as error:
        raise click.UsageError(f"--until: {error}") from None
    if last < KICK_OFF:
        raise click.UsageError(f"--until: {last} is before the kick-off {KICK_OFF}")
    # Each simulated day's events are recorded at that day's hours: a store may hold none recorded after its
    # clock (its next command would be refused, its export not imported).
    today = now(ZONE).date()
    if last >= today:
        raise click.UsageError(f"--until: {last} is not past (today is {today} in {DEMO_ZONE}); give an earlier day")
    session.may("maintain")
    if force:
        session.workspace.discard()
    session.creating()
    app = session.app
    # The simulated programme records as its own synthetic people, whoever runs it.
    from renovation.domain.access import Access

    checked, app.access = app.access, Access(None)
    if not app.is_empty():
        raise click.UsageError(f"{session.db} already holds events; use an empty database (or --force)")
    app.set_zone(DEMO_ZONE)  # the programme is in 辽源, Jilin
    simulation = Simulation(app, seed=seed, compounds=compounds)
    total = len(list(days(KICK_OFF, last)))
    try:
        with progress_bar() as progress:
            task = progress.add_task("2021 programme", total=total)
            simulation.run(last, on_day=lambda _day: progress.advance(task))
    finally:
        app.access = checked
        # The compounds the simulation kept loaded (a province's take hundreds of megabytes) are let
        # go before the board's read models catch up in this process.
        simulation.loaded.clear()
    click.echo(f"{app.event_count()} events in {session.db}; the programme as of {last}.")
    print_board(session, last)
    click.echo(f"To see the boards as of that day: export RENOVATION_TODAY={last}")


def print_board(session: Session, last: date) -> None:
    """The contractor ranking of the latest period, with the totals computed from the facts beside it,
    and a progress summary by status."""
    from typing import Any, cast

    from renovation.cli.output import emit
    from renovation.services import boards, horserace

    board, by_status = boards.summary(session.workspace, last)
    board = horserace.beside(session.workspace, cast(Any, board), "contractor", last)
    emit(board, as_json=False, as_csv=False, lang=session.lang)
    emit(by_status, as_json=False, as_csv=False, lang=session.lang)


COMMANDS = [demo]

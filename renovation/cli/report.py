"""``renovation report``: the leaders' report as one self-contained HTML file."""

from __future__ import annotations

from pathlib import Path

import click

from renovation.cli import Session, pass_session


@click.command()
@click.option("--html", "html_path", required=True, metavar="FILE",
              type=click.Path(path_type=Path), help="Write the report to this HTML file.")
@click.option("--period", default=None, metavar="YYYY-MM",
              help="The horse-race board's period (default: the latest scored).")
@pass_session
def report(session: Session, html_path: Path, period: str | None) -> None:
    """The report for the bureau's leaders and the contractors: the horse-race board (赛马) by
    contractor and by compound, with rank, total, movement and the last place (末位), and beside each total
    the total computed from the recorded facts (with a chart of the two); progress (percent
    complete per compound, cumulative metered value against plan); quality (findings open and overdue,
    morning-round coverage, material failures); and every compound in one table.

    One HTML file with its charts inline (SVG): it opens without a network. Counted to --today; the
    labels follow --lang.

    \b
    Example:
      renovation --lang zh report --html report.html
      renovation report --html report-2021-05.html --period 2021-05
    """
    from renovation.cli.inputs import period_option

    period = period_option(period)
    session.config.ranking.weights  # noqa: B018 - a bad renovation.toml: exit 2, one line, before the work
    from renovation.services.outputs import BadOutput, check_target, writing

    protected = session.workspace.store_files()
    try:
        check_target(html_path, protected)  # refused before the work, not after
    except BadOutput as error:
        raise click.UsageError(f"--html: cannot write {error}") from None
    from renovation.services import report as service

    today = session.today()
    data = service.gathered(session.workspace, session.user, today, period)
    document = service.document(data, session.lang)
    try:
        with writing(html_path, protected) as out:
            out.write(document)
    except BadOutput as error:
        raise click.UsageError(f"--html: cannot write {error}") from None
    from renovation.cli.output import say

    board = data.period or "-"
    unscored = data.period is not None and not data.board_compounds
    if session.lang == "zh":
        note = "，该期无人评分" if unscored else ""
        say(f"报告已写入 {html_path}（{len(data.progress)} 个小区，赛马期间 {board}{note}，截至 {today}）",
            after="written")
    else:
        note = ", nobody was scored for it" if unscored else ""
        say(f"report written to {html_path} ({len(data.progress)} compounds, period {board}{note}, as of {today})",
            after="written")


COMMANDS = [report]

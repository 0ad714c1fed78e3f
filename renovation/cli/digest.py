"""``renovation digest``: what needs attention today, one section each (``renovation.services.digest``)."""

from __future__ import annotations

from pathlib import Path

import click

from renovation.cli import Session, pass_session


@click.command()
@click.option("--date", "day", default=None, metavar="YYYY-MM-DD",
              help="The day (default: today, or --today). An earlier day: as recorded by its end.")
@click.option("--json", "as_json", is_flag=True, help="JSON on stdout.")
@click.option("--html", "html_path", default=None, metavar="FILE", type=click.Path(path_type=Path),
              help="Write it as one self-contained HTML page (to mail, say, from cron).")
@pass_session
def digest(session: Session, day: str | None, as_json: bool, html_path: Path | None) -> None:
    """What needs attention today (每日待办): overdue findings by contractor; compounds under
    construction without a morning round by 07:30; samples pending for 7 days or more; batches
    awaiting a resample; residents' tickets open for 3 days or more; compounds behind plan;
    compounds not scored for the last month that ended. The times and days are [digest] settings
    of renovation.toml. A contractor sees its own compounds only.

    \b
    Examples:
      renovation digest
      renovation --lang zh digest --html digest.html
      renovation digest --date 2021-05-10 --json
    """
    import json

    from renovation.cli.inputs import parse_date
    from renovation.cli.output import print_table, say
    from renovation.report.digest import SECTIONS, meta, render, section_title
    from renovation.report.labels import plain
    from renovation.report.words import text
    from renovation.services import digest as service
    from renovation.services.outputs import BadOutput, check_target, writing

    if as_json and html_path is not None:
        raise click.UsageError("--json and --html cannot be combined")
    today = session.today()
    try:
        chosen = parse_date(day) if day is not None else today
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--date") from None
    if chosen > today:
        raise click.BadParameter(f"{chosen.isoformat()} is after today ({today.isoformat()}): a digest tells what "
                                 "needs attention on a day that has come", param_hint="--date")
    protected = session.workspace.store_files() if html_path is not None else ()
    if html_path is not None:
        try:
            check_target(html_path, protected)  # refused before the work, not after
        except BadOutput as error:
            raise click.UsageError(f"--html: cannot write {error}") from None
    found = service.digest(session.workspace, chosen, today, session.user)
    lang = session.lang
    if as_json:
        click.echo(json.dumps(plain(found), ensure_ascii=False, indent=2))
        return
    if html_path is not None:
        try:
            with writing(html_path, protected) as out:
                out.write(render(found, lang))
        except BadOutput as error:
            raise click.UsageError(f"--html: cannot write {error}") from None
        flagged = sum(len(rows) for rows in found["sections"].values())
        if lang == "zh":
            say(f"{chosen.isoformat()} 待办提醒已写入 {html_path}（共 {flagged} 项）", after="written")
        else:
            say(f"digest of {chosen.isoformat()} written to {html_path} ({flagged} to attend to)", after="written")
        return
    click.echo(text("digest", lang, date=chosen.isoformat()))
    click.echo(meta(found, lang))
    for name in SECTIONS:
        rows = found["sections"][name]
        click.echo()
        click.echo(f"{section_title(name, found, lang)} ({len(rows)})")
        print_table(rows, lang)


COMMANDS = [digest]

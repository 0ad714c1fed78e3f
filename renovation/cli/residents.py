"""Residents' feedback (开门搞旧改; hotline 0437-3396677): received, then resolved with a note."""

from __future__ import annotations

import click

from renovation.cli import DefaultGroup, Session, pass_session
from renovation.cli.output import as_row, emit, output_options, recorded, write_options
from renovation.cli.said import said


@click.group(cls=DefaultGroup, default="receive")
def feedback() -> None:
    """Record resident feedback ("feedback CODE ...", the same as "feedback receive CODE ...") or
    resolve it ("feedback resolve CODE T2").

    \b
    Examples:
      renovation feedback JM --channel hotline --text 楼道施工噪音太早
      renovation feedback resolve JM T2 --note 已调整施工时间为8点后
    """


@feedback.command("receive")
@click.argument("code")
@click.option("--channel", required=True, type=click.Choice(["hotline", "form", "visit"]), help="How it came in.")
@click.option("--text", required=True, help="What the resident said.")
@click.option("--at", default=None, help="When it was received, ISO 8601 (default now).")
@write_options
@pass_session
def receive(session: Session, code: str, channel: str, text: str, at: str | None, as_json: bool) -> None:
    """Record resident feedback about CODE; prints the ticket id.

    \b
    Example:
      renovation feedback JM --channel hotline --text 楼道施工噪音太早
    """
    from renovation.cli.inputs import FeedbackInput, validate

    data = validate(FeedbackInput, code=code, text=text, at=at)
    result = session.app.receive_feedback(data.code, channel, data.text, at=data.at, user=session.user)
    recorded(result, said("feedback", session.lang, **as_row(result)), as_json=as_json)


@feedback.command("resolve")
@click.argument("code")
@click.argument("ticket_id")
@click.option("--note", required=True, help="How it was resolved.")
@click.option("--at", default=None, help="When, ISO 8601 (default now).")
@write_options
@pass_session
def resolve(session: Session, code: str, ticket_id: str, note: str, at: str | None, as_json: bool) -> None:
    """Resolve feedback ticket TICKET_ID of CODE with a note.

    \b
    Example:
      renovation feedback resolve JM T2 --note 已调整施工时间为8点后
    """
    from renovation.cli.inputs import ResolveInput, validate

    data = validate(ResolveInput, code=code, ticket_id=ticket_id, note=note, at=at)
    result = session.app.resolve_feedback(data.code, data.ticket_id, data.note, at=data.at, user=session.user)
    recorded(result, said("resolved", session.lang, **as_row(result)), as_json=as_json)


@feedback.command("list")
@click.option("--open", "only_open", is_flag=True, help="Only tickets not yet resolved.")
@click.option("--as-of", "as_of", default=None,
              help="Answer as on that moment (ISO 8601 or a date), from the events recorded by then.")
@output_options
@pass_session
def list_feedback(session: Session, only_open: bool, as_of: str | None, as_json: bool, as_csv: bool) -> None:
    """List feedback tickets, oldest first, with the days each took to resolve.

    \b
    Example:
      renovation feedback list --open
    """
    from renovation.cli.audit import parse_as_of
    from renovation.services import boards

    rows = boards.feedback(session.workspace, only_open=only_open, as_of=parse_as_of(as_of), user=session.user)
    from renovation.services.boards import columns

    emit(rows, as_json=as_json, as_csv=as_csv, lang=session.lang, columns=columns("feedback"))


COMMANDS = [feedback]

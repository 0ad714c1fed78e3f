"""The auditor's commands: metering history, replay as recorded, reconciliation, tamper evidence."""

from __future__ import annotations

from datetime import datetime

import click

from renovation.cli import RuleRefused, Session, ZhHelp, pass_session
from renovation.cli.output import emit, output_options


def parse_as_of(raw: str | None, option: str = "--as-of") -> datetime | None:
    """ISO 8601 with an offset, or local time; a bare date means the end of that day. Given in the
    store's zone, whatever offset it was typed with: its ``date()`` is the store's day then."""
    from datetime import time

    from renovation.cli.inputs import parse_date, parse_datetime
    from renovation.services.clock import local_zone

    if raw is None:
        return None
    try:
        if len(raw.strip()) == 10:
            day = parse_date(raw)
            return parse_datetime(datetime.combine(day, time.max))
        return parse_datetime(raw).astimezone(local_zone())
    except ValueError as error:
        raise click.UsageError(f"{option}: {error}") from None


@click.group(cls=ZhHelp)
def audit() -> None:
    """Metering history, the ledger as recorded on any date, reconciliation and tamper evidence.

    \b
    Examples:
      renovation audit history JM --item 010101
      renovation audit replay JM --as-of 2021-04-30T18:00+08:00
      renovation audit verify
    """


@audit.command("history")
@click.argument("code")
@click.option("--item", default=None, help="Only this bill-of-quantities item.")
@click.option("--period", default=None, help="Only this metering period, YYYY-MM.")
@output_options
@pass_session
def history(session: Session, code: str, item: str | None, period: str | None, as_json: bool, as_csv: bool) -> None:
    """Every metering event of CODE — measured, corrected, variation — in recording order, with the
    entry, item, period, previous and new quantity, value, recording time, user and reason.

    \b
    Example:
      renovation audit history JM --item 010101 --period 2021-04
    """
    from renovation.cli.inputs import LedgerInput, validate
    from renovation.services import scope
    from renovation.services.audit import metering_history

    data = validate(LedgerInput, code=code, item=item, period=period)
    scope.require(session.workspace, session.user, data.code)
    rows = metering_history(session.app, data.code, data.item, data.period)
    from renovation.services.boards import columns

    emit(rows, as_json=as_json, as_csv=as_csv, lang=session.lang, columns=columns("history"))


@audit.command("replay")
@click.argument("code")
@click.option(
    "--as-of",
    "as_of",
    default=None,
    help="Moment of recording to replay to: ISO 8601 with offset, or local time (default now).",
)
@output_options
@pass_session
def replay(session: Session, code: str, as_of: str | None, as_json: bool, as_csv: bool) -> None:
    """The metering ledger of CODE recomputed from the events recorded up to --as-of (recording time,
    not business period), straight from the event store: per item quantity and value, and the total.
    A correction recorded after --as-of is not applied.

    \b
    Example:
      renovation audit replay JM --as-of 2021-04-30T18:00+08:00
    """
    from renovation.cli.inputs import CodeInput, validate
    from renovation.services import scope
    from renovation.services.audit import replay_ledger

    data = validate(CodeInput, code=code)
    scope.require(session.workspace, session.user, data.code)
    moment = parse_as_of(as_of) or session.app.clock()
    ledger = replay_ledger(session.app, data.code, moment)
    if as_json:
        emit(ledger, as_json=True, as_csv=False, lang=session.lang)
        return
    rows = [{"code": ledger["code"], **row} for row in ledger["items"]]
    if as_csv:  # data rows only: the total is the sum of the value column (and in --json, total_value)
        emit(rows, as_json=False, as_csv=True, lang=session.lang,
             columns=["code", "item", "description", "unit", "quantity", "value"])
        return
    rows.append(
        {
            "code": ledger["code"],
            "item": "",
            "description": "Σ",
            "unit": "",
            "quantity": None,
            "value": ledger["total_value"],
        }
    )
    title = f"{ledger['code']} as recorded by {ledger['as_of'].isoformat(timespec='seconds')}"
    emit(rows, as_json=False, as_csv=as_csv, lang=session.lang, title=title)
    from renovation.cli.output import payments_summary

    click.echo(payments_summary(ledger, session.lang))


@audit.command("reconcile")
@output_options
@pass_session
def reconcile(session: Session, as_json: bool, as_csv: bool) -> None:
    """Recompute every compound's ledger from the events and compare it with the read models; check
    every payment certificate's cumulative metered value against the metering it cites, recomputed
    from the events, and the payments read model against the events; list every difference and exit 1
    if there is one.

    \b
    Example:
      renovation audit reconcile
    """
    from renovation.services import scope
    from renovation.services.audit import reconcile as differences_of

    differences = scope.keep(session.workspace, session.user,
                             differences_of(session.app, session.read_models("ledger", "progress", "payments")))
    if differences or as_json or as_csv:
        emit(differences, as_json=as_json, as_csv=as_csv, lang=session.lang)
    if differences:
        raise RuleRefused(f"{len(differences)} difference(s) between the events and the read models")
    if not (as_json or as_csv):  # --json and --csv print only the (empty) rows
        click.echo(f"ledgers of {len(session.app.compound_codes())} compounds agree with the events, to the fen")


@audit.command("boards")
@output_options
@pass_session
def boards(session: Session, as_json: bool, as_csv: bool) -> None:
    """Rebuild every read model in memory from the log, each up to where its tables have caught up, and
    compare every row with the stored tables (which nobody but the projector should write); list every
    difference and exit 1 if there is one. The stored tables are not changed: `renovation projections
    rebuild` mends them.

    \b
    Example:
      renovation audit boards
    """
    from renovation.services.audit import check_boards

    session.may("maintain")
    checked = check_boards(session.app, session.read_models(), session.config.horse_race)
    differences = checked["differences"]
    if checked["unchecked"]:
        click.echo(f"note: {checked['unchecked']} computed score(s) kept under other [horse_race] constants than "
                   "this renovation.toml's were not checked (`renovation projections rebuild computed` clears them)",
                   err=True)
    if differences or as_json or as_csv:
        emit(differences, as_json=as_json, as_csv=as_csv, lang=session.lang)
    if differences:
        raise RuleRefused(f"{len(differences)} difference(s) between the read models and the log")
    if not (as_json or as_csv):
        click.echo(f"read models agree with the log: {checked['rows']} rows in {checked['tables']} tables")


def _names(session: Session) -> dict[str, str]:
    from renovation.domain.compound import CompoundProject

    return {str(CompoundProject.create_id(code)): code for code in session.app.compound_codes(readable_only=True)}


@audit.command("verify")
@click.option(
    "--digest",
    default=None,
    metavar="POSITION:HASH",
    help="A digest kept earlier (audit digest): also prove the log still extends it.",
)
@click.option("--init", "initialise", is_flag=True, help="Chain a store that has no chain yet (recorded as such).")
@pass_session
def verify(session: Session, digest: str | None, initialise: bool) -> None:
    """Walk the hash chain of every stored event and name the first one that was edited, deleted,
    reordered or inserted outside the application; over a chain that holds, run each event's command
    on its compound and name an event that does not follow (does_not_follow). With [users], name an
    event whose user's role may not record it (role_mismatch); on PostgreSQL with `db roles` applied,
    one recorded through a person's database login under another user (user_mismatch). Exit 1 if
    anything is wrong.

    \b
    Examples:
      renovation audit verify
      renovation audit verify --digest 20417:9c1e...
    """
    from renovation.services import admin

    expected = _parse_digest(digest)
    if initialise:
        session.may("maintain")
        count = admin.initialise_chain(session.workspace, session.user)
        click.echo(f"chained {count} existing events (recorded as an initialisation)")
    found = admin.verify_chain(session.workspace, expected)
    if found is None:
        click.echo("the store is empty; nothing to verify")
        return
    meta = found.meta
    if "initialised_at" in meta:
        click.echo(
            f"chain initialised on {meta.get('initialised_at')} by {meta.get('initialised_by')} over "
            f"{meta.get('events')} events: changes before then cannot be detected"
        )
    for warning in found.warnings:
        click.echo(f"warning: {warning}", err=True)
    if found.roles_applied_after is not None:
        click.echo(
            f"database roles applied on {meta.get('roles_applied_at')}: each event after position "
            f"{found.roles_applied_after} recorded through a person's login is checked against its user"
        )
    if found.problems:
        names = _names(session)
        first = found.problems[0]
        detail = first.detail
        for originator, code in names.items():
            detail = detail.replace(f"aggregate {originator}", code)
        # The first problem first, as the one error line; then a few more, if any.
        click.echo(f"Error: position {first.position}: {first.kind}: {detail} ({len(found.problems)} problem(s) "
                   "in all)", err=True)
        for problem in found.problems[1:6]:
            click.echo(f"  also position {problem.position}: {problem.kind}", err=True)
        raise click.exceptions.Exit(RuleRefused.exit_code)
    position, hash_ = found.head or (0, "")
    click.echo(f"verified {found.events} events; the chain is intact; head {position}:{hash_}")
    if expected is not None:  # a mismatch is one of the problems above
        click.echo(f"the digest {expected[0]}:{expected[1]} matched: the log still extends it")


def _parse_digest(raw: str | None) -> tuple[int, str] | None:
    if raw is None:
        return None
    position, _, hash_ = raw.strip().partition(":")
    if not position.isdigit() or len(hash_) != 64 or any(ch not in "0123456789abcdef" for ch in hash_):
        raise click.UsageError("--digest: expected POSITION:HASH as printed by `renovation audit digest`")
    return int(position), hash_


@audit.command("digest")
@pass_session
def digest(session: Session) -> None:
    """Print the head of the chain (POSITION:HASH) to keep outside the database; later,
    `audit verify --digest` proves the log still extends it.

    \b
    Example:
      renovation audit digest > digest-2021-07-31.txt
    """
    from renovation.services.admin import chain_head

    head = chain_head(session.workspace)
    if head is None:
        raise RuleRefused("no chain yet: the store is empty or needs `renovation audit verify --init`")
    click.echo(f"{head[0]}:{head[1]}")


COMMANDS = [audit]

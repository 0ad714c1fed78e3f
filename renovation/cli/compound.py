"""Compounds: registration, bill of quantities, illegal structures, lifecycle."""

from __future__ import annotations

from pathlib import Path

import click

from renovation.cli import Session, ZhHelp, pass_session
from renovation.cli.output import as_row, emit, output_options, recorded, write_options
from renovation.cli.said import said


@click.group(cls=ZhHelp)
def compound() -> None:
    """Register, list and show compounds.

    \b
    Examples:
      renovation compound register JM --name 吉明小区 --district 龙山区 --contractor 辽源建工 \\
        --households 320 --contract-value 5800000 --planned-start 2021-03-01 --planned-finish 2021-09-30
      renovation compound list
      renovation compound show JM --json
    """


@compound.command("register")
@click.argument("code")
@click.option("--name", required=True, help="Compound name, e.g. 吉明小区.")
@click.option("--district", required=True, help="District or county, e.g. 龙山区.")
@click.option("--contractor", required=True, help="Construction unit (施工单位).")
@click.option("--households", required=True, metavar="N", help="Number of households.")
@click.option("--contract-value", required=True, metavar="YUAN", help="Contract value in yuan (exact decimal).")
@click.option("--planned-start", required=True, help="Planned start, YYYY-MM-DD.")
@click.option("--planned-finish", required=True, help="Planned finish, YYYY-MM-DD.")
@click.option("--registered-on", default=None,
              help="The day the project was registered, YYYY-MM-DD (default: today); no lifecycle date precedes it.")
@write_options
@pass_session
def register(session: Session, code: str, name: str, district: str, contractor: str, households: str,
             contract_value: str, planned_start: str, planned_finish: str, registered_on: str | None,
             as_json: bool) -> None:
    """Register a compound project under CODE (1-16 letters, digits or '-'). A programme entered
    after the fact gives --registered-on the day it was registered: construction cannot start before.

    \b
    Example:
      renovation compound register JM --name 吉明小区 --district 龙山区 \\
        --contractor 辽源建工 --households 320 --contract-value 5800000 \\
        --planned-start 2021-03-01 --planned-finish 2021-09-30
    """
    from renovation.cli.inputs import RegisterInput, validate

    data = validate(
        RegisterInput, code=code, name=name, district=district, contractor=contractor,
        households=households, contract_value=contract_value, planned_start=planned_start,
        planned_finish=planned_finish, registered_on=registered_on,
    )
    session.creating()
    result = session.app.register_compound(**data.as_dict(), user=session.user)
    recorded(result, said("registered", session.lang, **as_row(result)), as_json=as_json)


@compound.command("list")
@output_options
@pass_session
def list_compounds(session: Session, as_json: bool, as_csv: bool) -> None:
    """List every compound with its status and value.

    \b
    Example:
      renovation compound list --json
    """
    from renovation.services import boards

    rows = boards.compounds(session.workspace, session.today(), user=session.user)
    emit(rows, as_json=as_json, as_csv=as_csv, lang=session.lang, columns=boards.COMPOUND_COLUMNS)


@compound.command("show")
@click.argument("code")
@click.option("--as-of", "as_of", default=None,
              help="As it stood at that moment (ISO 8601 or a date), from the events recorded by then.")
@output_options
@pass_session
def show(session: Session, code: str, as_of: str | None, as_json: bool, as_csv: bool) -> None:
    """Show one compound: lifecycle dates, O&M, counts of findings, samples, entries, and who may
    record what.

    \b
    Examples:
      renovation compound show JM
      renovation compound show JM --as-of 2021-03-31
    """
    from renovation.cli.audit import parse_as_of
    from renovation.cli.inputs import CodeInput, validate
    from renovation.services import scope

    data = validate(CodeInput, code=code)
    moment = parse_as_of(as_of)
    scope.require(session.workspace, session.user, data.code)
    if moment is None:
        shown = session.app.compound(data.code, hide_pending_blind=session.hides_pending_blind_samples)
    else:
        from renovation.services.audit import compound_as_of

        shown = compound_as_of(session.app, data.code, moment, hide_pending_blind=session.hides_pending_blind_samples)
    access = session.config.access()
    if access.open:
        who = "everyone may record (no [users] in a configuration file)"
    else:
        who = f"roles from {session.config.source}; you are {access.role(session.user) or 'not listed'}"
    emit({**as_row(shown), "access": who}, as_json=as_json, as_csv=as_csv, lang=session.lang)


@click.group(cls=ZhHelp)
def boq() -> None:
    """Bill of quantities (工程量清单).

    \b
    Example:
      renovation boq import JM boq.csv
    """


@boq.command("import")
@click.argument("code")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@write_options
@pass_session
def boq_import(session: Session, code: str, file: Path, as_json: bool) -> None:
    """Set the bill of quantities of CODE from a CSV file (UTF-8) with the header
    item,description,unit,quantity,unit_price. Replaces the bill only until metering begins.

    \b
    Example:
      renovation boq import JM boq.csv
    """
    from renovation.cli.boq import read_boq
    from renovation.cli.inputs import CodeInput, validate

    data = validate(CodeInput, code=code)
    items = read_boq(file)

    result = session.app.set_bill_of_quantities(data.code, items, user=session.user)
    recorded(result, said("boq", session.lang, **as_row(result)), as_json=as_json)


@click.group(cls=ZhHelp)
def demolition() -> None:
    """Illegal structures (改旧先拆违): record them, then clear them before construction.

    \b
    Examples:
      renovation demolition record JM --count 4
      renovation demolition clear JM
    """


@demolition.command("record")
@click.argument("code")
@click.option("--count", required=True, metavar="N", help="How many illegal structures were found.")
@write_options
@pass_session
def demolition_record(session: Session, code: str, count: str, as_json: bool) -> None:
    """Record illegal structures standing in CODE; construction cannot start until they are cleared.

    \b
    Example:
      renovation demolition record JM --count 4
    """
    from renovation.cli.inputs import CountInput, validate

    data = validate(CountInput, code=code, count=count)
    result = session.app.record_illegal_structures(data.code, data.count, user=session.user)
    recorded(result, said("illegal_recorded", session.lang, **as_row(result)), as_json=as_json)


@demolition.command("clear")
@click.argument("code")
@write_options
@pass_session
def demolition_clear(session: Session, code: str, as_json: bool) -> None:
    """Record that every illegal structure in CODE has been demolished.

    \b
    Example:
      renovation demolition clear JM
    """
    from renovation.cli.inputs import CodeInput, validate

    data = validate(CodeInput, code=code)
    result = session.app.clear_illegal_structures(data.code, user=session.user)
    recorded(result, said("illegal_cleared", session.lang, **as_row(result)), as_json=as_json)


@click.group(cls=ZhHelp)
def construction() -> None:
    """Lifecycle: start, complete, accept (竣工验收), hand over (移交, 15-year O&M).

    \b
    Examples:
      renovation construction start JM --date 2021-03-01
      renovation construction handover JM --date 2021-08-01 --operator 龙山物业
    """


def _lifecycle(name: str, action: str, key: str, doc: str) -> click.Command:
    @click.argument("code")
    @click.option("--date", "on", default=None, help="The day it happened, YYYY-MM-DD (default today).")
    @write_options
    @pass_session
    def command(session: Session, code: str, on: str | None, as_json: bool) -> None:
        from renovation.cli.inputs import DayInput, validate

        data = validate(DayInput, code=code, on=on)
        result = getattr(session.app, action)(data.code, data.on, user=session.user)
        recorded(result, said(key, session.lang, **as_row(result)), as_json=as_json)

    command.__doc__ = doc
    return construction.command(name)(command)


_lifecycle("start", "start_construction", "started", """Start construction of CODE (no illegal structures may stand).

    \b
    Example:
      renovation construction start JM --date 2021-03-01
    """)
_lifecycle("complete", "complete_construction", "completed", """Record that construction of CODE is complete.

    \b
    Example:
      renovation construction complete JM --date 2021-07-20
    """)
_lifecycle("accept", "accept", "accepted", """Record the completion acceptance (竣工验收) of CODE; every finding
    must be closed and every sample resulted first.

    \b
    Example:
      renovation construction accept JM --date 2021-07-28
    """)


@construction.command("handover")
@click.argument("code")
@click.option("--date", "on", default=None, help="Hand-over day, YYYY-MM-DD (default today).")
@click.option("--operator", default=None, help="Who operates and maintains it (default: the contractor).")
@write_options
@pass_session
def handover(session: Session, code: str, on: str | None, operator: str | None, as_json: bool) -> None:
    """Hand CODE over after acceptance: whoever builds it operates and maintains it (谁建设、谁运营、
    谁管理) for 15 years from the hand-over day.

    \b
    Example:
      renovation construction handover JM --date 2021-08-01
    """
    from renovation.cli.inputs import DayInput, validate

    data = validate(DayInput, code=code, on=on, operator=operator)
    result = session.app.hand_over(data.code, data.on, data.operator, user=session.user)
    recorded(result, said("handed_over", session.lang, **as_row(result)), as_json=as_json)


COMMANDS = [compound, boq, demolition, construction]

"""Metering (计量), corrections, variations (变更) and horse-race scores (赛马)."""

from __future__ import annotations

import click

from renovation.cli import DefaultGroup, Session, pass_session
from renovation.cli.output import as_row, recorded, write_options
from renovation.cli.said import said


@click.group(cls=DefaultGroup, default="record")
def meter() -> None:
    """Meter a quantity ("meter CODE ...", the same as "meter record CODE ...") or correct an entry
    ("meter correct CODE ENTRY_ID ...").

    \b
    Examples:
      renovation meter JM --item 010101 --period 2021-04 --quantity 120.5
      renovation meter correct JM M3 --quantity 118.5 --reason 复核现场实测
    """


@meter.command("record")
@click.argument("code")
@click.option("--item", required=True, help="Bill-of-quantities item code.")
@click.option("--period", required=True, help="Metering period, YYYY-MM.")
@click.option("--quantity", required=True, metavar="DECIMAL", help="Quantity measured in this period (exact decimal).")
@write_options
@pass_session
def meter_record(session: Session, code: str, item: str, period: str, quantity: str, as_json: bool) -> None:
    """Record a measured quantity of an item of CODE for a period; prints the entry id. The cumulative
    quantity of an item may not exceed its contract quantity (unless a variation raised it).

    \b
    Example:
      renovation meter JM --item 010101 --period 2021-04 --quantity 120.5
    """
    from renovation.cli.inputs import MeterInput, validate

    data = validate(MeterInput, code=code, item=item, period=period, quantity=quantity)
    result = session.app.measure(data.code, data.item, data.period, data.quantity, user=session.user)
    recorded(result, said("measured", session.lang, **as_row(result)), as_json=as_json)


@meter.command("correct")
@click.argument("code")
@click.argument("entry_id")
@click.option("--quantity", required=True, metavar="DECIMAL", help="The right quantity for the entry.")
@click.option("--reason", required=True, help="Why (kept in the history forever).")
@write_options
@pass_session
def meter_correct(session: Session, code: str, entry_id: str, quantity: str, reason: str, as_json: bool) -> None:
    """Correct metering entry ENTRY_ID of CODE. The original stays in the history.

    \b
    Example:
      renovation meter correct JM M3 --quantity 118.5 --reason 复核现场实测
    """
    from renovation.cli.inputs import CorrectInput, validate

    data = validate(CorrectInput, code=code, entry_id=entry_id, quantity=quantity, reason=reason)
    result = session.app.correct_measurement(data.code, data.entry_id, data.quantity, data.reason,
                                             user=session.user)
    recorded(result, said("corrected", session.lang, **as_row(result)), as_json=as_json)


@click.command()
@click.argument("code")
@click.option("--item", required=True, help="Bill-of-quantities item code.")
@click.option("--quantity", required=True, metavar="DECIMAL", help="The item's new total contract quantity.")
@click.option("--reason", required=True, help="Why (the approved variation order).")
@write_options
@pass_session
def variation(session: Session, code: str, item: str, quantity: str, reason: str, as_json: bool) -> None:
    """Approve a variation (变更): set the contract quantity of an item of CODE to a new total.

    \b
    Example:
      renovation variation JM --item 010101 --quantity 1500 --reason "变更令 BG-07"
    """
    from renovation.cli.inputs import VariationInput, validate

    data = validate(VariationInput, code=code, item=item, quantity=quantity, reason=reason)
    result = session.app.approve_variation(data.code, data.item, data.quantity, data.reason, user=session.user)
    recorded(result, said("variation", session.lang, **as_row(result)), as_json=as_json)


@click.command()
@click.argument("code")
@click.option("--period", required=True, help="Scoring period, YYYY-MM.")
@click.option("--quality", required=True, metavar="SCORE", help="0-100.")
@click.option("--safety", required=True, metavar="SCORE", help="0-100.")
@click.option("--progress", required=True, metavar="SCORE", help="0-100.")
@click.option("--civilized", required=True, metavar="SCORE", help="0-100 (文明施工).")
@click.option("--satisfaction", required=True, metavar="SCORE", help="0-100 (resident satisfaction).")
@click.option("--correct", "correction", is_flag=True, help="Replace this period's score (needs --reason).")
@click.option("--reason", default=None, help="Why the score is corrected.")
@write_options
@pass_session
def score(session: Session, code: str, period: str, quality: str, safety: str, progress: str, civilized: str,
          satisfaction: str, correction: bool, reason: str | None, as_json: bool) -> None:
    """Record the horse-race (赛马) scores of CODE for a period: one score per compound and period
    unless --correct.

    \b
    Example:
      renovation score JM --period 2021-04 --quality 92 --safety 88 --progress 85 \\
        --civilized 90 --satisfaction 95
    """
    from renovation.cli.inputs import ScoreInput, validate

    data = validate(ScoreInput, code=code, period=period, quality=quality, safety=safety, progress=progress,
                    civilized=civilized, satisfaction=satisfaction, reason=reason)
    scores = {k: getattr(data, k) for k in ("quality", "safety", "progress", "civilized", "satisfaction")}
    result = session.app.score(data.code, data.period, scores, correction=correction, reason=data.reason,
                               user=session.user)
    recorded(result, said("score_corrected" if correction else "scored", session.lang, **as_row(result)),
             as_json=as_json)


COMMANDS = [meter, variation, score]

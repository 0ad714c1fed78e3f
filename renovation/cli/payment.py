"""Progress payments (计量支付): certificates from the metering, payments, the retention (保留金)."""

from __future__ import annotations

from pathlib import Path

import click

from renovation.cli import Session, ZhHelp, pass_session
from renovation.cli.output import as_row, emit, output_options, recorded, write_options
from renovation.cli.said import said


@click.group(cls=ZhHelp)
def payment() -> None:
    """Progress payments (计量支付): certify the metering, record payments, release the retention.

    \b
    Examples:
      renovation payment certify JM --period 2021-04
      renovation payment record JM C1 --amount 500000 --date 2021-05-20
      renovation payment list
    """


@payment.command("certify")
@click.argument("code")
@click.option("--period", required=True, help="The metering period certified, YYYY-MM.")
@click.option("--reason", default=None, help="Why (required for a correction certificate of a certified period).")
@write_options
@pass_session
def certify(session: Session, code: str, period: str, reason: str | None, as_json: bool) -> None:
    """Issue a payment certificate of CODE for a period: the cumulative metered value through it (every
    metering entry of a period up to it, corrections applied), less the retention ([payments]
    retention_percent of renovation.toml, default 3), less what earlier certificates certified.

    A period already certified is refused, unless a correction changed its metering since: then
    --reason makes a correction certificate of the difference (a later period waits for it).

    \b
    Examples:
      renovation payment certify JM --period 2021-04
      renovation payment certify JM --period 2021-03 --reason "M2 复核更正"
    """
    from renovation.cli.inputs import CertifyInput, validate

    data = validate(CertifyInput, code=code, period=period, reason=reason)
    percent = session.config.payments.retention_percent  # a bad renovation.toml fails here, before any work
    result = session.app.certify(data.code, data.period, percent, reason=data.reason, user=session.user)
    recorded(result, said("certified", session.lang, **as_row(result)), as_json=as_json)


@payment.command("record")
@click.argument("code")
@click.argument("certificate_id", metavar="CERT")
@click.option("--amount", required=True, metavar="YUAN", help="Amount paid, to the fen.")
@click.option("--date", "on", required=True, metavar="DATE", help="Day paid, YYYY-MM-DD.")
@write_options
@pass_session
def record(session: Session, code: str, certificate_id: str, amount: str, on: str, as_json: bool) -> None:
    """Record a payment against certificate CERT of CODE; payments may be partial, never above what the
    certificate certified and is not yet paid.

    \b
    Example:
      renovation payment record JM C1 --amount 500000 --date 2021-05-20
    """
    from renovation.cli.inputs import PayInput, validate

    data = validate(PayInput, code=code, certificate_id=certificate_id, amount=amount, on=on)
    result = session.app.record_payment(data.code, data.certificate_id, data.amount, data.on, user=session.user)
    recorded(result, said("paid", session.lang, **as_row(result)), as_json=as_json)


@payment.command("release")
@click.argument("code")
@click.option("--date", "on", required=True, metavar="DATE", help="Day released, YYYY-MM-DD.")
@write_options
@pass_session
def release(session: Session, code: str, on: str, as_json: bool) -> None:
    """Release the retention held of CODE, once the defects liability period after hand-over is over
    ([payments] defects_months of renovation.toml, default 24).

    \b
    Example:
      renovation payment release JM --date 2023-10-31
    """
    from renovation.cli.inputs import ReleaseInput, validate

    data = validate(ReleaseInput, code=code, on=on)
    months = session.config.payments.defects_months
    result = session.app.release_retention(data.code, data.on, months, user=session.user)
    recorded(result, said("released", session.lang, **as_row(result)), as_json=as_json)


@payment.command("list")
@click.argument("code", required=False)
@click.option("--as-of", "as_of", default=None,
              help="Answer as on that moment (ISO 8601 or a date), from the events recorded by then.")
@output_options
@pass_session
def payment_list(session: Session, code: str | None, as_of: str | None, as_json: bool, as_csv: bool) -> None:
    """Progress payments per compound — certificates, certified, paid, retention held (retained),
    released, outstanding (certified − paid) — or, for CODE, per certificate.

    \b
    Examples:
      renovation payment list
      renovation payment list JM --json
    """
    from renovation.cli.audit import parse_as_of
    from renovation.cli.inputs import CodeInput, validate
    from renovation.services import boards

    chosen = validate(CodeInput, code=code).code if code else None
    rows = boards.payments(session.workspace, chosen, parse_as_of(as_of), user=session.user)
    emit(rows, as_json=as_json, as_csv=as_csv, lang=session.lang,
         columns=boards.columns("certificates" if chosen else "payments"))


@payment.command("certificate")
@click.argument("code")
@click.argument("certificate_id", metavar="CERT")
@click.option("--html", "html_path", required=True, metavar="FILE", type=click.Path(path_type=Path),
              help="Write the certificate to this HTML file (print it, or print it to PDF).")
@pass_session
def certificate(session: Session, code: str, certificate_id: str, html_path: Path) -> None:
    """The payment certificate (计量支付证书) CERT of CODE as a printable A4 page: the cumulative metered
    value and the metering entries it cites, the retention, what earlier certificates certified, this
    certificate's amount, the payments against it, and signature lines (--lang zh for Chinese).

    \b
    Example:
      renovation --lang zh payment certificate JM C2 --html jm-c2.html
    """
    from renovation.cli.inputs import CertificateInput, validate
    from renovation.cli.output import say
    from renovation.report.certificate import render
    from renovation.services import boards
    from renovation.services.outputs import BadOutput, check_target, writing

    data = validate(CertificateInput, code=code, certificate_id=certificate_id)
    protected = session.workspace.store_files()
    try:
        check_target(html_path, protected)
    except BadOutput as error:
        raise click.UsageError(f"--html: cannot write {error}") from None
    found = boards.certificate(session.workspace, data.code, data.certificate_id, user=session.user)
    try:
        with writing(html_path, protected) as out:
            out.write(render(found, session.lang))
    except BadOutput as error:
        raise click.UsageError(f"--html: cannot write {error}") from None
    if session.lang == "zh":
        say(f"支付证书 {data.certificate_id} 已写入 {html_path}", after="written")
    else:
        say(f"certificate {data.certificate_id} of {data.code} written to {html_path}", after="written")


COMMANDS = [payment]

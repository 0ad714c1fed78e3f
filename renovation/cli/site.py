"""On site: inspections and their findings (整改通知), material samples and results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from renovation.cli import Session, ZhHelp, pass_session
from renovation.cli.output import as_row, emit, output_options, recorded, write_options
from renovation.cli.said import said
from renovation.domain.messages import word


@click.command()
@click.argument("code")
@click.option("--kind", required=True, type=click.Choice(["morning", "patrol"]),
              help="morning (晨检, the daily 06:30 round) or patrol (不定期巡检).")
@click.option("--at", default=None, help="When it happened, ISO 8601 (default now; local time if no offset).")
@click.option("--finding", "findings", multiple=True, metavar="CATEGORY:SEVERITY:TEXT[@LOCATION]",
              help="A finding: category quality|safety|civilized, severity minor|major|critical. Repeatable.")
@click.option("--due", default=None, help="Due date for the findings, YYYY-MM-DD "
              "(default by severity: minor 7 days, major 3, critical 1).")
@click.option("--photo", "photos", multiple=True, metavar="FILE", type=click.Path(path_type=Path),
              help="A photo of the findings (before). Repeatable.")
@write_options
@pass_session
def inspect(session: Session, code: str, kind: str, at: str | None, findings: tuple[str, ...],
            due: str | None, photos: tuple[Path, ...], as_json: bool) -> None:
    """Record an inspection of CODE, with any findings; prints the finding ids.

    \b
    Examples:
      renovation inspect JM --kind morning
      renovation inspect JM --kind morning --at 2021-02-28T06:40 \\
        --finding safety:major:脚手架未挂安全网@3号楼 --finding civilized:minor:渣土未苫盖
    """
    from renovation.cli.inputs import InspectInput, parse_finding, validate
    from renovation.domain.compound import NewFinding

    data = validate(InspectInput, code=code, at=at, due=due)
    new = [NewFinding(**parse_finding(spec).as_dict()) for spec in findings]
    result = session.app.record_inspection(data.code, kind, at=data.at, findings=new, due=data.due,
                                           photos=read_photos(session, photos), user=session.user)
    key = "inspected_findings" if result.finding_ids else "inspected"
    shown = as_row(result)
    recorded(result, said(key, session.lang, **{**shown, "kind": word(kind, session.lang)}), as_json=as_json)


@click.group(cls=ZhHelp)
def finding() -> None:
    """Findings: the contractor rectifies, the supervisor closes after re-check (复查/销项) or reopens.

    \b
    Examples:
      renovation finding rectify JM F7 --note 已挂安全网
      renovation finding close JM F7
    """


def read_photos(session: Session, paths: tuple[Path, ...]) -> list[Any]:
    """The --photo files, each checked (an image, not over [photos] max_mb) before anything is recorded."""
    if not paths:
        return []
    from renovation.services.clock import local_zone
    from renovation.services.photos import read

    limit = session.config.photos.max_bytes
    return [read(path, local_zone(), limit) for path in paths]


def _finding_action(name: str, action: str, doc: str) -> click.Command:
    @click.argument("code")
    @click.argument("finding_id")
    @click.option("--note", default=None, help="What was done or seen.")
    @click.option("--at", default=None, help="When, ISO 8601 (default now).")
    @click.option("--photo", "photos", multiple=True, metavar="FILE", type=click.Path(path_type=Path),
                  hidden=name == "reopen", help="A photo of the finding as it is now (after). Repeatable.")
    @write_options
    @pass_session
    def command(session: Session, code: str, finding_id: str, note: str | None, at: str | None,
                photos: tuple[Path, ...], as_json: bool) -> None:
        from renovation.cli.inputs import FindingActionInput, validate

        if photos and name == "reopen":
            raise click.UsageError("--photo is for inspect, finding rectify and finding close")
        data = validate(FindingActionInput, code=code, finding_id=finding_id, note=note, at=at)
        app = session.app
        taken = read_photos(session, photos)
        if name == "reopen":
            result = app.reopen_finding(data.code, data.finding_id, note=data.note, at=data.at, user=session.user)
        else:
            act = app.rectify_finding if name == "rectify" else app.close_finding
            result = act(data.code, data.finding_id, note=data.note, at=data.at, photos=taken, user=session.user)
        recorded(result, said("finding", session.lang, code=result.code, finding_id=result.finding_id,
                              status=word(result.status, session.lang)), as_json=as_json)

    command.__doc__ = doc
    return finding.command(name)(command)


def _one_state(flags: dict[str, bool]) -> str | None:
    """The one state flag given (``--open``, ``--failed``, ...), or None; two are a usage error."""
    given = [name for name, on in flags.items() if on]
    if len(given) > 1:
        raise click.UsageError(f"give one of {', '.join('--' + name for name in flags)}, not {len(given)}")
    return given[0] if given else None


@finding.command("list")
@click.option("--open", "open_", is_flag=True, help="Not closed (open, rectified or reopened).")
@click.option("--overdue", is_flag=True, help="Not closed and past the due date (as of today).")
@click.option("--closed", is_flag=True, help="Closed (销项).")
@click.option("--code", default=None, help="Only this compound.")
@click.option("--contractor", default=None, help="Only this construction unit's compounds.")
@click.option("--severity", type=click.Choice(["minor", "major", "critical"]), default=None)
@click.option("--category", type=click.Choice(["quality", "safety", "civilized"]), default=None)
@click.option("--as-of", "as_of", default=None, help="As recorded by that moment (ISO 8601 or a date).")
@output_options
@pass_session
def finding_list(session: Session, open_: bool, overdue: bool, closed: bool, code: str | None,
                 contractor: str | None, severity: str | None, category: str | None, as_of: str | None,
                 as_json: bool, as_csv: bool) -> None:
    """The findings to act on (整改清单): compound, category, severity, text and location; raised when and
    by whom; due; days open; days overdue; status and the last note. A contractor sees its own
    compounds' only.

    \b
    Examples:
      renovation finding list --overdue
      renovation finding list --open --contractor 辽源建工 --csv
    """
    from renovation.cli.audit import parse_as_of
    from renovation.cli.inputs import ListInput, validate
    from renovation.services import worklists

    state = _one_state({"open": open_, "overdue": overdue, "closed": closed})
    data = validate(ListInput, code=code, contractor=contractor)
    moment = parse_as_of(as_of)
    rows = worklists.finding_list(session.workspace, session.today() if moment is None else moment.date(),
                                  session.user, state=state, code=data.code, contractor=data.contractor,
                                  severity=severity, category=category, as_of=moment)
    from renovation.services.boards import columns

    emit(rows, as_json=as_json, as_csv=as_csv, lang=session.lang, columns=columns("findings"))


@finding.command("show")
@click.argument("code")
@click.argument("finding_id")
@output_options
@pass_session
def finding_show(session: Session, code: str, finding_id: str, as_json: bool, as_csv: bool) -> None:
    """The whole history of FINDING_ID: raised (by which inspection, what, where, due), each
    rectification, close and reopening, with its note, who and when (as done, and as recorded).

    \b
    Example:
      renovation finding show JM F7
    """
    from renovation.cli.inputs import FindingShowInput, validate
    from renovation.services import worklists

    data = validate(FindingShowInput, code=code, finding_id=finding_id)
    rows = worklists.finding_history(session.workspace, session.user, data.code, data.finding_id)
    emit(rows, as_json=as_json, as_csv=as_csv, lang=session.lang, columns=list(worklists.FindingStep.__annotations__))


@finding.command("photos")
@click.argument("code")
@click.argument("finding_id")
@click.option("--out", "out", required=True, metavar="DIR", type=click.Path(path_type=Path),
              help="The folder to write them into (made if missing).")
@pass_session
def finding_photos(session: Session, code: str, finding_id: str, out: Path) -> None:
    """Write the photos of FINDING_ID into DIR, as STEP-N-SHA12.jpg (raised: before; rectified,
    closed: after), each exactly the bytes the store keeps under its SHA-256.

    \b
    Example:
      renovation finding photos JM F7 --out jm-f7
    """
    from renovation.cli.inputs import FindingShowInput, validate
    from renovation.cli.output import say
    from renovation.services import worklists
    from renovation.services.outputs import BadOutput, writing
    from renovation.services.photos import extension

    data = validate(FindingShowInput, code=code, finding_id=finding_id)
    found = worklists.finding_photos(session.workspace, session.user, data.code, data.finding_id)
    if out.exists() and not out.is_dir():
        raise click.UsageError(f"--out {out}: not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        for number, (step, photo) in enumerate(found, start=1):
            target = out / f"{step}-{number}-{photo.sha256[:12]}{extension(photo.media_type)}"
            with writing(target, session.workspace.store_files(), binary=True) as handle:
                handle.write(photo.data)
    except OSError as error:
        raise click.UsageError(f"--out {out}: {error.strerror}") from None
    except BadOutput as error:
        raise click.UsageError(f"--out: cannot write {error}") from None
    say(f"{len(found)} 张照片已写入 {out}" if session.lang == "zh" else f"{len(found)} photos written to {out}",
        after="written")


@finding.command("notice")
@click.argument("code", required=False)
@click.option("--contractor", default=None, help="Every compound of this construction unit, a page each.")
@click.option("--html", "html_path", required=True, metavar="FILE", type=click.Path(path_type=Path),
              help="Write the notice to this HTML file (print it, or print it to PDF).")
@pass_session
def finding_notice(session: Session, code: str | None, contractor: str | None, html_path: Path) -> None:
    """The rectification notice (整改通知单): a printable A4 page per compound with its open findings,
    their due dates and locations, and signature lines for the supervisor and the construction unit.

    \b
    Examples:
      renovation --lang zh finding notice JM --html jm-notice.html
      renovation --lang zh finding notice --contractor 辽源建工 --html notices.html
    """
    from renovation.cli.inputs import ListInput, validate
    from renovation.cli.output import say
    from renovation.report.notice import render
    from renovation.services import worklists
    from renovation.services.outputs import BadOutput, check_target, writing

    if code is None and contractor is None:
        raise click.UsageError("give CODE or --contractor: whose notice")
    data = validate(ListInput, code=code, contractor=contractor)
    protected = session.workspace.store_files()
    try:
        check_target(html_path, protected)
    except BadOutput as error:
        raise click.UsageError(f"--html: cannot write {error}") from None
    today = session.today()
    compounds, findings = worklists.notice(session.workspace, today, session.user, code=data.code,
                                           contractor=data.contractor)
    if not compounds:
        raise click.UsageError(f"no open finding at any compound of {data.contractor}: no notice to write")
    try:
        with writing(html_path, protected) as out:
            out.write(render(compounds, findings, today, session.lang))
    except BadOutput as error:
        raise click.UsageError(f"--html: cannot write {error}") from None
    if session.lang == "zh":
        say(f"整改通知单已写入 {html_path}（{len(compounds)} 个小区，{len(findings)} 个未销项问题）", after="written")
    else:
        say(f"notice written to {html_path} ({len(compounds)} compounds, {len(findings)} open findings)",
            after="written")


_finding_action("rectify", "rectify_finding", """Record that the contractor rectified FINDING_ID.

    \b
    Example:
      renovation finding rectify JM F7 --note 已挂安全网
    """)
_finding_action("close", "close_finding", """Close FINDING_ID after re-check (复查/销项); it must be rectified first.

    \b
    Example:
      renovation finding close JM F7
    """)
_finding_action("reopen", "reopen_finding", """Reopen FINDING_ID when the re-check fails.

    \b
    Example:
      renovation finding reopen JM F7 --note 安全网破损
    """)


@click.group(cls=ZhHelp)
def material() -> None:
    """Material testing: routine (常态化检测), cross (交叉互检) and blind (不定期盲检) samples.

    \b
    Examples:
      renovation material sample JM --material 防水卷材 --batch B2021-031 --regime blind
      renovation material result JM S3 --fail --lab 辽源市建设工程质量检测站
    """


@material.command("sample")
@click.argument("code")
@click.option("--material", required=True, help="What was sampled, e.g. 防水卷材.")
@click.option("--batch", required=True, help="Delivery batch number.")
@click.option("--regime", required=True, type=click.Choice(["routine", "cross", "blind"]), help="Testing regime.")
@click.option("--witness", default=None, help="Who witnessed the sampling (见证人).")
@click.option("--at", default=None, help="When, ISO 8601 (default now).")
@write_options
@pass_session
def sample(session: Session, code: str, material: str, batch: str, regime: str, witness: str | None,
           at: str | None, as_json: bool) -> None:
    """Record a material sample at CODE; prints the sample id. After a failed result the next sample
    of the same batch is its resample (double quantity).

    \b
    Example:
      renovation material sample JM --material 防水卷材 --batch B2021-031 --regime blind
    """
    from renovation.cli.inputs import SampleInput, validate

    data = validate(SampleInput, code=code, material=material, batch=batch, witness=witness, at=at)
    result = session.app.sample_material(data.code, material=data.material, batch=data.batch, regime=regime,
                                         witness=data.witness, at=data.at, user=session.user)
    key = "resampled" if result.resample_of else "sampled"
    recorded(result, said(key, session.lang, **as_row(result)), as_json=as_json)


@material.command("list")
@click.option("--pending", is_flag=True, help="No result yet.")
@click.option("--failed", is_flag=True, help="Failed.")
@click.option("--resample", is_flag=True, help="Failed; its batch awaits the double-quantity resample.")
@click.option("--rejected", is_flag=True, help="Failed again: the batch was rejected (退场).")
@click.option("--code", default=None, help="Only this compound.")
@click.option("--batch", default=None, help="Only this delivery batch.")
@click.option("--as-of", "as_of", default=None, help="As recorded by that moment (ISO 8601 or a date).")
@output_options
@pass_session
def material_list(session: Session, pending: bool, failed: bool, resample: bool, rejected: bool, code: str | None,
                  batch: str | None, as_of: str | None, as_json: bool, as_csv: bool) -> None:
    """The material samples: regime, batch, sampled when and by whom, the witness, the result, the lab
    and its report number, and which sample a resample repeats. A contractor sees its own compounds'
    samples only, and no blind sample before its result.

    \b
    Examples:
      renovation material list --pending
      renovation material list --code JM --batch B-031
    """
    from renovation.cli.audit import parse_as_of
    from renovation.cli.inputs import ListInput, validate
    from renovation.services import worklists

    state = _one_state({"pending": pending, "failed": failed, "resample": resample, "rejected": rejected})
    data = validate(ListInput, code=code, batch=batch)
    moment = parse_as_of(as_of)
    rows = worklists.material_list(session.workspace, session.today() if moment is None else moment.date(),
                                   session.user, state=state, code=data.code, batch=data.batch, as_of=moment)
    from renovation.services.boards import columns

    emit(rows, as_json=as_json, as_csv=as_csv, lang=session.lang, columns=columns("samples"))


@material.command("result")
@click.argument("code")
@click.argument("sample_id")
@click.option("--pass", "pass_", is_flag=True, help="The sample passed.")
@click.option("--fail", "fail", is_flag=True, help="The sample failed.")
@click.option("--lab", required=True, help="Testing laboratory.")
@click.option("--report", default=None, help="Report number.")
@click.option("--at", default=None, help="When the result came, ISO 8601 (default now).")
@write_options
@pass_session
def result(session: Session, code: str, sample_id: str, pass_: bool, fail: bool, lab: str, report: str | None,
           at: str | None, as_json: bool) -> None:
    """Record the result of SAMPLE_ID (one result per sample). A failed sample needs a resample of the
    batch; a failed resample rejects the batch (退场).

    \b
    Example:
      renovation material result JM S3 --fail --lab 辽源市建设工程质量检测站 --report JC-2021-118
    """
    from renovation.cli.inputs import ResultInput, validate

    if pass_ and fail:
        raise click.UsageError("give --pass or --fail, not both")
    if not pass_ and not fail:
        raise click.UsageError("give --pass or --fail")
    passed = pass_
    data = validate(ResultInput, code=code, sample_id=sample_id, lab=lab, report=report, at=at)
    outcome = session.app.record_material_result(data.code, data.sample_id, passed=passed, lab=data.lab,
                                                 report=data.report, at=data.at, user=session.user)
    recorded(outcome, said(f"result_{outcome.outcome}", session.lang, **as_row(outcome)), as_json=as_json)


COMMANDS = [inspect, finding, material]

"""What each page shows: the query checked (pydantic, as every input at the edge), then the use case of
``renovation.services`` that the command line runs, as the person signed in. Nothing here works out a
figure of a board."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from datetime import date as date_type
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from renovation.report.html import table as html_table

if TYPE_CHECKING:
    from renovation.services.workspace import Workspace

Row = dict[str, Any]

RANKING_KEYS = {
    "contractor": ("rank", "contractor", "compounds", "total", "quality", "safety", "progress", "civilized",
                   "satisfaction", "movement", "last"),
    "compound": ("rank", "code", "name", "contractor", "total", "quality", "safety", "progress", "civilized",
                 "satisfaction", "movement", "last"),
}
BESIDE_KEYS = ("computed_total", "difference", "flagged")
PROGRESS_KEYS = ("code", "name", "contractor", "status", "contract_value", "metered_value", "percent_complete",
                 "planned_start", "started_on", "planned_finish", "completed_on", "days_behind")
QUALITY_KEYS = {
    "compound": ("code", "contractor", "inspections", "morning_coverage", "morning_on_time", "findings_open",
                 "findings_overdue", "findings_closed", "mean_days_to_close", "samples", "samples_failed",
                 "rejected_batches"),
    "contractor": ("contractor", "inspections", "morning_coverage", "morning_on_time", "findings_open",
                   "findings_overdue", "findings_closed", "mean_days_to_close", "samples", "samples_failed",
                   "rejected_batches"),
}
FINDING_KEYS = ("code", "finding_id", "category", "severity", "description", "location", "raised_at", "due",
                "days_overdue", "status", "last_note")
SAMPLE_KEYS = ("code", "sample_id", "material", "batch", "regime", "sampled_at", "result", "outcome", "lab",
               "resample_of")
LEDGER_KEYS = ("item", "description", "unit", "period", "cumulative_quantity", "contract_quantity",
               "cumulative_value", "share_of_contract")
COMPOUND_FIELDS = ("status", "district", "contractor", "households", "contract_value", "metered_value",
                   "planned_start", "planned_finish", "started_on", "completed_on", "accepted_on", "handed_over_on",
                   "operator", "inspections", "findings_open", "findings_closed", "samples", "samples_pending",
                   "rejected_batches", "scored_periods", "tickets_open")

#: The words of the pages that are not a column's label, in both languages.
WORDS = {
    "en": {"ranking": "Horse race", "progress": "Progress", "quality": "Quality", "digest": "Digest",
           "worklist": "Worklist", "report": "Report", "signin": "Sign in", "signout": "Sign out",
           "name": "Name", "password": "Password", "wrong": "That name and password do not match.",
           "wait": "Too many attempts: try again in {seconds} s.", "by_contractor": "By contractor",
           "by_compound": "By compound", "recorded": "Recorded scores", "computed": "Computed from the facts",
           "period": "Period", "nobody_scored": "Nobody has been scored yet.", "none": "Nothing.",
           "findings": "Findings", "samples": "Material samples", "metering": "Metering",
           "open_findings": "Open findings", "pending_samples": "Samples awaiting or failing",
           "photos": "Photos", "schedule": "Status and schedule", "as_of": "as of {today}",
           "signed_in_as": "Signed in as {user}", "screen": "Screen", "not_found": "Not found",
           "bad_request": "Bad request", "error": "Error", "back": "Back to the board",
           "signin_for_more": "Sign in to see progress, quality and your worklist.",
           "payments": "Payments", "public_board": "The public horse-race board",
           "busy": "Another report is being drawn: try again in a moment.",
           "unavailable": "The store or renovation.toml cannot answer now: try again in a moment.",
           "unavailable_title": "Not available",
           "damaged": "The board's tables hold a value the tracker did not write. An administrator runs "
                      "`renovation audit boards` (which names it), then `renovation projections rebuild`.",
           "busy_signin": "Many are signing in at once: try again in a moment."},
    "zh": {"ranking": "赛马榜", "progress": "进度", "quality": "质量", "digest": "待办提醒",
           "worklist": "整改清单", "report": "报告", "signin": "登录", "signout": "退出",
           "name": "姓名", "password": "密码", "wrong": "姓名或密码不对。",
           "wait": "尝试次数过多，请 {seconds} 秒后再试。", "by_contractor": "按施工单位",
           "by_compound": "按小区", "recorded": "记录评分", "computed": "按事实计算",
           "period": "期间", "nobody_scored": "尚无赛马评分。", "none": "无。",
           "findings": "整改事项", "samples": "材料送检", "metering": "计量",
           "open_findings": "未销项的整改事项", "pending_samples": "待检或不合格的材料",
           "photos": "照片", "schedule": "状态与工期", "as_of": "截至 {today}",
           "signed_in_as": "已登录：{user}", "screen": "大屏", "not_found": "未找到",
           "bad_request": "请求有误", "error": "错误", "back": "返回赛马榜",
           "signin_for_more": "登录后可看进度、质量和整改清单。",
           "payments": "计量支付", "public_board": "公开的赛马榜",
           "busy": "正在生成另一份报告，请稍后再试。",
           "unavailable": "数据库或 renovation.toml 暂时无法应答，请稍后再试。",
           "unavailable_title": "暂不可用",
           "damaged": "看板数据表中有一个并非本系统写入的值。请管理员运行 `renovation audit boards`（会指出是哪一行），"
                      "再运行 `renovation projections rebuild`。",
           "busy_signin": "同时登录的人较多，请稍后再试。"},
}


def words(lang: str) -> dict[str, str]:
    return WORDS.get(lang, WORDS["en"])


def table(element_id: str, rows: Sequence[Mapping[str, Any]], keys: Sequence[str], lang: str,
          link: str | None = None) -> str:
    """A board's rows as the report draws them (the same labels and cells); with ``link``, each
    compound code opens its page."""
    drawn = html_table(element_id, rows, keys, lang)
    if link and rows:
        from renovation.report.html import escape

        for code in {str(row[link]) for row in rows if row.get(link)}:
            cell = f"<td>{escape(code)}</td>"
            drawn = drawn.replace(cell, f'<td><a href="/compound/{escape(code)}">{escape(code)}</a></td>')
    return f'<div class="scroll">{drawn}</div>'


# -- queries -------------------------------------------------------------------------------------------------


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "query"
    return f"{where}: {first['msg'].removeprefix('Value error, ')}"


class RankingQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    period: str | None = None
    by: str = "contractor"
    computed: bool = False

    @field_validator("period", mode="before")
    @classmethod
    def a_period(cls, value: object) -> object:
        return None if value in (None, "") else checked_period(str(value))

    @field_validator("by")
    @classmethod
    def a_board(cls, value: str) -> str:
        if value not in ("contractor", "compound"):
            raise ValueError("by is contractor or compound")
        return value

    @field_validator("computed", mode="before")
    @classmethod
    def a_flag(cls, value: object) -> object:
        if value not in ("", "0", "1", None):
            raise ValueError("computed is 1 or 0")
        return value == "1"

    @classmethod
    def of(cls, params: Mapping[str, str]) -> RankingQuery:
        try:
            return cls.model_validate({key: params[key] for key in ("period", "by", "computed") if key in params})
        except ValidationError as error:
            raise ValueError(_first_error(error)) from None


def choice(params: Mapping[str, str], key: str, allowed: tuple[str, ...]) -> str:
    value = params.get(key) or allowed[0]
    if value not in allowed:
        raise ValueError(f"{key} is one of {', '.join(allowed)}")
    return value


def checked_period(raw: str) -> str:
    """A period as typed in a query (YYYY-MM), by the domain's rule; else a ValueError in its words."""
    from renovation.domain import rules
    from renovation.domain.errors import InvalidValue

    text = raw.strip()
    try:
        rules.check_period(text)
    except InvalidValue as error:
        raise ValueError(error.phrase("en", shown=raw)) from None
    return text


def period_of(params: Mapping[str, str]) -> str | None:
    raw = params.get("period")
    return checked_period(raw) if raw else None


def code_of(raw: str) -> str:
    """A compound's code from the address; one that no compound could have is not found."""
    from renovation.domain import errors, rules
    from renovation.domain.values import normalise_code

    code = normalise_code(raw)
    try:
        rules.check_code(code)
    except errors.InvalidValue:
        raise errors.CompoundNotFound(code=raw[:40]) from None
    return code


class DigestQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=False)

    date: date_type | None = None

    @field_validator("date", mode="before")
    @classmethod
    def a_day(cls, value: object) -> object:
        from renovation.domain.values import day_of

        return None if value in (None, "") else day_of(value)

    @classmethod
    def of(cls, params: Mapping[str, str]) -> DigestQuery:
        try:
            return cls.model_validate({"date": params["date"]} if "date" in params else {})
        except ValidationError as error:
            raise ValueError(_first_error(error)) from None


# -- pages ---------------------------------------------------------------------------------------------------


def ranking(ws: Workspace, user: str, today: date, query: RankingQuery) -> dict[str, Any]:
    from renovation.services import boards, horserace

    periods = boards.ranking_periods(ws)
    if query.computed:
        rows: list[Any] = horserace.computed_ranking(ws, query.period, query.by, today, user=user)
        keys = RANKING_KEYS[query.by]
    else:
        rows = horserace.beside(ws, boards.ranking(ws, query.period, query.by, today), query.by, today, user=user)
        # The computed totals beside, where this person may see any (a visitor none, a contractor its own)
        shown = any(row["computed_total"] is not None for row in rows)
        keys = (*RANKING_KEYS[query.by], *BESIDE_KEYS) if shown else RANKING_KEYS[query.by]
    period = rows[0]["period"] if rows else query.period
    return {"rows": rows, "keys": keys, "query": query, "period": period, "periods": periods, "today": today,
            "link": "code" if query.by == "compound" else None}


def progress(ws: Workspace, user: str, today: date) -> dict[str, Any]:
    from renovation.services import boards

    return {"rows": boards.progress(ws, today, user=user), "keys": PROGRESS_KEYS, "today": today}


def quality(ws: Workspace, user: str, today: date, by: str) -> dict[str, Any]:
    from renovation.services import boards

    hide = ws.config.access().hides_pending_blind_samples(user)
    rows = boards.quality(ws, today, code=None, by=by, missed=False, hide_blind=hide, user=user)
    return {"rows": rows, "keys": QUALITY_KEYS[by], "by": by, "today": today}


def digest(ws: Workspace, user: str, today: date, params: Mapping[str, str], lang: str) -> dict[str, Any]:
    from renovation.report.digest import SECTIONS, section_title
    from renovation.services import digest as service

    day = DigestQuery.of(params).date or today
    if day > today:
        raise ValueError(f"{day.isoformat()} is after today ({today.isoformat()})")
    found = service.digest(ws, day, today, user)
    sections = [(name, section_title(name, found, lang), found["sections"][name]) for name in SECTIONS]
    return {"day": day, "today": today, "sections": sections}


def worklist(ws: Workspace, user: str, today: date) -> dict[str, Any]:
    from renovation.services import worklists

    findings = worklists.finding_list(ws, today, user, state="open")
    samples = [row for row in worklists.material_list(ws, today, user) if row["result"] != "passed"]
    return {"findings": findings, "samples": samples, "finding_keys": FINDING_KEYS, "sample_keys": SAMPLE_KEYS,
            "today": today}


def compound(ws: Workspace, user: str, today: date, code: str) -> dict[str, Any]:
    from renovation.services import boards, scope, worklists

    scope.require(ws, user, code)  # another contractor's compound: as if it were not there
    hide = ws.config.access().hides_pending_blind_samples(user)
    shown = ws.app.compound(code, hide_pending_blind=hide)
    findings = worklists.finding_list(ws, today, user, code=code)
    samples = worklists.material_list(ws, today, user, code=code)
    ledger = boards.ledger(ws, code, None, None, user=user)
    latest: dict[str, Row] = {}
    for row in ledger:  # the metering summary: each item's cumulative figures as of its last period
        latest[row["item"]] = dict(row)
    steps = worklists.photo_steps(ws, code) if worklists.keeps_photos(ws) else {}
    photos = {row["finding_id"]: worklists.thumbnails(ws, steps.get(row["finding_id"], [])) for row in findings
              if steps.get(row["finding_id"])}
    fields = [(key, getattr(shown, key)) for key in COMPOUND_FIELDS]
    return {"compound": shown, "fields": fields, "findings": findings, "samples": samples,
            "metering": list(latest.values()), "payments": boards.payment_summary(ws, code), "photos": photos,
            "finding_keys": FINDING_KEYS, "sample_keys": SAMPLE_KEYS, "ledger_keys": LEDGER_KEYS, "today": today}


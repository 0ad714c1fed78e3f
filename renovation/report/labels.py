"""The words of every board, report and command output: column labels and value words in English and
Chinese, and how one value is shown (``display``) or made JSON-ready (``plain``).

The CLI's tables and the HTML report both read them from here.
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from decimal import Decimal
from typing import Any

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "code": "Code",
        "name": "Name",
        "district": "District",
        "contractor": "Contractor",
        "households": "Households",
        "status": "Status",
        "contract_value": "Contract value",
        "metered_value": "Metered value",
        "planned_start": "Planned start",
        "planned_finish": "Planned finish",
        "started_on": "Started",
        "completed_on": "Completed",
        "accepted_on": "Accepted",
        "handed_over_on": "Handed over",
        "operator": "Operator",
        "om_end": "O&M ends",
        "illegal_structures": "Illegal structures",
        "boq_items": "BOQ items",
        "entries": "Metering entries",
        "inspections": "Inspections",
        "findings_open": "Findings open",
        "findings_closed": "Findings closed",
        "samples": "Samples",
        "samples_pending": "Samples pending",
        "rejected_batches": "Rejected batches",
        "scored_periods": "Scored periods",
        "tickets_open": "Tickets open",
        "events": "Events",
        "version": "Version",
        "access": "Access",
        "field": "Field",
        "detail": "Value",
        "value": "Value",
        "percent_complete": "% complete",
        "days_behind": "Days behind",
        "construction_days": "Construction days",
        "morning_inspections": "Morning rounds",
        "patrols": "Patrols",
        "morning_coverage": "Morning coverage %",
        "morning_on_time": "Morning on time %",
        "findings_overdue": "Findings overdue",
        "mean_days_to_close": "Mean days to close",
        "samples_failed": "Samples failed",
        "routine_pass_rate": "Routine pass %",
        "cross_pass_rate": "Cross pass %",
        "blind_pass_rate": "Blind pass %",
        "day": "Day",
        "period": "Period",
        "rank": "Rank",
        "compounds": "Compounds",
        "total": "Total",
        "quality": "Quality",
        "safety": "Safety",
        "progress": "Progress",
        "civilized": "Civilized",
        "satisfaction": "Satisfaction",
        "movement": "Movement",
        "last": "Last place",
        "item": "Item",
        "description": "Description",
        "unit": "Unit",
        "quantity": "Quantity",
        "cumulative_quantity": "Cumulative quantity",
        "cumulative_value": "Cumulative value",
        "contract_quantity": "Contract quantity",
        "share_of_contract": "Share of contract %",
        "ticket_id": "Ticket",
        "channel": "Channel",
        "text": "Text",
        "received_at": "Received",
        "resolved_at": "Resolved",
        "note": "Note",
        "days_to_resolve": "Days to resolve",
        "projection": "Projection",
        "position": "Position",
        "head": "Head",
        "lag": "Lag",
        "entry_id": "Entry",
        "kind": "Kind",
        "previous_quantity": "Previous quantity",
        "recorded_at": "Recorded at",
        "finding_id": "Finding",
        "category": "Category",
        "severity": "Severity",
        "location": "Location",
        "raised_at": "Raised",
        "raised_by": "Raised by",
        "due": "Due",
        "days_open": "Days open",
        "days_overdue": "Days overdue",
        "last_note": "Last note",
        "step": "Step",
        "at": "When",
        "by": "By",
        "sample_id": "Sample",
        "material": "Material",
        "batch": "Batch",
        "regime": "Regime",
        "sampled_at": "Sampled",
        "sampled_by": "Sampled by",
        "witness": "Witness",
        "result": "Result",
        "outcome": "Outcome",
        "lab": "Lab",
        "report": "Report no.",
        "resample_of": "Resample of",
        "user": "User",
        "reason": "Reason",
        "what": "What",
        "events_side": "Events",
        "read_model": "Read model",
    },
    "zh": {
        "code": "代码",
        "name": "名称",
        "district": "区县",
        "contractor": "施工单位",
        "households": "户数",
        "status": "状态",
        "contract_value": "合同金额",
        "metered_value": "已计量产值",
        "planned_start": "计划开工",
        "planned_finish": "计划完工",
        "started_on": "实际开工",
        "completed_on": "实际完工",
        "accepted_on": "竣工验收",
        "handed_over_on": "移交",
        "operator": "运营单位",
        "om_end": "运维期至",
        "illegal_structures": "未拆违建",
        "boq_items": "清单项",
        "entries": "计量条目",
        "inspections": "检查次数",
        "findings_open": "未销项问题",
        "findings_closed": "已销项问题",
        "samples": "样品",
        "samples_pending": "待出结果样品",
        "rejected_batches": "退场批次",
        "scored_periods": "已评分期间",
        "tickets_open": "未办结工单",
        "events": "事件数",
        "version": "版本",
        "access": "权限",
        "field": "项目",
        "detail": "内容",
        "value": "产值",
        "percent_complete": "完成率%",
        "days_behind": "滞后天数",
        "construction_days": "施工天数",
        "morning_inspections": "晨检",
        "patrols": "巡检",
        "morning_coverage": "晨检覆盖率%",
        "morning_on_time": "晨检准时率%",
        "findings_overdue": "逾期问题",
        "mean_days_to_close": "平均销项天数",
        "samples_failed": "不合格样品",
        "routine_pass_rate": "常规检测合格率%",
        "cross_pass_rate": "交叉互检合格率%",
        "blind_pass_rate": "盲检合格率%",
        "day": "日期",
        "period": "期间",
        "rank": "名次",
        "compounds": "小区数",
        "total": "总分",
        "quality": "质量",
        "safety": "安全",
        "progress": "进度",
        "civilized": "文明施工",
        "satisfaction": "满意度",
        "movement": "名次变化",
        "last": "末位",
        "item": "清单项",
        "description": "项目名称",
        "unit": "单位",
        "quantity": "数量",
        "cumulative_quantity": "累计数量",
        "cumulative_value": "累计产值",
        "contract_quantity": "合同数量",
        "share_of_contract": "累计占合同%",
        "ticket_id": "工单",
        "channel": "渠道",
        "text": "内容",
        "received_at": "受理时间",
        "resolved_at": "办结时间",
        "note": "办理情况",
        "days_to_resolve": "办结天数",
        "projection": "读模型",
        "position": "位置",
        "head": "日志末尾",
        "lag": "滞后",
        "entry_id": "计量号",
        "kind": "类型",
        "previous_quantity": "原数量",
        "recorded_at": "录入时间",
        "finding_id": "问题",
        "category": "类别",
        "severity": "严重程度",
        "location": "部位",
        "raised_at": "提出时间",
        "raised_by": "提出人",
        "due": "整改期限",
        "days_open": "已开天数",
        "days_overdue": "逾期天数",
        "last_note": "最近说明",
        "step": "环节",
        "at": "时间",
        "by": "经办人",
        "sample_id": "样品",
        "material": "材料",
        "batch": "批次",
        "regime": "检测方式",
        "sampled_at": "取样时间",
        "sampled_by": "取样人",
        "witness": "见证人",
        "result": "结果",
        "outcome": "处理",
        "lab": "检测机构",
        "report": "报告编号",
        "resample_of": "复检自",
        "user": "录入人",
        "reason": "原因",
        "what": "项目",
        "events_side": "事件",
        "read_model": "读模型",
    },
}

#: Columns whose values are words to translate (statuses, kinds, ...).
TRANSLATED = {"status", "channel", "kind", "regime", "category", "severity", "step", "result", "outcome"}

VALUE_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "measured": "measured",
        "corrected": "corrected",
        "variation": "variation",
        "resolved": "resolved",
        "unresolved": "open",
        "hotline": "hotline",
        "form": "form",
        "visit": "visit",
        "morning": "morning",
        "patrol": "patrol",
        "routine": "routine",
        "cross": "cross",
        "blind": "blind",
        "resample_required": "resample required",
        "batch_rejected": "batch rejected",
    },
    "zh": {
        "measured": "计量",
        "corrected": "更正",
        "variation": "变更",
        "resolved": "已办结",
        "unresolved": "未办结",
        "hotline": "热线",
        "form": "表格",
        "visit": "走访",
        "morning": "晨检",
        "patrol": "巡检",
        "routine": "常态化检测",
        "cross": "交叉互检",
        "blind": "盲检",
        "quality": "质量",
        "safety": "安全",
        "civilized": "文明施工",
        "minor": "一般",
        "major": "较大",
        "critical": "严重",
        "raised": "提出",
        "pending": "待出结果",
        "passed": "合格",
        "failed": "不合格",
        "resample_required": "加倍复检",
        "batch_rejected": "整批退场",
    },
}
MARKS = {"en": {"last": "last"}, "zh": {"last": "末位"}}


def label(key: str, lang: str) -> str:
    return LABELS.get(lang, LABELS["en"]).get(key, key)


def plain(value: Any) -> Any:
    """A JSON-ready copy: decimals as plain strings, dates and times in ISO 8601."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if hasattr(value, "_asdict"):  # a named tuple: a record, not a list
        return {key: plain(item) for key, item in value._asdict().items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: plain(getattr(value, field.name)) for field in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def display(key: str, value: Any, lang: str) -> str:
    from renovation.domain.messages import word

    if value is None:
        return ""
    if key in TRANSLATED and isinstance(value, str):
        return VALUE_WORDS.get(lang, {}).get(value) or word(value, lang)
    if key == "last":
        return MARKS.get(lang, MARKS["en"])["last"] if value else ""
    if key == "movement":
        return "=" if value == 0 else (f"↑{value}" if value > 0 else f"↓{-value}")
    if isinstance(value, (list, tuple)):
        return ", ".join(str(display(key, item, lang)) for item in value)
    if isinstance(value, Decimal) and key.endswith("value"):
        return f"{value:,.2f}"
    result = plain(value)
    return str(result)

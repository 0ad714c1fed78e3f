"""What write commands say they recorded, in English and Chinese."""

from __future__ import annotations

from typing import Any

SAID: dict[str, dict[str, str]] = {
    "en": {
        "registered": "Registered compound {code} ({name}).",
        "boq": "Bill of quantities of {code}: {items} items, total {total} yuan.",
        "illegal_recorded": "Recorded {count} illegal structure(s) at {code}; {standing} standing.",
        "illegal_cleared": "Cleared the illegal structures at {code}.",
        "started": "Construction of {code} started on {on}.",
        "completed": "Construction of {code} completed on {on}.",
        "accepted": "{code} accepted on {on}.",
        "handed_over": "{code} handed over on {on} to {operator}; O&M until {om_end}.",
        "inspected": "Recorded {kind} inspection {inspection_id} at {code}.",
        "inspected_findings": "Recorded {kind} inspection {inspection_id} at {code}; findings: {finding_ids}.",
        "finding": "Finding {finding_id} at {code}: {status}.",
        "sampled": "Sample {sample_id} of batch {batch} at {code}.",
        "resampled": "Sample {sample_id} of batch {batch} at {code} (resample of {resample_of}, double quantity).",
        "result_passed": "Sample {sample_id}: pass.",
        "result_resample_required": "Sample {sample_id}: fail; batch {batch} needs a resample (double quantity).",
        "result_batch_rejected": "Sample {sample_id}: fail on resample; batch {batch} rejected (退场).",
        "measured": "Metering entry {entry_id}: {item} {period} quantity {quantity}, value {value} yuan.",
        "corrected": "Corrected {entry_id}: quantity {previous_quantity} -> {quantity}, value {value} yuan.",
        "variation": "Variation of {item} at {code}: contract quantity {previous_quantity} -> {quantity}.",
        "scored": "Scored {code} for {period}.",
        "score_corrected": "Corrected the score of {code} for {period}.",
        "feedback": "Feedback ticket {ticket_id} at {code}.",
        "resolved": "Ticket {ticket_id} at {code} resolved.",
        "certified": (
            "Payment certificate {certificate_id} of {code} for {period}: cumulative metered {cumulative_metered}, "
            "retention {retention} ({retention_percent} %), previously certified {previously_certified}, "
            "this certificate {amount} yuan."
        ),
        "paid": "Payment {payment_id} of {amount} yuan against {certificate_id} at {code}; unpaid {unpaid}.",
        "released": "Retention of {amount} yuan released at {code} on {on}.",
    },
    "zh": {
        "registered": "已登记小区 {code}（{name}）。",
        "boq": "{code} 工程量清单：{items} 项，合计 {total} 元。",
        "illegal_recorded": "{code} 登记违建 {count} 处；未拆除 {standing} 处。",
        "illegal_cleared": "{code} 违建已拆除。",
        "started": "{code} 于 {on} 开工。",
        "completed": "{code} 于 {on} 完工。",
        "accepted": "{code} 于 {on} 竣工验收。",
        "handed_over": "{code} 于 {on} 移交 {operator}；运维期至 {om_end}。",
        "inspected": "{code} 检查 {inspection_id}（{kind}）已记录。",
        "inspected_findings": "{code} 检查 {inspection_id}（{kind}）已记录；整改问题：{finding_ids}。",
        "finding": "{code} 整改问题 {finding_id}：{status}。",
        "sampled": "{code} 批次 {batch} 取样 {sample_id}。",
        "resampled": "{code} 批次 {batch} 取样 {sample_id}（{resample_of} 的加倍复检）。",
        "result_passed": "样品 {sample_id}：合格。",
        "result_resample_required": "样品 {sample_id}：不合格；批次 {batch} 需加倍复检。",
        "result_batch_rejected": "样品 {sample_id}：复检不合格；批次 {batch} 退场。",
        "measured": "计量 {entry_id}：{item} {period} 数量 {quantity}，产值 {value} 元。",
        "corrected": "更正 {entry_id}：数量 {previous_quantity} -> {quantity}，产值 {value} 元。",
        "variation": "{code} 清单项 {item} 变更：合同数量 {previous_quantity} -> {quantity}。",
        "scored": "{code} {period} 赛马评分已记录。",
        "score_corrected": "{code} {period} 赛马评分已更正。",
        "feedback": "{code} 反馈工单 {ticket_id}。",
        "resolved": "{code} 工单 {ticket_id} 已办结。",
        "certified": (
            "{code} {period} 支付证书 {certificate_id}：累计计量 {cumulative_metered}，保留金 {retention}"
            "（{retention_percent}%），前期累计核定 {previously_certified}，本期核定 {amount} 元。"
        ),
        "paid": "{code} 按证书 {certificate_id} 支付 {payment_id}：{amount} 元；尚未支付 {unpaid}。",
        "released": "{code} 于 {on} 返还保留金 {amount} 元。",
    },
}


def said(key: str, lang: str, **params: Any) -> str:
    from renovation.report.labels import plain

    values = {name: ", ".join(value) if isinstance(value, list) else plain(value) for name, value in params.items()}
    return SAID.get(lang, SAID["en"])[key].format(**values)

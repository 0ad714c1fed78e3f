"""What the domain errors say, in English and Chinese (a catalogue: one template per error and
language, with the error's numbers filled in)."""

from __future__ import annotations

from typing import Any

ERRORS: dict[str, dict[str, str]] = {
    "en": {
        "CompoundNotFound": "no compound with code {code}",
        "CompoundAlreadyRegistered": "compound {code} is already registered",
        "InvalidValue": "{field} {value!r} refused: it {reason}",
        "WrongStatus": "cannot {action} {code}: it is {status}, and this needs {required}",
        "IllegalStructuresStanding": (
            "cannot start construction of {code}: {count} illegal structure(s) still stand "
            "(demolish illegal structures before renovating)"
        ),
        "NoIllegalStructures": "{code} has no illegal structures recorded to clear",
        "BillOfQuantitiesMissing": "{code} has no bill of quantities yet (boq import first)",
        "BillOfQuantitiesLocked": (
            "the bill of quantities of {code} cannot be replaced: {entries} metering entries refer to it "
            "(use a variation to change an item's quantity)"
        ),
        "DuplicateItem": "item {item} appears twice in the bill of quantities",
        "UnknownItem": "{code} has no bill-of-quantities item {item} (items: {known})",
        "MeteringExceedsContract": (
            "metering {quantity} of item {item} would exceed its contract quantity {contract}: "
            "cumulative so far {cumulative}, excess {excess} (an approved variation can raise it)"
        ),
        "VariationBelowMetered": (
            "variation of item {item} to {quantity} refused: {cumulative} is already metered"
        ),
        "VariationUnchanged": "item {item} already has contract quantity {quantity}",
        "UnknownEntry": "{code} has no metering entry {entry_id}",
        "CorrectionUnchanged": "entry {entry_id} already has quantity {quantity}",
        "ReasonRequired": "a reason is required (corrections and variations never erase history)",
        "PeriodBeforeStart": "period {period} is before construction started ({start})",
        "PeriodInFuture": "period {period} has not begun (current period {current})",
        "TimeInFuture": "{at} is in the future (now {now})",
        "DateOutOfOrder": "{what} date {day} is before the {before} date {other}",
        "UnknownFinding": "{code} has no finding {finding_id}",
        "FindingTransitionRefused": "cannot {action} finding {finding_id}: it is {status}",
        "DueBeforeInspection": "due date {due} is before the inspection day {day}",
        "MorningAfterNoon": "a morning round at {at} is after noon: record it as a patrol",
        "UnknownSample": "{code} has no material sample {sample_id}",
        "ResultAlreadyRecorded": "sample {sample_id} already has a result ({result}); one result per sample",
        "BatchRejected": "batch {batch} was rejected after a failed resample and cannot be sampled again",
        "AcceptanceBlocked": (
            "cannot accept {code}: findings not closed: {findings}; samples without result: {samples}; "
            "batches awaiting resample: {batches}"
        ),
        "ScoreAlreadyRecorded": (
            "{code} already has a score for {period} (use --correct with --reason to correct it)"
        ),
        "ScoreCorrectionWithoutScore": "{code} has no score for {period} to correct",
        "UnknownTicket": "{code} has no feedback ticket {ticket_id}",
        "TicketAlreadyResolved": "ticket {ticket_id} is already resolved",
        "UnknownUser": "user {user} is not in the configuration file's [users]; to {action} needs the role {required}",
        "AccessRefused": "user {user} ({role}) may not {action}: this needs the role {required}",
        "NotTheContractor": "user {user} works for {company}; only {contractor} rectifies findings at this compound",
        "NothingMetered": "{code} has no metering in {period} to certify",
        "PeriodAlreadyCertified": (
            "{code} {period} is already certified and its metering has not changed since"
        ),
        "PeriodBeforeCertified": (
            "{code} {period} is before {latest}, already certified (a later certificate counts every earlier period)"
        ),
        "CorrectionNotCertified": (
            "cannot certify {code} {period}: the metering of {changed}, already certified, changed since; certify "
            "the correction first (payment certify {code} --period {changed} --reason ...)"
        ),
        "UnknownCertificate": "{code} has no payment certificate {certificate_id}",
        "PaymentExceedsCertified": (
            "payment {amount} exceeds what certificate {certificate_id} has certified and not yet paid: {unpaid} "
            "(certified {certified}, paid {paid})"
        ),
        "PaymentExceedsOutstanding": (
            "payment {amount} exceeds what the certificates of {code} have certified and not yet paid in all: "
            "{outstanding} (a correction certificate of less metering is netted against the next payment)"
        ),
        "RetentionNotDue": (
            "the retention of {code} is held until {due} ({months} months after hand-over); {on} is before it"
        ),
        "RetentionAlreadyReleased": "the retention of {code} was released on {on}",
        "NoRetentionHeld": "{code} holds no retention to release",
        "MeteringNotCertified": (
            "cannot release the retention of {code}: the metering of {period} is not certified yet (once released, "
            "nothing more is certified); payment certify {code} --period {period} first"
        ),
    },
    "zh": {
        "CompoundNotFound": "没有代码为 {code} 的小区",
        "CompoundAlreadyRegistered": "小区 {code} 已登记",
        "InvalidValue": "{field} {value!r} 不被接受：{reason}",
        "WrongStatus": "无法对 {code} {action}：当前状态为{status}，需要{required}",
        "IllegalStructuresStanding": "{code} 不能开工：仍有 {count} 处违建未拆除（改旧先拆违）",
        "NoIllegalStructures": "{code} 没有待拆除的违建记录",
        "BillOfQuantitiesMissing": "{code} 尚无工程量清单（请先 boq import）",
        "BillOfQuantitiesLocked": "{code} 的工程量清单不能替换：已有 {entries} 条计量引用它（请用变更调整数量）",
        "DuplicateItem": "清单项 {item} 重复",
        "UnknownItem": "{code} 的工程量清单中没有 {item}（清单项：{known}）",
        "MeteringExceedsContract": (
            "清单项 {item} 计量 {quantity} 将超过合同数量 {contract}：已累计 {cumulative}，超出 {excess}"
            "（经批准的变更可调增）"
        ),
        "VariationBelowMetered": "清单项 {item} 变更为 {quantity} 被拒绝：已计量 {cumulative}",
        "VariationUnchanged": "清单项 {item} 的合同数量已是 {quantity}",
        "UnknownEntry": "{code} 没有计量记录 {entry_id}",
        "CorrectionUnchanged": "计量记录 {entry_id} 的数量已是 {quantity}",
        "ReasonRequired": "必须填写原因（更正和变更不会抹去历史）",
        "PeriodBeforeStart": "计量期 {period} 早于开工（{start}）",
        "PeriodInFuture": "计量期 {period} 尚未开始（当前 {current}）",
        "TimeInFuture": "{at} 晚于当前时间（{now}）",
        "DateOutOfOrder": "{what}日期 {day} 早于{before}日期 {other}",
        "UnknownFinding": "{code} 没有整改问题 {finding_id}",
        "FindingTransitionRefused": "整改问题 {finding_id} 当前为{status}，无法{action}",
        "DueBeforeInspection": "整改期限 {due} 早于检查日 {day}",
        "MorningAfterNoon": "{at} 已过中午，不是晨查：请按巡查（patrol）录入",
        "UnknownSample": "{code} 没有材料样品 {sample_id}",
        "ResultAlreadyRecorded": "样品 {sample_id} 已有检测结果（{result}），每个样品只有一个结果",
        "BatchRejected": "批次 {batch} 复检不合格已退场，不能再取样",
        "AcceptanceBlocked": (
            "{code} 不能竣工验收：未销项的问题：{findings}；未出结果的样品：{samples}；待复检批次：{batches}"
        ),
        "ScoreAlreadyRecorded": "{code} 在 {period} 已有评分（更正请用 --correct 并填写 --reason）",
        "ScoreCorrectionWithoutScore": "{code} 在 {period} 没有可更正的评分",
        "UnknownTicket": "{code} 没有反馈工单 {ticket_id}",
        "TicketAlreadyResolved": "工单 {ticket_id} 已办结",
        "UnknownUser": "用户 {user} 不在配置文件的 [users] 中；{action}需要角色{required}",
        "AccessRefused": "用户 {user}（{role}）无权{action}：需要角色{required}",
        "NotTheContractor": "用户 {user} 属于{company}；本小区的整改由{contractor}负责",
        "NothingMetered": "{code} 在 {period} 没有计量，无可支付",
        "PeriodAlreadyCertified": "{code} {period} 已出具支付证书，此后计量未变",
        "PeriodBeforeCertified": "{code} {period} 早于已出具证书的 {latest}（后一期证书已累计此前各期）",
        "CorrectionNotCertified": (
            "{code} {period} 不能出具证书：已出证的 {changed} 计量已更正，请先出具更正证书"
            "（payment certify {code} --period {changed} --reason ...）"
        ),
        "UnknownCertificate": "{code} 没有支付证书 {certificate_id}",
        "PaymentExceedsCertified": (
            "支付 {amount} 超过证书 {certificate_id} 已核定未支付的 {unpaid}（核定 {certified}，已付 {paid}）"
        ),
        "PaymentExceedsOutstanding": (
            "支付 {amount} 超过 {code} 各证书合计核定未付的 {outstanding}（核减的更正证书在下次支付中扣回）"
        ),
        "RetentionNotDue": "{code} 的保留金在 {due} 前（移交后 {months} 个月缺陷责任期）不能返还；{on} 早于该日",
        "RetentionAlreadyReleased": "{code} 的保留金已于 {on} 返还",
        "NoRetentionHeld": "{code} 没有可返还的保留金",
        "MeteringNotCertified": (
            "{code} 的保留金不能返还：{period} 的计量尚未出具支付证书（返还后不再出证）；请先 payment certify {code} "
            "--period {period}"
        ),
    },
}

#: Words that errors put into their templates (actions, statuses, fields, reasons).
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "record_illegal_structures": "record illegal structures of",
        "clear_illegal_structures": "clear illegal structures of",
        "set_bill_of_quantities": "set the bill of quantities of",
        "approve_variation": "approve a variation of",
        "start_construction": "start construction of",
        "complete_construction": "complete construction of",
        "accept": "accept",
        "hand_over": "hand over",
        "inspect": "inspect",
        "sample": "take a material sample at",
        "record_result": "record a material result at",
        "measure": "meter",
        "correct": "correct metering of",
        "score": "score",
        "rectify": "rectify",
        "close": "close",
        "reopen": "reopen",
        "registered": "registered",
        "under_construction": "under construction",
        "completed": "completed",
        "accepted": "accepted",
        "handed_over": "handed over",
        "all": "all",
        "open": "open",
        "rectified": "rectified",
        "closed": "closed",
        "reopened": "reopened",
        # The reasons of InvalidValue, said of the value (the CLI puts the value itself before those
        # of VALUE_SHOWN in renovation.domain.errors): "'1.001' has more than 2 decimal places".
        "empty": "must not be empty",
        "too_long": "is longer than {limit} characters",
        "control_character": "contains a control character",
        "not_a_photo_hash": "is not a photo's SHA-256 (64 lower-case hex digits)",
        "photos_without_findings": "documents findings, and this inspection raises none",
        "too_many": "is more than the {limit} one step may carry",
        "duplicate": "is given twice",
        "not_finite": "is not a finite number",
        "not_positive": "must be greater than zero",
        "negative": "is negative",
        "too_large": "is larger than {limit}",
        "too_precise": "has more than {limit} decimal places",
        "bad_code": "is not a compound code (1-16 letters, digits or '-')",
        "reserved_code": "is a subcommand's name and cannot be a compound code",
        "bad_period": "is not a period (YYYY-MM, month 01-12)",
        "choice": "must be one of {choices}",
        "score_range": "is not a score from 0 to 100",
        "start": "start",
        "registration": "registration",
        "completion": "completion",
        "acceptance": "acceptance",
        "inspection": "inspection",
        "raised": "raised",
        "sampled": "sampling",
        "received": "received",
        "result": "result",
        "resolve": "resolution",
        "planned_finish": "planned finish",
        "planned_start": "planned start",
        "pass": "pass",
        "fail": "fail",
        "access_register": "register compounds",
        "access_demolition": "record illegal structures",
        "access_lifecycle": "change the lifecycle",
        "access_boq": "set a bill of quantities",
        "access_variation": "approve variations",
        "access_score": "score",
        "access_feedback": "handle resident feedback",
        "access_inspect": "record inspections",
        "access_sample": "take material samples",
        "access_result": "record material results",
        "access_close": "close findings",
        "access_reopen": "reopen findings",
        "access_rectify": "rectify findings",
        "access_meter": "meter",
        "access_correct": "correct metering",
        "access_maintain": "maintain the store",
        "access_certify": "certify payments",
        "access_pay": "record payments",
        "access_accounts": "set the web board's passwords",
        "release_retention": "release the retention of",
        "payment": "payment",
        "certificate": "certificate",
        "release": "release",
        "supervisor": "supervisor",
        "auditor": "auditor",
        "contractor": "contractor",
        "bureau": "bureau",
    },
    "zh": {
        "record_illegal_structures": "登记违建",
        "clear_illegal_structures": "拆除违建",
        "set_bill_of_quantities": "设置工程量清单",
        "approve_variation": "批准变更",
        "start_construction": "开工",
        "complete_construction": "完工",
        "accept": "竣工验收",
        "hand_over": "移交",
        "inspect": "检查",
        "sample": "取样",
        "record_result": "登记检测结果",
        "measure": "计量",
        "correct": "更正计量",
        "score": "评分",
        "rectify": "整改",
        "close": "销项",
        "reopen": "重新打开",
        "registered": "已登记",
        "under_construction": "施工中",
        "completed": "已完工",
        "accepted": "已验收",
        "handed_over": "已移交",
        "all": "合计",
        "open": "待整改",
        "rectified": "已整改",
        "closed": "已销项",
        "reopened": "重新打开",
        "empty": "不能为空",
        "too_long": "超过 {limit} 个字符",
        "control_character": "含有控制字符",
        "not_a_photo_hash": "不是照片的 SHA-256（64 位小写十六进制）",
        "photos_without_findings": "照片用于记录问题，本次检查未发现问题",
        "too_many": "超过每一步最多 {limit} 张",
        "duplicate": "重复给出",
        "not_finite": "不是有限数",
        "not_positive": "必须大于零",
        "negative": "不能为负数",
        "too_large": "大于 {limit}",
        "too_precise": "小数位超过 {limit} 位",
        "bad_code": "不是小区代码（1-16 位字母、数字或 '-'）",
        "reserved_code": "是子命令名，不能作小区代码",
        "bad_period": "不是期间（YYYY-MM，月份 01-12）",
        "choice": "必须是 {choices} 之一",
        "score_range": "不是 0 到 100 的评分",
        "start": "开工",
        "registration": "登记",
        "completion": "完工",
        "acceptance": "验收",
        "inspection": "检查",
        "raised": "提出",
        "sampled": "取样",
        "received": "受理",
        "result": "结果",
        "resolve": "办结",
        "planned_finish": "计划完工",
        "planned_start": "计划开工",
        "pass": "合格",
        "fail": "不合格",
        "access_register": "登记小区",
        "access_demolition": "登记拆违",
        "access_lifecycle": "变更施工阶段",
        "access_boq": "设置工程量清单",
        "access_variation": "批准变更",
        "access_score": "评分",
        "access_feedback": "办理居民反馈",
        "access_inspect": "录入检查",
        "access_sample": "取样",
        "access_result": "登记检测结果",
        "access_close": "销项",
        "access_reopen": "重新打开整改问题",
        "access_rectify": "整改",
        "access_meter": "计量",
        "access_correct": "更正计量",
        "access_maintain": "维护数据库",
        "access_certify": "出具支付证书",
        "access_pay": "登记支付",
        "access_accounts": "设置网页看板的登录密码",
        "release_retention": "返还保留金",
        "payment": "支付",
        "certificate": "证书",
        "release": "返还",
        "supervisor": "监理",
        "auditor": "造价审计",
        "contractor": "施工单位",
        "bureau": "住建局",
    },
}


def word(key: str, lang: str, **params: Any) -> str:
    text = WORDS.get(lang, WORDS["en"]).get(key, key)
    return text.format(**params) if params else text


def render_error(key: str, params: dict[str, Any], lang: str) -> str:
    values: dict[str, Any] = dict(params)
    for name in ("action", "status", "what", "before", "result", "role"):
        if isinstance(values.get(name), str):
            values[name] = word(values[name], lang)
    if "required" in values:
        joiner = " 或 " if lang == "zh" else " or "
        values["required"] = joiner.join(word(item, lang) for item in values["required"])
    if "reason" in values:
        values["reason"] = word(values["reason"], lang, **values)
    template = ERRORS.get(lang, ERRORS["en"])[key]
    return template.format(**values)

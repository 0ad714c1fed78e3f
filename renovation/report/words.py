"""The report's own words in English and Chinese (column headers and values come from
``renovation.report.labels``)."""

from __future__ import annotations

from typing import Any

#: The report's own words; column headers and values come from ``renovation.report.labels``.
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "digest": "What needs attention on {date}",
        "digest_meta": "Counted on {date}; the horse-race period is {period}. Thresholds: {thresholds}.",
        "overdue_findings": "Overdue findings, by contractor",
        "no_morning_round": "Under construction, no morning round started by {by}",
        "pending_samples": "Samples without their result for {days} days or more",
        "awaiting_resample": "Batches awaiting their double-quantity resample",
        "open_tickets": "Residents' tickets open for {days} days or more",
        "behind_plan": "Behind plan",
        "unscored": "Under construction in {period}, not scored for it",
        "nothing": "Nothing.",
        "digest_footer": "Made by the renovation tracker from its read models.",
        "title": "Renovation of old residential compounds: report for leaders",
        "as_of": "As of {today}",
        "board_period": "horse-race period {period}",
        "figures": "Key figures",
        "programme_percent": "Programme complete by value %",
        "board": "Horse-race board",
        "weights": "Weights",
        "by_contractor": "By contractor",
        "by_compound": "By compound",
        "no_scores": "No scores for period {period}.",
        "nothing_scored": "No period has been scored yet.",
        "progress": "Progress",
        "chart_percent": "Percent complete by value, per compound",
        "chart_value": "Cumulative metered value against plan, per month",
        "metered": "Metered (cumulative)",
        "planned": "Planned (contract value spread evenly from planned start to planned finish)",
        "value_axis": "10k yuan",
        "count_axis": "Number",
        "quality": "Quality",
        "chart_findings": "Findings open and overdue, per contractor",
        "chart_coverage": "Morning-round coverage, per contractor",
        "chart_materials": "Material failures, per contractor",
        "chart_horse": "Recorded against computed horse-race totals, per contractor",
        "compound_table": "All compounds",
        "footer": "Made by the renovation tracker from its read models. Money in yuan; a contractor's total is "
                  "the mean of its compounds' weighted totals; 末位 marks the last place.",
    },
    "zh": {
        "digest": "{date} 待办提醒",
        "digest_meta": "按 {date} 计；赛马期间 {period}。阈值：{thresholds}。",
        "overdue_findings": "逾期未整改问题（按施工单位）",
        "no_morning_round": "在建小区 {by} 前未开始晨检",
        "pending_samples": "送检 {days} 天以上未出结果",
        "awaiting_resample": "待加倍复检的批次",
        "open_tickets": "{days} 天以上未办结的居民诉求",
        "behind_plan": "进度滞后",
        "unscored": "{period} 在建但未赛马评分",
        "nothing": "无。",
        "digest_footer": "由老旧小区改造跟踪系统根据读模型生成。",
        "title": "老旧小区改造工作报告",
        "as_of": "截至 {today}",
        "board_period": "赛马期间 {period}",
        "figures": "主要指标",
        "programme_percent": "总体完成率%",
        "board": "赛马排名",
        "weights": "权重",
        "by_contractor": "按施工单位",
        "by_compound": "按小区",
        "no_scores": "{period} 期间无评分。",
        "nothing_scored": "尚无评分期间。",
        "progress": "工程进度",
        "chart_percent": "各小区完成率（按产值）",
        "chart_value": "累计计量产值与计划对比（按月）",
        "metered": "累计计量产值",
        "planned": "计划产值（合同金额自计划开工至计划完工均匀分布）",
        "value_axis": "万元",
        "count_axis": "数量",
        "quality": "质量安全",
        "chart_findings": "各施工单位未销项及逾期问题",
        "chart_coverage": "各施工单位晨检覆盖率",
        "chart_materials": "各施工单位材料检测不合格情况",
        "chart_horse": "各施工单位赛马记录总分与计算总分",
        "compound_table": "全部小区",
        "footer": "由改造跟踪系统根据读模型生成。金额单位：元；施工单位总分为其各小区加权总分的平均值；"
                  "“末位”标示最后一名。",
    },
}


def text(key: str, lang: str, **params: Any) -> str:
    words = TEXT.get(lang, TEXT["en"])[key]
    return words.format(**params) if params else words

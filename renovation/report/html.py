"""The leaders' report (领导报告): the horse-race board, progress and quality of every compound, in one
self-contained HTML file for the bureau's leaders and the contractors.

``gather`` reads the caught-up read models into a ``ReportData``; ``render`` turns that into HTML with
the charts drawn by matplotlib as inline SVG (text kept as text, so the browser renders Chinese with
its own fonts). Nothing is fetched when the file is opened: no external CSS, script, font or image.
"""

from __future__ import annotations

import html
import io
import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection

from renovation.cli.output import display, label
from renovation.domain.values import SCORE_DIMENSIONS, Status
from renovation.projections.feedback import feedback_rows
from renovation.projections.ledger import metered_value_by_period
from renovation.projections.progress import percent, progress_rows
from renovation.projections.quality import quality_rows
from renovation.projections.ranking import periods, ranking_rows

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: The report's own words; column headers and values come from ``renovation.cli.output``.
TEXT: dict[str, dict[str, str]] = {
    "en": {
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
        "compound_table": "All compounds",
        "footer": "Made by the renovation tracker from its read models. Money in yuan; a contractor's total is "
                  "the mean of its compounds' weighted totals; 末位 marks the last place.",
    },
    "zh": {
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
        "compound_table": "全部小区",
        "footer": "由改造跟踪系统根据读模型生成。金额单位：元；施工单位总分为其各小区加权总分的平均值；"
                  "“末位”标示最后一名。",
    },
}

#: Browsers pick the first font they have; matplotlib measures text with the first it finds.
FONTS = ["Noto Sans CJK SC", "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC", "DejaVu Sans", "sans-serif"]
TEN_THOUSAND = Decimal(10_000)
CENT = Decimal("0.01")
STATUS_COLOURS = {
    Status.REGISTERED: "#b0b7c3", Status.UNDER_CONSTRUCTION: "#2f6fb0", Status.COMPLETED: "#5aa469",
    Status.ACCEPTED: "#2e8540", Status.HANDED_OVER: "#1b5e20",
}


def text(key: str, lang: str, **params: Any) -> str:
    words = TEXT.get(lang, TEXT["en"])[key]
    return words.format(**params) if params else words


@dataclass(frozen=True)
class ValueSeries:
    """Cumulative value per month: metered up to the report's month (None after it), and planned."""

    months: list[str]
    metered: list[Decimal | None]
    planned: list[Decimal]


@dataclass(frozen=True)
class ReportData:
    today: date
    period: str | None  # the board's period; None when nothing has been scored
    weights: dict[str, int]
    board_contractors: list[dict[str, Any]]
    board_compounds: list[dict[str, Any]]
    progress: list[dict[str, Any]]
    quality_contractors: list[dict[str, Any]]
    quality_compounds: list[dict[str, Any]]
    value: ValueSeries
    tickets_open: int


def gather(connection: Connection, *, today: date, weights: Mapping[str, int], period: str | None) -> ReportData:
    """Everything the report shows, from read models already caught up. ``period``: the board's (default:
    the latest scored)."""
    if period is None:
        known = periods(connection)
        period = known[-1] if known else None
    boards = {by: ranking_rows(connection, weights, period, by) if period else [] for by in ("contractor", "compound")}
    progress = progress_rows(connection, today)
    # The report goes to contractors too, and they never learn of a blind sample before its result.
    hidden = frozenset({"blind"})
    return ReportData(
        today=today, period=period, weights=dict(weights),
        board_contractors=boards["contractor"], board_compounds=boards["compound"], progress=progress,
        quality_contractors=quality_rows(connection, today, "contractor", hidden),
        quality_compounds=quality_rows(connection, today, "compound", hidden),
        value=value_series(progress, metered_value_by_period(connection), today),
        tickets_open=len(feedback_rows(connection, only_open=True)),
    )


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"  # not %Y: the C library writes year 1 as "1"


def month_end(period: str) -> date:
    year, month = (int(part) for part in period.split("-"))
    following = date(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=1)


def months_from(first: str, last: str) -> list[str]:
    result = []
    day = date.fromisoformat(f"{first}-01")
    while month_of(day) <= last:
        result.append(month_of(day))
        day = month_end(month_of(day)) + timedelta(days=1)
    return result


def planned_value(row: Mapping[str, Any], day: date) -> Decimal:
    """The compound's contract value spread evenly over its planned days, as planned by the end of ``day``."""
    start: date = row["planned_start"]
    finish: date = row["planned_finish"]
    done = (min(day, finish) - start).days + 1
    if done <= 0:
        return Decimal(0)
    share = Decimal(done) / Decimal((finish - start).days + 1)
    contract: Decimal = row["contract_value"]
    return (contract * share).quantize(CENT, rounding=ROUND_HALF_UP)


def value_series(progress: Sequence[Mapping[str, Any]], metered: Mapping[str, Decimal], today: date) -> ValueSeries:
    """Month by month across the programme: the cumulative metered value and the planned value."""
    if not progress:
        return ValueSeries([], [], [])
    first = min([month_of(row["planned_start"]) for row in progress] + list(metered))
    last = max([month_of(row["planned_finish"]) for row in progress] + list(metered))
    reached = max([month_of(today), *metered])
    months = months_from(first, last)
    cumulative = Decimal(0)
    metered_line: list[Decimal | None] = []
    for month in months:
        cumulative += metered.get(month, Decimal(0))
        metered_line.append(cumulative if month <= reached else None)
    planned = [sum((planned_value(row, month_end(month)) for row in progress), Decimal(0)) for month in months]
    return ValueSeries(months, metered_line, planned)


# ---- charts: matplotlib into inline SVG ------------------------------------------------------------


@contextmanager
def chart_style(salt: str) -> Iterator[None]:
    """matplotlib's settings for one chart, and silence about fonts this machine lacks (the browser
    chooses its own). The salt keeps the SVG ids of two charts on one page apart, and stable."""
    import matplotlib

    matplotlib.use("Agg")
    font_log = logging.getLogger("matplotlib.font_manager")
    level = font_log.level
    font_log.setLevel(logging.ERROR)
    try:
        with matplotlib.rc_context({
            "svg.fonttype": "none", "svg.hashsalt": salt, "font.family": FONTS, "font.size": 9,
            "axes.spines.top": False, "axes.spines.right": False, "axes.axisbelow": True,
            "axes.grid": True, "axes.grid.axis": "y", "grid.color": "#e3e6ea",
        }), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"(?s).*[Gg]lyph.*missing from")
            yield
    finally:
        font_log.setLevel(level)


def new_figure(width: float, height: float) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure  # no pyplot: no global figure state, no GUI backend

    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.subplots()


def to_svg(figure: Figure) -> str:
    """The figure as an ``<svg>`` element to inline: without XML prolog, DOCTYPE or metadata."""
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Creator": None, "Date": None, "Format": None, "Type": None})
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


def percent_chart(progress: Sequence[Mapping[str, Any]], lang: str) -> str:
    with chart_style("percent"):
        figure, axes = new_figure(13, 4)
        codes = [row["code"] for row in progress]
        shares = [float(row["percent_complete"] or 0) for row in progress]  # floats only to draw
        colours = [STATUS_COLOURS.get(row["status"], "#888888") for row in progress]
        axes.bar(codes, shares, color=colours)
        axes.set_ylabel(label("percent_complete", lang))
        axes.set_ylim(0, max([100.0, *shares]))
        axes.set_xmargin(0.005)
        axes.tick_params(axis="x", labelrotation=90, labelsize=7)
        present = [status for status in Status if any(row["status"] == status for row in progress)]
        from matplotlib.patches import Patch

        handles = [Patch(color=STATUS_COLOURS[s], label=display("status", str(s), lang)) for s in present]
        # above the axes: the finished compounds' bars reach the top
        axes.legend(handles=handles, loc="lower right", bbox_to_anchor=(1, 1), ncols=len(present) or 1, fontsize=8,
                    frameon=False)
        return to_svg(figure)


def value_chart(series: ValueSeries, lang: str) -> str:
    with chart_style("value"):
        figure, axes = new_figure(13, 4)
        # Floats only to place points on the chart; every figure printed on the page stays a Decimal.
        in_ten_thousands = [float(value / TEN_THOUSAND) for value in series.planned]
        axes.plot(series.months, in_ten_thousands, linestyle="--", color="#888888", label=text("planned", lang))
        reached = [(m, float(v / TEN_THOUSAND)) for m, v in zip(series.months, series.metered, strict=True)
                   if v is not None]
        axes.plot([m for m, _ in reached], [v for _, v in reached], marker="o", color="#c0392b", linewidth=2,
                  label=text("metered", lang))
        if len(series.months) > 36:  # a plan of many years: a label every few months, not thousands of them
            from matplotlib.ticker import MaxNLocator

            axes.xaxis.set_major_locator(MaxNLocator(nbins=24, integer=True))
        axes.set_ylabel(text("value_axis", lang))
        axes.set_ylim(bottom=0)
        axes.yaxis.set_major_formatter("{x:,.0f}")
        axes.legend(loc="upper left", fontsize=8)
        return to_svg(figure)


def grouped_bars(salt: str, names: Sequence[str], series: Mapping[str, Sequence[float]], ylabel: str, *,
                 integers: bool = True) -> str:
    """Bars of several series side by side, one group per name, each bar labelled with its value."""
    number_format = "{:,.0f}" if integers else "{:.1f}"
    with chart_style(salt):
        figure, axes = new_figure(13, 3.6)
        width = 0.8 / max(len(series), 1)
        colours = ("#2f6fb0", "#c0392b", "#e6a23c")
        for index, (title, values) in enumerate(series.items()):
            bars = axes.bar([i + index * width for i in range(len(names))], values, width=width, label=title,
                            color=colours[index % len(colours)])
            axes.bar_label(bars, fmt=number_format, fontsize=7, padding=2)
        if integers:
            from matplotlib.ticker import MaxNLocator

            axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.set_xticks([i + width * (len(series) - 1) / 2 for i in range(len(names))], list(names))
        for tick in axes.get_xticklabels():  # long names: turned, ending under their bar
            tick.set(rotation=30, horizontalalignment="right", rotation_mode="anchor", fontsize=8)
        axes.set_ylabel(ylabel)
        if len(series) > 1:
            axes.legend(loc="upper right", fontsize=8)
        return to_svg(figure)


def quality_charts(rows: Sequence[Mapping[str, Any]], lang: str) -> dict[str, str]:
    names = [row["contractor"] for row in rows]

    def column(key: str) -> list[float]:
        return [float(row[key] or 0) for row in rows]

    count = text("count_axis", lang)
    return {
        "chart_findings": grouped_bars("findings", names, {
            label(key, lang): column(key) for key in ("findings_open", "findings_overdue")}, count),
        "chart_coverage": grouped_bars("coverage", names, {label("morning_coverage", lang): column("morning_coverage")},
                                       label("morning_coverage", lang), integers=False),
        "chart_materials": grouped_bars("materials", names, {
            label(key, lang): column(key) for key in ("samples_failed", "rejected_batches")}, count),
    }


# ---- HTML -----------------------------------------------------------------------------------------

STYLE = """
body { font-family: "Noto Sans CJK SC", "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC", sans-serif;
       margin: 24px auto; max-width: 1320px; padding: 0 16px; color: #1d2733; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { border-bottom: 2px solid #2f6fb0; padding-bottom: 4px; }
.meta { color: #5b6570; margin-top: 0; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 10px; }
.figures div { background: #f3f6fa; border-radius: 6px; padding: 8px 12px; }
.figures dt { font-size: 12px; color: #5b6570; } .figures dd { margin: 0; font-size: 20px; font-weight: 600; }
table { border-collapse: collapse; margin: 8px 0 20px; font-size: 13px; }
th, td { border: 1px solid #d5dae0; padding: 3px 8px; } th { background: #eef2f6; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.last td { background: #fdecea; } tr.last td.mark { color: #c0392b; font-weight: 700; }
.boards { display: flex; flex-wrap: wrap; gap: 0 32px; align-items: flex-start; }
figure { margin: 12px 0 24px; } figcaption { font-weight: 600; margin-bottom: 4px; }
figure svg { max-width: 100%; height: auto; }
footer { color: #5b6570; font-size: 12px; margin-top: 32px; }
"""

BOARD_CONTRACTOR_KEYS = ("rank", "contractor", "compounds", "total", *SCORE_DIMENSIONS, "movement", "last")
BOARD_COMPOUND_KEYS = ("rank", "code", "name", "contractor", "total", *SCORE_DIMENSIONS, "movement", "last")
QUALITY_KEYS = ("contractor", "morning_coverage", "findings_open", "findings_overdue", "findings_closed",
                "mean_days_to_close", "samples", "samples_failed", "rejected_batches")
COMPOUND_KEYS = ("code", "name", "district", "contractor", "status", "contract_value", "metered_value",
                 "percent_complete", "days_behind", "morning_coverage", "findings_open")


def escape(value: str) -> str:
    return html.escape(value, quote=True)


def cell(key: str, value: Any, lang: str) -> str:
    # movement None: the first scored period, nothing to move from
    shown = "—" if key == "movement" and value is None else display(key, value, lang)
    css = ' class="num"' if isinstance(value, (int, Decimal)) and not isinstance(value, bool) else ""
    if key == "last":
        css = ' class="mark"'
    return f"<td{css}>{escape(shown)}</td>"


def table(element_id: str, rows: Sequence[Mapping[str, Any]], keys: Sequence[str], lang: str) -> str:
    head = "".join(f"<th>{escape(label(key, lang))}</th>" for key in keys)
    body = "\n".join(
        f'<tr{" class=last" if row.get("last") else ""}>{"".join(cell(key, row.get(key), lang) for key in keys)}</tr>'
        for row in rows
    )
    return f'<table id="{element_id}">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>'


def figure(element_id: str, caption: str, svg: str) -> str:
    return f'<figure id="{element_id}" role="img" aria-label="{escape(caption)}">' \
           f"<figcaption>{escape(caption)}</figcaption>\n{svg}\n</figure>"


def key_figures(data: ReportData, lang: str) -> str:
    contract = sum((row["contract_value"] for row in data.progress), Decimal(0))
    metered = sum((row["metered_value"] for row in data.progress), Decimal(0))
    figures: list[tuple[str, str]] = [(label("compounds", lang), str(len(data.progress)))]
    for status in Status:
        count = sum(1 for row in data.progress if row["status"] == status)
        if count:
            figures.append((display("status", str(status), lang), str(count)))
    figures += [
        (label("contract_value", lang), display("contract_value", contract, lang)),
        (label("metered_value", lang), display("metered_value", metered, lang)),
        (text("programme_percent", lang), display("percent_complete", percent(metered, contract), lang)),
    ]
    for key in ("findings_open", "findings_overdue", "samples_failed", "rejected_batches"):
        figures.append((label(key, lang), str(sum(row[key] for row in data.quality_contractors))))
    figures.append((label("tickets_open", lang), str(data.tickets_open)))
    items = "".join(f"<div><dt>{escape(name)}</dt><dd>{escape(value)}</dd></div>" for name, value in figures)
    return f'<section id="figures"><h2>{escape(text("figures", lang))}</h2><dl class="figures">{items}</dl></section>'


def board_section(data: ReportData, lang: str) -> str:
    parts = [f'<section id="board"><h2>{escape(text("board", lang))}</h2>']
    weights = " · ".join(f"{label(d, lang)} {data.weights[d]}" for d in SCORE_DIMENSIONS)
    parts.append(f'<p class="meta">{escape(text("weights", lang))}: {escape(weights)}</p>')
    if data.period is None:
        parts.append(f'<p class="none">{escape(text("nothing_scored", lang))}</p>')
    parts.append('<div class="boards">')
    for key, rows, keys, element_id in (
        ("by_contractor", data.board_contractors, BOARD_CONTRACTOR_KEYS, "board-contractors"),
        ("by_compound", data.board_compounds, BOARD_COMPOUND_KEYS, "board-compounds"),
    ):
        parts.append(f"<div><h3>{escape(text(key, lang))}</h3>")
        if rows:
            parts.append(table(element_id, rows, keys, lang))
        elif data.period is not None:
            parts.append(f'<p class="none">{escape(text("no_scores", lang, period=data.period))}</p>')
        parts.append("</div>")
    parts.append("</div></section>")
    return "\n".join(parts)


def render(data: ReportData, lang: str) -> str:
    """The whole report as one HTML document (charts drawn here)."""
    coverage = {row["code"]: row for row in data.quality_compounds}
    compounds = [{**row, **{key: coverage.get(row["code"], {}).get(key) for key in ("morning_coverage",
                                                                                    "findings_open")}}
                 for row in data.progress]
    subtitle = text("as_of", lang, today=data.today.isoformat())
    if data.period:
        subtitle += " · " + text("board_period", lang, period=data.period)
    quality = quality_charts(data.quality_contractors, lang)
    sections = [
        f"<header><h1>{escape(text('title', lang))}</h1><p class=\"meta\">{escape(subtitle)}</p></header>",
        key_figures(data, lang),
        board_section(data, lang),
        f'<section id="progress"><h2>{escape(text("progress", lang))}</h2>',
        figure("chart-percent", text("chart_percent", lang), percent_chart(data.progress, lang)),
        figure("chart-value", text("chart_value", lang), value_chart(data.value, lang)),
        "</section>",
        f'<section id="quality"><h2>{escape(text("quality", lang))}</h2>',
        *(figure(key.replace("_", "-"), text(key, lang), svg) for key, svg in quality.items()),
        table("quality-contractors", data.quality_contractors, QUALITY_KEYS, lang),
        "</section>",
        f'<section id="compounds"><h2>{escape(text("compound_table", lang))}</h2>',
        table("compound-table", compounds, COMPOUND_KEYS, lang),
        "</section>",
        f"<footer>{escape(text('footer', lang))}</footer>",
    ]
    return (
        f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(text('title', lang))} — {escape(data.today.isoformat())}</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n" + "\n".join(sections) + "\n</body>\n</html>\n"
    )

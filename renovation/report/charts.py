"""The report's charts: matplotlib figures (no pyplot) written as inline SVG, text kept as text so that
the browser draws Chinese with its own fonts.

The only floats near money or quantities are here: matplotlib places bars and lines by float coordinates (and
sizes figures in inches). Every figure the report states in words or tables is the Decimal of the
read models (``renovation.report.html``); a chart only draws it.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from renovation.domain.values import Status
from renovation.report.data import ValueSeries
from renovation.report.labels import display, label
from renovation.report.words import text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: Browsers pick the first font they have; matplotlib measures text with the first it finds.
FONTS = ["Noto Sans CJK SC", "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC", "DejaVu Sans", "sans-serif"]
TEN_THOUSAND = Decimal(10_000)
STATUS_COLOURS = {
    Status.REGISTERED: "#b0b7c3", Status.UNDER_CONSTRUCTION: "#2f6fb0", Status.COMPLETED: "#5aa469",
    Status.ACCEPTED: "#2e8540", Status.HANDED_OVER: "#1b5e20",
}


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


def horse_chart(rows: Sequence[Mapping[str, Any]], lang: str) -> str:
    """The bureau's recorded totals beside the totals computed from the recorded facts, per contractor
    (only the contractors whose computed total its reader may see)."""
    shown = [row for row in rows if row["computed_total"] is not None]
    names = [row["contractor"] for row in shown]
    series = {
        label("recorded_total", lang): [float(row["total"]) for row in shown],
        label("computed_total", lang): [float(row["computed_total"]) for row in shown],
    }
    return grouped_bars("horse", names, series, label("total", lang), integers=False)


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

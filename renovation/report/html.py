"""The leaders' report (领导报告): the horse-race board, progress and quality of every compound, in one
self-contained HTML file for the bureau's leaders and the contractors.

``renovation.report.data.gather`` reads the caught-up read models into a ``ReportData``; ``render`` turns
that into HTML with the charts of ``renovation.report.charts`` (matplotlib, as inline SVG). Nothing is
fetched when the file is opened: no external CSS, script, font or image.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from renovation.domain.values import SCORE_DIMENSIONS, Status
from renovation.projections.common import percent
from renovation.report.charts import horse_chart, percent_chart, quality_charts, value_chart
from renovation.report.data import ReportData
from renovation.report.labels import display, label
from renovation.report.words import text

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
@media screen and (max-width: 760px) {  /* a phone (renovation serve's /report): wide tables scroll, not the page */
  .boards { display: block; } table { display: block; max-width: 100%; overflow-x: auto; }
}
"""

BESIDE_KEYS = ("computed_total", "difference", "flagged")  # the computed horse race beside the recorded board
BOARD_CONTRACTOR_KEYS = ("rank", "contractor", "compounds", "total", *SCORE_DIMENSIONS, "movement", "last",
                         *BESIDE_KEYS)
BOARD_COMPOUND_KEYS = ("rank", "code", "name", "contractor", "total", *SCORE_DIMENSIONS, "movement", "last",
                       *BESIDE_KEYS)
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
    parts.append("</div>")
    if any(row.get("computed_total") is not None for row in data.board_contractors):
        parts.append(figure("chart-horse", text("chart_horse", lang), horse_chart(data.board_contractors, lang)))
    parts.append("</section>")
    return "\n".join(parts)


def render(data: ReportData, lang: str) -> str:
    """The whole report as one HTML document (charts drawn here)."""
    coverage = {row["code"]: row for row in data.quality_compounds}
    compounds: list[dict[str, Any]] = []
    for row in data.progress:
        found = coverage.get(row["code"])
        compounds.append({**row, "morning_coverage": found["morning_coverage"] if found else None,
                          "findings_open": found["findings_open"] if found else None})
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

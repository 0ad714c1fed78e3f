"""The rectification notice (整改通知单, ``renovation finding notice``): a printable A4 page per compound
with its open findings (category, severity, what, where, raised, due, days overdue), what is asked of
the construction unit, and signature lines for the supervisor and the contractor. One self-contained
HTML file (print CSS: one compound a page); nothing is fetched when it is opened."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from renovation.report.html import escape
from renovation.report.labels import display, label

KEYS = ("finding_id", "category", "severity", "description", "location", "raised_at", "due", "days_overdue", "status",
        "photos")

STYLE = """
@page { size: A4; margin: 16mm 14mm; }
body { font-family: "Noto Sans CJK SC", "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC", sans-serif;
       color: #111; margin: 0; }
.page { break-after: page; page-break-after: always; max-width: 182mm; margin: 0 auto; padding: 8mm 0; }
.page:last-child { break-after: auto; page-break-after: auto; }
h1 { text-align: center; font-size: 22px; letter-spacing: 4px; margin: 0 0 4mm; }
.number { text-align: right; font-size: 12px; margin: 0 0 3mm; }
dl.to { display: grid; grid-template-columns: max-content 1fr; gap: 1mm 4mm; font-size: 13px; margin: 0 0 4mm; }
dl.to dt { font-weight: 700; } dl.to dd { margin: 0; }
table { border-collapse: collapse; width: 100%; font-size: 11.5px; }
th, td { border: 1px solid #444; padding: 1.5mm 2mm; vertical-align: top; }
th { background: #eee; text-align: left; }
tr { break-inside: avoid; page-break-inside: avoid; }
td.num { text-align: right; } td.late { color: #b00; font-weight: 700; }
td.photos img { max-width: 26mm; max-height: 20mm; margin: 0 1mm 1mm 0; vertical-align: top; }
p.ask { font-size: 13px; line-height: 1.6; margin: 4mm 0; }
.signatures { display: grid; grid-template-columns: 1fr 1fr; gap: 10mm; margin-top: 10mm; font-size: 13px; }
.signatures div { border-top: 1px solid #111; padding-top: 2mm; min-height: 18mm; }
@media screen { body { background: #ddd; } .page { background: #fff; padding: 12mm; margin: 6mm auto; } }
"""

WORDS = {
    "en": {"title": "Rectification notice", "number": "No. {number}", "compound": "Compound", "contractor": "To",
           "district": "District", "date": "Issued", "ask": "The findings below were raised on inspection. Rectify "
           "each by its due date and report back for re-check; a finding past its due date counts against the "
           "horse race.", "supervisor": "Supervisor (signature, date)", "signed": "Construction unit received "
           "(signature, date)", "none": "No open findings."},
    "zh": {"title": "整改通知单", "number": "编号：{number}", "compound": "小区", "contractor": "施工单位",
           "district": "所在区", "date": "签发日期", "ask": "经检查发现下列问题，请于整改期限内完成整改并书面回复，"
           "由监理复查销项；逾期未整改的，计入赛马考评。", "supervisor": "监理（签字、日期）",
           "signed": "施工单位签收（签字、日期）", "none": "无未销项问题。"},
}


def render(compounds: Sequence[Mapping[str, Any]], findings: Sequence[Mapping[str, Any]], day: date, lang: str) -> str:
    """One page per compound (``compounds``: code, name, district, contractor), its open ``findings``."""
    words = WORDS["zh" if lang == "zh" else "en"]
    pages = []
    for compound in compounds:
        own = [row for row in findings if row["code"] == compound["code"]]
        number = f"ZG-{compound['code']}-{day.strftime('%Y%m%d')}"
        head = "".join(f"<th>{escape(label(key, lang))}</th>" for key in KEYS)
        body = "\n".join("<tr>" + "".join(_cell(key, row.get(key), lang, row) for key in KEYS) + "</tr>"
                         for row in own)
        listing = (f'<table class="findings"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>'
                   if own else f'<p class="none">{escape(words["none"])}</p>')
        pages.append(
            f'<section class="page" id="notice-{escape(compound["code"])}">'
            f"<h1>{escape(words['title'])}</h1>"
            f'<p class="number">{escape(words["number"].format(number=number))}</p>'
            '<dl class="to">'
            f"<dt>{escape(words['contractor'])}</dt><dd>{escape(compound['contractor'])}</dd>"
            f"<dt>{escape(words['compound'])}</dt><dd>{escape(compound['code'])} {escape(compound['name'])}</dd>"
            f"<dt>{escape(words['district'])}</dt><dd>{escape(compound['district'])}</dd>"
            f"<dt>{escape(words['date'])}</dt><dd>{escape(day.isoformat())}</dd></dl>"
            f'<p class="ask">{escape(words["ask"])}</p>{listing}'
            f'<div class="signatures"><div>{escape(words["supervisor"])}</div><div>{escape(words["signed"])}</div>'
            "</div></section>"
        )
    return (
        f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(words['title'])} — {escape(day.isoformat())}</title>\n<style>{STYLE}</style>\n</head>\n"
        "<body>\n" + "\n".join(pages) + "\n</body>\n</html>\n"
    )


def _cell(key: str, value: Any, lang: str, row: Mapping[str, Any]) -> str:
    if key == "photos":
        images = "".join(f'<img src="{escape(uri)}" alt="">' for uri in row.get("thumbnails") or ())
        return f'<td class="photos">{images}</td>'
    css = ""
    if key == "days_overdue":
        css = ' class="num late"' if value else ' class="num"'
    return f"<td{css}>{escape(display(key, value, lang))}</td>"

"""The payment certificate (计量支付证书, ``renovation payment certificate``): a printable A4 page with
the compound, the period, the cumulative metered value and the metering entries it cites, the
retention held, what earlier certificates certified, this certificate's amount, the payments against
it, and signature lines. One self-contained HTML file; nothing is fetched when it is opened."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from renovation.report.html import escape
from renovation.report.labels import plain
from renovation.report.notice import STYLE

WORDS = {
    "en": {
        "title": "Progress payment certificate", "number": "No. {number}", "compound": "Compound",
        "contractor": "Construction unit", "district": "District", "period": "Period certified",
        "through": "Cumulative through", "date": "Issued", "correction": "Correction certificate: {reason}",
        "cumulative_metered": "Cumulative metered value", "retention": "Less retention ({percent} %)",
        "net": "Cumulative value less retention", "previously_certified": "Less previously certified",
        "amount": "Amount of this certificate", "cumulative_certified": "Cumulative certified",
        "paid": "Paid against this certificate", "outstanding": "Outstanding on this certificate",
        "entries": "Metering entries cited", "entry_id": "Entry", "entry_period": "Period", "value": "Value (yuan)",
        "payments": "Payments", "payment_id": "Payment", "on": "Date", "amount_paid": "Amount (yuan)",
        "none": "None yet.", "yuan": "yuan", "auditor": "Cost auditor (signature, date)",
        "bureau": "Bureau approval (signature, date)", "received": "Construction unit received (signature, date)",
    },
    "zh": {
        "title": "工程计量支付证书", "number": "编号：{number}", "compound": "小区", "contractor": "施工单位",
        "district": "所在区", "period": "本期计量期", "through": "累计至", "date": "签发日期",
        "correction": "更正证书：{reason}", "cumulative_metered": "累计计量产值", "retention": "扣保留金（{percent}%）",
        "net": "扣保留金后累计", "previously_certified": "减前期累计核定", "amount": "本期核定支付",
        "cumulative_certified": "累计核定支付", "paid": "本证书已支付", "outstanding": "本证书应付未付",
        "entries": "所引计量记录", "entry_id": "计量号", "entry_period": "计量期", "value": "产值（元）",
        "payments": "支付记录", "payment_id": "支付号", "on": "日期", "amount_paid": "金额（元）", "none": "暂无。",
        "yuan": "元", "auditor": "造价审计（签字、日期）", "bureau": "住建局审批（签字、日期）",
        "received": "施工单位签收（签字、日期）",
    },
}

EXTRA_STYLE = """
table.sums { width: 100%; font-size: 13px; margin: 0 0 5mm; }
table.sums td.num, table.cited td.num, table.paid td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.sums tr.amount td { font-weight: 700; font-size: 14px; background: #f4f4f4; }
h2 { font-size: 14px; margin: 5mm 0 2mm; }
p.correction { font-size: 13px; font-weight: 700; margin: 0 0 3mm; }
.signatures.three { grid-template-columns: 1fr 1fr 1fr; }
"""


def render(data: Mapping[str, Any], lang: str) -> str:
    """The certificate page of ``data`` (as ``services.boards.certificate`` gives it)."""
    words = WORDS["zh" if lang == "zh" else "en"]
    compound, certificate = data["compound"], data["certificate"]
    number = f"ZF-{compound['code']}-{certificate['certificate_id']}"
    paid = certificate["paid"]
    net = certificate["cumulative_metered"] - certificate["retained"]
    sums = [
        ("cumulative_metered", words["cumulative_metered"], certificate["cumulative_metered"]),
        ("retention", words["retention"].format(percent=plain(certificate["retention_percent"])),
         -certificate["retained"]),
        ("net", words["net"], net),
        ("previously_certified", words["previously_certified"], -certificate["previously_certified"]),
        ("amount", words["amount"], certificate["certified"]),
        ("cumulative_certified", words["cumulative_certified"], certificate["cumulative_certified"]),
        ("paid", words["paid"], paid),
        ("outstanding", words["outstanding"], certificate["outstanding"]),
    ]
    sum_rows = "\n".join(
        f'<tr class="{key}"><td>{escape(text)}</td><td class="num" id="sum-{key}">{escape(_money(value))}</td>'
        f"<td>{escape(words['yuan'])}</td></tr>" for key, text, value in sums)
    cited = "\n".join(
        f"<tr><td>{escape(row['entry_id'])}</td><td>{escape(row['period'])}</td>"
        f'<td class="num">{escape(_money(row["value"]))}</td></tr>' for row in data["entries"])
    payments = "\n".join(
        f"<tr><td>{escape(payment_id)}</td><td>{escape(on.isoformat())}</td>"
        f'<td class="num">{escape(_money(amount))}</td></tr>' for payment_id, amount, on in data["payments"])
    paid_table = (
        f'<table class="paid"><thead><tr><th>{escape(words["payment_id"])}</th><th>{escape(words["on"])}</th>'
        f'<th>{escape(words["amount_paid"])}</th></tr></thead><tbody>\n{payments}\n</tbody></table>'
        if data["payments"] else f'<p class="none">{escape(words["none"])}</p>')
    correction = (f'<p class="correction">{escape(words["correction"].format(reason=certificate.get("reason") or "-"))}'
                  "</p>" if certificate["correction"] else "")
    page = (
        f'<section class="page" id="certificate-{escape(compound["code"])}-{escape(certificate["certificate_id"])}">'
        f"<h1>{escape(words['title'])}</h1>"
        f'<p class="number">{escape(words["number"].format(number=number))}</p>'
        '<dl class="to">'
        f"<dt>{escape(words['contractor'])}</dt><dd>{escape(compound['contractor'])}</dd>"
        f"<dt>{escape(words['compound'])}</dt><dd>{escape(compound['code'])} {escape(compound['name'])}</dd>"
        f"<dt>{escape(words['district'])}</dt><dd>{escape(compound['district'])}</dd>"
        f"<dt>{escape(words['period'])}</dt><dd>{escape(certificate['period'])}</dd>"
        f"<dt>{escape(words['through'])}</dt><dd>{escape(certificate['through'])}</dd>"
        f"<dt>{escape(words['date'])}</dt><dd>{escape(certificate['on'].isoformat())}</dd></dl>"
        f"{correction}"
        f'<table class="sums"><tbody>\n{sum_rows}\n</tbody></table>'
        f"<h2>{escape(words['entries'])}</h2>"
        f'<table class="cited"><thead><tr><th>{escape(words["entry_id"])}</th><th>{escape(words["entry_period"])}'
        f'</th><th>{escape(words["value"])}</th></tr></thead><tbody>\n{cited}\n</tbody></table>'
        f"<h2>{escape(words['payments'])}</h2>{paid_table}"
        f'<div class="signatures three"><div>{escape(words["auditor"])}</div><div>{escape(words["bureau"])}</div>'
        f"<div>{escape(words['received'])}</div></div></section>"
    )
    return (
        f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(words['title'])} — {escape(number)}</title>\n<style>{STYLE}{EXTRA_STYLE}</style>\n"
        "</head>\n<body>\n" + page + "\n</body>\n</html>\n"
    )


def _money(value: Any) -> str:
    """An amount to the fen, as the tracker's money is written: ``7184.79``, ``-179.61``, ``0.00``."""
    from decimal import ROUND_HALF_UP, Decimal

    return format(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP), "f")

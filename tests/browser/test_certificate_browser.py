"""The payment certificate (计量支付证书) in real headless Chromium: no console errors, nothing fetched,
its money to the fen, the metering entries it cites, and printed to PDF on one A4 page. Without
/usr/bin/chromium the tests are skipped, except under ``CI=true``."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from cdp_client import Browser
from test_notice_browser import REGISTER
from test_report_browser import (
    chromium,  # noqa: F401 - its autouse fixture: skipped (or failed under CI) without Chromium
    console_errors,
    open_page,
    renovation,
    requests_outside,
)

BOQ = "item,description,unit,quantity,unit_price\nA1,雨污分流,m,100,123.45\nB2,外墙保温,m2,50,185\n"


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_certificate_prints_on_one_a4_page_with_its_money_to_the_fen(tmp_path: Path, lang: str) -> None:
    db = tmp_path / "pay.db"
    boq = tmp_path / "boq.csv"
    boq.write_text(BOQ, encoding="utf-8")
    renovation(db, "compound", "register", "JM", *REGISTER)
    renovation(db, "boq", "import", "JM", str(boq))
    renovation(db, "construction", "start", "JM", "--date", "2021-03-01")
    renovation(db, "meter", "JM", "--item", "A1", "--period", "2021-03", "--quantity", "60")
    renovation(db, "meter", "JM", "--item", "B2", "--period", "2021-04", "--quantity", "12.5")
    renovation(db, "payment", "certify", "JM", "--period", "2021-03")
    certified = json.loads(renovation(db, "payment", "certify", "JM", "--period", "2021-04", "--json"))
    renovation(db, "payment", "record", "JM", "C2", "--amount", "1000.5", "--date", certified["on"])
    page_file = tmp_path / "c2.html"
    renovation(db, "--lang", lang, "payment", "certificate", "JM", "C2", "--html", str(page_file))

    browser = Browser(tmp_path / "profile")
    try:
        page = open_page(browser, page_file.as_uri())
        shown = page.evaluate("""({
            pages: [...document.querySelectorAll('section.page')].map(s => s.id),
            sums: Object.fromEntries([...document.querySelectorAll('table.sums td.num')]
                                     .map(td => [td.id, td.innerText])),
            cited: [...document.querySelectorAll('table.cited tbody tr')].map(tr => tr.innerText.split('\\t')),
            paid: [...document.querySelectorAll('table.paid tbody tr')].map(tr => tr.cells[2].innerText),
            signatures: document.querySelectorAll('.signatures div').length,
            title: document.querySelector('h1').innerText,
            width: document.querySelector('section.page').getBoundingClientRect().width,
        })""")
        errors, outside = console_errors(page.events), requests_outside(page.events, page_file.as_uri())
        pdf = base64.b64decode(page.call("Page.printToPDF", preferCSSPageSize=True, printBackground=True)["data"])
    finally:
        browser.close()

    assert errors == [] and outside == []
    assert shown["pages"] == ["certificate-JM-C2"]
    assert shown["title"] == ("工程计量支付证书" if lang == "zh" else "Progress payment certificate")
    assert shown["sums"] == {
        "sum-cumulative_metered": "9719.50", "sum-retention": "-291.59", "sum-net": "9427.91",
        "sum-previously_certified": "-7184.79", "sum-amount": "2243.12", "sum-cumulative_certified": "9427.91",
        "sum-paid": "1000.50", "sum-outstanding": "1242.62",
    }
    assert certified["amount"] == shown["sums"]["sum-amount"]
    assert [row[:3] for row in shown["cited"]] == [["M1", "2021-03", "7407.00"], ["M2", "2021-04", "2312.50"]]
    assert shown["paid"] == ["1000.50"]
    assert shown["signatures"] == 3
    assert shown["width"] > 0
    assert pdf.startswith(b"%PDF")
    counts = [int(found) for found in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", pdf)]
    counts += [int(found) for found in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", pdf)]
    assert counts and max(counts) == 1, counts
    media = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    assert media and all(abs(float(w) - 595.92) < 2 and abs(float(h) - 842.88) < 2 for w, h in media), media

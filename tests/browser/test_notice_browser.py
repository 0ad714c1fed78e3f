"""The rectification notice (issue 13, item 4) in real headless Chromium: no console errors, nothing
fetched, each compound's codes and due dates, and printed to PDF one A4 page per compound. Without
/usr/bin/chromium the tests are skipped, except under ``CI=true``."""

from __future__ import annotations

import base64
import re
from pathlib import Path

from cdp_client import Browser
from test_report_browser import (
    chromium,  # noqa: F401 - its autouse fixture: skipped (or failed under CI) without Chromium
    console_errors,
    open_page,
    renovation,
    requests_outside,
)

REGISTER = ["--name", "吉明小区", "--district", "龙山区", "--contractor", "辽源建工", "--households", "320",
            "--contract-value", "1000000", "--planned-start", "2021-03-01", "--planned-finish", "2021-09-30",
            "--registered-on", "2021-01-04"]


def test_the_notice_prints_one_a4_page_per_compound(tmp_path: Path) -> None:
    db = tmp_path / "site.db"
    for code in ("JM", "LY", "XY"):
        renovation(db, "compound", "register", code, *REGISTER)
        renovation(db, "construction", "start", code, "--date", "2021-03-01")
        renovation(db, "inspect", code, "--kind", "patrol", "--at", "2021-03-02T09:00",
                   "--finding", "safety:major:脚手架未挂安全网@3号楼", "--finding", "quality:minor:墙面空鼓@5号楼")
    from PIL import Image

    photo = tmp_path / "before.jpg"
    Image.new("RGB", (640, 480), (200, 60, 40)).save(photo)
    renovation(db, "inspect", "LY", "--kind", "patrol", "--at", "2021-03-03T09:00",
               "--finding", "civilized:minor:渣土未苫盖", "--photo", str(photo))
    notice = tmp_path / "notice.html"
    renovation(db, "--lang", "zh", "--today", "2021-03-20", "finding", "notice", "--contractor", "辽源建工",
               "--html", str(notice))

    browser = Browser(tmp_path / "profile")
    try:
        page = open_page(browser, notice.as_uri())
        shown = page.evaluate("""({
            pages: [...document.querySelectorAll('section.page')].map(s => s.id),
            due: [...document.querySelectorAll('#notice-LY tbody tr')].map(tr => tr.cells[6].innerText),
            signatures: document.querySelectorAll('.signatures div').length,
            thumbnails: [...document.querySelectorAll('#notice-LY td.photos img')].map(i => i.naturalWidth),
        })""")
        errors, outside = console_errors(page.events), requests_outside(page.events, notice.as_uri())
        pdf = base64.b64decode(page.call("Page.printToPDF", preferCSSPageSize=True, printBackground=True)["data"])
    finally:
        browser.close()

    assert errors == [] and outside == []
    assert shown["pages"] == ["notice-JM", "notice-LY", "notice-XY"]
    assert shown["due"] == ["2021-03-05", "2021-03-09", "2021-03-10"]  # major: 3 days; minor: 7
    assert shown["thumbnails"] == [160]  # drawn: a 640x480 photo as a 160-pixel thumbnail
    assert shown["signatures"] == 6
    assert pdf.startswith(b"%PDF")
    counts = [int(found) for found in re.findall(rb"/Type\s*/Pages\b[^>]*?/Count\s+(\d+)", pdf)]
    counts += [int(found) for found in re.findall(rb"/Count\s+(\d+)[^>]*?/Type\s*/Pages\b", pdf)]
    assert counts and max(counts) == 3, counts

"""The morning digest's HTML page (issue 13, item 6) in real headless Chromium: no console errors,
nothing fetched from outside the file, and every section's rows with the codes and due dates that
`digest --json` gives. Without /usr/bin/chromium the tests are skipped, except under ``CI=true``."""

from __future__ import annotations

import json
from pathlib import Path

from cdp_client import Browser
from test_report_browser import (
    chromium,  # noqa: F401 - its autouse fixture: skipped (or failed under CI) without Chromium
    console_errors,
    open_page,
    renovation,
    requests_outside,
)

DAY = "2021-05-10"


def test_the_digest_page_shows_every_section_and_fetches_nothing(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    renovation(db, "demo", "--compounds", "6", "--until", DAY)
    found = json.loads(renovation(db, "--today", DAY, "digest", "--json"))["sections"]
    page_file = tmp_path / "digest.html"
    renovation(db, "--lang", "zh", "--today", DAY, "digest", "--html", str(page_file))
    assert found["overdue_findings"] and found["open_tickets"], "the demo has work to flag on this day"

    browser = Browser(tmp_path / "profile")
    try:
        page = open_page(browser, page_file.as_uri())
        shown = page.evaluate("""({
            title: document.title,
            sections: [...document.querySelectorAll('section')].map(s => s.id),
            overdue: [...document.querySelectorAll('#overdue-findings-table tbody tr')]
                .map(tr => [...tr.cells].map(td => td.innerText)),
            tickets: document.querySelectorAll('#open-tickets-table tbody tr').length,
            nothing: document.querySelectorAll('p.none').length,
        })""")
        assert console_errors(page.events) == []
        assert requests_outside(page.events, page_file.as_uri()) == []
    finally:
        browser.close()

    assert shown["title"] == f"{DAY} 待办提醒"
    assert shown["sections"] == ["overdue-findings", "no-morning-round", "pending-samples", "awaiting-resample",
                                 "open-tickets", "behind-plan", "unscored"]
    assert [(cells[1], cells[2], cells[7]) for cells in shown["overdue"]] == [
        (row["code"], row["finding_id"], row["due"]) for row in found["overdue_findings"]]
    assert shown["tickets"] == len(found["open_tickets"])
    assert shown["nothing"] == sum(1 for rows in found.values() if not rows)

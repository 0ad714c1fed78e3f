"""The leaders' report of the 53-compound demo, opened in real headless Chromium (Debian's ``chromium``
package, which this test does not install): no console errors, nothing fetched from outside the file,
both boards, the charts as inline SVG, every compound, Chinese drawn with a CJK font, and a screenshot.

Chromium is driven over the DevTools protocol (``cdp_client``: standard library only). Console errors
are the protocol's ``Runtime.consoleAPICalled`` events of type error/assert, ``Runtime.exceptionThrown``
(uncaught exceptions) and ``Log.entryAdded`` of level error (failed loads, blocked content, ...); every
request the page makes is a ``Network.requestWillBeSent`` event. A canary page checks that errors and
requests are really seen. Without /usr/bin/chromium the tests are skipped, except under ``CI=true``,
where they fail.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cdp_client import CHROMIUM, Browser, Page
from click.testing import CliRunner

from renovation.cli import cli

ENV: dict[str, str | None] = {
    "LC_ALL": None, "LC_MESSAGES": None, "LANG": "C.UTF-8", "RENOVATION_TZ": "Asia/Shanghai",
    "RENOVATION_DB": None, "RENOVATION_USER": None, "RENOVATION_TODAY": None,
}
COMPOUNDS = 53
LAST_DAY = "2021-07-31"
WIDTH = 1400
CJK = re.compile(r"[\u4e00-\u9fff]")
CJK_FONT = re.compile(r"CJK|WenQuanYi|Hei|Song|Ming|Kai|Fallback|AR PL|Source Han|PingFang|YaHei", re.IGNORECASE)


def required(what: str) -> None:
    """Skip for want of ``what`` on a developer's machine; fail under CI, where it must be present."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {what}", pytrace=False)
    pytest.skip(what)


@pytest.fixture(scope="module", autouse=True)
def chromium() -> None:
    if not CHROMIUM.exists():
        required(f"{CHROMIUM} is missing (Debian: apt-get install chromium fonts-noto-cjk)")


def renovation(db: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--db", str(db), "--user", "tester", *args], env=ENV)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.stdout


@dataclass(frozen=True)
class Programme:
    report: Path
    codes: list[str]


@pytest.fixture(scope="module")
def programme(tmp_path_factory: pytest.TempPathFactory) -> Programme:
    """The demo's 53 compounds to the end of July, built with the CLI, and its report in Chinese."""
    where = tmp_path_factory.mktemp("programme")
    db = where / "demo.db"
    renovation(db, "demo", "--compounds", str(COMPOUNDS), "--until", LAST_DAY)
    codes = [row["code"] for row in json.loads(renovation(db, "compound", "list", "--json"))]
    assert len(codes) == COMPOUNDS
    report = where / "report.html"
    renovation(db, "--lang", "zh", "--today", LAST_DAY, "report", "--html", str(report))
    return Programme(report, codes)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    started = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield started
    started.close()


def open_page(browser: Browser, url: str) -> Page:
    """A new tab on ``url``, loaded, with the console, the log and the network watched from the start."""
    page = browser.new_page()
    for domain in ("Page", "Runtime", "Log", "Network"):
        page.call(f"{domain}.enable")
    page.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=900, deviceScaleFactor=1, mobile=False)
    page.call("Page.navigate", url=url)
    page.wait_for("Page.loadEventFired")
    page.evaluate("document.readyState")  # one more round trip: events sent while loading are in
    return page


@pytest.fixture(scope="module")
def page(browser: Browser, programme: Programme) -> Iterator[Page]:
    opened = open_page(browser, programme.report.as_uri())
    yield opened
    browser.close_page(opened)


def console_errors(events: list[dict[str, Any]]) -> list[str]:
    found = []
    for event in events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            found.append(f"console.{params['type']}: {[arg.get('value') for arg in params['args']]}")
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            found.append(f"uncaught: {details.get('exception', {}).get('description') or details['text']}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            found.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")
    return found


def requests_outside(events: list[dict[str, Any]], own: str) -> list[str]:
    """URLs the page asked for, other than its own file (and inline data)."""
    urls = [event["params"]["request"]["url"] for event in events if event["method"] == "Network.requestWillBeSent"]
    return [url for url in urls if url != own and not url.startswith(("data:", "about:"))]


def test_the_report_opens_without_console_errors_and_fetches_nothing(page: Page, programme: Programme) -> None:
    assert console_errors(page.events) == []
    assert requests_outside(page.events, programme.report.as_uri()) == []
    assert page.evaluate("document.title").startswith("老旧小区改造工作报告")


def test_the_canary_shows_that_errors_and_requests_are_seen(browser: Browser, tmp_path: Path) -> None:
    canary = tmp_path / "canary.html"
    canary.write_text(
        "<!DOCTYPE html><html><body><p>canary</p>"
        '<img src="http://127.0.0.1:9/nothing.png">'  # port 9 (discard): refused at once, never the internet
        "<script>console.error('canary-console'); throw new Error('canary-uncaught');</script>"
        "</body></html>",
        encoding="utf-8",
    )

    opened = open_page(browser, canary.as_uri())
    try:
        errors = " | ".join(console_errors(opened.events))
        assert "canary-console" in errors
        assert "canary-uncaught" in errors
        assert requests_outside(opened.events, canary.as_uri()) == ["http://127.0.0.1:9/nothing.png"]
    finally:
        browser.close_page(opened)


def test_both_boards_are_shown_with_the_last_place_marked(page: Page) -> None:
    rows = page.evaluate("""({
        contractors: document.querySelectorAll('#board-contractors tbody tr').length,
        compounds: document.querySelectorAll('#board-compounds tbody tr').length,
        last: [...document.querySelectorAll('#board-contractors tr.last td.mark')].map(td => td.innerText),
        movement: (() => {
            const column = [...document.querySelectorAll('#board-compounds th')]
                .findIndex(th => th.innerText === '名次变化');
            return [...document.querySelectorAll('#board-compounds tbody tr')].map(tr => tr.cells[column].innerText);
        })(),
        shown: document.querySelector('#board-compounds').getBoundingClientRect().height,
    })""")

    assert rows["contractors"] >= 2
    assert rows["compounds"] >= 2
    assert rows["last"] == ["末位"]
    assert all(re.fullmatch(r"[↑↓]\d+|=|—", move) for move in rows["movement"]), rows["movement"]
    assert rows["shown"] > 100


def test_the_charts_are_inline_svg_drawn_on_the_page_and_nothing_points_outside(page: Page) -> None:
    found = page.evaluate(r"""({
        svgs: [...document.querySelectorAll('svg')].map(svg => {
            const box = svg.getBoundingClientRect();
            return {width: box.width, height: box.height, parent: svg.closest('figure')?.id};
        }),
        images: document.querySelectorAll('img, image, object, embed, iframe, script, link').length,
        outside: [...document.querySelectorAll('*')].flatMap(element => [...element.attributes]
            .filter(a => /(src|href)$/i.test(a.name) && /^\s*(https?:)?\/\//i.test(a.value))
            .map(a => `${element.tagName} ${a.name}=${a.value}`)),
    })""")

    charts = {svg["parent"] for svg in found["svgs"]}
    assert len(found["svgs"]) >= 4
    assert {"chart-percent", "chart-value", "chart-findings", "chart-coverage", "chart-materials"} <= charts
    assert all(svg["width"] > 300 and svg["height"] > 150 for svg in found["svgs"]), found["svgs"]
    assert found["images"] == 0
    assert found["outside"] == []


def test_every_compound_is_listed(page: Page, programme: Programme) -> None:
    listed = page.evaluate("[...document.querySelectorAll('#compound-table tbody tr')].map(r => r.cells[0].innerText)")
    chart_labels = page.evaluate("[...document.querySelectorAll('#chart-percent svg text')].map(t => t.textContent)")

    assert sorted(listed) == sorted(programme.codes)
    assert len(listed) == COMPOUNDS
    assert set(programme.codes) <= set(chart_labels)  # one bar per compound


def test_chinese_is_drawn_with_a_cjk_font_in_the_page_and_in_the_charts(page: Page) -> None:
    if shutil.which("fc-list") and not subprocess.run(["fc-list", ":lang=zh"], capture_output=True,
                                                        text=True).stdout.strip():
        required("no font for Chinese is installed (Debian: apt-get install fonts-noto-cjk)")
    page.call("DOM.enable")
    page.call("CSS.enable")
    root = page.call("DOM.getDocument", depth=-1)["root"]["nodeId"]
    heading = page.call("DOM.querySelector", nodeId=root, selector="h1")["nodeId"]
    labels = page.call("DOM.querySelectorAll", nodeId=root, selector="#chart-findings svg text")["nodeIds"]
    texts = page.evaluate("[...document.querySelectorAll('#chart-findings svg text')].map(t => t.textContent)")
    chinese_label = next(node for node, text in zip(labels, texts, strict=True) if CJK.search(text))

    for node in (heading, chinese_label):
        fonts = page.call("CSS.getPlatformFontsForNode", nodeId=node)["fonts"]
        assert fonts, node
        assert all(CJK_FONT.search(font["familyName"]) for font in fonts), fonts  # no tofu from a Latin font


def test_a_full_page_screenshot_is_a_real_picture(page: Page, tmp_path_factory: pytest.TempPathFactory) -> None:
    from PIL import Image  # Pillow comes with matplotlib

    page.call("Page.bringToFront")  # a background tab paints no frames to capture
    height = int(page.evaluate("document.documentElement.scrollHeight"))
    page.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=height, deviceScaleFactor=1, mobile=False)
    shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
    path = tmp_path_factory.mktemp("screenshot") / "report.png"
    path.write_bytes(base64.b64decode(shot))
    print(f"screenshot: {path}")

    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert path.stat().st_size > 100_000
    with Image.open(path) as picture:
        assert picture.width == WIDTH
        assert picture.height == height > 3000
        colours = picture.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 50  # text, tables and charts, not a blank page

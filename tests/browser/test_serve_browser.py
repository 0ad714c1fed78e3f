"""The web board (``renovation serve``) in real headless Chromium, as its people use it: signing in
through the form, every page in English and Chinese for the bureau and for a contractor (no console
error, nothing asked of another host, the rows ``renovation ... --json`` gives that person), what a
contractor must not see, a phone's 360 px and the meeting room's 1920 x 1080 screen, the screen
reloading itself after a write from the command line, and a visitor who has not signed in.

One demo store and one server per module (``tests.serve_support``: ``renovation serve`` as a real
subprocess), one Chromium per module (``cdp_client``); each person signed in has a browser context
of their own (their own cookies). Without /usr/bin/chromium the tests are skipped, except under
``CI=true``, where they fail.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from cdp_client import Browser, Page
from test_report_browser import (
    chromium,  # noqa: F401 - its autouse fixture: skipped (or failed under CI) without Chromium
    console_errors,
)

from tests.serve_support import Server, run_cli, serving

DAY = "2021-05-10"
OWN = "JM"  # the contractor's compound in the demo
BUREAU, SUPERVISOR, CONTRACTOR = "周科长", "张工", "李经理"
PASSWORDS = {BUREAU: "bureau-password-2021", SUPERVISOR: "supervisor-password-2021",
             CONTRACTOR: "contractor-password-2021"}
PAGES = ("/ranking", "/ranking?by=compound", "/ranking?computed=1", "/progress", "/quality",
         "/quality?by=contractor", "/digest", "/worklist", f"/compound/{OWN}", "/report")
BOARDS = ("/ranking", "/ranking?by=compound", "/progress", "/quality", "/quality?by=contractor", "/digest",
          "/worklist", f"/compound/{OWN}")
DESKTOP = {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False}
PHONE = {"width": 360, "height": 740, "deviceScaleFactor": 2, "mobile": True}
SCREEN = {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False}
CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass
class Board:
    """The demo's store as of DAY, served; ``json`` answers a CLI command as a person (kept)."""

    where: Path
    db: Path
    server: Server
    contractor: str
    other: str  # a compound of another contractor
    blind: str  # the id of a blind sample of OWN still awaiting its result
    answers: dict[tuple[str, ...], Any] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return self.server.url

    def json(self, person: str, *args: str) -> Any:
        if (person, *args) not in self.answers:
            done = run_cli(self.db, "--today", DAY, *args, "--json", cwd=self.where, user=person)
            self.answers[(person, *args)] = json.loads(done.stdout)
        return self.answers[(person, *args)]


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Board]:
    where = tmp_path_factory.mktemp("serve")
    db = where / "demo.db"
    run_cli(db, "demo", "--compounds", "6", "--until", DAY, cwd=where)
    compounds = json.loads(run_cli(db, "--today", DAY, "compound", "list", "--json", cwd=where).stdout)
    contractor = next(row["contractor"] for row in compounds if row["code"] == OWN)
    other = next(row["code"] for row in compounds if row["contractor"] != contractor)
    (where / "renovation.toml").write_text(
        "[web]\npublic_ranking = true\n[users]\n"
        f'"{BUREAU}" = {{ role = "bureau" }}\n"{SUPERVISOR}" = {{ role = "supervisor" }}\n'
        f'"{CONTRACTOR}" = {{ role = "contractor", contractor = "{contractor}" }}\n', encoding="utf-8")
    for name, password in PASSWORDS.items():
        run_cli(db, "user", "passwd", name, "--password-stdin", cwd=where, user=BUREAU, stdin=password + "\n")
    sampled = run_cli(db, "--today", DAY, "material", "sample", OWN, "--material", "防水卷材", "--batch", "B1",
                      "--regime", "blind", "--at", f"{DAY}T10:00", "--json", cwd=where, user=SUPERVISOR)
    blind = json.loads(sampled.stdout)["sample_id"]
    with serving(db, "--today", DAY, cwd=where) as server:
        yield Board(where, db, server, contractor, other, blind)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    started = Browser(tmp_path_factory.mktemp("chromium-profile"))
    yield started
    started.close()


# -- driving a tab -----------------------------------------------------------------------------------------


@contextmanager
def tab(browser: Browser, context: str, metrics: dict[str, Any] = DESKTOP) -> Iterator[Page]:
    """A tab in ``context`` (whose cookies it has), the console, the log and the network watched."""
    page = browser.new_page(context)
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            page.call(f"{domain}.enable")
        page.call("Emulation.setDeviceMetricsOverride", **metrics)
        yield page
    finally:
        browser.close_page(page)


@dataclass(frozen=True)
class Visit:
    status: int  # of the document finally shown (after redirects)
    url: str  # where the tab ended up
    events: list[dict[str, Any]]  # the events of this visit only


def landed(page: Page, since: int) -> Visit:
    events = page.events[since:]
    documents = [event["params"]["response"] for event in events if event["method"] == "Network.responseReceived"
                 and event["params"]["type"] == "Document"]
    assert documents, "no document was received"
    return Visit(int(documents[-1]["status"]), str(page.evaluate("location.href")), events)


def visit(page: Page, url: str) -> Visit:
    return landed(page, page.navigate(url))


def submit_sign_in(page: Page, name: str, password: str) -> Visit:
    """Type the name and the password into the sign-in form shown, and press its button."""
    for field_name, typed in (("name", name), ("password", password)):
        page.evaluate(f"document.querySelector('form.signin input[name={field_name}]').focus()")
        page.call("Input.insertText", text=typed)
    since = len(page.events)
    page.evaluate("document.querySelector('form.signin button[type=submit]').click()")
    page.wait_for("Page.loadEventFired", since=since)
    page.evaluate("document.readyState")
    return landed(page, since)


def outside(events: list[dict[str, Any]], origin: str) -> list[str]:
    """URLs asked for of any host but the server's own (inline data is fine)."""
    urls = [event["params"]["request"]["url"] for event in events if event["method"] == "Network.requestWillBeSent"]
    return [url for url in urls if not url.startswith((origin + "/", "data:", "about:"))]


def refused(events: list[dict[str, Any]]) -> list[str]:
    """Requests answered with an error status, or that failed (a browser logs no console error for a
    missing icon, say)."""
    urls = {}
    found = []
    for event in events:
        method, params = event["method"], event["params"]
        if method == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
        elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
            found.append(f"{params['response']['status']} {params['response']['url']}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            found.append(f"{params['errorText']} {urls.get(params['requestId'])}")
    return found


#: The page's icon fetched as the browser fetches it: its status and type (null: the page names none).
ICON = """(async () => {
    const link = document.querySelector('link[rel=icon]');
    if (!link) { return null; }
    const answer = await fetch(link.href);
    return [answer.status, answer.headers.get('content-type')];
})()"""


def with_lang(path: str, lang: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}lang={lang}"


def column(page: Page, table: str, index: int) -> list[str]:
    return list(page.evaluate(
        f"[...document.querySelectorAll('#{table} tbody tr')].map(tr => tr.cells[{index}].innerText)"))


def html(page: Page) -> str:
    return str(page.evaluate("document.documentElement.outerHTML"))


@pytest.fixture(scope="module")
def contexts(browser: Browser, board: Board) -> dict[str, str]:
    """A browser context per person, signed in through the form."""
    made = {}
    for name in (BUREAU, SUPERVISOR, CONTRACTOR):
        context = browser.new_context()
        with tab(browser, context) as page:
            page.navigate(f"{board.origin}/signin?next=%2Franking")
            shown = submit_sign_in(page, name, PASSWORDS[name])
            assert (shown.status, shown.url) == (200, f"{board.origin}/ranking"), name
        made[name] = context
    return made


# -- 1. signing in -----------------------------------------------------------------------------------------


def test_signing_in_through_the_form_lands_on_the_page_asked_for(browser: Browser, board: Board) -> None:
    with tab(browser, browser.new_context()) as page:
        asked = visit(page, f"{board.origin}/progress")
        assert asked.url == f"{board.origin}/signin?next=%2Fprogress"
        assert page.evaluate("document.querySelector('form.signin input[name=next]').value") == "/progress"

        wrong = submit_sign_in(page, BUREAU, "not-the-password")
        assert wrong.status == 401
        assert wrong.url == f"{board.origin}/signin"
        assert page.evaluate("document.getElementById('failed').innerText") == "That name and password do not match."
        assert page.evaluate("document.querySelector('form[action=\"/signout\"]')") is None
        still_out = visit(page, f"{board.origin}/progress")
        assert still_out.url == f"{board.origin}/signin?next=%2Fprogress"

        right = submit_sign_in(page, BUREAU, PASSWORDS[BUREAU])
        assert (right.status, right.url) == (200, f"{board.origin}/progress")
        assert page.evaluate("document.querySelector('.who span').innerText") == f"Signed in as {BUREAU}"
        assert column(page, "progress-table", 0) == [row["code"] for row in board.json(BUREAU, "progress")]
        assert console_errors(right.events) == []


# -- 2. every page -----------------------------------------------------------------------------------------


def check_content(page: Page, board: Board, person: str, path: str) -> None:
    """The page shows its main table or sections, with the rows the command line gives this person."""
    def names(rows: list[dict[str, Any]], key: str) -> list[str]:
        return [str(row[key]) for row in rows]

    if path == "/ranking":
        assert column(page, "ranking-table", 1) == names(board.json(person, "ranking"), "contractor")
    elif path == "/ranking?by=compound":
        assert column(page, "ranking-table", 1) == names(board.json(person, "ranking", "--by", "compound"), "code")
    elif path == "/ranking?computed=1":
        assert column(page, "ranking-table", 1) == names(board.json(person, "ranking", "--computed"), "contractor")
    elif path == "/progress":
        assert column(page, "progress-table", 0) == names(board.json(person, "progress"), "code")
    elif path == "/quality":
        assert column(page, "quality-table", 0) == names(board.json(person, "quality"), "code")
    elif path == "/quality?by=contractor":
        expected = names(board.json(person, "quality", "--by", "contractor"), "contractor")
        assert column(page, "quality-table", 0) == expected
    elif path == "/digest":
        found = board.json(person, "digest")["sections"]
        shown = page.evaluate("""Object.fromEntries([...document.querySelectorAll('main section')].map(s =>
            [s.id, s.querySelectorAll('tbody tr').length]))""")
        assert shown == {name.replace("_", "-"): len(rows) for name, rows in found.items()}
    elif path == "/worklist":
        findings = [(row["code"], row["finding_id"]) for row in board.json(person, "finding", "list", "--open")]
        samples = [(row["code"], row["sample_id"]) for row in board.json(person, "material", "list")
                   if row["result"] != "passed"]
        assert findings
        assert list(zip(column(page, "findings-table", 0), column(page, "findings-table", 1), strict=True)) == findings
        assert list(zip(column(page, "samples-table", 0), column(page, "samples-table", 1), strict=True)) == samples
    elif path == f"/compound/{OWN}":
        assert page.evaluate("document.querySelector('h1').innerText").startswith(f"{OWN} ")
        assert page.evaluate("[...document.querySelectorAll('main section')].map(s => s.id)") == [
            "schedule", "findings", "samples", "metering"]
        findings = board.json(person, "finding", "list", "--code", OWN)
        assert column(page, "findings-table", 1) == names(findings, "finding_id")
        assert page.evaluate("document.querySelectorAll('#metering-table tbody tr').length") > 0
    elif path == "/report":
        assert column(page, "compound-table", 0) == sorted(names(board.json(person, "progress"), "code"))
    else:
        raise AssertionError(f"no check for {path}")


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("person", [BUREAU, CONTRACTOR])
def test_every_page_renders_its_rows_without_errors_or_other_hosts(browser: Browser, board: Board,
                                                                    contexts: dict[str, str], person: str,
                                                                    lang: str) -> None:
    with tab(browser, contexts[person]) as page:
        for path in PAGES:
            shown = visit(page, f"{board.origin}{with_lang(path, lang)}")
            assert shown.status == 200, path
            assert console_errors(shown.events) == [], path
            assert outside(shown.events, board.origin) == [], path
            assert refused(shown.events) == [], path
            assert page.evaluate(ICON) == (None if path == "/report" else [200, "image/svg+xml"]), path
            assert page.evaluate("document.documentElement.lang") == ("zh-CN" if lang == "zh" else "en"), path
            heading = page.evaluate("document.querySelector('h1').innerText")
            assert bool(CJK.search(heading)) == (lang == "zh") or path.startswith("/compound/"), (path, heading)
            check_content(page, board, person, path)


# -- 3. what a contractor sees -----------------------------------------------------------------------------


def test_a_contractor_sees_its_own_compounds_only_and_no_pending_blind_sample(browser: Browser, board: Board,
                                                                              contexts: dict[str, str]) -> None:
    everyone = [row["code"] for row in board.json(BUREAU, "progress")]
    assert OWN in everyone and board.other in everyone and len(everyone) > 1
    with tab(browser, contexts[CONTRACTOR]) as page:
        other = visit(page, f"{board.origin}/compound/{board.other}?lang=en")
        assert other.status == 404
        assert page.evaluate("document.querySelector('h1').innerText") == "404 Not found"
        assert page.evaluate(f"fetch('/compound/{board.other}').then(r => r.status)") == 404
        assert page.evaluate(f"fetch('/compound/{OWN}').then(r => r.status)") == 200

        visit(page, f"{board.origin}/progress")
        assert column(page, "progress-table", 0) == [OWN]
        visit(page, f"{board.origin}/worklist")
        assert column(page, "findings-table", 0), "the contractor has open findings to see"
        assert set(column(page, "findings-table", 0) + column(page, "samples-table", 0)) == {OWN}

        for path in PAGES:
            visit(page, f"{board.origin}{path}")
            assert board.blind not in html(page), path

    for person in (BUREAU, SUPERVISOR):
        with tab(browser, contexts[person]) as page:
            for path in ("/worklist", f"/compound/{OWN}"):
                visit(page, f"{board.origin}{path}")
                assert board.blind in html(page), (person, path)
            visit(page, f"{board.origin}/worklist")
            assert set(column(page, "findings-table", 0)) > {OWN}, person


# -- 4. a phone, and the meeting room's screen -------------------------------------------------------------

#: The document's width against the window's, and each table's against the box it scrolls in: the web
#: board's ``.scroll`` around it, or the table itself (the report's, on a narrow screen).
WIDTHS = """(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
    tables: [...document.querySelectorAll('table')].map(table => {
        const box = table.closest('.scroll') || (getComputedStyle(table).overflowX === 'auto' ? table : null);
        return {id: table.id, width: table.scrollWidth, box: box && {
            width: box.getBoundingClientRect().width, client: box.clientWidth, scroll: box.scrollWidth,
            overflow: getComputedStyle(box).overflowX}};
    }),
}))()"""


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("person", [BUREAU, CONTRACTOR])
def test_on_a_phone_no_page_scrolls_sideways_and_wide_tables_scroll_in_their_box(
        browser: Browser, board: Board, contexts: dict[str, str], person: str, lang: str) -> None:
    wide = []
    with tab(browser, contexts[person], PHONE) as page:
        for path in PAGES:
            visit(page, f"{board.origin}{with_lang(path, lang)}")
            found = page.evaluate(WIDTHS)
            # wider content widens a phone's layout viewport itself, so both are held to the phone's width
            sideways = (path, f"{found['scroll']} px wide in a window of {found['inner']} px")
            assert found["inner"] == PHONE["width"] and found["scroll"] <= PHONE["width"], sideways
            for table in found["tables"]:
                if table["width"] > found["inner"]:
                    box = table["box"]
                    assert box is not None, (path, table["id"], "a wide table in no box of its own that scrolls")
                    assert box["width"] <= found["inner"], (path, table["id"])
                    assert box["overflow"] == "auto" and box["scroll"] > box["client"], (path, table)
                    wide.append((path, table["id"]))
    assert wide, "some table is wider than a phone (else this test shows nothing)"


def test_the_meeting_room_screen_fills_1920_by_1080_without_navigation(browser: Browser, board: Board,
                                                                       contexts: dict[str, str]) -> None:
    with tab(browser, contexts[BUREAU], SCREEN) as page:
        for path in BOARDS:
            shown = visit(page, f"{board.origin}{with_lang(path, 'zh').replace('lang=zh', 'screen=1&lang=zh')}")
            assert console_errors(shown.events) == [], path
            found = page.evaluate(WIDTHS)
            layout = page.evaluate("""({
                navigation: document.querySelectorAll('nav, header').length,
                screen: document.body.classList.contains('screen'),
                live: document.querySelectorAll('script[src="/static/live.js"]').length,
                main: document.querySelector('main').getBoundingClientRect().width,
                font: parseFloat(getComputedStyle(document.querySelector('table')).fontSize),
            })""")
            assert found["inner"] == SCREEN["width"], path
            assert found["scroll"] <= found["inner"], (path, found["scroll"])
            assert layout == {"navigation": 0, "screen": True, "live": 1, "main": SCREEN["width"], "font": 24}, path
            first = found["tables"][0]
            assert first["width"] >= SCREEN["width"] - 2 * 32 - 1, (path, first)  # as wide as the screen
            assert [table for table in found["tables"] if table["box"]["scroll"] > table["box"]["client"]] == [], path


# -- 5. a visitor who has not signed in --------------------------------------------------------------------


def test_a_visitor_sees_the_public_ranking_and_is_sent_to_sign_in_for_the_rest(browser: Browser,
                                                                               board: Board) -> None:
    with tab(browser, browser.new_context()) as page:
        shown = visit(page, f"{board.origin}/ranking")
        assert (shown.status, shown.url) == (200, f"{board.origin}/ranking")
        assert console_errors(shown.events) == []
        assert outside(shown.events, board.origin) == []
        assert column(page, "ranking-table", 1) == [row["contractor"] for row in board.json(BUREAU, "ranking")]
        assert page.evaluate("[...document.querySelectorAll('nav a')].map(a => a.getAttribute('href'))") == [
            "/ranking"]
        assert page.evaluate("document.querySelectorAll('main a[href^=\"/compound/\"]').length") == 0
        assert page.evaluate("document.querySelector('.who a[href=\"/signin\"]') !== null")

        for path in ("/progress", "/quality", "/digest", "/worklist", f"/compound/{OWN}", "/report",
                     "/ranking?computed=1"):
            sent = visit(page, f"{board.origin}{path}")
            assert (sent.status, sent.url) == (200, f"{board.origin}/signin?{urlencode({'next': path})}"), path
            assert page.evaluate("document.querySelectorAll('form.signin').length") == 1, path


# -- 6. live: the screen shows a write from the command line -----------------------------------------------

#: The worklist's open findings as shown, and whether the page is still the one the test opened.
OPEN_FINDINGS = """({
    rows: [...document.querySelectorAll('#findings-table tbody tr')].map(tr => [tr.cells[0].innerText,
                                                                                tr.cells[1].innerText]),
    heading: document.querySelector('#open-findings h2').innerText,
    opened: window.openedByTheTest === true,
})"""


def test_the_screen_shows_a_finding_recorded_on_the_command_line_within_two_seconds(
        browser: Browser, board: Board, contexts: dict[str, str]) -> None:
    with tab(browser, contexts[BUREAU], SCREEN) as page:
        since = page.navigate(f"{board.origin}/worklist?screen=1")
        page.evaluate("window.openedByTheTest = true")  # gone once the page reloads itself
        before = page.evaluate(OPEN_FINDINGS)
        assert before["opened"] and before["rows"]

        done = run_cli(board.db, "--today", DAY, "inspect", board.other, "--kind", "patrol", "--at", f"{DAY}T18:00",
                       "--finding", "quality:minor:墙面空鼓@3号楼", "--json", cwd=board.where, user=SUPERVISOR)
        written = time.monotonic()
        board.answers.clear()  # the store has moved on
        (finding,) = json.loads(done.stdout)["finding_ids"]
        while True:
            try:
                now = page.evaluate(OPEN_FINDINGS)
            except RuntimeError:  # between the page that was and the one reloaded
                now = None
            if now and [board.other, finding] in now["rows"]:
                break
            assert time.monotonic() - written < 2.0, f"{board.other} {finding} not shown within 2 s: {now}"
            time.sleep(0.05)

        assert not now["opened"], "the page reloaded itself"
        assert len(now["rows"]) == len(before["rows"]) + 1
        assert now["heading"].endswith(f"({len(now['rows'])})")
        assert console_errors(page.events[since:]) == []
        assert outside(page.events[since:], board.origin) == []

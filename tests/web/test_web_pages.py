"""What the pages show beyond who may see them: a finding's photos on its compound's page, and a
page served again from what was drawn only until the next event (a write from the command line shows
on the next request, drawn anew)."""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.serve_support import Server
from tests.web.board_support import BUREAU, DAY, ONE, SUPERVISOR, TWO, Board, board_served, demo_board, signed_in


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Board:
    return demo_board(tmp_path_factory.mktemp("pages"))


@pytest.fixture(scope="module")
def server(board: Board) -> Iterator[Server]:
    with board_served(board) as running:
        yield running


def photo(path: Path, colour: tuple[int, int, int]) -> Path:
    Image.new("RGB", (64, 48), colour).save(path, "JPEG")
    return path


def finding_ids(page: str) -> list[str]:
    return re.findall(r"<td>(F\d+)</td>", page)


def test_a_findings_photos_are_on_its_compounds_page(server: Server, board: Board) -> None:
    bureau = signed_in(server, BUREAU)
    before = bureau.get("/compound/JM").text
    assert 'class="photos"' not in before  # the demo keeps no photo
    raised = board.json("inspect", "JM", "--kind", "patrol", "--at", f"{DAY}T15:00",
                        "--finding", "safety:major:临边无防护@5号楼",
                        "--photo", str(photo(board.cwd / "raised.jpg", (200, 40, 40))), user=SUPERVISOR)
    (finding,) = raised["finding_ids"]
    board.cli("finding", "rectify", "JM", finding, "--note", "已加防护", "--at", f"{DAY}T17:00",
              "--photo", str(photo(board.cwd / "fixed.jpg", (40, 160, 40))), user=ONE)

    for who in (BUREAU, ONE):  # the contractor sees the photos of its own compound
        page = signed_in(server, who).get("/compound/JM").text
        figure = re.search(rf'<figure id="photos-{finding}">(.*?)</figure>', page, re.S)
        assert figure is not None, who
        images = re.findall(r'<img src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', figure.group(1))
        assert len(images) == 2, (who, len(images))  # raised, then rectified
        assert all(base64.b64decode(image).startswith(b"\xff\xd8") for image in images)  # JPEG thumbnails
    assert signed_in(server, TWO).get("/compound/JM").status == 404  # and another contractor none of it


def test_a_page_is_drawn_anew_once_an_event_is_recorded(server: Server, board: Board) -> None:
    bureau = signed_in(server, BUREAU)
    first = bureau.get("/worklist").text
    assert bureau.get("/worklist").text == first  # nothing recorded: the same page
    raised = board.json("inspect", "LY", "--kind", "patrol", "--at", f"{DAY}T16:00",
                        "--finding", "quality:minor:墙面空鼓@2号楼", user=SUPERVISOR)
    (finding,) = raised["finding_ids"]
    after = bureau.get("/worklist").text
    shown = re.findall(r"<tr><td><a href=\"/compound/LY\">LY</a></td><td>(F\d+)</td>", after)
    assert finding in shown and finding not in re.findall(
        r"<tr><td><a href=\"/compound/LY\">LY</a></td><td>(F\d+)</td>", first)
    # kept per person: the contractor's page of the same address is its own, not the bureau's
    mine = signed_in(server, ONE).get("/worklist").text
    assert "/compound/LY" not in mine and mine != after


def test_reports_asked_for_at_once_are_drawn_one_at_a_time_and_each_comes(server: Server) -> None:
    """While one report is drawn, another not yet drawn is a 503 with Retry-After (nobody queues holding
    a workspace); asked again, each comes, and none is ever a 500."""
    bureau = signed_in(server, BUREAU)
    periods = ["2021-02", "2021-03", "2021-04", "2021-05"]
    statuses: dict[str, tuple[int, str | None]] = {}

    def ask(period: str) -> None:
        reply = bureau.get(f"/report?period={period}")
        statuses[period] = (reply.status, reply.headers.get("retry-after"))

    threads = [threading.Thread(target=ask, args=(period,)) for period in periods]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {status for status, _wait in statuses.values()} <= {200, 503}, statuses
    assert any(status == 200 for status, _wait in statuses.values()), statuses
    assert all(wait == "2" for status, wait in statuses.values() if status == 503), statuses
    for period in periods:
        for _ in range(60):
            reply = bureau.get(f"/report?period={period}")
            if reply.status != 503:
                break
            time.sleep(0.5)
        assert reply.status == 200 and f"{period}" in reply.text, (period, reply.status)


def test_after_an_event_the_report_kept_is_served_while_it_is_drawn_again_behind_the_scenes(
        server: Server, board: Board) -> None:
    """At most once a minute, and never with a reader waiting for the charts: the boards show the event
    at once, the report within the minute."""
    bureau = signed_in(server, BUREAU)
    first = bureau.get("/report")
    assert first.status == 200
    board.json("inspect", "HH", "--kind", "patrol", "--at", f"{DAY}T17:30", "--finding", "civilized:minor:渣土@北门",
               user=SUPERVISOR)
    started = time.monotonic()
    again = bureau.get("/report")
    assert again.status == 200 and again.text == first.text  # the one kept, not drawn while waiting
    assert time.monotonic() - started < 0.5
    assert "渣土" in bureau.get("/worklist").text  # while the boards have it already

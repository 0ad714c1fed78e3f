"""Who sees what on the web board, page by page, against what the command line shows the same person:
a contractor its own compounds only (another's is a 404 exactly like a code that is not there), never a
blind sample before its result; a visitor who has not signed in nothing but the public horse-race
board, and that only where [web] public_ranking allows it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.serve_support import Server
from tests.web.board_support import (
    BUREAU,
    COMPANY,
    ONE,
    SUPERVISOR,
    TWO,
    USERS,
    Board,
    Client,
    board_served,
    codes_in,
    config_text,
    demo_board,
    signed_in,
    without_section,
)

BLIND_BATCH = "BLIND-WEB-77"
PAGES = ["/ranking", "/ranking?by=compound", "/ranking?computed=1", "/ranking?computed=1&by=compound", "/progress",
         "/quality", "/quality?by=contractor", "/worklist", "/digest", "/digest?date=2021-05-09", "/report",
         "/compound/JM", "/head", "/ranking?screen=1", "/progress?screen=1"]


@dataclass
class Scene:
    board: Board
    server: Server
    blind: str  # the id of the blind sample awaiting its result at JM (ONE's compound)
    clients: dict[str, Client]

    def page(self, name: str, path: str) -> str:
        reply = self.clients[name].get(path)
        assert reply.status == 200, (name, path, reply.status, reply.text[:300])
        return reply.text


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    board = demo_board(tmp_path_factory.mktemp("scoping"))
    sample = board.json("material", "sample", "JM", "--material", "钢筋", "--batch", BLIND_BATCH, "--regime", "blind",
                        "--at", "2021-05-09T10:00", user=SUPERVISOR)
    with board_served(board) as server:
        clients = {name: signed_in(server, name) for name in USERS}
        yield Scene(board, server, sample["sample_id"], clients)


def companies_in(page: str) -> set[str]:
    return set(re.findall(r"示例建工.公司", page))


# -- another contractor's compound ---------------------------------------------------------------------------

def shape(reply: Any) -> tuple[int, dict[str, str], bytes]:
    return reply.status, {k: v for k, v in reply.headers.items() if k not in ("date", "set-cookie")}, reply.body


@pytest.mark.parametrize("name", [ONE, TWO])
def test_another_contractors_compound_is_a_404_like_a_code_that_is_not_there(scene: Scene, name: str) -> None:
    client = scene.clients[name]
    own = scene.board.codes_of(COMPANY[name])
    assert own and all(client.get(f"/compound/{code}").status == 200 for code in own)
    missing = shape(client.get("/compound/NOPE9"))
    assert missing[0] == 404
    for code in sorted(scene.board.codes - own):
        for path in (f"/compound/{code}", f"/compound/{code.lower()}", f"/compound/{code}?lang=en"):
            assert shape(client.get(path)) == missing, (name, path)
    # the supervisor sees them all
    assert all(scene.clients[SUPERVISOR].get(f"/compound/{code}").status == 200 for code in scene.board.codes)


# -- each board, against the command line ----------------------------------------------------------------------

def cli_codes(rows: Any) -> set[str]:
    """Every compound code of a command's JSON."""
    found: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if isinstance(value.get("code"), str):
                found.add(value["code"])
            for inner in value.values():
                walk(inner)
        elif isinstance(value, list):
            for inner in value:
                walk(inner)

    walk(rows)
    return found


#: A page and the command that shows the same person the same board.
COUNTERPARTS = [
    ("/progress", ("progress",)),
    ("/quality", ("quality",)),
    ("/quality?by=contractor", ("quality", "--by", "contractor")),
    ("/ranking?computed=1", ("ranking", "--computed")),
    ("/ranking?computed=1&by=compound", ("ranking", "--computed", "--by", "compound")),
    ("/digest", ("digest",)),
]


@pytest.mark.parametrize("name", [ONE, TWO])
@pytest.mark.parametrize(("path", "command"), COUNTERPARTS, ids=[path for path, _ in COUNTERPARTS])
def test_a_board_shows_a_contractor_what_the_command_line_does(scene: Scene, name: str, path: str,
                                                                command: tuple[str, ...]) -> None:
    page = scene.page(name, path)
    rows = scene.board.json(*command, user=name)
    own = scene.board.codes_of(COMPANY[name])
    assert codes_in(page, scene.board.codes) == cli_codes(rows) & scene.board.codes <= own, (path, command)
    assert companies_in(page) <= {COMPANY[name]}, (path, companies_in(page))
    # the same page shows the supervisor others' compounds (so the checks above can fail)
    supervisors = scene.page(SUPERVISOR, path)
    assert codes_in(supervisors, scene.board.codes) - own or companies_in(supervisors) - {COMPANY[name]}


@pytest.mark.parametrize("name", [ONE, TWO])
def test_the_worklist_and_compound_page_name_no_other_compound(scene: Scene, name: str) -> None:
    own = scene.board.codes_of(COMPANY[name])
    for path in ("/worklist", *(f"/compound/{code}" for code in own)):
        page = scene.page(name, path)
        assert codes_in(page, scene.board.codes) <= own and companies_in(page) <= {COMPANY[name]}, path
    assert codes_in(scene.page(SUPERVISOR, "/worklist"), scene.board.codes) - own


@pytest.mark.parametrize("name", [ONE, TWO])
def test_the_report_is_the_command_lines_and_names_others_only_on_the_public_board(scene: Scene, name: str,
                                                                                   tmp_path: Path) -> None:
    page = scene.page(name, "/report?lang=en")
    scene.board.cli("report", "--html", str(tmp_path / "report.html"), user=name)
    assert page == (tmp_path / "report.html").read_text(encoding="utf-8")
    own = scene.board.codes_of(COMPANY[name])
    rest = without_section(page, "board")  # the horse-race board is public: everyone is on it
    assert codes_in(rest, scene.board.codes) == own and companies_in(rest) == {COMPANY[name]}
    assert codes_in(without_section(scene.page(SUPERVISOR, "/report"), "board"), scene.board.codes) - own


def distinctive_computed_totals(scene: Scene) -> dict[str, str]:
    """The recorded board's computed totals (by contractor) that no other figure on it equals."""
    rows = scene.board.json("ranking")
    figures = {str(value) for row in rows for key, value in row.items() if key != "computed_total"}
    return {row["contractor"]: row["computed_total"] for row in rows
            if row["computed_total"] and row["computed_total"] not in figures}


def test_the_recorded_board_computes_beside_a_contractors_own_totals_only(scene: Scene) -> None:
    totals = distinctive_computed_totals(scene)
    assert len(totals) >= 3, totals
    assert {total for total in totals.values() if total in scene.page(BUREAU, "/ranking")} == set(totals.values())
    for name in (ONE, TWO):
        cli = {row["contractor"]: row["computed_total"] for row in scene.board.json("ranking", user=name)}
        assert {c for c, total in cli.items() if total} == {COMPANY[name]}
        page = scene.page(name, "/ranking")
        shown = {contractor for contractor, total in totals.items() if total in page}
        assert shown <= {COMPANY[name]}, shown


# -- the blind sample ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [ONE, TWO])
def test_a_pending_blind_sample_never_shows_to_a_contractor(scene: Scene, name: str) -> None:
    for path in PAGES:
        page = scene.page(name, path) if path != "/compound/JM" or name == ONE else ""
        assert scene.blind not in page and BLIND_BATCH not in page, (name, path)
    if name == ONE:  # not even as a count: the compound page's are the command line's
        shown = json.loads(scene.board.cli("compound", "show", "JM", "--json", user=ONE).stdout)
        assert sample_counts(scene.page(ONE, "/compound/JM?lang=en")) == (
            shown["samples"], shown["samples"], shown["samples_pending"])


def sample_counts(page: str) -> tuple[int, ...]:
    """The compound page's samples: as its table's heading counts them, and its "Samples" and
    "Samples pending" fields (in English)."""
    found = (re.search(r'<section id="samples">\s*<h2>[^<(]*\((\d+)\)', page),
             re.search(r"<dt>Samples</dt><dd>(\d+)</dd>", page),
             re.search(r"<dt>Samples pending</dt><dd>(\d+)</dd>", page))
    assert all(found), found
    return tuple(int(match.group(1)) for match in found if match)


def test_the_supervisor_sees_the_pending_blind_sample(scene: Scene) -> None:
    for path in ("/worklist", "/compound/JM"):
        page = scene.page(SUPERVISOR, path)
        assert scene.blind in page and BLIND_BATCH in page, path
    supervisors = sample_counts(scene.page(SUPERVISOR, "/compound/JM?lang=en"))
    contractors = sample_counts(scene.page(ONE, "/compound/JM?lang=en"))
    assert supervisors == tuple(count + 1 for count in contractors), (supervisors, contractors)


# -- visitors who have not signed in ---------------------------------------------------------------------------

ALL_PAGES = [*PAGES, "/", "/compound/NOPE", "/compound/LY", "/ranking?by=x", "/ranking?computed=2",
             "/report?period=2021-13"]


def sent_to_sign_in(client: Client, path: str) -> bool:
    reply = client.get(path)
    if path == "/" and reply.status == 303 and reply.location == "/ranking":  # the home page is the board
        reply = client.get(reply.location)
    return reply.status == 303 and (reply.location or "").startswith("/signin?next=")


def test_without_public_ranking_every_page_sends_a_visitor_to_sign_in(scene: Scene) -> None:
    visitor = Client(scene.server)
    refused = [path for path in ALL_PAGES if not sent_to_sign_in(visitor, path)]
    assert refused == [], refused
    assert visitor.get("/signin").status == 200 and visitor.get("/static/site.css").status == 200


@pytest.fixture(scope="module")
def public(scene: Scene, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The same store served with [web] public_ranking = true."""
    folder = tmp_path_factory.mktemp("public")
    (folder / "renovation.toml").write_text(config_text(USERS, "public_ranking = true"), encoding="utf-8")
    with board_served(scene.board, cwd=folder) as server:
        yield server


def test_with_public_ranking_a_visitor_sees_the_recorded_board_and_the_head_only(scene: Scene, public: Server) -> None:
    visitor = Client(public)
    for path in ("/ranking", "/ranking?by=compound", "/ranking?period=2021-03", "/head", "/ranking?screen=1"):
        reply = visitor.get(path)
        assert reply.status == 200, (path, reply.status)
    assert re.fullmatch(r"[0-9a-f]{20}", json.loads(visitor.get("/head").body)["head"])  # a token, not a count
    board = visitor.get("/ranking").text
    assert "computed=1" not in board and 'name="computed"' not in board
    totals = distinctive_computed_totals(scene)
    assert not {total for total in totals.values() if total in board}, "a computed total shown to a visitor"
    assert 'href="/compound/' not in visitor.get("/ranking?by=compound").text
    closed = [path for path in ALL_PAGES if path.split("?")[0] not in ("/ranking", "/head", "/")
              and not sent_to_sign_in(visitor, path)]
    assert closed == [], closed
    for path in ("/ranking?computed=1", "/ranking?computed=1&by=compound", "/ranking?by=compound&computed=1&screen=1"):
        assert sent_to_sign_in(visitor, path), path

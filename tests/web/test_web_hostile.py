"""What an attacker tried against the web board and must not get: sign-ins sent all at once slipping
past the count of failures, a connection held open by a request's head that never ends (slowloris), a
page of another site reading the boards through a name pointed at this machine (DNS rebinding), the
log's size read by a visitor, a report of a period not begun."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serve_support import Server, run_cli, serving
from tests.web.board_support import BUREAU, DAY, SUPERVISOR, Board, Client, board_served, demo_board, port_of, signed_in

ATTEMPTS = 3


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Board:
    return demo_board(tmp_path_factory.mktemp("hostile"), web=f"attempts = {ATTEMPTS}\npublic_ranking = true")


@pytest.fixture(scope="module")
def server(board: Board) -> Iterator[Server]:
    with board_served(board) as running:
        yield running


def test_sign_ins_sent_all_at_once_are_counted_before_any_password_is_checked(server: Server) -> None:
    guesser = Client(server)
    statuses: list[int] = []
    lock = threading.Lock()

    def guess(n: int) -> None:
        reply = Client(server, address=guesser.address).signin(SUPERVISOR, f"guess-number-{n}")
        with lock:
            statuses.append(reply.status)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(401) <= ATTEMPTS, sorted(statuses)  # checked: no more than the limit
    assert set(statuses) <= {401, 429, 503}, sorted(statuses)
    assert Client(server, address=guesser.address).signin(SUPERVISOR).status == 429  # the guesser waits
    assert signed_in(server, SUPERVISOR).get("/progress").status == 200  # its owner, elsewhere, does not


def test_a_request_head_that_never_ends_is_cut_off(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=30) as sock:
        sock.sendall(b"GET /ranking HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        closed = False
        while time.monotonic() - started < 25:
            try:
                sock.sendall(b"X-Slow: 1\r\n")  # a header line every second, never the blank line
                time.sleep(1)
            except OSError:
                closed = True
                break
            sock.settimeout(0.01)
            try:
                if sock.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
    assert closed and time.monotonic() - started < 15  # within HEAD_SECONDS (10) and a little
    assert Client(server).get("/ranking").status == 200  # and the server answers the others


def test_visitors_see_a_token_for_the_head_of_the_log_not_its_length(server: Server, board: Board) -> None:
    visitor = Client(server)
    first = visitor.get("/head").text
    assert re.fullmatch(r'\{"head":"[0-9a-f]{20}"\}', first), first
    assert 'data-head=""' in visitor.get("/ranking").text  # only the screen's page carries it
    screen = visitor.get("/ranking?screen=1").text
    assert re.search(r'data-head="[0-9a-f]{20}"', screen) and f'data-head="{first[9:29]}"' in screen
    board.json("inspect", "JM", "--kind", "patrol", "--at", f"{DAY}T16:30", user=SUPERVISOR)
    assert visitor.get("/head").text != first  # it changes with the log


def test_a_report_of_a_period_not_begun_is_refused(server: Server) -> None:
    bureau = signed_in(server, BUREAU)
    reply = bureau.get("/report?period=2099-01")
    assert reply.status == 400 and "2099-01" in reply.text
    assert bureau.get("/report?period=2021-04").status == 200


def test_a_trailing_slash_is_not_redirected_to_the_host_the_request_names(server: Server) -> None:
    reply = Client(server).get("/ranking/", Host="evil.example")
    assert reply.status == 404 and reply.location is None


def test_without_users_only_this_machines_own_names_are_answered(tmp_path: Path) -> None:
    """DNS rebinding: a page of another site whose name points at 127.0.0.1 must not read the boards,
    which ask nobody to sign in here."""
    db = tmp_path / "demo.db"
    run_cli(db, "demo", "--compounds", "3", "--until", DAY, cwd=tmp_path)
    with serving(db, "--today", DAY, cwd=tmp_path) as server:
        port = port_of(server)
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "127.0.0.1"):
            status, _headers, _body = server.get("/progress", {"Host": host})
            assert status == 200, host
        for host in (f"attacker.example:{port}", "attacker.example", f"127.0.0.1.attacker.example:{port}"):
            status, _headers, body = server.get("/progress", {"Host": host})
            assert status == 400 and b"JM" not in body, (host, status)

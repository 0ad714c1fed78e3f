"""Signing in to ``renovation serve``, as an attacker with a browser and a real login would try it:
wrong passwords and the pause after too many, redirects off the site, forms posted from another site,
forged cookies, and sessions that must end (a new password, a person removed from [users], a name the
file does not list however the accounts' table was filled)."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import urllib.parse
from collections.abc import Iterator

import pytest

from tests.serve_support import Server, serving
from tests.web.board_support import (
    BUREAU,
    DAY,
    ONE,
    SUPERVISOR,
    TWO,
    USERS,
    Board,
    Client,
    answers,
    board_served,
    config_text,
    demo_board,
    password,
    port_of,
    signed_in,
)

ATTEMPTS = 3
#: Beside the usual four: one whose password changes, one removed from the file, one locked out.
CHANGED, REMOVED, LOCKED = "王工", "钱经理", "孙工"
PEOPLE = {**USERS, CHANGED: 'role = "supervisor"', REMOVED: 'role = "contractor", contractor = "示例建工三公司"',
          LOCKED: 'role = "auditor"'}
WEB = f"attempts = {ATTEMPTS}\nlockout_minutes = 10"


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Board:
    return demo_board(tmp_path_factory.mktemp("signin"), PEOPLE, WEB)


@pytest.fixture(scope="module")
def server(board: Board) -> Iterator[Server]:
    with board_served(board) as running:
        yield running


def anonymous(client: Client, path: str = "/progress") -> bool:
    """Whether the client is treated as somebody who has not signed in (sent to sign in)."""
    reply = client.get(path)
    assert reply.status in (200, 303), (path, reply.status, reply.text[:200])
    return reply.status == 303 and (reply.location or "").startswith("/signin?")


def test_a_wrong_password_is_401_and_an_unknown_name_looks_the_same(server: Server) -> None:
    client = Client(server)
    wrong = client.signin(SUPERVISOR, "not-the-password-at-all")
    assert wrong.status == 401 and client.cookie is None, wrong.status
    assert anonymous(client)
    unknown = Client(server).signin("nobody-at-all", "not-the-password-at-all")
    assert unknown.status == 401
    assert unknown.text == wrong.text  # which names have accounts does not show
    assert signed_in(server, SUPERVISOR).get("/progress").status == 200  # the right one still works


def test_after_attempts_failures_for_a_name_from_one_address_even_the_right_password_waits(server: Server) -> None:
    guesser = Client(server)
    for _ in range(ATTEMPTS):
        assert guesser.signin(CHANGED, "a-wrong-password").status == 401
    reply = guesser.signin(CHANGED)  # the right password, from the same address
    assert reply.status == 429, reply.status
    assert 0 < int(reply.headers["retry-after"]) <= 10 * 60, reply.headers
    assert guesser.cookie is None and anonymous(guesser)
    assert re.search(r"try again in \d+ s", reply.text), reply.text[-500:]
    # the pause is that name's from that address: another person signs in from it, and the person
    # whose name was tried signs in from their own (a stranger cannot lock them out)
    assert guesser.signin(ONE).status == 303 and not anonymous(guesser)
    assert signed_in(server, CHANGED).get("/progress").status == 200


def test_after_ten_times_attempts_failures_for_one_name_from_anywhere_it_waits(server: Server) -> None:
    for _ in range(10 * ATTEMPTS):  # each from another address: only the name counts them all
        assert Client(server).signin(LOCKED, "a-wrong-password").status == 401
    late = Client(server)
    reply = late.signin(LOCKED)  # the right password
    assert reply.status == 429, reply.status
    assert late.cookie is None and anonymous(late)
    assert late.signin(ONE).status == 303 and not anonymous(late)  # another person, the same address


def test_after_four_times_attempts_failures_from_one_address_every_name_waits(server: Server) -> None:
    address = Client(server)
    for n in range(4 * ATTEMPTS):  # a different name each time: only the address counts them all
        assert address.signin(f"guess-{n}", "a-wrong-password").status == 401
    reply = address.signin(TWO)
    assert reply.status == 429 and int(reply.headers["retry-after"]) > 0, reply.status
    assert address.cookie is None
    # a forwarded-for header does not make another address of it
    spoofed = address.post("/signin", {"name": TWO, "password": password(TWO)}, {"X-Forwarded-For": "10.1.2.3"})
    assert spoofed.status == 429 and address.cookie is None
    # the same person from another address
    assert signed_in(server, TWO).get("/progress").status == 200


NEXT = ["//evil.example", "//evil.example/ranking", "https://evil.example", "http:evil.example", "/\\evil.example",
        "/\\/evil.example", "\\\\evil.example", " //evil.example", "\t//evil.example", "/\t/evil.example",
        "///evil.example", "////evil.example", "/%2F/evil.example", "/%5Cevil.example", "javascript:alert(1)",
        "data:text/html,x", "/\r\nLocation: //evil.example", "evil.example", ""]


def off_site(location: str) -> bool:
    """Whether a browser would leave the site for this Location (it reads "\\" as "/", drops tabs and
    line breaks, and takes a scheme or a leading "//" as another site)."""
    cleaned = re.sub(r"[\t\r\n]", "", location).strip().replace("\\", "/")
    parts = urllib.parse.urlsplit(cleaned)
    return bool(parts.scheme or parts.netloc or cleaned.startswith("//") or not cleaned.startswith("/"))


@pytest.mark.parametrize("target", NEXT)
def test_a_sign_in_never_sends_the_browser_to_another_site(server: Server, target: str) -> None:
    client = Client(server)
    reply = client.signin(ONE, next=target)
    assert reply.status == 303, reply.status
    assert not off_site(reply.location or ""), (target, reply.location)
    form = client.get(f"/signin?next={urllib.parse.quote(target, safe='')}")
    value = re.search(r'name="next" value="([^"]*)"', form.text)
    assert value and not off_site(value.group(1).replace("&#34;", '"')), (target, value)


def test_a_sign_in_comes_back_to_the_page_asked_for(server: Server) -> None:
    client = Client(server)
    asked = client.get("/compound/JM?lang=en")
    assert asked.status == 303 and asked.location
    target = urllib.parse.parse_qs(urllib.parse.urlsplit(asked.location).query)["next"][0]
    assert target == "/compound/JM?lang=en"
    reply = client.signin(ONE, next=target)
    assert (reply.status, reply.location) == (303, "/compound/JM?lang=en")
    assert client.get(reply.location).status == 200


def test_a_form_posted_from_another_site_is_403(server: Server) -> None:
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{port_of(server)}.evil.example",
                   f"https://127.0.0.1:{port_of(server)}"):
        client = Client(server)
        reply = client.post("/signin", {"name": ONE, "password": password(ONE)}, {"Origin": origin})
        assert reply.status == 403 and client.cookie is None, (origin, reply.status)
    own = Client(server)
    reply = own.post("/signin", {"name": ONE, "password": password(ONE)}, {"Origin": f"http://127.0.0.1:{port_of(server)}"})
    assert reply.status == 303 and own.cookie
    # nor can another site sign a person out
    assert own.post("/signout", {}, {"Origin": "http://evil.example"}).status == 403
    assert not anonymous(own)
    out = own.post("/signout", {}, {"Origin": f"http://127.0.0.1:{port_of(server)}"})
    assert out.status == 303 and own.cookie is None and anonymous(own)


def test_the_session_cookie_is_httponly_samesite_and_signed(server: Server) -> None:
    client = Client(server)
    reply = client.signin(ONE)
    (cookie,) = [c for c in reply.cookies if c.startswith("renovation=")]
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in cookie.split(";")[1:]}
    assert "httponly" in attributes, cookie
    assert attributes.get("samesite", "").lower() in ("samesite=lax", "samesite=strict"), cookie
    assert "secure" not in attributes  # plain http here; see the HTTPS test below
    assert client.cookie and not anonymous(client)
    value = client.cookie.removeprefix("renovation=")
    data, stamp, signature = value.rsplit(".", 2)
    session = json.loads(base64.b64decode(data))
    assert set(session) == {"sid", "lang"} and len(session["sid"]) >= 32  # a random id; no name, no password
    forged = base64.b64encode(json.dumps({**session, "sid": session["sid"][:-2] + "xx"}).encode()).decode()
    for tampered in (f"{forged}.{stamp}.{signature}", f"{data}.{stamp}.{signature[:-2]}xx", data, "!!!", "",
                     f"{data}.{stamp}", "a" * 4000):
        intruder = Client(server, cookie=f"renovation={tampered}")
        assert anonymous(intruder), tampered[:60]
        assert anonymous(intruder, "/compound/LY")
    assert not anonymous(client)  # the real one still works


def test_a_copy_of_the_cookie_is_worth_nothing_after_signing_out(server: Server) -> None:
    client = signed_in(server, ONE)
    copy = Client(server, cookie=client.cookie)
    assert not anonymous(copy)
    out = client.post("/signout", {}, {"Origin": f"http://127.0.0.1:{port_of(server)}"})
    assert out.status == 303
    assert anonymous(copy) and anonymous(copy, "/compound/JM")


def test_a_new_password_ends_the_sessions_signed_in_with_the_old(server: Server, board: Board) -> None:
    phone, desk = signed_in(server, CHANGED), signed_in(server, CHANGED)
    assert not anonymous(phone) and not anonymous(desk)
    board.passwd(CHANGED, "a-brand-new-secret-2021")
    assert anonymous(phone) and anonymous(desk)
    assert Client(server).signin(CHANGED).status == 401  # the old password
    fresh = Client(server)
    assert fresh.signin(CHANGED, "a-brand-new-secret-2021").status == 303 and not anonymous(fresh)


def test_a_person_removed_from_users_is_signed_out_on_the_next_page(server: Server, board: Board) -> None:
    """renovation.toml is read anew once it changes (no restart), as the command line reads it for
    each command."""
    client = signed_in(server, REMOVED)
    assert client.get("/compound/YH").status == 200  # 示例建工三公司's
    config = board.cwd / "renovation.toml"
    kept = config.read_text(encoding="utf-8")
    try:
        config.write_text(config_text({k: v for k, v in PEOPLE.items() if k != REMOVED}, WEB), encoding="utf-8")
        assert anonymous(client) and anonymous(client, "/compound/YH")
        again = Client(server)
        assert again.signin(REMOVED).status == 401 and anonymous(again)
        assert not anonymous(signed_in(server, ONE))  # the others go on
    finally:
        config.write_text(kept, encoding="utf-8")
    assert not anonymous(signed_in(server, REMOVED))  # listed again: signs in again


def test_a_name_not_in_users_cannot_sign_in_whatever_the_accounts_table_holds(server: Server, board: Board) -> None:
    with sqlite3.connect(board.db) as connection:
        (hashed,) = connection.execute("SELECT hash FROM web_accounts WHERE name = ?", (ONE,)).fetchone()
        connection.execute("INSERT INTO web_accounts (name, hash, set_at, set_by) VALUES (?, ?, ?, ?)",
                           ("孙经理", hashed, "2021-05-10T00:00:00+00:00", BUREAU))
    client = Client(server)
    assert client.signin("孙经理", password(ONE)).status == 401 and anonymous(client)


def test_behind_an_https_proxy_the_cookie_is_secure_and_the_sites_own_form_signs_in(board: Board) -> None:
    with serving(board.db, "--today", DAY, cwd=board.cwd, env={"RENOVATION_WEB_HTTPS": "1"}) as running:
        client = Client(running)
        fields = {"name": ONE, "password": password(ONE)}
        reply = client.post("/signin", fields, {"Host": "board.example", "Origin": "https://board.example"})
        assert reply.status == 303, (reply.status, reply.text[:300])
        (cookie,) = [c for c in reply.cookies if c.startswith("renovation=")]
        assert "secure" in cookie.lower().split("; "), cookie
        assert client.get("/progress", Host="board.example").status == 200
        refused = Client(running).post("/signin", fields, {"Host": "board.example", "Origin": "https://evil.example"})
        assert refused.status == 403
        answers(running)


def test_behind_a_proxy_failed_sign_ins_count_by_each_persons_own_address(board: Board) -> None:
    """RENOVATION_WEB_PROXY names the proxy: its X-Forwarded-For is each person's address; from any other
    address the header is not believed."""
    proxy = "127.0.0.1"
    with serving(board.db, "--today", DAY, cwd=board.cwd, env={"RENOVATION_WEB_PROXY": proxy}) as running:
        via_proxy = Client(running, address=proxy)
        guesser = {"X-Forwarded-For": "203.0.113.7"}
        for _ in range(ATTEMPTS):
            assert via_proxy.post("/signin", {"name": SUPERVISOR, "password": "a-wrong-one"}, guesser).status == 401
        right = {"name": SUPERVISOR, "password": password(SUPERVISOR)}
        assert via_proxy.post("/signin", right, guesser).status == 429  # the guesser waits
        owner = Client(running, address=proxy)
        assert owner.post("/signin", right, {"X-Forwarded-For": "198.51.100.4"}).status == 303  # its owner does not
        # not from the proxy: the header is the client's own claim, and the client's address counts
        direct = Client(running)
        for n in range(ATTEMPTS):
            claim = {"X-Forwarded-For": f"192.0.2.{n}"}
            assert direct.post("/signin", {"name": SUPERVISOR, "password": "a-wrong-one"}, claim).status == 401
        assert direct.post("/signin", right, {"X-Forwarded-For": "192.0.2.200"}).status == 429
        answers(running)


def test_a_renovation_toml_broken_while_serving_is_a_503_saying_so_and_no_traceback(
        server: Server, board: Board) -> None:
    client = signed_in(server, ONE)
    config = board.cwd / "renovation.toml"
    kept = config.read_text(encoding="utf-8")
    try:
        config.write_text(kept + "\ngarbage = = [\n", encoding="utf-8")
        for path in ("/progress", "/ranking", "/compound/JM"):
            reply = client.get(path)
            assert reply.status == 503 and reply.headers.get("retry-after") == "5", (path, reply.status)
            assert "renovation.toml cannot answer now" in reply.text
        assert Client(server).signin(TWO).status == 503
    finally:
        config.write_text(kept, encoding="utf-8")
    assert client.get("/progress").status == 200  # mended: the same sign-in goes on
    assert "Traceback" not in server.log()

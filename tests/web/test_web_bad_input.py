"""A careless (or hostile) client of ``renovation serve``: odd codes, odd queries, huge headers and
bodies, wrong methods. Each gets a 4xx, never a 500, and the server goes on answering; every response
carries the security headers.

One demo store and one server for the module; the people sign in as a browser would (``Client``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.serve_support import Server
from tests.web.board_support import (
    BUREAU,
    FORM,
    Client,
    answers,
    board_served,
    demo_board,
    raw,
    signed_in,
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    board = demo_board(tmp_path_factory.mktemp("bad-input"))
    with board_served(board) as running:  # and no request was a fault of the server
        yield running


@pytest.fixture(scope="module")
def bureau(server: Server) -> Client:
    """The bureau sees every compound: whatever is refused here is refused for the input itself."""
    return signed_in(server, BUREAU)


UNKNOWN_CODES = [
    "/compound/NOPE",
    "/compound/%00",
    "/compound/" + "A" * 5000,
    "/compound/%E5%90%89%E6%98%8E",  # 吉明, the name, not the code
    "/compound/%F0%9F%8F%A0",
    "/compound/%ff%fe",  # not UTF-8
    "/compound/%zz",  # not percent-encoding
    "/compound/JM%2F..%2F..%2Fetc%2Fpasswd",
    "/compound/JM%00",
    "/compound/J%0AM",
]


@pytest.mark.parametrize("path", UNKNOWN_CODES)
def test_a_code_no_compound_has_is_404(bureau: Client, path: str) -> None:
    reply = bureau.get(path)
    assert reply.status == 404, (path, reply.status, reply.text[:300])


#: (path, the statuses it may get): a value the page cannot use is a 400; what it ignores, a 200.
QUERIES = [
    ("/ranking?period=9999-99", {400}),
    ("/ranking?period=2021-13", {400}),
    ("/ranking?period=%00", {400}),
    ("/ranking?period=2030-01", {400}),  # not begun yet: refused by the domain, said as a 400
    ("/ranking?period=%zz", {400}),
    ("/ranking?period=%E0%A4%A", {400}),
    ("/ranking?by=x", {400}),
    ("/ranking?computed=2", {400}),
    ("/ranking?computed=%00", {400}),
    ("/ranking?by=compound&by=x", {400}),
    ("/ranking?by=x&by=compound", {200, 400}),  # repeated: one of them is taken
    ("/ranking?period=2021-04&period=2021-13", {200, 400}),
    ("/ranking?" + "&".join(f"k{i}=" + "v" * 90 for i in range(100)), {200}),  # ~10 KB of keys it ignores
    ("/ranking?%zz=1&%=2", {200}),
    ("/ranking?lang=xx", {200}),
    ("/ranking?lang=%00&screen=%ff", {200}),
    ("/quality?by=x", {400}),
    ("/quality?by=%00", {400}),
    ("/report?period=2021-13", {400}),
    ("/report?period=%00", {400}),
    ("/digest?date=abc", {400}),
    ("/digest?date=2021-02-30", {400}),
    ("/digest?date=%00", {400}),
    ("/digest?date=2030-01-01", {400}),  # after today
    ("/digest?date=99999-01-01", {400}),
    ("/digest?date=2021-05-09&date=abc", {400}),
]


@pytest.mark.parametrize(("path", "statuses"), QUERIES, ids=[path[:50] for path, _ in QUERIES])
def test_an_odd_query_is_a_4xx_never_a_500(bureau: Client, path: str, statuses: set[int]) -> None:
    reply = bureau.get(path)
    assert reply.status in statuses, (path, reply.status, reply.text[:300])


def test_a_good_query_still_answers(bureau: Client) -> None:
    for path in ("/ranking?period=2021-04&by=compound&computed=1", "/digest?date=2021-05-09",
                 "/quality?by=contractor", "/report?period=2021-04", "/compound/JM"):
        reply = bureau.get(path)
        assert reply.status == 200, (path, reply.status)


def test_what_a_query_says_is_shown_escaped(bureau: Client) -> None:
    attack = "%3Cscript%3Ealert(1)%3C%2Fscript%3E"
    for path in (f"/digest?date={attack}", f"/ranking?period={attack}", f"/ranking?lang=zh&x=%22%3E{attack}",
                 f"/signin?next=/%22%3E{attack}", f"/compound/{attack}"):
        reply = bureau.get(path)
        assert reply.status < 500 and b"<script>alert" not in reply.body, (path, reply.status)


def test_a_1_mb_header_is_refused_and_the_server_goes_on(server: Server) -> None:
    answer = raw(server, b"GET /ranking HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Big: "
                 + b"a" * (1 << 20) + b"\r\n\r\n")
    assert answer == b"" or answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 413", b"HTTP/1.1 431")), answer[:200]
    answers(server)


def test_a_100_kb_request_line_is_no_fault_and_the_server_goes_on(server: Server) -> None:
    """Under the server's 64 KiB limit of what it buffers, or over it, depending on how the bytes
    arrive: refused, or sent to sign in as any address is; never a 500."""
    answer = raw(server, b"GET /compound/" + b"A" * 100_000
                 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert answer == b"" or answer.startswith((b"HTTP/1.1 303", b"HTTP/1.1 4")), answer[:200]
    answers(server)


def test_bytes_that_are_not_http_are_refused(server: Server) -> None:
    for garbage in (b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 64,  # a TLS hello
                    b"GET /ranking HTTP/9.9\r\n\r\n", b"GET\x00/ HTTP/1.1\r\n\r\n",
                    b"GET /ranking HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
                    b"GET /ranking HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
        answer = raw(server, garbage)
        assert b" 500 " not in answer[:20], answer[:200]
    answers(server)


def test_an_unknown_path_is_404_and_a_wrong_method_405(bureau: Client) -> None:
    for path in ("/admin", "/.env", "/renovation.toml", "/compound", "/static/../app.py",
                 "/static/%2e%2e/app.py", "/static/%2e%2e/%2e%2e/renovation.toml", "/static/nope.js"):
        reply = bureau.get(path)
        assert reply.status == 404, (path, reply.status)
    for method, path in (("POST", "/ranking"), ("PUT", "/signin"), ("DELETE", "/compound/JM"), ("GET", "/signout"),
                         ("PATCH", "/head"), ("POST", "/report"), ("DELETE", "/signin")):
        reply = bureau.request(method, path, b"x=1")
        assert reply.status == 405, (method, path, reply.status)


def test_a_sign_in_form_that_is_too_big_odd_or_incomplete_is_a_4xx(server: Server) -> None:
    cases: list[tuple[bytes | str, dict[str, str], int]] = [
        ("name=x&password=" + "p" * 100_000, {}, 413),
        (b"name=\xff\xfe&password=\xc3\x28", {}, 400),  # not UTF-8
        ("&".join(f"f{i}=1" for i in range(50)), {}, 400),  # more fields than a sign-in has
        ("", {}, 401),
        ("name=" + BUREAU, {}, 401),  # no password
        ("password=x", {}, 401),  # no name
        ('{"name": "x", "password": "y"}', {"Content-Type": "application/json"}, 401),
        ("name=%00&password=%00", {}, 401),
        ("name=%zz&password=%", {}, 401),
    ]
    for body, headers, status in cases:
        reply = Client(server).post("/signin", body, headers)
        assert reply.status == status, (str(body)[:60], reply.status, reply.text[:200])
        assert not reply.cookies, reply.cookies  # nobody signed in
    # the same 100 KB in chunks (no Content-Length): refused as it comes
    chunked = Client(server).request("POST", "/signin", iter([b"name=x&password=", *[b"p" * 8192] * 13]), FORM)
    assert chunked.status == 413, chunked.status
    answers(server)


# -- security headers ----------------------------------------------------------------------------------------

def assert_secured(reply_headers: dict[str, str], what: str) -> None:
    policy = reply_headers.get("content-security-policy", "")
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, (what, policy)
    assert reply_headers.get("x-frame-options") == "DENY", what
    assert reply_headers.get("x-content-type-options") == "nosniff", what
    assert reply_headers.get("cache-control") == "no-store", what
    assert reply_headers.get("referrer-policy") == "same-origin", what  # forms carry their Origin


def test_every_response_carries_the_security_headers(server: Server, bureau: Client) -> None:
    for path in ("/ranking", "/ranking?by=compound&computed=1", "/progress", "/quality", "/digest", "/worklist",
                 "/compound/JM", "/head", "/report", "/signin", "/static/site.css", "/static/live.js", "/",
                 "/ranking?screen=1", "/compound/NOPE", "/nope", "/ranking?by=x"):
        reply = bureau.get(path)
        assert reply.status in (200, 303, 400, 404), (path, reply.status)
        assert_secured(reply.headers, path)
    anonymous = Client(server)
    for method, path, body in (("GET", "/progress", None), ("POST", "/ranking", b""), ("GET", "/signin", None),
                               ("POST", "/signin", b"name=x&password=y"),
                               ("POST", "/signin", b"p=" + b"x" * 10_000), ("POST", "/signout", b"")):
        reply = anonymous.request(method, path, body, {"Content-Type": "application/x-www-form-urlencoded"})
        assert_secured(reply.headers, f"{method} {path} {reply.status}")


def test_the_pages_allow_only_their_own_scripts_and_styles(bureau: Client) -> None:
    policy = bureau.get("/ranking").headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'", policy
    assert "unsafe" not in policy and directives["base-uri"] == "'none'", policy


def test_the_report_has_a_policy_of_its_own_without_any_script(bureau: Client) -> None:
    reply = bureau.get("/report")
    assert reply.status == 200
    policy = reply.headers["content-security-policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    # inline style and data: images (its SVG charts), nothing else; no script at all
    assert directives == {"default-src": "'none'", "style-src": "'unsafe-inline'", "img-src": "data:",
                          "frame-ancestors": "'none'", "base-uri": "'none'", "form-action": "'none'"}, policy
    assert b"<script" not in reply.body.lower()
    assert_secured(reply.headers, "/report")


def test_the_server_answers_after_all_that(server: Server) -> None:
    answers(server)

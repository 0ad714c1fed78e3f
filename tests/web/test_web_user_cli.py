"""``renovation user passwd`` and ``renovation serve`` refusing what they must, each in one line with the
usual exit code (1: not allowed; 2: asked wrongly) and nothing written; and the password kept only as
an argon2 hash."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.serve_support import CLI, environment, free_port
from tests.web.board_support import BUREAU, ONE, SUPERVISOR, TWO, USERS, Board, accounts, demo_board

LONG_NAME = "administrator01"


@pytest.fixture(scope="module")
def board(tmp_path_factory: pytest.TempPathFactory) -> Board:
    return demo_board(tmp_path_factory.mktemp("user-cli"), {**USERS, LONG_NAME: 'role = "supervisor"'})


def refused(board: Board, name: str, stdin: str, *, user: str = BUREAU, code: int, says: str,
            cwd: Path | None = None) -> None:
    before = accounts(board.db)
    options = ["--db", board.db, "--user", user, "--lang", "en", "user", "passwd", name, "--password-stdin"]
    done = subprocess.run([*CLI, *options], cwd=cwd or board.cwd, input=stdin, text=True, capture_output=True,
                          env=environment(), timeout=120)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == code, (name, user, done.returncode, done.stderr)
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert done.stdout == ""
    assert accounts(board.db) == before  # nothing written


@pytest.mark.parametrize("user", [SUPERVISOR, ONE, TWO, "nobody", ""])
def test_only_the_bureau_sets_a_password(board: Board, user: str) -> None:
    refused(board, ONE, "a-good-long-password\n", user=user, code=1 if user else 2, says="")
    refused(board, user or ONE, "a-good-long-password\n", user=user, code=1 if user else 2, says="")


def test_the_name_must_be_in_users(board: Board) -> None:
    refused(board, "钱经理", "a-good-long-password\n", code=2, says="not in [users]")
    refused(board, f"{ONE}x", "a-good-long-password\n", code=2, says="not in [users]")


@pytest.mark.parametrize(("stdin", "says"), [
    ("short\n", "at least 10 characters"),
    ("x" * 257 + "\n", "at most 256 characters"),
    ("tab\tinside-it\n", "control characters"),
    ("zero\u200bwidth-space\n", "control characters"),
    ("Administrator01\n", "not the person's name"),
    ("  administrator01  \n", "not the person's name"),
    ("\n", "at least 10 characters"),
    ("", "standard input is empty"),
    (" " * 12 + "\n", "at least 5 different characters"),
    ("abababababab\n", "at least 5 different characters"),
])
def test_a_password_against_the_rules_is_refused_in_one_line(board: Board, stdin: str, says: str) -> None:
    refused(board, LONG_NAME, stdin, code=2, says=says)


def test_a_password_that_is_not_utf_8_is_refused(board: Board) -> None:
    before = accounts(board.db)
    done = subprocess.run([*CLI, "--db", board.db, "--user", BUREAU, "user", "passwd", ONE, "--password-stdin"],
                          cwd=board.cwd, input=b"\xff\xfe-not-utf-8-at-all\n", capture_output=True,
                          env=environment(), timeout=120)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert b"Traceback" not in done.stderr and accounts(board.db) == before


def test_without_users_nobody_has_a_password(board: Board, tmp_path: Path) -> None:
    refused(board, ONE, "a-good-long-password\n", code=2, says="lists none", cwd=tmp_path)


def test_the_bureau_sets_one_kept_only_as_its_argon2_hash(board: Board) -> None:
    before = dict(accounts(board.db))
    secret = "correct horse battery staple"
    done = board.cli("user", "passwd", TWO, "--password-stdin", stdin=secret + "\r\n")
    assert TWO in done.stdout and "contractor" in done.stdout
    after = dict(accounts(board.db))
    assert after[TWO] != before[TWO] and after[TWO].startswith("$argon2id$")
    assert {k: v for k, v in after.items() if k != TWO} == {k: v for k, v in before.items() if k != TWO}
    from argon2 import PasswordHasher

    assert PasswordHasher().verify(after[TWO], secret)  # the line without its \r\n
    for path in Path(board.db).parent.glob(Path(board.db).name + "*"):
        assert secret.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1"])
def test_serve_without_users_listens_on_this_machine_only(tmp_path: Path, board: Board, host: str) -> None:
    port = free_port()
    done = subprocess.run([*CLI, "--db", board.db, "serve", "--host", host, "--port", str(port)], cwd=tmp_path,
                          text=True, capture_output=True, env=environment(), timeout=120)
    assert done.returncode == 2, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "[users]" in lines[0] and "Traceback" not in done.stderr, done.stderr
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass  # nothing listens


def serve_once(board: Board, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
               seconds: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "--db", board.db, "--today", "2021-05-10", "serve", *args], cwd=cwd or board.cwd,
                          text=True, capture_output=True, env=environment(**(env or {})), timeout=seconds)


def test_a_port_in_use_is_one_line_and_nothing_says_it_is_serving(board: Board) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = serve_once(board, "--port", str(port))
    assert done.returncode == 1, (done.returncode, done.stderr)
    lines = [line for line in done.stderr.strip().splitlines() if not line.startswith("note: ")]
    assert lines == [f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"], done.stderr


@pytest.mark.parametrize("value", ["abc", "0", "99", "-1"])
def test_a_bad_number_of_workspaces_is_one_line(board: Board, value: str) -> None:
    done = serve_once(board, "--port", str(free_port()), env={"RENOVATION_WEB_WORKSPACES": value})
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert done.stderr.strip().splitlines()[-1].startswith("Error: RENOVATION_WEB_WORKSPACES="), done.stderr
    assert "Traceback" not in done.stderr


def test_port_0_says_the_port_it_listens_on_and_notes_what_would_leave_a_board_empty(board: Board) -> None:
    config = board.cwd / "notes.toml"
    config.write_text('[users]\n"周科长" = { role = "bureau" }\n"无密码" = { role = "supervisor" }\n'
                      '"错公司" = { role = "contractor", contractor = "示例建工一 公司" }\n', encoding="utf-8")
    process = subprocess.Popen([*CLI, "--db", board.db, "--config", str(config), "--today", "2021-05-10", "serve",
                                "--port", "0"], cwd=board.cwd, text=True, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=environment())
    try:
        said: list[str] = []
        while not said or not said[-1].startswith("serving "):
            line = process.stderr.readline()  # type: ignore[union-attr]
            assert line, (said, process.poll())
            said.append(line.strip())
        assert said[:-1] == [
            "note: no web password yet for 无密码, 错公司 (`renovation user passwd NAME` sets one)",
            "note: 错公司's company in [users], '示例建工一 公司', builds no compound of this store: their boards "
            "will be empty"], said
        port = int(said[-1].split("http://127.0.0.1:")[1].split("/")[0])
        assert port > 0
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass  # it listens where it says
    finally:
        process.terminate()
        process.wait(timeout=30)

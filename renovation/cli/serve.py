"""``renovation serve``: the boards on the web (``renovation.web``)."""

from __future__ import annotations

import os
import socket

import click

from renovation.cli import Session, pass_session

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="The port.")
@pass_session
def serve(session: Session, host: str, port: int) -> None:
    """The boards on the web, read-only: the horse race, progress, quality, the digest, each compound's
    page, the worklist and the report, for phones and for the bureau's screen (add ?screen=1 to a
    board's address: large type, and it reloads itself within a second or two of a new event).

    People of [users] in renovation.toml sign in with the password `renovation user passwd` set, and
    see what the command line shows them: a contractor its own compounds only. A visitor who has not
    signed in sees the horse-race board if [web] public_ranking = true, and nothing else. Without
    [users] nobody signs in and everything is shown, so it listens on this machine only. An edit of
    [users] applies from the next request (a person removed is signed out); [web] is read at start.

    Every page catches the read models up when it is asked for, so a write made from the command line
    shows on the next request. Sign-ins are kept in memory: signing out ends one, and a restart ends
    them all. Behind a reverse proxy (which passes the Host header on), set RENOVATION_WEB_PROXY to the
    proxy's address (e.g. 127.0.0.1) so that each person's own address, from its X-Forwarded-For, is
    what failed sign-ins are counted by, and behind HTTPS RENOVATION_WEB_HTTPS=1 so the session cookie
    is sent over HTTPS only. On PostgreSQL after `db roles --apply`, run it under the projector's login.

    \b
    Examples:
      renovation serve
      renovation --today 2021-07-31 serve --port 8080
      renovation --db postgresql://renovation_projector@db/city serve --host 0.0.0.0
    """
    import logging
    from pathlib import Path

    from renovation.services.config import DEFAULT_FILE
    from renovation.services.errors import BadRequest
    from renovation.web.app import Attempts, Site, Workspaces, create_app

    config = session.config  # a bad renovation.toml: one line, before listening
    access = config.access()
    source = config.source or "renovation.toml"
    if access.open and host not in LOOPBACK:
        raise BadRequest(f"--host {host}: without [users] in {source} nobody signs in and every board is "
                         "shown, so the web board listens on this machine only (127.0.0.1); list the people "
                         "in [users] and set their passwords (`renovation user passwd`) to serve others")
    workspaces = _number("RENOVATION_WEB_WORKSPACES", 4, 1, 32)
    proxy = os.environ.get("RENOVATION_WEB_PROXY") or None
    session.workspace.read_models()  # the store is there and its boards are caught up before the first page
    today = session.today() if session.today_given else None
    from renovation.services.accounts import unready

    for note in unready(session.workspace):  # what would make a person's board empty, said before it is
        click.echo(f"note: {note}", err=True)
    listening = _listen(host, port)  # a port in use: one line, before anything says it is serving

    from renovation.services.workspace import Workspace

    def make() -> Workspace:
        ws = Workspace(session.db, session.workspace.config_path)
        ws.creates = False
        ws.app  # noqa: B018 - opens the store: sign-in and the log's head read the backend before any use case
        return ws

    site = Site(
        workspaces=Workspaces(make, size=workspaces,
                              config=Path(session.workspace.config_path or DEFAULT_FILE)),
        today=(lambda _ws: today) if today is not None else (lambda ws: ws.app.clock().date()),
        lang=session.lang, open_access=access.open, local_user=session.user,
        public_ranking=config.web.public_ranking, session_seconds=config.web.session_hours * 3600,
        attempts=Attempts(config.web.attempts, config.web.lockout_minutes * 60.0),
    )
    app = create_app(site, https_only=os.environ.get("RENOVATION_WEB_HTTPS") == "1")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    logging.getLogger("renovation.web").setLevel(logging.INFO)
    bound = listening.getsockname()[1]
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    where = f"[{shown}]" if ":" in shown else shown
    click.echo(f"serving {session.workspace.describe()} at http://{where}:{bound}/ (Ctrl-C stops it)", err=True)
    from renovation.web.server import run

    # The board's requests each take a workspace of their own (closed when the server stops); this one's
    # work is done. Closed now: stopped by a signal, the server ends the process with it once it has shut
    # down, and a connection still open then leaves the store's write-ahead log beside it.
    session.workspace.close()
    try:
        run(app, listening, proxy)
    except KeyboardInterrupt:  # Ctrl-C, which the server hands on once it has shut down: how it is stopped
        return


def _number(name: str, default: int, least: int, most: int) -> int:
    """A whole number from the environment, or a one-line error."""
    from renovation.services.errors import BadRequest

    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not least <= int(raw) <= most:
        raise BadRequest(f"{name}={raw[:20]!r}: a whole number from {least} to {most}")
    return int(raw)


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound now: an address in use or not this machine's is one line (exit 1)."""
    from renovation.services.errors import Refused

    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise Refused(f"--host {host}: {error.strerror}") from None
    family, kind, protocol, _name, address = found[0]
    listening = socket.socket(family, kind, protocol)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind(address)
        listening.listen(2048)
    except OSError as error:
        listening.close()
        raise Refused(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    listening.set_inheritable(True)
    return listening


COMMANDS = [serve]

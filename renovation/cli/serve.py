"""``renovation serve``: the boards on the web (``renovation.web``)."""

from __future__ import annotations

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
    them all. Behind HTTPS (a reverse proxy that passes the Host header on), set
    RENOVATION_WEB_HTTPS=1 so the session cookie is sent over HTTPS only. On PostgreSQL after `db roles
    --apply`, run it under the projector's login.

    \b
    Examples:
      renovation serve
      renovation --today 2021-07-31 serve --port 8080
      renovation --db postgresql://renovation_projector@db/city serve --host 0.0.0.0
    """
    import logging
    import os
    from pathlib import Path

    import uvicorn

    from renovation.services.config import DEFAULT_FILE
    from renovation.services.errors import BadRequest
    from renovation.web.app import Attempts, Site, Workspaces, create_app

    config = session.config  # a bad renovation.toml: one line, before listening
    access = config.access()
    if access.open and host not in LOOPBACK:
        raise BadRequest(f"--host {host}: without [users] in renovation.toml nobody signs in and every board is "
                         "shown, so the web board listens on this machine only (127.0.0.1); list the people "
                         "in [users] and set their passwords (`renovation user passwd`) to serve others")
    session.workspace.read_models()  # the store is there and its boards are caught up before the first page
    today = session.today() if session._today is not None else None

    from renovation.services.workspace import Workspace

    def make() -> Workspace:
        ws = Workspace(session.db, session.workspace.config_path)
        ws.creates = False
        ws.app  # noqa: B018 - opens the store: sign-in and the log's head read the backend before any use case
        return ws

    site = Site(
        workspaces=Workspaces(make, size=int(os.environ.get("RENOVATION_WEB_WORKSPACES", "4")),
                              config=Path(session.workspace.config_path or DEFAULT_FILE)),
        today=(lambda _ws: today) if today is not None else (lambda ws: ws.app.clock().date()),
        lang=session.lang, open_access=access.open, local_user=session.user,
        public_ranking=config.web.public_ranking, session_seconds=config.web.session_hours * 3600,
        attempts=Attempts(config.web.attempts, config.web.lockout_minutes * 60.0),
    )
    app = create_app(site, https_only=os.environ.get("RENOVATION_WEB_HTTPS") == "1")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    click.echo(f"serving {session.workspace.describe()} at http://{host}:{port}/ (Ctrl-C stops it)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, server_header=False,
                proxy_headers=False, h11_max_incomplete_event_size=64 * 1024)


COMMANDS = [serve]

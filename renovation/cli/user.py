"""``renovation user``: the people's accounts of the web board (``renovation serve``)."""

from __future__ import annotations

import sys

import click

from renovation.cli import Session, ZhHelp, pass_session


@click.group(cls=ZhHelp)
def user() -> None:
    """The web board's sign-in accounts of the people of [users] in renovation.toml.

    \b
    Example:
      renovation --user 周科长 user passwd 李经理
    """


@user.command("passwd")
@click.argument("name")
@click.option("--password-stdin", "from_stdin", is_flag=True,
              help="Read the password from the first line of standard input (for scripts), not a prompt.")
@pass_session
def passwd(session: Session, name: str, from_stdin: bool) -> None:
    """Set NAME's password for signing in to `renovation serve` (the bureau sets them). NAME must be
    in [users]; the password has at least 10 characters and is kept only as its argon2 hash, in the
    store. Signing in then gives NAME's role and nothing more: a contractor sees its own compounds.

    \b
    Examples:
      renovation --user 周科长 user passwd 李经理
      printf '%s\\n' "$PASSWORD" | renovation --user 周科长 user passwd 李经理 --password-stdin
    """
    from renovation.cli import checked_user
    from renovation.services import accounts

    name = checked_user(click.get_current_context(), click.Argument(["name"]), name) or ""
    accounts.check_ready(session.workspace, session.user, name)  # refused before asking for anything
    if from_stdin:
        line = sys.stdin.readline()
        password = line.removesuffix("\n").removesuffix("\r")
        if not line:
            raise click.UsageError("--password-stdin: standard input is empty")
    else:
        zh = session.lang == "zh"
        password = click.prompt("新密码" if zh else "New password", hide_input=True, err=True,
                                confirmation_prompt="再输入一次" if zh else True)
    role = accounts.set_password(session.workspace, session.user, name, password)
    if session.lang == "zh":
        click.echo(f"已设置 {name}（{role}）的网页登录密码")
    else:
        click.echo(f"password set for {name} ({role}): signs in to `renovation serve`")


COMMANDS = [user]

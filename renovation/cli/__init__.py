"""The ``renovation`` command: a thin click layer over the use cases.

Only click is imported at start-up; each command imports what it needs when it runs, so ``--help``
is instant. Every error a user can cause ends here as one line and an exit code: 1 when a rule of
the domain (or the database) refused the command, 2 for bad usage or bad input.
"""

from __future__ import annotations

import atexit
import gc
import os
import sys
from collections.abc import Sequence
from datetime import date
from typing import TYPE_CHECKING, Any, NoReturn

import click

# The tracker uses no pydantic plugins; without this, pydantic scans every installed distribution's
# entry points the first time a model is built, a cost every command would pay at start-up.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
#: Objects made between two collections of the youngest generation (Python's default: 700).
YOUNG_OBJECTS = 20_000

if TYPE_CHECKING:
    from renovation.projections.runner import ReadModels
    from renovation.services.application import RenovationApp
    from renovation.services.config import Config


def default_lang() -> str:
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if value:
            return "zh" if value.lower().startswith("zh") else "en"
    return "en"


def default_user() -> str:
    """The system's login name, when no ``--user`` is given: held to the same rule (a name with a tab, or a
    thousand characters long, would be recorded on events that no later command could read)."""
    import getpass

    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
    if _user_name(name) is None:
        raise click.UsageError(f"this system's login name ({name[:40]!r}) is not a user name the tracker records "
                               f"({USER_NAME_RULE}): give --user or RENOVATION_USER")
    return name.strip()


#: What a user name recorded on an event is.
USER_NAME_RULE = "1-100 characters, without control characters"


def _user_name(name: str) -> str | None:
    """The name as recorded (trimmed), or None if it is not one."""
    import unicodedata

    name = name.strip()
    if not name or len(name) > 100 or any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in name):
        return None
    return name


def checked_user(_ctx: click.Context, _param: click.Parameter, name: str | None) -> str | None:
    """``--user`` as recorded on every event: a name an auditor can read (checked here, without pydantic,
    so that ``--help`` stays instant)."""
    if name is None:
        return None
    found = _user_name(name)
    if found is None:
        raise click.BadParameter(f"a user name is {USER_NAME_RULE}")
    return found


class Session:
    """What every command shares: the workspace (store, configuration, application, read models, each
    made on first use), the user, the language and the day the boards count to."""

    def __init__(self, db: str, user: str, lang: str, config_path: str | None = None,
                 today: str | None = None) -> None:
        from renovation.services.workspace import Workspace

        self.db = db
        self._today = today
        self.user = user
        self.lang = lang
        self.workspace = Workspace(db, config_path)
        self.workspace.creates = False  # a command that begins a store says so (``creating``)
        self.workspace.on_stale = self.stale
        self._said_stale = False

    def creating(self) -> None:
        """This command may create the store where there is none (it begins one)."""
        self.workspace.creates = True

    @property
    def today_given(self) -> bool:
        """Whether --today (RENOVATION_TODAY) fixes the day, rather than the store's clock."""
        return self._today is not None

    def today(self) -> date:
        """The day the boards count to (overdue findings, construction days, days behind plan)."""
        if self._today is None:
            return self.app.clock().date()
        from renovation.cli.inputs import parse_date

        try:
            return parse_date(self._today)
        except ValueError as error:
            raise click.UsageError(f"--today: {error}") from None

    @property
    def config(self) -> Config:
        return self.workspace.config

    def read_models(self, *names: str) -> ReadModels:
        """The read models, caught up with every event recorded so far (the named ones, or all)."""
        return self.workspace.read_models(*names)

    @property
    def app(self) -> RenovationApp:
        return self.workspace.app

    def stale(self, behind: int) -> None:
        """Said once on stderr when the boards are read behind the log (this login may not catch up)."""
        if not self._said_stale:
            self._said_stale = True
            click.echo(f"note: the boards are {behind} event(s) behind the log (this login reads them as "
                       "`renovation projections follow` left them)", err=True)

    def may(self, action: str) -> None:
        """Refuse now (exit 1) unless the user may do this maintenance action."""
        self.config.access().check(self.user, action)

    @property
    def hides_pending_blind_samples(self) -> bool:
        return self.config.access().hides_pending_blind_samples(self.user)

    def close(self) -> None:
        self.workspace.close()


pass_session = click.make_pass_decorator(Session)


class RuleRefused(click.ClickException):
    exit_code = 1


def raise_usage(error: click.UsageError, args: Sequence[str] | None) -> NoReturn:
    """Bad usage: one line on stderr, exit 2."""
    click.echo(f"{error_prefix(args)} {one_line(error.format_message())}", err=True)
    sys.exit(2)


def one_line(message: str) -> str:
    return " ".join(message.split())


def in_a_line(message: str) -> str:
    """A message of several lines (a database driver's) in one: a line that ends without a stop is followed by
    a semicolon ("Connection refused; Is the server running ..."), not run into the next."""
    said = ""
    for line in filter(None, map(one_line, message.splitlines())):
        said = f"{said}{'' if said[-1] in '.:;,?!' else ';'} {line}" if said else line
    return said


#: Where ``--lang`` is kept (the click context's meta, shared with every subcommand's context) so that
#: help, read before the command runs, is in it too.
LANG = "renovation.lang"


def remember_lang(ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    ctx.meta[LANG] = value or default_lang()
    return value


def help_lang(ctx: click.Context) -> str:
    return str(ctx.meta.get(LANG) or default_lang())


def error_prefix(args: Sequence[str] | None) -> str:
    """"Error:" in the language of the command line (``--lang``), else of the environment."""
    words = list(sys.argv[1:] if args is None else args)
    lang = default_lang()
    for number, word in enumerate(words):
        if word == "--lang" and number + 1 < len(words):
            lang = words[number + 1]
        elif word.startswith("--lang="):
            lang = word.removeprefix("--lang=")
    return "错误:" if lang == "zh" else "Error:"


class ZhHelp(click.Group):
    """A group whose list of commands is in Chinese under ``--lang zh``."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if help_lang(ctx) != "zh":
            super().format_commands(ctx, formatter)
            return
        from renovation.cli.zh_help import SHORT_HELP

        path = ctx.command_path.split()[1:]
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            rows.append((name, SHORT_HELP.get(" ".join([*path, name]), command.get_short_help_str())))
        if rows:
            with formatter.section("命令"):
                formatter.write_dl(rows)


class DefaultGroup(ZhHelp):
    """A group that runs its ``default`` subcommand when the first argument is not a subcommand:
    ``meter JM --item A1 ...`` records, ``meter correct JM M3 ...`` corrects."""

    def __init__(self, *args: Any, default: str, default_when_empty: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.default = default
        self.default_when_empty = default_when_empty  # with no argument at all: the default too

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if (args and args[0] not in self.commands and args[0] not in ("--help", "-h")) or (
                not args and self.default_when_empty):
            args = [self.default, *args]
        return super().parse_args(ctx, args)


#: Where each top-level command lives: a command's module is imported only when it is used.
COMMAND_MODULES = {
    "compound": "compound", "boq": "compound", "demolition": "compound", "construction": "compound",
    "inspect": "site", "finding": "site", "material": "site",
    "meter": "money", "variation": "money", "score": "money",
    "feedback": "residents",
    "progress": "boards", "quality": "boards", "ranking": "boards", "ledger": "boards", "projections": "boards",
    "audit": "audit", "export": "transfer", "import": "transfer", "backup": "backup", "restore": "backup",
    "demo": "demo", "report": "report", "db": "db", "digest": "digest", "payment": "payment",
    "user": "user", "serve": "serve",
}


class RenovationGroup(ZhHelp):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = COMMAND_MODULES.get(cmd_name)
        if module_name is None:
            return None
        import importlib

        module = importlib.import_module(f"renovation.cli.{module_name}")
        return next((command for command in module.COMMANDS if command.name == cmd_name), None)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise  # click's own; checked first so that --help never imports the rest
        except translatable() as error:
            raise translate(error, ctx.find_object(Session)) from None

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        # A command makes thousands of objects that live until it answers (a province's board rows, a
        # catch-up's buffer): Python's collector looking through the young ones every 700 made took a
        # tenth of a province's ranking (benchmarks/RESULTS.md); every 20,000 it is a few collections.
        gc.set_threshold(YOUNG_OBJECTS, 10, 10)
        # At exit Python collects twice more, walking every object the command made to free memory the
        # system takes back anyway: a tenth of a recorded inspection's time (benchmarks/RESULTS.md).
        # Frozen objects are not walked; the exit handlers registered after this one run first.
        atexit.unregister(gc.freeze)
        atexit.register(gc.freeze)
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as error:  # a group without its subcommand: its help
            click.echo(error.ctx.get_help() if error.ctx else error.format_message())
            sys.exit(0)
        except click.UsageError as error:
            missing = error.message == "Missing command." and error.ctx is not None
            if not missing or error.ctx is None or not isinstance(error.ctx.command, click.Group):
                raise_usage(error, args)
            click.echo(error.ctx.get_help())  # options but no subcommand ("renovation --lang zh"): the help
            sys.exit(0)
        except click.ClickException as error:
            click.echo(f"{error_prefix(args)} {one_line(error.format_message())}", err=True)
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


def translatable() -> tuple[type[Exception], ...]:
    """The errors we mean to report to a user (imported only once one is raised)."""
    from renovation.services.errors import reportable

    return reportable()


#: The tables of the log itself (PostgreSQL), which a contractor's login may not read.
LOG_TABLES = ("renovation_events", "renovation_snapshots", "event_chain")


def database_said(error: BaseException) -> tuple[str, str | None]:
    """What the database said (PostgreSQL's primary message, without its context or SQLAlchemy's
    wrapping) and its SQLSTATE, or the error's own line."""
    cause: BaseException | None = error
    while cause is not None:
        found = getattr(cause, "orig", None) or cause  # SQLAlchemy keeps the driver's error as .orig
        diag = getattr(found, "diag", None)
        primary = getattr(diag, "message_primary", None)
        if primary:
            return one_line(str(primary)), getattr(found, "sqlstate", None)
        if found is not cause:  # SQLAlchemy's wrapping of a driver's error that has no diagnostics
            return one_line(str(found)), None
        cause = cause.__cause__
    return in_a_line(str(error)), None


def translate(error: Exception, session: Session | None) -> click.ClickException:
    """One of the errors of ``translatable()`` as a one-line click error."""
    from renovation.domain.errors import DomainError
    from renovation.services.errors import BAD_INPUT, REFUSED

    lang = session.lang if session else "en"
    if isinstance(error, DomainError):
        return RuleRefused(error.render(lang))
    if isinstance(error, REFUSED):
        return RuleRefused(str(error))
    if isinstance(error, BAD_INPUT):
        return click.UsageError(str(error))
    if any(sign in str(error).lower() for sign in ("database is locked", "lock timeout", "database is busy")):
        return RuleRefused("database busy, try again (another writer holds the lock); nothing was recorded")
    if any(sign in str(error).lower() for sign in ("too many clients", "connection slots are reserved",
                                                   "couldn't get a connection")):
        return RuleRefused("database busy, try again (the server has no connection to spare: see its "
                           "max_connections); nothing was recorded")
    where = session.db if session else "the database"
    said, state = database_said(error)
    if state == "42501" and "permission denied" not in said.lower():  # the append function's refusal
        return RuleRefused(f"refused by the database: {said}; nothing was recorded")
    if any(f"permission denied for table {table}" in said for table in LOG_TABLES):
        return RuleRefused("this database login may not read the event log (after `renovation db roles --apply`, a "
                           "contractor's login reads the boards and its own lists only)")
    if "renovation_append" in said and "does not exist" in said:  # roles applied by an earlier version
        said += " (a superuser runs `renovation db roles --apply` again, or opens the store once)"
    if said.startswith("permission denied for function"):  # a lock or the append function: not this login's
        return RuleRefused("this database login may not record (after `renovation db roles --apply`, a "
                           "contractor's login reads the boards and its own lists only)")
    if said.startswith("relation ") and said.endswith("does not exist"):  # a read model's table not made yet
        said += (" (this login makes no table: if this version of the tracker added it, a superuser runs "
                 "`renovation db roles --apply` again)")
    if said.startswith("must be owner of"):  # a new version of a read model's tables, made by the owner only
        said += (" (this version of the tracker changed a read model: a superuser runs `renovation db roles "
                 "--apply` again, then the projector's login catches it up)")
    if "permission denied" in said.lower():  # e.g. a read model newer than the roles applied to the store
        said += (" (if this version of the tracker added the table, a superuser runs `renovation db roles "
                 "--apply` again)")
    return RuleRefused(f"database error on {where}: {said}")


@click.group(cls=RenovationGroup)
@click.option("--db", envvar="RENOVATION_DB", default="renovation.db", show_default=True,
              help="SQLite file path, or a postgresql:// URL (also RENOVATION_DB).")
@click.option("--user", envvar="RENOVATION_USER", default=None, callback=checked_user,
              help="Who records the command (also RENOVATION_USER; default: your login).")
@click.option("--lang", type=click.Choice(["zh", "en"]), default=None, is_eager=True, callback=remember_lang,
              help="Language of output and messages (default from LANG).")
@click.option("--today", envvar="RENOVATION_TODAY", default=None, metavar="DATE",
              help="Count the boards to this day instead of today (also RENOVATION_TODAY), e.g. the demo's last day.")
@click.option("--config", "config_path", default=None, metavar="FILE",
              help="Configuration file (default: renovation.toml in the working directory, if any).")
@click.version_option(package_name="renovation")
@click.pass_context
def cli(ctx: click.Context, db: str, user: str | None, lang: str | None, today: str | None,
        config_path: str | None) -> None:
    """Event-sourced tracker for the renovation of old residential compounds (老旧小区改造).

    \b
    Example (start with the demo, then look around):
      renovation demo
      renovation compound list
    """
    session = Session(db=db, user=user or default_user(), lang=lang or default_lang(), config_path=config_path,
                      today=today)
    ctx.obj = session
    ctx.call_on_close(session.close)
    from renovation.services import clock

    clock.use_store_zone(session.workspace.store_zone)  # times typed without an offset are the store's
    ctx.call_on_close(lambda: clock.use_store_zone(None))



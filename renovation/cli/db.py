"""Database administration: ``renovation db roles`` puts least privilege into PostgreSQL (issue 7).

``db roles`` prints the SQL (a dry run, connecting to nothing); ``db roles --apply`` runs it in one
transaction through a superuser connection. The design — an owner role, a group per application
role, a login per person named ``PREFIX_u_<user name>``, an append-only events table and chain
enforced by triggers, contractors limited by row-level security and kept away from the raw events,
``recorded_by`` and the ``user_mismatch`` check of ``audit verify`` — is described in
``renovation.store.pg_roles``. SQLite has no roles: the command refuses an SQLite store (exit 2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from renovation.cli import RuleRefused, Session, pass_session

if TYPE_CHECKING:
    from renovation.store.pg_roles import Plan


@click.group()
def db() -> None:
    """Database administration (PostgreSQL).

    \b
    Examples:
      renovation --db postgresql://postgres@db:5432/city db roles            # print the SQL
      renovation --db postgresql://postgres@db:5432/city --user 周科长 db roles --apply
    """


@db.command("roles")
@click.option("--apply", "run", is_flag=True, help="Run the SQL (one transaction; needs a superuser --db URL).")
@click.option("--prefix", default="renovation", show_default=True,
              help="Prefix of the role names (roles are cluster-wide: one prefix per group of people).")
@pass_session
def roles(session: Session, run: bool, prefix: str) -> None:
    """Least privilege on PostgreSQL: an owner role, a group per application role, a login per person
    of [users] in renovation.toml; the events append-only for everyone (triggers), auditors reading,
    contractors the ranking and their own compounds' rows only. Without --apply, print the SQL;
    --apply needs a superuser --db URL and a --user allowed maintenance (bureau or auditor).

    \b
    Examples:
      renovation db roles > roles.sql
      renovation --user 周科长 db roles --apply
    """
    from renovation.store.backend import persistence_env

    env = persistence_env(session.db)
    if env["PERSISTENCE_MODULE"] != "eventsourcing.postgres":
        raise click.UsageError("db roles is for PostgreSQL (--db postgresql://...); an SQLite file has no roles")
    from renovation.store.pg_roles import BadRoles, build

    schema = env.get("POSTGRES_SCHEMA") or "public"
    try:
        plan = build(schema, session.config.access().users, prefix)
    except BadRoles as error:
        raise click.UsageError(str(error)) from None
    if not run:
        click.echo(plan.render())
        return
    _apply(session, env, plan)


def _apply(session: Session, env: dict[str, str], plan: Plan) -> None:
    import psycopg

    from renovation.projections import read_models
    from renovation.store.chain import ChainStore
    from renovation.store.pg_roles import EVENTS_TABLE, NotSuperuser, apply

    session.may("maintain")
    app = session.app  # creates the store's tables if missing
    if app.recorder.events_table_name != EVENTS_TABLE:  # type: ignore[attr-defined]
        raise RuleRefused(f"unexpected events table {app.recorder.events_table_name}")  # type: ignore[attr-defined]
    if ChainStore(app.recorder).head() is None and not app.is_empty():
        raise RuleRefused("this store has events but no hash chain: run `renovation audit verify --init` first "
                          "(after the roles the chain can no longer be rewritten)")
    read_models(app).close()  # creates the read models' tables if missing, so they get their privileges
    try:
        position = apply(env, plan)
    except NotSuperuser as error:
        raise RuleRefused(str(error)) from None
    except psycopg.Error as error:
        raise RuleRefused(f"database error, nothing applied: {' '.join(str(error).split())}") from None
    click.echo(f"roles applied to schema {plan.schema}: owner {plan.prefix}_owner, groups "
               + ", ".join(f"{plan.prefix}_{role}" for role in ("supervisor", "auditor", "contractor", "bureau")))
    for role, (name, user) in sorted(plan.logins.items(), key=lambda item: item[1][0]):
        company = f" ({user.contractor})" if user.contractor and user.role == "contractor" else ""
        click.echo(f"  {name}: login {role}, {user.role}{company}")
    click.echo(f"audit verify checks each event after position {position} against the login that recorded it")


COMMANDS = [db]

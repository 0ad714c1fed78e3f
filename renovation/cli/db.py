"""Database administration: ``renovation db roles`` puts least privilege into PostgreSQL (issue 7).

``db roles`` prints the SQL (a dry run, connecting to nothing); ``db roles --apply`` runs it in one
transaction through a superuser connection. The design — an owner role, a group per application
role, a login per person named ``PREFIX_u_<user name>``, an append-only events table and chain
enforced by triggers, contractors limited by row-level security and kept away from the raw events,
``recorded_by`` and the ``user_mismatch`` check of ``audit verify`` — is described in
``renovation.store.pg_roles``. SQLite has no roles: the command refuses an SQLite store (exit 2).
"""

from __future__ import annotations

import click

from renovation.cli import Session, pass_session


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
    from renovation.services import admin

    plan = admin.roles_plan(session.workspace, prefix)
    if not run:
        click.echo(plan.render())
        return
    session.may("maintain")
    position = admin.apply_roles(session.workspace, plan)
    click.echo(f"roles applied to schema {plan.schema}: owner {plan.prefix}_owner, groups "
               + ", ".join(f"{plan.prefix}_{role}" for role in ("supervisor", "auditor", "contractor", "bureau")))
    for role, (name, user) in sorted(plan.logins.items(), key=lambda item: item[1][0]):
        company = f" ({user.contractor})" if user.contractor and user.role == "contractor" else ""
        click.echo(f"  {name}: login {role}, {user.role}{company}")
    click.echo(f"audit verify checks each event after position {position} against the login that recorded it")


COMMANDS = [db]

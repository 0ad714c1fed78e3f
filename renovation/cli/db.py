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

from renovation.cli import Session, ZhHelp, pass_session


@click.group(cls=ZhHelp)
def db() -> None:
    """The store: what it is (info), its time zone (zone), PostgreSQL roles (roles).

    \b
    Examples:
      renovation db info
      renovation --db postgresql://postgres@db:5432/city db roles            # print the SQL
      renovation --db postgresql://postgres@db:5432/city --user 周科长 db roles --apply
    """


@db.command("info")
@click.option("--json", "as_json", is_flag=True, help="Print it as one JSON object.")
@pass_session
def info(session: Session, as_json: bool) -> None:
    """The store: its database, how many events it holds, and its time zone (the zone times typed
    without an offset are read in, and every recorded time is stored in).

    \b
    Example:
      renovation db info
    """
    import json

    app = session.app
    facts = {"database": session.workspace.describe(), "events": app.event_count(),
             "time_zone": str(app.zone_name or app.zone), "time_zone_kept": app.zone_name is not None}
    if as_json:
        click.echo(json.dumps(facts, ensure_ascii=False))
        return
    click.echo(f"database: {facts['database']}")
    click.echo(f"events: {facts['events']}")
    if app.zone_name:
        click.echo(f"time zone: {app.zone_name} (kept by the store since it was created)")
    elif app.zone_problem:
        click.echo(f"time zone: {app.zone} ({app.zone_problem})")
    else:
        click.echo(f"time zone: {app.zone} (the store keeps none: RENOVATION_TZ or this machine's; "
                   "keep one with `renovation db zone NAME`)")


@db.command("zone")
@click.argument("name")
@pass_session
def zone(session: Session, name: str) -> None:
    """Keep NAME (an IANA time zone such as Asia/Shanghai) as the store's time zone: for a store made
    before stores kept one, or one that holds no events yet. A store keeps its zone once it holds
    events recorded in it.

    \b
    Example:
      renovation db zone Asia/Shanghai
    """
    from renovation.services import clock

    clock.keepable(name.strip())  # a name that is no zone is refused before the store is opened (or made)
    session.may("maintain")
    session.creating()
    session.app.set_zone(name.strip())
    click.echo(f"time zone: {session.app.zone_name}")


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
    click.echo(f"  the projector: login {plan.prefix}_projector, the only one that writes the boards and "
               "snapshots: run `renovation projections follow` under it")
    click.echo(f"audit verify checks each event after position {position} against the login that recorded it")


COMMANDS = [db]

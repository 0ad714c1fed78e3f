"""Least privilege on PostgreSQL: the SQL of ``renovation db roles`` (issue 7).

The application checks the role of ``--user`` (``renovation.domain.access``), but anyone holding the
database login the application uses could rewrite the log with psql. ``db roles`` moves the checks
that matter into the server. Everything is plain SQL, printed by the dry run and run by ``--apply``
in one transaction (a superuser connection: it creates roles and changes owners); running it again
converges to the same state (roles created if missing, privileges revoked and granted afresh,
policies and triggers replaced).

Roles (``PREFIX`` is ``--prefix``, default ``renovation``; roles are cluster-wide, so two stores on
one server that must not share people use two prefixes):

- ``PREFIX_owner`` (NOLOGIN) owns every table of the store's schema. Nobody logs in as it; an
  administrator may ``SET ROLE`` to it for maintenance.
- ``PREFIX_supervisor``, ``PREFIX_auditor``, ``PREFIX_contractor``, ``PREFIX_bureau`` (NOLOGIN): one
  group per application role, holding the privileges.
- One LOGIN role per person of ``[users]`` in ``renovation.toml``, member of its role's group only
  (memberships of the other groups are revoked, so a change of role in the file is followed). The
  name is ``PREFIX_u_`` followed by the user name exactly as written in the file (PostgreSQL
  identifiers may be Unicode; every statement quotes them with ``psycopg.sql.Identifier``): 张工 →
  ``renovation_u_张工``. Where that would not be a safe identifier — longer than PostgreSQL's 63
  bytes, or containing control or unassigned characters — it is ``PREFIX_u_`` + as much of the name as
  fits (control characters dropped) + ``_`` + the first 10 hex digits of the SHA-256 of the name:
  deterministic, so the same file always gives the same roles; two names mapping to one role are
  refused. No password is set: give each login one (``ALTER ROLE ... PASSWORD``) or a certificate, as
  the server's ``pg_hba.conf`` requires. Attributes are normalised (NOSUPERUSER NOCREATEDB
  NOCREATEROLE NOREPLICATION NOBYPASSRLS), even for a role that existed before. A person removed from
  the file keeps the login: drop it (or ``ALTER ROLE ... NOLOGIN``) by hand.
- ``db_logins`` (owned by the owner) maps each login role to its user, application role and
  company; ``audit verify`` and the contractors' row-level security read it.

Privileges (everything revoked from PUBLIC and the groups first):

- One way in. The writers — supervisor, bureau, and auditor (the cost auditor meters and corrects) —
  insert nothing themselves: they EXECUTE ``renovation_append(ids, versions, topics, states)``
  (``renovation.store.postgres.append_function_statements``), which runs with the owner's privileges
  (SECURITY DEFINER, a fixed search_path): it takes the events table's lock, refuses an event recorded
  before the latest, an event whose payload ``user`` is not the person whose login calls it, and an
  event whose kind that person's role may not record (``event_kinds``: the policy of
  ``renovation.domain.access`` by kind of event), an event whose state holds other fields than its kind's
  (as the application writing it: ``event_kinds.fields``), an event without a command id or with a
  recording time that is not one time with its offset or is ahead of the server's clock; and, for every caller,
  an event that is not its compound's next version, a compound that does not begin with its
  registration, a registration of another class than the compound's (its ``originator_topic``), a code
  registered twice (``compound_codes``). Then it inserts the events and works out their chain links
  itself. A login that is nobody's (not in ``db_logins``) may call it only as a superuser. So no writer
  can choose a link, poison the chain ahead of the log, record another role's event, or break a
  compound's order for the others (what it cannot check, the domain's rules, ``audit verify`` does).
- The writers SELECT everything (events, chain, meta, logins, snapshots, photos, read models) and
  INSERT photos (kept by their SHA-256, which ``audit verify`` checks). They write no read model and
  no snapshot.
- The web board's password hashes (``web_accounts``): the bureau reads and sets them (``renovation user
  passwd``), the projector reads them (``renovation serve`` runs under its login); nobody else.
- ``PREFIX_projector`` (LOGIN; a service, nobody's person) is the only login that writes the read
  models and the snapshots: ``renovation projections follow`` runs under it, catches the read models
  up and snapshots the compounds whose snapshot lags. It reads the log, and calls no append. Every
  other login reads the boards as the projector left them (the CLI says how far behind they are).
- Contractors get USAGE on the schema, SELECT on the ranking tables (the board is public to them),
  the meta table (the store's time zone) and the read models' positions, and SELECT on the read models
  that carry a compound (progress, quality, ledger, feedback, worklists, payments, the computed horse
  race's facts) through row-level security: only rows of compounds whose ``contractor`` is the company
  of their login (the tables without that column are joined through ``progress_compounds.code``), and
  in the sample tables never a blind sample still waiting for its result. Those wait in tables of their own
  (``quality_blind_pending``, ``worklist_blind_pending``) that contractors may not read at all. Their
  company is looked up by ``renovation_session_contractor()``, a SECURITY DEFINER function owned by the
  owner, so they need no access to ``db_logins``; the log's head (how far behind the boards are) by
  ``renovation_log_head()``. Contractors get nothing on the events table, the snapshots, the chain or
  the directory: a raw event of their own compound would show a blind sample before its result. The
  application reads the boards under a contractor's login; the commands that replay events (``compound
  show``, ``audit``) say that this login may not read the log.
- Statistics and locks: the per-table activity views (``pg_stat_*``, ``pg_statio_*``), the
  ``pg_stat_get_*`` functions they are made of, the relation-size functions, ``pg_class``'s row and page
  estimates, ``pg_locks``, ``pg_stat_activity`` and the advisory-lock functions are revoked from PUBLIC
  in this database and granted back to the owner, the writers and the projector: a contractor can
  neither count rows it may not read, nor see a writer's lock on a compound, nor hold one. (This
  database is the store's: other users of it lose them too, and dropping the roles does not give them
  back.) Every person's login gets ``PERSON_SETTINGS`` (session timeouts).
- The read-model tables with row-level security get a permissive SELECT policy for the writer groups
  and an all-commands policy for the projector; the owner (as table owner) and superusers bypass
  row-level security.

Append-only: ``renovation_append_only()`` raises (SQLSTATE 42501) from a BEFORE UPDATE OR DELETE
row trigger and a BEFORE TRUNCATE statement trigger on the events table, the chain and its meta
table. Triggers bind every role, the owner and superusers included, unless they are disabled
(``ALTER TABLE ... DISABLE TRIGGER``, which needs the owner, or ``session_replication_role =
replica``, which needs a superuser): a deliberate, visible act, and the chain still tells what
changed. The snapshots are protected by privileges only (the owner may delete a bad snapshot: they
are derived).

Who wrote what: the events table records ``recorded_by DEFAULT session_user`` (added here to a store
created before; its older rows stay NULL). The position of the last event before the roles were
first applied is kept in ``event_chain_meta`` as ``roles_applied_at_position`` (a later run keeps the
first); ``audit verify`` flags, as ``user_mismatch``, an event after it whose ``recorded_by`` is a
person's login (in ``db_logins``) and whose payload ``user`` is not that person. Writes through
other logins (the superuser, a service login) are not flagged. Row-level security and the session
function use ``session_user`` too, so ``SET ROLE`` to a group does not change whose rows one sees.

``--apply`` first opens the store as the application does (creating any missing table, the read
models' included, as the connecting user), refuses a store that holds events but no chain (``audit
verify --init`` first: after this the chain tables can no longer be rewritten), and takes the events
table's write lock while it runs, so the recorded position is exact.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from renovation.domain.access import ROLES, User
from renovation.store.accounts import ACCOUNTS_TABLE
from renovation.store.backend import LOCK_TIMEOUT_SECONDS, SNAPSHOTS_TABLE
from renovation.store.chain import CHAIN_TABLE, LOGINS_TABLE, META_TABLE, ROLES_APPLIED_KEY
from renovation.store.photos import PHOTOS_TABLE
from renovation.store.postgres import (
    APPEND_FUNCTION,
    CODES_TABLE,
    EVENTS_TABLE,
    HEAD_FUNCTION,
    KINDS_TABLE,
    REGISTERED_TOPIC,
    REQUIRE_LINK_FUNCTION,
    PostgresBackend,
    append_function_statements,
    dollar_quoted,
    recorded_by_statements,
    require_link_statements,
)

DEFAULT_PREFIX = "renovation"
#: Letters and digits only: with an underscore one store's roles could be another's (the person "owner"
#: of prefix ``a`` has the login ``a_u_owner``, the owner role of prefix ``a_u``).
PREFIX_PATTERN = re.compile(r"[a-z][a-z0-9]{0,31}")
#: PostgreSQL's longest identifier, in bytes (NAMEDATALEN - 1).
MAX_IDENTIFIER_BYTES = 63
WRITERS = ("supervisor", "bureau", "auditor")
#: Read models with row-level security for contractors: those carrying the compound's contractor...
CONTRACTOR_TABLES = ("progress_compounds", "quality_compounds_v3", "worklist_compounds", "computed_compounds")
#: ... and those carrying only the compound's code (joined through progress_compounds).
CODE_TABLES = ("quality_morning_days_v2", "quality_findings_v2", "quality_open_findings", "quality_samples",
               "ledger_items", "ledger_entries", "feedback_tickets", "worklist_findings", "worklist_samples",
               "computed_inspections", "computed_findings", "computed_closed_spans", "computed_results",
               "computed_entries", "computed_metered", "computed_tickets", "computed_versions", "computed_totals",
               "payments_certificates", "payments_cited", "payments_payments", "payments_retention")
#: ... of which these hold samples: a blind one stays hidden until it has its result.
SAMPLE_TABLES = ("quality_samples", "worklist_samples")
#: The horse-race board: contractors read all of it.
RANKING_TABLES = ("ranking_compounds", "ranking_scores")
APPEND_ONLY_FUNCTION = "renovation_append_only"
CONTRACTOR_FUNCTION = "renovation_session_contractor"
#: The read models' positions (``renovation.projections.base.tracking``).
TRACKING_TABLE = "projection_tracking"


def event_kinds() -> list[tuple[str, str]]:
    """(topic, role) for every kind of event and every role that may record it: the access policy of
    ``renovation.domain.access`` by the action each kind of event records (``renovation.domain.rerun``)."""
    from eventsourcing.utils import get_topic

    from renovation.domain.access import ALLOWED
    from renovation.domain.rerun import ACTIONS

    return sorted((get_topic(kind), role) for kind, action in ACTIONS.items() for role in ALLOWED[action])


def event_fields() -> dict[str, list[str]]:
    """By topic, the keys of each kind of event's stored state as the application writes it (sorted): its
    class's fields but the compound's id and version (the events table's own columns), and ``class_version``
    where the class is past its first."""
    from eventsourcing.utils import get_topic

    from renovation.domain.rerun import ACTIONS
    from renovation.domain.shapes import shape_of

    found: dict[str, list[str]] = {}
    for kind in ACTIONS:
        cls: type = kind
        found[get_topic(cls)] = sorted(shape_of(cls).keys | ({"class_version"} if getattr(cls, "class_version", 1) > 1
                                                             else set()))
    return found


class BadRoles(ValueError):
    """The configuration cannot be turned into roles (no users, a bad prefix, two names on one role)."""


def login_role(prefix: str, user: str) -> str:
    """The login role of a person (see the module's docstring for the rule)."""
    head = f"{prefix}_u_"
    plain = head + user
    if user and len(plain.encode()) <= MAX_IDENTIFIER_BYTES and not any(_unsafe(ch) for ch in user):
        return plain
    digest = hashlib.sha256(user.encode()).hexdigest()[:10]
    room = MAX_IDENTIFIER_BYTES - len(head.encode()) - len(digest) - 1
    kept = ""
    for ch in user:
        if _unsafe(ch):
            continue
        if len((kept + ch).encode()) > room:
            break
        kept += ch
    return f"{head}{kept}_{digest}"


def _unsafe(ch: str) -> bool:
    return unicodedata.category(ch).startswith("C")  # control, format, surrogate, private, unassigned


def group_role(prefix: str, role: str) -> str:
    return f"{prefix}_{role}"


def owner_role(prefix: str) -> str:
    return f"{prefix}_owner"


def projector_role(prefix: str) -> str:
    """The service login of ``renovation projections follow``: the only one that writes read models."""
    return f"{prefix}_projector"


@dataclass
class Step:
    title: str
    statements: list[sql.Composed] = field(default_factory=list)

    def add(self, template: str, *parts: Any, **named: Any) -> None:
        self.statements.append(sql.SQL(template).format(*parts, **named))


@dataclass(frozen=True)
class Plan:
    schema: str
    prefix: str
    logins: dict[str, tuple[str, User]]  # login role -> (user name, user)
    steps: list[Step]

    def statements(self) -> list[sql.Composed]:
        return [statement for step in self.steps for statement in step.statements]

    def render(self) -> str:
        """The SQL as a script (what the dry run prints): ``BEGIN;`` ... ``COMMIT;``."""
        lines = [f"-- renovation db roles: schema {self.schema}, prefix {self.prefix} (dry run; --apply runs it)",
                 "BEGIN;"]
        for step in self.steps:
            lines.append(f"-- {step.title}")
            lines.extend(statement.as_string() + ";" for statement in step.statements)
        lines.append("COMMIT;")
        return "\n".join(lines)


def _check_read_models(tables: Mapping[str, Sequence[str]]) -> None:
    """The read models' tables (name -> column names) hold the tables the policies name."""
    for name in (*CONTRACTOR_TABLES, *CODE_TABLES, *RANKING_TABLES):
        if name not in tables:
            raise BadRoles(f"read-model table {name} not found: renovation.store.pg_roles needs updating")
    for name in (*CONTRACTOR_TABLES, *CODE_TABLES):
        needed = ("contractor", "code") if name in CONTRACTOR_TABLES else ("code",)
        if any(column not in tables[name] for column in needed):
            raise BadRoles(f"read-model table {name} lacks {' or '.join(needed)}: "
                           "renovation.store.pg_roles needs updating")


def build(schema: str, users: Mapping[str, User] | None, prefix: str = DEFAULT_PREFIX, *,
          read_model_tables: Mapping[str, Sequence[str]] | None = None) -> Plan:
    """The statements that apply the roles to the store in ``schema`` (see the module's docstring);
    ``read_model_tables`` names every table of the read models with its columns (the services pass
    them from ``renovation.projections``; without them, only the tables the policies name)."""
    if read_model_tables is None:
        read_model_tables = {name: ("contractor", "code") for name in CONTRACTOR_TABLES}
        read_model_tables.update({name: ("code",) for name in (*CODE_TABLES, *RANKING_TABLES)})
    if not users:
        raise BadRoles("no [users] in renovation.toml: the roles are made from its users")
    if not PREFIX_PATTERN.fullmatch(prefix):
        raise BadRoles(f"--prefix {prefix!r}: 1-32 lower-case letters or digits, starting with a letter")
    logins: dict[str, tuple[str, User]] = {}
    for name, user in users.items():
        role = login_role(prefix, name)
        if role in logins:
            raise BadRoles(f"users {logins[role][0]!r} and {name!r} would share the login role {role!r}")
        logins[role] = (name, user)
    _check_read_models(read_model_tables)
    n = _Names(schema, prefix, sorted(read_model_tables))
    steps = [_lock(n), _roles(n, logins), _who(n, logins), _kinds(n), _owned(n), _append_only(n), _one_way_in(n),
             _grants(n), _row_security(n), _statistics(n), _marker(n)]
    return Plan(schema=schema, prefix=prefix, logins=logins, steps=steps)


class _Names:
    """The identifiers every step of a plan uses."""

    def __init__(self, schema: str, prefix: str, read_models: list[str]) -> None:
        ident = sql.Identifier
        self.schema = schema
        self.s = ident(schema)
        self.owner = ident(owner_role(prefix))
        self.projector = ident(projector_role(prefix))
        self.prefix = prefix
        self.groups = {role: ident(group_role(prefix, role)) for role in ROLES}
        self.writers = sql.SQL(", ").join(self.groups[role] for role in WRITERS)
        self.everyone = sql.SQL(", ").join([*(self.groups[role] for role in ROLES), self.projector])
        self.read_models = read_models
        self.ours = (EVENTS_TABLE, SNAPSHOTS_TABLE, CHAIN_TABLE, META_TABLE, LOGINS_TABLE, KINDS_TABLE, CODES_TABLE,
                     PHOTOS_TABLE, ACCOUNTS_TABLE, *read_models)
        self.events = self.t(EVENTS_TABLE)

    def t(self, name: str) -> sql.Composable:
        return sql.SQL("{}.{}").format(self.s, sql.Identifier(name))

    def tables(self, names: Iterable[str]) -> sql.Composable:
        return sql.SQL(", ").join(self.t(name) for name in names)


def _lock(n: _Names) -> Step:
    lock = Step("hold the writers while the roles change (the position recorded below is exact)")
    lock.add("SET LOCAL lock_timeout = {}", sql.Literal(f"{LOCK_TIMEOUT_SECONDS}s"))  # busy: give up, change nothing
    lock.add("LOCK TABLE {} IN EXCLUSIVE MODE", n.events)
    return lock


#: The defaults of every person's login: a transaction left open, or a statement that never ends,
#: would hold up the writers after it.
PERSON_SETTINGS = {"idle_in_transaction_session_timeout": f"{LOCK_TIMEOUT_SECONDS}s", "statement_timeout": "300s"}


def _roles(n: _Names, logins: dict[str, tuple[str, User]]) -> Step:
    roles = Step("roles: the owner, one group per application role, one login per person")
    for name, login in [(owner_role(n.prefix), False), *((group_role(n.prefix, r), False) for r in ROLES),
                        (projector_role(n.prefix), True), *((role, True) for role in logins)]:
        _create_role(roles, name, login=login)
    for role, (_name, user) in logins.items():
        # A person's session (psql as well as the tracker) may not sit on a lock or run without end.
        for setting, value in PERSON_SETTINGS.items():
            roles.add("ALTER ROLE {} SET {} = {}", sql.Identifier(role), sql.Identifier(setting), sql.Literal(value))
        roles.add("GRANT {} TO {}", n.groups[user.role], sql.Identifier(role))
        others = [n.groups[r] for r in ROLES if r != user.role] + [n.owner]
        roles.add("REVOKE {} FROM {}", sql.SQL(", ").join(others), sql.Identifier(role))
    return roles


def _who(n: _Names, logins: dict[str, tuple[str, User]]) -> Step:
    who = Step("who wrote each event: recorded_by (older rows stay NULL) and the logins of the people")
    who.statements.extend(recorded_by_statements(n.schema, EVENTS_TABLE))
    who.add("CREATE TABLE IF NOT EXISTS {} (login_role text PRIMARY KEY, app_user text NOT NULL, "
            "app_role text NOT NULL, contractor text)", n.t(LOGINS_TABLE))
    for role, (name, user) in sorted(logins.items()):
        who.add(
            "INSERT INTO {} VALUES ({}, {}, {}, {}) ON CONFLICT (login_role) DO UPDATE SET app_user = "
            "EXCLUDED.app_user, app_role = EXCLUDED.app_role, contractor = EXCLUDED.contractor",
            n.t(LOGINS_TABLE), sql.Literal(role), sql.Literal(name), sql.Literal(user.role),
            sql.Literal(user.contractor if user.role == "contractor" else None),
        )
    return who


def _kinds(n: _Names) -> Step:
    kinds = Step("which role may record which kind of event, and the codes registered (the append function checks "
                 "every event against them)")
    table = n.t(KINDS_TABLE)
    kinds.add("CREATE TABLE IF NOT EXISTS {} (topic text NOT NULL, app_role text NOT NULL, fields text[] NOT NULL, "
              "PRIMARY KEY (topic, app_role))", table)
    kinds.add("ALTER TABLE {} ADD COLUMN IF NOT EXISTS fields text[]", table)  # roles applied before it
    kinds.add("DELETE FROM {}", table)
    fields = event_fields()
    kinds.add("INSERT INTO {} (topic, app_role, fields) VALUES {}", table,
              sql.SQL(", ").join(sql.SQL("({}, {}, ARRAY[{}]::text[])").format(
                  sql.Literal(topic), sql.Literal(role), sql.SQL(", ").join(map(sql.Literal, fields[topic])))
                                 for topic, role in event_kinds()))
    codes = n.t(CODES_TABLE)
    kinds.add("CREATE TABLE IF NOT EXISTS {} (code text PRIMARY KEY, originator_id uuid NOT NULL UNIQUE)", codes)
    kinds.add("INSERT INTO {} (code, originator_id) SELECT upper(convert_from(state, 'UTF8')::jsonb->>'code'), "
              "originator_id FROM {} WHERE topic = {} AND originator_version = 1 ON CONFLICT DO NOTHING",
              codes, n.events, sql.Literal(REGISTERED_TOPIC))
    return kinds


def _one_way_in(n: _Names) -> Step:
    way = Step("one way in: the append function, run with the owner's privileges, checks who records what")
    function = n.t(APPEND_FUNCTION)
    signature = sql.SQL("{}(uuid[], bigint[], text[], bytea[])").format(function)
    way.statements.extend(append_function_statements(n.schema, EVENTS_TABLE, guarded=True))
    way.add("ALTER FUNCTION {} OWNER TO {}", signature, n.owner)
    way.add("REVOKE ALL ON FUNCTION {} FROM PUBLIC", signature)
    way.add("GRANT EXECUTE ON FUNCTION {} TO {}", signature, n.writers)
    head = n.t(HEAD_FUNCTION)
    body = sql.SQL("SELECT coalesce(max(notification_id), 0) FROM {}").format(n.events).as_string()
    way.statements.append(
        sql.SQL("CREATE OR REPLACE FUNCTION {}() RETURNS bigint LANGUAGE sql STABLE SECURITY DEFINER "
                "SET search_path = pg_catalog, pg_temp AS ").format(head) + sql.SQL(dollar_quoted(body))
    )
    way.add("ALTER FUNCTION {}() OWNER TO {}", head, n.owner)
    way.add("REVOKE ALL ON FUNCTION {}() FROM PUBLIC", head)
    way.add("GRANT EXECUTE ON FUNCTION {}() TO {}", head, n.everyone)
    return way


def _owned(n: _Names) -> Step:
    owned = Step("the owner owns every table of the store (the events' sequence follows its table)")
    for name in n.ours:
        owned.add("ALTER TABLE {} OWNER TO {}", n.t(name), n.owner)
    return owned


def _append_only(n: _Names) -> Step:
    append = Step("append-only: UPDATE, DELETE and TRUNCATE of the events and the chain refused for every role")
    body = (
        "BEGIN RAISE EXCEPTION '% on %.% refused: the event log is append-only', TG_OP, TG_TABLE_SCHEMA, "
        "TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege'; END"
    )
    function = n.t(APPEND_ONLY_FUNCTION)
    append.statements.append(
        sql.SQL("CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS ").format(function)
        + sql.SQL(dollar_quoted(body))
    )
    append.add("ALTER FUNCTION {}() OWNER TO {}", function, n.owner)
    append.statements.extend(require_link_statements(n.schema, EVENTS_TABLE))  # no event without its link
    append.add("ALTER FUNCTION {}() OWNER TO {}", n.t(REQUIRE_LINK_FUNCTION), n.owner)
    for name in (EVENTS_TABLE, CHAIN_TABLE, META_TABLE):
        append.add("CREATE OR REPLACE TRIGGER renovation_append_only BEFORE UPDATE OR DELETE ON {} "
                   "FOR EACH ROW EXECUTE FUNCTION {}()", n.t(name), function)
        append.add("CREATE OR REPLACE TRIGGER renovation_no_truncate BEFORE TRUNCATE ON {} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION {}()", n.t(name), function)
    return append


def _grants(n: _Names) -> Step:
    grants = Step("privileges, from nothing")
    sequence = n.t(f"{EVENTS_TABLE}_notification_id_seq")
    grants.add("REVOKE ALL ON TABLE {} FROM PUBLIC, {}", n.tables(n.ours), n.everyone)
    grants.add("REVOKE ALL ON SEQUENCE {} FROM PUBLIC, {}", sequence, n.everyone)
    grants.add("GRANT USAGE ON SCHEMA {} TO {}, {}", n.s, n.owner, n.everyone)  # the owner: for its function
    # Writers read everything and write only through the append function (and the photos, which are
    # kept by their SHA-256 and checked by audit verify); the projector reads the log and writes the
    # read models and the snapshots.
    everything = tuple(name for name in n.ours if name not in (KINDS_TABLE, ACCOUNTS_TABLE))
    grants.add("GRANT SELECT ON TABLE {} TO {}, {}", n.tables(everything), n.writers, n.projector)
    grants.add("GRANT INSERT ON TABLE {} TO {}", n.t(PHOTOS_TABLE), n.writers)
    grants.add("GRANT INSERT ON TABLE {} TO {}", n.t(SNAPSHOTS_TABLE), n.projector)
    # The web board's password hashes: the bureau sets them (``user passwd``); the projector, whose login
    # ``renovation serve`` runs under, checks a sign-in against them. Nobody else reads them.
    grants.add("GRANT SELECT, INSERT, UPDATE ON TABLE {} TO {}", n.t(ACCOUNTS_TABLE), n.groups["bureau"])
    grants.add("GRANT SELECT ON TABLE {} TO {}", n.t(ACCOUNTS_TABLE), n.projector)
    grants.add("GRANT INSERT, UPDATE, DELETE ON TABLE {} TO {}", n.tables(n.read_models), n.projector)
    grants.add("GRANT SELECT ON TABLE {} TO {}", n.tables((*RANKING_TABLES, *CONTRACTOR_TABLES, *CODE_TABLES,
                                                           META_TABLE, TRACKING_TABLE)), n.groups["contractor"])
    return grants


def _row_security(n: _Names) -> Step:
    rls = Step("row-level security: contractors see the rows of their own compounds only")
    function = n.t(CONTRACTOR_FUNCTION)
    function_body = (
        sql.SQL("SELECT contractor FROM {} WHERE login_role = session_user::text AND app_role = 'contractor'")
        .format(n.t(LOGINS_TABLE)).as_string()
    )
    rls.statements.append(
        sql.SQL("CREATE OR REPLACE FUNCTION {}() RETURNS text LANGUAGE sql STABLE SECURITY DEFINER "
                "SET search_path = pg_catalog, pg_temp AS ").format(function)
        + sql.SQL(dollar_quoted(function_body))
    )
    rls.add("ALTER FUNCTION {}() OWNER TO {}", function, n.owner)
    rls.add("REVOKE ALL ON FUNCTION {}() FROM PUBLIC", function)
    rls.add("GRANT EXECUTE ON FUNCTION {}() TO {}", function, n.groups["contractor"])
    own_codes = sql.SQL("code IN (SELECT p.code FROM {} p WHERE p.contractor = {}())").format(
        n.t("progress_compounds"), function
    )
    for name in (*CONTRACTOR_TABLES, *CODE_TABLES):
        table = n.t(name)
        rls.add("ALTER TABLE {} ENABLE ROW LEVEL SECURITY", table)
        rls.add("DROP POLICY IF EXISTS renovation_writers ON {}", table)
        rls.add("CREATE POLICY renovation_writers ON {} FOR SELECT TO {} USING (true)", table, n.writers)
        rls.add("DROP POLICY IF EXISTS renovation_projector ON {}", table)
        rls.add("CREATE POLICY renovation_projector ON {} FOR ALL TO {} USING (true) WITH CHECK (true)",
                table, n.projector)
        rls.add("DROP POLICY IF EXISTS renovation_contractor_own ON {}", table)
        if name in CONTRACTOR_TABLES:
            condition: sql.Composable = sql.SQL("contractor = {}()").format(function)
        else:
            condition = own_codes
        if name in SAMPLE_TABLES:  # a blind sample stays hidden until it has its result
            condition = sql.SQL("{} AND (regime <> 'blind' OR passed IS NOT NULL)").format(condition)
        rls.add("CREATE POLICY renovation_contractor_own ON {} FOR SELECT TO {} USING ({})",
                table, n.groups["contractor"], condition)
    return rls


#: The columns of pg_class that estimate a table's rows and size (what ANALYZE and VACUUM leave there).
ROW_ESTIMATES = ("reltuples", "relpages", "relallvisible")
#: The database's views of each table's activity (rows inserted, live, dead; blocks read).
STATISTICS_VIEWS = tuple(f"pg_{kind}_{which}_{what}" for kind in ("stat", "statio") for which in ("all", "user", "sys")
                         for what in ("tables", "indexes")) + tuple(
    f"pg_stat_xact_{which}_tables" for which in ("all", "user", "sys")) + (
    "pg_locks", "pg_stat_activity")  # who holds which lock (a writer's on a compound), who is connected
#: The functions that tell a relation's size.
SIZE_FUNCTIONS = ("pg_relation_size(regclass)", "pg_relation_size(regclass, text)", "pg_table_size(regclass)",
                  "pg_total_relation_size(regclass)", "pg_indexes_size(regclass)")


def _statistics(n: _Names) -> Step:
    """What a contractor could count without reading a row — per-table activity statistics, row and page
    estimates, relation sizes, who holds which lock — and the advisory locks it could hold up writers
    with. Granted by PostgreSQL to PUBLIC in every database, so revoked from PUBLIC in this one and
    granted back to the store's other roles (this database is the store's)."""
    stats = Step("statistics: the per-table counts, estimates and sizes of this database, not for contractors")
    ours = sql.SQL(", ").join([n.owner, *(n.groups[role] for role in WRITERS), n.projector])
    views = sql.SQL(", ").join(sql.SQL("pg_catalog.{}").format(sql.Identifier(name)) for name in STATISTICS_VIEWS)
    stats.add("REVOKE SELECT ON {} FROM PUBLIC", views)
    stats.add("GRANT SELECT ON {} TO {}", views, ours)
    sizes = sql.SQL(", ").join(sql.SQL("pg_catalog." + signature) for signature in SIZE_FUNCTIONS)
    stats.add("REVOKE EXECUTE ON FUNCTION {} FROM PUBLIC", sizes)
    stats.add("GRANT EXECUTE ON FUNCTION {} TO {}", sizes, ours)
    # Every pg_stat_get_* function (the views are made of them), the lock views' functions, and the
    # advisory locks (with which a reader could hold up a compound's writers): found in the catalogue.
    grantees = ", ".join(sql.SQL("{}").format(ident).as_string() for ident in
                         (n.owner, *(n.groups[role] for role in WRITERS), n.projector))
    body = (
        "DECLARE f regprocedure; BEGIN FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p WHERE "
        "p.pronamespace = 'pg_catalog'::regnamespace AND (p.proname LIKE 'pg\\_stat\\_get\\_%' OR p.proname IN "
        "('pg_lock_status', 'pg_blocking_pids', 'pg_safe_snapshot_blocking_pids') OR p.proname LIKE "
        "'pg\\_%advisory%') LOOP "
        "EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f); "
        f"EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO {grantees.replace(chr(39), chr(39) * 2)}', f); "
        "END LOOP; END"
    )
    stats.statements.append(sql.SQL("DO ") + sql.SQL(dollar_quoted(body, "stats")))
    # pg_class: every column but the estimates, to everyone (psql and the drivers read it); all of it to ours.
    columns = ("SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) FROM pg_catalog.pg_attribute "
               "WHERE attrelid = 'pg_catalog.pg_class'::regclass AND attnum > 0 AND NOT attisdropped AND attname "
               "NOT IN (" + ", ".join(f"'{name}'" for name in ROW_ESTIMATES) + ")")
    body = (
        "DECLARE kept text; BEGIN " + columns + " INTO kept; "
        "REVOKE SELECT ON pg_catalog.pg_class FROM PUBLIC; "
        "EXECUTE format('GRANT SELECT (%s) ON pg_catalog.pg_class TO PUBLIC', kept); "
        f"EXECUTE 'GRANT SELECT ON pg_catalog.pg_class TO {grantees.replace(chr(39), chr(39) * 2)}'; END"
    )
    stats.statements.append(sql.SQL("DO ") + sql.SQL(dollar_quoted(body, "estimates")))
    return stats


def _marker(n: _Names) -> Step:
    marker = Step("the position from which audit verify compares each event's user with its login (kept if set)")
    marker.add("INSERT INTO {} (key, value) SELECT {}, COALESCE(MAX(notification_id), 0)::text FROM {} "
               "ON CONFLICT (key) DO NOTHING", n.t(META_TABLE), sql.Literal(ROLES_APPLIED_KEY), n.events)
    marker.add("INSERT INTO {} (key, value) VALUES ('roles_applied_at', now()::timestamptz(0)::text) "
               "ON CONFLICT (key) DO NOTHING", n.t(META_TABLE))
    return marker


def _create_role(step: Step, name: str, *, login: bool) -> None:
    """CREATE ROLE unless it exists (PostgreSQL has no IF NOT EXISTS for roles), then its attributes."""
    create = sql.SQL("CREATE ROLE {} {}").format(sql.Identifier(name), sql.SQL("LOGIN" if login else "NOLOGIN"))
    body = sql.SQL(
        "BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {}) THEN {}; END IF; END"
    ).format(sql.Literal(name), create).as_string()
    step.statements.append(sql.SQL("DO ") + sql.SQL(dollar_quoted(body, "role")))
    step.add("ALTER ROLE {} WITH {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT",
             sql.Identifier(name), sql.SQL("LOGIN" if login else "NOLOGIN"))


def apply(backend: PostgresBackend, plan: Plan) -> int:
    """Run the plan in one transaction as the ``--db`` URL's user (a superuser); return the position
    from which events are checked."""
    with backend.connect() as connection:
        row = connection.execute("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user").fetchone()
        if not row or not row[0]:
            raise NotSuperuser(backend.env["POSTGRES_USER"])
        with connection.transaction():
            for statement in plan.statements():
                connection.execute(statement)
            found = connection.execute(
                sql.SQL("SELECT value FROM {}.{} WHERE key = %s").format(
                    sql.Identifier(plan.schema), sql.Identifier(META_TABLE)
                ),
                (ROLES_APPLIED_KEY,),
            ).fetchone()
    return int(found[0]) if found else 0


class NotSuperuser(PermissionError):
    def __init__(self, user: str) -> None:
        super().__init__(
            f"db roles --apply creates roles and changes the owner of the tables: connect as a superuser "
            f"(the --db URL's user {user!r} is not one)"
        )

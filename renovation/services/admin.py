"""The maintainer's use cases: verify the hash chain (and chain an old store), apply PostgreSQL roles,
back up and restore an SQLite store. Each refuses with an exception the CLI shows as one line."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import PersistenceError

from renovation.domain.errors import DomainError
from renovation.domain.rerun import DoesNotFollow, rerun
from renovation.services.errors import BadRequest, Refused
from renovation.store.backend import BadDatabaseURL
from renovation.store.chain import ROLES_APPLIED_KEY, ChainStore, Problem, describe
from renovation.store.chain import verify as walk
from renovation.store.transcoding import described

if TYPE_CHECKING:
    from renovation.domain.access import Access
    from renovation.services.workspace import Workspace
    from renovation.store.pg_roles import Plan
    from renovation.store.sqlite import SQLiteBackend


@dataclass(frozen=True)
class Verified:
    """What ``audit verify`` found: how many events verify, the problems (first first), the chain's head,
    and its metadata (when it was initialised, when roles were applied)."""

    events: int
    problems: list[Problem]
    head: tuple[int, str] | None
    meta: dict[str, str] = field(default_factory=dict)
    roles_applied_after: str | None = None
    #: Safeguards the store lacks (PostgreSQL: the trigger that refuses an event without its link).
    warnings: list[str] = field(default_factory=list)


def chain_head(ws: Workspace) -> tuple[int, str] | None:
    ws.app  # noqa: B018  (binds the backend to the store's recorders)
    return ChainStore(ws.backend).head()


def initialise_chain(ws: Workspace, user: str) -> int:
    """Chain a store that has events but no chain (recorded as an initialisation)."""
    app = ws.app
    chain = ChainStore(ws.backend)
    if chain.head() is not None:
        raise Refused("this store already has a hash chain; --init is only for a store without one")
    return chain.rebuild({"initialised_at": app.clock().isoformat(timespec="seconds"), "initialised_by": user,
                          "events": str(app.event_count())})


def verify_chain(ws: Workspace, digest: tuple[int, str] | None = None) -> Verified | None:
    """Walk the chain (None for an empty store); a store with events and no chain is refused."""
    app = ws.app
    chain = ChainStore(ws.backend)
    head = chain.head()
    if head is None and app.is_empty():
        return None
    if head is None:
        raise Refused("this store has no hash chain yet; run `renovation audit verify --init` once")
    count, problems = walk(chain, digest)
    from renovation.services import snapshots

    problems += [Problem(position, "snapshot", detail)
                 for position, detail in snapshots.problems(app, ws.backend, app.compound_codes(readable_only=True))]
    # The rules are run over a chain that holds: where it does not, its problems are the evidence (an
    # edited or deleted event would also break the rules of every later event of its compound).
    problems += event_problems(app, ws.backend, ws.config.access(), rules=not problems)
    problems.sort(key=lambda problem: problem.position)
    meta = chain.meta()
    return Verified(count, problems, chain.head(), meta, meta.get(ROLES_APPLIED_KEY), ws.backend.missing_safeguards())


def event_problems(app: Any, backend: Any, access: Access, *, rules: bool = True) -> list[Problem]:
    """Every stored photo whose bytes no longer hash to its name; and, event by event: a photo it names
    that the store does not keep (``photo``); when renovation.toml names the users, a user whose role
    may not record its kind (``role_mismatch``: recorded before the database checked it, through a
    superuser's login, or on SQLite by a user the configuration did not know); and an event that does
    not follow from its compound's earlier ones by its own command (``does_not_follow``: the rules
    and the values a command derives, as an import checks them — written past the application, say
    through PostgreSQL's append function with a state of one's own making)."""
    import hashlib

    from eventsourcing.utils import TopicError

    from renovation.store import photos

    roles = _kinds_roles() if access.users else {}
    problems: list[Problem] = []
    kept: set[str] = set()
    for photo in photos.every(backend):
        kept.add(photo.sha256)
        if hashlib.sha256(photo.data).hexdigest() != photo.sha256:
            problems.append(Problem(0, "photo", f"photo {photo.sha256[:12]}: its bytes were changed "
                                                "(they no longer hash to its name)"))
    checked = _Rules() if rules else None
    for notification in app.iter_notifications():
        try:
            event = app.mapper.to_domain_event(notification)
        except (ValueError, TypeError, KeyError, AttributeError, AssertionError, TopicError) as error:
            if checked is not None:  # chained as stored, yet the application cannot read it
                problems.append(Problem(notification.id, "undecodable", "the application cannot read this event ("
                                        + described(error)[:200] + "): "
                                        + describe(notification.originator_id, notification.originator_version,
                                                   notification.topic)))
                checked.broken.add(notification.originator_id)
            continue  # an event edited past reading: the chain's walk names it
        allowed = roles.get(notification.topic)
        role = access.role(event.user) if allowed is not None and isinstance(event.user, str) else None
        if allowed is not None and role is not None and role not in allowed:
            problems.append(Problem(notification.id, "role_mismatch", f"recorded by {event.user}, a {role}, who "
                                                                      f"may not record {type(event).__name__}"))
        problems.extend(Problem(notification.id, "photo", f"photo {name[:12]} named by this event is not in the "
                                                          "store")
                        for name in getattr(event, "photos", None) or [] if name not in kept)
        wrong = checked.check(event) if checked is not None else None
        if wrong:
            problems.append(Problem(notification.id, "does_not_follow", wrong))
    return problems


class _Rules:
    """Each compound as its events leave it, each event checked by running its own command on the
    compound before it (``renovation.domain.rerun``). After an event that does not follow, the
    compound's later events are not judged (they follow from a state that is not the record's)."""

    def __init__(self) -> None:
        self.compounds: dict[Any, Any] = {}
        self.broken: set[Any] = set()

    def check(self, event: Any) -> str | None:
        originator = event.originator_id
        if originator in self.broken:
            return None
        compound = self.compounds.get(originator)
        expected = (compound.version if compound is not None else 0) + 1
        name = f"{type(event).__name__} (aggregate {originator} version {event.originator_version})"
        if event.originator_version != expected:
            self.broken.add(originator)
            return f"{name} follows version {expected - 1} of its compound"
        try:
            self.compounds[originator], _recorded = rerun(compound, event)
        except DomainError as error:
            self.broken.add(originator)
            return f"{name} is refused by the rules: {error.render('en')}"
        except DoesNotFollow as error:
            self.broken.add(originator)
            return f"{name} does not follow from its command: {error}"
        except (ValueError, TypeError, KeyError, AttributeError, LookupError) as error:  # not even a command's
            self.broken.add(originator)
            return f"{name} cannot be run as a command: {' '.join(str(error).split())[:200]}"
        return None


# ------------------------------------------------------------------------------ PostgreSQL roles
def roles_plan(ws: Workspace, prefix: str) -> Plan:
    """The SQL of ``db roles`` (connects to nothing); refused for a bad prefix or [users]."""
    from renovation.store.pg_roles import BadRoles, build

    backend = ws.backend
    if not backend.is_postgres:
        raise BadDatabaseURL("db roles is for PostgreSQL (--db postgresql://...); an SQLite file has no roles")
    schema = backend.env.get("POSTGRES_SCHEMA") or "public"
    try:
        return build(schema, ws.config.access().users, prefix, read_model_tables=read_model_tables())
    except BadRoles as error:
        raise BadRequest(str(error)) from None


def read_model_tables() -> dict[str, list[str]]:
    """Every table of the read models (the projections', their positions, the compound directory) with
    its columns."""
    import renovation.projections.runner  # noqa: F401  (defines the directory table)
    from renovation.projections import all_projections
    from renovation.projections.base import metadata

    all_projections()  # defines every projection's tables
    return {name: [column.name for column in table.columns] for name, table in metadata.tables.items()}


def apply_roles(ws: Workspace, plan: Plan) -> int:
    """Create the store's tables (events and read models) if missing, then run the plan; returns the
    position after which each event is checked against the login that recorded it."""
    import psycopg

    from renovation.projections import read_models
    from renovation.store.pg_roles import NotSuperuser, apply
    from renovation.store.postgres import EVENTS_TABLE, PostgresBackend

    app = ws.app  # creates the store's tables if missing
    backend = ws.backend
    assert isinstance(backend, PostgresBackend)
    from renovation.store import photos

    photos.ensure(backend)  # a store made before photos were kept gets their table (the plan grants on it)
    from renovation.store import accounts

    accounts.ensure(backend)  # the web board's accounts, likewise
    if app.recorder.events_table_name != EVENTS_TABLE:  # type: ignore[attr-defined]
        raise Refused(f"unexpected events table {app.recorder.events_table_name}")  # type: ignore[attr-defined]
    if ChainStore(backend).head() is None and not app.is_empty():
        raise Refused("this store has events but no hash chain: run `renovation audit verify --init` first "
                      "(after the roles the chain can no longer be rewritten)")
    read_models(app).close()  # creates the read models' tables if missing, so they get their privileges
    try:
        return apply(backend, plan)
    except NotSuperuser as error:
        raise Refused(str(error)) from None
    except psycopg.Error as error:
        raise Refused(f"database error, nothing applied: {' '.join(str(error).split())}") from None


# ------------------------------------------------------------------------------ backup and restore
PG_DUMP_HINT = ("for PostgreSQL use pg_dump, e.g. `pg_dump --format=custom --schema=SCHEMA DBNAME > FILE` "
                "(a consistent snapshot while writers go on) and `pg_restore --dbname=DBNAME FILE`, then "
                "`renovation audit verify`")


def sqlite_store(ws: Workspace, action: str) -> SQLiteBackend:
    """The SQLite store that ``action`` (backup, restore) copies; a PostgreSQL store is refused."""
    return ws.sqlite(f"{action} copies an SQLite file; {PG_DUMP_HINT}")


def backup(ws: Workspace, target: Path) -> str:
    """Copy the SQLite store to ``target`` (a new file) while writers go on; returns the store's path."""
    import sqlite3

    backend = sqlite_store(ws, "backup")
    if not Path(backend.path).exists():
        raise BadDatabaseURL(f"{backend.path}: no such store")
    if target.exists() or target.is_symlink():
        raise BadDatabaseURL(f"{target} exists; give a new file name")
    if any(target.resolve() == file.resolve() for file in backend.protected()):
        raise BadDatabaseURL(f"{target}: the store's own file; give a new file name")
    try:
        backend.backup_to(target)
    except (sqlite3.Error, OSError) as error:
        raise Refused(f"backup failed: {' '.join(str(error).split())}") from None
    return backend.path


def restore(ws: Workspace, source: Path, *, force: bool) -> int:
    """Replace the SQLite store by a backup whose chain verifies; a store holding events only with
    ``force``. The backup is only read: it is copied beside the store, and the copy is checked (a
    store of this tracker, its chain intact) and then put in the store's place. Returns how many
    events the backup verified."""
    import os
    import sqlite3
    import tempfile

    from renovation.services.application import RenovationApp

    backend = sqlite_store(ws, "restore")
    # Beside the store (renamed into its place at the end), under a name nobody else has: never a file
    # or a link that was there already.
    handle, name = tempfile.mkstemp(dir=Path(backend.real_path).parent, prefix=".restoring-", suffix=".db")
    os.close(handle)
    checking = Path(name)
    try:
        _copy_read_only(source, checking)
    except (sqlite3.Error, OSError) as error:
        checking.unlink(missing_ok=True)
        raise BadDatabaseURL(f"{source}: not a renovation store ({' '.join(str(error).split())})") from None
    try:
        if not _holds_a_store(checking):
            raise BadDatabaseURL(f"{source}: not a renovation store (no events table and hash chain in it)")
        try:
            checked = RenovationApp(str(checking), env={"CREATE_TABLE": "n"})
        except (OSError, ValueError, sqlite3.Error, PersistenceError) as error:
            raise BadDatabaseURL(f"{source}: not a renovation store ({' '.join(str(error).split())})") from None
        try:
            verified, problems = walk(ChainStore(checked.backend))
        finally:
            checked.close()
        if problems:
            raise Refused(f"{source} does not verify: position {problems[0].position}: {problems[0].kind}; "
                          "not restored")
        _forget_read_models(checking)
        if Path(backend.path).exists() and not force and not ws.app.is_empty():
            raise BadDatabaseURL(f"{backend.path} holds events; use --force to replace it")
        with backend.writer_lock("restore"):  # writers wait, and then see the file was replaced
            ws.close()
            backend.replace_with(checking)
        return verified
    finally:
        for leftover in (checking, *(Path(str(checking) + suffix) for suffix in ("-wal", "-shm", "-journal"))):
            leftover.unlink(missing_ok=True)


def _copy_read_only(source: Path, target: Path) -> None:
    """A consistent copy of the SQLite file ``source`` (its write-ahead log included) through SQLite's
    backup API, ``source`` opened read-only."""
    import sqlite3
    from contextlib import closing

    if not source.is_file():
        raise OSError(f"{source} is not a regular file")
    # Without a write-ahead log beside it the file is all there is: opened as immutable, SQLite
    # creates nothing next to it (a read-only open of a WAL-mode file would add -wal and -shm).
    wal = Path(str(source) + "-wal").exists()
    uri = source.resolve().as_uri() + ("?mode=ro" if wal else "?mode=ro&immutable=1")
    with closing(sqlite3.connect(uri, uri=True)) as origin, closing(sqlite3.connect(target)) as copy:
        origin.backup(copy)


def _forget_read_models(path: Path) -> None:
    """Only the events and their chain were verified: the copy's read models are dropped from the
    record of what they have applied, so the next read clears and rebuilds each from the events."""
    import sqlite3
    from contextlib import closing

    from renovation.projections.base import tracking
    from renovation.projections.runner import directory

    with closing(sqlite3.connect(path)) as connection, connection:
        for table in (tracking.name, directory.name):  # what each has applied; codes by aggregate id
            found = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                       (table,)).fetchone()
            if found:
                connection.execute(f'DELETE FROM "{table}"')  # our own tables' names


def _holds_a_store(path: Path) -> bool:
    """Whether the SQLite file ``path`` has the tables of a store (opened read-only)."""
    import sqlite3
    from contextlib import closing

    from renovation.store.chain import CHAIN_TABLE

    try:
        with closing(sqlite3.connect(path.resolve().as_uri() + "?mode=ro&immutable=1", uri=True)) as connection:
            names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error:
        return False
    return {"stored_events", CHAIN_TABLE} <= names


def _kinds_roles() -> dict[str, tuple[str, ...]]:
    """The roles that may record each kind of event, by topic (those every role may record left out)."""
    from eventsourcing.utils import get_topic

    from renovation.domain.access import ALLOWED, ROLES
    from renovation.domain.rerun import ACTIONS

    return {get_topic(kind): ALLOWED[action] for kind, action in ACTIONS.items() if set(ALLOWED[action]) != set(ROLES)}

"""The write path every use case shares: load a compound, check the user may act, run one command,
save its events with their chain links; on a version conflict reload and run it again.

The application is eventsourcing's ``Application`` over the store's :class:`~renovation.store.backend.
Backend`, which it is built from and which answers every question about the database.
"""

from __future__ import annotations

import functools
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta, tzinfo
from typing import Any, ClassVar, TypeVar, overload
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder, Mapper, PersistenceError, ProgrammingError
from eventsourcing.utils import TopicError, get_topic

from renovation.domain import errors
from renovation.domain.access import Access
from renovation.domain.compound import CompoundProject, Context, project_compound
from renovation.domain.values import normalise_code
from renovation.services import clock, warn
from renovation.services import snapshots as sealed
from renovation.store import chain, open_backend
from renovation.store.backend import DEFAULT_DB, Backend, iter_notifications
from renovation.store.faults import crash_point
from renovation.store.timeorder import RecordedOutOfOrder
from renovation.store.transcoding import UNREADABLE, described, register_transcodings

#: How many times a command is re-run after losing a race with another writer.
MAX_ATTEMPTS = 20
#: How far behind the store's latest event a clock may be and still record (at that event's time); a
#: clock further behind is refused rather than followed (an event from a clock far ahead would
#: otherwise carry every later recording time with it, in silence).
MAX_LIFT = timedelta(hours=1)

E = TypeVar("E", bound=CompoundProject.Event)


class Unreadable(Exception):
    """A compound whose events the application cannot replay (one of them it never wrote)."""

    def __init__(self, code: str, error: BaseException) -> None:
        super().__init__(f"compound {code} cannot be read: one of its events is not one the application wrote "
                         f"({described(error)[:200] or type(error).__name__}); `renovation audit verify` names it")


class WriteConflict(Exception):
    """Other writers kept changing the compound; the command was not recorded."""


class ClockBehind(Exception):
    """This clock is far behind the store's latest recorded event: nothing was recorded."""


class ZoneKept(Exception):
    """The store keeps another time zone, and holds events recorded in it: its zone stays."""


class KnownTopics(Mapper[UUID]):
    """The library's mapper, reading only events of the application's own classes. A stored topic names a
    module and a class in it, which the library imports, whatever it names: a topic written into the store
    by hand ("this:x") is refused (a TopicError: one line, `audit verify` names the event), not imported; so
    is the aggregate's topic a registration or a snapshot carries in its state (the library imports it to
    make the compound), unless it is the compound's."""

    def to_domain_event(self, stored_event: Any) -> Any:
        if stored_event.topic not in known_topics():
            raise TopicError(f"{str(stored_event.topic)[:80]!r} is not the topic of an event of this application")
        event = super().to_domain_event(stored_event)
        for field in ("originator_topic", "topic"):  # a registration's, a snapshot's (no other event has them)
            named = getattr(event, field, COMPOUND_TOPIC)
            if named != COMPOUND_TOPIC:
                raise TopicError(f"its {field} names another class than the compound's ({str(named)[:80]!r})")
        checks = field_checks(type(event))
        if checks is not None:  # an event (a snapshot's state is checked by its seal)
            values = vars(event)
            for name, check in checks:
                if not check(values.get(name)):
                    raise TypeError(f"its {name} is not of its type, or out of range")
        return event


@functools.cache
def field_checks(cls: type) -> tuple[tuple[str, Callable[[object], bool]], ...] | None:
    """Of an event class of the compound, each stored field with the check of its type that an import holds
    its lines to (``renovation.domain.shapes``): an event read from the store is held to them too, so that a value a
    command never records (a text where a time belongs, written through a login of the database) makes its
    compound one that cannot be read, said in one line, not a traceback in the command that meets it. None
    for another class (a snapshot's)."""
    if not (isinstance(cls, type) and issubclass(cls, CompoundProject.Event)):
        return None
    from renovation.domain.shapes import shape_of

    return shape_of(cls).checks


#: The compound's own topic, which a registration and a snapshot name in their state.
COMPOUND_TOPIC = get_topic(CompoundProject)


@functools.cache
def known_topics() -> frozenset[str]:
    """The topics of the compound's events and of its snapshots."""
    from eventsourcing.domain import Snapshot

    return frozenset({get_topic(cls) for cls in vars(CompoundProject).values()
                      if isinstance(cls, type) and issubclass(cls, CompoundProject.Event)}
                     | {get_topic(Snapshot), get_topic(CompoundProject.Snapshot)})


class CompoundWriter(Application[UUID]):
    name = "renovation"
    #: A compound is loaded from its latest snapshot plus at most this many events.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {CompoundProject: 100}
    snapshotting_projectors: ClassVar[dict[type[Any], Any]] = {CompoundProject: project_compound}

    def __init__(
        self,
        db: str | Backend = DEFAULT_DB,
        *,
        env: dict[str, str] | None = None,
        clock_func: Callable[[], datetime] | None = None,
        access: Access | None = None,
        zone: str | None = None,
    ) -> None:
        self.clock = clock_func or self._wall_clock
        self.access = access or Access(None)
        self._batch: dict[str, CompoundProject] | None = None
        self._command_id: str | None = None
        #: While a command runs: the recording time of the store's latest event, which its own events
        #: may not precede (a client's clock may be behind; see ``renovation.store.timeorder``).
        self._floor: datetime | None = None
        #: While a batch runs: the store's latest recording time when it began.
        self._batch_floor: datetime | None = None
        self.backend = open_backend(db) if isinstance(db, str) else db
        if zone is None and not self.backend.exists():
            clock.default_zone()  # a bad RENOVATION_TZ is refused before the store is created
        with self.backend.prepared() as prepared:
            super().__init__(env={**prepared, **(env or {})})
        self.backend.bind(self.recorder, self.snapshots.recorder if self.snapshots else None)
        #: The store's time zone (``renovation.services.clock``); ``zone`` names it for a new store.
        #: A kept name that is no zone (edited by hand) is said in ``zone_problem``, and not used.
        self.zone_problem: str | None = None
        self.zone_name = self._keep_zone(zone)
        self.zone: tzinfo = (clock.zone_named(self.zone_name, "the store's time zone ") if self.zone_name
                             else clock.default_zone())

    def _keep_zone(self, zone: str | None) -> str | None:
        """The store's zone; a new (empty) store keeps ``zone``, else the zone a new store gets (if it
        has a name). A store made before stores kept one, a login that may not read or write it, or a
        kept name that is no zone goes without: None (times are then read in ``RENOVATION_TZ`` or the
        machine's zone, until ``renovation db zone`` keeps one)."""
        try:
            stored = chain.stored_zone(self.backend)
            if stored is not None or not self.is_empty():
                return self._usable(stored)
            name = zone or clock.zone_name(clock.default_zone())
            if name is None:
                self.zone_problem = clock.unnamed_zone_problem()
                warn(__name__, "%s", self.zone_problem)
                return None
            chain.keep_zone(self.backend, name)
        except IntegrityError:  # another process kept one first
            return self._usable(chain.stored_zone(self.backend))
        except PersistenceError:  # a PostgreSQL login that may not read or write the store's own tables
            return None
        return name

    def _usable(self, stored: str | None) -> str | None:
        """A zone name the store keeps, if it names a zone; else None, with a warning (the store then
        reads times as one that keeps none, until ``renovation db zone NAME`` keeps one)."""
        if stored is None:
            return None
        try:
            clock.zone_named(stored)
        except clock.BadTimeZone:
            self.zone_problem = (f"the store keeps {stored[:60]!r}, which is no time zone: times are read in "
                                 "RENOVATION_TZ or this machine's zone until `renovation db zone NAME` keeps one")
            warn(__name__, "%s", self.zone_problem)
            return None
        return stored

    def set_zone(self, name: str) -> None:
        """Keep ``name`` as the store's time zone: for a store that has none (made before stores kept
        one) or holds no events yet; a store that keeps one and holds events keeps it (ZoneKept)."""
        zone = clock.keepable(name)
        if self.zone_name == zone.key:
            return
        if self.zone_name is not None and not self.is_empty():
            raise ZoneKept(f"the store's time zone is {self.zone_name}, kept since it was created; "
                           "its recorded times are in it")
        try:
            chain.keep_zone(self.backend, zone.key, replace=True)
        except PersistenceError as error:  # PostgreSQL with roles applied: the meta table is append-only
            detail = " ".join(str(error).split())[:160]
            raise ZoneKept(f"the store's time zone stays {self.zone_name or 'unset'}: the database refuses "
                           f"to change it ({detail})") from None
        self.zone_name, self.zone, self.zone_problem = zone.key, zone, None

    def take_zone(self, name: str) -> tuple[str | None, tzinfo, str | None]:
        """Read and record in ``name`` from now on, without keeping it yet (an import into an empty
        store keeps it in the import's own transaction); returns what ``give_back_zone`` restores."""
        zone = clock.keepable(name)
        before = (self.zone_name, self.zone, self.zone_problem)
        self.zone_name, self.zone, self.zone_problem = zone.key, zone, None
        return before

    def give_back_zone(self, before: tuple[str | None, tzinfo, str | None]) -> None:
        self.zone_name, self.zone, self.zone_problem = before

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_transcodings(transcoder)

    def construct_mapper(self) -> Mapper[UUID]:
        return self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=KnownTopics)

    def close(self) -> None:
        self.backend.close()
        super().close()

    # ------------------------------------------------------------------ loading
    def context(self, user: str) -> Context:
        """Who records, now, and the id of the command being run (see :meth:`command`). Now is never
        before the store's latest recorded event: a clock that is behind records at that time (up to
        MAX_LIFT behind; a batch's clock, the demo's simulated one, however far)."""
        now = self.clock().astimezone(self.zone)
        if self._floor is not None and now < self._floor:
            now = (self._floor if self._batch is not None else lifted(now, self._floor)).astimezone(self.zone)
        return Context(user=user, now=now, command_id=self._command_id)

    def _wall_clock(self) -> datetime:
        """The recording clock: the database server's where it has one (PostgreSQL: every writer reads
        the same clock), else this machine's."""
        server = self.backend.server_now()
        return clock.now(self.zone) if server is None else server.astimezone(self.zone)

    def _latest(self, *times: datetime | None) -> datetime | None:
        """The latest of ``times`` and the store's latest recording time."""
        known = [when for when in (*times, self.backend.latest_recorded_time()) if when is not None]
        return max(known) if known else None

    @contextmanager
    def command(self) -> Iterator[str]:
        """One invocation of a command: a fresh command id that every event it records carries, however
        many times it is tried (inside a command already, that command's id)."""
        if self._command_id is not None:
            yield self._command_id
            return
        self._command_id = uuid4().hex
        try:
            yield self._command_id
        finally:
            self._command_id = None

    def stored_by(self, aggregate_id: UUID, after_version: int, count: int, command_id: str,
                  code: str) -> list[Any]:
        """The events that the command ``command_id`` recorded of an aggregate: among the ``count`` after
        ``after_version``, the versions its events were made with (another writer's there have other
        ids). Unreadable if one of them is not an event the application wrote (``code`` names it)."""
        try:
            return [event for event in self.events.get(aggregate_id, gt=after_version, lte=after_version + count)
                    if getattr(event, "command_id", None) == command_id]
        except UNREADABLE as error:
            raise Unreadable(code, error) from error

    def get_project(self, code: str) -> CompoundProject:
        """The compound as its events leave it: from its latest snapshot if that can be trusted (see
        ``renovation.services.snapshots``), then the events after it."""
        code = normalise_code(code)
        if self._batch is not None and code in self._batch:
            return self._batch[code]
        project, from_snapshot = self.load(CompoundProject.create_id(code), code)
        if project is None:
            raise errors.CompoundNotFound(code=code)
        self.snapshot_if_stale(project, from_snapshot)
        return project

    def load(self, aggregate_id: UUID, code: str = "",
             upto: int | None = None) -> tuple[CompoundProject | None, int]:
        """The compound (up to version ``upto``; None if it has no events) and the version of the
        trusted snapshot it started from (0 if none). ``code`` names it in a warning."""
        start = sealed.latest(self, self.backend, aggregate_id, code or str(aggregate_id))
        if start is not None and upto is not None and start.version > upto:
            start = None
        from_snapshot = start.version if start is not None else 0
        try:
            events = self.events.get(aggregate_id, gt=from_snapshot or None, lte=upto)
            project = project_compound(start, events)
        except UNREADABLE as error:
            raise Unreadable(code or str(aggregate_id), error) from error
        assert project is None or isinstance(project, CompoundProject)
        return project, from_snapshot

    def read_events(self, aggregate_id: UUID, code: str = "", *, lte: int | None = None) -> list[Any]:
        """A compound's stored events (up to version ``lte``), each read back as the application wrote it;
        Unreadable if one of them is not (edited by hand: ``audit verify`` names it). ``code`` names it."""
        try:
            return list(self.events.get(aggregate_id, lte=lte))
        except UNREADABLE as error:
            raise Unreadable(code or str(aggregate_id), error) from error

    def snapshot_if_stale(self, project: CompoundProject, from_snapshot: int = 0) -> None:
        """Snapshot a compound whose trusted snapshot lags far behind (after an import, say, or when
        the latest one was discarded): snapshots are otherwise taken only when a save crosses an
        interval. A snapshot that cannot be written (another process wrote it first, this login may
        not) is left for later: never an error."""
        interval = self.snapshotting_intervals[CompoundProject]
        if self.snapshots is None or project.version < 2 * interval or project.pending_events:
            return
        if project.version - from_snapshot < 2 * interval:
            return
        self._put_snapshot(project)

    def _put_snapshot(self, project: CompoundProject) -> None:
        """A sealed snapshot of ``project``, whose events are stored; nothing that goes wrong is an error.
        A login that may not write snapshots (on PostgreSQL after ``db roles --apply``, everyone's but
        the projector's: a snapshot is trusted by every later load) takes none."""
        if self.snapshots is None or not self.backend.may_write(self._snapshots_table):
            return
        try:
            snapshot = sealed.take(self, self.backend, project)
            if snapshot is not None:
                self.snapshots.put([snapshot])
        except (PersistenceError, sqlite3.Error) as error:  # the events are committed: report, never raise
            warn(__name__, "snapshot of %s at version %d not written: %s", project.code, project.version,
                 " ".join(str(error).split()))

    @property
    def _snapshots_table(self) -> str:
        assert self.snapshots is not None
        return str(self.snapshots.recorder.events_table_name)  # type: ignore[attr-defined]

    def snapshot_lagging(self, after: int = 0) -> int:
        """Snapshot each compound with an event after position ``after`` whose latest snapshot lags an
        interval or more behind it: ``projections follow`` does it as it goes, so that on PostgreSQL
        after ``db roles --apply`` (where the projector's login alone writes snapshots) loads stay short.
        Returns how many compounds were snapshotted."""
        if self.snapshots is None or not self.backend.may_write(self._snapshots_table):
            return 0
        backend = self.backend
        rows = backend.query(
            f"SELECT e.originator_id, e.version, (SELECT max(s.originator_version) FROM "
            f"{backend.qualified(self._snapshots_table)} s WHERE s.originator_id = e.originator_id) FROM "
            f"(SELECT originator_id, max(originator_version) AS version FROM {backend.events_table} "
            f"WHERE {backend.position_column} > ? GROUP BY originator_id) e",
            (after,),
        )
        interval = self.snapshotting_intervals[CompoundProject]
        taken = 0
        for originator, version, snapshotted in rows:
            if int(version) - int(snapshotted or 0) >= interval:
                self.take_snapshot(UUID(str(originator)))
                taken += 1
        return taken

    def take_snapshot(self, aggregate_id: UUID, version: int | None = None, projector_func: Any = None) -> None:
        """eventsourcing's snapshot step, with the compound loaded the trusted way and the snapshot sealed."""
        project, _from = self.load(aggregate_id, upto=version)
        if project is not None:
            self._put_snapshot(project)

    def _take_snapshots(self, processing_event: Any) -> None:
        """eventsourcing's step after a save has committed its events: the snapshots due, taken of the
        compounds just saved (already in memory). Nothing that happens here may fail the command, whose
        events are stored (see :meth:`_put_snapshot`)."""
        saved = processing_event.aggregates
        self._snapshot_due([(saved[event.originator_id], event) for event in processing_event.events
                            if isinstance(saved.get(event.originator_id), CompoundProject)])

    def _snapshot_due(self, saved: list[tuple[CompoundProject, Any]]) -> None:
        """A sealed snapshot of each compound one of whose saved events crossed a snapshot interval.
        Older snapshots are never deleted (a load reads only the latest, and a writer's login may not)."""
        interval = self.snapshotting_intervals[CompoundProject]
        due = {project.code: project for project, event in saved if event.originator_version % interval == 0}
        for project in due.values():
            self._put_snapshot(project)

    # ------------------------------------------------------------------ writing
    @overload
    def update(self, code: str, action: str, user: str,
               command: Callable[[CompoundProject], object]) -> CompoundProject.Event: ...

    @overload
    def update(self, code: str, action: str, user: str, command: Callable[[CompoundProject], object],
               kind: type[E]) -> E: ...

    def update(self, code: str, action: str, user: str, command: Callable[[CompoundProject], object],
               kind: type[Any] = CompoundProject.Event) -> Any:
        """Check that ``user`` may record ``action``; load, run the command, save; re-run from a fresh
        load on a version conflict. Returns the event recorded (of ``kind``)."""
        with self.command() as command_id:
            if self._batch is not None:
                return self._update_in_batch(code, action, user, command, kind)
            for attempt in range(MAX_ATTEMPTS):
                recorded = self._try(code, action, user, command, command_id)
                if recorded:
                    crash_point("after_store")
                    return _of_kind(recorded[-1], kind)
                # another writer saved first: back off, reload, decide again
                time.sleep(random.uniform(0, min(0.25, 0.005 * 2**attempt)))
        raise WriteConflict(f"{normalise_code(code)} kept changing; nothing was recorded, try again")

    def _try(self, code: str, action: str, user: str, command: Callable[[CompoundProject], object],
             command_id: str) -> list[Any]:
        """One try of a command: the events it stored, or none if another writer's came first. An
        IntegrityError from the events' (compound, version) key is either that other writer or this
        command's own events, committed by an insert whose acknowledgement was lost and met again by
        the library's retry: its command id tells them apart."""
        with self.writer_lock(normalise_code(code)):
            project = self.get_project(code)
            loaded = project.version
            self._check(user, action, project)
            self._floor = self._latest(project.modified_on)
            try:
                command(project)
            finally:
                self._floor = None
            new_events = list(project.pending_events)
            try:
                self.save(project)
            except (IntegrityError, ProgrammingError) as error:  # (PostgreSQL's guarded append function refuses
                # the key's conflict as a ProgrammingError: the backend says which is one)
                if isinstance(error, ProgrammingError) and not self.backend.is_version_conflict(error):
                    raise
                mine = self.stored_by(project.id, loaded, len(new_events), command_id, project.code)
                if mine or self.backend.is_version_conflict(error):
                    return mine
                raise
            return new_events

    def writer_lock(self, code: str) -> AbstractContextManager[None]:
        """Held from load to save: one writer of a compound at a time (the backend's lock)."""
        return self.backend.writer_lock(code)

    def register(self, user: str, make: Callable[[Context], CompoundProject]) -> CompoundProject:
        """Register a compound: ``make`` builds it from the context, which is saved (or kept in the
        batch, if one is open). A registration whose commit was not acknowledged is found by its
        command id, not refused as a duplicate; one that lost a race on recording time is made again."""
        with self.command() as command_id:
            if self._batch is not None:
                self._floor = self._batch_floor
                try:
                    project = make(self.context(user))
                finally:
                    self._floor = None
                if project.code in self._batch:
                    raise errors.CompoundAlreadyRegistered(code=project.code)
                self._batch[project.code] = project
                return project
            for _attempt in range(MAX_ATTEMPTS):
                self._floor = self._latest()
                try:
                    project = make(self.context(user))
                finally:
                    self._floor = None
                try:
                    self.save(project)
                except RecordedOutOfOrder:
                    continue
                except (IntegrityError, ProgrammingError) as error:  # (the guarded append function's: see _try)
                    if isinstance(error, ProgrammingError) and not self.backend.is_version_conflict(error):
                        raise
                    if not self.stored_by(project.id, 0, 1, command_id, project.code):
                        raise errors.CompoundAlreadyRegistered(code=project.code) from None
                return project
        raise WriteConflict(f"{normalise_code(project.code)} kept changing; nothing was recorded, try again")

    @contextmanager
    def batch(self, loaded: dict[str, CompoundProject] | None = None) -> Iterator[None]:
        """Run many commands and store all their events in one transaction at the end (or none, if
        the block fails). For a single writer such as the demo: compounds stay loaded in memory (in
        ``loaded``, which may be kept for the next batch) and there is no retry on a conflict."""
        if self._batch is not None:
            raise RuntimeError("batches do not nest")
        self._batch = loaded if loaded is not None else {}
        self._batch_floor = self._latest()
        try:
            yield
            self._store_whole([project for project in self._batch.values() if project.pending_events])
        except BaseException:
            self._batch.clear()  # nothing of the batch was stored: forget what it changed
            raise
        finally:
            self._batch = None

    def _store_whole(self, changed: list[CompoundProject]) -> None:
        """Every pending event of ``changed`` in one transaction of the backend (however many statements
        it takes), then the snapshots that fell due, which may fail without failing the batch."""
        if not changed:
            return
        # In order of recording time, as the log must be (each compound's own are in order already).
        events = sorted(((project, event) for project in changed for event in project.collect_events()),
                        key=lambda pair: pair[1].timestamp)
        with self.backend.appending() as append:
            append([self.mapper.to_stored_event(event) for _project, event in events])
        crash_point("after_store")
        self._snapshot_due(events)

    def _check(self, user: str, action: str, project: CompoundProject) -> None:
        """Refuse unless ``user`` may record ``action`` on ``project``; another contractor's compound is
        refused as if it did not exist (as every read does: ``renovation.services.scope``)."""
        try:
            self.access.check(user, action, project.contractor)
        except errors.NotTheContractor:
            raise errors.CompoundNotFound(code=project.code) from None

    def _update_in_batch(self, code: str, action: str, user: str, command: Callable[[CompoundProject], object],
                         kind: type[E]) -> E:
        assert self._batch is not None
        project = self.get_project(code)
        self._batch[project.code] = project
        self._check(user, action, project)
        before = len(project.pending_events)
        self._floor = max(project.modified_on, self._batch_floor or project.modified_on)
        try:
            command(project)
        except errors.DomainError:
            del project.pending_events[before:]  # a refused command leaves nothing behind
            raise
        finally:
            self._floor = None
        return _of_kind(project.pending_events[-1], kind)

    # ------------------------------------------------------------------ the log
    def iter_notifications(self, topics: list[str] | None = None, batch: int = 1000) -> Iterator[Any]:
        return iter_notifications(self.backend, topics or (), batch)

    def event_count(self) -> int:
        return self.backend.count_events()

    def is_empty(self) -> bool:
        return self.recorder.max_notification_id() is None


def lifted(now: datetime, floor: datetime) -> datetime:
    """The recording time of a clock that reads ``now`` when the store's latest event is at ``floor``
    (later): that event's time, if the clock is at most MAX_LIFT behind; else ClockBehind."""
    if floor - now > MAX_LIFT:
        raise ClockBehind(f"this clock says {now.isoformat(timespec='minutes')}, but the store's latest event is "
                          f"recorded at {floor.isoformat(timespec='minutes')}: check the clock (nothing was recorded)")
    return floor


def _of_kind(event: object, kind: type[E]) -> E:
    if not isinstance(event, kind):
        raise TypeError(f"expected {kind.__name__}, the command recorded {type(event).__name__}")
    return event

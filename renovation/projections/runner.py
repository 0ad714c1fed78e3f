"""Keeping read models current: catch up from the notification log, rebuild, report the lag."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from eventsourcing.utils import TopicError
from sqlalchemy import Column, Connection, Engine, String, Table, insert, select

from renovation.projections.base import Event, Projection, metadata, position_of, set_position, tracking
from renovation.projections.errors import BadEvent
from renovation.projections.rows import Rows
from renovation.store.faults import crash_point

if TYPE_CHECKING:
    from eventsourcing.persistence import Mapper

    from renovation.store.backend import Backend

#: Events applied per transaction while catching up.
BATCH = 1000
#: After catching up this many events, PostgreSQL's statistics of the projection's tables are
#: refreshed at once, so the boards' queries are planned for the rows now there (autovacuum would
#: do it too, within a minute or so).
ANALYZE_AFTER = 50_000

#: Compound codes by aggregate id: only events of registration carry the code.
directory = Table(
    "compound_directory",
    metadata,
    Column("originator_id", String(36), primary_key=True),
    Column("code", String(16), nullable=False, unique=True),
)


class ProjectionStatus(TypedDict):
    """How far a read model has caught up (``renovation projections status``)."""

    projection: str
    position: int
    head: int
    lag: int


class EventSource(Protocol):
    """Where the read models read the log from: the application (its backend and its event mapper)."""

    @property
    def backend(self) -> Backend: ...

    @property
    def mapper(self) -> Mapper[Any]: ...

    @property
    def zone(self) -> tzinfo: ...


class ReadModels:
    """The projections of one store."""

    def __init__(self, source: EventSource, projections: Sequence[Projection], engine: Engine | None = None) -> None:
        self.backend = backend = source.backend
        self.mapper = source.mapper  # decodes the stored events
        self.projections = {projection.name: projection for projection in projections}
        self.zone = source.zone
        for projection in projections:
            projection.zone = source.zone
        #: A given engine is another database (a replay in memory): the store's locks are not its.
        self.on_store = engine is None
        self.engine = engine or backend.engine()
        #: Whether this login writes the read models (on PostgreSQL after ``db roles --apply``, only the
        #: projector's does; the others read them as it left them, and make no table).
        self.writes = not self.on_store or backend.may_write(tracking.name)
        if self.writes:
            with self.engine.begin() as connection:
                self._lock_ddl(connection)
                metadata.create_all(connection)
        self._codes: dict[str, str] = {}
        self._ensure_tracking_rows()

    def _ensure_tracking_rows(self) -> None:
        with self.writing() as connection, connection.begin():
            known = set(connection.execute(select(tracking.c.name)).scalars())
            new = [projection for projection in self.projections.values() if projection.key not in known]
            if new:
                self._lock_ddl(connection)
                known = set(connection.execute(select(tracking.c.name)).scalars())  # as the lock's holder left it
            for projection in new:
                if projection.key not in known:  # new, or a new version of its tables: start afresh
                    projection.prepare(connection)
                    projection.clear(connection)
                    connection.execute(insert(tracking).values(name=projection.key, position=0))

    def _lock_ddl(self, connection: Connection) -> None:
        if self.on_store:
            self.backend.lock_ddl(connection)

    def writing(self) -> Connection:
        """A connection whose transactions take the write lock at once (SQLite) ."""
        return self.engine.connect().execution_options(immediate=True)

    def close(self) -> None:
        self.engine.dispose()

    def head(self) -> int:
        return self.backend.log_head()

    def behind(self, *names: str) -> int:
        """How many positions of the log the named read models (or all) have still to catch up."""
        with self.engine.connect() as connection:
            lowest = min(position_of(connection, self.projections[name].key) for name in names or self.projections)
        return max(self.head() - lowest, 0)

    def catch_up(self, *names: str, upto: int | None = None,
                 progress: Callable[[int], None] | None = None) -> None:
        """Apply every event recorded so far (or up to notification ``upto``) to the named projections."""
        head = self.head() if upto is None else upto
        for name in names or tuple(self.projections):
            with self.engine.connect() as connection:
                if position_of(connection, self.projections[name].key) >= head:
                    continue  # current: no write lock taken
            with self.writing() as connection:
                rows = Rows(connection)
                reached: int | None = None
                start: int | None = None
                while True:
                    with connection.begin():
                        position = position_of(connection, self.projections[name].key, for_update=True)
                        start = position if start is None else start
                        if position != reached:
                            rows.clear()  # another process applied events since our last batch
                        reached = self._apply_batch(rows, self.projections[name], position, head)
                    if reached == position:
                        break
                    crash_point("catch_up_batch")
                    if progress:
                        progress(reached - position)
                if self.on_store and reached is not None and start is not None and reached - start >= ANALYZE_AFTER:
                    self.backend.analyze(connection, [table.name for table in self.projections[name].tables])

    def _apply_batch(self, rows: Rows, projection: Projection, position: int, head: int) -> int:
        """Apply the next batch of events after ``position``; returns the position reached."""
        if position >= head:
            return position
        topics = self.topics(projection)
        notifications = self.backend.recorder.select_notifications(
            start=position + 1, limit=BATCH, stop=head, topics=topics
        )
        for notification in notifications:
            self.apply(rows, projection, notification)
            crash_point("catch_up_apply")
        rows.flush()
        last = notifications[-1].id if len(notifications) == BATCH else head
        set_position(rows.connection, projection.key, last)
        return last

    def apply(self, rows: Rows, projection: Projection, notification: Any, domain_event: Any = None) -> None:
        """Apply one notification (decoded already, or decoded here) to a projection's rows."""
        try:
            if domain_event is None:
                domain_event = self.mapper.to_domain_event(notification)
            fields = {k: v for k, v in vars(domain_event).items() if k not in ("originator_id", "originator_topic")}
            name = type(domain_event).__name__
            originator = str(domain_event.originator_id)
            if name == "Registered":
                self.remember(rows, originator, fields["code"])
            projection.apply(rows, Event(event_type=name, code=self.code_of(rows, originator), fields=fields))
        except (ValueError, TypeError, LookupError, AttributeError, AssertionError, TopicError) as error:
            # An event the application never wrote (a database's error is not one): say which, and stop.
            raise BadEvent(notification.id, projection.name, error) from error

    def process(self, name: str, notifications: Sequence[Any]) -> None:
        """Apply given notifications to one projection, skipping any it has already applied."""
        projection = self.projections[name]
        with self.writing() as connection, connection.begin():
            rows = Rows(connection)
            position = position_of(connection, projection.key, for_update=True)
            for notification in notifications:
                if notification.id <= position:
                    continue
                self.apply(rows, projection, notification)
                position = notification.id
            rows.flush()
            set_position(connection, projection.key, position)

    def topics(self, projection: Projection) -> list[str]:
        from eventsourcing.utils import get_topic

        from renovation.domain.compound import CompoundProject

        names = projection.event_names() | {"Registered"}
        return [get_topic(getattr(CompoundProject, event_name)) for event_name in sorted(names)]

    def remember(self, rows: Rows, originator: str, code: str) -> None:
        # Into the table whatever the cache says (a rolled-back catch-up leaves the code cached but
        # not stored); two projections catching up at once may both write it.
        rows.insert(directory, {"originator_id": originator, "code": code}, ignore_existing=True)
        self._codes[originator] = code

    def code_of(self, rows: Rows, originator: str) -> str:
        code = self._codes.get(originator)
        if code is None:
            found = rows.get(directory, originator)
            if found is None:
                raise LookupError(f"no registration seen for {originator}")
            code = self._codes[originator] = found["code"]
        return code

    def rebuild(self, *names: str, progress: Callable[[int], None] | None = None) -> None:
        """Clear the named projections' tables and replay the whole log into them."""
        chosen = names or tuple(self.projections)
        with self.writing() as connection, connection.begin():
            for name in chosen:
                self.projections[name].clear(connection)
                set_position(connection, self.projections[name].key, 0)
        crash_point("rebuild_cleared")
        self.catch_up(*chosen, progress=progress)

    def status(self) -> list[ProjectionStatus]:
        head = self.head()
        with self.engine.connect() as connection:
            positions = {name: position_of(connection, p.key) for name, p in self.projections.items()}
        return [
            {"projection": name, "position": position, "head": head, "lag": head - min(position, head)}
            for name, position in positions.items()
        ]

"""Keeping read models current: catch up from the notification log, rebuild, report the lag."""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import TYPE_CHECKING, Any, Protocol, TypedDict
from uuid import UUID

from eventsourcing.persistence import JSONTranscoder, Notification, OperationalError
from eventsourcing.utils import resolve_topic
from sqlalchemy import Column, Connection, Engine, String, Table, insert, literal, select
from sqlalchemy.exc import IntegrityError

from renovation.projections.base import (
    Event,
    Handler,
    Projection,
    lock_position,
    metadata,
    position_of,
    set_position,
    tracking,
)
from renovation.projections.errors import BadEvent, BadValue, NotSetUp
from renovation.projections.rows import Rows
from renovation.store.faults import crash_point
from renovation.store.transcoding import UNREADABLE, light_decoder
from renovation.store.workers import command as worker_command
from renovation.store.workers import remove_stale, scratch
from renovation.store.workers import start as start_worker

if TYPE_CHECKING:
    from eventsourcing.persistence import Mapper

    from renovation.store.backend import Backend

#: Events applied per transaction while catching up (on SQLite the store's write lock is held for
#: one batch: about 0.1-0.4 s; 1,000 a batch took the first 300,000 events of a province's first
#: catch-up a fifth longer).
BATCH = 5000
#: Events a batch of a worker making read models apart, in a scratch file (``catch_up_apart``): no other
#: process waits for its lock, and each row is written fewer times (a finding raised, rectified and closed
#: within one batch is inserted as it ends, not inserted and updated twice), in fewer passes of the buffer's
#: forgetting: a province's half, 29 s at 5,000 events a batch, 26 s at 50,000 (a worker's peak 330 → 400
#: MB; benchmarks/RESULTS.md, section 18).
APART_BATCH = 50_000
#: After catching up this many events, PostgreSQL's statistics of the projection's tables are
#: refreshed at once, so the boards' queries are planned for the rows now there (autovacuum would
#: do it too, within a minute or so).
ANALYZE_AFTER = 50_000
#: A catch-up of several read models this many events behind or more is shared out among processes, a
#: group of read models each: on a store that takes several writers at once (PostgreSQL), the database
#: works on one process's statements while another decodes and applies its events, where one process
#: waited for each (a province's first catch-up: benchmarks/RESULTS.md, section 14). On a store that takes
#: one writer at a time (SQLite), only read models that have applied nothing yet (a first catch-up, a
#: rebuild) are shared, and by compound: each worker makes every read model of its part of the compounds in
#: a scratch file of its own (``catch_up_apart``), where no other writer waits for it, and this process
#: copies the parts into the store once all are made (``adopt``). Each event is then decoded and applied
#: once, by the worker of its compound (a read model's rows are each of one compound: its code, or its id
#: in the compound directory); dealt out by read model, each worker decoded what its read models took, and
#: the heaviest group bounded the whole (benchmarks/RESULTS.md, section 18).
SHARE_AFTER = 100_000
#: The temporary folder of a shared catch-up on SQLite (the workers' scratch files) begins so.
SCRATCH_PREFIX = "renovation-catch-up-"
#: The processes a shared catch-up runs in, at most (and no more than the machine's cores).
WORKERS = 2
#: The command line of a worker of a shared catch-up (``renovation.projections.worker``), after the
#: interpreter's path: isolated (``-I``: nothing imported from the working folder, no PYTHON* variables),
#: it first takes where this process finds its modules, then imports the worker's.
WORKER = worker_command("renovation.projections.worker")
#: Held while a process shares a catch-up out: another catch-up of the same process meanwhile (the web
#: board's) is not shared too (on PostgreSQL its read models' positions wait for the first's workers; on
#: SQLite it catches them up itself, and a worker's copy then leaves those out).
_SHARING = threading.Lock()

log = logging.getLogger(__name__)

#: Compound codes by aggregate id: only events of registration carry the code.
directory = Table(
    "compound_directory",
    metadata,
    Column("originator_id", String(36), primary_key=True),
    Column("code", String(16), nullable=False, unique=True),
)


#: What a stored event the application never wrote raises as it is decoded or applied (a database's
#: error is not among them): bad JSON or text, an unknown value type, a bad decimal (ArithmeticError),
#: nesting deeper than the decoder goes (RecursionError), a field missing or of the wrong type.
_EVENT_ERRORS = UNREADABLE


_HEX = re.compile(r"[0-9a-f]{32}\Z")


def uuid_text(stored: Any) -> str:
    """An aggregate id as the events table holds it (hex text on SQLite, a UUID on PostgreSQL) in the
    canonical form ``str(UUID)`` gives, which the compound directory keeps."""
    if isinstance(stored, str) and _HEX.match(stored):
        return f"{stored[:8]}-{stored[8:12]}-{stored[12:16]}-{stored[16:20]}-{stored[20:]}"
    return str(stored if isinstance(stored, UUID) else UUID(stored))


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


class Reopened(EventSource, Protocol):
    """The store opened again, in another process, by a ``ReadModels``'s ``reopen``."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class Source:
    """An event source as a worker of a shared catch-up reads it: the store opened again, in the time zone
    of the read models that started the worker."""

    backend: Backend
    mapper: Mapper[Any]
    zone: tzinfo


@dataclass(frozen=True)
class Task:
    """What a worker of a shared catch-up is given (``renovation.projections.worker``): how to open the
    store again and its ``--db`` value, the zone it is read in, the read models' classes, the head to reach,
    and the events a batch and how Python's collector runs in the process that started it."""

    reopen: Callable[[str], Reopened]
    db: str
    zone: tzinfo
    kinds: list[type[Projection]]
    head: int
    batch: int
    thresholds: tuple[int, int, int]
    #: The scratch SQLite file to make the read models in (``catch_up_apart``; the process that started the
    #: worker copies it into the store), for a store of one writer at a time; None: into the store itself.
    path: str | None = None
    #: The worker's part of the compounds (its number, of how many; ``ReadModels.part``); None: every one.
    part: tuple[int, int] | None = None
    #: The store's file as the process that started the worker opened it (``Backend.identity``): a worker
    #: that opened another (the store restored meanwhile) does nothing.
    store: Any = None


class ReadModels:
    """The projections of one store."""

    def __init__(self, source: EventSource, projections: Sequence[Projection], engine: Engine | None = None,
                 reopen: Callable[[str], Reopened] | None = None) -> None:
        #: Opens the store of a ``--db`` value again (the application's class), in a worker of a shared
        #: catch-up; without it, every catch-up runs in this process.
        self.reopen = reopen
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
        self._ids: dict[Any, str] = {}  # aggregate ids as stored -> as text
        self._decoder: json.JSONDecoder | None = None
        self._classes: dict[str, tuple[type, str, int]] = {}
        self._plain: bool | None = None  # whether the stored state is plain JSON (no cipher, no compression)
        #: The part of the compounds whose events these read models apply, ``(number, parts)``: those whose
        #: aggregate id's ``int % parts`` is ``number`` (a worker's, ``catch_up_apart``); None: every one.
        self.part: tuple[int, int] | None = None
        self._mine: dict[Any, bool] = {}  # aggregate ids as stored -> whether of the part
        self._ensure_tracking_rows()

    def _ensure_tracking_rows(self) -> None:
        with self.writing() as connection, connection.begin():
            known = set(connection.execute(select(tracking.c.name)).scalars())
            new = [projection for projection in self.projections.values() if projection.key not in known]
            if new and not self.writes:
                raise NotSetUp([projection.name for projection in new])
            if new:
                self._lock_ddl(connection)
                known = set(connection.execute(select(tracking.c.name)).scalars())  # as the lock's holder left it
            for projection in new:
                if projection.key not in known:  # new, or a new version of its tables: start afresh
                    projection.prepare(connection)
                    position = self._kept_position(connection, projection.same_rows(known))
                    if position is None:
                        projection.clear(connection)
                    connection.execute(insert(tracking).values(name=projection.key, position=position or 0))

    def _kept_position(self, connection: Connection, earlier: str | None) -> int | None:
        """The position of the earlier version whose rows a new version keeps (only its indexes changed), if
        it is one the log has reached; None (the rows made again from the log) if there is none, or it is 0
        (it applied nothing), or was written by hand (no number, or past the log's head: events would be
        passed over)."""
        if earlier is None:
            return None
        try:
            position = position_of(connection, earlier)
        except BadValue:
            return None
        return position if 0 < position <= self.head() else None

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

    def chosen(self, names: Sequence[str]) -> list[Projection]:
        """The named projections (or all), each once, in the order of their keys: two processes lock
        their positions in the same order, so neither waits for the other while holding one."""
        found = {name: self.projections[name] for name in names or self.projections}
        return sorted(found.values(), key=lambda projection: projection.key)

    def catch_up(self, *names: str, upto: int | None = None,
                 progress: Callable[[str, int], None] | None = None, share: bool = True) -> None:
        """Apply every event recorded so far (or up to notification ``upto``) to the named projections
        (or all), in one pass over the log: each event is read and decoded once, then applied to each
        projection that has not applied it yet. ``progress(name, events)`` hears of each batch. An
        event a projection cannot apply stops that one (``BadEvent``, raised once the others have gone
        on as far as they can), as does a value in its tables that it did not write (``BadValue``).
        Far behind (``SHARE_AFTER``), on a store that takes several writers at once, the projections are
        first caught up by processes of their own (unless not to ``share``; see ``_share``)."""
        head = self.head() if upto is None else upto
        with self.engine.connect() as connection:
            reached = {projection: position_of(connection, projection.key) for projection in self.chosen(names)}
        behind = [projection for projection, position in reached.items() if position < head]
        fresh = all(reached[projection] == 0 for projection in behind)
        if share and len(behind) > 1 and self._shares(head - min(reached[projection] for projection in behind), fresh):
            told = self._share(behind, head, progress)
            # Not into another store put in this one's place meanwhile (its log is not the one read).
            self.backend.still_the_same("its read models were caught up; run the command again")
            with self.engine.connect() as connection:  # what the workers did not reach is caught up here
                now = {projection: position_of(connection, projection.key) for projection in behind}
            behind = [projection for projection in behind if now[projection] < head]
            if progress is not None:  # a worker's events not kept (its part not copied) are not heard of twice
                progress = _heard_once(progress, {projection.name: told.get(projection.name, 0)
                                                  - (now[projection] - reached[projection]) for projection in behind})
        stopped: BadEvent | BadValue | None = None
        while behind:
            try:
                self._catch_up(behind, head, progress)
                break
            except (BadEvent, BadValue) as error:  # its batch was rolled back for all: the others go on without it
                if not error.projections:
                    raise
                stopped = stopped or error
                behind = [projection for projection in behind if projection.name not in error.projections]
        if stopped is not None:
            raise stopped

    def _shares(self, lag: int, fresh: bool) -> bool:
        """Whether a catch-up ``lag`` events behind is shared out among processes (``fresh``: of read models
        that have applied nothing yet)."""
        return (self.on_store and self.reopen is not None and (self.backend.writers_at_once or fresh)
                and lag >= SHARE_AFTER and min(WORKERS, os.cpu_count() or 1) > 1)

    def _share(self, behind: Sequence[Projection], head: int,
               progress: Callable[[str, int], None] | None) -> dict[str, int]:
        """Catch ``behind`` up to ``head`` in processes of their own (``renovation.projections.worker``),
        ``progress`` hearing of their batches as they go: on a store that takes several writers at once, a
        group of read models each (dealt out by weight), written into the store; on one that takes one writer
        at a time, every read model of a part of the compounds each, made in a scratch file of its own and
        copied into the store here once every part is made (``adopt``). The workers are in a session of their
        own (a Ctrl-C is this process's, which then stops them: in its main thread; a catch-up in another
        thread, the web board's, waits for them) and say nothing (their standard error goes nowhere). A
        worker stopped by anything (a bad event, the database, this process gone) ends there: the catch-up
        that follows in this process takes each projection on from where it is (on SQLite, a read model whose
        parts did not all reach one position is not copied: from 0), and meets and says what stopped it as a
        catch-up in one process does. Returns how many events of each read model ``progress`` heard of."""
        import selectors
        import subprocess

        assert self.reopen is not None  # see _shares
        told: dict[str, int] = {}
        if not _SHARING.acquire(blocking=False):
            return told
        with contextlib.ExitStack() as stack:
            stack.callback(_SHARING.release)
            stack.enter_context(_terminated_as_interrupted())
            count = min(WORKERS, os.cpu_count() or 1)
            apart = not self.backend.writers_at_once
            paths: list[str] = []
            if apart:
                try:
                    folder = stack.enter_context(scratch(SCRATCH_PREFIX))
                except OSError as error:  # no temporary folder to make the parts in
                    log.warning("the catch-up is not shared out (no temporary folder for its scratch files: %s): "
                                "this process catches up alone, more slowly", error)
                    return told
                stack.callback(remove_stale, SCRATCH_PREFIX)  # those of a catch-up whose process was killed
                paths = [os.path.join(folder, f"part-{number}.db") for number in range(count)]
            kinds = [[type(projection) for projection in group]
                     for group in ([behind] * count if apart else shares(behind, count))]
            workers: list[subprocess.Popen[bytes]] = []
            heard: list[dict[str, int]] = [{} for _ in kinds]  # by task: the events of each read model so far
            listening: list[tuple[Any, dict[str, int]]] = []  # a worker's output, and what it said so far
            self.engine.dispose()  # this process's idle connections to the read models, while it waits
            heard_all = False
            try:
                for number, group in enumerate(kinds):
                    task = Task(self.reopen, self.backend.db, self.zone, group, head, APART_BATCH if apart else BATCH,
                                gc.get_threshold(),
                                path=paths[number] if apart else None, part=(number, count) if apart else None,
                                store=self.backend.identity())
                    try:
                        worker = start_worker(WORKER, task, bufsize=0)
                        workers.append(worker)
                        assert worker.stdin is not None
                        worker.stdin.close()  # the task is all it reads
                        assert worker.stdout is not None
                        listening.append((worker.stdout, heard[number]))
                    except OSError as error:  # not started, or ended at once: its work is done here
                        log.warning("a worker of the shared catch-up did not start (%s): this process catches up "
                                    "its part, more slowly", error)
                with selectors.DefaultSelector() as selector:
                    for out, said_so_far in listening:
                        selector.register(out, selectors.EVENT_READ, [b"", said_so_far])
                    while selector.get_map():
                        for key, _events in selector.select():
                            chunk = os.read(key.fd, 65536)
                            if not chunk:
                                selector.unregister(key.fileobj)
                                continue
                            *lines, key.data[0] = (key.data[0] + chunk).split(b"\n")
                            for line in lines:  # "name events" after each batch (nothing else is heard)
                                said = line.decode(errors="replace").split()
                                if len(said) == 2 and said[0] in self.projections and said[1].isdigit():
                                    name = said[0]
                                    key.data[1][name] = key.data[1].get(name, 0) + int(said[1])
                                    # Each part of the compounds reads the whole log: a read model is as far
                                    # as its slowest part (a group of read models: its one worker).
                                    reached = min(found.get(name, 0) for found in heard) if apart else \
                                        key.data[1][name]
                                    if progress and reached > told.get(name, 0):
                                        progress(name, reached - told.get(name, 0))
                                        told[name] = reached
                heard_all = True
            finally:
                ended = self._ended(workers, stop=not heard_all)
            if apart and ended and len(workers) == count:
                adopt(self.backend, paths, behind)
        return told

    @staticmethod
    def _ended(workers: Sequence[Any], stop: bool) -> bool:
        """Wait for the workers to end (a worker's output closes as it ends, before its process has), or
        ``stop`` those still at work (this process was stopped: a Ctrl-C); whether each ended by itself,
        with its work done."""
        failed: list[int] = []
        for worker in workers:
            if stop and worker.poll() is None:
                worker.terminate()
            if worker.wait():
                failed.append(worker.returncode)
            if worker.stdout is not None:
                worker.stdout.close()
        if failed and not stop:  # one line, however many stopped
            log.warning("%s of the shared catch-up stopped (exit %s): this process catches up what %s did not, more "
                        "slowly", "a worker" if len(failed) == 1 else f"{len(failed)} workers",
                        ", ".join(map(str, failed)), "it" if len(failed) == 1 else "they")
        return not stop and not failed

    def _catch_up(self, behind: Sequence[Projection], head: int,
                  progress: Callable[[str, int], None] | None) -> None:
        try:
            self._batches(behind, head, progress)
        finally:
            gc.unfreeze()

    def _batches(self, behind: Sequence[Projection], head: int,
                 progress: Callable[[str, int], None] | None) -> None:
        with self.writing() as connection:
            rows = Rows(connection)
            reached: dict[str, int] | None = None
            start: dict[str, int] | None = None
            with connection.begin():
                lowest = min(position_of(connection, p.key) for p in behind)
            if self.on_store and head - lowest >= ANALYZE_AFTER:
                # The log's statistics, for a plan that reads each batch through the position's index: a
                # store filled by an import or a demo may have none yet (the batches then each scanned the
                # whole log on PostgreSQL: 1.7 s apiece on a province).
                self.backend.analyze(connection, [self.backend.recorder.events_table_name])
            while True:
                with connection.begin():
                    positions = {p.key: position_of(connection, p.key, for_update=True) for p in behind}
                    if start is None:
                        start = positions
                        # Tables still empty are wholly in the buffer from here on: no row need be read.
                        rows.complete(*(table for p in behind if positions[p.key] == 0 for table in p.tables
                                        if connection.execute(select(literal(1)).select_from(table).limit(1)).first()
                                        is None))
                    elif positions != reached:
                        rows.clear()  # another process applied events since our last batch
                    reached = self._apply_batch(rows, behind, positions, head)
                if reached == positions:
                    break
                # What the buffer holds stays for many batches: Python's collector no longer goes over
                # it (a million rows, looked at again by every full collection). Plain rows hold no
                # cycles; they are freed when forgotten all the same. The freeze is the process's
                # (every object then alive): garbage in cycles made meanwhile waits for the end of the
                # catch-up, and of another catch-up's in a thread of the web board beside it.
                gc.freeze()
                crash_point("catch_up_batch")
                if progress:
                    for projection in behind:
                        progress(projection.name, reached[projection.key] - positions[projection.key])
            if self.on_store and start is not None and reached is not None:
                caught = [table.name for p in behind if reached[p.key] - start[p.key] >= ANALYZE_AFTER
                          for table in p.tables]
                if caught:
                    self.backend.tidy(connection, caught)
                if any(reached[p.key] - start[p.key] >= BATCH for p in behind):
                    self.backend.checkpoint(connection)

    def _apply_batch(self, rows: Rows, projections: Sequence[Projection], positions: dict[str, int],
                     head: int) -> dict[str, int]:
        """Apply the next batch of events after the lowest of ``positions``; returns the positions reached."""
        lowest = min(positions.values())
        if lowest >= head:
            return positions
        wanted = self._wanted(projections)
        top = max(positions.values())
        stored = self.backend.stored_rows(lowest + 1, head, BATCH, topics=sorted(wanted))
        ids, codes, decode, part, mine = self._ids, self._codes, self.decode, self.part, self._mine
        for position, stored_id, version, topic, state in stored:
            if part is not None:
                ours = mine.get(stored_id)
                if ours is None:
                    try:
                        ours = UUID(uuid_text(stored_id)).int % part[1] == part[0]
                    except _EVENT_ERRORS:  # not an aggregate id (written by hand): the first part meets it
                        ours = part[0] == 0
                    mine[stored_id] = ours
                if not ours:
                    continue
            handlers = wanted[topic]
            if position <= top:  # some have applied it already
                handlers = [(p, handler) for p, handler in handlers if positions[p.key] < position]
                if not handlers:
                    continue
            try:
                originator = ids.get(stored_id) or ids.setdefault(stored_id, uuid_text(stored_id))
                name, fields = decode(originator, version, topic, state)
                if name == "Registered":
                    self.remember(rows, originator, fields["code"])
                code = codes.get(originator) or self.code_of(rows, originator)
                event = Event(name, code, fields)
            except _EVENT_ERRORS as error:  # none of them can apply it
                raise BadEvent(position, [p.name for p, _ in handlers], error) from error
            for projection, handler in handlers:
                if handler is None:
                    continue
                try:
                    handler(rows, event)
                except _EVENT_ERRORS as error:
                    # An event the application never wrote (a database's error is not one): say which, and stop.
                    raise BadEvent(position, projection.name, error) from error
                except BadValue as error:  # a row it read back holds what it never wrote: the row's fault
                    raise error.of(projection.name) from error
            crash_point("catch_up_apply")
        rows.compounds = len(self._codes)
        try:
            rows.flush()
        except _EVENT_ERRORS as error:  # a value the columns cannot take: which event's, the batch does not say
            raise BadEvent(stored[0][0], [p.name for p in projections], error, upto=stored[-1][0]) from error
        except IntegrityError as error:  # a row of a key the table holds (a compound registered under two ids)
            raise BadEvent(stored[0][0], _writing(error.statement, projections), error.orig or error,
                           upto=stored[-1][0]) from error
        last = stored[-1][0] if len(stored) == BATCH else head
        reached = {key: max(position, last) for key, position in positions.items()}
        for key, position in reached.items():
            if position != positions[key]:
                set_position(rows.connection, key, position)
        return reached

    def _wanted(self, projections: Sequence[Projection]) -> dict[str, list[tuple[Projection, Handler | None]]]:
        """By topic, which of these projections take its events, with the handler of each (None: a
        registration the projection has no handler for; every projection reads registrations, which
        name the compound). Only these topics are read from the log."""
        found: dict[str, list[tuple[Projection, Handler | None]]] = {}
        for projection in projections:
            handlers = projection.handlers()
            for topic in self.topics(projection):
                found.setdefault(topic, []).append((projection, handlers.get(self._topic(topic)[1])))
        return found

    def _topic(self, topic: str) -> tuple[type, str, int]:
        """An event class by its topic, with its name and class version (resolved once)."""
        known = self._classes.get(topic)
        if known is None:
            cls = resolve_topic(topic)
            known = self._classes[topic] = (cls, cls.__name__, getattr(cls, "class_version", 1))
        return known

    def decode(self, originator: str, version: int, topic: str, state: bytes) -> tuple[str, dict[str, Any]]:
        """An event's class name and its fields (as the library's domain event holds them, but for
        the aggregate id and topic), decoded from the stored state without building the event object."""
        cls, name, current = self._topic(topic)
        if type(state) is not bytes:
            if isinstance(state, memoryview):
                state = bytes(state)
            else:
                raise TypeError(f"its state is stored as {type(state).__name__}, not bytes")
        if self._plain is None:
            mapper = self.mapper
            self._plain = (mapper.cipher is None and mapper.compressor is None
                           and isinstance(mapper.transcoder, JSONTranscoder))
        if not self._plain:
            event = self.mapper.to_domain_event(Notification(id=0, originator_id=originator,
                                                             originator_version=version, topic=topic, state=state))
            fields = dict(vars(event))
            fields.pop("originator_id", None)
        else:
            fields = self._json().decode(state.decode("utf8"))
            if type(fields) is not dict:
                raise TypeError(f"the state of a {name} is not an object")
            fields["originator_version"] = version
            written = fields.pop("class_version", 1)
            for old in range(written, current):  # an older version of the class: upcast, as the mapper does
                getattr(cls, f"upcast_v{old}_v{old + 1}")(fields)
        fields.pop("originator_topic", None)
        return name, fields

    def _json(self) -> json.JSONDecoder:
        """The transcoder's JSON decoding, with a lighter hook: an object of exactly ``_type_`` and
        ``_data_`` is a value of a registered transcoding (an unknown name is a bad event). Not orjson's
        (``transcoding.line_decoder``): of a state holding a key twice, orjson reads only the last value, where
        the JSON module decodes both and refuses the state if the first does not decode, as the application
        does when it loads the compound; the read models must not apply what it refuses."""
        if self._decoder is None:
            transcoder = self.mapper.transcoder
            assert isinstance(transcoder, JSONTranscoder)  # see decode
            self._decoder = light_decoder(transcoder)
        return self._decoder

    def _run(self, rows: Rows, projection: Projection, event: Event, position: int) -> None:
        try:
            projection.apply(rows, event)
        except _EVENT_ERRORS as error:
            # An event the application never wrote (a database's error is not one): say which, and stop.
            raise BadEvent(position, projection.name, error) from error

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
            event = Event(event_type=name, code=self.code_of(rows, originator), fields=fields)
        except _EVENT_ERRORS as error:
            raise BadEvent(notification.id, projection.name, error) from error
        self._run(rows, projection, event, notification.id)

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

    def rebuild(self, *names: str, progress: Callable[[str, int], None] | None = None, share: bool = True) -> None:
        """Clear the named projections' tables and replay the whole log into them (shared out among
        processes as ``catch_up`` says, unless not to ``share``)."""
        chosen = self.chosen(names)
        with self.writing() as connection, connection.begin():
            for projection in chosen:  # first their positions: a catch-up under way finishes before the clearing
                lock_position(connection, projection.key)  # (not read: a rebuild mends one written by hand)
            for projection in chosen:
                projection.clear(connection)
                set_position(connection, projection.key, 0)
            self._directory_again(connection)
        crash_point("rebuild_cleared")
        self.catch_up(*(projection.name for projection in chosen), progress=progress, share=share)

    def _directory_again(self, connection: Connection) -> None:
        """The compound directory made again from the log's registrations, as a rebuild makes its read models
        again: a code edited into it by hand does not outlive a rebuild (every read model's catch-up reads the
        codes of compounds there). A registration that cannot be read is left out: the catch-up that follows
        meets it and names it."""
        from eventsourcing.utils import get_topic

        from renovation.domain.compound import CompoundProject

        topic = get_topic(CompoundProject.Registered)
        rows = Rows(connection)
        connection.execute(directory.delete())
        rows.complete(directory)
        start, head = 1, self.head()
        while start <= head:
            stored = self.backend.stored_rows(start, head, BATCH, topics=[topic])
            for _position, stored_id, version, _topic, state in stored:
                try:
                    originator = uuid_text(stored_id)
                    code = self.decode(originator, version, topic, state)[1]["code"]
                except _EVENT_ERRORS:
                    continue
                rows.insert(directory, {"originator_id": originator, "code": code}, ignore_existing=True)
            if len(stored) < BATCH:
                break
            start = stored[-1][0] + 1
        rows.flush()
        self._codes.clear()

    def status(self) -> list[ProjectionStatus]:
        head = self.head()
        with self.engine.connect() as connection:
            positions = {name: position_of(connection, p.key) for name, p in self.projections.items()}
        return [
            {"projection": name, "position": position, "head": head, "lag": head - min(position, head)}
            for name, position in positions.items()
        ]


@contextlib.contextmanager
def _terminated_as_interrupted() -> Iterator[None]:
    """A SIGTERM (a service manager's stop, ``kill``) while a shared catch-up's workers work ends it as a Ctrl-C
    does: the workers stopped and their scratch files removed, not left in the temporary folder until the next
    shared catch-up. Only where nothing else handles SIGTERM, and in the main thread (the only one Python runs
    signal handlers in)."""
    import signal

    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


#: The table a read model's statement writes (``rows.Written``'s statements: INSERT, UPDATE, COPY, DELETE).
_WRITTEN_TABLE = re.compile(r'(?:INSERT INTO|UPDATE|COPY|DELETE FROM) "?([^\s"(]+)')


def _writing(statement: str | None, projections: Sequence[Projection]) -> list[str]:
    """The read model (of ``projections``) whose table ``statement`` writes; every one if none is named (its
    batch is rolled back for all: the others go on without the one named)."""
    found = _WRITTEN_TABLE.match(statement or "")
    owners = [projection.name for projection in projections
              if found is not None and any(table.name == found.group(1) for table in projection.tables)]
    return owners or [projection.name for projection in projections]


def _heard_once(progress: Callable[[str, int], None], heard: dict[str, int]) -> Callable[[str, int], None]:
    """``progress``, told of each read model's events but for the first ``heard[name]``, which it heard of
    already (from a worker whose work was not kept)."""
    left = {name: events for name, events in heard.items() if events > 0}
    if not left:
        return progress

    def told(name: str, events: int) -> None:
        skipped = min(left.get(name, 0), events)
        if skipped:
            left[name] -= skipped
        if events > skipped:
            progress(name, events - skipped)

    return told


def catch_up_apart(source: EventSource, task: Task, progress: Callable[[str, int], None]) -> None:
    """A worker's read models (``task.kinds``) of its part of the compounds (``task.part``) caught up to
    ``task.head`` in the scratch SQLite file ``task.path``, which the process that started it copies into the
    store (``adopt``). A bad event stops its read models as in one process: the file holds what each reached
    (the copy leaves out a read model whose parts did not all reach one position)."""
    import sqlite3

    from sqlalchemy import create_engine, event
    from sqlalchemy.pool import NullPool

    if task.store is not None and source.backend.identity() != task.store:
        raise OperationalError("the store was replaced (restored) before this worker opened it")
    path = task.path
    assert path is not None
    engine = create_engine("sqlite://", poolclass=NullPool, creator=lambda: sqlite3.connect(path))

    @event.listens_for(engine, "connect")
    def _scratch(dbapi_connection: Any, _record: Any) -> None:
        # Thrown away after the copy, and made again from the log if the worker stops: nothing to sync.
        dbapi_connection.execute("PRAGMA synchronous=OFF")
        dbapi_connection.execute("PRAGMA journal_mode=MEMORY")  # a batch still rolls back

    models = ReadModels(source, [kind() for kind in task.kinds], engine=engine)
    with engine.begin() as connection:
        # The handlers look rows up by their key (or its first column), and the store's tables keep their own
        # indexes as the rows are copied in: the file's other indexes would be kept up for nothing.
        for index in {index for table in metadata.tables.values() for index in table.indexes if not index.unique}:
            index.drop(connection)
    models.part = task.part
    try:
        models.catch_up(upto=task.head, progress=progress, share=False)
    except (BadEvent, BadValue):  # what they reached is in the file; the catch-up that follows meets it again
        pass
    finally:
        models.close()


def adopt(backend: Backend, paths: Sequence[str], projections: Sequence[Projection]) -> bool:
    """Copy read models made in the scratch SQLite files ``paths`` (every part of the compounds: see
    ``catch_up_apart``), and the compound directory, into the store, with their positions, in one
    transaction; each only if the store's has applied nothing yet (its position 0, its tables empty: another
    process may have caught it up meanwhile, and then it goes on from where it is) and every part reached
    the same position. Returns whether every one was copied."""
    import sqlite3

    if not paths or not all(os.path.isfile(path) for path in paths):
        return False
    engine = backend.engine()
    try:
        with engine.connect() as connection:
            raw: Any = connection.connection.dbapi_connection  # the driver's, in no transaction (ATTACH needs none)
            quote = connection.dialect.identifier_preparer.quote
            parts: list[str] = []
            try:
                for path in paths:
                    raw.execute("ATTACH DATABASE ? AS " + quote(f"part{len(parts)}"), (path,))
                    parts.append(quote(f"part{len(parts)}"))
                raw.execute("BEGIN IMMEDIATE")
                try:
                    # Into the file whose log was read, not another put in its place meanwhile (``restore``).
                    backend.still_the_same("its read models were made apart; nothing was copied")
                    try:
                        copied = len(_copied(raw, quote, parts, projections)) == len(projections)
                    except sqlite3.IntegrityError:
                        # Rows of one key in both parts (a code registered under ids of both: an event the
                        # application never wrote): nothing copied; the catch-up that follows meets and names it.
                        raw.execute("ROLLBACK")
                        return False
                    crash_point("catch_up_adopt")
                    raw.execute("COMMIT")
                except BaseException:
                    if raw.in_transaction:  # (not if a Ctrl-C came once the commit was made)
                        raw.execute("ROLLBACK")
                    raise
            finally:
                for part in parts:
                    raw.execute(f"DETACH DATABASE {part}")
            raw.execute("PRAGMA wal_checkpoint(PASSIVE)")  # as a large catch-up does (``checkpoint``)
            return copied
    finally:
        engine.dispose()


def _copied(raw: Any, quote: Callable[[str], str], parts: Sequence[str],
            projections: Sequence[Projection]) -> list[Projection]:
    """Copy from each of the attached ``parts`` each read model whose tables in the store are still empty, at
    position 0 (another process may have caught one up meanwhile: a board asked for, whose process caught it
    up itself), that every part took to the same position (a bad event stops a part where it is), and the
    compound directory; the read models copied."""
    tracked = quote(tracking.name)
    fresh: list[tuple[Projection, int]] = []
    for projection in projections:
        reached = {tuple(raw.execute(f"SELECT position FROM {part}.{tracked} WHERE name = ?",
                                     (projection.key,)).fetchall()) for part in parts}
        if len(reached) == 1 and (found := next(iter(reached))) and found[0][0] > 0 \
                and _untouched(raw, quote, projection):
            fresh.append((projection, found[0][0]))
    for table in [table for projection, _ in fresh for table in projection.tables] + ([directory] if fresh else []):
        columns = ", ".join(quote(column.name) for column in table.columns)
        verb = "INSERT OR IGNORE" if table is directory else "INSERT"  # the directory: every read model's
        for part in parts:
            raw.execute(f"{verb} INTO main.{quote(table.name)} ({columns}) SELECT {columns} "
                        f"FROM {part}.{quote(table.name)}")
    for projection, position in fresh:
        raw.execute(f"UPDATE main.{tracked} SET position = ? WHERE name = ?", (position, projection.key))
    return [projection for projection, _ in fresh]


def _untouched(raw: Any, quote: Callable[[str], str], projection: Projection) -> bool:
    """Whether a read model in the store is at position 0 with its tables empty."""
    tracked = quote(tracking.name)
    if raw.execute(f"SELECT position FROM main.{tracked} WHERE name = ?", (projection.key,)).fetchall() != [(0,)]:
        return False
    return all(raw.execute(f"SELECT 1 FROM main.{quote(table.name)} LIMIT 1").fetchone() is None
               for table in projection.tables)


def shares(projections: Sequence[Projection], count: int) -> list[list[Projection]]:
    """``projections`` dealt into ``count`` groups (fewer if there are fewer projections) of about equal
    weight: the heaviest first, each to the lightest group so far."""
    groups: list[list[Projection]] = [[] for _ in range(min(count, len(projections)))]
    weights = [0] * len(groups)
    for projection in sorted(projections, key=lambda found: (-found.weight, found.name)):
        lightest = weights.index(min(weights))
        groups[lightest].append(projection)
        weights[lightest] += projection.weight
    return groups

"""The use cases: the only thing the interface calls.

Each write use case loads the compound, runs one command on it and saves the new events. If
another writer saved events on the same compound in between (a version conflict), it reloads and
runs the command again, a bounded number of times.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, JSONTranscoder
from eventsourcing.utils import get_topic

from renovation.domain import errors
from renovation.domain.compound import CompoundProject, Context, NewFinding, normalise_code
from renovation.domain.values import BoqItem
from renovation.services import clock
from renovation.services.access import Access
from renovation.store import backend as store
from renovation.store.faults import crash_point

Recorded = dict[str, Any]

#: How many times a command is re-run after losing a race with another writer.
MAX_ATTEMPTS = 20

#: Most events saved at once on PostgreSQL (see RenovationApp._save_chunks).
PG_SAVE_EVENTS = 1000


class WriteConflict(Exception):
    """Other writers kept changing the compound; the command was not recorded."""


def project_compound(project: Any, events: Iterable[Any]) -> Any:
    """Replays events onto a compound (eventsourcing's default projector also asserts a runtime
    protocol on every event, which costs about half of the time of a load)."""
    for event in events:
        project = event.mutate(project)
    return project


class RenovationApp(Application[UUID]):
    name = "renovation"
    #: A compound is loaded from its latest snapshot plus at most this many events.
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {CompoundProject: 100}
    snapshotting_projectors: ClassVar[dict[type[Any], Any]] = {CompoundProject: project_compound}

    def __init__(
        self,
        db: str = store.DEFAULT_DB,
        *,
        env: dict[str, str] | None = None,
        clock_func: Callable[[], datetime] = clock.now,
        access: Access | None = None,
    ) -> None:
        self.clock = clock_func
        self.access = access or Access(None)
        self._batch: dict[str, CompoundProject] | None = None
        self._lock_connection: Any = None
        persistence = {**store.persistence_env(db), **(env or {})}
        self.persistence = persistence
        with store.prepared(persistence) as prepared:
            super().__init__(env=prepared)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        store.register_transcodings(transcoder)

    # ------------------------------------------------------------------ plumbing
    def context(self, user: str) -> Context:
        return Context(user=user, now=self.clock())

    def get_project(self, code: str) -> CompoundProject:
        code = normalise_code(code)
        if self._batch is not None and code in self._batch:
            return self._batch[code]
        try:
            project = self.repository.get(CompoundProject.create_id(code), projector_func=project_compound)
        except AggregateNotFoundError:
            raise errors.CompoundNotFound(code=code) from None
        assert isinstance(project, CompoundProject)
        self.snapshot_if_stale(project)
        return project

    def snapshot_if_stale(self, project: CompoundProject) -> None:
        """Snapshot a compound whose latest snapshot lags far behind (after an import, say): snapshots
        are otherwise taken only when a save crosses an interval."""
        interval = self.snapshotting_intervals[CompoundProject]
        if self.snapshots is None or project.version < 2 * interval or project.pending_events:
            return
        latest = self.snapshots.recorder.select_events(project.id, desc=True, limit=1)
        if project.version - (latest[0].originator_version if latest else 0) < 2 * interval:
            return
        with suppress(IntegrityError):  # another process took the same snapshot
            self.snapshots.put([CompoundProject.Snapshot.take(project)])
        self.prune_snapshots(project.id, project.version)

    def take_snapshot(self, aggregate_id: UUID, version: int | None = None, projector_func: Any = None) -> None:
        """eventsourcing's snapshot, then the compound's older snapshots dropped: a load only ever
        reads the latest, and a snapshot holds the whole state of a compound."""
        super().take_snapshot(aggregate_id, version, projector_func or project_compound)
        if version is not None:
            self.prune_snapshots(aggregate_id, version)

    def prune_snapshots(self, aggregate_id: UUID, keep_from: int) -> None:
        if self.snapshots is None:
            return
        recorder: Any = self.snapshots.recorder
        postgres = hasattr(recorder.datastore, "schema")
        name = recorder.events_table_name
        table = f'"{recorder.datastore.schema}"."{name}"' if postgres else name
        marker = "%s" if postgres else "?"
        with recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE originator_id = {marker} AND originator_version < {marker}",
                (aggregate_id if postgres else aggregate_id.hex, keep_from),
            )

    @contextmanager
    def writer_lock(self, code: str) -> Iterator[None]:
        """One writer at a time per store (SQLite) or per compound (PostgreSQL, an advisory lock on a
        connection of its own), from load to save: writers queue instead of losing version races."""
        if self._lock_connection is None and "POSTGRES_DBNAME" in self.persistence:
            self._lock_connection = store.advisory_lock_connection(self.persistence)
        if self._lock_connection is None:
            with store.writer_lock(self.persistence):
                yield
            return
        key = f"renovation:{self.persistence.get('POSTGRES_SCHEMA', 'public')}:{normalise_code(code)}"
        with store.advisory_lock(self._lock_connection, key):
            yield

    def close(self) -> None:
        if self._lock_connection is not None:
            self._lock_connection.close()
            self._lock_connection = None
        super().close()

    def update(self, code: str, action: str, user: str, command: Callable[[CompoundProject], object]) -> dict[str, Any]:
        """Check that ``user`` may record ``action``; load, run the command, save; re-run from a fresh
        load on a version conflict.

        Returns what was recorded: the fields of the new event, with the compound's code.
        """
        if self._batch is not None:
            return self._update_in_batch(code, action, user, command)
        for attempt in range(MAX_ATTEMPTS):
            with self.writer_lock(code):
                project = self.get_project(code)
                self.access.check(user, action, project.contractor)
                command(project)
                new_events = list(project.pending_events)
                try:
                    self.save(project)
                except IntegrityError:
                    new_events = []
            if not new_events:  # another writer saved first: back off, reload, decide again
                time.sleep(random.uniform(0, min(0.25, 0.005 * 2**attempt)))
                continue
            crash_point("after_store")
            return {"code": project.code, **event_fields(new_events[-1])}
        raise WriteConflict(f"{normalise_code(code)} kept changing; nothing was recorded, try again")

    @contextmanager
    def batch(self, loaded: dict[str, CompoundProject] | None = None) -> Iterator[None]:
        """Run many commands and store all their events in one transaction at the end (or none, if
        the block fails). For a single writer such as the demo: compounds stay loaded in memory (in
        ``loaded``, which may be kept for the next batch) and there is no retry on a conflict."""
        if self._batch is not None:
            raise RuntimeError("batches do not nest")
        self._batch = loaded if loaded is not None else {}
        try:
            yield
            changed = [project for project in self._batch.values() if project.pending_events]
            for chunk in self._save_chunks(changed):
                self.save(*chunk)
                crash_point("after_store")
        except BaseException:
            self._batch.clear()  # nothing of the batch was stored: forget what it changed
            raise
        finally:
            self._batch = None

    def _save_chunks(self, changed: list[CompoundProject]) -> list[list[CompoundProject]]:
        """One save for the batch on SQLite. On PostgreSQL saves of at most ~1000 events: eventsourcing
        inserts a save's events in one pipelined statement, and with a few thousand events that
        statement's parameter hangs the connection (seen with psycopg 3.3 here)."""
        if not changed or "POSTGRES_DBNAME" not in self.persistence:
            return [changed] if changed else []
        chunks: list[list[CompoundProject]] = [[]]
        size = 0
        for project in changed:
            if size and size + len(project.pending_events) > PG_SAVE_EVENTS:
                chunks.append([])
                size = 0
            chunks[-1].append(project)
            size += len(project.pending_events)
        return chunks

    def _update_in_batch(self, code: str, action: str, user: str,
                         command: Callable[[CompoundProject], object]) -> dict[str, Any]:
        assert self._batch is not None
        project = self.get_project(code)
        self._batch[project.code] = project
        self.access.check(user, action, project.contractor)
        before = len(project.pending_events)
        try:
            command(project)
        except errors.DomainError:
            del project.pending_events[before:]  # a refused command leaves nothing behind
            raise
        return {"code": project.code, **event_fields(project.pending_events[-1])}

    # ------------------------------------------------------------------ registration and lifecycle
    def register_compound(
        self,
        *,
        code: str,
        name: str,
        district: str,
        contractor: str,
        households: int,
        contract_value: Decimal,
        planned_start: date,
        planned_finish: date,
        user: str,
    ) -> str:
        code = normalise_code(code)
        self.access.check(user, "register")
        project = CompoundProject.register(
            code=code,
            name=name,
            district=district,
            contractor=contractor,
            households=households,
            contract_value=contract_value,
            planned_start=planned_start,
            planned_finish=planned_finish,
            ctx=self.context(user),
        )
        if self._batch is not None:
            if code in self._batch:
                raise errors.CompoundAlreadyRegistered(code=code)
            self._batch[code] = project
            return project.code
        try:
            self.save(project)
        except IntegrityError:
            raise errors.CompoundAlreadyRegistered(code=code) from None
        return project.code

    def record_illegal_structures(self, code: str, count: int, *, user: str) -> Recorded:
        return self.update(code, "demolition", user, lambda p: p.record_illegal_structures(count, self.context(user)))

    def clear_illegal_structures(self, code: str, *, user: str) -> Recorded:
        return self.update(code, "demolition", user, lambda p: p.clear_illegal_structures(self.context(user)))

    def set_bill_of_quantities(self, code: str, items: list[BoqItem], *, user: str) -> Recorded:
        return self.update(code, "boq", user, lambda p: p.set_bill_of_quantities(items, self.context(user)))

    def approve_variation(self, code: str, item: str, quantity: Decimal, reason: str, *, user: str) -> Recorded:
        return self.update(
            code, "variation", user, lambda p: p.approve_variation(item, quantity, reason, self.context(user))
        )

    def start_construction(self, code: str, on: date | None = None, *, user: str) -> Recorded:
        return self.update(code, "lifecycle", user, lambda p: p.start_construction(*self._on(on, user)))

    def complete_construction(self, code: str, on: date | None = None, *, user: str) -> Recorded:
        return self.update(code, "lifecycle", user, lambda p: p.complete_construction(*self._on(on, user)))

    def accept(self, code: str, on: date | None = None, *, user: str) -> Recorded:
        return self.update(code, "lifecycle", user, lambda p: p.accept(*self._on(on, user)))

    def hand_over(self, code: str, on: date | None = None, operator: str | None = None, *, user: str) -> Recorded:
        return self.update(
            code, "lifecycle", user, lambda p: p.hand_over(self._on(on, user)[0], operator, self.context(user))
        )

    def _on(self, on: date | None, user: str) -> tuple[date, Context]:
        ctx = self.context(user)
        return on or ctx.now.date(), ctx

    def _at(self, at: datetime | None, user: str) -> tuple[datetime, Context]:
        ctx = self.context(user)
        return at or ctx.now, ctx

    # ------------------------------------------------------------------ site
    def record_inspection(
        self,
        code: str,
        kind: str,
        *,
        at: datetime | None = None,
        findings: list[NewFinding] | None = None,
        due: date | None = None,
        user: str,
    ) -> Recorded:
        """What was recorded, with ``finding_ids``."""
        recorded = self.update(
            code, "inspect", user, lambda p: p.record_inspection(kind, *self._with_findings(at, findings, due, user))
        )
        recorded["finding_ids"] = [finding.finding_id for finding in recorded["findings"]]
        return recorded

    def _with_findings(
        self, at: datetime | None, findings: list[NewFinding] | None, due: date | None, user: str
    ) -> tuple[datetime, list[NewFinding], date | None, Context]:
        moment, ctx = self._at(at, user)
        return moment, findings or [], due, ctx

    def rectify_finding(
        self, code: str, finding_id: str, *, note: str | None = None, at: datetime | None = None, user: str
    ) -> Recorded:
        return self.update(code, "rectify", user, lambda p: p.rectify_finding(finding_id, note, *self._at(at, user)))

    def close_finding(
        self, code: str, finding_id: str, *, note: str | None = None, at: datetime | None = None, user: str
    ) -> Recorded:
        return self.update(code, "close", user, lambda p: p.close_finding(finding_id, note, *self._at(at, user)))

    def reopen_finding(
        self, code: str, finding_id: str, *, note: str | None = None, at: datetime | None = None, user: str
    ) -> Recorded:
        return self.update(code, "reopen", user, lambda p: p.reopen_finding(finding_id, note, *self._at(at, user)))

    def sample_material(
        self,
        code: str,
        *,
        material: str,
        batch: str,
        regime: str,
        witness: str | None = None,
        at: datetime | None = None,
        user: str,
    ) -> Recorded:
        return self.update(
            code, "sample", user, lambda p: p.sample_material(material, batch, regime, witness, *self._at(at, user))
        )

    def record_material_result(
        self,
        code: str,
        sample_id: str,
        *,
        passed: bool,
        lab: str,
        report: str | None = None,
        at: datetime | None = None,
        user: str,
    ) -> Recorded:
        return self.update(
            code,
            "result",
            user,
            lambda p: p.record_material_result(sample_id, passed, lab, report, *self._at(at, user)),
        )

    # ------------------------------------------------------------------ metering and scoring
    def measure(self, code: str, item: str, period: str, quantity: Decimal, *, user: str) -> Recorded:
        return self.update(code, "meter", user, lambda p: p.measure(item, period, quantity, self.context(user)))

    def correct_measurement(self, code: str, entry_id: str, quantity: Decimal, reason: str, *, user: str) -> Recorded:
        return self.update(
            code, "correct", user, lambda p: p.correct_measurement(entry_id, quantity, reason, self.context(user))
        )

    def score(
        self,
        code: str,
        period: str,
        scores: dict[str, Decimal],
        *,
        correction: bool = False,
        reason: str | None = None,
        user: str,
    ) -> Recorded:
        return self.update(
            code,
            "score",
            user,
            lambda p: p.score(period, scores, self.context(user), correction=correction, reason=reason),
        )

    def receive_feedback(
        self, code: str, channel: str, text: str, *, at: datetime | None = None, user: str
    ) -> Recorded:
        return self.update(code, "feedback", user, lambda p: p.receive_feedback(channel, text, *self._at(at, user)))

    def resolve_feedback(
        self, code: str, ticket_id: str, note: str, *, at: datetime | None = None, user: str
    ) -> Recorded:
        return self.update(code, "feedback", user, lambda p: p.resolve_feedback(ticket_id, note, *self._at(at, user)))

    # ------------------------------------------------------------------ queries
    def compound_codes(self) -> list[str]:
        """Codes of every registered compound, in registration order."""
        topic = get_topic(CompoundProject.Registered)
        codes = []
        for notification in self.iter_notifications(topics=[topic]):
            codes.append(self.mapper.to_domain_event(notification).code)  # type: ignore[attr-defined]
        return codes

    def iter_notifications(self, topics: list[str] | None = None, batch: int = 1000) -> Iterator[Any]:
        start = 1
        while True:
            page = self.recorder.select_notifications(start, batch, topics=topics or ())
            yield from page
            if len(page) < batch:
                return
            start = page[-1].id + 1

    def compound(self, code: str, *, hide_pending_blind: bool = False) -> dict[str, Any]:
        """One compound's state as plain values."""
        return describe(self.get_project(code), hide_pending_blind=hide_pending_blind)


    def event_count(self) -> int:
        """How many events are stored (on PostgreSQL notification ids have gaps, so they are counted)."""
        recorder: Any = self.recorder
        if hasattr(recorder.datastore, "schema"):  # PostgreSQL
            table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
        else:
            table = f'"{recorder.events_table_name}"'
        with recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT COUNT(*) AS n FROM {table}")  # the table names are ours, not input
            row = cursor.fetchone()
        return int(row["n"] if isinstance(row, dict) else row[0])

    def is_empty(self) -> bool:
        return self.recorder.max_notification_id() is None


_BASE_FIELDS = {"originator_id", "originator_version", "originator_topic", "timestamp"}


def event_fields(event: object) -> dict[str, Any]:
    """An event's own fields as plain values, with its recording time as ``recorded_at``."""
    fields = {k: v for k, v in vars(event).items() if k not in _BASE_FIELDS}
    fields["recorded_at"] = vars(event)["timestamp"]
    return fields


def describe(project: CompoundProject, *, hide_pending_blind: bool = False) -> dict[str, Any]:
    """The compound as plain values; for a contractor, a blind sample without result does not exist."""
    findings = list(project.findings.values())
    samples = [
        s for s in project.samples.values() if not (hide_pending_blind and s.regime == "blind" and s.passed is None)
    ]
    return {
        "code": project.code,
        "name": project.name,
        "district": project.district,
        "contractor": project.contractor,
        "households": project.households,
        "status": project.status,
        "contract_value": project.contract_value,
        "metered_value": project.metered_value(),
        "planned_start": project.planned_start,
        "planned_finish": project.planned_finish,
        "started_on": project.started_on,
        "completed_on": project.completed_on,
        "accepted_on": project.accepted_on,
        "handed_over_on": project.handed_over_on,
        "operator": project.operator,
        "om_end": project.om_end,
        "illegal_structures": project.illegal_structures,
        "boq_items": len(project.boq),
        "entries": len(project.entries),
        "inspections": project.inspections,
        "findings_open": sum(1 for f in findings if f.status != "closed"),
        "findings_closed": sum(1 for f in findings if f.status == "closed"),
        "samples": len(samples),
        "samples_pending": sum(1 for s in samples if s.passed is None),
        "rejected_batches": project.rejected_batches(),
        "scored_periods": sorted(project.scores),
        "tickets_open": sum(1 for t in project.tickets.values() if t.resolved_at is None),
        "events": project.version,
    }

"""Bulk export and import of the event log as JSON lines, one stored event a line, in log order.

A line is ``{"originator_id": ..., "originator_version": n, "topic": ..., "state": {...}}``, the state
being the stored JSON itself, so a file is as readable as the store. Import streams the file twice:
first it validates every line (nothing is written if one is bad), then it stores the events in large
batches, skipping those already stored, so importing the same file again adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent

from renovation.application import RenovationApp

BATCH = 5000
MAX_LINE = 1_000_000  # bytes; a compound's bill of quantities is far smaller


class BadImport(ValueError):
    """The file cannot be imported; the message names the line."""


def export_events(app: RenovationApp, out: IO[str], progress: Callable[[int], None] | None = None) -> int:
    count = 0
    for notification in app.iter_notifications(batch=BATCH):
        line = {
            "originator_id": str(notification.originator_id),
            "originator_version": notification.originator_version,
            "topic": notification.topic,
            "state": json.loads(notification.state),
        }
        out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
        out.write("\n")
        count += 1
        if progress and count % 1000 == 0:
            progress(1000)
    return count


@dataclass(frozen=True)
class Row:
    number: int
    event: StoredEvent


def _topics() -> frozenset[str]:
    from eventsourcing.utils import get_topic

    from renovation.domain.compound import CompoundProject

    return frozenset(
        get_topic(value) for value in vars(CompoundProject).values()
        if isinstance(value, type) and issubclass(value, CompoundProject.Event) and value is not CompoundProject.Event
    )


def read_rows(path: Path) -> Iterator[Row]:
    """Every line as a stored event, or BadImport naming the first bad line."""
    topics = _topics()
    try:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if len(raw) > MAX_LINE:
                    raise BadImport(f"line {number}: longer than {MAX_LINE} bytes")
                if not raw.strip():
                    continue
                yield Row(number, _parse(number, raw, topics))
    except OSError as error:
        raise BadImport(f"{path}: {error.strerror}") from None


def _parse(number: int, raw: bytes, topics: frozenset[str]) -> StoredEvent:
    try:
        line = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise BadImport(f"line {number}: not UTF-8") from None
    except json.JSONDecodeError as error:
        raise BadImport(f"line {number}: not JSON ({error.msg})") from None
    if not isinstance(line, dict) or set(line) != {"originator_id", "originator_version", "topic", "state"}:
        raise BadImport(f"line {number}: expected an object with originator_id, originator_version, topic, state")
    try:
        originator_id = UUID(str(line["originator_id"]))
    except ValueError:
        raise BadImport(f"line {number}: originator_id is not a UUID") from None
    version = line["originator_version"]
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= 10**9:
        raise BadImport(f"line {number}: originator_version is not a positive integer")
    if line["topic"] not in topics:
        raise BadImport(f"line {number}: unknown event topic {str(line['topic'])[:80]!r}")
    if not isinstance(line["state"], dict):
        raise BadImport(f"line {number}: state is not an object")
    state = json.dumps(line["state"], ensure_ascii=False, separators=(",", ":")).encode()
    return StoredEvent(originator_id=originator_id, originator_version=version, topic=line["topic"], state=state)


def validate(app: RenovationApp, path: Path, progress: Callable[[int], None] | None = None) -> int:
    """Check every line: well formed, decodable into its event, versions consecutive per compound
    (continuing what the store already holds). Returns the number of lines."""
    from renovation.domain.compound import CompoundProject

    last: dict[UUID, int] = {}
    count = 0
    for row in read_rows(path):
        event = row.event
        try:
            decoded = app.mapper.to_domain_event(event)
            check_fields(decoded)
        except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError) as error:
            raise BadImport(f"line {row.number}: not a valid {event.topic.rsplit('.', 1)[-1]}: {error}") from None
        originator = UUID(str(event.originator_id))
        if originator not in last:
            last[originator] = _stored_version(app, originator) if event.originator_version > 1 else 0
        if event.originator_version == 1:
            code = getattr(decoded, "code", None)
            if not isinstance(code, str) or CompoundProject.create_id(code) != originator:
                raise BadImport(f"line {row.number}: the aggregate id does not follow from the compound code")
        expected = last[originator] + 1
        if event.originator_version > expected:
            raise BadImport(f"line {row.number}: version {event.originator_version} of {originator} "
                            f"follows {last[originator]}: events are missing")
        last[originator] = max(last[originator], event.originator_version)
        count += 1
        if progress and count % 1000 == 0:
            progress(1000)
    return count


def check_fields(event: object) -> None:
    """The event has exactly its class's fields, each of its declared type (decimals finite)."""
    import dataclasses
    from datetime import datetime

    from renovation.domain import compound

    fields = dataclasses.fields(event)  # type: ignore[arg-type]
    present, expected = set(vars(event)), {field.name for field in fields}
    if present != expected:
        raise ValueError(f"fields {sorted(present ^ expected)} do not match")
    for field in fields:
        if field.name in ("originator_id", "originator_version", "originator_topic"):
            continue  # set by the store, or checked with the topic
        # The annotations of our own events are strings naming types that compound.py imports.
        hint = datetime if field.name == "timestamp" else eval(str(field.type), vars(compound))
        if not _conforms(getattr(event, field.name), hint):
            raise TypeError(f"{field.name} is not {field.type}")


def _conforms(value: object, hint: object) -> bool:
    import dataclasses
    import types
    import typing
    from decimal import Decimal

    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        return any(_conforms(value, option) for option in typing.get_args(hint))
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(_conforms(element, item) for element in value)
    if hint is type(None):
        return value is None
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is Decimal:
        return isinstance(value, Decimal) and value.is_finite()
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        from renovation.domain import values

        return isinstance(value, hint) and all(
            _conforms(getattr(value, field.name), eval(str(field.type), vars(values)))
            for field in dataclasses.fields(hint)
        )
    return isinstance(value, hint) if isinstance(hint, type) else True


def _stored_version(app: RenovationApp, originator: UUID) -> int:
    found = app.recorder.select_events(originator, desc=True, limit=1)
    return found[0].originator_version if found else 0


def import_events(app: RenovationApp, path: Path, progress: Callable[[int], None] | None = None) -> int:
    """Store the file's events not yet stored, a batch per transaction. Returns how many were added."""
    known: dict[UUID, int] = {}
    grown: dict[UUID, int] = {}  # compounds that receive events, and their first new version
    added = 0
    batch: list[StoredEvent] = []
    for row in read_rows(path):
        originator = UUID(str(row.event.originator_id))
        if originator not in known:
            known[originator] = _stored_version(app, originator)
        if row.event.originator_version > known[originator]:
            grown.setdefault(originator, row.event.originator_version)
            batch.append(row.event)
            known[originator] = row.event.originator_version
        if len(batch) >= BATCH:
            added += _store(app, batch)
            batch = []
        if progress and row.number % 1000 == 0:
            progress(1000)
    if batch:
        added += _store(app, batch)
    _snapshot(app, {originator: (first, known[originator]) for originator, first in grown.items()})
    return added


def _store(app: RenovationApp, batch: list[StoredEvent]) -> int:
    try:
        app.recorder.insert_events(batch)
    except IntegrityError:
        raise BadImport("another writer stored some of these events meanwhile; run the import again") from None
    return len(batch)


def _snapshot(app: RenovationApp, grown: dict[UUID, tuple[int, int]]) -> None:
    """Snapshots for compounds that grew past a snapshot interval, so that loading them stays fast."""
    interval = next(iter(app.snapshotting_intervals.values()))
    for originator, (first, last) in grown.items():
        version = last - last % interval
        if version >= max(first, interval):
            app.take_snapshot(originator, version=version)

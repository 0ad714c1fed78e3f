"""Bulk export and import of the event log as JSON lines, one stored event a line, in log order.

A line is ``{"originator_id": ..., "originator_version": n, "topic": ..., "state": {...}}``, the state
being the stored JSON itself, so a file is as readable as the store. Import streams the file once,
checking every line and storing the events in large batches within one transaction (nothing is
stored if a line is bad, or if the import is killed); events already stored are skipped, so
importing the same file again adds nothing. An event whose compound and version hold another event
here (an offline copy's work on a compound that moved on) is a conflict: refused, or with
``--rebase`` re-applied on the current state (``renovation.services.rebase``). Its memory is
bounded: a batch of lines, and the state of at most ``RESIDENT_COMPOUNDS`` compounds (the others
wait in a temporary file).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import functools
import gc
import hashlib
import itertools
import json
import logging
import os
import pickle
import queue
import re
import sqlite3
import stat
import tempfile
import threading
import typing
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any
from uuid import UUID, uuid5

from eventsourcing.persistence import JSONTranscoder, StoredEvent
from eventsourcing.utils import get_topic

from renovation.domain.compound import CompoundProject
from renovation.domain.errors import DomainError
from renovation.domain.rerun import ACTIONS, DoesNotFollow, rerun, written_alike
from renovation.domain.shapes import shape_of, value_fields
from renovation.services.application import RenovationApp
from renovation.services.clock import BadTimeZone
from renovation.services.errors import BadRequest
from renovation.services.rebase import CommandHeldAsOther, Rebase
from renovation.services.writer import WriteConflict
from renovation.store import photos as photo_store
from renovation.store.faults import crash_point
from renovation.store.photos import Photo
from renovation.store.timeorder import RecordedOutOfOrder
from renovation.store.transcoding import light_decoder, line_decoder, line_encoder
from renovation.store.workers import command as worker_command
from renovation.store.workers import remove_stale, scratch
from renovation.store.workers import start as start_worker

BATCH = 5000
log = logging.getLogger(__name__)
#: The key of a photo's line in an export.
PHOTO_KEY = "photo"
#: How a photo's line begins.
PHOTO_LINE = b'{"' + PHOTO_KEY.encode() + b'"'
#: Photo bytes an import holds before it writes them (in its transaction, with the next events).
PHOTO_BUFFER = 50_000_000
#: The namespace of the command ids made for a copy's events that have none (``Importer.to_rebase``).
REBASED_COMMANDS = UUID("6f1d2c3e-9a4b-5c6d-8e7f-0a1b2c3d4e5f")
#: How far ahead of the importing clock an imported event's recording time may be.
FUTURE_TOLERANCE = timedelta(hours=1)
MAX_LINE = 1_000_000  # bytes; a compound's bill of quantities is far smaller
#: Compounds an import holds in memory at most (about 0.1 MB each late in their life); the state of
#: any others is spilled to a temporary file. ``RENOVATION_IMPORT_COMPOUNDS`` changes it. A province's
#: programme (3,000 compounds) fits: a file in log order visits every compound day after day, so with
#: fewer residents than compounds the rest are read back and spilled again on every visit (the
#: province's import took 3 to 6 times as long with 2,000).
RESIDENT_COMPOUNDS = 4000


class BadImport(ValueError):
    """The file cannot be imported; the message names the line."""


class Unshared(Exception):
    """A shared import's worker could not check its lines: the import is made again in one process."""


class Refused(BadImport):
    """A line whose command's rules refuse it, or record otherwise."""


#: The first line of an export: what the events' store was (its time zone, in which their days are
#: counted). A file without it (written before exports had one) is read as before.
HEADER_KEY = "renovation_export"


def export_events(app: RenovationApp, out: IO[str], progress: Callable[[int], None] | None = None) -> int:
    """Write the header line, every stored photo (a line each: its name, type, capture time and bytes
    in base64), then every stored event, in log order; returns how many events."""
    from renovation.store import photos

    out.write(json.dumps({HEADER_KEY: 1, "time_zone": app.zone_name}, separators=(",", ":")))
    out.write("\n")
    for photo in photos.every(app.backend):
        out.write(json.dumps({PHOTO_KEY: photo.sha256, "media_type": photo.media_type, "taken_at": photo.taken_at,
                              "data": base64.b64encode(photo.data).decode()}, separators=(",", ":")))
        out.write("\n")
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


#: The temporary folders of imports: ``renovation-import-<pid>-<random>``.
SPILL_PREFIX = "renovation-import-"


def _digest(topic: str, encoded: bytes) -> bytes:
    """8 bytes that tell one stored event from another (see ``Importer.digests``)."""
    return hashlib.blake2b(topic.encode() + b"\0" + encoded, digest_size=8).digest()


def remove_stale_spills() -> int:
    """Remove the temporary folders of imports whose process is gone (killed before it could clean
    up); returns how many."""
    return remove_stale(SPILL_PREFIX)


class CompoundStates:
    """The state of each compound an import has touched, at most ``resident`` of them in memory and
    the rest pickled into a temporary SQLite file, so that memory does not grow with the file.

    When memory is full, the compound used most recently before the one asked for is spilled (not
    the least recently used): a file in log order visits its compounds round and round, day after
    day, and under that pattern the least recently used one is always the next needed, whereas
    keeping the residents put lets all but one slot hit."""

    def __init__(self, resident: int) -> None:
        self.resident = resident
        self.memory: OrderedDict[UUID, CompoundProject] = OrderedDict()
        self.spilled: sqlite3.Connection | None = None
        self.directory: tempfile.TemporaryDirectory[str] | None = None
        self.spills = 0

    def get(self, originator: UUID) -> CompoundProject | None:
        compound = self.memory.get(originator)
        if compound is not None:
            self.memory.move_to_end(originator)
            return compound
        if self.spilled is None:
            return None
        row = self.spilled.execute("SELECT state FROM spilled WHERE id = ?", (originator.bytes,)).fetchone()
        return None if row is None else pickle.loads(row[0])

    def put(self, originator: UUID, compound: CompoundProject) -> None:
        if originator not in self.memory and len(self.memory) >= self.resident:
            self.spill(*self.memory.popitem(last=True))
        self.memory[originator] = compound
        self.memory.move_to_end(originator)

    def spill(self, originator: UUID, compound: CompoundProject) -> None:
        if self.spilled is None:
            self.directory = scratch(SPILL_PREFIX)
            self.spilled = sqlite3.connect(Path(self.directory.name) / "compounds.db", isolation_level=None)
            self.spilled.executescript("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
                                       "CREATE TABLE spilled (id BLOB PRIMARY KEY, state BLOB NOT NULL)")
        self.spilled.execute("INSERT OR REPLACE INTO spilled VALUES (?, ?)",
                             (originator.bytes, pickle.dumps(compound, protocol=pickle.HIGHEST_PROTOCOL)))
        self.spills += 1

    def close(self) -> None:
        self.memory.clear()
        if self.spilled is not None:
            self.spilled.close()
            self.spilled = None
        if self.directory is not None:
            self.directory.cleanup()
            self.directory = None


class Importer:
    """One pass over the file: each line decoded once (state values included), checked against its
    event class, applied to its compound (see :class:`CompoundStates`), re-encoded canonically, and
    stored in batches inside ONE transaction, so a bad line anywhere leaves the store as it was."""

    def __init__(self, app: RenovationApp, *, batch: int | None = None, resident: int | None = None,
                 rebase: Rebase | None = None, photo_limit: int = 10_000_000) -> None:
        self.app = app
        #: With ``import --rebase``: the copy's work that cannot be appended as it is, re-applied at the end.
        self.rebase = rebase
        self.batch = import_batch_size() if batch is None else batch
        self.transcoder: Any = app.mapper.transcoder
        if not isinstance(self.transcoder, JSONTranscoder):  # a file's lines are JSON: see export_events
            raise TypeError("an import reads its lines with the JSON transcoding")
        self.read_line = line_decoder(self.transcoder)  # a line's bytes: faster, the same values (but see read)
        self.light = light_decoder(self.transcoder)  # the JSON module's reading
        self.encode = line_encoder(self.transcoder)
        #: The state of the line read last and its encoding, made to tell whether the line is as exported.
        self.encoded: tuple[dict[str, Any], bytes] | None = None
        self.classes = _event_classes()
        #: Each compound's id, read once from its canonical spelling (one object for every line of it).
        self.ids: dict[str, UUID] = {}
        self.known: dict[UUID, int] = {}  # the last version of each compound seen (~200 bytes each)
        self.seen: dict[UUID, int] = {}  # the version of the file's last line of each compound
        #: Per compound, the first version this import adds and an 8-byte digest of each event it adds
        #: (a line repeated later in the file must be the same event: 8 bytes an event, not its state).
        self.digests: dict[UUID, tuple[int, bytearray]] = {}
        self.compounds = CompoundStates(resident_compounds() if resident is None else resident)
        self.lines = 0
        self.added = 0
        #: The latest recording time stored or imported so far: no event may be recorded before it.
        self.latest = app.backend.latest_recorded_time()
        #: What an event without a command id may not precede: the store's latest recording time before
        #: this import, and every event with a command id imported before it.
        self.legacy_floor = self.latest
        #: The commands of this file's events (added, or to re-apply) and of the stored events of each
        #: compound it adds to (read when it first does), by compound: a command is recorded once.
        self.commands: set[int] = set()
        self.stored_commands: set[int] = set()
        self.commands_read: set[UUID] = set()
        #: The zone the file's header gives an empty store, kept in the import's transaction, and the
        #: application's zone before it (given back if the import fails).
        self.new_zone: str | None = None
        #: Photos read from the file and not written yet, and the names of every photo the file holds.
        self.photos: list[Photo] = []
        self.photo_bytes = 0  # theirs
        self.photo_names: set[str] = set()
        self.photo_limit = photo_limit
        self.zone_before: tuple[str | None, Any, str | None] | None = None
        #: No event is recorded after this (the clock's now, and an hour for another machine's clock):
        #: one event from the future would hold every later recording time up to it.
        self.horizon = app.clock() + FUTURE_TOLERANCE
        #: Whether this importer checks that recording times follow the file (unless its lines are shared
        #: out: the importing process checks it, of each line in turn); the last event replayed's time, and
        #: whether it has a command id.
        self.in_order = True
        self.recorded: tuple[datetime, bool] | None = None
        #: Worker processes that check the file's lines (``Shared``), if any (0: this process checks them); in a
        #: worker: its number and how many there are (the compounds whose id's ``int % count`` is its number
        #: are its).
        self.workers = 0
        self.share: tuple[int, int] | None = None
        self.uuids: dict[bytes, UUID] = {}  # the compounds of the workers' lines, by their ids' bytes
        #: Called once every line is checked and written, as the import's transaction is about to commit.
        self.before_commit: Callable[[], None] | None = None

    def run(self, path: Path, progress: Callable[[int], None] | None = None) -> None:
        remove_stale_spills()
        try:
            self.stream(path, progress)
        except RecordedOutOfOrder as error:  # checked under the table's lock: another writer came between
            self.give_back_zone()
            raise WriteConflict(f"another writer recorded meanwhile, later than this file's events ({error}); "
                                "nothing was imported: import it again (--rebase re-applies what is then out "
                                "of order)") from None
        except BaseException:
            self.give_back_zone()
            raise
        finally:
            self.compounds.close()

    def give_back_zone(self) -> None:
        """Nothing was imported (nor the header's zone kept): the application reads in its own again."""
        if self.zone_before is not None:
            self.app.give_back_zone(self.zone_before)
            self.zone_before = None

    def stream(self, path: Path, progress: Callable[[int], None] | None) -> None:
        size = self.batch
        lines = _lines(path)
        first = next(lines, None)
        if first is None:
            raise BadImport("the file holds no line (an export holds at least its header)")
        if self.header(*first):
            first = None
        read = itertools.chain([first] if first else [], lines)
        with contextlib.ExitStack() as stack:
            events = stack.enter_context(Shared(self, read, self.workers)) if self.workers > 0 else self.parsed(read)
            self.store(events, size, progress)

    def store(self, events: Iterable[tuple[int, StoredEvent | None]], size: int,
              progress: Callable[[int], None] | None) -> None:
        """Store the file's events (and photos) in batches of ``size``, in one transaction."""
        with self.app.backend.appending(zone=self.new_zone) as write:  # one transaction: all or nothing
            batch: list[StoredEvent] = []
            for number, stored in events:
                if stored is not None:
                    batch.append(stored)
                elif self.photo_bytes > PHOTO_BUFFER:
                    write([], self.photos)
                    self.photos, self.photo_bytes = [], 0
                if len(batch) >= size:
                    write(batch, self.photos)
                    self.photos, self.photo_bytes = [], 0
                    self.added += len(batch)
                    batch = []
                    crash_point("import_batch")
                if progress and number % 1000 == 0:
                    progress(1000)
            if batch or self.photos:
                write(batch, self.photos)
                self.photos, self.photo_bytes = [], 0
                self.added += len(batch)
                crash_point("import_batch")
            if self.rebase is not None and self.rebase.tails:
                try:
                    reapplied = self.rebase.apply(self.app, self.latest, self.current)
                except CommandHeldAsOther as error:
                    raise BadImport(str(error)) from None
                write([self.app.mapper.to_stored_event(event) for event in reapplied])
                crash_point("import_batch")
            if self.before_commit is not None:
                self.before_commit()

    def check(self, number: int, raw: bytes) -> Checked:
        """What ``parse`` finds of a line, in a worker of a shared import (``Shared``): all but the checks of
        each line in turn, that the importing process makes (the photos it names, its recording time)."""
        assert self.share is not None
        try:
            originator, version, topic, cls, state = self.read(number, raw)
        except BadImport as error:
            return Checked(number, READ, str(error))
        if originator.int % self.share[1] != self.share[0]:
            return Checked(number, ELSEWHERE, "a line of another worker's compound")
        photos = tuple(state.get("photos") or ())
        self.recorded = None
        try:
            stored = self.add(number, originator, version, topic, cls, state)
        except Refused as error:
            return Checked(number, RULES, str(error), photos, cls.__name__, self.recorded)
        except BadImport as error:
            return Checked(number, ADDED, str(error), photos)
        return Checked(number, None, None, photos, cls.__name__, self.recorded, None if stored is None else (
            originator.bytes, version, topic, stored.state))

    def merge(self, checked: Checked) -> StoredEvent | None:
        """A line a worker checked, through the checks the importing process makes of each line in turn,
        in the order ``parse`` makes them."""
        self.lines += 1
        if checked.stage == READ:
            raise BadImport(checked.problem)
        if checked.stage == ELSEWHERE:
            raise Unshared(f"line {checked.number}: {checked.problem}")
        problem = self.missing_photo(checked.photos)
        if problem:
            raise BadImport(f"line {checked.number}: {problem}")
        if checked.stage == ADDED:
            raise BadImport(checked.problem)
        if checked.recorded is not None:
            self.follows(checked.number, checked.name, *checked.recorded)
        if checked.stage == RULES:
            raise BadImport(checked.problem)
        if checked.stored is None:
            return None
        key, version, topic, state = checked.stored
        originator = self.uuids.get(key)
        if originator is None:
            originator = self.uuids[key] = UUID(bytes=key)
        return StoredEvent(originator_id=originator, originator_version=version, topic=topic, state=state)

    def parsed(self, lines: Iterable[tuple[int, bytes]]) -> Iterator[tuple[int, StoredEvent | None]]:
        """Each line's number and what it adds to the store (None for a photo's line, or an event stored
        already)."""
        for number, raw in lines:
            if raw.startswith(PHOTO_LINE):
                self.photo(number, raw)
                yield number, None
            else:
                yield number, self.parse(number, raw)

    def header(self, number: int, raw: bytes) -> bool:
        """Whether the line is an export's header; if it is, check that the file's store and this one
        count days in the same zone (an empty store takes the file's)."""
        try:
            line = json.loads(raw)
        except (ValueError, RecursionError):
            return False  # not a header: the line is read (and refused) as an event
        if not isinstance(line, dict) or HEADER_KEY not in line:
            return False
        zone = line.get("time_zone")
        if (set(line) != {HEADER_KEY, "time_zone"} or type(line[HEADER_KEY]) is not int or line[HEADER_KEY] != 1
                or not (zone is None or isinstance(zone, str))):
            raise BadImport(f"line {number}: not a header this version of the tracker writes")
        if zone is None or zone == self.app.zone_name:
            return True
        zone = printable(zone, 60)
        if self.app.is_empty():
            try:
                self.zone_before = self.app.take_zone(zone)
            except BadTimeZone as error:
                raise BadImport(f"line {number}: {error}") from None
            self.new_zone = zone
            return True
        raise BadImport(f"line {number}: the file's store keeps the time zone {zone}, this one "
                        f"{self.app.zone_name or 'none'}: its days would be counted in another zone (import it into "
                        f"an empty store, or one that keeps {zone})")

    def photo(self, number: int, raw: bytes) -> None:
        """A photo's line: its bytes must hash to its name and be an image no larger than the limit."""
        from renovation.services.photos import checked

        if len(raw) > self.photo_limit * 4 // 3 + 1000:
            raise BadImport(f"line {number}: a photo larger than {self.photo_limit // 1_000_000} MB")
        try:
            line = json.loads(raw)
        except (ValueError, RecursionError):
            raise BadImport(f"line {number}: not valid JSON") from None
        if not isinstance(line, dict) or set(line) != {PHOTO_KEY, "media_type", "taken_at", "data"}:
            raise BadImport(f"line {number}: expected a photo's name, media_type, taken_at and data")
        name, data = line[PHOTO_KEY], line["data"]
        if not isinstance(name, str) or not isinstance(data, str):
            raise BadImport(f"line {number}: a photo's name and data are text")
        try:
            content = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise BadImport(f"line {number}: the photo's data is not base64") from None
        if len(content) > self.photo_limit:
            raise BadImport(f"line {number}: a photo larger than {self.photo_limit // 1_000_000} MB")
        if hashlib.sha256(content).hexdigest() != name:
            raise BadImport(f"line {number}: the photo's bytes do not hash to its name {printable(name, 64)}")
        try:
            photo = checked(content, self.app.zone, name[:12], what="photo")
        except BadRequest as error:
            raise BadImport(f"line {number}: {error}") from None
        taken = line["taken_at"]
        if taken is not None and not isinstance(taken, str):
            raise BadImport(f"line {number}: taken_at is not a time")
        if name not in self.photo_names:
            self.photo_names.add(name)
            self.photos.append(Photo(name, photo.media_type, photo.taken_at, content))
            self.photo_bytes += len(content)

    def parse(self, number: int, raw: bytes) -> StoredEvent | None:
        """The line as a stored event, None if the store has it already; BadImport if it is bad."""
        self.lines += 1
        originator, version, topic, cls, state = self.read(number, raw)
        problem = self.missing_photo(state.get("photos") or ())
        if problem:
            raise BadImport(f"line {number}: {problem}")
        return self.add(number, originator, version, topic, cls, state)

    def read(self, number: int, raw: bytes) -> tuple[UUID, int, str, type, dict[str, Any]]:
        """A line's compound, version, topic, event class and state, checked by themselves (their shape,
        their types, their times' zone); BadImport if the line is bad."""
        if len(raw) > MAX_LINE:
            raise BadImport(f"line {number}: longer than {MAX_LINE} bytes")
        try:
            try:
                line = self.read_line(raw)
            except (ValueError, TypeError, LookupError, ArithmeticError, AssertionError):
                self.light.decode(raw.decode("utf8"))  # its error first (of a key given twice, the first value's)
                raise
            if not self.as_exported(raw, line):  # read as the JSON module reads it: see line_decoder
                line = self.light.decode(raw.decode("utf8"))  # (the values read_line read, or an error)
        except UnicodeDecodeError:
            raise BadImport(f"line {number}: not UTF-8") from None
        except json.JSONDecodeError as error:
            where = f"character {error.pos + 1} of the line"  # "Unterminated string starting at" names it itself
            said = f"{error.msg} {where}" if error.msg.endswith(" at") else f"{error.msg}, at {where}"
            raise BadImport(f"line {number}: not valid JSON ({said})") from None
        except ValueError as error:  # a value its transcoding refuses
            raise BadImport(f"line {number}: not valid ({' '.join(str(error).split())[:120]})") from None
        except RecursionError:
            raise BadImport(f"line {number}: nested too deeply") from None
        except (TypeError, KeyError, ArithmeticError, AssertionError) as error:  # eventsourcing asserts types
            detail = " ".join(str(error).split())[:120] or type(error).__name__
            raise BadImport(f"line {number}: a value does not decode ({detail})") from None
        if not isinstance(line, dict) or line.keys() != _LINE_KEYS:
            raise BadImport(f"line {number}: expected an object with originator_id, originator_version, topic, state")
        originator = self.originator(number, line["originator_id"])
        version = line["originator_version"]
        if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= 10**9:
            raise BadImport(f"line {number}: originator_version is not a positive integer")
        topic = line["topic"]
        cls = self.classes.get(topic) if isinstance(topic, str) else None
        if cls is None:
            raise BadImport(f"line {number}: unknown event topic {str(topic)[:80]!r}")
        state = line["state"]
        if not isinstance(state, dict):
            raise BadImport(f"line {number}: state is not an object")
        problem = self.check_state(cls, state)
        if problem:
            raise BadImport(f"line {number}: not a valid {cls.__name__}: {problem}")
        # Checked as its class is now (not upcast), the state holds times in its shape's time fields only.
        now = state.get("class_version", 1) == getattr(cls, "class_version", 1)
        problem = self.off_zone(state, shape_of(cls).times if now else None)
        if problem:
            raise BadImport(f"line {number}: {problem}")
        return originator, version, topic, cls, state

    def as_exported(self, raw: bytes, line: Any) -> bool:
        """Whether a line is spelled as an export writes it: the line made again of what was read, its state
        encoded again, is the line (no key given twice, no space, no escape where none is needed, keys in
        their order). Only such a line is taken as orjson read it."""
        self.encoded = None
        if type(line) is not dict or len(line) != len(_LINE_KEYS):
            return False
        originator, version = line.get("originator_id"), line.get("originator_version")
        topic, state = line.get("topic"), line.get("state")
        if type(originator) is not str or type(version) is not int or type(topic) is not str or type(state) is not dict:
            return False
        try:
            encoded = self.encode(state)
        except (TypeError, ValueError):  # a value orjson does not write (what the checks refuse)
            return False
        self.encoded = (state, encoded)
        start = b'{"originator_id":"%s","originator_version":%d,"topic":"%s","state":' % (
            originator.encode(), version, topic.encode())
        return raw.startswith(start) and raw.endswith(b"}\n") and raw[len(start):-2] == encoded

    def add(self, number: int, originator: UUID, version: int, topic: str, cls: type,
            state: dict[str, Any]) -> StoredEvent | None:
        """A line read (``read``) as a stored event, checked against the store and the file's lines before
        it (its compound's versions and commands, its command's rules); None if the store has it already."""
        if state["timestamp"] > self.horizon:  # the clock said in the recording time's offset, as the line says it
            clock = (self.horizon - FUTURE_TOLERANCE).astimezone(state["timestamp"].tzinfo)
            raise BadImport(f"line {number}: recorded at {state['timestamp'].isoformat()}, in the future "
                            f"(this clock says {clock.isoformat(timespec='seconds')})")
        if (version == 1) != (cls is CompoundProject.Registered):
            raise BadImport(f"line {number}: version 1 of a compound, and only it, is its registration")
        if version == 1 and state["originator_topic"] != get_topic(CompoundProject):
            raise BadImport(f"line {number}: originator_topic is not the compound project's")
        if version == 1 and CompoundProject.create_id(state["code"]) != originator:
            raise BadImport(f"line {number}: the aggregate id does not follow from the compound code")
        earlier, self.seen[originator] = self.seen.get(originator), version
        if self.rebase is not None and originator in self.rebase.tails:
            held = self.known.get(originator, 0)
            follows = self.rebase.last_version(originator) == version - 1
            if follows and version <= held and self.differs(originator, version, topic, state) is None:
                self.rebase.versions[originator] = version  # the store holds this very event: not re-applied
                return None
            self.to_rebase(number, originator, version, cls, state, earlier)
            return None
        last = self.known.get(originator)
        if last is None:
            last = self.known[originator] = self.stored_version(originator)
        if version > last + 1:
            raise BadImport(f"line {number}: version {version} of {originator} follows {last}: events are missing")
        if version <= last:
            other = self.differs(originator, version, topic, state)
            if other is None:
                return None  # stored already: importing a file again adds nothing
            if self.rebase is None:
                project: Any = self.current(originator)
                raise BadImport(f"line {number}: conflict: {project.code} version {version} is another event in "
                                f"{other}; nothing was imported (import --rebase re-applies the copy's work on the "
                                "current state)")
            self.to_rebase(number, originator, version, cls, state, earlier)
            return None
        if self.rebase is not None and self.before_latest(state):
            self.to_rebase(number, originator, version, cls, state, earlier)
            return None
        self.check_command(number, originator, state.get("command_id"))
        self.replay(number, originator, version, cls, state)
        self.known[originator] = version
        encoded = self.encoded[1] if self.encoded is not None and self.encoded[0] is state else self.encode(state)
        _first, digests = self.digests.setdefault(originator, (version, bytearray()))
        digests += _digest(topic, encoded if _plain(state) else self.encode(_spelled(state)))
        return StoredEvent(originator_id=originator, originator_version=version, topic=topic, state=encoded)

    def originator(self, number: int, given: object) -> UUID:
        """A line's compound id: one object for every line that spells it canonically."""
        found = self.ids.get(given) if type(given) is str else None
        if found is not None:
            return found
        try:
            originator = UUID(str(given))
        except ValueError:
            raise BadImport(f"line {number}: originator_id is not a UUID") from None
        if given == str(originator):  # at most one entry a compound, however a file spells its ids
            self.ids[given] = originator
        return originator

    def differs(self, originator: UUID, version: int, topic: str, state: dict[str, Any]) -> str | None:
        """Where a line whose compound and version the store (or this file, earlier) holds already
        finds another event there (None if it holds the same): work done elsewhere (an offline copy)
        on a compound that moved on here, a conflict never dropped in silence."""
        first, digests = self.digests.get(originator, (version + 1, bytearray()))
        if version >= first:  # imported earlier in this file: compared by its digest
            offset = 8 * (version - first)
            spelled = self.encode(state if _plain(state) else _spelled(state))
            if digests[offset:offset + 8] == _digest(topic, spelled):
                return None
            return "an earlier line of this file"
        (stored,) = self.app.recorder.select_events(originator, gt=version - 1, lte=version, limit=1)
        cls = self.classes.get(stored.topic)
        if stored.topic == topic and cls is not None and written_alike(
                self.said(cls, self.transcoder.decode(stored.state), originator, version),
                self.said(cls, state, originator, version)):  # an amount of another scale is another event
            return None
        return f"the store ({stored.topic.rsplit('.', 1)[-1]})"

    def said(self, cls: type, state: dict[str, Any], originator: UUID, version: int) -> dict[str, Any]:
        """What an event says, however its line spells it (its older class version upcast, no command
        id the same as an empty one)."""
        said = dict(vars(self.event_object(cls, state, originator, version)))
        if said.get("command_id") is None:
            said.pop("command_id", None)
        return said

    def to_rebase(self, number: int, originator: UUID, version: int, cls: type, state: dict[str, Any],
                  earlier: int | None) -> None:
        """Keep a line for ``--rebase`` (``renovation.services.rebase``): the copy's events of a compound
        must follow one another, the first the file's line of it before (``earlier``); one without a
        command id (recorded before commands had them) gets one made from its content, the same
        whenever the file is rebased, so it is applied once."""
        assert self.rebase is not None
        last = self.rebase.last_version(originator)
        if last is not None and version != last + 1:
            raise BadImport(f"line {number}: version {version} of {originator} follows {last}: the copy's events "
                            "are out of sequence")
        if last is None and earlier is None and version > 1:  # what the copy's work followed is unknown
            raise BadImport(f"line {number}: version {version} of {originator} is the file's first line of its "
                            "compound: the copy's earlier events are missing")
        if last is None and earlier is not None and version > earlier + 1:
            raise BadImport(f"line {number}: version {version} of {originator} follows {earlier}: events are "
                            "missing")
        event = self.event_object(cls, state, originator, version)
        if event.command_id is None:
            content = self.content_digest(event)
            object.__setattr__(event, "command_id", uuid5(REBASED_COMMANDS, f"{originator}:{version}:{content}").hex)
        self.check_command(number, originator, event.command_id, stored=False)
        self.rebase.add(originator, number, version, event)

    def content_digest(self, event: Any) -> str:
        """A digest of what an event says (read as this version reads it: upcast, in canonical key order,
        without its id, version and command id), the same however the line spells it."""
        said = {key: value for key, value in vars(event).items()
                if key not in ("originator_id", "originator_version", "command_id")}
        canonical = json.dumps(json.loads(self.transcoder.encode(said)), sort_keys=True, ensure_ascii=False,
                               separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @staticmethod
    def command_key(originator: UUID, command: str) -> int:
        """A compound's command as one number (a command id is 32 hex digits: see ``check_state``)."""
        return (originator.int << 128) | int(command, 16)

    def check_command(self, number: int, originator: UUID, command: str | None, *, stored: bool = True) -> None:
        """Refuse a line whose command an earlier line of this file has, or (``stored``) the store
        holds for the compound already: a command records once, one event on each compound it
        changes. (Work to re-apply may hold a command the store has: the rebase finds it held.)"""
        if command is None:
            return
        key = self.command_key(originator, command)
        if key in self.commands:
            raise BadImport(f"line {number}: command {command} is recorded already in this compound by an "
                            "earlier line: a command is recorded once")
        if stored:
            if originator not in self.commands_read:
                self.commands_read.add(originator)
                for event in self.app.recorder.select_events(originator):
                    found = _STORED_COMMAND.search(event.state)
                    if found is not None and COMMAND_ID.fullmatch(found.group(1).decode()):
                        self.stored_commands.add(self.command_key(originator, found.group(1).decode()))
            if key in self.stored_commands:
                raise BadImport(f"line {number}: command {command} is recorded already in this compound by the "
                                "store: a command is recorded once")
        self.commands.add(key)

    def current(self, originator: UUID) -> CompoundProject | None:
        """The compound as the store and this import so far leave it (None if not registered)."""
        return self.compounds.get(originator) or self.app.load(originator)[0]

    def before_latest(self, state: dict[str, Any]) -> bool:
        """Whether an event is recorded before the latest event stored or imported (one without a
        command id: before the latest stored)."""
        stamp = state.get("timestamp")
        latest = self.latest if state.get("command_id") is not None else self.legacy_floor
        return isinstance(stamp, datetime) and latest is not None and stamp < latest

    @staticmethod
    def event_object(cls: type, state: dict[str, Any], originator: UUID, version: int) -> Any:
        """The domain event of a checked line (an older version of its class upcast first)."""
        event_state = {key: value for key, value in state.items() if key != "class_version"}
        for old in range(state.get("class_version", 1), getattr(cls, "class_version", 1)):
            getattr(cls, f"upcast_v{old}_v{old + 1}")(event_state)
        event: Any = object.__new__(cls)
        object.__setattr__(event, "__dict__", {**event_state, "originator_id": originator,
                                               "originator_version": version})
        return event

    def replay(self, number: int, originator: UUID, version: int, cls: type, state: dict[str, Any]) -> None:
        """Run the event's own command on its compound as it stood (``renovation.domain.rerun``): the
        same rules a user's command meets, the values they imply (money, ids, due dates) compared with
        the file's, the recording user's role when roles are configured, and recording times in order.
        A file whose events do not follow is refused instead of stored for every later read to trip
        over."""
        compound = self.compounds.get(originator)
        if compound is None and version > 1:  # its earlier events were stored before this import
            compound = self.app.load(originator)[0]
        event = self.event_object(cls, state, originator, version)
        name = cls.__name__
        self.recorded = (event.timestamp, event.command_id is not None)
        if self.in_order:
            self.follows(number, name, *self.recorded)
        try:
            if not self.app.access.open:
                self.app.access.check(event.user, ACTIONS[cls], compound.contractor if compound else None)
            compound, _recorded = rerun(compound, event)
        except DomainError as error:
            raise Refused(f"line {number}: {name} refused by the rules: {error.render('en')}") from None
        except DoesNotFollow as error:
            raise Refused(f"line {number}: {name} does not follow from its command: {error}") from None
        self.compounds.put(originator, compound)

    def follows(self, number: int, name: str, timestamp: datetime, commanded: bool) -> None:
        """Refuse an event recorded before the latest before it. In log order since commands have ids
        (renovation.store.timeorder); events written before (without one) kept the times they were given,
        some out of order among themselves: taken as recorded, but never before what the store held
        before this import, nor before an event with a command id (the next command's time is checked
        against the last event stored)."""
        latest = self.latest if commanded else self.legacy_floor
        if latest is not None and timestamp < latest:
            raise BadImport(f"line {number}: {name} is recorded at {timestamp.isoformat()}, before the "
                            f"latest event before it ({latest.isoformat()}); recording times follow the log "
                            "(import --rebase records such work anew)")
        if self.latest is None or timestamp > self.latest:
            self.latest = timestamp
        if commanded:
            self.legacy_floor = self.latest

    def check_state(self, cls: type, state: dict[str, Any]) -> str | None:
        """What is wrong with the state, read as the application would read it (older versions of
        the event upcast first); None if nothing. The state itself is stored as written."""
        shape = shape_of(cls)
        written = state.get("class_version", 1)
        current = getattr(cls, "class_version", 1)
        if type(written) is not int or not 1 <= written <= current:
            return f"class_version {written!r} is not one this version of the tracker knows"
        keys: typing.AbstractSet[str] = state.keys()
        if written == current and "class_version" in state:  # as the tracker writes it: nothing to upcast
            keys = keys - _CLASS_VERSION
        elif written != current:
            given = {key: value for key, value in state.items() if key != "class_version"}
            state = dict(given)
            for version in range(written, current):
                getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
            added = sorted(key for key in given if state.get(key, given[key]) is not given[key])
            if added:  # a field its version did not have, which the upcast would overwrite
                return f"fields {added} are not of class_version {written}"
            keys = state.keys()
        command = state.get("command_id")
        if command is not None and not (isinstance(command, str) and COMMAND_ID.fullmatch(command)):
            return "command_id is not 32 lower-case hex digits (a command id this tracker makes)"
        if cls.__name__ in REQUIRED_SINCE and written >= REQUIRED_SINCE[cls.__name__][1]:
            field = REQUIRED_SINCE[cls.__name__][0]
            if state.get(field) is None:
                return f"{field} is empty (every command since class_version {written} records it)"
        if keys != shape.keys:
            missing = shape.keys - keys - OPTIONAL_FIELDS
            if missing or keys - shape.keys:
                return f"fields {sorted(missing | (keys - shape.keys))} do not match"
        for name, check in shape.checks:
            value = state.get(name, _ABSENT)
            if value is not _ABSENT and not check(value):
                return f"{name} is not of its type, or out of range"
        return None

    def missing_photo(self, names: Iterable[str]) -> str | None:
        """A photo the event names that neither the file (before it) nor the store holds."""
        for name in names:
            if name not in self.photo_names and not photo_store.has(self.app.backend, name):
                return f"photo {str(name)[:12]} is neither in the file (before this line) nor in the store"
        return None

    def off_zone(self, state: dict[str, Any], names: Iterable[str] | None = None) -> str | None:
        """A time of the event that is not in the store's zone (every time a command records is: a
        day, a morning round's hour, are the store's), if there is one and the store keeps a zone;
        ``names``: the only fields that may hold times (all, if not given)."""
        if self.app.zone_name is None:
            return None
        zone = self.app.zone
        for key, value in (state.items() if names is None else ((key, state.get(key)) for key in names)):
            # A date-time by itself (most are) looked at here; a list's, through _times.
            for when in (value,) if type(value) is datetime else _times(value):
                if when.utcoffset() != when.astimezone(zone).utcoffset():
                    return (f"{key} {when.isoformat()} is not in the store's time zone {self.app.zone_name} (every "
                            "time is recorded in it)")
        return None

    def stored_version(self, originator: UUID) -> int:
        found = self.app.recorder.select_events(originator, desc=True, limit=1)
        return found[0].originator_version if found else 0


#: Where the first problem of a line a worker checked was found: reading it by itself, in another
#: worker's compound, adding it (before its recording time is checked), or replaying its command (after).
READ, ELSEWHERE, ADDED, RULES = 1, 2, 3, 4


class Checked(typing.NamedTuple):
    """What a worker of a shared import found of a line (``Importer.check``)."""

    number: int
    stage: int | None  # None: no problem
    problem: str | None = None
    photos: tuple[str, ...] = ()
    name: str = ""  # the event's class
    recorded: tuple[datetime, bool] | None = None  # its recording time, and whether it has a command id
    #: The stored event's compound (its id's bytes), version, topic and state; None: the store has it already.
    stored: tuple[bytes, int, str, bytes] | None = None


@dataclasses.dataclass(frozen=True)
class Share:
    """A worker's task (``renovation.services.import_worker``): the store to open, by the application's
    class, with its access rules; which compounds are the worker's; what it may keep in memory."""

    reopen: Callable[..., RenovationApp]
    db: str
    access: Any
    index: int
    count: int
    resident: int
    thresholds: tuple[int, ...]


#: Lines a shared import sends to its workers at a time (at most, and at most about ``CHUNK_BYTES`` of
#: them); such groups sent ahead of the one being stored.
CHUNK = 1000
CHUNK_BYTES = 4_000_000
AHEAD = 8
#: How long a shared import waits for a worker's next group of lines before it imports in one process.
WORKER_SILENCE = 600.0
#: The command line of an import's worker, after the interpreter's path (as ``runner.WORKER``).
IMPORT_WORKER = worker_command("renovation.services.import_worker")


class Shared:
    """The lines of a file checked by worker processes, a share of the compounds each (``Importer.check``),
    and through the checks of each line in turn here (``Importer.merge``): as a context, the lines'
    numbers and what they add to the store, in the file's order, as ``Importer.parsed`` gives them.

    A thread sends the workers the file's lines, a group of ``CHUNK`` at a time, each line to the worker
    of its compound; a thread for each worker reads what it found. A worker that stops or cannot start, or
    finds a line of another's compound (a line that spells its compound otherwise), raises ``Unshared``:
    nothing is stored, and the file is imported again in this process."""

    def __init__(self, importer: Importer, lines: Iterator[tuple[int, bytes]], count: int) -> None:
        self.importer = importer
        self.lines = lines
        self.count = count
        self.processes: list[Any] = []
        self.found: list[queue.Queue[Any]] = [queue.Queue() for _ in range(count)]
        self.order: queue.Queue[Any] = queue.Queue(maxsize=AHEAD)
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.routes: dict[bytes, int] = {}

    def __enter__(self) -> Iterator[tuple[int, StoredEvent | None]]:
        app = self.importer.app
        share = functools.partial(Share, type(app), app.backend.db, app.access, count=self.count,
                                  resident=self.importer.compounds.resident, thresholds=gc.get_threshold())
        setting = ((app.zone_name, app.zone, app.zone_problem), self.importer.horizon)
        try:
            for index in range(self.count):
                self.processes.append(start_worker(IMPORT_WORKER, share(index=index), setting))
        except (OSError, ValueError, pickle.PicklingError) as error:
            self.__exit__(None, None, None)
            raise Unshared(f"a worker did not start ({error})") from None
        for index, worker in enumerate(self.processes):
            self.threads.append(threading.Thread(target=self.hear, args=(index, worker.stdout), daemon=True))
        self.threads.append(threading.Thread(target=self.send, daemon=True))
        for thread in self.threads:
            thread.start()
        return self.merged()

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for worker in self.processes:
            if worker.poll() is None:
                worker.kill()  # it only reads the store
        for worker in self.processes:
            worker.wait()
            for pipe in (worker.stdin, worker.stdout):
                with contextlib.suppress(OSError):
                    pipe.close()
        for thread in self.threads:
            thread.join(timeout=5)
        if self.processes:
            remove_stale_spills()  # a killed worker's temporary folder

    def route(self, raw: bytes) -> int:
        """The worker of a line's compound (read from the line's start as an export writes it, else from
        the whole line); any worker for a line without one (which it refuses)."""
        if len(raw) > MAX_LINE:
            return 0  # refused unread, as in one process
        if raw[:18] == b'{"originator_id":"' and raw[54:55] == b'"':
            key = raw[18:54]
            found = self.routes.get(key)
            if found is None:
                try:
                    originator = UUID(key.decode())
                except ValueError:
                    return 0
                found = originator.int % self.count
                if key == str(originator).encode():  # at most one entry a compound, however spelled
                    self.routes[key] = found
            return found
        try:
            return UUID(str(self.importer.read_line(raw)["originator_id"])).int % self.count
        except (ValueError, TypeError, LookupError, ArithmeticError, AssertionError, RecursionError):
            return 0

    def send(self) -> None:
        """The file's lines to the workers, a group at a time, each group's order then to ``merged``."""
        try:
            number = 0
            while not self.stop.is_set():
                group: list[tuple[int, bytes]] = []
                size = 0
                for read in self.lines:
                    group.append(read)
                    size += len(read[1])
                    if len(group) >= CHUNK or size >= CHUNK_BYTES:
                        break
                if not group:
                    break
                number += 1
                order: list[tuple[int, bytes, int]] = []
                parts: list[list[tuple[int, bytes]]] = [[] for _ in range(self.count)]
                for line, raw in group:
                    if raw.startswith(PHOTO_LINE):
                        order.append((line, raw, -1))
                    else:
                        index = self.route(raw)
                        parts[index].append((line, raw))
                        order.append((line, b"", index))
                for index, part in enumerate(parts):
                    if part:
                        stdin = self.processes[index].stdin
                        pickle.dump((number, part), stdin, protocol=pickle.HIGHEST_PROTOCOL)
                        stdin.flush()
                self.put((number, order))
            for worker in self.processes:
                pickle.dump(None, worker.stdin)
                worker.stdin.close()
            self.put(None)
        except OSError:  # a worker gone: what it found last says why, or merged finds it gone
            self.put(Unshared("a worker stopped"))
        except BaseException as error:  # noqa: BLE001 (said by the importing thread: BadImport for the file)
            self.put(error)

    def put(self, item: object) -> None:
        while not self.stop.is_set():
            try:
                self.order.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def hear(self, index: int, out: IO[bytes]) -> None:
        """What a worker found, a group at a time; None once it ends."""
        try:
            while True:
                self.found[index].put(pickle.load(out))
        except BaseException:  # noqa: BLE001 (an end: merged then imports in one process)
            self.found[index].put(None)

    def merged(self) -> Iterator[tuple[int, StoredEvent | None]]:
        importer = self.importer
        while True:
            try:
                item = self.order.get(timeout=WORKER_SILENCE)
            except queue.Empty:
                raise Unshared("no line read in time") from None
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            number, order = item
            heard: dict[int, Iterator[tuple[Any, ...]]] = {}
            for line, raw, index in order:
                if index < 0:
                    importer.photo(line, raw)
                    yield line, None
                    continue
                checked = heard.get(index)
                if checked is None:
                    try:
                        found = self.found[index].get(timeout=WORKER_SILENCE)
                    except queue.Empty:
                        found = None
                    if found is None or found[0] != number:
                        raise Unshared("a worker stopped")
                    for name, level, message in found[2]:  # what it warned of (a snapshot discarded, say)
                        logging.getLogger(name).log(level, "%s", message)
                    checked = heard[index] = iter(found[1])
                result = next(checked, None)
                if result is None or result[0] != line:
                    raise Unshared("a worker stopped")
                yield line, importer.merge(Checked(*result))


def import_batch_size() -> int:
    """Events per batch of an import: ``BATCH``, unless ``RENOVATION_IMPORT_BATCH`` says otherwise (the
    crash tests make it small, to kill an import between batches)."""
    return _positive_setting("RENOVATION_IMPORT_BATCH", BATCH)


def resident_compounds() -> int:
    """Compounds an import keeps in memory: ``RESIDENT_COMPOUNDS`` unless ``RENOVATION_IMPORT_COMPOUNDS``
    says otherwise."""
    return _positive_setting("RENOVATION_IMPORT_COMPOUNDS", RESIDENT_COMPOUNDS)


def _positive_setting(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        raise ValueError(f"{name}={raw!r}: expected a positive integer")
    return int(raw)


def import_file(app: RenovationApp, path: Path, progress: Callable[[int], None] | None = None, *,
                batch: int | None = None, resident: int | None = None,
                rebase: Rebase | None = None, photo_limit: int = 10_000_000,
                workers: int | None = None, before_commit: Callable[[], None] | None = None) -> tuple[int, int]:
    """Import the file; returns (lines read, events added as they are). ``batch`` and ``resident``
    default to the environment's settings (:func:`import_batch_size`, :func:`resident_compounds`);
    with ``rebase`` (``import --rebase``), what cannot be added as it is is re-applied
    (``renovation.services.rebase``), and ``rebase`` tells what came of it. ``workers``: processes that
    check the lines (``Shared``; default :func:`import_workers`), none with ``rebase``. ``before_commit``
    is called once everything is written, just before the transaction commits (the CLI holds a Ctrl-C
    from then on: the import is then stored, or fails by itself)."""
    importer = Importer(app, batch=batch, resident=resident, rebase=rebase, photo_limit=photo_limit)
    importer.before_commit = before_commit
    if rebase is None and _regular(path):  # a pipe is read once: its lines could not be read again alone
        importer.workers = import_workers(path) if workers is None else workers
    try:
        importer.run(path, progress)
    except Unshared as error:
        log.info("the import is made again in one process: %s", error)
        importer = Importer(app, batch=batch, resident=resident, rebase=rebase, photo_limit=photo_limit)
        importer.before_commit = before_commit
        importer.run(path, progress)
    return importer.lines, importer.added


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False  # said as the file is read


#: A file this large or larger (bytes) is checked by workers (``Shared``): below it, starting them costs
#: more than they save.
SHARE_FROM = 5_000_000
#: The workers of a shared import, at most (and no more than the machine's cores).
IMPORT_WORKERS = 2


def import_workers(path: Path) -> int:
    """The workers that check the file's lines: ``RENOVATION_IMPORT_WORKERS`` if set (0: none), else
    ``IMPORT_WORKERS`` for a file of ``SHARE_FROM`` bytes or more on a machine of several cores."""
    raw = os.environ.get("RENOVATION_IMPORT_WORKERS", "").strip()
    if raw:
        if not (raw.isascii() and raw.isdigit()) or int(raw) > 64:
            raise ValueError(f"RENOVATION_IMPORT_WORKERS={raw!r}: expected a number of processes, 0 to 64")
        return int(raw)
    try:
        large = path.stat().st_size >= SHARE_FROM
    except OSError:
        return 0  # said as the file is read
    workers = min(IMPORT_WORKERS, os.cpu_count() or 1) if large else 0
    return workers if workers > 1 else 0


#: The command id in a stored event's state as the application writes it.
_STORED_COMMAND = re.compile(rb'"command_id":"([^"\\]+)"')
#: A command id as the application makes them (``uuid4().hex``).
COMMAND_ID = re.compile(r"[0-9a-f]{32}")


def _times(value: object) -> Iterator[datetime]:
    """The date-times in a value of an event's state (in a list of objects too, as findings are)."""
    if isinstance(value, datetime):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            if dataclasses.is_dataclass(item) and not isinstance(item, type):
                fields: Iterable[object] = (getattr(item, name) for name in value_fields(type(item)))
            else:
                fields = item.values() if isinstance(item, dict) else ()
            yield from (field for field in fields if isinstance(field, datetime))


def _plain(state: dict[str, Any]) -> bool:
    """Whether a state is of a command (it has a command id) and names no class_version 1, as the
    tracker writes such a state: its digest is that of its own encoding; others' (written before
    commands had ids, however spelled) that of one canonical spelling. (A command's line repeated in
    a file with its keys in another order is then "another event": refused, not dropped.)"""
    return state.get("command_id") is not None and state.get("class_version") != 1


def _spelled(state: dict[str, Any]) -> dict[str, Any]:
    """A state as one spelling of it: keys in order, no empty command id, no class_version 1."""
    return {key: value for key, value in sorted(state.items())
            if not (key == "command_id" and value is None) and not (key == "class_version" and value == 1)}


def printable(text: str, most: int) -> str:
    """``text`` as a message may echo it: control characters as ?, at most ``most`` characters."""
    shown = "".join(ch if ch.isprintable() else "?" for ch in text)
    return shown if len(shown) <= most else shown[:most] + "…"


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    try:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if raw.strip():
                    yield number, raw
    except OSError as error:
        raise BadImport(f"{path}: {error.strerror}") from None


def _event_classes() -> dict[str, type]:
    from eventsourcing.utils import get_topic

    return {
        get_topic(value): value for value in vars(CompoundProject).values()
        if isinstance(value, type) and issubclass(value, CompoundProject.Event) and value is not CompoundProject.Event
    }


#: The keys of an event's line.
_LINE_KEYS = frozenset({"originator_id", "originator_version", "topic", "state"})
#: The key of a state that names its class version.
_CLASS_VERSION = frozenset({"class_version"})
#: A field a state does not have.
_ABSENT = object()
#: Fields an event written by an older version of the tracker does not have (they read as None).
OPTIONAL_FIELDS = frozenset({"command_id"})
#: Fields that may be None only in events of a class version before the one given (upcast as unknown).
REQUIRED_SINCE = {"Registered": ("registered_on", 2)}

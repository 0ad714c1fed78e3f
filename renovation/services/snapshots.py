"""Snapshots that are not trusted blindly.

A snapshot holds a compound's whole state at a version so that a load need not replay every event.
A row of the snapshots table can be edited behind the application's back, and an edited bill of
quantities would let a meter record millions against a contract of a hundred. So each snapshot is
sealed when it is taken: inside its state, the chain link of the event it covers (binding it to the
hash chain, and so to one position in the log), a SHA-256 of the rest of its state, and the
aggregate's class version. A load uses the latest snapshot only if its seal holds; otherwise it warns,
discards it and replays the compound from its events. ``audit verify`` goes further: it replays each
compound up to its latest snapshot and compares the states, which no recomputed seal can fool.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.domain import OriginatorIDError, OriginatorVersionError

from renovation.domain.compound import CompoundProject, project_compound
from renovation.services import warn
from renovation.store.chain import ChainStore
from renovation.store.transcoding import UNREADABLE, described

if TYPE_CHECKING:
    from eventsourcing.application import Application

    from renovation.store.backend import Backend


#: The key of the seal inside a snapshot's state (removed before the state becomes a compound).
SEAL = "_renovation_seal"
#: Why a snapshot taken before snapshots were sealed is not used (not evidence of anything).
UNSEALED = "it has no seal (taken before snapshots were sealed)"


def class_version() -> int:
    return int(getattr(CompoundProject, "class_version", 1))


def state_hash(app: Application[UUID], state: dict[str, Any]) -> str:
    unsealed = {key: value for key, value in state.items() if key != SEAL}
    return hashlib.sha256(app.mapper.transcoder.encode(unsealed)).hexdigest()


#: A snapshot as the application stores it (not compressed, not enciphered): its time and topic, then the
#: compound's state, whose last key is the seal (``take`` adds it last).
_STORED = re.compile(rb'\{"timestamp":\{"_type_":"datetime_iso","_data_":"[0-9T:.+-]{1,40}"\},'
                     rb'"topic":"[A-Za-z0-9_.:]{1,200}","state":\{')
_SEAL_KEY = b',"' + SEAL.encode() + b'":'
_SEALED_END = re.compile(rb'\{"chain":"[0-9a-f]{64}","state":"[0-9a-f]{64}","class":[0-9]{1,9}\}\}\}')


def stored_state_hash(stored: bytes) -> str | None:
    """``state_hash`` read from a snapshot's stored bytes as the application writes them (the unsealed
    state's encoding is those bytes less the seal): no state encoded again, as a load would otherwise do
    (a large compound's snapshot: a few milliseconds). None if the bytes are not so written."""
    head = _STORED.match(stored)
    seal = stored.rfind(_SEAL_KEY)
    if head is None or seal < head.end() or _SEALED_END.fullmatch(stored, seal + len(_SEAL_KEY)) is None:
        return None
    return hashlib.sha256(stored[head.end() - 1:seal] + b"}").hexdigest()


def take(app: Application[UUID], backend: Backend, project: CompoundProject) -> Any:
    """A sealed snapshot of ``project`` (whose events are stored), or None if its last event has no
    link to bind it to (a store not chained yet)."""
    link = ChainStore(backend).link_of(project.id, project.version)
    if link is None:
        return None
    snapshot = CompoundProject.Snapshot.take(project)
    snapshot.state[SEAL] = {"chain": link[1], "state": state_hash(app, snapshot.state), "class": class_version()}
    return snapshot


def stored_as_another(stored_topic: str) -> str | None:
    """Why a snapshot row stored as a class other than a snapshot's is not read (reading it would import
    the module its topic names), or None."""
    from eventsourcing.utils import get_topic

    if stored_topic != get_topic(CompoundProject.Snapshot):
        return f"it is stored as another class ({str(stored_topic)[:60]!r})"
    return None


def problem_with(app: Application[UUID], backend: Backend, snapshot: Any, stored: bytes | None = None) -> str | None:
    """Why ``snapshot`` cannot be trusted, or None if its seal holds (``stored``: the bytes it was read
    from, whose hash is the state's when they hold it as written)."""
    from eventsourcing.utils import get_topic

    if snapshot.topic != get_topic(CompoundProject):  # not made into a compound: its topic's module not imported
        return f"it is of another class ({str(snapshot.topic)[:60]!r})"
    seal = snapshot.state.get(SEAL)
    if not isinstance(seal, dict):
        return UNSEALED
    if seal.get("class") != class_version():
        return f"it is of class version {seal.get('class')}, the compound's is {class_version()}"
    sealed = seal.get("state")
    if not isinstance(sealed, str) or ((stored is None or sealed != stored_state_hash(stored))
                                       and sealed != state_hash(app, snapshot.state)):
        return "its state does not match its seal (edited)"
    link = ChainStore(backend).link_of(snapshot.originator_id, snapshot.originator_version)
    if link is None or seal.get("chain") != link[1]:
        return "it is not bound to the chain at its version"
    return elsewhere(app, snapshot)


def elsewhere(app: Application[UUID], snapshot: Any) -> str | None:
    """Why a snapshot whose seal holds is of another compound or another version than its row's (its
    state and seal copied there, the chain link of the row's version put in: the seal's hash is of the
    state alone), or None: its code gives its id, and its last change is the time of the event at its
    version."""
    from renovation.store.timeorder import recorded_at

    if CompoundProject.create_id(str(snapshot.state.get("code"))) != snapshot.originator_id:
        return "it is of another compound"
    version = snapshot.originator_version
    found = app.recorder.select_events(snapshot.originator_id, gt=version - 1, lte=version, limit=1)
    if not found or snapshot.state.get("_modified_on") != recorded_at(found[0].state):
        return "it is of another version of the compound"
    return None


def latest(app: Application[UUID], backend: Backend, aggregate_id: UUID, code: str) -> CompoundProject | None:
    """The compound from its latest snapshot if that can be trusted; None (after a warning, if there
    was one that cannot) to replay it from its events."""
    if app.snapshots is None:
        return None
    rows = app.snapshots.recorder.select_events(aggregate_id, desc=True, limit=1)
    if not rows:
        return None
    version = rows[0].originator_version
    project: CompoundProject | None = None
    try:
        problem = stored_as_another(rows[0].topic)
        if problem is None:
            snapshot: Any = app.snapshots.mapper.to_domain_event(rows[0])
            problem = problem_with(app, backend, snapshot, rows[0].state)
        if problem is None:
            del snapshot.state[SEAL]
            made = snapshot.mutate(None)
            if isinstance(made, CompoundProject):
                project = made
            else:
                problem = "it is not of a compound"
    except UNREADABLE as error:  # a row the application did not write: replayed from the events
        problem = unreadable(error)
    if problem is not None:
        if problem != UNSEALED:
            warn(__name__, "snapshot of %s at version %d discarded, %s; replayed from its events",
                 code, version, problem)
        return None
    return project


def unreadable(error: BaseException) -> str:
    """Why a snapshot row that cannot be read or made into a compound is not used."""
    return f"it cannot be read ({type(error).__name__}: {' '.join(str(error).split())[:80]})"


def problems(app: Application[UUID], backend: Backend, codes: list[str]) -> list[tuple[int, str]]:
    """For ``audit verify``: each compound whose latest snapshot does not hold, or differs from the
    compound replayed from its events up to the snapshot's version, as (position, detail)."""
    found: list[tuple[int, str]] = []
    if app.snapshots is None:
        return found
    for code in codes:
        aggregate_id = CompoundProject.create_id(code)
        rows = app.snapshots.recorder.select_events(aggregate_id, desc=True, limit=1)
        if not rows:
            continue
        version = rows[0].originator_version
        link = ChainStore(backend).link_of(aggregate_id, version)
        position = link[0] if link else 0
        problem = stored_as_another(rows[0].topic)
        if problem is not None:
            found.append((position, f"the snapshot of {code} at version {version}: {problem}"))
            continue
        try:
            snapshot: Any = app.snapshots.mapper.to_domain_event(rows[0])
            problem = problem_with(app, backend, snapshot)
        except UNREADABLE as error:  # a row the application did not write: named
            found.append((position, f"the snapshot of {code} at version {version}: {unreadable(error)}"))
            continue
        if problem == UNSEALED:
            continue  # an older snapshot is never used; it is not evidence of anything
        if problem is None:
            try:
                replayed = project_compound(None, app.events.get(aggregate_id, lte=version))
            except (*UNREADABLE, OriginatorIDError, OriginatorVersionError) as error:  # rows the application did
                # not write: a state stored as text, a version edited out of its sequence
                found.append((position, f"the events of {code} up to version {version} cannot be read, to check its "
                                        f"snapshot ({type(error).__name__}: {described(error)[:120]})"))
                continue
            state = {key: value for key, value in snapshot.state.items() if key != SEAL}
            expected = CompoundProject.Snapshot.take(replayed).state
            if state != expected:
                problem = "its state differs from the compound's events up to that version (forged)"
        if problem is not None:
            found.append((position, f"the snapshot of {code} at version {version}: {problem}"))
    return found

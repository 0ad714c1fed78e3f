"""The daily worklists: findings to rectify or close, samples to chase, and a finding's whole history.

Scoped by who asks, as every board is: a contractor (roles configured in ``renovation.toml``) sees
its own compounds' findings and samples only, and never a blind sample before its result; asking
for another contractor's compound is answered as for a compound that is not there.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypedDict

from renovation.domain import errors
from renovation.domain.compound import CompoundProject
from renovation.domain.values import normalise_code

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from renovation.projections.worklists import FindingRow, SampleRow
    from renovation.services.workspace import Workspace
    from renovation.store.photos import Photo

P = CompoundProject


class FindingStep(TypedDict):
    """One step of a finding's life (``renovation finding show``)."""

    step: str  # raised | rectified | closed | reopened
    at: datetime
    by: str
    note: str | None
    photos: list[str]  # each "SHA12 (taken T, flag)": see renovation.services.photos
    recorded_at: datetime


def own_contractor(ws: Workspace, user: str) -> str | None:
    """The construction unit whose compounds alone ``user`` may see in detail (None: every one; see
    ``renovation.services.scope``)."""
    from renovation.services.scope import company

    return company(ws, user)


def finding_list(ws: Workspace, today: date, user: str, *, state: str | None = None, code: str | None = None,
                 contractor: str | None = None, severity: str | None = None, category: str | None = None,
                 as_of: datetime | None = None) -> list[FindingRow]:
    from renovation.projections.worklists import finding_rows
    from renovation.services.boards import models_for

    models, day = models_for(ws, "worklists", today, as_of)
    with models.engine.connect() as connection:
        codes = _codes(ws, connection, user, code, contractor)
        return finding_rows(connection, day, state=state, codes=codes, severity=severity, category=category,
                            zone=ws.app.zone, until=as_of)


def material_list(ws: Workspace, today: date, user: str, *, state: str | None = None, code: str | None = None,
                  batch: str | None = None, as_of: datetime | None = None) -> list[SampleRow]:
    from renovation.projections.worklists import sample_rows
    from renovation.services.boards import models_for

    models, _day = models_for(ws, "worklists", today, as_of)
    with models.engine.connect() as connection:
        codes = _codes(ws, connection, user, code, None)
        return sample_rows(connection, state=state, codes=codes, batch=batch, zone=ws.app.zone,
                           hide_pending_blind=ws.config.access().hides_pending_blind_samples(user))


def notice(ws: Workspace, today: date, user: str, *, code: str | None = None,
           contractor: str | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The compounds a rectification notice is for (one, or a construction unit's; a contractor: its
    own only) and their open findings, as of ``today``, each with the thumbnails of its photos
    (``thumbnails``: data URIs, before and after)."""
    from renovation.projections.progress import progress_rows
    from renovation.projections.worklists import finding_rows

    models = ws.read_models("progress", "worklists")
    with models.engine.connect() as connection:
        codes = _codes(ws, connection, user, code, contractor)
        chosen = [{key: row[key] for key in ("code", "name", "district", "contractor")}
                  for row in progress_rows(connection, today) if codes is None or row["code"] in codes]
        findings = [row for row in finding_rows(connection, today, state="open",
                                                codes=[row["code"] for row in chosen], zone=ws.app.zone)
                    if row["raised_at"].date() <= today]  # a notice of an earlier day: what was raised by then
        with_findings = {row["code"] for row in findings}
        chosen = [row for row in chosen if row["code"] in with_findings or code is not None]
    steps = {compound["code"]: photo_steps(ws, compound["code"]) for compound in chosen}
    return chosen, [{**row, "thumbnails": thumbnails(ws, steps[row["code"]].get(row["finding_id"], []))}
                    for row in findings]


def photo_steps(ws: Workspace, code: str) -> dict[str, list[tuple[str, str]]]:
    """The photos of each finding of a compound, by finding id: (the step, the photo's name), in order."""
    found: dict[str, list[tuple[str, str]]] = {}
    event: Any
    project = ws.app.get_project(code)
    for event in ws.app.read_events(project.id, project.code):
        if isinstance(event, P.InspectionRecorded):
            for finding in event.findings:
                found.setdefault(finding.finding_id, []).extend(("raised", name) for name in event.photos)
        elif type(event) in _STEPS:
            found.setdefault(event.finding_id, []).extend((_STEPS[type(event)], name)
                                                          for name in getattr(event, "photos", []))
    return found


def keeps_photos(ws: Workspace) -> bool:
    """Whether the store keeps any photo (a page of thumbnails has none to look for otherwise)."""
    from renovation.store import photos

    ws.app  # noqa: B018 - binds the backend to the store
    return photos.some(ws.backend)


def thumbnails(ws: Workspace, steps: list[tuple[str, str]]) -> list[str]:
    """A finding's photos, each as a small JPEG in a data URI (a page that fetches nothing). A photo is
    named by the SHA-256 of its bytes, which are checked each time: its thumbnail is drawn once per
    process."""
    from renovation.services.photos import thumbnail
    from renovation.store import photos

    drawn: list[str] = []
    for _step, name in steps:
        photo = photos.get(ws.backend, name)
        if photo is None or hashlib.sha256(photo.data).hexdigest() != name:
            continue  # missing or altered: not shown (``audit verify`` says which)
        with _THUMBNAILS_LOCK:
            uri = _THUMBNAILS.get(name)
        if uri is None:
            uri = thumbnail(photo.data) or ""
            with _THUMBNAILS_LOCK:
                _THUMBNAILS[name] = uri
                while len(_THUMBNAILS) > 2048:  # about 10 KB each
                    del _THUMBNAILS[next(iter(_THUMBNAILS))]
        if uri:
            drawn.append(uri)
    return drawn


_THUMBNAILS: dict[str, str] = {}
_THUMBNAILS_LOCK = threading.Lock()


def _codes(ws: Workspace, connection: Connection, user: str, code: str | None,
           contractor: str | None) -> list[str] | None:
    """The compounds the rows may be of (None: all): the one asked for, a contractor's, and only the
    user's own if the user is a contractor."""
    from sqlalchemy import select

    from renovation.projections.worklists import contractors

    own = own_contractor(ws, user)
    query = select(contractors.c.code)
    for name in (own, contractor):
        if name is not None:
            query = query.where(contractors.c.contractor == name)
    if code is not None:
        code = normalise_code(code)
        query = query.where(contractors.c.code == code)
        found = list(connection.execute(query).scalars())
        if not found:
            builder = connection.execute(select(contractors.c.contractor).where(contractors.c.code == code)).scalar()
            seen = builder is not None and own in (None, builder)  # another contractor's: as if not there
            if not seen and (own is not None or not _exists(ws, code)):
                raise errors.CompoundNotFound(code=code)
        return found
    if own is None and contractor is None:
        return None
    return list(connection.execute(query).scalars())


def _exists(ws: Workspace, code: str) -> bool:
    from renovation.services.boards import require_compound

    try:
        require_compound(ws, code)
    except errors.CompoundNotFound:
        return False
    return True


def finding_history(ws: Workspace, user: str, code: str, finding_id: str) -> list[FindingStep]:
    """Every step of a finding from the store: raised (by the inspection), each rectification, close
    and reopening, with who, when (business time and recording time) and the note."""
    project = ws.app.get_project(code)
    own = own_contractor(ws, user)
    if own is not None and project.contractor != own:
        raise errors.CompoundNotFound(code=project.code)
    finding_id = finding_id.strip().upper()
    if finding_id not in project.findings:
        raise errors.UnknownFinding(code=project.code, finding_id=finding_id)
    from renovation.services.photos import described

    steps: list[FindingStep] = []
    shown: set[str] = set()
    raised: datetime | None = None
    for event in ws.app.read_events(project.id, project.code):
        step = _step(event, finding_id)
        if step is not None:
            names = step["photos"]
            step["photos"] = described(ws.backend, names, step["at"], raised, shown)
            shown.update(names)
            raised = raised or step["at"]
            steps.append(step)
    return steps


def finding_photos(ws: Workspace, user: str, code: str, finding_id: str) -> list[tuple[str, Photo]]:
    """The photos of a finding, each with the step it documents (raised, rectified, closed), in order."""
    from renovation.services.errors import Refused
    from renovation.store import photos

    finding_history(ws, user, code, finding_id)  # refused as it is: a compound not to be seen, no such finding
    wanted = finding_id.strip().upper()
    found: list[tuple[str, Photo]] = []
    for step, name in photo_steps(ws, code).get(wanted, []):
        photo = photos.get(ws.backend, name)
        if photo is None or hashlib.sha256(photo.data).hexdigest() != name:
            what = "is not in the store" if photo is None else "no longer has the bytes it was kept with"
            raise Refused(f"photo {name[:12]} of {wanted} {what}: `renovation audit verify` says more")
        found.append((step, photo))
    return found


_STEPS: dict[type[Any], str] = {P.FindingRectified: "rectified", P.FindingClosed: "closed",
                                P.FindingReopened: "reopened"}


def _step(event: Any, finding_id: str) -> FindingStep | None:
    if isinstance(event, P.InspectionRecorded):
        for finding in event.findings:
            if finding.finding_id == finding_id:
                where = f" @{finding.location}" if finding.location else ""
                note = (f"{event.inspection_id} {event.kind}: {finding.category}/{finding.severity} "
                        f"{finding.description}{where}, due {finding.due.isoformat()}")
                return {"step": "raised", "at": event.at, "by": event.user, "note": note,
                        "photos": list(event.photos), "recorded_at": event.timestamp}
        return None
    kind = _STEPS.get(type(event))
    if kind is None or event.finding_id != finding_id:
        return None
    return {"step": kind, "at": event.at, "by": event.user, "note": event.note,
            "photos": list(getattr(event, "photos", [])), "recorded_at": event.timestamp}

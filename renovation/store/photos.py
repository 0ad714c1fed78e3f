"""Photos as evidence, kept in the store itself, content-addressed: a row per photo, named by the
SHA-256 of its bytes, which the event that documents a finding carries (so the chain covers the photo
too: a photo's bytes changed behind the application's back no longer match the name the chained event
gives them, and ``audit verify`` says so). A photo is written before the event that names it; one
whose command then fails stays, unnamed and harmless (the same bytes are the same row)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from renovation.store.backend import Backend

PHOTOS_TABLE = "event_photos"
PHOTO_COLUMNS = ("sha256 TEXT PRIMARY KEY, media_type TEXT NOT NULL, size INTEGER NOT NULL, taken_at TEXT, "
                 "data {binary} NOT NULL")


@dataclass(frozen=True)
class Photo:
    sha256: str
    media_type: str  # image/jpeg, image/png, ...
    taken_at: str | None  # the camera's capture time (EXIF), ISO 8601 in the store's zone, if it says
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def create_statement(backend: Backend) -> str:
    columns = PHOTO_COLUMNS.format(binary="bytea" if backend.is_postgres else "BLOB")
    return f"CREATE TABLE IF NOT EXISTS {backend.qualified(PHOTOS_TABLE)} ({columns})"


def exists(backend: Backend) -> bool:
    """Whether the store has the photos' table (a store made before photos were kept has not)."""
    if getattr(backend, "_photos_table", False):
        return True
    if backend.is_postgres:
        found = backend.query("SELECT to_regclass(?) IS NOT NULL", (backend.qualified(PHOTOS_TABLE),))
    else:
        found = backend.query("SELECT COUNT(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = ?",
                              (PHOTOS_TABLE,))
    there = bool(found and found[0][0])
    if there:
        backend._photos_table = True  # type: ignore[attr-defined]
    return there


def ensure(backend: Backend) -> None:
    """The photos' table, made if missing, before the first photo is kept (on PostgreSQL with roles,
    only a login that may create tables can: ``db roles --apply`` makes it)."""
    if not exists(backend):
        backend.execute([(create_statement(backend), ())])
        backend._photos_table = True  # type: ignore[attr-defined]


def keep(backend: Backend, photos: Sequence[Photo]) -> None:
    """Store the photos (one transaction; a photo stored already is left as it is)."""
    if not photos:
        return
    ensure(backend)
    table = backend.qualified(PHOTOS_TABLE)
    backend.execute([(f"INSERT INTO {table} (sha256, media_type, size, taken_at, data) VALUES (?, ?, ?, ?, ?) "
                      "ON CONFLICT (sha256) DO NOTHING",
                      (photo.sha256, photo.media_type, photo.size, photo.taken_at, photo.data)) for photo in photos])


def get(backend: Backend, sha256: str) -> Photo | None:
    if not exists(backend):
        return None
    data = "data" if backend.is_postgres else "CAST(data AS BLOB)"  # bytes, whatever was written there
    rows = backend.query(f"SELECT sha256, media_type, taken_at, {data} FROM {backend.qualified(PHOTOS_TABLE)} "
                         "WHERE sha256 = ?", (sha256,))
    if not rows:
        return None
    name, media_type, taken_at, data = rows[0]
    return Photo(str(name), str(media_type), taken_at, bytes(data))


def has(backend: Backend, sha256: str) -> bool:
    if not exists(backend):
        return False
    return bool(backend.query(f"SELECT 1 FROM {backend.qualified(PHOTOS_TABLE)} WHERE sha256 = ?", (sha256,)))


def some(backend: Backend) -> bool:
    """Whether the store keeps any photo at all."""
    return exists(backend) and bool(backend.query(f"SELECT 1 FROM {backend.qualified(PHOTOS_TABLE)} LIMIT 1"))


def every(backend: Backend) -> Iterator[Photo]:
    """Every stored photo, by name (for ``audit verify`` and ``export``)."""
    if not exists(backend):
        return
    names = [str(row[0]) for row in backend.query(f"SELECT sha256 FROM {backend.qualified(PHOTOS_TABLE)} "
                                                  "ORDER BY sha256")]
    for name in names:
        found = get(backend, name)
        if found is not None:
            yield found

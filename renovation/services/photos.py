"""Photos as evidence (``--photo FILE`` on ``inspect``, ``finding rectify`` and ``finding close``): each
checked to be an image (Pillow) no larger than ``[photos] max_mb`` (default 10 MB), named by the
SHA-256 of its bytes, kept in the store (``renovation.store.photos``) and named in the event that
documents the finding, so the chain covers it. Its capture time (EXIF), read in the store's zone, is
kept and shown, and flagged when the photo was taken after the moment it documents or long before."""

from __future__ import annotations

import hashlib
import io
import stat
from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from renovation.services.errors import BadRequest
from renovation.store.photos import Photo

if TYPE_CHECKING:
    from renovation.store.backend import Backend

#: A photo taken this long before the moment it documents is flagged (it may be an old picture).
LONG_BEFORE = timedelta(days=7)
#: The raster formats a photo may be in (never one that runs code to draw, such as PostScript).
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "TIFF", "BMP")
#: The most pixels a photo may have (a 60-megapixel camera's): more is refused, not decoded.
MAX_PIXELS = 60_000_000
#: EXIF tags: DateTimeOriginal (in the Exif IFD), and DateTime (the file's, in the main IFD).
_EXIF_IFD, _TAKEN, _CHANGED = 0x8769, 36867, 306


def read(path: Path, zone: tzinfo, max_bytes: int) -> Photo:
    """The photo in ``path``, checked; BadRequest (one line) if it is not a file, too large, or not an image."""
    shown = str(path)[:200]
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise BadRequest(f"--photo {shown}: {error.strerror}") from None
    if not stat.S_ISREG(mode):
        raise BadRequest(f"--photo {shown}: not a file")
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as error:
        raise BadRequest(f"--photo {shown}: {error.strerror}") from None
    if len(data) > max_bytes:
        raise BadRequest(f"--photo {shown}: larger than {max_bytes // 1_000_000} MB ([photos] max_mb)")
    return checked(data, zone, shown)


def checked(data: bytes, zone: tzinfo, shown: str, what: str = "--photo") -> Photo:
    """The bytes as a photo: a raster image Pillow decodes whole (not truncated, not over MAX_PIXELS),
    its type and capture time; BadRequest if not."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=FORMATS) as image:
                width, height = image.size
                kind = image.format
                exif = image.getexif()
                taken = exif.get_ifd(_EXIF_IFD).get(_TAKEN) or exif.get(_CHANGED)
                if width * height <= MAX_PIXELS:
                    image.load()  # decoded whole: a truncated or damaged file is refused here
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadRequest(f"{what} {shown}: not an image (a JPEG, PNG, WebP, GIF, TIFF or BMP photo)") from None
    if width * height > MAX_PIXELS:
        raise BadRequest(f"{what} {shown}: {width}x{height} pixels, more than {MAX_PIXELS // 1_000_000} million")
    media_type = Image.MIME.get(kind or "", "application/octet-stream")
    return Photo(hashlib.sha256(data).hexdigest(), media_type, _taken_at(taken, zone), data)


def _taken_at(raw: Any, zone: tzinfo) -> str | None:
    """EXIF's "YYYY:MM:DD HH:MM:SS" (the camera's local time, taken as the store's zone's), as ISO 8601."""
    try:
        moment = datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    except (TypeError, ValueError):
        return None
    return moment.replace(tzinfo=zone).isoformat(timespec="seconds")


def flag(taken_at: str | None, documents: datetime) -> str | None:
    """What is odd about a photo taken then for a moment (``documents``): taken after it, or long before."""
    if taken_at is None:
        return "no capture time"
    taken = datetime.fromisoformat(taken_at)
    if taken > documents:
        return "taken after"
    if documents - taken > LONG_BEFORE:
        return "taken long before"
    return None


def described(backend: Backend, names: Iterable[str], documents: datetime, raised: datetime | None = None,
              earlier: set[str] | None = None) -> list[str]:
    """Each photo as "SHA12 (taken T, flag)" for ``finding show``: flagged when it is missing or its
    bytes changed, taken after the moment it documents or long before, taken before the finding was
    ``raised`` (an "after" photo), or one an ``earlier`` step showed already."""
    from renovation.store import photos as store

    shown = []
    for name in names:
        found = store.get(backend, name)
        taken = found.taken_at if found else None
        if found is None:
            odd: str | None = "missing from the store"
        elif hashlib.sha256(found.data).hexdigest() != name:
            odd = "its bytes changed since it was kept"
        elif earlier is not None and name in earlier:
            odd = "the same photo as an earlier step"
        elif raised is not None and taken is not None and datetime.fromisoformat(taken) < raised:
            odd = "taken before the finding was raised"
        else:
            odd = flag(taken, documents)
        parts = [f"taken {taken}"] if taken else []
        parts += [odd] if odd else []
        shown.append(f"{name[:12]} ({', '.join(parts)})" if parts else name[:12])
    return shown


def thumbnail(data: bytes, size: int = 160) -> str | None:
    """A photo as a JPEG no larger than ``size`` pixels a side, in a data URI; None if its bytes can
    no longer be drawn (changed behind the application's back: ``audit verify`` says so)."""
    import base64

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:
            image.draft("RGB", (size * 2, size * 2))  # a JPEG decoded small from the start
            small = image.convert("RGB")
            small.thumbnail((size, size))
            out = io.BytesIO()
            small.save(out, format="JPEG", quality=80)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


def extension(media_type: str) -> str:
    return {"image/jpeg": ".jpg", "image/png": ".png", "image/gif": ".gif", "image/webp": ".webp",
            "image/tiff": ".tif", "image/bmp": ".bmp"}.get(media_type, ".img")


"""The rules every single value must keep, and their limits: the one source of them.

The aggregate checks each value it is given with these; the CLI's parsers (``renovation.cli.inputs``)
turn typed text into a value and then call the same checks, so a limit or a message is written once;
the importer checks the texts and amounts of imported events with them (the rules that involve a
compound's state are the aggregate's, which an import does not run yet). A broken rule raises
:class:`~renovation.domain.errors.InvalidValue`, whose reason words live in ``messages``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from renovation.domain.errors import InvalidValue, TimeInFuture
from renovation.domain.values import CODE_PATTERN, MAX_AMOUNT, MAX_DECIMAL_PLACES, RESERVED_CODES, is_period

#: The longest text of each kind (characters).
NAME = 100  # a compound, district, contractor, operator, material, witness, lab or location
LABEL = 64  # a batch or a report number
ITEM = 32  # a bill-of-quantities item code
UNIT = 16  # a unit of measure
DESCRIPTION = 500  # a finding's description, a reason, a note
ITEM_DESCRIPTION = 200  # a bill-of-quantities item's description
LONG_TEXT = 1000  # a resident's feedback: the longest text the tracker keeps
#: Text checked without a kind of its own.
DEFAULT_TEXT = 200

#: What a person types is held to fen for money (a contract value) and to two decimal places for a
#: score; the record itself keeps any amount or score to MAX_DECIMAL_PLACES (older data, imports).
MONEY_PLACES = 2
SCORE_PLACES = 2
#: A horse-race score is 0 to 100.
MAX_SCORE = Decimal(100)
#: The most households of a compound, and the most illegal structures one record may count.
MAX_HOUSEHOLDS = 100_000
MAX_STRUCTURES = 10_000
#: The longest defects liability period (months) before the retention is released.
MAX_DEFECTS_MONTHS = 120
#: The most commands of an offline copy one import re-applies to a compound (``import --rebase``).
MAX_REBASED = 1_000_000

#: Unicode categories no text may hold: controls, invisible formatting (e.g. U+202E, which reverses
#: what follows it on screen), lone surrogates.
_HIDDEN = ("Cc", "Cf", "Cs")


def check_text(field: str, value: str, *, max_length: int = DEFAULT_TEXT) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(field=field, value=value if isinstance(value, str) else "", reason="empty")
    if len(value) > max_length:
        raise InvalidValue(field=field, value=value[:20] + "…", reason="too_long", limit=max_length)
    if not value.isprintable() and any(unicodedata.category(ch) in _HIDDEN for ch in value):
        raise InvalidValue(field=field, value=value[:20], reason="control_character")


#: Photos one event may carry (before: an inspection's; after: a rectification's or a close's).
PHOTOS = 20
_SHA256 = re.compile(r"[0-9a-f]{64}")


def check_photos(photos: Sequence[str], *, with_findings: bool = True) -> None:
    """Photos are named by their SHA-256 (the store keeps the bytes); an inspection's document its
    findings, so one without findings has none."""
    if len(photos) > PHOTOS:
        raise InvalidValue(field="photos", value=f"{len(photos)} photos", reason="too_many", limit=PHOTOS)
    for photo in photos:
        if not isinstance(photo, str) or not _SHA256.fullmatch(photo):
            raise InvalidValue(field="photo", value=str(photo)[:20], reason="not_a_photo_hash")
    if photos and not with_findings:
        raise InvalidValue(field="photo", value=photos[0][:12], reason="photos_without_findings")
    for number, photo in enumerate(photos):
        if photo in photos[:number]:
            raise InvalidValue(field="photo", value=photo[:12], reason="duplicate")


def check_count(field: str, count: int, *, limit: int) -> None:
    """Whole numbers of things (households, illegal structures): at least one, at most ``limit``."""
    if count <= 0:
        raise InvalidValue(field=field, value=str(count), reason="not_positive")
    if count > limit:
        raise InvalidValue(field=field, value=str(count), reason="too_large", limit=limit)


def check_amount(field: str, value: Decimal, *, allow_zero: bool = False, places: int = MAX_DECIMAL_PLACES,
                 largest: Decimal = MAX_AMOUNT) -> None:
    """Quantities, prices and amounts: finite, not negative (nor zero unless ``allow_zero``), at most
    ``largest``, with at most ``places`` decimal places."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise InvalidValue(field=field, value=str(value), reason="not_finite")
    if value.is_signed() or value == 0:  # -0 is signed
        if allow_zero and value.is_signed():
            raise InvalidValue(field=field, value=str(value), reason="negative")
        if not allow_zero:
            raise InvalidValue(field=field, value=str(value), reason="not_positive")
    if value > largest:
        raise InvalidValue(field=field, value=str(value), reason="too_large", limit=format(largest, "f"))
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > places:
        raise InvalidValue(field=field, value=str(value), reason="too_precise", limit=places)


def check_score(field: str, value: Decimal, *, places: int = MAX_DECIMAL_PLACES) -> None:
    check_amount(field, value, allow_zero=True, places=places)
    if value > MAX_SCORE:
        raise InvalidValue(field=field, value=str(value), reason="score_range")


def check_code(code: str) -> None:
    """A compound code, already normalised (upper case, trimmed)."""
    if not CODE_PATTERN.match(code):
        raise InvalidValue(field="code", value=code, reason="bad_code")
    if code.lower() in RESERVED_CODES:
        raise InvalidValue(field="code", value=code, reason="reserved_code")


def check_period(period: str, field: str = "period") -> None:
    """A month of metering or scoring, ``YYYY-MM``."""
    if not is_period(period):
        raise InvalidValue(field=field, value=period, reason="bad_period")


def check_not_future(at: datetime, now: datetime) -> None:
    """A fact cannot have happened after the moment it is recorded."""
    if at > now:
        raise TimeInFuture(at=at.isoformat(timespec="minutes"), now=now.isoformat(timespec="minutes"))

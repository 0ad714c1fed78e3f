"""The recording clock and the user's time zone.

Business times typed without an offset are in the user's zone: ``RENOVATION_TZ`` (an IANA name
such as ``Asia/Shanghai``) or else the machine's local zone.
"""

from __future__ import annotations

import os
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class BadTimeZone(ValueError):
    pass


def local_zone() -> tzinfo:
    name = os.environ.get("RENOVATION_TZ")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise BadTimeZone(f"RENOVATION_TZ={name!r} is not a known time zone") from None
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


def now() -> datetime:
    """The wall clock, aware, in the user's zone. Only the application reads it."""
    return datetime.now(local_zone())

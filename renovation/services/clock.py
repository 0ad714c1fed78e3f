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
    """``RENOVATION_TZ``, else the machine's named zone (``TZ``, else ``/etc/localtime``), so that a date
    in summer gets its summer offset; only if neither names one, the machine's offset of today."""
    name = os.environ.get("RENOVATION_TZ")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise BadTimeZone(f"RENOVATION_TZ={name!r} is not a known time zone") from None
    machine = _machine_zone()
    if machine is not None:
        return machine
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


def _machine_zone() -> ZoneInfo | None:
    named = os.environ.get("TZ", "").removeprefix(":")
    if named:
        try:
            return ZoneInfo(named)
        except (ZoneInfoNotFoundError, ValueError):
            return None  # a POSIX rule such as "CST-8": the C library's offset below
    try:
        target = os.path.realpath("/etc/localtime")
        key = target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else None
        return ZoneInfo(key) if key else None
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def now() -> datetime:
    """The wall clock, aware, in the user's zone. Only the application reads it."""
    return datetime.now(local_zone())

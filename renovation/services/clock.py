"""The recording clock and the store's time zone.

A store has one time zone, set when it is created (``RENOVATION_TZ``, an IANA name such as
``Asia/Shanghai``, else the machine's named zone; the demo's is Asia/Shanghai) and kept in the
store (``renovation db info`` shows it). Business times typed without an offset are read in it, and
every time a command records (its recording time and its business times) is stored in it, so that
a morning round's day is the project's day whatever the machine that records it. A store made
before stores kept a zone uses ``RENOVATION_TZ`` or the machine's zone until ``renovation db zone``
sets one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class BadTimeZone(ValueError):
    pass


#: Where the store's zone is read from, once, when a time is first read or parsed (the CLI sets it
#: for its --db, reading the store without opening it for writing); None until then.
_store_zone: Callable[[], str | None] | None = None
_resolved: tzinfo | None = None


def use_store_zone(source: Callable[[], str | None] | None) -> None:
    """Read business times in the zone ``source`` gives (the store's), asked once, when first needed."""
    global _store_zone, _resolved
    _store_zone, _resolved = source, None


def zone_named(name: str, where: str = "") -> ZoneInfo:
    """The zone of an IANA name; BadTimeZone naming ``where`` it came from if there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadTimeZone(f"{where}{name!r} is not a known time zone (an IANA name such as Asia/Shanghai)") from None


def local_zone() -> tzinfo:
    """The store's zone, if one is known (see :func:`use_store_zone`); else the zone a new store gets."""
    global _resolved
    if _resolved is None:
        name = _store_zone() if _store_zone is not None else None
        _resolved = zone_named(name, "the store's time zone ") if name else default_zone()
    return _resolved


def default_zone() -> tzinfo:
    """``RENOVATION_TZ``, else the machine's named zone (``TZ``, else ``/etc/localtime``), so that a date
    in summer gets its summer offset; only if neither names one, the machine's offset of today."""
    name = os.environ.get("RENOVATION_TZ")
    if name:
        return zone_named(name, "RENOVATION_TZ=")
    machine = _machine_zone()
    if machine is not None:
        return machine
    zone = datetime.now().astimezone().tzinfo
    assert zone is not None
    return zone


def zone_name(zone: tzinfo) -> str:
    """The IANA name a store keeps: the zone's key, or for a bare offset of whole hours its
    ``Etc/GMT`` name (whose sign is inverted by convention), else UTC."""
    if isinstance(zone, ZoneInfo):
        return zone.key
    offset = datetime.now(zone).utcoffset() or timedelta(0)
    hours, rest = divmod(int(offset.total_seconds()), 3600)
    if rest or not hours:
        return "UTC"
    return f"Etc/GMT{-hours:+d}"


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


def now(zone: tzinfo | None = None) -> datetime:
    """The wall clock, aware, in ``zone`` (the store's). Only the application reads it."""
    return datetime.now(zone or local_zone())

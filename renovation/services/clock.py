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

import functools
import os
from collections.abc import Callable
from datetime import datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


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


#: Names in the zone database that name no one zone (they mean whatever the machine is set to).
NOT_A_PLACE = frozenset({"localtime", "posixrules", "Factory"})


def zone_named(name: str, where: str = "") -> ZoneInfo:
    """The zone of an IANA name; BadTimeZone naming ``where`` it came from if there is none."""
    if name in NOT_A_PLACE:
        raise BadTimeZone(f"{where}{name!r} names no one time zone (give an IANA name such as Asia/Shanghai)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as "Asia", too long a name
        raise BadTimeZone(f"{where}{name!r} is not a known time zone (an IANA name such as Asia/Shanghai)") from None


def keepable(name: str, where: str = "") -> ZoneInfo:
    """The zone a store may keep: a name of the zone database's own list (not a file that happens to
    parse, which another machine may not have)."""
    zone = zone_named(name, where)
    if name not in _known():
        raise BadTimeZone(f"{where}{name!r} is not a known time zone (an IANA name such as Asia/Shanghai)")
    return zone


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
        return keepable(name, "RENOVATION_TZ=")
    machine = _machine_zone()
    if machine is not None:
        return machine
    return timezone(datetime.now().astimezone().utcoffset() or timedelta(0))  # shown as UTC+hh:mm, no name


def unnamed_zone_problem() -> str:
    """What to say of a store made on a machine whose zone has no name (it keeps none)."""
    given = os.environ.get("TZ")
    tz = f" (TZ={given[:40]!r})" if given is not None else ""
    return (f"this machine's time zone has no IANA name{tz}: the store keeps none and reads times at "
            f"{default_zone()}, today's offset, without summer time; keep one with `renovation db zone NAME` "
            "(or set RENOVATION_TZ before the store is made)")


def zone_name(zone: tzinfo) -> str | None:
    """The IANA name a store keeps for ``zone``; None for a zone without one (a bare offset, or a POSIX
    rule such as "CST-8"): no guess is kept."""
    if isinstance(zone, ZoneInfo) and zone.key not in NOT_A_PLACE and zone.key in _known():
        return str(zone.key)
    return None


@functools.cache
def _known() -> frozenset[str]:
    return frozenset(available_timezones())


def _machine_zone() -> ZoneInfo | None:
    """The machine's zone by its name: ``TZ`` (a name, or a path into the zone database), else the
    zone ``/etc/localtime`` links to; None if neither names one."""
    named = os.environ.get("TZ", "").removeprefix(":")
    if named.startswith("/"):  # a file, such as /etc/localtime: the zone it links to
        try:
            named = os.path.realpath(named)
        except (OSError, ValueError):
            return None
    if named:
        return _named(named.split("zoneinfo/", 1)[1] if "zoneinfo/" in named else named)
    try:
        target = os.path.realpath("/etc/localtime")
    except OSError:
        return None
    return _named(target.split("zoneinfo/", 1)[1]) if "zoneinfo/" in target else None


def _named(name: str) -> ZoneInfo | None:
    try:
        return zone_named(name)
    except BadTimeZone:
        return None  # a POSIX rule such as "CST-8": the C library's offset (see default_zone)


def now(zone: tzinfo | None = None) -> datetime:
    """The wall clock, aware, in ``zone`` (the store's). Only the application reads it."""
    return datetime.now(zone or local_zone())

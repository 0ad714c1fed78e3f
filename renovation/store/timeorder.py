"""Recording times in log order, store-wide: an event is never recorded before the event stored before
it, so that "the log as of a time" is a prefix of the log (``--as-of`` resolves to a position).

The chained recorders check it while they hold the events table's write lock, before any link is
written, for every event that carries a command id (every event recorded since commands have had
them). Events written before that are taken as recorded: the older demo and skewed clocks gave
some out of order. A save that fails the check raised :class:`RecordedOutOfOrder`; the writer then
runs its command again, from a clock no earlier than the latest stored event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from eventsourcing.persistence import IntegrityError, StoredEvent

_TIMESTAMP = re.compile(rb'"timestamp":\{"_type_":"datetime_iso","_data_":"([^"\\]+)"\}')
_COMMAND_ID = re.compile(rb'"command_id":(")?')


class RecordedOutOfOrder(IntegrityError):
    """Events recorded before the latest stored event: another writer saved a later one first."""


def recorded_at(state: bytes | str | None) -> datetime | None:
    """The recording time in a stored event's state; None if it has none that can be read."""
    return _read(state)[0]


def _read(state: bytes | str | None) -> tuple[datetime | None, bool]:
    """The recording time in a stored state and whether it carries a command id: from the bytes as
    the application writes them, else (a row written some other way) from the decoded JSON."""
    if state is None:
        return None, False
    raw = state if isinstance(state, bytes) else str(state).encode()
    found, command = _TIMESTAMP.search(raw), _COMMAND_ID.search(raw)
    try:
        if found is not None and command is not None:
            when: datetime | None = datetime.fromisoformat(found.group(1).decode())
            commanded = command.group(1) is not None
        else:
            decoded: Any = json.loads(raw)
            value = decoded.get("timestamp")
            when = datetime.fromisoformat(value["_data_"]) if isinstance(value, dict) else None
            commanded = decoded.get("command_id") is not None
    except (ValueError, AttributeError, TypeError, KeyError, UnicodeDecodeError):
        return None, False
    if when is not None and when.utcoffset() is None:  # a time without its zone (written by hand): no time
        return None, commanded
    return when, commanded


def check_order(latest: datetime | None, events: Sequence[StoredEvent]) -> None:
    """Raise RecordedOutOfOrder unless each event that carries a command id is recorded no earlier
    than ``latest`` (the latest stored event's time) and every event before it in ``events``."""
    for stored in events:
        when, has_command = _read(stored.state)
        if when is None:
            continue
        if latest is not None and when < latest and has_command:
            raise RecordedOutOfOrder(
                f"recorded at {when.isoformat()}, before the latest stored event ({latest.isoformat()})"
            )
        if latest is None or when > latest:
            latest = when

"""The errors a use case may raise that a user caused or can act on; the CLI shows each as one line
(the domain's own refusals are ``renovation.domain.errors``)."""

from __future__ import annotations

from renovation.projections.errors import BadEvent, BadValue, NotSetUp
from renovation.services.clock import BadTimeZone
from renovation.services.config import BadConfig
from renovation.services.writer import ClockBehind, Unreadable, WriteConflict, ZoneKept
from renovation.store.backend import BadDatabaseURL

__all__ = [
    "BAD_INPUT",
    "REFUSED",
    "BadConfig",
    "BadDatabaseURL",
    "BadEvent",
    "BadRequest",
    "BadTimeZone",
    "BadValue",
    "ClockBehind",
    "NoStore",
    "NotSetUp",
    "Refused",
    "Unreadable",
    "WriteConflict",
    "ZoneKept",
]


class Refused(Exception):
    """A maintenance action refused by the state of the store (exit 1); nothing was changed."""


class BadRequest(ValueError):
    """The request itself cannot be carried out as given (exit 2); nothing was changed."""


class NoStore(BadRequest):
    """A command that needs a store, given a path where there is none (nothing is created)."""


#: What the state of the store refused (exit 1), and what was asked wrongly (exit 2).
REFUSED: tuple[type[Exception], ...] = (ClockBehind, WriteConflict, Refused, ZoneKept, BadEvent, NotSetUp,
                                        Unreadable, BadValue)
BAD_INPUT: tuple[type[Exception], ...] = (BadDatabaseURL, BadRequest, BadTimeZone, BadConfig)


def reportable() -> tuple[type[Exception], ...]:
    """The errors we mean to report to a user in a line (the CLI) or a plain page (the web board): the
    domain's refusals, these, and the databases' own (busy, unreachable, refusing a login)."""
    import sqlite3

    from eventsourcing.persistence import PersistenceError
    from sqlalchemy.exc import DBAPIError as ReadModelDatabaseError

    from renovation.domain.errors import DomainError

    # sqlite3.Error: eventsourcing lets some through unwrapped (a --db file that is not a database);
    # SQLAlchemy's DBAPIError: the read models' database busy, unreachable or refusing this login.
    return (DomainError, *REFUSED, *BAD_INPUT, PersistenceError, sqlite3.Error, ReadModelDatabaseError)

"""The machinery every read model shares.

A projection owns a few SQL tables (SQLAlchemy Core, in the same database as the events) and one
row of ``projection_tracking``: the id of the last notification it applied. It catches up by reading
the notification log after that position, applying each event and advancing the position in one
transaction, so an event is never applied twice and never skipped, even when two processes catch
up at once (the second waits for the write lock, re-reads the position and finds nothing to do).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, overload

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Dialect,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    insert,
    select,
    update,
)

from renovation.domain.values import FIRST_YEAR, LAST_YEAR
from renovation.projections.errors import BadValue

if TYPE_CHECKING:
    from renovation.projections.rows import Rows

metadata = MetaData()

tracking = Table(
    "projection_tracking",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
)


def parsed_by(kind: TypeDecorator[Any], dialect: Dialect, coltype: Any,
              read: Callable[[Any], Any]) -> Callable[[Any], Any] | None:
    """A column's result processor that hands each stored value straight to ``read`` (which takes None).

    SQLAlchemy's own for a ``TypeDecorator`` calls ``process_result_value`` from a wrapper: two calls a
    value, and a province's boards read hundreds of thousands of values. The types below override
    ``result_processor`` with their reader and ``process_result_value`` calls the same; where the
    driver's text needs a processor of its own first, SQLAlchemy's chain is kept."""
    if kind.impl_instance.result_processor(dialect, coltype) is not None:
        return TypeDecorator.result_processor(kind, dialect, coltype)
    return read


# The readers: a stored value no read model writes (text written into the table by hand) is a ``BadValue``,
# one line to the user, not a traceback from deep inside a board. What they let through is what the boards'
# arithmetic and formatting take: a finite decimal whose first digit is within 30 places of the point (the
# tracker records amounts up to 10^12; "1e999999999" is a decimal, and formatted it is a gigabyte), a day or time
# within the years the tracker takes (one at the calendar's edge overflows when moved to another zone).
_LARGEST_EXPONENT = 30


@overload
def read_decimal(value: None) -> None: ...


@overload
def read_decimal(value: str | bytes) -> Decimal: ...


def read_decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        found = Decimal(value)
    except (ArithmeticError, TypeError, ValueError):
        raise BadValue("a decimal", value) from None
    if not found.is_finite() or not -_LARGEST_EXPONENT <= found.adjusted() <= _LARGEST_EXPONENT:
        raise BadValue("a decimal", value)
    return found


@overload
def read_date(value: None) -> None: ...


@overload
def read_date(value: str | bytes) -> date: ...


def read_date(value: Any) -> date | None:
    if value is None:
        return None
    try:
        found = date.fromisoformat(value)
    except (TypeError, ValueError):
        raise BadValue("a date", value) from None
    if not FIRST_YEAR <= found.year <= LAST_YEAR:
        raise BadValue("a date", value)
    return found


@overload
def read_datetime(value: None) -> None: ...


@overload
def read_datetime(value: str | bytes) -> datetime: ...


def read_datetime(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        found = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise BadValue("a date and time with its zone", value) from None
    # Every one is written in UTC: a board compares it with aware times and shows it in the store's zone.
    if found.tzinfo is None or not FIRST_YEAR <= found.year <= LAST_YEAR:
        raise BadValue("a date and time with its zone", value)
    return found


class DecimalText(TypeDecorator[Decimal]):
    """An exact decimal stored as its plain string (SQLite has no decimal type; floats are never used)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> str | None:
        return None if value is None else format(value, "f")

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        return read_decimal(value)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        return parsed_by(self, dialect, coltype, read_decimal)


class DateText(TypeDecorator[date]):
    impl = String(10)
    cache_ok = True

    def process_bind_param(self, value: date | None, dialect: Dialect) -> str | None:
        return None if value is None else value.isoformat()

    def process_result_value(self, value: str | None, dialect: Dialect) -> date | None:
        return read_date(value)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        return parsed_by(self, dialect, coltype, read_date)


class DateTimeText(TypeDecorator[datetime]):
    """An aware date-time stored in UTC as ISO 8601, so that rows sort by time whatever offset each was
    recorded with; read back in UTC (a board shows it in the store's zone)."""

    impl = String(40)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> str | None:
        return None if value is None else value.astimezone(UTC).isoformat()

    def process_result_value(self, value: str | None, dialect: Dialect) -> datetime | None:
        return read_datetime(value)

    def result_processor(self, dialect: Dialect, coltype: Any) -> Callable[[Any], Any] | None:
        return parsed_by(self, dialect, coltype, read_datetime)


Handler = Callable[["Rows", Any], None]


class Event:
    """An event as a projection sees it: its type (class name), the compound code and its fields,
    which read as attributes (``event.quantity``)."""

    __slots__ = ("__dict__", "code", "event_type", "fields")

    def __init__(self, event_type: str, code: str, fields: dict[str, Any]) -> None:
        self.event_type = event_type
        self.code = code
        self.fields = fields
        self.__dict__ = fields  # the fields as plain attributes, read without a method call

    if TYPE_CHECKING:  # for the type checker: any field name reads as an attribute

        def __getattr__(self, item: str) -> Any: ...


@dataclass(frozen=True)
class PartialIndex:
    """An index of the few rows of a table that a condition holds (``CREATE INDEX ... WHERE``, which
    SQLite and PostgreSQL both take; a board's query uses it when its condition is written the same
    way, as a literal). Made with the projection's tables (``Projection.prepare``), not declared on the
    table: an index declared with a dialect's options loads that dialect's module at import, which
    every command on an SQLite store would pay for."""

    name: str
    table: Table
    columns: tuple[str, ...]
    where: ColumnElement[bool]

    def create(self, connection: Connection) -> None:
        dialect = connection.dialect
        quote = dialect.identifier_preparer.quote
        condition = self.where.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
        connection.exec_driver_sql(
            f"CREATE INDEX IF NOT EXISTS {quote(self.name)} ON {quote(self.table.name)} "
            f"({', '.join(quote(column) for column in self.columns)}) WHERE {condition}")


class Projection:
    """A read model: tables, and one ``on_<EventName>(rows, event)`` method per event it uses, which
    changes the tables' rows through :class:`~renovation.projections.rows.Rows`."""

    name: ClassVar[str]
    tables: ClassVar[Sequence[Table]]
    #: Raised when the tables change shape: the projection then starts again from the first event.
    version: ClassVar[int] = 1
    #: The store's time zone: the day of a time is its day there (set by the read models).
    zone: tzinfo = UTC
    #: Indexes of the few rows of a condition (see ``PartialIndex``).
    partial_indexes: ClassVar[Sequence[PartialIndex]] = ()
    #: Indexes an earlier version made that this one no longer has: dropped when the new version is set up.
    retired_indexes: ClassVar[Sequence[str]] = ()
    #: The earliest version whose rows this one reads as they are (it changed indexes, not rows): a store set
    #: up by that version or a later one is brought to this one by its indexes, not made again from the log.
    same_rows_since: ClassVar[int | None] = None
    #: Of its tables, those kept when a board is asked for (worked out from its other tables), not made
    #: from the log: ``audit boards`` works their rows out again rather than rebuilding them.
    kept: ClassVar[Sequence[Table]] = ()
    #: What catching it up costs beside the others (about a tenth of the seconds of its first catch-up alone
    #: on the demo's log): a catch-up shared out among processes deals the read models out by it.
    weight: ClassVar[int] = 1

    @property
    def key(self) -> str:
        """The projection's row in ``projection_tracking`` (one per version of its tables)."""
        return self.key_of(self.version)

    def key_of(self, version: int) -> str:
        return self.name if version == 1 else f"{self.name}.v{version}"

    def same_rows(self, known: Collection[str]) -> str | None:
        """Of the keys in ``known``, the latest of an earlier version whose rows this one reads as they are
        (``same_rows_since``); None if there is none."""
        if self.same_rows_since is None:
            return None
        return next((self.key_of(version) for version in range(self.version - 1, self.same_rows_since - 1, -1)
                     if self.key_of(version) in known), None)

    def handlers(self) -> dict[str, Handler]:
        """``on_<EventName>`` methods by event name (looked up once per projection)."""
        found: dict[str, Handler] | None = self.__dict__.get("_handlers")
        if found is None:
            found = {
                attribute.removeprefix("on_"): getattr(self, attribute)
                for attribute in dir(self)
                if attribute.startswith("on_")
            }
            self.__dict__["_handlers"] = found
        return found

    def event_names(self) -> set[str]:
        return set(self.handlers())

    def apply(self, rows: Rows, event: Event) -> None:
        handler = self.handlers().get(event.event_type)
        if handler is not None:
            handler(rows, event)

    def prepare(self, connection: Connection) -> None:
        """Create the indexes its tables lack: a table made by an earlier version keeps its own."""
        for table in self.tables:
            for index in table.indexes:
                index.create(connection, checkfirst=True)
        for partial in self.partial_indexes:
            partial.create(connection)
        quote = connection.dialect.identifier_preparer.quote
        for retired in self.retired_indexes:
            connection.exec_driver_sql(f"DROP INDEX IF EXISTS {quote(retired)}")

    def clear(self, connection: Connection) -> None:
        for table in reversed(self.tables):
            connection.execute(table.delete())


def position_of(connection: Connection, name: str, *, for_update: bool = False) -> int:
    query = select(tracking.c.position).where(tracking.c.name == name)
    if for_update:  # SQLite has no FOR UPDATE (SQLAlchemy leaves it out); its write lock serialises
        query = query.with_for_update()
    found = connection.execute(query).scalar()
    if found is None:
        return 0
    if type(found) is not int or found < 0:  # SQLite keeps whatever is written into the column
        raise BadValue("a position in the log", found, name.partition(".")[0], in_a_row=False)
    return found


def lock_position(connection: Connection, name: str) -> None:
    """Hold the read model's position row until the transaction ends (SQLite: its write lock does)."""
    connection.execute(select(tracking.c.name).where(tracking.c.name == name).with_for_update()).all()


def set_position(connection: Connection, name: str, position: int) -> None:
    changed = connection.execute(update(tracking).where(tracking.c.name == name).values(position=position))
    if changed.rowcount == 0:
        connection.execute(insert(tracking).values(name=name, position=position))


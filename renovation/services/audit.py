"""The auditor's view: straight from the event store, independent of the read models.

"As of" a moment means a position in the log: the events stored before the first one recorded after
that moment (:func:`position_as_of`). Recording times are in log order (``renovation.store.timeorder``),
so that is every event recorded by then; in a store written before they were kept in order it is
still a prefix of the log, never a selection (a selection would skip an event that later ones build
on), the same for every compound and every board.

- the metering history of a compound (every measurement, correction and variation, who, when, why);
- the ledger replayed as recorded by any moment (recording time, not business period);
- the boards as they would have answered then (a temporary in-memory projection of the events
  recorded by then; the live tables are never touched);
- reconciliation of the ledger read model with the events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypedDict, cast

from renovation.domain.compound import CompoundProject, project_compound
from renovation.domain.values import BoqItem, MeterEntry, normalise_code
from renovation.services.application import RenovationApp
from renovation.services.results import CompoundView
from renovation.store.timeorder import recorded_at
from renovation.store.transcoding import UNREADABLE

if TYPE_CHECKING:
    from renovation.domain.horserace import Formula
    from renovation.projections.runner import ReadModels

METERING_EVENTS = ("QuantityMeasured", "MeasurementCorrected", "VariationApproved")


class HistoryRow(TypedDict):
    """One metering event (``audit history``); rows are dicts, as every table and CSV row is."""

    entry_id: str | None
    kind: str  # measured | corrected | variation
    item: str
    period: str | None
    previous_quantity: Decimal | None
    quantity: Decimal
    value: Decimal | None
    recorded_at: datetime
    user: str
    reason: str | None
    version: int


class ReplayedItem(TypedDict):
    item: str
    description: str
    unit: str
    quantity: Decimal
    value: Decimal


class Replay(TypedDict):
    """The ledger of a compound as recorded by ``as_of`` (``audit replay``), and its progress payments
    then: certified (Σ certificate amounts), paid, the retention held (retained) and released, and
    outstanding (certified − paid)."""

    code: str
    as_of: datetime
    items: list[ReplayedItem]
    total_value: Decimal
    certified: Decimal
    paid: Decimal
    retained: Decimal
    released: Decimal
    outstanding: Decimal


class PaymentsReplayed(TypedDict):
    certified: Decimal
    paid: Decimal
    retained: Decimal
    released: Decimal
    outstanding: Decimal


def payments_of(events: list[Any]) -> PaymentsReplayed:
    """A compound's progress payments recomputed from its events."""
    zero = Decimal("0.00")
    certified = paid = retained = released = zero
    for event in events:
        kind = type(event).__name__
        if kind == "PaymentCertified":
            certified += event.amount
            retained = event.retention
        elif kind == "PaymentRecorded":
            paid += event.amount
        elif kind == "RetentionReleased":
            released, retained = event.amount, zero
    return {"certified": certified, "paid": paid, "retained": retained, "released": released,
            "outstanding": certified - paid}


class Difference(TypedDict):
    """Where a read model and the events disagree (``audit reconcile``)."""

    code: str
    item: str | None  # the item; for a certificate, its id
    what: str  # ledger | metered_value | certificate | payments
    events_side: str
    read_model: str


def compound_events(app: RenovationApp, code: str) -> list[CompoundProject.Event]:
    project = app.get_project(code)  # refuses an unknown code
    return app.read_events(project.id, project.code)


def metering_history(
    app: RenovationApp, code: str, item: str | None = None, period: str | None = None
) -> list[HistoryRow]:
    """Every metering event of the compound in recording order."""
    rows: list[HistoryRow] = []
    for event in compound_events(app, code):
        kind = type(event).__name__
        if kind not in METERING_EVENTS:
            continue
        fields = vars(event)
        if item is not None and fields["item"] != item:
            continue
        if period is not None and fields.get("period") != period:
            continue
        rows.append(
            {
                "entry_id": fields.get("entry_id"),
                "kind": {
                    "QuantityMeasured": "measured",
                    "MeasurementCorrected": "corrected",
                    "VariationApproved": "variation",
                }[kind],
                "item": fields["item"],
                "period": fields.get("period"),
                "previous_quantity": fields.get("previous_quantity"),
                "quantity": fields["quantity"],
                "value": fields.get("value"),
                "recorded_at": event.timestamp,
                "user": fields["user"],
                "reason": fields.get("reason"),
                "version": event.originator_version,
            }
        )
    return rows


def position_as_of(app: RenovationApp, as_of: datetime) -> int:
    """The log as of ``as_of``: the position of the last event before the first one recorded after it
    (0 if that is the first). Reads each event's recording time only, up to that event."""
    position = 0
    for notification in app.iter_notifications():
        when = recorded_at(notification.state)
        if when is not None and when > as_of:
            break
        position = notification.id
    return position


def events_as_of(app: RenovationApp, code: str, as_of: datetime) -> list[CompoundProject.Event]:
    """The compound's events in the log as of ``as_of`` (see :func:`position_as_of`)."""
    project = app.get_project(code)  # refuses an unknown code
    last = app.backend.version_at(project.id, position_as_of(app, as_of))
    return app.read_events(project.id, project.code, lte=last) if last else []


def replay_ledger(app: RenovationApp, code: str, as_of: datetime,
                  events: list[CompoundProject.Event] | None = None) -> Replay:
    """The ledger recomputed from the events recorded up to ``as_of``: per bill-of-quantities item
    the quantity and value summed over all periods, and the total to the fen. ``events``: the compound's
    events as of then, when the caller has them (every one, for now)."""
    boq: dict[str, BoqItem] = {}
    entries: dict[str, MeterEntry] = {}
    seen = False
    if events is None:
        events = events_as_of(app, code, as_of)
    for event in events:
        seen = True
        fields = vars(event)
        kind = type(event).__name__
        if kind == "BillOfQuantitiesSet":
            boq = {item.code: item for item in fields["items"]}
        elif kind == "QuantityMeasured":
            entries[fields["entry_id"]] = MeterEntry(
                fields["entry_id"], fields["item"], fields["period"], fields["quantity"], fields["value"]
            )
        elif kind == "MeasurementCorrected":
            entry = entries[fields["entry_id"]]
            entries[entry.entry_id] = MeterEntry(
                entry.entry_id, entry.item, entry.period, fields["quantity"], fields["value"]
            )
    if not seen:
        from renovation.services.errors import Refused

        raise Refused(f"{normalise_code(code)} was not registered by {as_of.isoformat(timespec='seconds')}: "
                      "nothing was recorded of it to replay")
    sums: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for entry in entries.values():
        sums[entry.item][0] += entry.quantity
        sums[entry.item][1] += entry.value
    items: list[ReplayedItem] = [
        {
            "item": item,
            "description": boq[item].description,
            "unit": boq[item].unit,
            "quantity": sums[item][0],
            "value": sums[item][1],
        }
        for item in sorted(boq)
    ]
    return {
        "code": app.get_project(code).code,
        "as_of": as_of,
        "items": items,
        "total_value": sum((row["value"] for row in items), Decimal(0)),
        **payments_of(events),
    }


def compound_as_of(
    app: RenovationApp, code: str, as_of: datetime, *, hide_pending_blind: bool = False
) -> CompoundView:
    """The compound as it stood with the events recorded up to ``as_of``."""
    events = events_as_of(app, code, as_of)
    if not events:
        from renovation.domain.errors import CompoundNotFound

        raise CompoundNotFound(code=code)
    project = project_compound(None, events)
    assert isinstance(project, CompoundProject)
    return CompoundView.of(project, hide_pending_blind=hide_pending_blind)


def read_models_as_of(app: RenovationApp, as_of: datetime, *names: str) -> ReadModels:
    """Read models in a temporary in-memory database, fed only the events recorded up to ``as_of``."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import StaticPool

    from renovation.projections import all_projections
    from renovation.projections.errors import BadEvent
    from renovation.projections.rows import Rows
    from renovation.projections.runner import BATCH, ReadModels

    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    models = ReadModels(app, all_projections(), engine=engine)
    chosen = [models.projections[name] for name in names or models.projections]
    with engine.begin() as connection:
        rows = Rows(connection)
        for number, notification in enumerate(_notifications(app), start=1):
            try:
                event: Any = app.mapper.to_domain_event(notification)
                later = event.timestamp > as_of  # (a time written by hand may be no time, or without its zone)
            except UNREADABLE as error:  # a row the application did not write: named, not a traceback
                raise BadEvent(notification.id, [projection.name for projection in chosen], error) from error
            if later:
                break  # the log as of then ends here (see position_as_of)
            for projection in chosen:
                models.apply(rows, projection, notification, event)
            if number % BATCH == 0:
                rows.flush()
        rows.flush()
    return models


def _notifications(app: RenovationApp) -> Iterator[Any]:
    yield from app.iter_notifications()


def reconcile(app: RenovationApp, models: ReadModels) -> list[Difference]:
    """Every compound's ledger recomputed from its events against the ledger and progress read models;
    one row per difference (none when they agree)."""
    from renovation.projections.ledger import entries as ledger_entries
    from renovation.projections.progress import compounds as progress_compounds

    now = app.clock()
    differences: list[Difference] = []
    with models.engine.connect() as connection:
        projected: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
        for row in connection.execute(ledger_entries.select()):
            projected[(row.code, row.item)][0] += row.quantity
            projected[(row.code, row.item)][1] += row.value
        progress_values = {row.code: row.metered_value for row in connection.execute(progress_compounds.select())}
    events_of = {code: compound_events(app, code) for code in app.compound_codes()}  # each compound read once
    for code, events in events_of.items():
        replayed = replay_ledger(app, code, now, events)
        for item in replayed["items"]:
            quantity, value = projected.pop((code, item["item"]), [Decimal(0), Decimal(0)])
            if quantity != item["quantity"] or value != item["value"]:
                differences.append(
                    {
                        "code": code,
                        "item": item["item"],
                        "what": "ledger",
                        "events_side": f"{item['quantity']} / {item['value']}",
                        "read_model": f"{quantity} / {value}",
                    }
                )
        if progress_values.get(code) != replayed["total_value"]:
            differences.append(
                {
                    "code": code,
                    "item": None,
                    "what": "metered_value",
                    "events_side": str(replayed["total_value"]),
                    "read_model": str(progress_values.get(code)),
                }
            )
    differences += _payments_differences(events_of, models)
    for (code, item_code), (quantity, value) in projected.items():
        differences.append(
            {
                "code": code,
                "item": item_code,
                "what": "ledger",
                "events_side": "0 / 0",
                "read_model": f"{quantity} / {value}",
            }
        )
    return differences


def certificate_differences(code: str, events: list[Any]) -> list[Difference]:
    """Each certificate of a compound against the metering it cites, recomputed from the events before
    it: every entry of a period up to the one it counts through, with its value then, and their sum."""
    values: dict[str, tuple[str, Decimal]] = {}
    found: list[Difference] = []
    for event in events:
        kind = type(event).__name__
        if kind in ("QuantityMeasured", "MeasurementCorrected"):
            values[event.entry_id] = (event.period, event.value)
        elif kind == "PaymentCertified":
            metered = {entry_id: value for entry_id, (period, value) in values.items() if period <= event.through}
            cited = {entry.entry_id: entry.value for entry in event.entries}
            total = sum(metered.values(), Decimal(0))
            if cited != metered or total != event.cumulative_metered:
                found.append({
                    "code": code, "item": event.certificate_id, "what": "certificate",
                    "events_side": f"{total} ({', '.join(f'{k}={v}' for k, v in sorted(metered.items()))})",
                    "read_model": f"{event.cumulative_metered} ({', '.join(f'{k}={v}' for k, v in cited.items())})",
                })
    return found


def _payments_differences(events_of: dict[str, list[Any]], models: ReadModels) -> list[Difference]:
    """The certificates against their metering, and the payments read model against the events."""
    from renovation.projections.payments import payment_rows

    with models.engine.connect() as connection:
        projected = {row["code"]: row for row in payment_rows(connection)}
        stored = _stored_payment_rows(connection)
    found: list[Difference] = []
    for code, events in events_of.items():
        found += certificate_differences(code, events)
        found += _row_differences(code, _payment_rows_of(code, events), stored)
        replayed = payments_of(events)
        row = projected.pop(code, None)
        if row is None and replayed["certified"] == 0 and not any(
                type(event).__name__ == "PaymentCertified" for event in events):
            continue
        mine = "" if row is None else " / ".join(str(row[key]) for key in replayed)  # type: ignore[literal-required]
        theirs = " / ".join(str(value) for value in replayed.values())
        if mine != theirs:
            found.append({"code": code, "item": None, "what": "payments", "events_side": theirs, "read_model": mine})
    for code, row in projected.items():
        found.append({"code": code, "item": None, "what": "payments", "events_side": "",
                      "read_model": " / ".join(str(row[key]) for key in PaymentsReplayed.__annotations__)})  # type: ignore[literal-required]
    for (what, code, key), values in sorted(stored.items()):  # rows of compounds whose events make none
        found.append({"code": code, "item": key, "what": what, "events_side": "", "read_model": values})
    return found


PaymentRows = dict[tuple[str, str, str], str]  # (what, code, key) -> its values, as text


def _stored_payment_rows(connection: Any) -> PaymentRows:
    """Every certificate, cited entry and payment row of the payments read model (what the printed
    certificate shows), keyed and as text."""
    from renovation.projections.payments import certificates, cited, payments

    rows: PaymentRows = {}
    for row in connection.execute(certificates.select()):
        rows["certificate row", row.code, row.certificate_id] = (
            f"{row.period} through {row.through}: {row.cumulative_metered} − {row.retention} − "
            f"{row.previously_certified} = {row.amount}, cumulative {row.cumulative_certified}, paid {row.paid}")
    for row in connection.execute(cited.select()):
        rows["cited", row.code, f"{row.certificate_id} {row.entry_id}"] = f"{row.period} {row.value}"
    for row in connection.execute(payments.select()):
        rows["payment", row.code, row.payment_id] = f"{row.certificate_id} {row.amount} on {row.paid_on}"
    return rows


def _payment_rows_of(code: str, events: list[Any]) -> PaymentRows:
    """The same rows, from a compound's events."""
    rows: PaymentRows = {}
    paid: dict[str, Decimal] = defaultdict(lambda: Decimal("0.00"))
    certified: dict[str, Any] = {}
    for event in events:
        kind = type(event).__name__
        if kind == "PaymentCertified":
            certified[event.certificate_id] = event
            for entry in event.entries:
                rows["cited", code, f"{event.certificate_id} {entry.entry_id}"] = (
                    f"{entry.period} {entry.value}")
        elif kind == "PaymentRecorded":
            paid[event.certificate_id] += event.amount
            rows["payment", code, event.payment_id] = (
                f"{event.certificate_id} {event.amount} on {event.on.isoformat()}")
    for certificate_id, event in certified.items():
        rows["certificate row", code, certificate_id] = (
            f"{event.period} through {event.through}: {event.cumulative_metered} − {event.retention} − "
            f"{event.previously_certified} = {event.amount}, cumulative {event.cumulative_certified}, "
            f"paid {paid[certificate_id]}")
    return rows


def _row_differences(code: str, replayed: PaymentRows, stored: PaymentRows) -> list[Difference]:
    """A compound's payment rows from its events against the stored ones (taking those out of ``stored``)."""
    found: list[Difference] = []
    mine = {key: stored.pop(key) for key in [key for key in stored if key[1] == code]}
    for key in sorted(replayed.keys() | mine.keys()):
        if replayed.get(key) != mine.get(key):
            found.append({"code": code, "item": key[2], "what": key[0], "events_side": replayed.get(key, ""),
                          "read_model": mine.get(key, "")})
    return found


class BoardDifference(TypedDict):
    """One row of a read model that differs from the same read model rebuilt from the log
    (``audit boards``): ``kind`` is changed, missing (the log makes it, the table lacks it) or extra."""

    table: str
    key: str
    kind: str
    column: str | None
    stored: str | None
    rebuilt: str | None


class BoardsChecked(TypedDict):
    tables: int
    rows: int
    differences: list[BoardDifference]
    #: Computed scores kept under other [horse_race] constants than the configuration's: not checked.
    unchecked: int


def check_boards(app: RenovationApp, models: ReadModels, formula: Formula) -> BoardsChecked:
    """Rebuild every read model in memory from the log, each up to the position its stored tables have
    reached, and compare every row of every table (and the compound directory) with the stored one;
    the scores kept for the boards are worked out again with ``formula`` from the rebuilt facts. The
    stored tables are read, never written: a forged row is reported, not mended (``projections
    rebuild`` mends)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import StaticPool

    from renovation.projections import all_projections
    from renovation.projections.base import position_of
    from renovation.projections.computed import kept_differences
    from renovation.projections.runner import ReadModels, directory

    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    rebuilt = ReadModels(app, all_projections(), engine=engine)
    try:
        with models.engine.connect() as connection:
            positions = {name: position_of(connection, projection.key)
                         for name, projection in models.projections.items()}
        for name, position in positions.items():
            rebuilt.catch_up(name, upto=position)
        tables = [directory, *(table for projection in models.projections.values() for table in projection.tables)]
        kept = {table for projection in models.projections.values() for table in projection.kept}
        differences: list[BoardDifference] = []
        rows = 0
        with models.engine.connect() as stored, engine.connect() as fresh:
            unchecked = 0
            if "computed" in models.projections:
                scores, unchecked = kept_differences(stored, fresh, formula)
                differences.extend(cast(list[BoardDifference], scores))
            for table in tables:
                if table in kept:
                    continue
                key_columns = list(table.primary_key.columns) or list(table.columns)
                ours, theirs = _table_rows(stored, table, key_columns), _table_rows(fresh, table, key_columns)
                rows += len(ours)
                differences.extend(_compared(table.name, ours, theirs))
    finally:
        rebuilt.close()
    return {"tables": len(tables), "rows": rows, "differences": differences, "unchecked": unchecked}


class Unreadable(str):
    """A stored value its column's type cannot read (text written by hand, not by a read model): kept as the
    text it is, which equals no value a rebuild makes, so the row is reported as changed."""


def _table_rows(connection: Any, table: Any, key_columns: list[Any]) -> dict[str, dict[str, Any]]:
    """Every row of ``table`` by key, each value as its column's type reads it; a value that type cannot
    read is kept as ``Unreadable`` (read by the type's own rule, value by value, so that one forged value
    is reported rather than ending the audit)."""
    from sqlalchemy import String, TypeDecorator, select, type_coerce

    from renovation.projections.errors import BadValue

    columns = list(table.columns)
    parsers = [column.type.process_result_value if isinstance(column.type, TypeDecorator) else None
               for column in columns]
    query = select(*(type_coerce(column, String) if parse is not None else column
                     for column, parse in zip(columns, parsers, strict=True))).order_by(*key_columns)
    dialect = connection.dialect
    found: dict[str, dict[str, Any]] = {}
    for stored in connection.execute(query):
        row: dict[str, Any] = {}
        for column, parse, value in zip(columns, parsers, stored, strict=True):
            if parse is not None and value is not None:
                try:
                    value = parse(value, dialect)
                except BadValue:  # what the types' readers raise on such text
                    value = Unreadable(value)
            row[column.name] = value
        found[_key(row, key_columns)] = row
    return found


def _key(row: Any, columns: list[Any]) -> str:
    return "/".join(str(row[column.name]) for column in columns)


def _compared(table: str, stored: dict[str, Any], rebuilt: dict[str, Any]) -> list[BoardDifference]:
    found: list[BoardDifference] = []
    for key in sorted(stored.keys() | rebuilt.keys()):
        ours, theirs = stored.get(key), rebuilt.get(key)
        if ours is None or theirs is None:
            found.append({"table": table, "key": key, "kind": "missing" if ours is None else "extra",
                          "column": None, "stored": None, "rebuilt": None})
            continue
        for column, value in theirs.items():
            if ours[column] != value:
                found.append({"table": table, "key": key, "kind": "changed", "column": column,
                              "stored": None if ours[column] is None else str(ours[column]),
                              "rebuilt": None if value is None else str(value)})
    return found

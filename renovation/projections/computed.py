"""The computed horse race: the facts each compound's scores of a period are worked out from.

The read model keeps the facts, not the scores: the formula's constants come from configuration when a
board is asked for (as the ranking's weights do), so changing them needs no rebuild, and a period's
scores follow every later fact (a finding of May rectified in June). ``renovation.domain.horserace``
works the scores out; this module stores and reads the facts, with the ids of the events behind them.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Column, Connection, Index, Integer, String, Table, and_, case, func, or_, select

from renovation.domain.values import SCORE_DIMENSIONS, period_of
from renovation.projections.base import (
    DateText,
    DecimalText,
    Event,
    Handler,
    Projection,
    metadata,
    read_date,
    read_decimal,
)
from renovation.projections.errors import BadValue
from renovation.projections.rows import WRITTEN_ONCE, Rows, driver_mark

if TYPE_CHECKING:  # the formulas' module is imported when a board is asked for, not by every command
    from renovation.domain.horserace import Facts, Formula, SampleTally, Tally

compounds = Table(
    "computed_compounds",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("contractor", String(200), nullable=False),
    Column("households", Integer, nullable=False),
    Column("contract_value", DecimalText, nullable=False),
    Column("planned_start", DateText, nullable=False),
    Column("planned_finish", DateText, nullable=False),
    Column("started_on", DateText),
    Column("completed_on", DateText),
)

inspections = Table(
    "computed_inspections",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("inspection_id", String(16), primary_key=True),
    Column("period", String(7), nullable=False),
    Index("computed_inspections_by_period", "period", "code"),
    info={WRITTEN_ONCE: True},
)

findings = Table(
    "computed_findings",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("finding_id", String(16), primary_key=True),
    Column("category", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("period", String(7), nullable=False),
    Column("raised_on", DateText, nullable=False),
    Column("due", DateText, nullable=False),
    Column("fixed_on", DateText),  # rectified or closed, and not reopened since
    Column("closed_on", DateText),  # None while not closed
    # A board counts a period's findings by compound from this index alone (``_finding_tallies``, the dues
    # ahead): on a province's month, 84 and 50 ms when each row was read from the table, 40 and 7 so.
    Index("computed_findings_counted", "period", "code", "category", "severity", "fixed_on", "due"),
    Index("computed_findings_by_due", "category", "due"),
)

closed_spans = Table(  # the times a finding stood closed before it was reopened
    "computed_closed_spans",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("finding_id", String(16), primary_key=True),
    Column("closed_on", DateText, primary_key=True),
    Column("reopened_on", DateText, nullable=False),
)

results = Table(
    "computed_results",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("sample_id", String(40), primary_key=True),
    Column("period", String(7), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("rejected", Boolean, nullable=False),
    Index("computed_results_by_period", "period", "code"),
)

entries = Table(
    "computed_entries",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("entry_id", String(16), primary_key=True),
    Column("period", String(7), nullable=False),
    Column("value", DecimalText, nullable=False),
    info={WRITTEN_ONCE: True},  # read back only for a correction
)

metered = Table(  # the value metered for each period (corrections applied), to sum up to a period
    "computed_metered",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("period", String(7), primary_key=True),
    Column("value", DecimalText, nullable=False),
    Index("computed_metered_by_period", "period"),
)

tickets = Table(
    "computed_tickets",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("ticket_id", String(16), primary_key=True),
    Column("period", String(7), nullable=False),
    Column("received_on", DateText, nullable=False),
    Column("resolved_on", DateText),
    Index("computed_tickets_by_period", "period", "code"),
)

versions = Table(  # how many of a compound's events this read model has applied: its facts change with each
    "computed_versions",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("version", Integer, nullable=False),
)

totals = Table(  # a compound's computed scores of a period, kept for the facts, day and formula in ``stamp``
    "computed_totals",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("period", String(7), primary_key=True),
    Column("stamp", String(80), nullable=False),
    Column("scored", Boolean, nullable=False),  # under construction in the period
    *(Column(dimension, DecimalText, nullable=False) for dimension in SCORE_DIMENSIONS),
)


class ComputedProjection(Projection):
    name = "computed"
    weight = 11
    #: 2: each compound's count of events applied (computed_versions), and the scores kept by it; 3: the
    #: findings' index a board counts them from (``computed_findings_counted``).
    version = 3
    retired_indexes = ("computed_findings_by_period",)  # the index of version 2 that the counted one replaces
    same_rows_since = 2  # a store of version 2 gains the index, and keeps its rows
    tables = (compounds, inspections, findings, closed_spans, results, entries, metered, tickets, versions, totals)
    kept = (totals,)

    def handlers(self) -> dict[str, Handler]:
        """Every handler counts the event in its compound's version (``computed_versions``): scores kept
        for an earlier version are worked out again."""
        found: dict[str, Handler] | None = self.__dict__.get("_counted")
        if found is None:
            found = self.__dict__["_counted"] = {name: _counting(handler)
                                                 for name, handler in super().handlers().items()}
        return found

    def _day(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def on_Registered(self, rows: Rows, event: Event) -> None:
        rows.insert(compounds, {
            "code": event.code, "name": event.name, "contractor": event.contractor, "households": event.households,
            "contract_value": event.contract_value, "planned_start": event.planned_start,
            "planned_finish": event.planned_finish,
        })

    def on_ConstructionStarted(self, rows: Rows, event: Event) -> None:
        rows.update(compounds, (event.code,), started_on=event.on)

    def on_ConstructionCompleted(self, rows: Rows, event: Event) -> None:
        rows.update(compounds, (event.code,), completed_on=event.on)

    def on_InspectionRecorded(self, rows: Rows, event: Event) -> None:
        day = self._day(event.at)
        rows.insert(inspections, {"code": event.code, "inspection_id": event.inspection_id, "period": period_of(day)})
        for finding in event.findings:
            raised = self._day(finding.raised_at)
            rows.insert(findings, {
                "code": event.code, "finding_id": finding.finding_id, "category": finding.category,
                "severity": finding.severity, "period": period_of(raised), "raised_on": raised, "due": finding.due,
            })

    def _fixed(self, rows: Rows, event: Event, **values: Any) -> None:
        """Rectified (or closed): the first of these since it was raised or last reopened counts."""
        row = rows.get(findings, event.code, event.finding_id)
        if row is not None and row["fixed_on"] is None:
            values["fixed_on"] = self._day(event.at)
        rows.update(findings, (event.code, event.finding_id), **values)

    def on_FindingRectified(self, rows: Rows, event: Event) -> None:
        self._fixed(rows, event)

    def on_FindingClosed(self, rows: Rows, event: Event) -> None:
        self._fixed(rows, event, closed_on=self._day(event.at))

    def on_FindingReopened(self, rows: Rows, event: Event) -> None:
        """The work is sent back: no longer rectified, and the days it stood closed are kept."""
        row = rows.get(findings, event.code, event.finding_id)
        if row is not None and row["closed_on"] is not None:
            reopened = self._day(event.at)
            if rows.get(closed_spans, event.code, event.finding_id, row["closed_on"]) is None:
                rows.insert(closed_spans, {"code": event.code, "finding_id": event.finding_id,
                                           "closed_on": row["closed_on"], "reopened_on": reopened})
            else:  # closed and reopened again the same day
                rows.update(closed_spans, (event.code, event.finding_id, row["closed_on"]), reopened_on=reopened)
        rows.update(findings, (event.code, event.finding_id), closed_on=None, fixed_on=None)

    def on_MaterialResultRecorded(self, rows: Rows, event: Event) -> None:
        period = period_of(self._day(event.at))
        rows.insert(results, {"code": event.code, "sample_id": event.sample_id, "period": period,
                              "passed": bool(event.passed), "rejected": event.outcome == "batch_rejected"})

    def _add(self, rows: Rows, code: str, period: str, amount: Decimal) -> None:
        found = rows.get(metered, code, period)
        if found is None:
            rows.insert(metered, {"code": code, "period": period, "value": amount})
        else:
            rows.update(metered, (code, period), value=found["value"] + amount)

    def on_QuantityMeasured(self, rows: Rows, event: Event) -> None:
        rows.insert(entries, {"code": event.code, "entry_id": event.entry_id, "period": event.period,
                              "value": event.value})
        self._add(rows, event.code, event.period, event.value)

    def on_MeasurementCorrected(self, rows: Rows, event: Event) -> None:
        rows.update(entries, (event.code, event.entry_id), value=event.value)
        self._add(rows, event.code, event.period, event.value - event.previous_value)

    def on_FeedbackReceived(self, rows: Rows, event: Event) -> None:
        day = self._day(event.at)
        rows.insert(tickets, {"code": event.code, "ticket_id": event.ticket_id, "period": period_of(day),
                              "received_on": day})

    def on_FeedbackResolved(self, rows: Rows, event: Event) -> None:
        rows.update(tickets, (event.code, event.ticket_id), resolved_on=self._day(event.at))


def _counting(handler: Handler) -> Handler:
    def counted(rows: Rows, event: Event) -> None:
        handler(rows, event)
        found = rows.get(versions, event.code)
        if found is None:
            rows.insert(versions, {"code": event.code, "version": 1})
        else:
            rows.update(versions, (event.code,), version=found["version"] + 1)

    return counted


#: A compound's scores of a period as kept: under construction in it, and the five scores.
Kept = tuple[bool, tuple[Decimal, ...]]


def kept_scores(connection: Connection, period: str, today: date, key: str, codes: Collection[str] | None = None,
                ) -> tuple[list[tuple[dict[str, Any], int]], dict[str, Kept]]:
    """Every compound (of ``codes``, if given) in code order, with its name and contractor and its version;
    and, by code, the scores of ``period`` kept for its version, under ``key`` (``stamp_key``), for days
    that ``today`` is one of (the others are to be worked out). One query: a compound's version and its kept
    scores are read together."""
    kept = [totals.c[dimension] for dimension in SCORE_DIMENSIONS]
    query = (select(compounds.c.code, compounds.c.name, compounds.c.contractor, versions.c.version, totals.c.stamp,
                    totals.c.scored, *kept)
             .select_from(compounds.outerjoin(versions, versions.c.code == compounds.c.code)
                          .outerjoin(totals, and_(totals.c.code == compounds.c.code, totals.c.period == period)))
             .order_by(compounds.c.code))
    listed: list[tuple[dict[str, Any], int]] = []
    found: dict[str, Kept] = {}
    for code, name, contractor, version, stamped, scored, *scores in _driver_rows(connection, query):
        if type(code) is not str or "\x00" in code:  # bytes or a NUL written by hand: no board can name it
            raise BadValue("a compound's code", code, "computed")
        if codes is not None and code not in codes:
            continue
        listed.append(({"code": code, "name": name, "contractor": contractor}, version or 0))
        if stamped is not None and _holds(stamped, version or 0, today, key):
            readable = _readable(scored, scores)
            if readable is not None:  # else worked out again, as if not kept
                found[code] = readable
    return listed, found


def _readable(scored: Any, scores: Sequence[Any]) -> Kept | None:
    """A kept row's values as a board takes them, if they are what keeping writes: a flag, and five scores
    from 0 to 100 to the cent ("87.50"); None for anything else (a row written by hand)."""
    if scored not in (0, 1) or len(scores) != len(SCORE_DIMENSIONS):  # SQLite's 0 and 1, PostgreSQL's booleans
        return None
    try:
        joined = " ".join(scores)  # checked at once (one of the pattern's five is each score's, or none is)
    except TypeError:  # not text (a NULL, a number)
        return None
    if SCORES_TEXT.fullmatch(joined) is None:
        return None
    found = tuple(map(Decimal, scores))
    if max(found) > 100:
        return None
    return bool(scored), found


#: A compound's five scores as they are kept, one space between: each 0.00 to 100.00 (checked against 100
#: besides). Exactly five: a score with a space in it makes more, and is refused.
SCORES_TEXT = re.compile(" ".join([r"[0-9]{1,3}\.[0-9]{2}"] * len(SCORE_DIMENSIONS)))


def stamp(version: int, first: date, through: date, key: str) -> str:
    """A kept score's stamp: the compound's version, the days the scores hold for (worked out for the
    first, the same through ``horserace.steady_through``), then ``stamp_key``: "12 2021-07-10..2021-07-14
    0123456789abcdef"."""
    return f"{version} {first.isoformat()}..{through.isoformat()} {key}"


def read_stamp(stamped: Any) -> tuple[str, date, date, str] | None:
    """A stamp's version (as written), first and last day, and key; None if it is not a stamp. A stamp of
    one day ("12 2021-07-10 0123456789abcdef", as scores were kept before they held for more) holds for
    that day."""
    parts = str(stamped).split(" ")
    if len(parts) != 3:
        return None
    version, days, key = parts
    first, dots, through = days.partition("..")
    try:
        return version, date.fromisoformat(first), date.fromisoformat(through if dots else first), key
    except ValueError:
        return None


def _holds(stamped: Any, version: int, today: date, key: str) -> bool:
    """Whether scores kept with this stamp are those of ``version`` under ``key`` on ``today``."""
    found = read_stamp(stamped)
    return (found is not None and found[0] == str(version) and found[3] == key
            and found[1] <= today <= found[2])


def stamp_key(formula: Formula) -> str:
    """What a kept score's stamp says of the formula: its constants in a few characters (scores kept
    under other constants are not these)."""
    import hashlib

    return hashlib.sha256(repr(formula).encode()).hexdigest()[:16]


def kept_differences(stored: Connection, rebuilt: Connection,
                     formula: Formula) -> tuple[list[dict[str, Any]], int]:
    """``audit boards`` of the kept scores, and how many it could not check. Each one a board could take
    (its stamp names this formula and the compound's version as stored, or as rebuilt from the log) is
    worked out again from the rebuilt facts for the first day in its stamp, and a row that differs named (as
    ``audit.BoardDifference``), whatever it holds; so is its stamp if it holds for days after those the facts'
    scores stay the same through (``steady_through``). A row stamped with a version the log has not reached
    is named too: keeping never writes one, and a board would take it after the compound's next events.
    Rows kept under other constants (another renovation.toml) cannot be worked out here: counted."""
    from renovation.domain.horserace import components, steady_through, under_construction

    reached = {code: int(version) for code, version in _driver_rows(rebuilt, select(versions))}
    takes = {code: {str(version)} for code, version in reached.items()}
    for code, version in _driver_rows(stored, select(versions)):
        takes.setdefault(code, set()).add(str(version))
    query = select(totals.c.code, totals.c.period, totals.c.stamp, totals.c.scored,
                   *(totals.c[dimension] for dimension in SCORE_DIMENSIONS)).order_by(totals.c.code, totals.c.period)
    found: list[dict[str, Any]] = []
    unchecked = 0
    key = stamp_key(formula)
    for code, period, stamped, scored, *scores in _driver_rows(stored, query):
        version = str(stamped).partition(" ")[0]
        # (a version of more digits than any log reaches is not read as a number: Python refuses thousands)
        if version.isascii() and version.isdigit() and (len(version) > 18 or int(version) > reached.get(code, 0)):
            found.append({"table": totals.name, "key": f"{code}/{period}", "kind": "changed", "column": "stamp",
                          "stored": str(stamped), "rebuilt": None})
            continue
        read = read_stamp(stamped)
        if read is None:  # no board takes it
            continue
        _version, day, through, formula_key = read
        if formula_key != key:
            unchecked += 1
            continue
        if version not in takes.get(code, ()):
            continue
        worked = facts(rebuilt, period, day, code) if _a_period(period) else []
        ours: list[str | None] = [None] * (1 + len(SCORE_DIMENSIONS))  # no such compound in the log
        if worked:
            fact = worked[0][1]
            ours = [str(int(under_construction(fact))),
                    *(format(part.score, "f") for part in components(fact, formula, said=False))]
            steady = steady_through(fact, formula)
            if through > steady:  # a board would take the scores on days they are not the facts'
                found.append({"table": totals.name, "key": f"{code}/{period}", "kind": "changed",
                              "column": "stamp", "stored": str(stamped),
                              "rebuilt": stamp(int(version), day, steady, key)})
        kept = [str(int(scored)) if scored in (0, 1) else str(scored), *(str(score) for score in scores)]
        for column, value, worked_out in zip(("scored", *SCORE_DIMENSIONS), kept, ours, strict=True):
            if value != worked_out:
                found.append({"table": totals.name, "key": f"{code}/{period}", "kind": "changed", "column": column,
                              "stored": value, "rebuilt": worked_out})
    return found, unchecked


def _a_period(period: Any) -> bool:
    """Whether ``period`` is a month as the tracker writes it (YYYY-MM)."""
    if not isinstance(period, str) or not re.fullmatch(r"[0-9]{4}-[0-9]{2}", period):
        return False
    try:
        date(int(period[:4]), int(period[5:]), 1)
    except ValueError:
        return False
    return True


def keep_scores(connection: Connection, period: str, worked: dict[str, tuple[str, bool, tuple[Decimal, ...]]]) -> None:
    """Keep compounds' scores of ``period`` (by code: the stamp, under construction, the five scores), in
    place of any kept before (two processes keeping the same compound's: the last one's stays)."""
    if not worked:  # nothing worked out (a rebuild cleared the facts meanwhile): the driver takes no empty list
        return
    columns = ["code", "period", "stamp", "scored", *SCORE_DIMENSIONS]
    mark = driver_mark(connection.dialect)
    statement = (f"INSERT INTO {connection.dialect.identifier_preparer.quote(totals.name)} "
                 f"({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))}) "
                 f"ON CONFLICT (code, period) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in columns[2:]))
    # The driver's executemany with the rows as tuples: a province's 3,000 kept rows through SQLAlchemy's
    # statement (a dict of named values each) took twice as long.
    connection.exec_driver_sql(statement, [(code, period, stamp, scored, *(format(score, "f") for score in scores))
                                           for code, (stamp, scored, scores) in worked.items()])


def _driver_rows(connection: Connection, query: Any) -> list[tuple[Any, ...]]:
    """The rows of a query as the driver gives them (dates and decimals as their stored text): a board
    reads thousands of facts, and SQLAlchemy's processing of each value cost more than the rest of it.
    The query's values are rendered into it (codes, periods and days, which the tracker checked)."""
    compiled = query.compile(dialect=connection.dialect, compile_kwargs={"literal_binds": True})
    result = connection.exec_driver_sql(str(compiled))
    try:  # the driver's own rows (its tuples), not SQLAlchemy's made of each: a province's month has 40,000
        return list(result.cursor.fetchall())
    finally:
        result.close()


def _by_code(found: Iterable[tuple[Any, ...]], make: Any) -> dict[str, list[Any]]:
    """Rows whose first column is the compound's code, made into facts and grouped by it."""
    grouped: dict[str, list[Any]] = defaultdict(list)
    for row in found:
        grouped[row[0]].append(make(row))
    return grouped


#: The most compounds whose facts ``facts`` reads by their codes (a list of them in each query; some databases
#: take at most 32,766 values a statement): more, and it reads the whole period's.
BY_CODES_MOST = 10_000

#: The columns of a finding fact, in the order ``facts`` makes one of them.
FINDING_COLUMNS = ("code", "finding_id", "category", "severity", "raised_on", "due", "fixed_on", "closed_on")


def periods(connection: Connection, today: date, codes: Collection[str] | None = None) -> list[str]:
    """The periods some compound (of ``codes``, if given) was under construction in, up to ``today``'s."""
    found: set[str] = set()
    current = period_of(today)
    query = select(compounds.c.code, compounds.c.started_on, compounds.c.completed_on).where(
        compounds.c.started_on.is_not(None))
    spans: set[tuple[str, str]] = set()  # (first, last period): a province's 3,000 compounds share a few dozen
    for code, started, completed in connection.execute(query).all():
        if codes is not None and code not in codes:
            continue
        spans.add((period_of(started), min(current, period_of(completed)) if completed is not None else current))
    for period, end in spans:
        while period <= end:
            found.add(period)
            year, month = int(period[:4]), int(period[5:7])
            period = f"{year + month // 12:04d}-{month % 12 + 1:02d}"
    return sorted(found)


def facts(connection: Connection, period: str, today: date, code: str | None = None,
          codes: Collection[str] | None = None) -> list[tuple[dict[str, Any], Facts]]:
    """Each compound's (or ``code``'s; of ``codes``, if given) facts of ``period`` as known on ``today``,
    with its name and contractor, in code order. For one compound, with the ids of its inspections and
    metering entries; for all, their counts and the value metered per period."""
    from renovation.domain.horserace import Facts, FindingFact, SampleFact, SampleTally, TicketFact, first_day, last_day

    def _finding(row: tuple[Any, ...], spans: tuple[tuple[date, date], ...] = ()) -> FindingFact:
        _code, finding_id, category, severity, raised_on, due, fixed_on, closed_on = row
        # As the driver gives them (text), read as their columns would be: BadValue if the tracker did not
        # write one.
        return FindingFact(finding_id, category, severity, read_date(raised_on), read_date(due), read_date(fixed_on),
                           read_date(closed_on), spans)

    first, last = first_day(period), last_day(period)

    chosen: list[str] | None = None

    def where(table: Table, query: Any) -> Any:
        """The query of ``code``'s rows, or of those ``chosen`` (read by their code's index), or of all."""
        if code is not None:
            return query.where(table.c.code == code)
        return query.where(table.c.code.in_(chosen)) if chosen is not None else query

    every = connection.execute(where(compounds, select(compounds).order_by(compounds.c.code))).all()
    listed = [row for row in every if codes is None or row.code in codes]
    if not listed:
        return []
    if (codes is not None and len(listed) * 4 < len(every) * 3 and len(listed) <= BY_CODES_MOST
            and all(type(row.code) is str and "\x00" not in row.code for row in listed)):
        # Fewer than three quarters of the compounds (those whose kept scores are out of date on a new day, a
        # contractor's own): their rows read by their codes, not the whole period's (measured on a province's
        # month: 900 of 3,000 compounds 102 ms against 291; all 3,000 so 388). Not a code written into the
        # table by hand that is no text, or holds a NUL (no query can name it): the board is then read as a
        # whole, as before.
        chosen = [row.code for row in listed]
    by_inspection: dict[str, list[str]] = defaultdict(list)
    counted: dict[str, int] = {}
    if code is not None:
        seen = select(inspections.c.code, inspections.c.inspection_id).where(
            inspections.c.code == code, inspections.c.period == period)
        by_inspection = _by_code(_driver_rows(connection, seen), lambda row: row[1])
        counted = {found: len(ids) for found, ids in by_inspection.items()}
    else:
        counts = where(inspections, select(inspections.c.code, func.count()).where(inspections.c.period == period)
                       ).group_by(inspections.c.code)
        counted = {found: int(number) for found, number in connection.execute(counts)}
    columns = [findings.c[name] for name in FINDING_COLUMNS]
    by_finding: dict[str, list[Any]] = {}
    tallies: dict[str, dict[str, Tally]] | None = None
    sample_tallies: dict[str, SampleTally] | None = None
    dues_ahead: dict[str, tuple[date, ...]] | None = None
    if code is not None:  # one compound: every finding, with its id
        raised = select(*columns).where(findings.c.code == code, findings.c.period == period)
        by_finding = _by_code(_driver_rows(connection, raised), _finding)
    else:  # a board: the findings counted by the database, as ``tally`` counts them
        tallies = _finding_tallies(connection, period, today, where)
        sample_tallies = _sample_tallies(connection, period, where)
        ahead = where(findings, select(findings.c.code, func.min(findings.c.due)).where(
            findings.c.period == period, findings.c.fixed_on.is_(None), findings.c.due >= today)).group_by(
            findings.c.code)
        dues_ahead = {found: tuple(filter(None, [read_date(due)])) for found, due in _driver_rows(connection, ahead)}
    candidates = where(findings, select(*columns).where(
        findings.c.category == "safety", findings.c.due < last, findings.c.raised_on <= last,
        or_(findings.c.closed_on.is_(None), findings.c.closed_on > first)))
    spans: dict[tuple[str, str], list[tuple[date, date]]] = defaultdict(list)
    for span in connection.execute(where(closed_spans, select(closed_spans).where(
            closed_spans.c.reopened_on > first, closed_spans.c.closed_on <= last))):
        spans[span.code, span.finding_id].append((span.closed_on, span.reopened_on))
    by_candidate = _by_code(_driver_rows(connection, candidates),
                            lambda row: _finding(row, tuple(sorted(spans.get((row[0], row[1]), ())))))
    by_result: dict[str, list[Any]] = {}
    if code is not None:
        resulted = select(results.c.code, results.c.sample_id, results.c.passed, results.c.rejected).where(
            results.c.code == code, results.c.period == period)
        by_result = _by_code(_driver_rows(connection, resulted),
                             lambda row: SampleFact(row[1], bool(row[2]), bool(row[3])))
    received = where(tickets, select(tickets.c.code, tickets.c.ticket_id, tickets.c.received_on,
                                     tickets.c.resolved_on).where(tickets.c.period == period))
    by_ticket = _by_code(_driver_rows(connection, received),
                         lambda row: TicketFact(row[1], read_date(row[2]), read_date(row[3])))
    by_entry: dict[str, list[tuple[str, Decimal]]] = defaultdict(list)
    if code is not None:  # one compound: its entries, by id
        query = select(entries.c.code, entries.c.entry_id, entries.c.value).where(
            entries.c.code == code, entries.c.period <= period)
        for row in connection.execute(query):
            by_entry[row.code].append((row.entry_id, row.value))
        for found in by_entry.values():
            found.sort(key=lambda pair: _number(pair[0]))
    else:  # every compound: its value per period (a province's board reads no entry)
        query = where(metered, select(metered.c.code, metered.c.period, metered.c.value).where(
            metered.c.period <= period))
        for found_code, found_period, value in _driver_rows(connection, query):
            by_entry[found_code].append((found_period, read_decimal(value)))
    result: list[tuple[dict[str, Any], Facts]] = []
    ordered = sorted if code is not None else _as_read  # the ids in order where they are shown: one compound
    for row in listed:
        result.append(({"code": row.code, "name": row.name, "contractor": row.contractor}, Facts(
            code=row.code, period=period, today=today, households=row.households,
            contract_value=row.contract_value, planned_start=row.planned_start, planned_finish=row.planned_finish,
            started_on=row.started_on, completed_on=row.completed_on,
            inspections=counted.get(row.code, 0), inspection_ids=ordered(by_inspection.get(row.code, ()), key=_number),
            findings=ordered(by_finding.get(row.code, ()), key=lambda f: _number(f.finding_id)),
            overdue_candidates=ordered(by_candidate.get(row.code, ()), key=lambda f: _number(f.finding_id)),
            samples=ordered(by_result.get(row.code, ()), key=lambda s: s.sample_id),
            metered=by_entry.get(row.code, ()), tickets=ordered(by_ticket.get(row.code, ()),
                                                                key=lambda t: _number(t.ticket_id)),
            tallies=None if tallies is None else tallies.get(row.code, {}),
            sample_tally=None if sample_tallies is None else sample_tallies.get(row.code, SampleTally()),
            dues_ahead=None if dues_ahead is None else dues_ahead.get(row.code, ()),
        )))
    return result


def _finding_tallies(connection: Connection, period: str, today: date,
                     where: Callable[[Table, Any], Any]) -> dict[str, dict[str, Tally]]:
    """By compound and category, the findings raised in ``period`` counted as ``horserace.tally`` counts
    them (by severity; late; decided), by the database: a board reads no finding."""
    from renovation.domain.horserace import Tally

    fixed, due = findings.c.fixed_on, findings.c.due
    late = case((or_(and_(fixed.is_not(None), fixed > due), and_(fixed.is_(None), due < today)), 1), else_=0)
    decided = case((or_(fixed.is_not(None), due < today), 1), else_=0)
    query = where(findings, select(findings.c.code, findings.c.category, findings.c.severity, func.count(),
                                   func.sum(late), func.sum(decided)).where(findings.c.period == period)).group_by(
        findings.c.code, findings.c.category, findings.c.severity)
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for code, category, severity, number, late_number, decided_number in _driver_rows(connection, query):
        found = counts[code, category]
        found[severity] += int(number)
        found["late"] += int(late_number)
        found["decided"] += int(decided_number)
    result: dict[str, dict[str, Tally]] = defaultdict(dict)
    for (code, category), found in counts.items():
        result[code][category] = Tally(minor=found["minor"], major=found["major"], critical=found["critical"],
                                       late=found["late"], decided=found["decided"])
    return result


def _sample_tallies(connection: Connection, period: str, where: Callable[[Table, Any], Any]) -> dict[str, SampleTally]:
    """By compound, the results of ``period`` counted (resulted, failed, rejected), by the database."""
    from renovation.domain.horserace import SampleTally

    failed = case((results.c.passed.is_(False), 1), else_=0)
    rejected = case((results.c.rejected.is_(True), 1), else_=0)
    query = where(results, select(results.c.code, func.count(), func.sum(failed), func.sum(rejected)).where(
        results.c.period == period)).group_by(results.c.code)
    return {code: SampleTally(resulted=int(number), failed=int(failed_number), rejected=int(rejected_number))
            for code, number, failed_number, rejected_number in _driver_rows(connection, query)}


def _as_read(found: Iterable[Any], key: Any = None) -> list[Any]:
    """The facts in the order they were read (the board shows no id)."""
    return list(found)


def _number(identifier: str) -> tuple[int, str]:
    digits = identifier[1:]
    return (int(digits), identifier) if digits.isdigit() else (0, identifier)

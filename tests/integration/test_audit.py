"""The auditor's view straight from the event store: metering history, the ledger replayed as recorded
by any moment, the boards as they answered then, and reconciliation with the read models.

One scripted history runs with a clock the test moves, so that every command has a recording time
of its own. After each command the test remembers what the ledger should say (computed here, from
the entries the test keeps), what the compound looked like and what the live read models showed;
at the end every remembered moment is replayed and compared.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from sqlalchemy import select, text

from renovation.domain.errors import CompoundNotFound
from renovation.domain.values import BoqItem
from renovation.projections import read_models
from renovation.projections.base import metadata
from renovation.projections.progress import progress_rows
from renovation.projections.ranking import ranking_rows
from renovation.projections.runner import ReadModels
from renovation.services.application import RenovationApp
from renovation.services.audit import compound_as_of, metering_history, read_models_as_of, reconcile, replay_ledger
from renovation.services.config import Weights
from renovation.services.errors import Refused
from tests.integration.conftest import CST

WEIGHTS = Weights().as_dict()
BUREAU, SUPERVISOR, AUDITOR, AUDITOR_2 = "周科长", "张工", "孙工", "钱工"

PRICES = {
    "JM": {"A1": Decimal("123.45"), "B2": Decimal("185"), "C3": Decimal("12.345")},
    "LY": {"A1": Decimal("99.99")},
}
BOQ = {
    "JM": [
        BoqItem("A1", "雨污分流", "m", Decimal("100"), PRICES["JM"]["A1"]),
        BoqItem("B2", "外墙保温", "m2", Decimal("50.5"), PRICES["JM"]["B2"]),
        BoqItem("C3", "单元门禁", "套", Decimal("40"), PRICES["JM"]["C3"]),
    ],
    "LY": [BoqItem("A1", "管网改造", "m", Decimal("200"), PRICES["LY"]["A1"])],
}
DESCRIPTIONS = {code: {item.code: (item.description, item.unit) for item in items} for code, items in BOQ.items()}
#: This script certifies nothing: a replay's progress payments are all zero.
NO_PAYMENTS = dict.fromkeys(("certified", "paid", "retained", "released", "outstanding"), Decimal("0.00"))


def fen(quantity: Decimal, price: Decimal) -> Decimal:
    """Output value, computed here independently: quantity × price, half-up to the fen."""
    return (quantity * price).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class Moment:
    """What the test expects and what the live application showed at one recording time."""

    at: datetime
    ledgers: dict[str, dict[str, Any]]
    compounds: dict[str, dict[str, Any]]
    hidden_compounds: dict[str, dict[str, Any]]
    progress: list[dict[str, Any]]
    rankings: dict[str, list[dict[str, Any]]]


@dataclass
class Script:
    app: RenovationApp
    models: ReadModels
    clock: list[datetime]
    #: code -> entry id -> [item, period, quantity]
    entries: dict[str, dict[str, list[Any]]] = field(default_factory=dict)
    has_boq: set[str] = field(default_factory=set)
    versions: dict[str, int] = field(default_factory=dict)
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    moments: list[Moment] = field(default_factory=list)

    def at(self, moment: datetime) -> None:
        assert not self.moments or moment > self.moments[-1].at
        self.clock[0] = moment

    def run(self, code: str, command: Callable[[], Any], expect: Callable[[Any], None] | None = None) -> Any:
        """Run one command on ``code`` at the current clock, update the expectation with what it
        recorded, and remember the moment."""
        recorded = command()
        self.versions[code] = self.versions.get(code, 0) + 1
        if expect is not None:
            expect(recorded)
        self.remember()
        return recorded

    # --- the expectation, kept by the test
    def expected_ledger(self, code: str, at: datetime) -> dict[str, Any]:
        if code not in self.has_boq:
            return {"code": code, "as_of": at, "items": [], "total_value": Decimal(0), **NO_PAYMENTS}
        items = []
        for item in sorted(PRICES[code]):
            quantities = [q for i, _p, q in self.entries.get(code, {}).values() if i == item]
            values = [fen(q, PRICES[code][item]) for q in quantities]
            description, unit = DESCRIPTIONS[code][item]
            items.append({
                "item": item, "description": description, "unit": unit,
                "quantity": sum(quantities, Decimal(0)), "value": sum(values, Decimal(0)),
            })
        return {"code": code, "as_of": at, "items": items, "total_value": sum((r["value"] for r in items), Decimal(0)),
                **NO_PAYMENTS}

    def remember(self) -> None:
        now = self.clock[0]
        self.models.catch_up("progress", "ranking")
        with self.models.engine.connect() as connection:
            progress = progress_rows(connection, now.date())
            rankings = {
                f"{period}/{by}": ranking_rows(connection, WEIGHTS, period, by)
                for period in (None, "2021-03", "2021-04") for by in ("contractor", "compound")
            }
        self.moments.append(
            Moment(
                at=now,
                ledgers={code: self.expected_ledger(code, now) for code in self.versions},
                compounds={code: self.app.compound(code) for code in self.versions},
                hidden_compounds={code: self.app.compound(code, hide_pending_blind=True) for code in self.versions},
                progress=progress,
                rankings=rankings,
            )
        )

    # --- commands that touch the ledger, with what the history should show
    def measure(self, code: str, item: str, period: str, quantity: str, user: str) -> str:
        def expect(recorded: Any) -> None:
            entry_id = recorded.entry_id
            self.entries.setdefault(code, {})[entry_id] = [item, period, Decimal(quantity)]
            self.history.setdefault(code, []).append({
                "entry_id": entry_id, "kind": "measured", "item": item, "period": period, "previous_quantity": None,
                "quantity": Decimal(quantity), "value": fen(Decimal(quantity), PRICES[code][item]),
                "recorded_at": self.clock[0], "user": user, "reason": None, "version": self.versions[code],
            })

        recorded = self.run(code, lambda: self.app.measure(code, item, period, Decimal(quantity), user=user), expect)
        return str(recorded.entry_id)

    def correct(self, code: str, entry_id: str, quantity: str, reason: str, user: str) -> None:
        item, period, previous = self.entries[code][entry_id]

        def expect(_recorded: dict[str, Any]) -> None:
            self.entries[code][entry_id] = [item, period, Decimal(quantity)]
            self.history[code].append({
                "entry_id": entry_id, "kind": "corrected", "item": item, "period": period,
                "previous_quantity": previous, "quantity": Decimal(quantity),
                "value": fen(Decimal(quantity), PRICES[code][item]), "recorded_at": self.clock[0], "user": user,
                "reason": reason, "version": self.versions[code],
            })

        self.run(code, lambda: self.app.correct_measurement(code, entry_id, Decimal(quantity), reason, user=user),
                 expect)

    def vary(self, code: str, item: str, previous: str, quantity: str, reason: str) -> None:
        def expect(_recorded: dict[str, Any]) -> None:
            self.history[code].append({
                "entry_id": None, "kind": "variation", "item": item, "period": None,
                "previous_quantity": Decimal(previous), "quantity": Decimal(quantity), "value": None,
                "recorded_at": self.clock[0], "user": BUREAU, "reason": reason, "version": self.versions[code],
            })

        self.run(code, lambda: self.app.approve_variation(code, item, Decimal(quantity), reason, user=BUREAU), expect)

    def register(self, code: str, contractor: str) -> None:
        self.run(code, lambda: self.app.register_compound(
            code=code, name=f"{code}小区", district="龙山区", contractor=contractor, households=200,
            contract_value=Decimal("500000"), planned_start=date(2021, 3, 1), planned_finish=date(2021, 9, 30),
            registered_on=date(2021, 1, 4), user=BUREAU,
        ))

    def boq(self, code: str) -> None:
        self.run(code, lambda: self.app.set_bill_of_quantities(code, BOQ[code], user=AUDITOR),
                 lambda _recorded: self.has_boq.add(code))

    def score(self, code: str, period: str, base: int) -> None:
        dimensions = ("quality", "safety", "progress", "civilized", "satisfaction")
        scores = {dimension: Decimal(base + i) for i, dimension in enumerate(dimensions)}
        self.run(code, lambda: self.app.score(code, period, scores, user=BUREAU))


def cst(month: int, day: int, hour: int, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(2021, month, day, hour, minute, second, micro, tzinfo=CST)


@pytest.fixture
def script(db: str) -> Iterator[Script]:
    """The scripted history of JM and LY, run on a clock the script moves."""
    clock = [cst(3, 1, 8)]
    app = RenovationApp(db, clock_func=lambda: clock[0])
    models = read_models(app)
    s = Script(app, models, clock)
    s.at(cst(3, 1, 8, 0, 0, 1))
    s.register("JM", "辽源建工")
    s.at(cst(3, 1, 8, 30))
    s.register("LY", "吉林二建")
    s.at(cst(3, 1, 9, 15, 7, 250))
    s.boq("JM")
    s.at(cst(3, 1, 10))
    s.boq("LY")
    s.at(cst(3, 2, 7))
    s.run("JM", lambda: app.start_construction("JM", date(2021, 3, 1), user=BUREAU))
    s.at(cst(3, 2, 7, 1))
    s.run("LY", lambda: app.start_construction("LY", date(2021, 3, 2), user=BUREAU))
    s.at(cst(3, 20, 16))
    s.measure("JM", "A1", "2021-03", "30", AUDITOR)  # M1 3703.50
    s.at(cst(3, 20, 16, 0, 0, 1))  # a microsecond later
    s.measure("JM", "C3", "2021-03", "1", AUDITOR)  # M2 12.345 -> 12.35 (half-up, not to even)
    s.at(cst(3, 25, 11))
    s.measure("LY", "A1", "2021-03", "10.5", AUDITOR_2)  # M1 1049.895 -> 1049.90
    s.at(cst(3, 26, 6, 30))
    blind = s.run("JM", lambda: app.sample_material("JM", material="防水卷材", batch="B-BLIND-7", regime="blind",
                                                    user=SUPERVISOR)).sample_id
    assert re.fullmatch(r"B[0-9A-F]{6,}", blind), blind  # named by its command: no count in its id
    s.at(cst(4, 1, 9))
    s.score("JM", "2021-03", 80)
    s.at(cst(4, 1, 9, 5))
    s.score("LY", "2021-03", 85)
    s.at(cst(4, 12, 14))
    s.measure("JM", "B2", "2021-04", "12.25", AUDITOR_2)  # M3 2266.25
    s.at(cst(4, 15, 10))
    s.correct("JM", "M1", "28.5", "复核现场实测", AUDITOR_2)  # 3518.325 -> 3518.33
    s.at(cst(4, 16, 6, 40))
    s.run("JM", lambda: app.record_inspection("JM", "morning", user=SUPERVISOR))
    s.at(cst(4, 18, 15))
    s.vary("JM", "A1", "100", "120", "变更令 BG-07")
    s.at(cst(4, 20, 15))
    s.measure("JM", "A1", "2021-04", "85", AUDITOR)  # M4: 28.5 + 85 = 113.5 <= 120
    s.at(cst(4, 21, 8))
    s.run("JM", lambda: app.record_material_result("JM", blind, passed=True, lab="辽源市检测站", user=SUPERVISOR))
    s.at(cst(5, 2, 10))
    s.correct("JM", "M2", "3", "漏计两套", AUDITOR)  # 37.035 -> 37.04
    s.at(cst(5, 3, 9))
    s.score("LY", "2021-04", 70)
    s.at(cst(5, 3, 9, 30))
    s.score("JM", "2021-04", 90)
    s.at(cst(5, 6, 17))
    s.correct("JM", "M3", "0", "重复计量，撤销", AUDITOR)
    s.at(cst(5, 7, 8))
    s.measure("LY", "A1", "2021-05", "0.0001", AUDITOR)  # 0.009999 -> 0.01
    yield s
    models.close()
    app.close()


def between(earlier: datetime, later: datetime) -> datetime:
    return earlier + (later - earlier) / 2


def test_replay_as_of_every_recording_time_equals_the_ledger_then(script: Script) -> None:
    app = script.app
    for moment in script.moments:
        for code, expected in moment.ledgers.items():
            assert replay_ledger(app, code, moment.at) == expected, (code, moment.at)
    # Between two recording times the ledger is the earlier one's; a microsecond before a command
    # the command has not happened yet.
    for earlier, later in itertools.pairwise(script.moments):
        for code, expected in earlier.ledgers.items():
            for moment in (between(earlier.at, later.at), later.at - timedelta(microseconds=1)):
                assert replay_ledger(app, code, moment) == {**expected, "as_of": moment}, (code, moment)


def test_replay_totals_are_exact_to_the_fen(script: Script) -> None:
    final = replay_ledger(script.app, "JM", script.moments[-1].at)
    by_item = {row["item"]: row for row in final["items"]}
    assert by_item["A1"]["quantity"] == Decimal("113.5")
    assert by_item["A1"]["value"] == Decimal("3518.33") + Decimal("10493.25")
    assert by_item["B2"] == {"item": "B2", "description": "外墙保温", "unit": "m2",
                             "quantity": Decimal("0"), "value": Decimal("0.00")}
    assert by_item["C3"]["value"] == Decimal("37.04")
    assert final["total_value"] == Decimal("14048.62")
    assert str(final["total_value"]) == "14048.62"
    assert replay_ledger(script.app, "LY", script.moments[-1].at)["total_value"] == Decimal("1049.91")
    # The live compound agrees to the fen.
    assert script.app.compound("JM").metered_value == final["total_value"]


def test_a_correction_recorded_after_the_cut_is_not_applied(script: Script) -> None:
    app = script.app
    correction = next(row for row in script.history["JM"] if row["kind"] == "corrected" and row["entry_id"] == "M1")
    before = replay_ledger(app, "JM", correction["recorded_at"] - timedelta(microseconds=1))
    after = replay_ledger(app, "JM", correction["recorded_at"])
    a1_before = next(row for row in before["items"] if row["item"] == "A1")
    a1_after = next(row for row in after["items"] if row["item"] == "A1")
    assert (a1_before["quantity"], a1_before["value"]) == (Decimal("30"), Decimal("3703.50"))  # the original
    assert (a1_after["quantity"], a1_after["value"]) == (Decimal("28.5"), Decimal("3518.33"))
    # A correction to nothing: the entry still counts before the cut, not after it.
    undone = next(row for row in script.history["JM"] if row["kind"] == "corrected" and row["entry_id"] == "M3")
    b2 = [row for row in replay_ledger(app, "JM", undone["recorded_at"] - timedelta(seconds=1))["items"]
          if row["item"] == "B2"]
    assert b2[0]["quantity"] == Decimal("12.25") and b2[0]["value"] == Decimal("2266.25")


def test_replay_before_anything_was_recorded(script: Script) -> None:
    first = script.moments[0].at
    with pytest.raises(Refused, match="JM was not registered by"):
        replay_ledger(script.app, "JM", first - timedelta(seconds=1))
    # registered but without a bill of quantities yet
    assert replay_ledger(script.app, "JM", script.moments[1].at)["items"] == []
    with pytest.raises(CompoundNotFound):
        replay_ledger(script.app, "XX", first)
    with pytest.raises(CompoundNotFound):
        compound_as_of(script.app, "JM", first - timedelta(seconds=1))


def test_metering_history_lists_every_metering_event_in_recording_order(script: Script) -> None:
    app = script.app
    history = metering_history(app, "JM")

    assert history == script.history["JM"]
    assert [row["kind"] for row in history] == [
        "measured", "measured", "measured", "corrected", "variation", "measured", "corrected", "corrected",
    ]
    assert [row["recorded_at"] for row in history] == sorted(row["recorded_at"] for row in history)
    corrected = history[3]
    assert (corrected["entry_id"], corrected["previous_quantity"], corrected["quantity"]) == (
        "M1", Decimal("30"), Decimal("28.5"))
    assert (corrected["user"], corrected["reason"]) == (AUDITOR_2, "复核现场实测")
    assert metering_history(app, "LY") == script.history["LY"]


def test_metering_history_of_one_item_or_period(script: Script) -> None:
    app = script.app
    a1 = metering_history(app, "JM", item="A1")
    assert a1 == [row for row in script.history["JM"] if row["item"] == "A1"]
    assert [row["kind"] for row in a1] == ["measured", "corrected", "variation", "measured"]
    april = metering_history(app, "JM", period="2021-04")
    assert [(row["entry_id"], row["kind"]) for row in april] == [("M3", "measured"), ("M4", "measured"),
                                                                 ("M3", "corrected")]
    assert metering_history(app, "JM", item="A1", period="2021-03") == [
        row for row in script.history["JM"] if row["item"] == "A1" and row["period"] == "2021-03"
    ]
    assert metering_history(app, "JM", item="Z9") == []


def test_compound_as_of_every_recording_time_equals_the_compound_then(script: Script) -> None:
    for moment in script.moments:
        for code, expected in moment.compounds.items():
            assert compound_as_of(script.app, code, moment.at) == expected, (code, moment.at)
            assert compound_as_of(script.app, code, moment.at, hide_pending_blind=True) == \
                moment.hidden_compounds[code]
    # The blind sample, pending from 03-26 until its result on 04-21, is hidden from a contractor meanwhile.
    pending = compound_as_of(script.app, "JM", cst(4, 1, 0))
    hidden = compound_as_of(script.app, "JM", cst(4, 1, 0), hide_pending_blind=True)
    assert (pending.samples, pending.samples_pending) == (1, 1)
    assert (hidden.samples, hidden.samples_pending) == (0, 0)
    resulted = compound_as_of(script.app, "JM", cst(4, 22, 0), hide_pending_blind=True)
    assert (resulted.samples, resulted.samples_pending) == (1, 0)


def live_tables(models: ReadModels) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every read-model table (and the tracking positions), in a stable order."""
    with models.engine.connect() as connection:
        return {
            table.name: sorted((tuple(row) for row in connection.execute(select(table))), key=repr)
            for table in metadata.sorted_tables
        }


def test_boards_as_of_every_recording_time_equal_what_the_live_boards_showed(script: Script) -> None:
    app = script.app
    for moment in script.moments:
        models = read_models_as_of(app, moment.at, "progress", "ranking")
        try:
            with models.engine.connect() as connection:
                assert progress_rows(connection, moment.at.date()) == moment.progress, moment.at
                for key, expected in moment.rankings.items():
                    period, by = key.split("/")
                    rows = ranking_rows(connection, WEIGHTS, None if period == "None" else period, by)
                    assert rows == expected, (moment.at, key)
        finally:
            models.close()


def test_boards_as_of_name_by_name(script: Script) -> None:
    app = script.app
    moment = script.moments[-1]
    progress = read_models_as_of(app, moment.at, "progress")
    ranking = read_models_as_of(app, moment.at, "ranking")
    try:
        with progress.engine.connect() as connection:
            assert progress_rows(connection, moment.at.date()) == moment.progress
        with ranking.engine.connect() as connection:
            assert ranking_rows(connection, WEIGHTS, None, "contractor") == moment.rankings["None/contractor"]
        # The first board as of the end of March has only March; as of 04-01 09:03 only JM is scored.
        early = read_models_as_of(app, cst(4, 1, 9, 3), "ranking")
        with early.engine.connect() as connection:
            board = ranking_rows(connection, WEIGHTS, None, "compound")
        early.close()
        assert [(row["period"], row["code"], row["rank"]) for row in board] == [("2021-03", "JM", 1)]
    finally:
        progress.close()
        ranking.close()


def test_boards_as_of_never_touch_the_live_read_models(script: Script) -> None:
    app = script.app
    # One more command that the live read models have not caught up with.
    script.at(cst(5, 8, 9))
    app.record_inspection("JM", "patrol", user=SUPERVISOR)
    before = live_tables(script.models)
    positions = dict(before["projection_tracking"])
    head = script.models.head()
    assert positions["progress"] < head and positions["ranking"] < head

    for moment in script.moments:
        read_models_as_of(app, moment.at, "progress").close()
        read_models_as_of(app, moment.at, "ranking").close()
    read_models_as_of(app, cst(5, 9, 0)).close()  # every read model, as of after the last event

    assert live_tables(script.models) == before
    assert [s["position"] for s in script.models.status()] == [
        positions[projection.key] for projection in script.models.projections.values()
    ]


def test_reconcile_is_empty_on_a_healthy_store(script: Script) -> None:
    script.models.catch_up()
    assert reconcile(script.app, script.models) == []


def test_reconcile_names_the_compound_and_item_of_a_corrupted_ledger_row(script: Script) -> None:
    models = script.models
    models.catch_up()
    with models.engine.begin() as connection:  # behind the application's back, in the read model
        changed = connection.execute(
            text("UPDATE ledger_entries SET quantity = '31', value = '3826.95' WHERE code = 'JM' AND entry_id = 'M1'")
        )
        assert changed.rowcount == 1

    differences = reconcile(script.app, models)

    assert differences == [
        {"code": "JM", "item": "A1", "what": "ledger", "events_side": "113.5 / 14011.58",
         "read_model": "116 / 14320.20"},
    ]


def test_reconcile_reports_a_changed_value_a_missing_row_and_the_progress_total(script: Script) -> None:
    models = script.models
    models.catch_up()
    with models.engine.begin() as connection:
        connection.execute(text("UPDATE ledger_entries SET value = '37.03' WHERE code = 'JM' AND entry_id = 'M2'"))
        connection.execute(text("DELETE FROM ledger_entries WHERE code = 'LY' AND entry_id = 'M2'"))
        connection.execute(text("UPDATE progress_compounds SET metered_value = '1049.92' WHERE code = 'LY'"))

    differences = reconcile(script.app, models)

    assert [(d["code"], d["item"], d["what"]) for d in differences] == [
        ("JM", "C3", "ledger"), ("LY", "A1", "ledger"), ("LY", None, "metered_value"),
    ]
    assert differences[0]["events_side"] == "3 / 37.04" and differences[0]["read_model"] == "3 / 37.03"
    assert differences[2] == {"code": "LY", "item": None, "what": "metered_value", "events_side": "1049.91",
                              "read_model": "1049.92"}


def test_reconcile_of_started_compound_with_fixed_clock(started: RenovationApp) -> None:
    app = started
    app.measure("JM", "A1", "2021-04", Decimal("3.333"), user="auditor")  # 411.45885 -> 411.46
    models = read_models(app)
    try:
        models.catch_up()
        assert reconcile(app, models) == []
        with models.engine.begin() as connection:
            connection.execute(text("DELETE FROM ledger_entries"))
        assert reconcile(app, models) == [
            {"code": "JM", "item": "A1", "what": "ledger", "events_side": "3.333 / 411.46", "read_model": "0 / 0"},
        ]
    finally:
        models.close()

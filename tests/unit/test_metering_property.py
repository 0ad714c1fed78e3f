"""Any sequence of measurements, corrections and variations keeps the metering ledger sound."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import event, given, settings
from hypothesis import strategies as st

from renovation.domain.compound import CompoundProject, Context
from renovation.domain.errors import DomainError
from renovation.domain.values import BoqItem

CTX = Context(user="cost.auditor", now=datetime(2021, 5, 1, 9, 0, tzinfo=timezone(timedelta(hours=8))))
ITEMS = (
    BoqItem("A", "外墙保温", "m2", Decimal("50"), Decimal("12.345")),
    BoqItem("B", "屋面防水", "m2", Decimal("7.5"), Decimal("0.005")),
    BoqItem("C", "混凝土", "m3", Decimal("0.125"), Decimal("999.9999")),
)
PERIODS = ("2021-03", "2021-04", "2021-05")
REFUSED_PERIODS = ("2021-02", "2021-06")  # before the start, not begun

quantities = st.one_of(  # small ones too, so the 0.125 m3 item is metered as well as refused
    st.decimals(min_value=0, max_value=1, places=3, allow_nan=False, allow_infinity=False),
    st.decimals(min_value=0, max_value=60, places=3, allow_nan=False, allow_infinity=False),
)
item_codes = st.sampled_from([item.code for item in ITEMS])
periods = st.one_of(st.sampled_from(PERIODS), st.sampled_from(PERIODS), st.sampled_from(REFUSED_PERIODS))
measure = st.tuples(st.just("measure"), item_codes, periods, quantities)
commands = st.lists(
    st.one_of(
        measure,
        measure,
        st.tuples(st.just("correct"), st.integers(1, 5).map(lambda n: f"M{n}"), quantities),
        st.tuples(st.just("variation"), item_codes, quantities),
    ),
    max_size=40,
)


def round_half_up(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def started_project() -> CompoundProject:
    project = CompoundProject.register(
        code="PROP", name="性质测试小区", district="龙山区", contractor="辽源建工", households=100,
        contract_value=Decimal("100000"), planned_start=date(2021, 3, 1), planned_finish=date(2021, 9, 30),
        ctx=CTX,
    )
    project.set_bill_of_quantities(list(ITEMS), CTX)
    project.start_construction(date(2021, 3, 1), CTX)
    return project


def run(project: CompoundProject, command: tuple[object, ...]) -> None:
    match command:
        case ("measure", item, period, quantity):
            project.measure(item, period, quantity, CTX)
        case ("correct", entry_id, quantity):
            project.correct_measurement(entry_id, quantity, "复核", CTX)
        case ("variation", item, quantity):
            project.approve_variation(item, quantity, "设计变更", CTX)


@settings(max_examples=300, deadline=None)
@given(commands)
def test_the_ledger_stays_within_contract_and_adds_up_to_the_fen(commands):
    project = started_project()
    history = list(project.collect_events())
    unit_price = {item.code: item.unit_price for item in ITEMS}
    original = {item.code: item.quantity for item in ITEMS}
    varied: set[str] = set()
    ledger: dict[str, tuple[str, Decimal, Decimal]] = {}  # entry → item, quantity, value, from the events

    for command in commands:
        before = (dict(project.boq), dict(project.entries), project.version)
        try:
            run(project, command)
        except DomainError as refusal:
            event(f"{command[0]} refused: {type(refusal).__name__}")
            assert project.collect_events() == []  # a refusal records nothing and changes nothing
            assert (dict(project.boq), dict(project.entries), project.version) == before
            continue
        event(f"{command[0]} recorded")
        events = project.collect_events()
        assert len(events) == 1
        history.extend(events)
        for fact in events:
            if isinstance(fact, CompoundProject.VariationApproved):
                varied.add(fact.item)
            elif isinstance(fact, CompoundProject.QuantityMeasured | CompoundProject.MeasurementCorrected):
                assert fact.value == round_half_up(fact.quantity * unit_price[fact.item])
                ledger[fact.entry_id] = (fact.item, fact.quantity, fact.value)

        entries = project.entries.values()
        assert project.metered_value() == sum(
            (round_half_up(entry.quantity * unit_price[entry.item]) for entry in entries), Decimal(0)
        )
        assert project.metered_value() == sum((value for _, _, value in ledger.values()), Decimal(0))
        for code, item in project.boq.items():
            metered = sum((quantity for of, quantity, _ in ledger.values() if of == code), Decimal(0))
            assert metered == project.cumulative(code)
            assert metered <= item.quantity
            if item.quantity != original[code]:
                assert code in varied

    rebuilt = history[0].mutate(None)
    for fact in history[1:]:
        rebuilt = fact.mutate(rebuilt)
    assert vars(rebuilt) == vars(project)

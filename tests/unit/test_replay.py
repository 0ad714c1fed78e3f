"""Replaying the recorded events rebuilds exactly the aggregate that recorded them."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from renovation.domain.compound import CompoundProject, Context, NewFinding
from renovation.domain.values import SCORE_DIMENSIONS

#: The event classes the aggregate defines; eventsourcing adds ``Created`` to every aggregate class, but
#: a compound is created by ``register()`` with ``Registered``.
EVENT_TYPES = {
    cls
    for cls in vars(CompoundProject).values()
    if isinstance(cls, type) and issubclass(cls, CompoundProject.Event)
} - {CompoundProject.Event, CompoundProject.Created}


def replay(events: list[CompoundProject.Event]) -> CompoundProject:
    aggregate = events[0].mutate(None)
    for event in events[1:]:
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, CompoundProject)
    return aggregate


def every_kind_of_event(project, ctx, at, boq_items, after=None):
    """Runs a compound through every command once, ``after(command, events, history)`` told of each; returns
    its history."""
    history = [*project.collect_events()]

    def step(command, *args):
        result = command(*args, ctx)
        events = project.collect_events()
        history.extend(events)
        if after is not None:
            after(command, events, history)
        return result

    step(project.record_illegal_structures, 2)
    step(project.clear_illegal_structures)
    step(project.set_bill_of_quantities, boq_items)
    step(project.start_construction, date(2021, 3, 1))
    step(project.receive_feedback, "hotline", "楼道灯不亮", at(2, month=3))
    step(project.resolve_feedback, "T1", "已更换灯具", at(3, month=3))
    step(project.record_inspection, "morning", at(4), [NewFinding("safety", "major", "临边", "3号楼")], None)
    step(project.rectify_finding, "F1", "已加护栏", at(5))
    step(project.reopen_finding, "F1", "护栏不牢", at(6))
    step(project.rectify_finding, "F1", None, at(7))
    step(project.close_finding, "F1", "复查合格", at(8))
    step(project.sample_material, "水泥", "C-01", "routine", None, at(9))
    step(project.record_material_result, "S1", False, "检测站", "R-1", at(10))
    step(project.sample_material, "水泥", "C-01", "blind", "李工", at(11))  # B1, the blind resample of S1
    step(project.record_material_result, "B1", True, "检测站", None, at(12))
    step(project.measure, "010101", "2021-03", Decimal("600.125"))
    step(project.correct_measurement, "M1", Decimal("600.1"), "复核")
    step(project.approve_variation, "010101", Decimal("1100"), "增加北侧外墙")
    step(project.score, "2021-04", dict.fromkeys(SCORE_DIMENSIONS, Decimal("88.5")))
    step(project.certify, "2021-03", Decimal(3))
    step(project.record_payment, "C1", Decimal("1000"), date(2021, 5, 1))
    step(project.record_rebase, "laptop.jsonl", 2, 1, ["I1=I2", "F1=F2"])
    step(project.complete_construction, date(2021, 4, 20))
    step(project.accept, date(2021, 4, 25))
    step(project.hand_over, date(2021, 4, 30), "龙山物业")
    later = Context(user=ctx.user, now=datetime(2023, 5, 2, 9, tzinfo=ctx.now.tzinfo))
    project.release_retention(date(2023, 5, 1), 24, later)  # after the defects liability period
    history.extend(project.collect_events())
    return history


def test_every_event_type_replays_to_the_live_aggregate(register, boq_items, ctx, at):
    project = register()

    def replayed(command, events, history):
        rebuilt = replay(history)
        assert vars(rebuilt) == vars(project), (command.__name__, [type(e).__name__ for e in events])

    history = every_kind_of_event(project, ctx, at, boq_items, replayed)
    assert vars(replay(history)) == vars(project)

    assert {type(event) for event in history} == EVENT_TYPES
    assert [event.originator_version for event in history] == list(range(1, len(history) + 1))


def test_replay_rebuilds_the_version_and_times_of_the_aggregate(ctx):
    project = CompoundProject.register(
        code="LY", name="利源小区", district="西安区", contractor="辽源建工", households=320,
        contract_value=Decimal("3100000.50"), planned_start=date(2021, 3, 1),
        planned_finish=date(2021, 9, 30),
        ctx=ctx,
    )
    project.start_construction(date(2021, 3, 15), ctx)

    rebuilt = replay(project.collect_events())

    assert (rebuilt.id, rebuilt.version, rebuilt.created_on, rebuilt.modified_on) == (
        project.id, 2, ctx.now, ctx.now,
    )
    assert vars(rebuilt) == vars(project)

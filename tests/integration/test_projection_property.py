"""A property of every read model: kept current incrementally (catching up after each command, or
every few commands, or applying notifications one at a time), it equals a full rebuild; and
applying a notification it has already applied changes nothing. SQLite only (a fresh file per
example), for speed; the runner is the same on PostgreSQL (see test_projection_runner)."""

from __future__ import annotations

import contextlib
import tempfile
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from renovation.domain.compound import NewFinding
from renovation.domain.errors import DomainError
from renovation.domain.values import SCORE_DIMENSIONS
from renovation.projections import NAMES, quality, read_models
from renovation.projections.runner import ReadModels
from renovation.services.application import RenovationApp
from tests.integration.conftest import CST, open_app
from tests.integration.projection_support import positions, register, snapshot

D = Decimal
DAY0 = date(2021, 3, 1)

code = st.sampled_from(("JM", "JM", "LY", "LY", "YH"))  # mostly the started ones
day = st.integers(0, 60)  # 03-01 .. 04-30, before the app's clock (2021-05-10 09:00)
hour = st.integers(6, 20)
after = st.integers(1, 120)  # hours after the finding, sample or ticket a step acts on
quantity = st.sampled_from(["0.1", "1", "2.5", "10", "33.333"])
score_value = st.sampled_from(["0", "59.5", "80", "90.01", "100"])

Step = tuple[Any, ...]
#: The lifecycle, drawn a third as often as the work on site, so that most sequences keep building.
lifecycle = [
    st.tuples(st.just("register"), st.just("YH"), st.sampled_from(["甲公司", "乙公司"])),
    st.tuples(st.just("illegal"), code, st.integers(1, 3)),
    st.tuples(st.just("clear"), code),
    st.tuples(st.just("start"), code, day),
    st.tuples(st.just("complete"), code, day),
    st.tuples(st.just("accept"), code, day),
    st.tuples(st.just("handover"), code, day),
]
work = [
    st.tuples(
        st.just("inspect"), code, st.sampled_from(["morning", "patrol"]), day, hour,
        st.lists(st.tuples(st.sampled_from(["quality", "safety", "civilized"]),
                           st.sampled_from(["minor", "major", "critical"])), max_size=2),
        st.none() | st.integers(0, 10),
    ),
    st.tuples(st.just("finding"), code, st.booleans(), st.integers(0, 5), after),
    st.tuples(st.just("sample"), code, st.sampled_from(["B1", "B2", "B3"]),
              st.sampled_from(["routine", "cross", "blind"]), day),
    st.tuples(st.just("result"), code, st.integers(0, 5), st.booleans(), after),
    st.tuples(st.just("measure"), code, st.sampled_from(["A1", "B2"]), st.sampled_from(["2021-03", "2021-04"]),
              quantity),
    st.tuples(st.just("correct"), code, st.integers(0, 5), st.sampled_from(["0", "0.5", "7", "20"])),
    st.tuples(st.just("variation"), code, st.sampled_from(["A1", "B2"]), st.sampled_from(["150", "60.5"])),
    st.tuples(st.just("score"), code, st.sampled_from(["2021-03", "2021-04"]),
              st.tuples(*[score_value] * len(SCORE_DIMENSIONS)), st.booleans()),
    st.tuples(st.just("feedback"), code, st.sampled_from(["hotline", "form", "visit"]), day, hour),
    st.tuples(st.just("resolve"), code, st.integers(0, 5), after),
]
steps = st.one_of(*lifecycle, *work, *work, *work, *work)


def moment(offset: int, at_hour: int = 6) -> datetime:
    return datetime(DAY0.year, DAY0.month, DAY0.day, at_hour, 30, tzinfo=CST) + timedelta(days=offset)


def on(offset: int) -> date:
    return DAY0 + timedelta(days=offset)


def pick(known: list[str], number: int) -> str:
    """One of the ids the compound knows (so that most steps are valid), or one it does not."""
    return known[number % len(known)] if known else "X1"


def run(app: RenovationApp, step: Step) -> None:
    """Run the use case a step stands for; a rule of the domain may well refuse it (DomainError)."""
    kind, target, *args = step
    u = {"user": "prop"}
    if kind == "register":
        register(app, target, contractor=args[0], items=[("A1", "100", "123.45"), ("B2", "50", "185")])
    elif kind == "illegal":
        app.record_illegal_structures(target, args[0], **u)
    elif kind == "clear":
        app.clear_illegal_structures(target, **u)
    elif kind in ("start", "complete", "accept", "handover"):
        use_case = {"start": app.start_construction, "complete": app.complete_construction, "accept": app.accept,
                    "handover": app.hand_over}[kind]
        use_case(target, on(args[0]), **u)
    elif kind == "inspect":
        inspection_kind, offset, at_hour, findings, due = args
        new = [NewFinding(category, severity, "问题") for category, severity in findings]
        app.record_inspection(target, inspection_kind, at=moment(offset, at_hour), findings=new,
                              due=None if due is None else on(offset + due), **u)
    elif kind == "finding":  # the next step of a finding's life: rectified, then closed or reopened
        close, number, hours = args
        findings = app.get_project(target).findings
        finding_id = pick(sorted(findings), number)
        status = findings[finding_id].status if finding_id in findings else "open"
        use_case = {
            "open": app.rectify_finding, "reopened": app.rectify_finding, "closed": app.reopen_finding,
            "rectified": app.close_finding if close else app.reopen_finding,
        }[status]
        when = findings[finding_id].raised_at + timedelta(hours=hours) if finding_id in findings else moment(0)
        use_case(target, finding_id, at=min(when, app.clock()), **u)
    elif kind == "sample":
        batch, regime, offset = args
        app.sample_material(target, material="水泥", batch=batch, regime=regime, at=moment(offset), **u)
    elif kind == "result":
        number, passed, hours = args
        samples = app.get_project(target).samples
        pending = sorted(sample_id for sample_id, sample in samples.items() if sample.passed is None)
        sample_id = pick(pending, number)
        when = samples[sample_id].sampled_at + timedelta(hours=hours) if sample_id in samples else moment(0)
        app.record_material_result(target, sample_id, passed=passed, lab="站", at=min(when, app.clock()), **u)
    elif kind == "measure":
        item, period, amount = args
        app.measure(target, item, period, D(amount), **u)
    elif kind == "correct":
        number, amount = args
        app.correct_measurement(target, pick(sorted(app.get_project(target).entries), number), D(amount), "复核", **u)
    elif kind == "variation":
        item, amount = args
        app.approve_variation(target, item, D(amount), "变更", **u)
    elif kind == "score":
        period, values, correction = args
        given_scores = dict(zip(SCORE_DIMENSIONS, (D(v) for v in values), strict=True))
        app.score(target, period, given_scores, correction=correction, reason="复核" if correction else None, **u)
    elif kind == "feedback":
        channel, offset, at_hour = args
        app.receive_feedback(target, channel, "意见", at=moment(offset, at_hour), **u)
    elif kind == "resolve":
        number, hours = args
        tickets = app.get_project(target).tickets
        ticket_id = pick(sorted(t for t, ticket in tickets.items() if ticket.resolved_at is None), number)
        when = tickets[ticket_id].received_at + timedelta(hours=hours) if ticket_id in tickets else moment(0)
        app.resolve_feedback(target, ticket_id, "已办", at=min(when, app.clock()), **u)
    else:
        raise AssertionError(kind)


def apply_twice(app: RenovationApp, models: ReadModels, after: int) -> int:
    """Apply every notification after ``after`` one at a time, each twice; the second time changes nothing."""
    last = after
    for notification in app.recorder.select_notifications(start=after + 1, limit=10_000):
        for name in NAMES:
            models.process(name, [notification])
        once = snapshot(models, with_directory=True)
        for name in NAMES:
            models.process(name, [notification])
        assert snapshot(models, with_directory=True) == once, f"notification {notification.id} applied twice"
        last = notification.id
    return last


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    script=st.lists(steps, min_size=15, max_size=45),
    every=st.integers(1, 4),
    mode=st.sampled_from(["catch_up", "process"]),
)
# A score corrected after the first was written: the buffered rows must replace the stored row.
@example(script=[("score", "JM", "2021-03", ("0",) * 5, False), ("score", "JM", "2021-03", ("0",) * 5, True)],
         every=1, mode="catch_up")
def test_incremental_read_models_equal_a_rebuild(script: list[Step], every: int, mode: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = open_app(str(Path(folder) / "renovation.db"))
        models = read_models(app)
        try:
            register(app, "JM", contractor="甲公司", items=[("A1", "100", "123.45"), ("B2", "50", "185")],
                     started="2021-03-01")
            register(app, "LY", contractor="乙公司", items=[("A1", "100", "123.45"), ("B2", "50", "185")],
                     started="2021-03-10")
            # something for the first steps to act on: findings F1 and F2, sample S1, entry M1, ticket T1
            two = [NewFinding("safety", "major", "脚手架"), NewFinding("quality", "minor", "空鼓")]
            app.record_inspection("JM", "patrol", at=moment(1, 10), findings=two, user="prop")
            app.sample_material("JM", material="钢筋", batch="B1", regime="routine", at=moment(1), user="prop")
            app.measure("LY", "A1", "2021-03", D("5"), user="prop")
            app.receive_feedback("LY", "hotline", "噪音", at=moment(10, 8), user="prop")
            applied = 0
            for number, step in enumerate(script, start=1):
                with contextlib.suppress(DomainError):  # refused by a rule: nothing recorded
                    run(app, step)
                if number % every == 0:
                    if mode == "catch_up":
                        models.catch_up()
                    else:
                        applied = apply_twice(app, models, applied)
            if mode == "catch_up":
                models.catch_up()
            else:
                apply_twice(app, models, applied)
            assert positions(models) == dict.fromkeys(NAMES, models.head())
            incremental = snapshot(models, with_directory=True)

            models.rebuild()

            rebuilt = snapshot(models, with_directory=True)
            for table, rows in incremental.items():
                assert rows == rebuilt[table], table
            assert positions(models) == dict.fromkeys(NAMES, models.head())
            assert_quality_counts_agree_with_the_facts(models)
        finally:
            models.close()
            app.close()


def assert_quality_counts_agree_with_the_facts(models: ReadModels) -> None:
    """The quality read model's running counts equal counting its rows of facts afresh."""
    with models.engine.connect() as connection:
        days = connection.execute(select(quality.morning_days)).all()
        findings = connection.execute(select(quality.findings)).all()
        samples = connection.execute(select(quality.samples)).all()
        kept_open = set(connection.execute(select(quality.open_findings)).all())
        for compound in connection.execute(select(quality.compounds)).mappings():
            code, started, completed = compound["code"], compound["started_on"], compound["completed_on"]
            covered = sum(1 for row in days if row.code == code and started is not None and started <= row.day
                          and (completed is None or row.day <= completed))
            closed = [row for row in findings if row.code == code and row.status == "closed"]
            expected = {"covered_days": covered, "findings_closed": len(closed),
                        "close_seconds": sum(row.close_seconds for row in closed)}
            for regime in quality.REGIMES:
                resulted = [row for row in samples if row.code == code and row.regime == regime
                            and row.passed is not None]
                expected[f"{regime}_resulted"] = len(resulted)
                expected[f"{regime}_passed"] = sum(1 for row in resulted if row.passed)
            assert {name: compound[name] for name in expected} == expected, code
    assert kept_open == {(row.code, row.finding_id, row.due) for row in findings if row.status != "closed"}


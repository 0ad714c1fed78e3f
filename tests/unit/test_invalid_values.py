"""Every reason an ``InvalidValue`` gives, reached through a command of the aggregate."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest

from renovation.domain import compound, errors
from renovation.domain import rules as checks
from renovation.domain.compound import CompoundProject, Context, NewFinding
from renovation.domain.values import SCORE_DIMENSIONS

Command = Callable[[CompoundProject, Context, Callable[..., datetime]], Any]
A_FINDING = NewFinding("safety", "major", "脚手架未挂安全网", None)

#: reason → a command that gives it, on a project under construction with a bill of quantities.
COMMANDS: dict[str, Command] = {
    "empty": lambda p, ctx, at: p.receive_feedback("hotline", " ", at(12), ctx),
    "too_long": lambda p, ctx, at: p.receive_feedback("hotline", "长" * 1001, at(12), ctx),
    "control_character": lambda p, ctx, at: p.receive_feedback("hotline", "a\u202eb", at(12), ctx),
    "not_finite": lambda p, ctx, at: p.measure("010101", "2021-04", Decimal("Infinity"), ctx),
    "not_positive": lambda p, ctx, at: p.measure("010101", "2021-04", Decimal("0"), ctx),
    "negative": lambda p, ctx, at: p.correct_measurement("M1", Decimal("-0.5"), "复核", ctx),
    "too_large": lambda p, ctx, at: p.approve_variation("010101", Decimal("1000000000000.01"), "变更", ctx),
    "too_precise": lambda p, ctx, at: p.measure("010101", "2021-04", Decimal("0.00001"), ctx),
    "bad_period": lambda p, ctx, at: p.measure("010101", "2021-4", Decimal("1"), ctx),
    "choice": lambda p, ctx, at: p.record_inspection("night", at(12), [], None, ctx),
    "not_a_photo_hash": lambda p, ctx, at: p.record_inspection("patrol", at(12), [A_FINDING], None, ctx, ["IMG_1.jpg"]),
    "too_many": lambda p, ctx, at: p.record_inspection("patrol", at(12), [A_FINDING], None, ctx,
                                                       [f"{n:064x}" for n in range(21)]),
    "photos_without_findings": lambda p, ctx, at: p.record_inspection("patrol", at(12), [], None, ctx, ["a" * 64]),
    "duplicate": lambda p, ctx, at: p.record_inspection("patrol", at(12), [A_FINDING], None, ctx, ["a" * 64] * 2),
    "score_range": lambda p, ctx, at: p.score("2021-04", dict.fromkeys(SCORE_DIMENSIONS, Decimal(101)), ctx),
    "bad_code": lambda p, ctx, at: CompoundProject.register(
        code="吉明", name="吉明小区", district="龙山区", contractor="辽源建工", households=1,
        contract_value=Decimal(1), planned_start=at(1).date(), planned_finish=at(2).date(), ctx=ctx,
    ),
    "reserved_code": lambda p, ctx, at: CompoundProject.register(
        code="Correct", name="吉明小区", district="龙山区", contractor="辽源建工", households=1,
        contract_value=Decimal(1), planned_start=at(1).date(), planned_finish=at(2).date(), ctx=ctx,
    ),
}


def reasons_in_source() -> set[str]:
    source = inspect.getsource(checks) + inspect.getsource(compound)
    return set(re.findall(r'reason="(\w+)"', source))


def test_the_table_below_reaches_every_reason_the_domain_gives():
    assert set(COMMANDS) == reasons_in_source()


@pytest.mark.parametrize("reason", sorted(COMMANDS))
def test_every_invalid_value_reason_refuses_its_command(started, ctx, at, reason):
    started.measure("010101", "2021-04", Decimal("1"), ctx)
    started.collect_events()

    with pytest.raises(errors.InvalidValue) as refused:
        COMMANDS[reason](started, ctx, at)

    assert refused.value.params["reason"] == reason
    assert started.collect_events() == []


@pytest.mark.parametrize("value", ["\u200b", "\ud800", "\x7f", "\r"])
def test_invisible_and_control_characters_are_refused_in_text(value):
    with pytest.raises(errors.InvalidValue) as refused:
        checks.check_text("note", f"ok{value}ok")

    assert refused.value.params["reason"] == "control_character"


def test_text_reports_only_its_start_when_too_long():
    with pytest.raises(errors.InvalidValue) as refused:
        checks.check_text("note", "x" * 300)

    assert refused.value.params["value"] == "x" * 20 + "…"
    assert refused.value.params["limit"] == 200


def test_an_amount_may_have_four_decimal_places_and_reach_the_largest_amount():
    checks.check_amount("unit_price", Decimal("0.0001"))
    checks.check_amount("quantity", Decimal("1e12"))
    checks.check_amount("quantity", Decimal("1.00000e3"))  # scale -2 once the exponent is applied


def test_a_business_time_may_equal_the_recording_time_but_not_follow_it():
    now = datetime(2021, 5, 1, 9, 0, tzinfo=timezone(timedelta(hours=8)))
    checks.check_not_future(now, now)
    checks.check_not_future(datetime(2021, 5, 1, 1, 0, tzinfo=UTC), now)  # 09:00 in Liaoyuan

    with pytest.raises(errors.TimeInFuture):
        checks.check_not_future(datetime(2021, 5, 1, 1, 1, tzinfo=UTC), now)

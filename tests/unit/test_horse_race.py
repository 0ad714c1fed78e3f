"""Horse-race scores (赛马): one score per compound and period, 0 to 100 on every dimension."""

from __future__ import annotations

from decimal import Decimal

import pytest

from renovation.domain import errors
from renovation.domain.compound import CompoundProject
from renovation.domain.values import SCORE_DIMENSIONS, Score

SCORES = {
    "quality": Decimal("88.5"),
    "safety": Decimal("92"),
    "progress": Decimal("75.25"),
    "civilized": Decimal("80"),
    "satisfaction": Decimal("95"),
}


def test_a_score_records_every_dimension_for_the_period(started, ctx, only_event):
    started.score("2021-04", SCORES, ctx)

    event = only_event(started)
    assert isinstance(event, CompoundProject.HorseRaceScored)
    assert event.period == "2021-04"
    assert {dimension: getattr(event, dimension) for dimension in SCORE_DIMENSIONS} == SCORES
    assert (event.correction, event.reason) == (False, None)
    assert event.user == ctx.user
    assert started.scores["2021-04"] == Score(period="2021-04", **SCORES)


@pytest.mark.parametrize("value", [Decimal("0"), Decimal("100"), Decimal("100.0000"), Decimal("0.0001")])
def test_a_score_may_be_anything_from_0_to_100(started, ctx, value):
    started.score("2021-04", {**SCORES, "safety": value}, ctx)

    assert started.scores["2021-04"].safety == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (Decimal("100.01"), "score_range"),
        (Decimal("101"), "score_range"),
        (Decimal("-1"), "negative"),
        (Decimal("NaN"), "not_finite"),
        (Decimal("99.99999"), "too_precise"),
    ],
)
def test_a_score_outside_0_to_100_is_refused(started, ctx, value, reason):
    with pytest.raises(errors.InvalidValue) as refused:
        started.score("2021-04", {**SCORES, "progress": value}, ctx)

    assert refused.value.params["field"] == "progress"
    assert refused.value.params["reason"] == reason
    assert started.collect_events() == []


def test_a_second_score_for_the_same_period_is_refused(started, ctx):
    started.score("2021-04", SCORES, ctx)
    started.collect_events()

    with pytest.raises(errors.ScoreAlreadyRecorded) as refused:
        started.score("2021-04", {**SCORES, "quality": Decimal("90")}, ctx)

    assert refused.value.params == {"code": "JM", "period": "2021-04"}
    assert started.collect_events() == []
    assert started.scores["2021-04"].quality == Decimal("88.5")


def test_a_score_can_be_corrected_with_a_reason(started, ctx, only_event):
    started.score("2021-04", SCORES, ctx)
    started.collect_events()

    started.score("2021-04", {**SCORES, "quality": Decimal("90")}, ctx, correction=True, reason=" 复核加分 ")

    event = only_event(started)
    assert (event.correction, event.reason, event.quality) == (True, "复核加分", Decimal("90"))
    assert started.scores["2021-04"].quality == Decimal("90")


@pytest.mark.parametrize("reason", [None, "", "  "])
def test_a_score_correction_needs_a_reason(started, ctx, reason):
    started.score("2021-04", SCORES, ctx)

    with pytest.raises(errors.ReasonRequired):
        started.score("2021-04", SCORES, ctx, correction=True, reason=reason)


def test_cannot_correct_a_score_never_given(started, ctx):
    started.score("2021-03", SCORES, ctx)

    with pytest.raises(errors.ScoreCorrectionWithoutScore) as refused:
        started.score("2021-04", SCORES, ctx, correction=True, reason="复核")

    assert refused.value.params == {"code": "JM", "period": "2021-04"}


def test_each_period_has_its_own_score(started, ctx):
    for period in ("2021-03", "2021-04", "2021-05"):
        started.score(period, SCORES, ctx)

    assert list(started.scores) == ["2021-03", "2021-04", "2021-05"]


def test_cannot_score_a_period_before_construction_started(started, ctx):
    with pytest.raises(errors.PeriodBeforeStart) as refused:
        started.score("2021-02", SCORES, ctx)

    assert refused.value.params == {"period": "2021-02", "start": "2021-03"}


def test_cannot_score_a_period_still_to_come(started, ctx):
    with pytest.raises(errors.PeriodInFuture) as refused:
        started.score("2021-06", SCORES, ctx)

    assert refused.value.params == {"period": "2021-06", "current": "2021-05"}


def test_cannot_score_a_badly_written_period(started, ctx):
    with pytest.raises(errors.InvalidValue) as refused:
        started.score("2021-5", SCORES, ctx)

    assert refused.value.params["reason"] == "bad_period"


def test_cannot_score_a_compound_before_construction_started(registered, ctx):
    with pytest.raises(errors.WrongStatus) as refused:
        registered.score("2021-04", SCORES, ctx)

    assert refused.value.params["action"] == "score"
    assert refused.value.params["required"] == ["under_construction", "completed", "accepted", "handed_over"]


def test_a_compound_is_still_scored_after_hand_over(accepted, ctx):
    accepted.hand_over(accepted.accepted_on, None, ctx)

    accepted.score("2021-04", SCORES, ctx)

    assert "2021-04" in accepted.scores


@pytest.mark.parametrize(
    "scores",
    [
        {k: v for k, v in SCORES.items() if k != "safety"},
        {**SCORES, "speed": Decimal("90")},
    ],
    ids=["missing dimension", "unknown dimension"],
)
def test_a_score_must_give_exactly_the_five_dimensions(started, ctx, scores):
    with pytest.raises(errors.InvalidValue) as refused:
        started.score("2021-04", scores, ctx)

    assert refused.value.params["field"] == "scores"
    assert started.collect_events() == []

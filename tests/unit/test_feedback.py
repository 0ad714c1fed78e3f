"""Resident feedback (开门搞旧改, 咨询热线 0437-3396677): received, then resolved with a note."""

from __future__ import annotations

from datetime import timedelta

import pytest

from renovation.domain import errors
from renovation.domain.compound import CompoundProject


def test_feedback_is_received_as_a_numbered_ticket(registered, ctx, at, only_event):
    ticket_id = registered.receive_feedback("hotline", "  楼道灯不亮  ", at(12, hour=20), ctx)

    event = only_event(registered)
    assert isinstance(event, CompoundProject.FeedbackReceived)
    assert ticket_id == event.ticket_id == "T1"
    assert (event.channel, event.text, event.at) == ("hotline", "楼道灯不亮", at(12, hour=20))
    assert event.user == ctx.user
    assert registered.tickets["T1"].resolved_at is None
    assert registered.receive_feedback("visit", "加装电梯", at(13), ctx) == "T2"


@pytest.mark.parametrize("fixture", ["registered", "started", "accepted"])
def test_feedback_is_received_whatever_the_status(request, ctx, at, fixture):
    project = request.getfixturevalue(fixture)

    assert project.receive_feedback("form", "意见", at(12), ctx) == "T1"


def test_a_ticket_is_resolved_with_a_note(registered, ctx, at, only_event):
    registered.receive_feedback("hotline", "楼道灯不亮", at(12), ctx)
    registered.collect_events()

    registered.resolve_feedback("T1", " 已更换灯具 ", at(13), ctx)

    event = only_event(registered)
    assert isinstance(event, CompoundProject.FeedbackResolved)
    assert (event.ticket_id, event.note, event.at) == ("T1", "已更换灯具", at(13))
    assert registered.tickets["T1"].resolved_at == at(13)
    assert registered.tickets["T1"].note == "已更换灯具"


def test_a_ticket_is_resolved_once(registered, ctx, at):
    registered.receive_feedback("hotline", "楼道灯不亮", at(12), ctx)
    registered.resolve_feedback("T1", "已更换", at(13), ctx)
    registered.collect_events()

    with pytest.raises(errors.TicketAlreadyResolved) as refused:
        registered.resolve_feedback("T1", "再次", at(14), ctx)

    assert refused.value.params == {"ticket_id": "T1"}
    assert registered.collect_events() == []


def test_cannot_resolve_an_unknown_ticket(registered, ctx, at):
    with pytest.raises(errors.UnknownTicket) as refused:
        registered.resolve_feedback("T1", "已处理", at(13), ctx)

    assert refused.value.params == {"code": "JM", "ticket_id": "T1"}


def test_a_ticket_cannot_be_resolved_before_it_was_received_or_in_the_future(registered, ctx, at):
    registered.receive_feedback("hotline", "楼道灯不亮", at(12), ctx)

    with pytest.raises(errors.DateOutOfOrder) as refused:
        registered.resolve_feedback("T1", "已处理", at(11), ctx)
    assert (refused.value.params["what"], refused.value.params["before"]) == ("resolve", "received")

    with pytest.raises(errors.TimeInFuture):
        registered.resolve_feedback("T1", "已处理", ctx.now + timedelta(minutes=1), ctx)


def test_a_ticket_needs_a_resolution_note(registered, ctx, at):
    registered.receive_feedback("hotline", "楼道灯不亮", at(12), ctx)

    with pytest.raises(errors.InvalidValue) as refused:
        registered.resolve_feedback("T1", "", at(13), ctx)

    assert refused.value.params["field"] == "note"


def test_feedback_cannot_be_received_in_the_future(registered, ctx):
    with pytest.raises(errors.TimeInFuture):
        registered.receive_feedback("hotline", "x", ctx.now + timedelta(minutes=1), ctx)


@pytest.mark.parametrize(
    ("channel", "text", "field", "reason"),
    [
        ("wechat", "x", "channel", "choice"),
        ("hotline", "", "text", "empty"),
        ("hotline", "字" * 1001, "text", "too_long"),
        ("form", "a\x1bb", "text", "control_character"),
    ],
)
def test_feedback_with_a_bad_channel_or_text_is_refused(registered, ctx, at, channel, text, field, reason):
    with pytest.raises(errors.InvalidValue) as refused:
        registered.receive_feedback(channel, text, at(12), ctx)

    assert refused.value.params["field"] == field
    assert refused.value.params["reason"] == reason

"""Every domain error says what went wrong in English and in Chinese, with its numbers filled in."""

from __future__ import annotations

import inspect
import re
from decimal import Decimal

import pytest

from renovation.domain import compound, errors
from renovation.domain.access import ALLOWED, ROLES
from renovation.domain.errors import DomainError
from renovation.domain.messages import ERRORS, WORDS
from renovation.domain.values import Status

SOURCE = inspect.getsource(compound)

ACTIONS = sorted(
    set(re.findall(r'check_status\(\s*"(\w+)"', SOURCE))
    | set(re.findall(r'check_construction_time\("(\w+)"', SOURCE))  # it checks the status too
)
STATUSES = [status.value for status in Status]
#: What a date is, and what it must not precede, as compound.py names them.
WHATS = sorted(
    set(re.findall(r'what="(\w+)"', SOURCE))
    | set(re.findall(r'check_day\("(\w+)"', SOURCE))
    | set(re.findall(r'check_construction_time\("\w+", "(\w+)"', SOURCE))
    | set(re.findall(r'check_finding\(finding_id, "(\w+)"', SOURCE))
)
BEFORES = sorted(
    set(re.findall(r'before="(\w+)"', SOURCE)) | set(re.findall(r'check_day\("\w+", on, "(\w+)"', SOURCE))
)
FINDING_ACTIONS = sorted(set(re.findall(r'check_finding\(finding_id, "(\w+)"', SOURCE)))
FINDING_STATUSES = ["open", "rectified", "closed", "reopened"]

#: The words a renderer translates; every other parameter must appear as given.
TRANSLATED = {"action", "status", "what", "before", "required", "reason", "result", "role"}


def invalid_values() -> list[DomainError]:
    return [
        errors.InvalidValue(field="name", value=" ", reason="empty"),
        errors.InvalidValue(field="description", value="x" * 20 + "…", reason="too_long", limit=500),
        errors.InvalidValue(field="note", value="a\x00b", reason="control_character"),
        errors.InvalidValue(field="quantity", value="NaN", reason="not_finite"),
        errors.InvalidValue(field="quantity", value="0", reason="not_positive"),
        errors.InvalidValue(field="quality", value="-1", reason="negative"),
        errors.InvalidValue(field="quantity", value="2E+12", reason="too_large", limit="1E+12"),
        errors.InvalidValue(field="households", value="100001", reason="too_large", limit=100_000),
        errors.InvalidValue(field="quantity", value="0.00001", reason="too_precise", limit=4),
        errors.InvalidValue(field="code", value="吉明", reason="bad_code"),
        errors.InvalidValue(field="code", value="CORRECT", reason="reserved_code"),
        errors.InvalidValue(field="period", value="2021-4", reason="bad_period"),
        errors.InvalidValue(field="kind", value="night", reason="choice", choices="morning, patrol"),
        errors.InvalidValue(field="safety", value="101", reason="score_range"),
    ]


def pairs(first: list[str], second: list[str]) -> list[tuple[str, str]]:
    """Each word of both lists at least once (the shorter list repeats), not every combination."""
    length = max(len(first), len(second))
    return [(first[i % len(first)], second[i % len(second)]) for i in range(length)]


def every_error() -> list[DomainError]:
    """Each error class, built with the parameters compound.py (or the application) gives it."""
    return [
        errors.CompoundNotFound(code="JM"),
        errors.CompoundAlreadyRegistered(code="JM"),
        *invalid_values(),
        *[
            errors.WrongStatus(code="JM", action=action, status=status, required=["registered", "completed"])
            for action, status in pairs(ACTIONS, STATUSES)
        ],
        errors.IllegalStructuresStanding(code="JM", count=4),
        errors.NoIllegalStructures(code="JM"),
        errors.BillOfQuantitiesMissing(code="JM"),
        errors.BillOfQuantitiesLocked(code="JM", entries=3),
        errors.DuplicateItem(item="010102"),
        errors.UnknownItem(code="JM", item="999", known="010101, 010102"),
        errors.MeteringExceedsContract(
            item="010102", contract="400.5", cumulative="300", quantity="100.75", excess="0.25"
        ),
        errors.VariationBelowMetered(item="010101", quantity="600.2", cumulative="600.25"),
        errors.VariationUnchanged(item="010101", quantity="1000"),
        errors.UnknownEntry(code="JM", entry_id="M9"),
        errors.CorrectionUnchanged(entry_id="M1", quantity="12"),
        errors.ReasonRequired(),
        errors.PeriodBeforeStart(period="2021-02", start="2021-03"),
        errors.PeriodInFuture(period="2021-06", current="2021-05"),
        errors.TimeInFuture(at="2021-05-01T09:01+08:00", now="2021-05-01T09:00+08:00"),
        *[
            errors.DateOutOfOrder(what=what, day="2021-02-28", before=before, other="2021-03-01")
            for what, before in pairs(WHATS, BEFORES)
        ],
        errors.UnknownFinding(code="JM", finding_id="F2"),
        *[
            errors.FindingTransitionRefused(finding_id="F1", status=status, action=action)
            for action, status in pairs(FINDING_ACTIONS, FINDING_STATUSES)
        ],
        errors.DueBeforeInspection(due="2021-04-11", day="2021-04-12"),
        errors.MorningAfterNoon(at="2021-04-12T13:05+08:00"),
        errors.UnknownSample(code="JM", sample_id="S1"),
        errors.ResultAlreadyRecorded(sample_id="S1", result="fail"),
        errors.BatchRejected(batch="W-03"),
        errors.AcceptanceBlocked(code="JM", findings="F1, F2", samples="S3", batches="C-07"),
        errors.ScoreAlreadyRecorded(code="JM", period="2021-04"),
        errors.ScoreCorrectionWithoutScore(code="JM", period="2021-04"),
        errors.UnknownTicket(code="JM", ticket_id="T1"),
        errors.TicketAlreadyResolved(ticket_id="T1"),
        errors.UnknownUser(user="王五", action="access_meter", required=["auditor"]),
        errors.NotTheContractor(user="王五", company="乙公司", contractor="甲公司"),
        errors.NothingMetered(code="JM", period="2021-06"),
        errors.PeriodAlreadyCertified(code="JM", period="2021-04"),
        errors.PeriodBeforeCertified(code="JM", period="2021-03", latest="2021-04"),
        errors.CorrectionNotCertified(code="JM", period="2021-05", changed="2021-03"),
        errors.UnknownCertificate(code="JM", certificate_id="C9"),
        errors.PaymentExceedsCertified(certificate_id="C1", amount="10000", certified="9993.67", paid="0",
                                       unpaid="9993.67"),
        errors.PaymentExceedsOutstanding(code="JM", amount="2000", outstanding="1687.64"),
        errors.RetentionNotDue(code="JM", on="2022-01-01", due="2023-04-30", months=24),
        errors.RetentionAlreadyReleased(code="JM", on="2023-05-01"),
        errors.NoRetentionHeld(code="JM"),
        errors.MeteringNotCertified(code="JM", period="2021-04"),
        *[
            errors.AccessRefused(user="王五", role=role, action=f"access_{action}", required=list(roles))
            for (action, roles), role in zip(ALLOWED.items(), [r for r in ROLES for _ in range(5)], strict=False)
        ],
    ]


def label(error: DomainError) -> str:
    return f"{error.key}-" + "-".join(str(value) for value in error.params.values())[:60]


def test_the_examples_cover_every_error_class_and_the_words_found_in_the_source():
    classes = {cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, DomainError)}

    assert {type(error) for error in every_error()} == classes - {DomainError}
    assert ACTIONS and WHATS and BEFORES and FINDING_ACTIONS
    raised = set(re.findall(r"errors\.(\w+)\(", SOURCE))
    assert raised <= {cls.__name__ for cls in classes}


@pytest.mark.parametrize("key", sorted(set(ERRORS["en"]) | set(ERRORS["zh"])))
def test_every_error_has_a_template_in_both_languages(key):
    assert key in ERRORS["en"] and key in ERRORS["zh"]
    assert hasattr(errors, key)


@pytest.mark.parametrize("words", sorted(set(ACTIONS + STATUSES + WHATS + BEFORES + FINDING_STATUSES)))
def test_every_word_an_error_puts_in_its_template_is_translated(words):
    assert words in WORDS["en"]
    assert words in WORDS["zh"]


@pytest.mark.parametrize("error", every_error(), ids=label)
def test_every_error_renders_in_english_and_chinese_with_its_parameters(error):
    english = error.render("en")
    chinese = error.render("zh")

    assert english != chinese
    for text in (english, chinese):
        assert text.strip()
        assert "{" not in text and "}" not in text
        for name, value in error.params.items():
            if name not in TRANSLATED:
                shown = repr(value) if name == "value" else str(value)  # a refused value is quoted
                assert shown in text, (name, value, text)
    assert re.search(r"[\u4e00-\u9fff]", chinese)
    assert str(error) == english


@pytest.mark.parametrize("error", every_error(), ids=label)
def test_chinese_messages_translate_the_words_they_carry(error):
    chinese = error.render("zh")

    for name in ("action", "status", "what", "before"):
        if name in error.params:
            assert WORDS["zh"][error.params[name]] in chinese
    if "reason" in error.params:
        assert WORDS["zh"][error.params["reason"]].split("{")[0] in chinese
    for status in error.params.get("required", []):
        assert WORDS["zh"][status] in chinese


def test_a_status_list_is_joined_with_or_in_each_language():
    error = errors.WrongStatus(
        code="JM", action="measure", status="registered", required=["under_construction", "completed"]
    )

    assert "under construction or completed" in error.render("en")
    assert "施工中 或 已完工" in error.render("zh")


def test_an_unknown_language_falls_back_to_english():
    error = errors.UnknownTicket(code="JM", ticket_id="T1")

    assert error.render("fr") == error.render("en") == "JM has no feedback ticket T1"


def test_an_error_raised_by_the_aggregate_renders_in_both_languages(started, ctx):
    with pytest.raises(errors.MeteringExceedsContract) as refused:
        started.measure("010102", "2021-04", Decimal("500"), ctx)

    assert refused.value.render("en") == (
        "metering 500 of item 010102 would exceed its contract quantity 400.5: cumulative so far 0, "
        "excess 99.5 (an approved variation can raise it)"
    )
    assert refused.value.render("zh") == (
        "清单项 010102 计量 500 将超过合同数量 400.5：已累计 0，超出 99.5（经批准的变更可调增）"
    )

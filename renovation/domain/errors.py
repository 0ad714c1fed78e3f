"""Named domain errors.

Each error carries the numbers that explain it; its words live in ``renovation.domain.messages``
(Chinese and English), keyed by the class name, so the interface can say it in the user's language.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the domain refused a command."""

    def __init__(self, **params: Any) -> None:
        self.params = params
        super().__init__(self.render("en"))

    @property
    def key(self) -> str:
        return type(self).__name__

    def render(self, lang: str) -> str:
        from renovation.domain.messages import render_error

        return render_error(self.key, self.params, lang)


class CompoundNotFound(DomainError):
    pass


class CompoundAlreadyRegistered(DomainError):
    pass


#: Reasons said of a value worth quoting (a number, a code): the CLI puts the value before them.
VALUE_SHOWN = frozenset({"not_finite", "not_positive", "negative", "too_large", "too_precise", "bad_code",
                         "reserved_code", "bad_period", "score_range"})


class InvalidValue(DomainError):
    """A value the domain cannot accept (a code, a name, a number out of range)."""

    def phrase(self, lang: str = "en", shown: object = None) -> str:
        """The reason alone, as the edge says it after the field's name: ``'1.001' has more than 2
        decimal places``, ``must not be empty``; ``shown`` is the value as the user typed it."""
        from renovation.domain.messages import word

        reason = str(self.params["reason"])
        if reason == "not_positive" and str(self.params["value"]).startswith("-"):
            reason = "negative"  # the rule is "greater than zero"; what is wrong with -5 is its sign
        said = word(reason, lang, **self.params)
        value = self.params["value"] if shown is None else shown
        return f"{value!r} {said}" if reason in VALUE_SHOWN else said


class WrongStatus(DomainError):
    pass


class IllegalStructuresStanding(DomainError):  # 改旧先拆违
    pass


class NoIllegalStructures(DomainError):
    pass


class BillOfQuantitiesMissing(DomainError):
    pass


class BillOfQuantitiesLocked(DomainError):
    pass


class DuplicateItem(DomainError):
    pass


class UnknownItem(DomainError):
    pass


class MeteringExceedsContract(DomainError):
    pass


class VariationBelowMetered(DomainError):
    pass


class VariationUnchanged(DomainError):
    pass


class UnknownEntry(DomainError):
    pass


class CorrectionUnchanged(DomainError):
    pass


class ReasonRequired(DomainError):
    pass


class PeriodBeforeStart(DomainError):
    pass


class PeriodInFuture(DomainError):
    pass


class TimeInFuture(DomainError):
    pass


class DateOutOfOrder(DomainError):
    pass


class UnknownFinding(DomainError):
    pass


class FindingTransitionRefused(DomainError):
    pass


class MorningAfterNoon(DomainError):
    """A "morning" round recorded after noon: it is a patrol."""


class DueBeforeInspection(DomainError):
    pass


class UnknownSample(DomainError):
    pass


class ResultAlreadyRecorded(DomainError):
    pass


class BatchRejected(DomainError):  # 退场
    pass


class AcceptanceBlocked(DomainError):
    pass


class ScoreAlreadyRecorded(DomainError):
    pass


class ScoreCorrectionWithoutScore(DomainError):
    pass


class UnknownTicket(DomainError):
    pass


class TicketAlreadyResolved(DomainError):
    pass


class NothingMetered(DomainError):
    pass


class PeriodAlreadyCertified(DomainError):
    pass


class PeriodBeforeCertified(DomainError):
    pass


class CorrectionNotCertified(DomainError):
    pass


class UnknownCertificate(DomainError):
    pass


class PaymentExceedsCertified(DomainError):
    pass


class PaymentExceedsOutstanding(DomainError):
    pass


class RetentionNotDue(DomainError):
    pass


class RetentionAlreadyReleased(DomainError):
    pass


class NoRetentionHeld(DomainError):
    pass


class MeteringNotCertified(DomainError):
    pass


class UnknownUser(DomainError):
    pass


class AccessRefused(DomainError):
    pass


class NotTheContractor(DomainError):
    pass

"""What an imported or verified event is held to, of its amounts: the number, its scale and its sign (a zero
written "-0.00" is not the "0.00" a command records), however deep in the event's lists and values."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from renovation.domain.rerun import _difference
from renovation.domain.values import Certificate, CitedEntry, Finding

ZERO, NEGATIVE_ZERO = Decimal("0.00"), Decimal("-0.00")


def cited(value: Decimal) -> CitedEntry:
    return CitedEntry("M1", "2021-03", value)


@pytest.mark.parametrize(("given", "derived", "where"), [
    (NEGATIVE_ZERO, ZERO, "amount"),
    (Decimal("0.000"), ZERO, "amount"),
    ([cited(Decimal("1.00")), cited(NEGATIVE_ZERO)], [cited(Decimal("1.00")), cited(ZERO)], "amount[1].value"),
    ({"a": [cited(Decimal("423.500"))]}, {"a": [cited(Decimal("423.50"))]}, "amount['a'][0].value"),
])
def test_an_amount_equal_in_number_but_not_as_written_differs(given: object, derived: object, where: str) -> None:
    assert given == derived  # as numbers
    assert _difference(given, derived, "amount") is not None
    assert _difference(given, derived, "amount")[0] == where  # type: ignore[index]


def test_a_certificates_cited_entries_are_looked_into_and_a_findings_fields_compared() -> None:
    def certificate(value: Decimal) -> Certificate:
        return Certificate("C1", "2021-03", "2021-03", value, Decimal(3), ZERO, ZERO, ZERO, ZERO, [cited(value)],
                           on=date(2021, 4, 1))

    assert _difference(certificate(ZERO), certificate(NEGATIVE_ZERO), "c") == ("c.cumulative_metered", ZERO,
                                                                                 NEGATIVE_ZERO)
    assert _difference(certificate(ZERO), certificate(ZERO), "c") is None
    finding = Finding("F1", "quality", "minor", "x", None, date(2021, 4, 1), datetime(2021, 4, 1))
    other = Finding("F1", "quality", "major", "x", None, finding.due, finding.raised_at)
    assert _difference([finding], [other], "findings") == ("findings[0].severity", "minor", "major")

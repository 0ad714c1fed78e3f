from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renovation.domain.values import BoqItem, add_years, boq_total, canonical, is_period, period_of, value_of
from renovation.projections.common import count_percent, percent


@pytest.mark.parametrize(
    ("quantity", "unit_price", "value"),
    [
        (Decimal("1"), Decimal("0.005"), Decimal("0.01")),
        (Decimal("1"), Decimal("0.015"), Decimal("0.02")),
        (Decimal("1"), Decimal("0.025"), Decimal("0.03")),
        (Decimal("1"), Decimal("0.0049"), Decimal("0.00")),
        (Decimal("1200"), Decimal("85.5"), Decimal("102600.00")),
    ],
)
def test_value_is_quantity_times_unit_price_rounded_half_up_to_the_fen(quantity, unit_price, value):
    result = value_of(quantity, unit_price)

    assert result == value
    assert str(result) == str(value)


def test_the_total_of_a_bill_of_quantities_adds_up_each_items_rounded_value():
    items = [
        # each rounds to 0.01 on its own, so they add up to 0.02 where the unrounded sum is 0.01
        BoqItem("01", "a", "m", Decimal("1"), Decimal("0.005")),
        BoqItem("02", "b", "m", Decimal("1"), Decimal("0.005")),
        BoqItem("03", "c", "m2", Decimal("1200"), Decimal("85.5")),
    ]

    assert boq_total(items) == Decimal("102600.02")
    assert boq_total([]) == 0


@pytest.mark.parametrize(
    ("day", "later"),
    [
        (date(2021, 4, 30), date(2036, 4, 30)),
        (date(2024, 2, 29), date(2039, 2, 28)),
        (date(2020, 2, 29), date(2035, 2, 28)),
        (date(2021, 2, 28), date(2036, 2, 28)),
        (date(2021, 12, 31), date(2036, 12, 31)),
    ],
)
def test_fifteen_years_from_a_day_is_the_same_calendar_day_or_28_february(day, later):
    assert add_years(day, 15) == later


def test_29_february_stays_29_february_when_the_later_year_is_a_leap_year():
    assert add_years(date(2024, 2, 29), 4) == date(2028, 2, 29)


@pytest.mark.parametrize(("text", "ok"), [("2021-01", True), ("2021-12", True), ("1900-01", True),
                                          ("2021-00", False), ("2021-13", False), ("1899-12", False),
                                          ("2021-1", False), ("202101", False), ("2021-01-01", False)])
def test_a_period_is_a_four_digit_year_and_a_month(text, ok):
    assert is_period(text) is ok


def test_the_period_of_a_day_is_its_year_and_month():
    assert period_of(date(2021, 3, 1)) == "2021-03"


@pytest.mark.parametrize(
    ("number", "text"), [("4.2E+3", "4200"), ("4200", "4200"), ("0.50", "0.50"), ("1E-2", "0.01")]
)
def test_canonical_numbers_are_never_written_with_a_positive_exponent(number, text):
    assert str(canonical(Decimal(number))) == text


@given(part=st.integers(0, 10**6), whole=st.integers(0, 10**6))
def test_a_percentage_of_two_counts_is_the_decimal_percentage(part: int, whole: int) -> None:
    assert count_percent(part, whole) == percent(Decimal(part), Decimal(whole))
    assert str(count_percent(part, whole)) == str(percent(Decimal(part), Decimal(whole)))


@pytest.mark.parametrize("written", ["4200", "0.50", "-0", "0.0000", "999999999999999999999999.9999",
                                     "123456789012345678901234567890.123456789012345678901234567890"])
def test_a_decimal_reads_back_as_the_application_writes_it(written: str) -> None:
    from renovation.store.transcoding import DecimalAsPlainStr

    transcoding = DecimalAsPlainStr()
    assert transcoding.encode(transcoding.decode(written)) == written


@pytest.mark.parametrize("written", ["1E+999999999999999999", "1e5", "1E-3", " 1", "1 ", "1.", ".5", "+1", "NaN",
                                     "Infinity", "-sNaN", "1_000", "١٢", "1" * 31, "0." + "1" * 31, "", 5, None])
def test_a_decimal_written_otherwise_is_refused_when_read(written: object) -> None:
    """A decimal written by hand with an exponent makes a number every sum and rounding after it overflows on;
    nothing but the plain form the application writes is read."""
    from renovation.store.transcoding import DecimalAsPlainStr

    with pytest.raises(ValueError, match="is not a decimal as the application writes one"):
        DecimalAsPlainStr().decode(written)  # type: ignore[arg-type]


@pytest.mark.parametrize(("amount", "taken"), [
    ("-179.61", True), ("7184.79", True), ("-0", True), ("-999999999999999999999999999999.9999", True),
    ("-1000000000000000000000000000000", False), ("-0.00001", False), ("-NaN", False), ("-Infinity", False)])
def test_a_certificates_amount_is_read_below_zero_only_as_a_command_records_one(amount: str, taken: bool) -> None:
    """A correction certificate's amount is below zero (it takes back); as large and as precise as any amount."""
    from renovation.domain.compound import CompoundProject
    from renovation.domain.shapes import shape_of

    checks = dict(shape_of(CompoundProject.PaymentCertified).checks)
    assert checks["amount"](Decimal(amount)) is taken
    assert checks["retention"](Decimal("-1")) is False  # no other of its decimals


@pytest.mark.parametrize(("amount", "taken"), [
    ("1000000000000000000000000", True),  # a quantity of 10**12 at a unit price of 10**12: a command records it
    ("1200000000000000000000000.00", True),  # a certificate's sum of two such items
    ("999999999999999999999999999999.9999", True), ("1000000000000000000000000000000", False)])
def test_an_amount_is_read_as_large_as_commands_make_them(amount: str, taken: bool) -> None:
    """Quantities and unit prices go to 10**12 each, and a certificate sums its items: such a value, read
    from the store or from an import, is taken, up to the 30 digits a decimal is read with."""
    from renovation.domain.compound import CompoundProject
    from renovation.domain.shapes import shape_of

    checks = dict(shape_of(CompoundProject.PaymentCertified).checks)
    assert checks["cumulative_metered"](Decimal(amount)) is taken

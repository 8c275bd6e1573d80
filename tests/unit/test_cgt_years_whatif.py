"""Tax years, the exempt amounts table, and the what-if estimate."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from portfolio_dashboard.domain.cgt import TaxYear, estimate_sale, parse_tax_year, tax_year_of
from tests.unit.cgt_builders import ACME, D, buy, sell


def test_tax_year_boundaries() -> None:
    assert tax_year_of(date(2025, 4, 5)) == TaxYear(2024)
    assert tax_year_of(date(2025, 4, 6)) == TaxYear(2025)
    assert TaxYear(2024).label == "2024-25" and TaxYear(1999).label == "1999-00"
    assert (TaxYear(2024).start, TaxYear(2024).end) == (date(2024, 4, 6), date(2025, 4, 5))


@pytest.mark.parametrize("text", ["2024-25", "2024/25", "2024-2025", " 2024-25 "])
def test_parse_tax_year(text: str) -> None:
    assert parse_tax_year(text) == TaxYear(2024)


@pytest.mark.parametrize("text", ["2024", "2024-26", "24-25", "2024-2026"])
def test_parse_tax_year_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="tax year"):
        parse_tax_year(text)


@pytest.mark.parametrize(
    ("start", "aea"),
    [
        (2014, "11000"), (2015, "11100"), (2016, "11100"), (2017, "11300"), (2018, "11700"), (2019, "12000"),
        (2020, "12300"), (2022, "12300"), (2023, "6000"), (2024, "3000"), (2030, "3000"),
    ],
)  # fmt: skip
def test_annual_exempt_amounts(start: int, aea: str) -> None:
    assert TaxYear(start).annual_exempt_amount == Decimal(aea)


def test_unknown_exempt_amount_is_not_guessed() -> None:
    assert TaxYear(2005).annual_exempt_amount is None and TaxYear(2005).reporting_threshold is None


def test_what_if_against_the_remaining_exempt_amount() -> None:
    events = [buy(date(2023, 3, 1), "1000", "5000"), sell(date(2024, 6, 1), "500", "5000")]  # gain 2,500
    estimate = estimate_sale(events, security=ACME, quantity=D("100"), price_gbp=D("13"), on=date(2024, 11, 1))
    assert estimate.exempt_amount_remaining_gbp == D("500")
    assert estimate.gain_gbp == D("800")  # 100 x £13 - 100 x £5 from the pool
    assert (estimate.taxable_gain_before_gbp, estimate.taxable_gain_after_gbp) == (D("0"), D("300"))
    assert estimate.additional_taxable_gain_gbp == D("300")
    assert estimate.disposal is not None and estimate.disposal.acquisition_cost_gbp == D("500")


def test_what_if_without_known_cost() -> None:
    estimate = estimate_sale([], security=ACME, quantity=D("10"), price_gbp=D("1"), on=date(2024, 11, 1))
    assert estimate.gain_gbp is None and estimate.additional_taxable_gain_gbp is None

"""UK tax years (6 April to 5 April) and the amounts that change with them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

# Annual exempt amount for individuals (TCGA92/S1K), by the calendar year the tax year starts in.
# 2011-12 to 2019-20 from HMRC's rates-and-allowances tables as published; 2020-21 onward from the
# Capital Gains Tax (Annual Exempt Amount) orders and Finance Act 2023 (fixed at £3,000 from 2024-25).
# Earlier years are absent: a report for one is flagged for review rather than guessed.
_ANNUAL_EXEMPT_AMOUNT: dict[int, Decimal] = {
    2011: Decimal(10600),
    2012: Decimal(10600),
    2013: Decimal(10900),
    2014: Decimal(11000),
    2015: Decimal(11100),
    2016: Decimal(11100),
    2017: Decimal(11300),
    2018: Decimal(11700),
    2019: Decimal(12000),
    2020: Decimal(12300),
    2021: Decimal(12300),
    2022: Decimal(12300),
    2023: Decimal(6000),
}
_AEA_FROM_2024 = Decimal(3000)

# Proceeds above which the gains must be reported even when no tax is due (if the person is in Self
# Assessment): four times the annual exempt amount up to 2022-23, a fixed £50,000 from 2023-24.
_FIXED_REPORTING_THRESHOLD = Decimal(50000)
_FIXED_THRESHOLD_FROM = 2023

# The main rates changed from 10%/20% to 18%/24% for disposals on or after 30 October 2024 (Autumn Budget
# 2024); 2024-25 returns ask for the gains before and from that date separately.
RATE_CHANGE_2024 = date(2024, 10, 30)

_LABEL = re.compile(r"^(\d{4})[-/](\d{2}|\d{4})$")


@dataclass(frozen=True, slots=True, order=True)
class TaxYear:
    """The tax year starting on 6 April of ``start_year``; label ``2024-25``."""

    start_year: int

    @property
    def start(self) -> date:
        return date(self.start_year, 4, 6)

    @property
    def end(self) -> date:
        return date(self.start_year + 1, 4, 5)

    @property
    def label(self) -> str:
        return f"{self.start_year}-{(self.start_year + 1) % 100:02d}"

    def __str__(self) -> str:
        return self.label

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    @property
    def annual_exempt_amount(self) -> Decimal | None:
        """The individual's annual exempt amount, or None for a year this table does not know."""
        if self.start_year >= 2024:
            return _AEA_FROM_2024
        return _ANNUAL_EXEMPT_AMOUNT.get(self.start_year)

    @property
    def reporting_threshold(self) -> Decimal | None:
        """Disposal proceeds above which the gains are reported even without tax to pay."""
        if self.start_year >= _FIXED_THRESHOLD_FROM:
            return _FIXED_REPORTING_THRESHOLD
        aea = self.annual_exempt_amount
        return None if aea is None else 4 * aea

    @property
    def has_rate_change(self) -> bool:
        return self.contains(RATE_CHANGE_2024)


def tax_year_of(day: date) -> TaxYear:
    """The tax year ``day`` falls in (5 April belongs to the year that started the April before)."""
    if (day.month, day.day) >= (4, 6):
        return TaxYear(day.year)
    return TaxYear(day.year - 1)


def parse_tax_year(text: str) -> TaxYear:
    """``2024-25``, ``2024/25`` or ``2024-2025`` to a ``TaxYear``; anything else is a ValueError."""
    match = _LABEL.match(text.strip())
    if match is None:
        raise ValueError(f"not a tax year (expected e.g. 2024-25): {text!r}")
    start = int(match.group(1))
    end = match.group(2)
    expected = str(start + 1) if len(end) == 4 else f"{(start + 1) % 100:02d}"
    if end != expected:
        raise ValueError(f"a tax year spans two consecutive years: {text!r}")
    return TaxYear(start)

"""Named periods resolved to calendar days (pure). See docs/returns.md, "Periods"."""

from __future__ import annotations

from datetime import date, timedelta

PERIOD_NAMES: tuple[str, ...] = ("1m", "3m", "6m", "ytd", "tax-year", "prev-tax-year", "1y", "3y", "5y", "all")

_MONTHS = {"1m": 1, "3m": 3, "6m": 6}
_YEARS = {"1y": 1, "3y": 3, "5y": 5}


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole calendar months, the day of month clamped (31 March - 1 month = 28/29 February)."""
    index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    next_month = date(year + (month == 12), month % 12 + 1, 1)
    last_day = (next_month - timedelta(days=1)).day
    return date(year, month, min(day.day, last_day))


def add_years(day: date, years: int) -> date:
    return add_months(day, 12 * years)


def tax_year_start(day: date) -> date:
    """The first day (6 April) of the UK tax year containing ``day``."""
    start = date(day.year, 4, 6)
    return start if day >= start else date(day.year - 1, 4, 6)


def resolve_period(name: str, today: date, inception: date | None = None) -> tuple[date, date]:
    """The first and last calendar day of a named period ending ``today`` (both inclusive).

    A period's return runs from the close of the day before its first day to the close of its last day, so
    ``1m`` on 4 December is 5 November..4 December (one month of returns), ``ytd`` starts on 1 January, the tax
    year on 6 April. ``prev-tax-year`` is the whole previous UK tax year (6 April..5 April). ``all`` starts on
    ``inception`` (the first valuation's day), which it then requires. Periods are not clamped to the history:
    a period starting before the first valuation is reported unavailable by ``compute_returns``, never silently
    shortened.
    """
    key = name.strip().lower()
    if key in _MONTHS:
        return add_months(today, -_MONTHS[key]) + timedelta(days=1), today
    if key in _YEARS:
        return add_years(today, -_YEARS[key]) + timedelta(days=1), today
    if key == "ytd":
        return date(today.year, 1, 1), today
    if key == "tax-year":
        return tax_year_start(today), today
    if key == "prev-tax-year":
        current = tax_year_start(today)
        return date(current.year - 1, 4, 6), date(current.year, 4, 5)
    if key in ("all", "inception", "since-inception"):
        if inception is None:
            raise ValueError("the period 'all' needs the inception date (the first valuation's day)")
        return inception, today
    raise ValueError(f"unknown period {name!r}; expected one of {', '.join(PERIOD_NAMES)}")


def custom_period(start: date, end: date) -> tuple[date, date]:
    """A custom range, checked: ``start`` must not be after ``end``."""
    if start > end:
        raise ValueError(f"the period starts ({start}) after it ends ({end})")
    return start, end

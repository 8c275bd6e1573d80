"""Axes for a chart drawn on the server: round value ticks and calendar date ticks, as a reader expects them
(``£120,000`` steps of 1, 2 or 5 × a power of ten, as d3 and Vega choose them; a year, a quarter, a month or a
week apart, the year written where it starts)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

STEPS = (1.0, 2.0, 5.0, 10.0)  # no 2.5: its ticks would need one more decimal than their step's power
# (kind, how many) from the finest to the coarsest; the first that gives at most ``most`` ticks is used
CALENDAR = (("day", 1), ("day", 2), ("week", 1), ("week", 2), ("month", 1), ("month", 2), ("month", 3),
            ("month", 6), ("year", 1), ("year", 2), ("year", 5), ("year", 10), ("year", 25))


@dataclass(frozen=True)
class ValueAxis:
    low: float
    high: float
    ticks: tuple[float, ...]
    decimals: int  # places a tick label needs to tell its neighbours apart


@dataclass(frozen=True)
class DateTick:
    day: date
    label: str


def nice_step(span: float, count: int = 5) -> float:
    """A round step (1, 2, 5 × 10ⁿ) giving about ``count`` intervals over ``span``."""
    raw = span / count if span > 0 else 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    return next(s * power for s in STEPS if s * power >= raw * 0.999)


def value_axis(low: float, high: float, *, extend: bool, count: int = 5) -> ValueAxis:
    """Ticks on round values within ``low``..``high``; ``extend``: widen the range to the ticks around it (a
    stacked chart from zero ends on a round value, as Vega's "nice" scale does)."""
    if high <= low:
        high = low + (abs(low) * 0.1 or 1.0)
    step = nice_step(high - low, count)
    if extend:
        low, high = math.floor(low / step + 1e-9) * step, math.ceil(high / step - 1e-9) * step
    first = math.ceil(low / step - 1e-9)
    ticks = tuple(round(i * step, 10) for i in range(first, math.floor(high / step + 1e-9) + 1))
    decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step < 1 else 0
    return ValueAxis(low, high, ticks, decimals)


def date_ticks(first: date, last: date, most: int = 8) -> list[DateTick]:
    """Calendar ticks between ``first`` and ``last``: the finest spacing that gives at most ``most``."""
    for kind, every in CALENDAR:
        days = _calendar(first, last, kind, every)
        if len(days) <= most:
            return [DateTick(d, _label(d, kind, i == 0 or d.year != days[i - 1].year)) for i, d in enumerate(days)]
    return [DateTick(first, str(first.year))]


def _calendar(first: date, last: date, kind: str, every: int) -> list[date]:
    if kind == "day":
        return [first + timedelta(days=i) for i in range(0, (last - first).days + 1, every)]
    if kind == "week":  # Mondays
        monday = first + timedelta(days=-first.weekday() % 7)
        return [monday + timedelta(weeks=i) for i in range(0, (last - monday).days // 7 + 1, every)]
    if kind == "month":
        out, year, month = [], first.year, first.month
        if first.day > 1:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        while date(year, month, 1) <= last:
            if (month - 1) % every == 0:
                out.append(date(year, month, 1))
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return out
    start = first.year + (first.month > 1 or first.day > 1)
    return [date(y, 1, 1) for y in range(start, last.year + 1) if y % every == 0]


def _label(day: date, kind: str, new_year: bool) -> str:
    """``new_year``: the first tick, or the first of a new year, which says the year (a month tick in January
    says only the year, as Vega's axes do)."""
    if kind == "year":
        return str(day.year)
    if kind == "month":
        return str(day.year) if day.month == 1 else day.strftime("%b %Y" if new_year else "%b")
    return f"{day.day} {day.strftime('%b %Y' if new_year else '%b')}"

"""A benchmark's return over the same dates, and the cross-check against a broker's own TWR (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from portfolio_dashboard.domain.returns.core import quantize_return
from portfolio_dashboard.domain.returns.series import ReturnSeries
from portfolio_dashboard.domain.returns.types import Valuation

# The acceptance bound for our TWR against IBKR's ChangeInNAV TWR over the same period.
BROKER_TOLERANCE_PP = Decimal("0.05")


def benchmark_return(prices: Sequence[Valuation], start: date, end: date) -> Decimal | None:
    """A price series' return over the period, on the same start/end rule as an account's returns.

    ``prices`` are closes (an instrument's from our snapshots, or an imported CSV), oldest first. A benchmark has
    no flows, so its TWR is the simple price return. ``None`` when the series does not cover the start.
    """
    series = ReturnSeries(prices, ())
    i = series.start_index(start)
    j = series.end_index(end)
    if i is None or j < i or prices[i].value <= 0:
        return None
    return quantize_return(prices[j].value / prices[i].value - 1)


def benchmark_cumulative(prices: Sequence[Valuation], start: date, end: date) -> list[tuple[datetime, Decimal]]:
    """The benchmark's cumulative return at each of its closes in the period, 0 at the start, for the chart."""
    series = ReturnSeries(prices, ())
    i = series.start_index(start)
    j = series.end_index(end)
    if i is None or j < i or prices[i].value <= 0:
        return []
    base = prices[i].value
    return [(price.ts, quantize_return(price.value / base - 1)) for price in prices[i : j + 1]]


@dataclass(frozen=True, slots=True)
class BrokerComparison:
    """Our TWR beside the broker's for the same period; ``difference_pp`` in percentage points (ours − broker)."""

    ours: Decimal | None
    broker: Decimal | None
    difference_pp: Decimal | None
    agrees: bool | None  # None when either side is missing


# The zone of IBKR's statement dates (Flex date-times carry no zone; IBKR documents them as US Eastern).
IBKR_STATEMENT_ZONE = ZoneInfo("America/New_York")


def flex_twr_fraction(percent: Decimal | str) -> Decimal:
    """IBKR's ``ChangeInNAV twr`` attribute is a percentage (``1.25`` = 1.25%); ours are fractions."""
    return Decimal(percent) / 100


def compare_with_broker(
    ours: Decimal | None, broker: Decimal | None, *, tolerance_pp: Decimal = BROKER_TOLERANCE_PP
) -> BrokerComparison:
    """Compare two TWRs given as fractions; they agree when within ``tolerance_pp`` percentage points."""
    if ours is None or broker is None:
        return BrokerComparison(ours, broker, None, None)
    difference = (ours - broker) * 100
    return BrokerComparison(ours, broker, difference, abs(difference) <= tolerance_pp)

"""Returns over any period of one series, prepared once so that many periods cost little (pure).

``ReturnSeries`` computes each sub-period's growth factor once and keeps prefix products and prefix sums, so a
period's TWR is a ratio of two prefix products and its net flows a difference of two prefix sums; only MWR looks
at the period's flows one by one (the XIRR solver needs them).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate, pairwise
from operator import mul

from portfolio_dashboard.domain.returns.core import (
    ReturnUndefinedError,
    annualise,
    growth_factors,
    longer_than_a_year,
    mwr,
    quantize_return,
)
from portfolio_dashboard.domain.returns.periods import add_months
from portfolio_dashboard.domain.returns.types import ExternalFlow, ReturnResult, Valuation

DEFAULT_MAX_GAP = timedelta(days=7)
FLOWS_UNKNOWN = (
    "flows unknown: this account's source does not report deposits and withdrawals "
    "(add the account's Flex query), so its returns cannot be told apart from money moved in or out"
)
_ZERO = Decimal(0)
_ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class MonthlyReturn:
    year: int
    month: int
    twr: Decimal | None
    unavailable: tuple[str, ...] = ()


class ReturnSeries:
    """One series (an account, or a combined scope) in one currency, ready for any number of periods."""

    def __init__(
        self, valuations: Sequence[Valuation], flows: Sequence[ExternalFlow], *, flows_known: bool = True
    ) -> None:
        self.valuations: tuple[Valuation, ...] = tuple(valuations)
        self.flows: tuple[ExternalFlow, ...] = tuple(sorted(flows))
        self.flows_known = flows_known
        self._days = [v.ts.date() for v in self.valuations]
        self._flow_ts = [f.ts for f in self.flows]
        factors = growth_factors(self.valuations, self.flows)
        # Prefix structures over sub-periods: index k covers the first k sub-periods (valuations 0..k).
        # Undefined and zero factors count as 1 in the product and are tracked separately, so the ratio of two
        # prefix products is the exact chain over any range that contains neither.
        self._errors: list[ReturnUndefinedError | None]
        if all(type(factor) is Decimal and factor for factor in factors):
            # The usual case, every sub-period defined and none a total loss: the same products in the same
            # order as the loop below (so the same digits), without its per-day bookkeeping.
            self._product = list(accumulate(factors, mul, initial=_ONE))
            self._errors = [None] * len(self._product)
            self._bad = [0] * len(self._product)
            self._zeros = [0] * len(self._product)
        else:
            self._prefix_with_gaps(factors)
        self._flow_sum = [_ZERO]
        self._unvalued = [0]
        for flow in self.flows:
            self._flow_sum.append(self._flow_sum[-1] + (flow.amount if flow.amount is not None else _ZERO))
            self._unvalued.append(self._unvalued[-1] + (flow.amount is None))
        self._gap_counts: dict[timedelta, list[int]] = {}

    def _prefix_with_gaps(self, factors: Sequence[Decimal | ReturnUndefinedError]) -> None:
        self._product = [_ONE]
        self._errors = [None]
        self._bad = [0]
        self._zeros = [0]
        for factor in factors:
            if isinstance(factor, ReturnUndefinedError):
                error, zero, usable = factor, False, _ONE
            else:
                error, zero = None, factor == 0
                usable = _ONE if zero else factor
            self._product.append(self._product[-1] * usable)
            self._errors.append(error)
            self._bad.append(self._bad[-1] + (error is not None))
            self._zeros.append(self._zeros[-1] + zero)

    @property
    def inception(self) -> date | None:
        return self._days[0] if self._days else None

    # --- the pieces a period is built from -------------------------------------------------------------------

    def start_index(self, start: date) -> int | None:
        """The valuation a period starting on ``start`` starts from: the last one dated before ``start``, or the
        first valuation when the history begins on ``start`` itself; ``None`` when the history begins later."""
        index = bisect_left(self._days, start) - 1
        if index >= 0:
            return index
        return 0 if self._days and self._days[0] == start else None

    def end_index(self, end: date) -> int:
        return bisect_right(self._days, end) - 1

    def chained(self, i: int, j: int) -> Decimal:
        """Π(1 + r) − 1 over the sub-periods between valuations i and j; raises when one is undefined."""
        if self._bad[j] - self._bad[i]:
            first = next(error for error in self._errors[i + 1 : j + 1] if error is not None)
            raise first
        if self._zeros[j] - self._zeros[i]:
            return -_ONE
        return self._product[j] / self._product[i] - _ONE

    def flow_range(self, i: int, j: int) -> tuple[int, int]:
        """Positions in ``flows`` of the flows after valuation i up to and including valuation j."""
        return bisect_right(self._flow_ts, self.valuations[i].ts), bisect_right(self._flow_ts, self.valuations[j].ts)

    def gap_reasons(self, i: int, j: int, end: date, max_gap: timedelta) -> list[str]:
        counts = self._gap_counts.get(max_gap)
        if counts is None:
            counts = [0]
            for v0, v1 in pairwise(self.valuations):
                counts.append(counts[-1] + (v1.ts - v0.ts > max_gap))
            self._gap_counts[max_gap] = counts
        reasons = []
        if counts[j] - counts[i]:
            k = next(k for k in range(i + 1, j + 1) if counts[k] - counts[k - 1])
            reasons.append(
                f"gap in valuations: none between {self._days[k - 1]} and {self._days[k]} "
                f"(longer than the {max_gap.days}-day limit)"
            )
        if self.valuations[j].value != 0 and end - self._days[j] > max_gap:
            reasons.append(
                f"stale: the latest valuation ({self._days[j]}) is more than {max_gap.days} days before {end}"
            )
        return reasons

    # --- results ---------------------------------------------------------------------------------------------

    def period(self, start: date, end: date, *, max_gap: timedelta = DEFAULT_MAX_GAP) -> ReturnResult:
        """Every figure for the period ``start``..``end`` (calendar days, inclusive); withheld ones with reasons."""
        if start > end:
            raise ValueError(f"the period starts ({start}) after it ends ({end})")
        i = self.start_index(start)
        j = self.end_index(end)
        end_value = self.valuations[j].value if j >= 0 else None
        end_ts = self.valuations[j].ts if j >= 0 else None
        if not self.valuations:
            return _withheld(start, end, None, None, ("no valuations",))
        if i is None or j < i:
            begins = self._days[0]
            reason = (
                f"no valuation to start from: the history begins on {begins}, after the period starts ({start})"
                if begins > start
                else f"no valuation between {start} and {end}"
            )
            return _withheld(start, end, end_value, end_ts, (reason,))
        v0, v1 = self.valuations[i], self.valuations[j]
        if j == i:  # nothing was valued inside the period: "0%" would be a guess
            reason = f"no valuation between {start} and {end} after the one the period starts from ({self._days[i]})"
            return ReturnResult(start, end, v0.value, v1.value, None, None, None, None, None, (reason,), v0.ts, v1.ts)
        reasons: list[str] = []
        twr_reasons = self.gap_reasons(i, j, end, max_gap)
        lo, hi = self.flow_range(i, j)
        flows_ok = True
        if not self.flows_known:
            reasons.append(FLOWS_UNKNOWN)
            flows_ok = False
        if self._unvalued[hi] - self._unvalued[lo]:
            unvalued = next(f for f in self.flows[lo:hi] if f.amount is None)
            reasons.append(f"a flow on {unvalued.ts.date()} could not be valued (no exchange rate)")
            flows_ok = False
        # Annualise by the period asked for (its first day's previous close to its last day), not by where the
        # nearest valuations fell.
        over_a_year = longer_than_a_year(start - timedelta(days=1), end)
        net_flows = self._flow_sum[hi] - self._flow_sum[lo] if flows_ok else None
        gain = v1.value - v0.value - net_flows if net_flows is not None else None
        total: Decimal | None = None
        annual: Decimal | None = None
        if flows_ok and not twr_reasons:
            try:
                chained = self.chained(i, j)
                total = quantize_return(chained)
                annual = annualise(chained, v0.ts.date(), v1.ts.date(), over_a_year=over_a_year)
            except ReturnUndefinedError as error:
                twr_reasons.append(f"time-weighted return undefined: {error}")
        money: Decimal | None = None
        if flows_ok:
            try:
                money = mwr(v0, v1, self.flows[lo:hi], over_a_year=over_a_year)
            except ReturnUndefinedError as error:
                reasons.append(f"money-weighted return undefined: {error}")
        return ReturnResult(
            start=start,
            end=end,
            start_value=v0.value,
            end_value=v1.value,
            net_flows=net_flows,
            gain=gain,
            twr=total,
            twr_annualised=annual,
            mwr=money,
            unavailable=tuple(reasons + twr_reasons),
            start_ts=v0.ts,
            end_ts=v1.ts,
        )

    def monthly(self, *, max_gap: timedelta = DEFAULT_MAX_GAP) -> list[MonthlyReturn]:
        """TWR per calendar month for a heat-map, from the first valuation's month to the last's.

        The first month runs from the first valuation (the history cannot say what happened before it).
        """
        if not self.valuations:
            return []
        results = []
        month = self._days[0].replace(day=1)
        last = self._days[-1]
        while month <= last:
            month_end = add_months(month, 1) - timedelta(days=1)
            i = self.start_index(month)
            if i is None:
                i = 0
            j = self.end_index(month_end)
            reasons = [] if self.flows_known else [FLOWS_UNKNOWN]
            if j <= i:
                reasons.append(f"no valuation in {month:%Y-%m}")
            else:
                reasons += self.gap_reasons(i, j, min(month_end, last), max_gap)
            value: Decimal | None = None
            if not reasons:
                try:
                    value = quantize_return(self.chained(i, j))
                except ReturnUndefinedError as error:
                    reasons.append(f"time-weighted return undefined: {error}")
            results.append(MonthlyReturn(month.year, month.month, value, tuple(reasons)))
            month = add_months(month, 1)
        return results

    def cumulative(self, start: date, end: date) -> list[tuple[datetime, Decimal | None]]:
        """Cumulative TWR at every valuation of the period, 0 at its start valuation, for a chart.

        Points after an undefined sub-period are ``None`` (the chart shows a break, not a made-up line).
        """
        i = self.start_index(start)
        j = self.end_index(end)
        if i is None or j < i:
            return []
        points: list[tuple[datetime, Decimal | None]] = []
        for k in range(i, j + 1):
            try:
                points.append((self.valuations[k].ts, quantize_return(self.chained(i, k))))
            except ReturnUndefinedError:
                points.append((self.valuations[k].ts, None))
        return points


def _withheld(
    start: date, end: date, end_value: Decimal | None, end_ts: datetime | None, reasons: tuple[str, ...]
) -> ReturnResult:
    return ReturnResult(start, end, None, end_value, None, None, None, None, None, reasons, None, end_ts)


def compute_returns(
    valuations: Sequence[Valuation],
    flows: Sequence[ExternalFlow],
    start: date,
    end: date,
    *,
    max_gap: timedelta = DEFAULT_MAX_GAP,
    flows_known: bool = True,
) -> ReturnResult:
    """The figures for one period of one series (see ``ReturnSeries.period``; use that for many periods)."""
    return ReturnSeries(valuations, flows, flows_known=flows_known).period(start, end, max_gap=max_gap)


def monthly_returns(
    valuations: Sequence[Valuation],
    flows: Sequence[ExternalFlow],
    *,
    max_gap: timedelta = DEFAULT_MAX_GAP,
    flows_known: bool = True,
) -> list[MonthlyReturn]:
    """TWR per (year, month) for the heat-map (see ``ReturnSeries.monthly``)."""
    return ReturnSeries(valuations, flows, flows_known=flows_known).monthly(max_gap=max_gap)


def last_per_day(valuations: Iterable[Valuation]) -> tuple[Valuation, ...]:
    """The last valuation of each calendar day (``ts.date()``), in time order: the valuations returns use."""
    by_day: dict[date, Valuation] = {}
    for valuation in sorted(valuations):
        by_day[valuation.ts.date()] = valuation
    return tuple(by_day.values())

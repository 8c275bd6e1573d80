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
from itertools import accumulate, repeat
from operator import add, and_, gt, is_not, mul, sub
from typing import cast

from portfolio_dashboard.domain.returns.core import (
    ReturnUndefinedError,
    annualise,
    column_growth_factors,
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
    """One series (an account, or a combined scope) in one currency, ready for any number of periods.

    The valuations are kept as two columns (``stamps`` and ``values``) so that preparing thousands of days is a
    few C-level passes rather than one Python step per day; ``valuations`` gives them as ``Valuation`` objects.
    """

    def __init__(
        self, valuations: Sequence[Valuation], flows: Sequence[ExternalFlow], *, flows_known: bool = True
    ) -> None:
        self._prepare([v.ts for v in valuations], [v.value for v in valuations], flows, flows_known, None)

    @classmethod
    def from_columns(
        cls,
        stamps: Sequence[datetime],
        values: Sequence[Decimal],
        flows: Sequence[ExternalFlow],
        *,
        flows_known: bool = True,
        adjacent: Sequence[bool] | None = None,
    ) -> ReturnSeries:
        """The series of the valuations ``zip(stamps, values)`` (time order), without building them one by one.

        ``adjacent`` is for a thinned series (``SeriesColumns.adjacent``): which consecutive valuations were
        neighbours in the full history, so that only those can make a gap; ``None`` when nothing was left out.
        """
        series = cls.__new__(cls)
        series._prepare(stamps, values, flows, flows_known, adjacent)
        return series

    def _prepare(
        self,
        stamps: Sequence[datetime],
        values: Sequence[Decimal],
        flows: Sequence[ExternalFlow],
        flows_known: bool,
        adjacent: Sequence[bool] | None,
    ) -> None:
        if len(stamps) != len(values):
            raise ValueError(f"{len(stamps)} moments for {len(values)} values")
        if adjacent is not None and len(adjacent) != max(len(stamps) - 1, 0):
            raise ValueError(f"{len(adjacent)} neighbour flags for {len(stamps)} valuations")
        self.adjacent: tuple[bool, ...] | None = None if adjacent is None else tuple(adjacent)
        self.stamps: tuple[datetime, ...] = tuple(stamps)
        self.values: tuple[Decimal, ...] = tuple(values)
        self.flows: tuple[ExternalFlow, ...] = tuple(sorted(flows))
        self.flows_known = flows_known
        self._valuations: tuple[Valuation, ...] | None = None
        self._days = list(map(datetime.date, self.stamps))
        self._flow_ts = [f.ts for f in self.flows]
        factors = column_growth_factors(self.stamps, self.values, self.flows)
        # Prefix structures over sub-periods: index k covers the first k sub-periods (valuations 0..k).
        # Undefined and zero factors count as 1 in the product and are tracked separately, so the ratio of two
        # prefix products is the exact chain over any range that contains neither.
        self._errors: list[ReturnUndefinedError | None]
        if all(factors) and set(map(type, factors)) <= {Decimal}:
            # The usual case, every sub-period defined and none a total loss: the same products in the same
            # order as _prefix_with_gaps (so the same digits), without its bookkeeping.
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

    @property
    def valuations(self) -> tuple[Valuation, ...]:
        if self._valuations is None:
            self._valuations = tuple(map(Valuation, self.stamps, self.values))
        return self._valuations

    def _prefix_with_gaps(self, factors: Sequence[Decimal | ReturnUndefinedError]) -> None:
        errors = [factor if isinstance(factor, ReturnUndefinedError) else None for factor in factors]
        zeros = [error is None and factor == 0 for factor, error in zip(factors, errors, strict=True)]
        usable = [
            _ONE if zero or error is not None else factor
            for factor, error, zero in zip(factors, errors, zeros, strict=True)
        ]
        self._product = list(accumulate(cast("list[Decimal]", usable), mul, initial=_ONE))
        self._errors = [None, *errors]
        self._bad = list(accumulate(map(is_not, errors, repeat(None)), add, initial=0))
        self._zeros = list(accumulate(zeros, add, initial=0))

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
        return bisect_right(self._flow_ts, self.stamps[i]), bisect_right(self._flow_ts, self.stamps[j])

    def gap_reasons(self, i: int, j: int, end: date, max_gap: timedelta) -> list[str]:
        counts = self._gap_counts.get(max_gap)
        if counts is None:
            # the number of gaps longer than max_gap among the first k sub-periods (C-level passes); in a thinned
            # series only valuations that were neighbours can be a gap's ends (the others had valuations between)
            longer = map(gt, map(sub, self.stamps[1:], self.stamps[:-1]), repeat(max_gap))
            if self.adjacent is not None:
                longer = map(and_, longer, self.adjacent)
            counts = list(accumulate(longer, add, initial=0))
            self._gap_counts[max_gap] = counts
        reasons = []
        if counts[j] - counts[i]:
            k = next(k for k in range(i + 1, j + 1) if counts[k] - counts[k - 1])
            reasons.append(
                f"gap in valuations: none between {self._days[k - 1]} and {self._days[k]} "
                f"(longer than the {max_gap.days}-day limit)"
            )
        if self.values[j] != 0 and end - self._days[j] > max_gap:
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
        end_value = self.values[j] if j >= 0 else None
        end_ts = self.stamps[j] if j >= 0 else None
        if not self.stamps:
            return _withheld(start, end, None, None, ("no valuations",))
        if i is None or j < i:
            begins = self._days[0]
            reason = (
                f"no valuation to start from: the history begins on {begins}, after the period starts ({start})"
                if begins > start
                else f"no valuation between {start} and {end}"
            )
            return _withheld(start, end, end_value, end_ts, (reason,))
        v0, v1 = Valuation(self.stamps[i], self.values[i]), Valuation(self.stamps[j], self.values[j])
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
        if not self.stamps:
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
                points.append((self.stamps[k], quantize_return(self.chained(i, k))))
            except ReturnUndefinedError:
                points.append((self.stamps[k], None))
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

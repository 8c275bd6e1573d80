"""A portfolio (or any scope: a broker, a wrapper) as one series built from its accounts (pure).

See docs/returns.md, "The portfolio series": the value at a moment is the sum of each account's latest value at
or before it; an account that joins later enters with its first value as money in.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate, compress
from operator import add, ne, not_, sub

from portfolio_dashboard.domain.returns.series import DEFAULT_MAX_GAP, FLOWS_UNKNOWN, ReturnSeries
from portfolio_dashboard.domain.returns.types import (
    AccountSeries,
    ExternalFlow,
    ReturnResult,
    SeriesColumns,
    Valuation,
)

_ZERO = Decimal(0)


def combine_accounts(accounts: Mapping[str, AccountSeries]) -> AccountSeries:
    """One series for several accounts, all in the same currency (GBP), correct when they start on different days.

    Values: at every moment any account was valued, the sum of each started account's latest value at or before
    it. Flows: each account's flows after its first valuation. An account whose first valuation comes after the
    combined series has started enters as an external inflow of that first value at that moment (its own flows up
    to then are already inside that value): its arrival is money entering the scope, never a gain. This is what
    Wealthfolio #1414 gets wrong by counting a new account's opening value as performance.
    """
    combined = combine_columns(
        [
            SeriesColumns(
                tuple(v.ts for v in series.valuations), tuple(v.value for v in series.valuations), series.flows
            )
            for series in accounts.values()
        ]
    )
    valuations = tuple(map(Valuation, combined.stamps, combined.values))
    return AccountSeries(valuations, combined.flows, all(series.flows_known for series in accounts.values()))


def combine_columns(parts: Sequence[SeriesColumns]) -> SeriesColumns:
    """``combine_accounts`` on columns (the rule is written once, here): the accounts' moments are merged by a
    stable sort, and the value at each moment is a running sum of each account's change since its previous
    valuation, in the same order and with the same ``Decimal`` additions as an account-by-account merge."""
    started = [part for part in parts if part.stamps]
    if not started:
        return SeriesColumns((), (), ())
    start = min(part.stamps[0] for part in started)
    flows = [flow for part in started for flow in part.flows if flow.ts > part.stamps[0]]
    flows.extend(ExternalFlow(part.stamps[0], part.values[0]) for part in started if part.stamps[0] != start)
    moments: list[datetime] = []
    changes: list[Decimal] = []
    for part in started:
        moments.extend(part.stamps)
        changes.append(part.values[0] - _ZERO)
        changes.extend(map(sub, part.values[1:], part.values[:-1]))
    # Each account's moments are already in time order, so the sort merges runs; being stable, it keeps the
    # accounts' order among equal moments.
    order = sorted(range(len(moments)), key=moments.__getitem__)
    moments = list(map(moments.__getitem__, order))
    totals = list(accumulate(map(changes.__getitem__, order), add, initial=_ZERO))[1:]
    # one point per moment, after all of its accounts' updates: the last of each run of equal moments
    last = [*map(ne, moments[:-1], moments[1:]), True]
    stamps = tuple(compress(moments, last))
    adjacent = _union_adjacent(started, stamps) if any(p.adjacent is not None for p in started) else None
    return SeriesColumns(stamps, tuple(compress(totals, last)), tuple(sorted(flows)), adjacent)


def _union_adjacent(parts: Sequence[SeriesColumns], stamps: Sequence[datetime]) -> tuple[bool, ...]:
    """Which consecutive moments of the combined series can be a gap's two ends, when some parts are thinned.

    Two moments can be when no part had a valuation left out between them. A part that was valued until the first
    and from the second but had valuations left out between its two kept ones may have had one in between: those
    two moments are then not a gap. That loses no gap: a part is thinned only where its neighbouring valuations
    are closer than the gap limit (both ends of a longer gap are always kept), so over a stretch longer than the
    limit it must have been valued (docs/returns.md, "Since inception, thinned").
    """
    flags = [True] * max(len(stamps) - 1, 0)
    for part in parts:
        if part.adjacent is None:
            continue
        for k in compress(range(len(part.adjacent)), map(not_, part.adjacent)):
            lo = bisect_left(stamps, part.stamps[k])
            hi = bisect_left(stamps, part.stamps[k + 1])
            flags[lo:hi] = [False] * (hi - lo)
    return tuple(flags)


@dataclass(frozen=True, slots=True)
class ScopeReturns:
    total: ReturnResult
    accounts: dict[str, ReturnResult]


def account_reasons(key: str, series: ReturnSeries, result: ReturnResult, start: date, end: date) -> list[str]:
    """The reasons an account's result gives that make any scope containing it unreliable too.

    An account that merely opened during the period is not one of them (the scope handles its arrival); unknown
    or unvalued flows and gaps are.
    """
    if series.inception is None or series.inception > end:
        return []
    shared = []
    for reason in result.unavailable:
        if reason == FLOWS_UNKNOWN or reason.startswith(("gap in valuations", "stale", "a flow on")):
            shared.append(f"{key}: {reason}")
    return shared


def scope_returns(
    accounts: Mapping[str, AccountSeries], start: date, end: date, *, max_gap: timedelta = DEFAULT_MAX_GAP
) -> ScopeReturns:
    """Each account's figures and the combined scope's, the scope withholding what any account makes unreliable."""
    per_account: dict[str, ReturnResult] = {}
    shared: list[str] = []
    for key, account in accounts.items():
        series = ReturnSeries(account.valuations, account.flows, flows_known=account.flows_known)
        result = series.period(start, end, max_gap=max_gap)
        per_account[key] = result
        shared += account_reasons(key, series, result, start, end)
    combined = combine_accounts(accounts)
    total = ReturnSeries(combined.valuations, combined.flows, flows_known=True).period(start, end, max_gap=max_gap)
    if shared:
        total = ReturnResult(
            start=total.start,
            end=total.end,
            start_value=total.start_value,
            end_value=total.end_value,
            net_flows=None,
            gain=None,
            twr=None,
            twr_annualised=None,
            mwr=None,
            unavailable=tuple(shared) + total.unavailable,
            start_ts=total.start_ts,
            end_ts=total.end_ts,
        )
    return ScopeReturns(total, per_account)

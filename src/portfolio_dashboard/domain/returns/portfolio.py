"""A portfolio (or any scope: a broker, a wrapper) as one series built from its accounts (pure).

See docs/returns.md, "The portfolio series": the value at a moment is the sum of each account's latest value at
or before it; an account that joins later enters with its first value as money in.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from portfolio_dashboard.domain.returns.series import DEFAULT_MAX_GAP, FLOWS_UNKNOWN, ReturnSeries
from portfolio_dashboard.domain.returns.types import AccountSeries, ExternalFlow, ReturnResult, Valuation


def combine_accounts(accounts: Mapping[str, AccountSeries]) -> AccountSeries:
    """One series for several accounts, all in the same currency (GBP), correct when they start on different days.

    Values: at every moment any account was valued, the sum of each started account's latest value at or before
    it. Flows: each account's flows after its first valuation. An account whose first valuation comes after the
    combined series has started enters as an external inflow of that first value at that moment (its own flows up
    to then are already inside that value): its arrival is money entering the scope, never a gain. This is what
    Wealthfolio #1414 gets wrong by counting a new account's opening value as performance.
    """
    started = [(key, series) for key, series in accounts.items() if series.valuations]
    flows: list[ExternalFlow] = []
    for _, series in started:
        opening = series.valuations[0].ts
        flows.extend(flow for flow in series.flows if flow.ts > opening)
    flows_known = all(series.flows_known for series in accounts.values())
    if not started:
        return AccountSeries((), (), flows_known)
    start = min(series.valuations[0].ts for _, series in started)
    flows.extend(
        ExternalFlow(series.valuations[0].ts, series.valuations[0].value)
        for _, series in started
        if series.valuations[0].ts != start
    )
    # Each account's valuations are already in time order: merging them is linear, not a sort.
    events = heapq.merge(*(tagged(key, series.valuations) for key, series in started), key=lambda event: event[0])
    latest: dict[str, Decimal] = {}
    total = Decimal(0)
    valuations: list[Valuation] = []
    pending: datetime | None = None
    for ts, value, key in events:
        if pending is not None and ts != pending:  # one point per moment, after all of its accounts' updates
            valuations.append(Valuation(pending, total))
        total += value - latest.get(key, Decimal(0))
        latest[key] = value
        pending = ts
    if pending is not None:
        valuations.append(Valuation(pending, total))
    return AccountSeries(tuple(valuations), tuple(sorted(flows)), flows_known)


def tagged(key: str, valuations: Iterable[Valuation]) -> Iterator[tuple[datetime, Decimal, str]]:
    """An account's valuations labelled with the account (a function, so each generator keeps its own key)."""
    for valuation in valuations:
        yield valuation.ts, valuation.value, key


@dataclass(frozen=True, slots=True)
class ScopeReturns:
    total: ReturnResult
    accounts: dict[str, ReturnResult]


def account_reasons(key: str, series: ReturnSeries, result: ReturnResult, start: date, end: date) -> list[str]:
    """The reasons an account's result gives that make any scope containing it unreliable too.

    An account that merely opened during the period is not one of them (the scope handles its arrival); unknown
    or unvalued flows and gaps are.
    """
    if not series.valuations or series.valuations[0].ts.date() > end:
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

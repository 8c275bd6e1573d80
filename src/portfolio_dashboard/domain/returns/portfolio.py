"""A portfolio (or any scope: a broker, a wrapper) as one series built from its accounts (pure).

See docs/returns.md, "The portfolio series": the value at a moment is the sum of each account's latest value at
or before it; an account that joins later enters with its first value as money in.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    events: list[tuple[datetime, Decimal, str]] = []
    flows: list[ExternalFlow] = []
    for key, series in accounts.items():
        if not series.valuations:
            continue
        opening = series.valuations[0]
        events.extend((valuation.ts, valuation.value, key) for valuation in series.valuations)
        flows.extend(flow for flow in series.flows if flow.ts > opening.ts)
    if not events:
        return AccountSeries((), (), all(s.flows_known for s in accounts.values()))
    events.sort(key=lambda event: event[0])
    start = events[0][0]
    for series in accounts.values():
        if series.valuations and series.valuations[0].ts != start:
            flows.append(ExternalFlow(series.valuations[0].ts, series.valuations[0].value))
    latest: dict[str, Decimal] = {}
    total = Decimal(0)
    valuations: list[Valuation] = []
    for index, (ts, value, key) in enumerate(events):
        total += value - latest.get(key, Decimal(0))
        latest[key] = value
        if index + 1 == len(events) or events[index + 1][0] != ts:  # one point per moment, after all its updates
            valuations.append(Valuation(ts, total))
    return AccountSeries(tuple(valuations), tuple(sorted(flows)), all(s.flows_known for s in accounts.values()))


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

"""The statement's computed sections: returns over the period (services.returns) and, for a UK tax year, the
capital gains report (services.capital_gains) — the same figures as `portfolio-dashboard returns` and `cgt`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from portfolio_dashboard.domain.cgt import TaxYear
from portfolio_dashboard.domain.statement import Period, ReturnsSummary
from portfolio_dashboard.services.capital_gains import report as cgt_report
from portfolio_dashboard.services.returns import returns_report


def returns_section(conn: Connection, period: Period) -> ReturnsSummary:
    """TWR, MWR, gain and net external flows of every account over the period, or why they are withheld."""
    total = returns_report(conn, period=None, start=period.start, end=period.end, today=period.end).total
    reason = "; ".join(total.unavailable) or None
    return ReturnsSummary(twr=total.twr, mwr=total.mwr, gain_gbp=total.gain, net_flows_gbp=total.net_flows,
                          unavailable=reason if total.twr is None and total.mwr is None else None)


def capital_gains_section(conn: Connection, period: Period) -> Mapping[str, Any] | None:
    """The HMRC-matched capital gains of a tax-year statement (``cgt --json``'s shape); None for other periods."""
    if period.kind != "tax-year":
        return None
    return cgt_report(conn, TaxYear(period.start.year)).document

"""The demo accounts' money in and out: a fixed, deterministic schedule (pure).

From :data:`FLOWS_START`: a monthly deposit into the ISA and the US account, one withdrawal, quarterly
dividends (US ones with 15% US withholding tax), SAP's annual dividend with German withholding, and monthly
interest on the US account's dollars. Every flow has a stable id (account, kind, date, security), so
capturing the same period again stores nothing new. The demo's cash balances include every flow up to the
instant (:func:`cash_effect`), so a deposit raises cash and never shows as a market gain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

FLOWS_START = date(2024, 1, 1)
WINDOW = timedelta(days=40)  # each demo document lists the flows of the last 40 days (history overlaps)
CENT = Decimal("0.01")
US_WITHHOLDING = Decimal("0.15")
DE_WITHHOLDING = Decimal("0.26375")

ISA, US, EU = "DEMO-ISA-01", "DEMO-US-01", "DEMO-EU-01"
# (account, symbol, currency, amount per share, pay months, pay day, withholding rate)
DIVIDENDS = (
    (ISA, "VUSA", "GBP", Decimal("0.22"), (3, 6, 9, 12), 25, Decimal(0)),
    (ISA, "VWRL", "GBP", Decimal("0.31"), (3, 6, 9, 12), 26, Decimal(0)),
    (US, "AAPL", "USD", Decimal("0.25"), (2, 5, 8, 11), 15, US_WITHHOLDING),
    (US, "MSFT", "USD", Decimal("0.83"), (3, 6, 9, 12), 12, US_WITHHOLDING),
    (EU, "SAP", "EUR", Decimal("2.35"), (5,), 20, DE_WITHHOLDING),
)
DEPOSITS = ((ISA, "GBP", Decimal(250)), (US, "USD", Decimal(200)))
WITHDRAWAL = (US, "USD", Decimal(-1500), date(2025, 9, 15))
INTEREST = (US, "USD", Decimal("4.12"))


@dataclass(frozen=True, slots=True)
class DemoFlow:
    account_id: str
    flow_id: str
    kind: str  # a FlowKind value
    at: datetime
    currency: str
    amount: Decimal
    symbol: str | None = None
    description: str = ""

    def as_json(self) -> dict[str, str | None]:
        return {
            "id": self.flow_id, "kind": self.kind, "time": self.at.isoformat(), "currency": self.currency,
            "amount": str(self.amount), "symbol": self.symbol, "description": self.description,
        }


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), UTC)


def _month_flows(year: int, month: int, quantities: Mapping[tuple[str, str], Decimal]) -> list[DemoFlow]:
    first = date(year, month, 1)
    out = [
        DemoFlow(acct, f"{acct}:deposit:{first}", "deposit", _at(first, 9), ccy, amount, None, "Monthly deposit")
        for acct, ccy, amount in DEPOSITS
    ]
    acct, ccy, rate = INTEREST
    paid = date(year, month, 3)
    out.append(DemoFlow(acct, f"{acct}:interest:{paid}", "interest", _at(paid, 6), ccy, rate, None,
                        f"{ccy} credit interest"))
    for acct, symbol, ccy, per_share, months, day, tax_rate in DIVIDENDS:
        if month not in months:
            continue
        paid = date(year, month, day)
        gross = (quantities[(acct, symbol)] * per_share).quantize(CENT, ROUND_HALF_EVEN)
        text = f"{symbol} cash dividend {ccy} {per_share} per share"
        out.append(DemoFlow(acct, f"{acct}:dividend:{paid}:{symbol}", "dividend", _at(paid, 13), ccy, gross,
                            symbol, text))
        if tax_rate:
            tax = -(gross * tax_rate).quantize(CENT, ROUND_HALF_EVEN)
            out.append(DemoFlow(acct, f"{acct}:withholding_tax:{paid}:{symbol}", "withholding_tax",
                                _at(paid, 13), ccy, tax, symbol, f"{text} - withholding tax"))
    w_acct, w_ccy, w_amount, w_day = WITHDRAWAL
    if (w_day.year, w_day.month) == (year, month):
        out.append(DemoFlow(w_acct, f"{w_acct}:withdrawal:{w_day}", "withdrawal", _at(w_day, 10), w_ccy, w_amount,
                            None, "Withdrawal to bank"))
    return out


@lru_cache(maxsize=8)
def _schedule(year: int, quantities: tuple[tuple[tuple[str, str], Decimal], ...]) -> tuple[DemoFlow, ...]:
    """Every flow from FLOWS_START to the end of ``year``, in time order."""
    held = dict(quantities)
    flows = [
        flow
        for y in range(FLOWS_START.year, year + 1)
        for m in range(1, 13)
        if date(y, m, 1) >= FLOWS_START
        for flow in _month_flows(y, m, held)
    ]
    return tuple(sorted(flows, key=lambda f: (f.at, f.flow_id)))


def flows_until(at: datetime, quantities: Mapping[tuple[str, str], Decimal]) -> list[DemoFlow]:
    """Every demo flow at or before ``at`` (quantities: (account, symbol) -> shares held)."""
    at = at.astimezone(UTC)
    return [f for f in _schedule(at.year, tuple(sorted(quantities.items()))) if f.at <= at]


def recent(flows: Iterable[DemoFlow], at: datetime) -> list[DemoFlow]:
    """The flows a document at ``at`` lists: the last :data:`WINDOW` of them."""
    return [f for f in flows if f.at > at - WINDOW]


def cash_effect(flows: Iterable[DemoFlow]) -> dict[tuple[str, str], Decimal]:
    """(account, currency) -> net cash the flows added."""
    out: dict[tuple[str, str], Decimal] = {}
    for f in flows:
        out[(f.account_id, f.currency)] = out.get((f.account_id, f.currency), Decimal(0)) + f.amount
    return out

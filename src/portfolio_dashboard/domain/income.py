"""Income over a period from the stored income flows (pure): dividends, payments in lieu and interest, and the
tax withheld from them, summed in GBP by kind, month, security, account and UK tax year.

``total_gbp`` is the net income: what arrived after withholding (withholding flows are negative). A flow
without a GBP value is counted in ``unvalued`` and left out of every sum, never read as zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Protocol

from portfolio_dashboard.domain.cgt.tax_years import tax_year_of

GROSS_KINDS = ("dividend", "payment_in_lieu", "interest")
WITHHOLDING = "withholding_tax"


class IncomeFlow(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def day(self) -> date: ...
    @property
    def broker(self) -> str: ...
    @property
    def broker_account_id(self) -> str: ...
    @property
    def symbol(self) -> str | None: ...
    @property
    def isin(self) -> str | None: ...
    @property
    def amount_gbp(self) -> Decimal | None: ...


@dataclass(frozen=True, slots=True)
class SecurityIncome:
    symbol: str | None  # None: interest and other income not tied to a security
    isin: str | None
    gross_gbp: Decimal
    withholding_gbp: Decimal

    @property
    def net_gbp(self) -> Decimal:
        return self.gross_gbp + self.withholding_gbp


@dataclass(slots=True)
class IncomeSummary:
    start: date | None
    end: date | None
    by_kind: dict[str, Decimal] = field(default_factory=dict)
    by_month: dict[date, Decimal] = field(default_factory=dict)  # first of the month -> net
    by_month_kind: dict[tuple[date, str], Decimal] = field(default_factory=dict)
    by_security: list[SecurityIncome] = field(default_factory=list)
    by_account: dict[tuple[str, str], Decimal] = field(default_factory=dict)  # net
    by_tax_year: dict[str, Decimal] = field(default_factory=dict)  # "2025-26" -> net
    unvalued: int = 0

    @property
    def gross_gbp(self) -> Decimal:
        return sum((v for k, v in self.by_kind.items() if k in GROSS_KINDS), Decimal(0))

    @property
    def withholding_gbp(self) -> Decimal:
        return self.by_kind.get(WITHHOLDING, Decimal(0))

    @property
    def total_gbp(self) -> Decimal:
        return self.gross_gbp + self.withholding_gbp


def _add(d: dict, key: object, amount: Decimal) -> None:  # type: ignore[type-arg]
    d[key] = d.get(key, Decimal(0)) + amount


def summarise(lines: Iterable[IncomeFlow], start: date | None = None, end: date | None = None) -> IncomeSummary:
    """Sum income flows (already limited to the period by the caller) into every view the Income page shows."""
    out = IncomeSummary(start, end)
    securities: dict[tuple[str | None, str | None], list[Decimal]] = {}
    for line in lines:
        if line.kind not in GROSS_KINDS and line.kind != WITHHOLDING:
            continue
        if line.amount_gbp is None:
            out.unvalued += 1
            continue
        amount = line.amount_gbp
        month = line.day.replace(day=1)
        _add(out.by_kind, line.kind, amount)
        _add(out.by_month, month, amount)
        _add(out.by_month_kind, (month, line.kind), amount)
        _add(out.by_account, (line.broker, line.broker_account_id), amount)
        _add(out.by_tax_year, tax_year_of(line.day).label, amount)
        pair = securities.setdefault((line.symbol, line.isin), [Decimal(0), Decimal(0)])
        pair[1 if line.kind == WITHHOLDING else 0] += amount
    out.by_security = sorted(
        (SecurityIncome(sym, isin, g, w) for (sym, isin), (g, w) in securities.items()),
        key=lambda s: (-s.net_gbp, s.symbol or ""),
    )
    out.by_month = dict(sorted(out.by_month.items()))
    return out

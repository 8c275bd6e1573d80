"""Small builders for the capital gains tests (events in GBP, two brokers, an ISA)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from portfolio_dashboard.domain.cgt import AccountRef, CgtEvent, Security, Side

IB_GIA = AccountRef("ib", "U1000001", "GIA")
SCHWAB = AccountRef("schwab", "90000001", "GIA")
IB_ISA = AccountRef("ib", "U1000002", "ISA")

ACME = Security("gi-acme", "ACME", "GB00ACME0001")


def D(text: str) -> Decimal:  # noqa: N802 - reads like the literal it builds
    return Decimal(text)


def buy(
    day: date,
    quantity: str,
    cost: str,
    *,
    costs: str = "0",
    security: Security = ACME,
    account: AccountRef = IB_GIA,
    trade_id: str = "",
) -> CgtEvent:
    return CgtEvent(
        security,
        account,
        Side.BUY,
        day,
        D(quantity),
        D(cost),
        D(costs),
        trade_id or f"b-{day}-{quantity}",
        "h" + trade_id,
    )


def sell(
    day: date,
    quantity: str,
    proceeds: str,
    *,
    costs: str = "0",
    security: Security = ACME,
    account: AccountRef = IB_GIA,
    trade_id: str = "",
) -> CgtEvent:
    return CgtEvent(
        security,
        account,
        Side.SELL,
        day,
        D(quantity),
        D(proceeds),
        D(costs),
        trade_id or f"s-{day}-{quantity}",
        "h" + trade_id,
    )

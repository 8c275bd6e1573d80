"""Executions reported by a broker (never reconstructed from positions)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from portfolio_dashboard.domain.instruments import Instrument


@dataclass(frozen=True, slots=True)
class Trade:
    broker: str
    broker_trade_id: str
    broker_account_id: str
    instrument: Instrument
    trade_ts: datetime  # timezone-aware
    quantity: Decimal  # signed: positive buy, negative sell
    price_local: Decimal
    amount_local: Decimal  # signed cash amount in currency (negative when cash leaves the account)
    currency: str
    commission: Decimal | None = None
    realized_pnl: Decimal | None = None
    description: str | None = None
    taxes: Decimal | None = None  # the broker's stamp duty / SDRT / levies, in ``currency`` (an allowable cost)

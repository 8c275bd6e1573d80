"""Executions reported by a broker (never reconstructed from positions)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from portfolio_dashboard.domain.instruments import Instrument


class TradeStatus(StrEnum):
    """What one broker row says happened; a ledger sums every row, so a cancellation nets its original out."""

    EXECUTED = "executed"
    CANCELLED = "cancelled"  # the broker's reversing row (IB: its own row, opposite quantity, code "Ca")
    CORRECTED = "corrected"  # the broker's corrected restatement of an earlier execution


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
    status: str = TradeStatus.EXECUTED.value
    multiplier: Decimal = Decimal(1)  # price_local is per unit of the underlying; value = qty * price * multiplier
    taxes: Decimal | None = None  # the broker's stamp duty / SDRT / levies, in ``currency`` (an allowable cost)


@dataclass(frozen=True, slots=True)
class FxConversion:
    """A currency conversion (IB forex trade such as ``USD.CHF``, or an AutoFX row): cash moves, no instrument.

    ``from_amount`` leaves the account in ``from_currency`` (positive number), ``to_amount`` arrives in
    ``to_currency`` (positive number); ``rate`` is the broker's quoted price of the pair (IB ``USD.CHF`` 0.89
    = 0.89 CHF per USD), kept as given rather than recomputed.
    """

    broker: str
    broker_account_id: str
    broker_conversion_id: str
    ts: datetime  # timezone-aware
    from_currency: str
    from_amount: Decimal
    to_currency: str
    to_amount: Decimal
    rate: Decimal | None = None
    commission: Decimal | None = None
    commission_currency: str | None = None
    status: str = TradeStatus.EXECUTED.value
    description: str | None = None

"""Holdings inside one account snapshot."""

from dataclasses import dataclass
from decimal import Decimal

from portfolio_dashboard.domain.instruments import Instrument


@dataclass(frozen=True, slots=True)
class Position:
    instrument: Instrument
    quantity: Decimal  # negative for a short position
    price_local: Decimal  # in instrument.currency (major units)
    market_value_local: Decimal  # in instrument.currency, as the broker reported it
    cost_basis: Decimal | None = None  # total cost in instrument.currency
    unrealized_pnl: Decimal | None = None  # in instrument.currency


@dataclass(frozen=True, slots=True)
class CashBalance:
    currency: str
    amount: Decimal

"""Holdings inside one account snapshot."""

from dataclasses import dataclass
from decimal import Decimal

from portfolio_dashboard.domain.instruments import Instrument


@dataclass(frozen=True, slots=True)
class Position:
    instrument: Instrument
    quantity: Decimal  # negative for a short position
    price_local: Decimal  # in instrument.currency (major units), per unit of the underlying
    market_value_local: Decimal  # in instrument.currency, as the broker reported it
    cost_basis: Decimal | None = None  # total cost in instrument.currency
    unrealized_pnl: Decimal | None = None  # in instrument.currency

    @property
    def multiplier(self) -> Decimal:
        """Value = quantity x price_local x multiplier (the instrument's contract multiplier)."""
        return self.instrument.multiplier


@dataclass(frozen=True, slots=True)
class CashBalance:
    currency: str
    amount: Decimal

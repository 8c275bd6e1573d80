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


def add_lot(held: Position, lot: Position) -> Position:
    """Two lots of one instrument as one position (the first lot's price; unknown totals stay unknown)."""

    def plus(a: Decimal | None, b: Decimal | None) -> Decimal | None:
        return None if a is None or b is None else a + b

    return Position(
        instrument=held.instrument,
        quantity=held.quantity + lot.quantity,
        price_local=held.price_local,
        market_value_local=held.market_value_local + lot.market_value_local,
        cost_basis=plus(held.cost_basis, lot.cost_basis),
        unrealized_pnl=plus(held.unrealized_pnl, lot.unrealized_pnl),
    )

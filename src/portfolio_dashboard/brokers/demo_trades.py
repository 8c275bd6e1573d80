"""The demo's trade history (pure): the US brokerage account — a general investment account (GIA) for a UK
investor, so taxable — bought its holdings over the years and sold some, in ways that exercise HMRC's share
identification rules, so the Capital gains page and ``cgt`` show real figures out of the box:

- AAPL: two purchases into the Section 104 pool, then a sale on 15 January 2025 bought back 21 days later —
  a bed and breakfast: the sale is matched with the repurchase (30-day rule), not the pool;
- VOO: a sale and a purchase on the same day (same-day rule), the rest from the pool;
- MSFT, NVDA, BND: part disposals from the pool (NVDA after 30 October 2024, MSFT before it: the 2024-25
  rate change), BND at a loss.

Each trade's net quantity ends at the account's holding, so today's pools match the positions shown. (The
demo shows its holdings at today's quantities throughout its history: a simplification of the simulation.)
Prices come from the same random walk as the valuations, so a trade's price is the market price of its day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

US = "DEMO-US-01"
COMMISSION_USD = Decimal("1.00")

# The wrapper of each demo account (the demo states them as a broker would): only the ISA is sheltered.
WRAPPERS = {"DEMO-ISA-01": "ISA", "DEMO-US-01": "GIA", "DEMO-EU-01": "GIA"}


@dataclass(frozen=True, slots=True)
class DemoTrade:
    trade_id: str
    account_id: str
    symbol: str
    at: datetime
    quantity: Decimal  # signed: positive buy

    @property
    def day(self) -> date:
        return self.at.date()


def _trade(symbol: str, day: date, quantity: int, hour: int = 15) -> DemoTrade:
    side = "B" if quantity > 0 else "S"
    return DemoTrade(f"{US}:{day:%Y%m%d}:{symbol}:{side}", US, symbol, datetime.combine(day, time(hour, 30), UTC),
                     Decimal(quantity))


TRADES: tuple[DemoTrade, ...] = tuple(sorted((
    _trade("MSFT", date(2021, 6, 1), 25),
    _trade("AAPL", date(2022, 3, 15), 50),
    _trade("NVDA", date(2022, 10, 3), 200),
    _trade("MSFT", date(2023, 2, 10), 20),
    _trade("VOO", date(2023, 3, 1), 20),
    _trade("BND", date(2023, 11, 1), 100),
    _trade("MSFT", date(2024, 7, 22), -10),
    _trade("AAPL", date(2024, 8, 5), 30),
    _trade("NVDA", date(2024, 11, 12), -80),
    _trade("AAPL", date(2025, 1, 15), -40),
    _trade("AAPL", date(2025, 2, 5), 20),  # bought back 21 days after the sale: a bed and breakfast
    _trade("BND", date(2025, 4, 1), -20),
    _trade("VOO", date(2025, 6, 2), -10, hour=14),
    _trade("VOO", date(2025, 6, 2), 15, hour=19),  # same day as the sale
), key=lambda t: (t.at, t.trade_id)))


def trades_until(at: datetime) -> list[DemoTrade]:
    """Every demo trade at or before ``at`` (the demo's API lists the whole history: it is short)."""
    at = at.astimezone(UTC)
    return [t for t in TRADES if t.at <= at]

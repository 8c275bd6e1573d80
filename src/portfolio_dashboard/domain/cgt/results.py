"""What the matching produces: disposals with their matches, and the Section 104 pools over time."""

from __future__ import annotations

import decimal
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from portfolio_dashboard.domain.cgt.lineage import Lineage, ReviewItem
from portfolio_dashboard.domain.cgt.model import Security, Side

# Money is carried at this many significant digits and rounded to pence only in the report.
WORKING_PRECISION = 50


class Rule(StrEnum):
    SAME_DAY = "same-day"  # TCGA92/S105(1)(b)
    THIRTY_DAY = "30-day"  # TCGA92/S106A(5)
    S104 = "s104"  # TCGA92/S104


@dataclass(frozen=True, slots=True)
class TradeRef:
    """The broker's trade behind a disposal or a match, for drilling down to the raw statement."""

    broker: str
    account_id: str
    trade_id: str
    raw_payload_hash: str | None
    side: Side
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class Match:
    """Part of a disposal identified with acquisitions; ``acquired`` is None for the Section 104 pool."""

    rule: Rule
    quantity: Decimal  # in the units of the disposal's day
    cost_gbp: Decimal
    acquired: date | None
    trades: tuple[TradeRef, ...] = ()


@dataclass(frozen=True, slots=True)
class Disposal:
    """All disposals of one security on one day, a single disposal under TCGA92/S105(1)(a).

    ``proceeds_gbp`` is gross; ``disposal_costs_gbp`` the incidental costs of the sale. When part of the
    quantity could not be identified with any known acquisition (``complete`` False) the cost and the gain are
    None: a disposal is never computed against a zero cost.
    """

    security: Security
    lineage: str
    day: date
    quantity: Decimal
    proceeds_gbp: Decimal
    disposal_costs_gbp: Decimal
    matches: tuple[Match, ...]
    unmatched_quantity: Decimal
    trades: tuple[TradeRef, ...]
    note: str | None = None
    # Derived at construction (the report reads them many times): None when the disposal is incomplete.
    acquisition_cost_gbp: Decimal | None = field(init=False, default=None)
    allowable_costs_gbp: Decimal | None = field(init=False, default=None)  # plus costs of disposal (SA figure)
    gain_gbp: Decimal | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if not self.complete:
            return
        with decimal.localcontext() as context:
            context.prec = WORKING_PRECISION  # the sums keep the digits the matching carried
            cost = sum((match.cost_gbp for match in self.matches), Decimal(0))
            allowable = cost + self.disposal_costs_gbp
            object.__setattr__(self, "acquisition_cost_gbp", cost)
            object.__setattr__(self, "allowable_costs_gbp", allowable)
            object.__setattr__(self, "gain_gbp", self.proceeds_gbp - allowable)

    @property
    def complete(self) -> bool:
        return self.unmatched_quantity == 0


@dataclass(frozen=True, slots=True)
class PoolPoint:
    """The Section 104 holding at the close of ``day``: quantity in base units, cost, whether known."""

    day: date
    base_quantity: Fraction
    cost_gbp: Decimal
    known: bool


@dataclass(frozen=True, slots=True)
class Pool:
    """A Section 104 holding at a date, in that date's units."""

    security: Security
    lineage: str
    quantity: Decimal
    cost_gbp: Decimal
    known: bool


@dataclass(frozen=True, slots=True)
class Computation:
    """The matching of every taxable trade: disposals in date order, each lineage's pool history, review."""

    disposals: tuple[Disposal, ...]
    lineages: dict[str, Lineage]
    pool_history: dict[str, tuple[PoolPoint, ...]]
    review: tuple[ReviewItem, ...]
    excluded_sheltered: int  # trades in ISA / LISA / JISA / SIPP accounts, left out

    def pools_at(self, day: date) -> tuple[Pool, ...]:
        """Every non-empty pool at the close of ``day`` (quantities in that day's units), by symbol."""
        pools: list[Pool] = []
        for key, history in self.pool_history.items():
            days = [point.day for point in history]
            index = bisect_right(days, day)
            if index == 0:
                continue
            point = history[index - 1]
            if point.base_quantity == 0 and point.known:
                continue
            lineage = self.lineages[key]
            quantity = fraction_to_decimal(lineage.from_base(point.base_quantity, day))
            pools.append(Pool(lineage.name_on(day), key, quantity, point.cost_gbp, point.known))
        return tuple(sorted(pools, key=lambda pool: (pool.security.symbol, pool.lineage)))


def fraction_to_decimal(value: Fraction, places: int = 12) -> Decimal:
    """Exact when the fraction terminates in decimal; else rounded to ``places`` decimals (quantities only)."""
    denominator = value.denominator
    if denominator == 1:
        return Decimal(value.numerator)
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator == 1:
        # A terminating fraction: scale by a power of ten that makes it whole.
        scale = 0
        while (value * 10**scale).denominator != 1:
            scale += 1
        return Decimal((value * 10**scale).numerator).scaleb(-scale)
    return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(Decimal(1).scaleb(-places))

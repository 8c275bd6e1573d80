"""The inputs of the capital gains engine: trades valued in sterling, corporate actions, opening pools.

Everything here is already in GBP: the engine never chooses an exchange rate (see ``sterling`` for the helper
that values a foreign trade at the rate the caller picked).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

# Wrappers whose disposals are outside capital gains tax (ISA regulations; pension schemes under TCGA92/S271).
SHELTERED_WRAPPERS = frozenset({"ISA", "LISA", "JISA", "SIPP"})


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True, slots=True)
class Security:
    """One global instrument: the same shares held at IB and at Schwab share one ``instrument_id``."""

    instrument_id: str
    symbol: str
    isin: str | None = None


@dataclass(frozen=True, slots=True)
class AccountRef:
    """Which account a trade was made in; ``wrapper`` decides whether it is taxable."""

    broker: str
    account_id: str
    wrapper: str = "GIA"

    @property
    def taxable(self) -> bool:
        return self.wrapper.upper() not in SHELTERED_WRAPPERS


@dataclass(frozen=True, slots=True)
class CgtEvent:
    """An acquisition or a disposal of ``quantity`` (> 0) shares, valued in GBP at the trade's date.

    ``consideration_gbp`` is the gross price paid or received (quantity x price), ``costs_gbp`` the incidental
    costs the broker reported (commission, stamp duty / SDRT, exchange fees). For an acquisition the costs are
    part of the allowable cost (TCGA92/S38(1)(a),(c)); for a disposal they are allowable costs of disposal,
    which HS284 and the Self Assessment pages put with "allowable costs" while "disposal proceeds" stay gross.
    """

    security: Security
    account: AccountRef
    side: Side
    trade_date: date
    quantity: Decimal
    consideration_gbp: Decimal
    costs_gbp: Decimal = Decimal(0)
    trade_id: str = ""
    raw_payload_hash: str | None = None
    trade_ts: datetime | None = None

    def __post_init__(self) -> None:
        if self.quantity <= 0:
            raise ValueError(f"quantity must be positive (the side says buy or sell): {self.quantity}")
        if self.consideration_gbp < 0 or self.costs_gbp < 0:
            raise ValueError("consideration and costs are amounts, never negative")


@dataclass(frozen=True, slots=True)
class Split:
    """A split or consolidation: from ``effective`` each ``old`` shares are ``new`` shares, cost unchanged.

    Trades dated on ``effective`` are taken to be in the new units (the broker's ex-date convention).
    """

    instrument_id: str
    effective: date
    new: Decimal
    old: Decimal

    def __post_init__(self) -> None:
        if self.new <= 0 or self.old <= 0:
            raise ValueError("a split ratio is two positive numbers")


class ReorganisationKind(StrEnum):
    # Share-for-share exchange / renaming / ISIN change, no cash: the new holding stands in the shoes of the
    # old one (TCGA92/S127 applied by S135/S136), cost carried over.
    SHARE_FOR_SHARE = "share-for-share"
    # Anything else (cash and shares, demergers, spin-offs, rights issues, return of capital, ...): not
    # computed here; listed for the user's review.
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Reorganisation:
    """A corporate action on ``instrument_id`` at ``effective``.

    For ``SHARE_FOR_SHARE`` each old share becomes ``ratio`` shares of ``new_security``; other kinds are
    listed as needing review and the holding's later disposals are marked incomplete.
    """

    instrument_id: str
    effective: date
    kind: ReorganisationKind
    description: str
    new_security: Security | None = None
    ratio: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True)
class OpeningPool:
    """A Section 104 holding the user states at the close of ``as_of`` (trades before the records begin).

    Trades of the security dated on or before ``as_of`` are taken to be already reflected in it.
    """

    security: Security
    quantity: Decimal
    cost_gbp: Decimal
    as_of: date

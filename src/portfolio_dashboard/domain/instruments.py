"""Instruments as a broker identifies them, and our asset classes."""

from dataclasses import dataclass, fields, replace
from decimal import Decimal
from enum import StrEnum


class AssetClass(StrEnum):
    EQUITY = "equity"
    ETF = "etf"
    FUND = "fund"  # mutual funds, OEICs, unit trusts
    BOND = "bond"
    OPTION = "option"
    FUTURE = "future"
    WARRANT = "warrant"
    CRYPTO = "crypto"
    CASH = "cash"
    OTHER = "other"


CASH_ID_PREFIX = "CASH."


@dataclass(frozen=True, slots=True)
class Instrument:
    broker: str
    broker_instrument_id: str  # IB conid; Schwab CUSIP (else symbol); "CASH.<CCY>" for cash
    symbol: str
    name: str
    asset_class: AssetClass
    currency: str  # ISO code the instrument is priced in
    isin: str | None = None
    cusip: str | None = None
    figi: str | None = None
    exchange: str | None = None  # listing exchange, e.g. "LSE", "NASDAQ"
    broker_asset_class: str | None = None  # the broker's own label, e.g. IB "STK", Schwab "EQUITY"
    # Units of the underlying per contract (100 for a US equity option); prices are per unit of the underlying
    multiplier: Decimal = Decimal(1)

    @property
    def key(self) -> tuple[str, str]:
        """The natural key: ``(broker, broker_instrument_id)``."""
        return (self.broker, self.broker_instrument_id)


def cash_instrument(broker: str, currency: str) -> Instrument:
    """The cash instrument for one currency at one broker (one per currency per broker)."""
    return Instrument(
        broker=broker,
        broker_instrument_id=f"{CASH_ID_PREFIX}{currency}",
        symbol=currency,
        name=f"{currency} cash",
        asset_class=AssetClass.CASH,
        currency=currency,
        broker_asset_class="CASH",
    )


def filled(primary: Instrument, extra: Instrument) -> Instrument:
    """``primary`` with its missing identifiers (``None`` fields) filled in from ``extra``.

    A trade row often carries fewer identifiers than the holding of the same instrument; storing the trade
    must not blank out what the holding said.
    """
    missing = {f.name: getattr(extra, f.name) for f in fields(Instrument) if getattr(primary, f.name) is None}
    return replace(primary, **missing)

"""Valuing a foreign-currency trade in sterling at the rate the caller chose.

TCGA92/S252 and CG78310+: a foreign-currency acquisition or disposal is converted at the spot rate of the
day of that transaction, each leg at its own date. Which rate: the broker's own rate where it states one
(IB's ``fxRateToBase`` when the account's base currency is GBP), else the stored rate of that day, else ECB's
reference rate crossed through EUR. ``choose_rate`` encodes that order; the caller fetches the rates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from portfolio_dashboard.domain.cgt.model import AccountRef, CgtEvent, Security, Side
from portfolio_dashboard.domain.trades import Trade

LONDON = ZoneInfo("Europe/London")


class RateSource(StrEnum):
    BROKER = "broker"  # e.g. IB fxRateToBase on a GBP-based account
    STORED = "stored"  # the rate of the day already stored for valuations
    ECB = "ecb"  # ECB reference rate, crossed through EUR
    PARITY = "parity"  # the trade was in GBP


@dataclass(frozen=True, slots=True)
class GbpRate:
    """GBP per one unit of ``currency`` on ``as_of``."""

    currency: str
    gbp_per_unit: Decimal
    source: RateSource
    as_of: date

    def __post_init__(self) -> None:
        if self.gbp_per_unit <= 0:
            raise ValueError("a rate is positive")


def choose_rate(
    currency: str,
    on: date,
    *,
    broker_rate: Decimal | None = None,
    stored_rate: Decimal | None = None,
    ecb_rate: Decimal | None = None,
) -> GbpRate | None:
    """The first available of broker, stored, ECB (GBP per unit); GBP itself is 1. None when none is known."""
    if currency.upper() in {"GBP"}:
        return GbpRate("GBP", Decimal(1), RateSource.PARITY, on)
    for value, source in (
        (broker_rate, RateSource.BROKER),
        (stored_rate, RateSource.STORED),
        (ecb_rate, RateSource.ECB),
    ):
        if value is not None:
            return GbpRate(currency.upper(), value, source, on)
    return None


def event_in_gbp(
    *,
    security: Security,
    account: AccountRef,
    side: Side,
    trade_date: date,
    quantity: Decimal,
    price_local: Decimal,
    commission_local: Decimal,
    taxes_local: Decimal,
    rate: GbpRate,
    trade_id: str,
    raw_payload_hash: str | None = None,
) -> CgtEvent:
    """A ``CgtEvent`` from a trade in its own currency; signs of the inputs are ignored (brokers differ).

    ``taxes_local`` is stamp duty / SDRT / transaction levies as the broker reports them; both commission and
    taxes are incidental costs of the acquisition or disposal.
    """
    quantity = abs(quantity)
    gross = quantity * abs(price_local) * rate.gbp_per_unit
    costs = (abs(commission_local) + abs(taxes_local)) * rate.gbp_per_unit
    return CgtEvent(
        security=security,
        account=account,
        side=side,
        trade_date=trade_date,
        quantity=quantity,
        consideration_gbp=gross,
        costs_gbp=costs,
        trade_id=trade_id,
        raw_payload_hash=raw_payload_hash,
    )


def event_from_trade(
    trade: Trade,
    *,
    security: Security,
    wrapper: str,
    rate: GbpRate,
    taxes_local: Decimal = Decimal(0),
    raw_payload_hash: str | None = None,
    trade_date: date | None = None,
) -> CgtEvent:
    """A ``CgtEvent`` from a stored broker ``Trade`` (already in major units: GBp prices are in pounds).

    The day is the trade's date in London unless ``trade_date`` (e.g. the broker's own trade date) is given:
    the same-day and 30-day rules count UK days. ``wrapper`` is the account's (GIA, ISA, SIPP, ...).
    """
    if rate.currency != trade.currency.upper():
        raise ValueError(f"rate is for {rate.currency}, the trade is in {trade.currency}")
    return event_in_gbp(
        security=security,
        account=AccountRef(trade.broker, trade.broker_account_id, wrapper),
        side=Side.BUY if trade.quantity > 0 else Side.SELL,
        trade_date=trade_date or trade.trade_ts.astimezone(LONDON).date(),
        quantity=trade.quantity,
        price_local=trade.price_local,
        commission_local=trade.commission or Decimal(0),
        taxes_local=taxes_local,
        rate=rate,
        trade_id=trade.broker_trade_id,
        raw_payload_hash=raw_payload_hash,
    )

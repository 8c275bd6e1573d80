"""Flex ``Trade`` rows: instrument trades (with their status) and currency conversions (pure, no I/O).

**Ids.** A custom query may leave any id column out. A row's id is the first present of ``transactionID``
(unique per row, so a correction that reuses the original's tradeID still gets its own), ``ibExecID``,
``tradeID`` and ``ibOrderID`` — each but the first prefixed with its column so ids from different columns
never collide — else ``hash:`` + a hash of the row's content (with a warning). Re-parsing the same
statement gives the same ids.

**Status.** IBKR reports a cancellation as its own row (opposite quantity, code ``Ca``) and a correction
as a new row (code ``Co``) next to the reversed original, so storing every row with its status makes a
ledger net to what happened.

**Currency conversions.** Rows of asset category ``CASH`` (``USD.CHF``, AutoFX) move cash between currencies
and are returned as :class:`FxConversion`, never as a trade of an instrument.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal

from portfolio_dashboard.brokers.ib_flex_rows import BROKER, FlexRow, report_asof
from portfolio_dashboard.domain import FxConversion, Instrument, Trade, TradeStatus, normalise_currency
from portfolio_dashboard.domain.currency import UnknownCurrencyError
from portfolio_dashboard.domain.instruments import filled

ID_COLUMNS = ("transactionID", "ibExecID", "tradeID", "ibOrderID")
FX_CATEGORY = "CASH"

class UnusableRowError(Exception):
    """A row this parser cannot use; the message is the coverage reason."""


def content_hash(row: FlexRow) -> str:
    """A stable id from everything the row says (attribute order does not matter)."""
    text = "|".join(f"{k}={v}" for k, v in sorted(row.elem.attrib.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def row_id(row: FlexRow) -> tuple[str, bool]:
    """The row's id and whether it came from the content hash (no id column present)."""
    for i, column in enumerate(ID_COLUMNS):
        value = row.text(column)
        if value is not None:
            return (value if i == 0 else f"{column}:{value}"), False
    return f"hash:{content_hash(row)}", True


def row_status(row: FlexRow) -> TradeStatus:
    codes = row.codes()
    if "Ca" in codes:
        return TradeStatus.CANCELLED
    if "Co" in codes:
        return TradeStatus.CORRECTED
    return TradeStatus.EXECUTED


def is_fx(row: FlexRow) -> bool:
    return (row.text("assetCategory") or "").upper() == FX_CATEGORY


def instrument_of(row: FlexRow) -> tuple[Instrument, Decimal]:
    """The instrument and the divisor its money amounts need (100 for pence-quoted lines)."""
    conid = row.text("conid")
    if conid is None:
        raise UnusableRowError("no conid (add Conid to the Flex query's section)")
    currency, divisor = row.currency("currency")
    instrument = row.instrument(currency)
    assert instrument is not None  # it has a conid
    return instrument, divisor


def when_of(row: FlexRow) -> datetime:
    when = row.moment("dateTime")
    if when is not None:
        return when
    day = row.day("tradeDate")
    if day is None:
        raise UnusableRowError("neither dateTime nor tradeDate")
    at = row.clock("tradeTime")
    return datetime.combine(day, at, tzinfo=row.zone) if at is not None else report_asof(day)


def trade_of(row: FlexRow, account_id: str, trade_id: str) -> Trade:
    instrument, div = instrument_of(row)
    commission = row.dec("ibCommission")
    commission_ccy = row.text("ibCommissionCurrency")
    notes = [n for n in (row.text("buySell"), row.text("notes")) if n]
    if commission is not None and commission_ccy and commission_ccy != row.text("currency"):
        notes.append(f"commission {commission} {commission_ccy}")
        commission = None  # Trade.commission is in the trade's currency
    quantity = row.dec("quantity")
    price = row.dec("tradePrice")
    if quantity is None or price is None:
        raise UnusableRowError("no quantity or tradePrice")
    amount = row.dec("proceeds")
    if amount is None:
        amount = row.dec("netCash")
    if amount is None:  # proceeds are what the quantity cost at the price: negative for a purchase
        amount = -quantity * price * instrument.multiplier
    pnl = row.dec("fifoPnlRealized")
    taxes = row.dec("taxes")
    return Trade(
        broker=BROKER,
        broker_trade_id=trade_id,
        broker_account_id=account_id,
        instrument=instrument,
        trade_ts=when_of(row),
        quantity=quantity,  # signed by IBKR: negative for sales and for the cancellation of a purchase
        price_local=price / div,  # per unit of the underlying (IBKR's tradePrice); see multiplier
        amount_local=amount / div,  # proceeds: negative when cash leaves the account
        currency=instrument.currency,
        commission=None if commission is None else commission / div,
        realized_pnl=None if pnl is None else pnl / div,
        description=" ".join(notes) or None,
        status=row_status(row).value,
        multiplier=instrument.multiplier,
        taxes=None if taxes is None else taxes / div,  # stamp duty / SDRT / levies (IBKR signs it as a cost)
    )


def _ccy(code: str) -> str:
    try:
        currency, _ = normalise_currency(code)
    except UnknownCurrencyError:
        raise UnusableRowError(f"unknown currency {code!r}") from None
    return currency


def conversion_of(row: FlexRow, account_id: str, conversion_id: str) -> FxConversion:
    """A forex row ``BASE.QUOTE``: quantity in BASE (positive = BASE bought), proceeds in QUOTE."""
    pair = (row.text("symbol") or "").upper().split(".")
    quote_code = row.text("currency")
    if len(pair) != 2 and quote_code is None:
        raise UnusableRowError("currency conversion without a BASE.QUOTE symbol or a currency")
    base = _ccy(pair[0]) if len(pair) == 2 else None
    quote = _ccy(quote_code) if quote_code is not None else _ccy(pair[1])
    if base is None:
        raise UnusableRowError("currency conversion without a BASE.QUOTE symbol")
    quantity, price, proceeds = row.dec("quantity"), row.dec("tradePrice"), row.dec("proceeds")
    if quantity is None or (proceeds is None and price is None):
        raise UnusableRowError("currency conversion without quantity and proceeds or price")
    quote_amount = abs(proceeds) if proceeds is not None else abs(quantity * (price or Decimal(0)))
    if quantity >= 0:  # BASE bought with QUOTE
        (src, src_amount), (dst, dst_amount) = (quote, quote_amount), (base, quantity)
    else:
        (src, src_amount), (dst, dst_amount) = (base, -quantity), (quote, quote_amount)
    commission = row.dec("ibCommission")
    return FxConversion(
        broker=BROKER,
        broker_account_id=account_id,
        broker_conversion_id=conversion_id,
        ts=when_of(row),
        from_currency=src,
        from_amount=src_amount,
        to_currency=dst,
        to_amount=dst_amount,
        rate=price,
        commission=None if commission is None else abs(commission),
        commission_currency=row.text("ibCommissionCurrency") if commission is not None else None,
        status=row_status(row).value,
        description=row.text("description") or row.text("symbol"),
    )


__all__ = ["filled"]  # re-exported: ib_flex_statement fills trade instruments from held ones

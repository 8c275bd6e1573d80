"""Lenient typed reading of one Flex row for the money-flow sections (pure).

Unlike the holdings parser, a bad value here never fails the statement: the row is skipped and the reason
returned as a warning (:class:`SkippedRowError`), because one odd dividend row must not cost the day's positions.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date, datetime, time, tzinfo
from decimal import Decimal
from xml.etree.ElementTree import Element

from portfolio_dashboard.brokers.flex_values import (
    FlexValueError,
    SlashOrder,
    date_value,
    decimal_value,
    is_null,
    zoned_datetime_value,
)
from portfolio_dashboard.brokers.ib_flex_rows import IBKR_ZONE
from portfolio_dashboard.domain import AssetClass, Instrument, normalise_currency
from portfolio_dashboard.domain.currency import UnknownCurrencyError

BROKER = "ib"

# IBKR assetCategory -> our asset class (the subset that appears on money rows; others are OTHER).
ASSET_CLASSES = {
    "STK": AssetClass.EQUITY,
    "OPT": AssetClass.OPTION,
    "FOP": AssetClass.OPTION,
    "FUT": AssetClass.FUTURE,
    "WAR": AssetClass.WARRANT,
    "BOND": AssetClass.BOND,
    "BILL": AssetClass.BOND,
    "FUND": AssetClass.FUND,
    "CRYPTO": AssetClass.CRYPTO,
}
# Attributes whose values identify a row when IBKR gives it no transactionID (SUMMARY rows, old queries).
IDENTITY_ATTRS = (
    "type",
    "currency",
    "dateTime",
    "settleDate",
    "reportDate",
    "date",
    "amount",
    "conid",
    "symbol",
    "description",
    "direction",
    "quantity",
    "positionAmount",
    "cashTransfer",
    "actionID",
)


class SkippedRowError(Exception):
    """A row that is not a flow; the message says why (it becomes a parse warning)."""


class FlexRow:
    def __init__(self, elem: Element, account_id: str, order: SlashOrder | None, zone: tzinfo = IBKR_ZONE) -> None:
        self.elem = elem
        self.order = order
        self.zone = zone  # the statement's zone (IB_FLEX_TIMEZONE): for date-times that name none
        self.account_id = self.text("accountId") or account_id  # consolidated statements name each row's account

    def text(self, attr: str) -> str | None:
        value = self.elem.get(attr)
        return None if value is None or is_null(value) else value.strip()

    def dec(self, attr: str) -> Decimal | None:
        value = self.text(attr)
        if value is None:
            return None
        try:
            return decimal_value(value)
        except FlexValueError as exc:
            raise SkippedRowError(f"{attr}: {exc}") from None

    def req_dec(self, attr: str) -> Decimal:
        value = self.dec(attr)
        if value is None:
            raise SkippedRowError(f"{attr} missing")
        return value

    def day(self, attr: str) -> date | None:
        value = self.text(attr)
        if value is None:
            return None
        try:
            return date_value(value, self.order)
        except FlexValueError as exc:
            raise SkippedRowError(f"{attr}: {exc}") from None

    def moment(self, *attrs: str) -> datetime:
        """The first of ``attrs`` present, as an aware date-time: in the zone it names, else the statement's zone
        (a bare date is midnight there). The same reading as the holdings parser's (``flex_values``)."""
        for attr in attrs:
            value = self.text(attr)
            if value is None:
                continue
            try:
                return zoned_datetime_value(value, self.zone, self.order)
            except FlexValueError as exc:
                raise SkippedRowError(f"{attr}: {exc}") from None
        raise SkippedRowError(f"no date ({', '.join(attrs)} all missing)")

    def currency(self) -> tuple[str, Decimal]:
        """ISO currency and the divisor amounts need (100 for pence: IBKR reports LSE lines in GBp)."""
        code = self.text("currency")
        if code is None:
            raise SkippedRowError("currency missing")
        try:
            return normalise_currency(code)
        except UnknownCurrencyError:
            raise SkippedRowError(f"unknown currency {code!r}") from None

    def fx_to_base(self, divisor: Decimal) -> Decimal | None:
        fx = self.dec("fxRateToBase")
        # A rate for pence is per penny; the amount is converted to pounds, so the rate is per pound.
        return None if fx is None or fx <= 0 else fx * divisor

    def instrument(self, currency: str) -> Instrument | None:
        conid = self.text("conid")
        if conid is None:
            return None
        category = self.text("assetCategory")
        asset_class = ASSET_CLASSES.get((category or "").upper(), AssetClass.OTHER)
        if asset_class is AssetClass.EQUITY and (self.text("subCategory") or "").upper() == "ETF":
            asset_class = AssetClass.ETF
        symbol = self.text("symbol") or conid
        return Instrument(
            broker=BROKER,
            broker_instrument_id=conid,  # the id the holdings parser and the gateway use
            symbol=symbol,
            name=self.text("description") or symbol,
            asset_class=asset_class,
            currency=currency,
            isin=self.text("isin"),
            cusip=self.text("cusip"),
            figi=self.text("figi"),
            exchange=self.text("listingExchange"),
            broker_asset_class=category,
        )

    def level(self) -> str:
        return (self.text("levelOfDetail") or "DETAIL").upper()

    def codes(self) -> frozenset[str]:
        """IBKR's ``code`` list (``"Re;Po"``): Re reversal, Po accrual posting, ..."""
        raw = self.text("code") or ""
        return frozenset(c.strip() for c in raw.replace(",", ";").split(";") if c.strip())

    def describe(self, section: str) -> str:
        what = self.text("type") or self.text("description") or self.elem.tag
        when = self.text("dateTime") or self.text("reportDate") or self.text("date") or "?"
        return f"{self.account_id}: {section} row {what!r} of {when}"


class RowIds:
    """Stable ids for one statement's rows: IBKR's transactionID, else a digest of what the row says.

    Identical rows without an id (two equal fees on one day) are told apart by their order of appearance,
    which a re-issued statement of the same period repeats, so the ids stay stable across re-captures.
    """

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def of(self, row: FlexRow, section: str, *, prefer: str = "transactionID") -> str:
        given = row.text(prefer)
        if given is not None:
            return given
        parts = [section, row.account_id] + [f"{a}={row.text(a) or ''}" for a in IDENTITY_ATTRS]
        digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]
        self.seen[digest] += 1
        return f"{section}:{digest}:{self.seen[digest]}"


def at_midnight(day: date, zone: tzinfo = IBKR_ZONE) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)

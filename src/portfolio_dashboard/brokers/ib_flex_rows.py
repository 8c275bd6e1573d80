"""Typed access to one Flex element's attributes, the one set of row helpers of every Flex section (pure).

``FlexRow`` is the holdings and trades reading: a bad value fails the statement with an error naming the
element, attribute and endpoint. ``FlowRow`` is the money-flow sections' reading of the same helpers: a bad
value only skips the row, and the reason becomes a warning (:class:`SkippedRowError`), because one odd dividend
row must not cost the day's positions.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date, datetime, time, tzinfo
from decimal import Decimal
from xml.etree.ElementTree import Element
from zoneinfo import ZoneInfo

from portfolio_dashboard.brokers.flex_values import (
    FlexDateError,
    FlexValueError,
    SlashOrder,
    date_value,
    decimal_value,
    is_null,
    time_value,
    zoned_datetime_value,
)
from portfolio_dashboard.brokers.ib_flex_protocol import SOURCE
from portfolio_dashboard.domain import AssetClass, Instrument, normalise_currency
from portfolio_dashboard.domain.currency import UnknownCurrencyError
from portfolio_dashboard.errors import ParsingError, ValidationError

BROKER = "ib"
PROVIDER = "ib_flex"
# IBKR documents Flex times as US Eastern; a statement's zone can be overridden (setting IB_FLEX_TIMEZONE).
IBKR_ZONE = ZoneInfo("America/New_York")
STATEMENT_CUTOFF = time(20, 20)  # IBKR: "the statement cutoff time for securities is generally 8:20 PM" ET
DATE_HINT = "set the Flex query's Date Format to yyyyMMdd or yyyy-MM-dd in Client Portal"
TIME_HINT = (
    "set the Flex query's Time Format to HHmmss or HH:mm:ss (with or without a time zone) in Client Portal, "
    "or IB_FLEX_TIMEZONE to the statement's zone"
)


# IBKR assetCategory -> our asset class; the rest are OTHER.
ASSET_CLASSES = {
    "STK": AssetClass.EQUITY,
    "OPT": AssetClass.OPTION,
    "FOP": AssetClass.OPTION,
    "FSOPT": AssetClass.OPTION,
    "FSFOP": AssetClass.OPTION,
    "FUT": AssetClass.FUTURE,
    "WAR": AssetClass.WARRANT,
    "BOND": AssetClass.BOND,
    "BILL": AssetClass.BOND,
    "FUND": AssetClass.FUND,
    "CRYPTO": AssetClass.CRYPTO,
    # "CASH" is IBKR's label for forex (EUR.USD conversions), not a cash holding: cash comes from CashReport.
}


def report_asof(day: date) -> datetime:
    return datetime.combine(day, STATEMENT_CUTOFF, tzinfo=IBKR_ZONE)


def hint_for(exc: FlexValueError) -> str:
    """The Flex query setting that would make ``exc``'s value readable: the date or the time format."""
    return DATE_HINT if isinstance(exc, FlexDateError) else TIME_HINT


class FlexRow:
    """One element of a Flex statement; a value that cannot be read fails the statement."""

    # where a row's codes are: Trades say ``notes``, other sections ``code``
    CODE_ATTRS: tuple[str, ...] = ("notes", "code")

    def __init__(self, elem: Element, endpoint: str, order: SlashOrder | None, zone: tzinfo = IBKR_ZONE) -> None:
        self.elem = elem
        self.endpoint = endpoint
        self.order = order
        self.zone = zone  # the statement's zone (IB_FLEX_TIMEZONE): for date-times that name none

    def fail(self, attr: str, problem: str, *, hint: str | None = None, invalid: bool = False) -> Exception:
        """The error a value that cannot be read raises (``invalid``: read, but not a value we accept)."""
        kind = ValidationError if invalid else ParsingError
        return kind(f"{self.elem.tag}.{attr}: {problem}", source=SOURCE, endpoint=self.endpoint, hint=hint)

    def missing(self, attr: str) -> Exception:
        return self.fail(attr, "missing")

    def text(self, attr: str) -> str | None:
        value = self.elem.get(attr)
        return None if value is None or is_null(value) else value.strip()

    def req_text(self, attr: str) -> str:
        value = self.text(attr)
        if value is None:
            raise self.missing(attr)
        return value

    def dec(self, attr: str) -> Decimal | None:
        value = self.text(attr)
        if value is None:
            return None
        try:
            return decimal_value(value)
        except FlexValueError as exc:
            raise self.fail(attr, str(exc)) from None

    def req_dec(self, attr: str) -> Decimal:
        value = self.dec(attr)
        if value is None:
            raise self.missing(attr)
        return value

    def day(self, attr: str) -> date | None:
        value = self.text(attr)
        if value is None:
            return None
        try:
            return date_value(value, self.order)
        except FlexValueError as exc:
            raise self.fail(attr, str(exc), hint=DATE_HINT) from None

    def req_day(self, attr: str) -> date:
        value = self.day(attr)
        if value is None:
            raise self.missing(attr)
        return value

    def moment(self, attr: str) -> datetime | None:
        """A Flex date-time: in its own zone when it names one, else the statement's zone."""
        value = self.text(attr)
        if value is None:
            return None
        try:
            return zoned_datetime_value(value, self.zone, self.order)
        except FlexValueError as exc:
            raise self.fail(attr, str(exc), hint=hint_for(exc)) from None

    def clock(self, attr: str) -> time | None:
        value = self.text(attr)
        if value is None:
            return None
        try:
            return time_value(value)
        except FlexValueError as exc:
            raise self.fail(attr, str(exc), hint=TIME_HINT) from None

    def currency(self, attr: str = "currency") -> tuple[str, Decimal]:
        """ISO currency and the divisor amounts need (100 for pence: IBKR reports LSE lines in GBp)."""
        code = self.req_text(attr)
        try:
            return normalise_currency(code)
        except UnknownCurrencyError:
            raise self.fail(attr, f"unknown currency {code!r}", invalid=True) from None

    def codes(self) -> frozenset[str]:
        """The row's notes/codes (``"Ca;P"``) as whole tokens: ``Ca`` is one code, not ``C`` + ``a``."""
        notes = next((v for v in map(self.text, self.CODE_ATTRS) if v), "")
        return frozenset(token.strip() for token in notes.replace(",", ";").split(";") if token.strip())

    def instrument(self, currency: str) -> Instrument | None:
        """The row's instrument (None without a conid), in the currency its amounts are in."""
        conid = self.text("conid")
        if conid is None:
            return None
        category = self.text("assetCategory")
        asset_class = ASSET_CLASSES.get((category or "").upper(), AssetClass.OTHER)
        if asset_class is AssetClass.EQUITY and (self.text("subCategory") or "").upper() == "ETF":
            asset_class = AssetClass.ETF
        symbol = self.text("symbol") or conid
        multiplier = self.dec("multiplier")
        return Instrument(
            broker=BROKER,
            broker_instrument_id=conid,  # the id the holdings parser and the Client Portal gateway use
            symbol=symbol,
            name=self.text("description") or symbol,
            asset_class=asset_class,
            currency=currency,
            isin=self.text("isin"),
            cusip=self.text("cusip"),
            figi=self.text("figi"),
            exchange=self.text("listingExchange"),
            broker_asset_class=category,
            multiplier=multiplier if multiplier is not None and multiplier > 0 else Decimal(1),
        )


class SkippedRowError(Exception):
    """A row that is not a flow; the message says why (it becomes a parse warning)."""


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


class FlowRow(FlexRow):
    """A row of a money-flow section: the same readings, but a value that cannot be read skips the row."""

    CODE_ATTRS = ("code",)  # IBKR's ``code`` list (``"Re;Po"``): Re reversal, Po accrual posting, ...

    def __init__(self, elem: Element, account_id: str, order: SlashOrder | None, zone: tzinfo = IBKR_ZONE) -> None:
        super().__init__(elem, "", order, zone)
        self.account_id = self.text("accountId") or account_id  # consolidated statements name each row's account

    def fail(self, attr: str, problem: str, *, hint: str | None = None, invalid: bool = False) -> Exception:
        return SkippedRowError(f"{attr}: {problem}")

    def missing(self, attr: str) -> Exception:
        return SkippedRowError(f"{attr} missing")

    def first_moment(self, *attrs: str) -> datetime:
        """The first of ``attrs`` present, as an aware date-time (a bare date is midnight in the statement's
        zone)."""
        for attr in attrs:
            when = self.moment(attr)
            if when is not None:
                return when
        raise SkippedRowError(f"no date ({', '.join(attrs)} all missing)")

    def fx_to_base(self, divisor: Decimal) -> Decimal | None:
        fx = self.dec("fxRateToBase")
        # A rate for pence is per penny; the amount is converted to pounds, so the rate is per pound.
        return None if fx is None or fx <= 0 else fx * divisor

    def level(self) -> str:
        return (self.text("levelOfDetail") or "DETAIL").upper()

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

    def of(self, row: FlowRow, section: str, *, prefer: str = "transactionID") -> str:
        given = row.text(prefer)
        if given is not None:
            return given
        parts = [section, row.account_id] + [f"{a}={row.text(a) or ''}" for a in IDENTITY_ATTRS]
        digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:20]
        self.seen[digest] += 1
        return f"{section}:{digest}:{self.seen[digest]}"

"""Typed access to one Flex element's attributes; every error names the element, attribute and endpoint."""

from __future__ import annotations

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
from portfolio_dashboard.domain import normalise_currency
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


def report_asof(day: date) -> datetime:
    return datetime.combine(day, STATEMENT_CUTOFF, tzinfo=IBKR_ZONE)


def hint_for(exc: FlexValueError) -> str:
    """The Flex query setting that would make ``exc``'s value readable: the date or the time format."""
    return DATE_HINT if isinstance(exc, FlexDateError) else TIME_HINT


class FlexRow:
    """One element of a Flex statement."""

    def __init__(self, elem: Element, endpoint: str, order: SlashOrder | None, zone: tzinfo = IBKR_ZONE) -> None:
        self.elem = elem
        self.endpoint = endpoint
        self.order = order
        self.zone = zone

    def fail(self, attr: str, problem: str) -> ParsingError:
        return ParsingError(f"{self.elem.tag}.{attr}: {problem}", source=SOURCE, endpoint=self.endpoint)

    def text(self, attr: str) -> str | None:
        value = self.elem.get(attr)
        return None if value is None or is_null(value) else value.strip()

    def req_text(self, attr: str) -> str:
        value = self.text(attr)
        if value is None:
            raise self.fail(attr, "missing")
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
            raise self.fail(attr, "missing")
        return value

    def day(self, attr: str) -> date | None:
        value = self.text(attr)
        if value is None:
            return None
        try:
            return date_value(value, self.order)
        except FlexValueError as exc:
            raise ParsingError(
                f"{self.elem.tag}.{attr}: {exc}", source=SOURCE, endpoint=self.endpoint, hint=DATE_HINT
            ) from None

    def req_day(self, attr: str) -> date:
        value = self.day(attr)
        if value is None:
            raise self.fail(attr, "missing")
        return value

    def moment(self, attr: str) -> datetime | None:
        """A Flex date-time: in its own zone when it names one, else the statement's zone."""
        value = self.text(attr)
        if value is None:
            return None
        try:
            return zoned_datetime_value(value, self.zone, self.order)
        except FlexValueError as exc:
            raise ParsingError(
                f"{self.elem.tag}.{attr}: {exc}", source=SOURCE, endpoint=self.endpoint, hint=hint_for(exc)
            ) from None

    def clock(self, attr: str) -> time | None:
        value = self.text(attr)
        if value is None:
            return None
        try:
            return time_value(value)
        except FlexValueError as exc:
            raise ParsingError(
                f"{self.elem.tag}.{attr}: {exc}", source=SOURCE, endpoint=self.endpoint, hint=TIME_HINT
            ) from None

    def currency(self, attr: str) -> tuple[str, Decimal]:
        code = self.req_text(attr)
        try:
            return normalise_currency(code)
        except UnknownCurrencyError:
            raise ValidationError(
                f"{self.elem.tag}.{attr}: unknown currency {code!r}", source=SOURCE, endpoint=self.endpoint
            ) from None

    def codes(self) -> frozenset[str]:
        """The row's notes/codes (``"Ca;P"``) as whole tokens: ``Ca`` is one code, not ``C`` + ``a``."""
        notes = self.text("notes") or self.text("code") or ""
        return frozenset(token.strip() for token in notes.replace(",", ";").split(";") if token.strip())

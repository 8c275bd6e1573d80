"""Manual FX rates for offline use: ``USD/GBP=0.7912`` typed on a command line becomes an ``FxRate``.

Accepted forms (case-insensitive codes; ``@`` and an ISO date or date-time give the as-of, default now)::

    USD/GBP=0.7912      USDGBP=0.7912      USD/GBP 0.7912      USD/GBP=0.7912@2024-05-17
    USD/GBP=0.7912@2024-05-17T16:00+01:00

A date alone means that day 00:00 UTC; a date-time without a zone is read as UTC.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from portfolio_dashboard.domain import FxRate
from portfolio_dashboard.domain.currency import is_iso_currency

PROVIDER = "manual"
_SPEC = re.compile(
    r"^\s*(?P<src>[A-Za-z]{3})\s*/?\s*(?P<tgt>[A-Za-z]{3})\s*(?:=|\s)\s*(?P<rate>[0-9][0-9_,]*(?:\.[0-9]+)?)"
    r"\s*(?:@\s*(?P<asof>\S+))?\s*$"
)


class ManualRateError(ValueError):
    """A manual rate the user typed that cannot be used; the message says what is wrong."""


def parse_manual_rate(spec: str, now: datetime | None = None) -> FxRate:
    m = _SPEC.match(spec)
    if m is None:
        raise ManualRateError(f"cannot read {spec!r}: write it like USD/GBP=0.7912 or USD/GBP=0.7912@2024-05-17")
    src, tgt = m.group("src").upper(), m.group("tgt").upper()
    for code in (src, tgt):
        if not is_iso_currency(code):
            raise ManualRateError(f"{code!r} in {spec!r} is not an ISO 4217 currency code")
    if src == tgt:
        raise ManualRateError(f"{spec!r} converts {src} to itself")
    try:
        rate = Decimal(m.group("rate").replace("_", "").replace(",", ""))
    except InvalidOperation:
        raise ManualRateError(f"the rate in {spec!r} is not a number") from None
    if rate <= 0:
        raise ManualRateError(f"the rate in {spec!r} must be positive")
    return FxRate(src, tgt, rate, _asof(m.group("asof"), spec, now), PROVIDER)


def manual_rates(specs: Iterable[str], now: datetime | None = None) -> list[FxRate]:
    """Every spec as a rate; the first bad one raises :class:`ManualRateError`."""
    return [parse_manual_rate(s, now) for s in specs]


def _asof(text: str | None, spec: str, now: datetime | None) -> datetime:
    if text is None:
        return now if now is not None and now.tzinfo is not None else datetime.now(UTC)
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ManualRateError(f"the as-of in {spec!r} is not an ISO date or date-time") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


_KEY = re.compile(r"^\s*(?P<src>[A-Za-z]{3})\s*/?\s*(?P<tgt>[A-Za-z]{3})\s*@\s*(?P<asof>\S+)\s*$")


def parse_rate_key(spec: str) -> tuple[str, str, date]:
    """``USD/GBP@2026-11-20`` (what ``fx delete`` takes): the pair and the day of the manual rate."""
    m = _KEY.match(spec)
    if m is None:
        raise ManualRateError(f"cannot read {spec!r}: write it like USD/GBP@2026-11-20")
    src, tgt = m.group("src").upper(), m.group("tgt").upper()
    for code in (src, tgt):
        if not is_iso_currency(code):
            raise ManualRateError(f"{code!r} in {spec!r} is not an ISO 4217 currency code")
    try:
        day = date.fromisoformat(m.group("asof")[:10])
    except ValueError:
        raise ManualRateError(f"the date in {spec!r} is not an ISO date (YYYY-MM-DD)") from None
    return src, tgt, day

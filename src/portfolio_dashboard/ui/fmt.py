"""Presentation for the dashboard: the shared formatters (money, percent, age, account label — the CLI's too)
plus what only a page shows: times in the chosen zone, run durations, sizes, pretty payloads.

The dashboard's one number style: every amount on screen goes through ``money`` (``−£5,773.87``: the minus
before the symbol, 2 dp), percentages through ``pct`` (2 dp), quantities through ``quantity`` (as many places
as the value has), prices through ``price`` (with their currency). Tables use the same functions through
``ui.tables.styled`` (an empty cell where a value does not apply); CSV files use ``csv_*`` (exact decimals).
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from defusedxml import minidom

from portfolio_dashboard.formatting import (
    BROKER_LABELS,
    BROKER_SHORT,
    DASH,
    MINUS,
    SYMBOLS,
    account_label,
    ago,
    broker_label,
    mask_account,
    money,
    pct,
    span,
    symbol,
)

WRAPPER_LABELS = {"US_TAXABLE": "US taxable", "OTHER": "Other"}


def quantity(value: Decimal | float | None) -> str:
    """``1,500``, ``0.125``, ``−3``: as many decimal places as the quantity has (no trailing zeros)."""
    if value is None:
        return DASH
    number = (Decimal(str(value)) if isinstance(value, float) else value).normalize()
    text = f"{abs(number):,f}"
    return f"{MINUS}{text}" if number < 0 else text


def price(value: Decimal | float | None, currency: str | None) -> str:
    """A price with its currency: 2 decimal places, up to 4 when the price has them (``$0.1234``)."""
    if value is None:
        return DASH
    number = Decimal(str(value)) if isinstance(value, float) else value
    places = min(4, max(2, -(number.normalize().as_tuple().exponent)))  # type: ignore[operator]
    return money(number, currency or "", decimals=places)


def rate(value: Decimal | float | None) -> str:
    """An exchange rate: 4 significant decimals is what a reader compares (1.2731)."""
    if value is None:
        return DASH
    return f"{Decimal(str(value)) if isinstance(value, float) else value:.4f}"


def wrapper_label(wrapper: str | None) -> str:
    if not wrapper:
        return ""
    return WRAPPER_LABELS.get(wrapper, wrapper)


def csv_amount(value: Decimal | None) -> str:
    """An exact decimal for a CSV file (no rounding, no thousands separator); empty when not applicable."""
    return "" if value is None else format(value, "f")


def csv_pct(fraction: Decimal | None, places: int = 4) -> str:
    """A fraction as a percentage for a CSV file, ``12.3456`` (the header says %): enough places to
    recompute from, not the 28 digits a division leaves."""
    if fraction is None:
        return ""
    return format(round(fraction * 100, places).normalize(), "f")



__all__ = [
    "BROKER_LABELS", "BROKER_SHORT", "DASH", "MINUS", "SYMBOLS", "account_label", "ago", "broker_label",
    "duration", "mask_account", "money", "pct", "pretty_body", "size", "span", "symbol", "when",
]

def when(ts: datetime | None, tz: ZoneInfo, *, seconds: bool = False) -> str:
    if ts is None:
        return DASH
    return ts.astimezone(tz).strftime("%d %b %Y %H:%M:%S" if seconds else "%d %b %Y %H:%M")


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "running"
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:,.1f} KB" if n < 1024 * 1024 else f"{n / 1048576:,.1f} MB"


def pretty_body(text: str | None, json_body: Any, content_type: str | None) -> tuple[str, str]:
    """``(language, text)`` for a code viewer: indented JSON, indented XML, or the body as stored."""
    if json_body is not None:
        return "json", json.dumps(json_body, indent=2, ensure_ascii=False)
    body = text or ""
    looks_xml = "xml" in (content_type or "") or body.lstrip().startswith("<?xml")
    if looks_xml:
        try:
            pretty = minidom.parseString(body).toprettyxml(indent="  ")
        except Exception:
            return "xml", body
        return "xml", "\n".join(line for line in pretty.splitlines() if line.strip())
    return ("html" if "html" in (content_type or "") else "text"), body

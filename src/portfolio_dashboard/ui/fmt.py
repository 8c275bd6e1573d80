"""Presentation for the dashboard: the shared formatters (money, percent, age, account label — the CLI's too)
plus what only a page shows: times in the chosen zone, run durations, sizes, pretty payloads.

Every amount on screen goes through ``money`` so the dashboard formats alike everywhere (£1,234.56).
"""

from __future__ import annotations

import json
from datetime import datetime
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

"""The one set of formatters users see, shared by the CLI, the alerts and the dashboard: money, percentages,
ages and spans of time, account labels. Pure; imports nothing but the standard library.

One style each, so the same fact reads the same everywhere: ``−£5,773.87`` (a real minus sign before the
symbol), ``+1.25%``, ``26h 0m`` / ``3d 2h`` / ``12m``, ``26h 0m ago``, ``IB ••••4321 · Main``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€"}
BROKER_LABELS = {"ib": "Interactive Brokers", "schwab": "Charles Schwab", "demo": "Demo"}
BROKER_SHORT = {"ib": "IB", "schwab": "Schwab", "demo": "Demo"}
MINUS = "\u2212"  # a real minus sign lines up with the plus sign in tabular figures
DASH = "—"


def symbol(currency: str) -> str:
    return SYMBOLS.get(currency, f"{currency} ")


def money(value: Decimal | float | None, currency: str = "GBP", *, signed: bool = False, decimals: int = 2,
          minus: str = MINUS) -> str:
    """``£1,234.56``, ``−£12.00``; with ``signed`` a ``+`` for gains; ``—`` when there is no value.

    ``minus="-"`` for ``st.metric`` deltas, which read the colour from a leading ASCII hyphen.
    """
    if value is None:
        return DASH
    number = round(Decimal(str(value)) if isinstance(value, float) else value, decimals)  # sign after rounding
    sign = minus if number < 0 else ("+" if signed and number > 0 else "")
    return f"{sign}{symbol(currency)}{abs(number):,.{decimals}f}"


def pct(fraction: Decimal | float | None, *, signed: bool = True, decimals: int = 2, minus: str = MINUS) -> str:
    """``+1.25%`` from the fraction ``0.0125``; ``—`` when there is none."""
    if fraction is None:
        return DASH
    number = round(Decimal(str(fraction)) * 100, decimals)
    sign = minus if number < 0 else ("+" if signed and number > 0 else "")
    return f"{sign}{abs(number):,.{decimals}f}%"


def span(length: timedelta | float) -> str:
    """``5d 3h``, ``3h 12m``, ``12m`` — a length of time (seconds or a timedelta), to the minute."""
    seconds = length.total_seconds() if isinstance(length, timedelta) else length
    minutes = int(max(0.0, seconds) // 60)
    days, rem = divmod(minutes, 1440)
    hours, mins = divmod(rem, 60)
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {mins}m"
    return f"{mins}m"


def ago(ts: datetime, now: datetime) -> str:
    """``just now`` under a minute, else ``<span> ago``."""
    seconds = (now - ts).total_seconds()
    return "just now" if seconds < 60 else f"{span(seconds)} ago"


def mask_account(account_id: str) -> str:
    """``U1234321`` -> ``••••4321``: enough to tell accounts apart, not enough to identify one."""
    tail = account_id[-4:] if len(account_id) > 4 else account_id[-2:]
    return f"••••{tail}"


def account_label(broker: str, account_id: str, name: str | None = None) -> str:
    # Demo ids are simulated, not secret, and "DEMO-ISA-01" masked to "••••A-01" reads as a broken label.
    shown = account_id.removeprefix("DEMO-") if broker == "demo" else mask_account(account_id)
    label = f"{BROKER_SHORT.get(broker, broker)} {shown}"
    return f"{label} · {name}" if name else label


def broker_label(broker: str) -> str:
    return BROKER_LABELS.get(broker, broker)

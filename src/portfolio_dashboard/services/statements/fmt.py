"""How figures are printed on a statement: exact decimals, thousands separators, a true minus sign."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

MINUS = "\u2212"  # a typographic minus: a hyphen is easy to miss next to a currency symbol
SYMBOLS = {"GBP": "£", "USD": "$", "EUR": "€"}
CENT = Decimal("0.01")


def money(amount: Decimal, currency: str = "GBP") -> str:
    """``Decimal("-5773.866")`` -> ``"−£5,773.87"``; a currency without a symbol prints its code after."""
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    digits = f"{abs(rounded):,.2f}"
    sign = MINUS if rounded < 0 else ""
    symbol = SYMBOLS.get(currency)
    if symbol is None:
        return f"{sign}{digits} {currency}"
    return f"{sign}{symbol}{digits}"


def number(value: Decimal) -> str:
    """An exact decimal with thousands separators and no exponent: ``Decimal("1E+3")`` -> ``"1,000"``."""
    text = f"{abs(value):,f}"
    return f"{MINUS}{text}" if value < 0 else text


def plain(value: Decimal) -> str:
    """An exact decimal as a machine reads it (no grouping, no exponent): for CSV cells."""
    return format(value, "f")


def percent(fraction: Decimal) -> str:
    """``Decimal("0.05234")`` -> ``"5.23 %"``."""
    shown = (fraction * 100).quantize(CENT, rounding=ROUND_HALF_UP)
    return f"{MINUS if shown < 0 else ''}{abs(shown):.2f} %"


def short_hash(sha256: str) -> str:
    return sha256[:12]

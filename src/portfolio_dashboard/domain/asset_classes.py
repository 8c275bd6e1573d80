"""The user's asset classes ("Equity ETF", "Money Market Fund", ...) and the default read from broker metadata.

The broker's categories are too coarse for how a person reads a portfolio: IB files an S&P 500 fund, a gold
ETC and a gilt fund all under ``STK``/``ETF``; Schwab under ``COLLECTIVE_INVESTMENT``/``EXCHANGE_TRADED_FUND``.
The default splits them by what the broker and the instrument's name state, and the user can override it.
"""

from __future__ import annotations

from dataclasses import dataclass

CLASSES = ("Equity", "Equity ETF", "Bond ETF", "Commodity ETF", "Mixed ETF", "Fund", "Money Market Fund", "Bond",
           "Option", "Future", "Warrant", "Crypto", "Cash", "Other")

_COMMODITY = ("GOLD", "SILVER", "PLATINUM", "PALLADIUM", "COMMODIT", "OIL", "PRECIOUS", "METAL", " ETC")
_BOND = ("BOND", "GILT", "TREASUR", "T-BILL", "TBILL", "FIXED INCOME", "AGGREGATE", "CORPORATE", "CREDIT")
_MONEY_MARKET = ("MONEY MARKET", "MONEY FUND", "LIQUIDITY FUND", "STERLING LIQUIDITY", "ULTRA SHORT")
_MIXED = ("LIFESTRATEGY", "MULTI-ASSET", "MULTI ASSET", "BALANCED", "ALLOCATION")


@dataclass(frozen=True, slots=True)
class ClassFacts:
    """What is known about a global instrument: our class, the brokers' own labels, its name."""

    asset_class: str | None  # domain AssetClass value ("equity", "etf", "fund", ...)
    broker_labels: tuple[str, ...] = ()  # IB assetCategory/subCategory, Schwab assetType/type ...
    name: str | None = None


def _has(text: str, words: tuple[str, ...]) -> bool:
    return any(w in text for w in words)


def default_class(facts: ClassFacts) -> tuple[str, str | None]:
    """``(class, sub-class)`` for an instrument nobody has classified; the sub-class is None when unknown."""
    labels = {x.strip().upper().replace(" ", "_") for x in facts.broker_labels if x and x.strip()}
    name = f" {(facts.name or '').upper()} "
    kind = (facts.asset_class or "").lower()
    if kind == "cash" or ("CASH" in labels and not kind):
        return "Cash", None
    if labels & {"MONEY_MARKET_FUND", "MONEY_MARKET", "CASH_EQUIVALENT", "SWEEP_VEHICLE"} or _has(name, _MONEY_MARKET):
        return "Money Market Fund", None
    if kind == "option" or labels & {"OPT", "OPTION", "FOP"}:
        return "Option", None
    if kind == "future" or labels & {"FUT", "FUTURE"}:
        return "Future", None
    if kind == "warrant" or labels & {"WAR", "WARRANT"}:
        return "Warrant", None
    if kind == "crypto" or labels & {"CRYPTO"}:
        return "Crypto", None
    if kind == "bond" or labels & {"BOND", "FIXED_INCOME", "BILL"}:
        return "Bond", ("Government" if _has(name, ("GILT", "TREASUR", "T-BILL")) else None)
    if kind == "etf" or labels & {"ETF", "EXCHANGE_TRADED_FUND", "ETC", "ETN"}:
        if _has(name, _COMMODITY) or labels & {"ETC"}:
            return "Commodity ETF", ("Gold" if "GOLD" in name else None)
        if _has(name, _BOND):
            return "Bond ETF", None
        if _has(name, _MIXED):
            return "Mixed ETF", None
        return "Equity ETF", None
    if kind == "fund" or labels & {"MUTUAL_FUND", "FUND", "MF", "COLLECTIVE_INVESTMENT"}:
        if _has(name, _BOND):
            return "Fund", "Bond"
        return "Fund", None
    if kind == "equity" or labels & {"STK", "EQUITY", "COMMON", "STOCK"}:
        return "Equity", None
    return "Other", None


def clean_class(value: str | None) -> str | None:
    """A class name as stored: trimmed, None when empty (a blank field clears it)."""
    if value is None:
        return None
    text = " ".join(value.split())
    return text or None

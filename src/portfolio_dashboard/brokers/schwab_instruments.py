"""Schwab instrument identity: one id per security in holdings and transactions alike.

**Id.** Transactions often carry no CUSIP, and an option's ``cusip`` is Schwab's internal code (such as
``0ERIC.AH50015000``), not a CUSIP. Both positions and transactions carry the ``symbol`` (an option's is its
OCC symbol), so ``broker_instrument_id`` is the symbol, whitespace-normalised — the same in every capture,
held or not. Only an instrument without a symbol falls back to its CUSIP (``cusip:<CUSIP>``).

**CUSIP.** Stored only when it is a valid 9-character CUSIP (check digit) of a security asset type.

**Multiplier.** Options quote per share; quantity counts contracts, each on ``multiplier`` shares (Schwab's
instrument field when present, else the US standard 100).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from portfolio_dashboard.brokers.schwab_values import Where, dec_of, obj, str_of
from portfolio_dashboard.domain import AssetClass, Instrument

BROKER = "schwab"
CURRENCY = "USD"
# Asset types whose 9-character CUSIP identifies an issue (an option's "cusip" is an internal code).
SECURITY_ASSET_TYPES = frozenset({"EQUITY", "COLLECTIVE_INVESTMENT", "MUTUAL_FUND", "FIXED_INCOME", "CASH_EQUIVALENT"})
OPTION_MULTIPLIER = Decimal(100)


# --- identifiers --------------------------------------------------------------------------------------------
def _char_value(ch: str) -> int:
    if ch.isdigit():
        return int(ch)
    return {"*": 36, "@": 37, "#": 38}.get(ch, ord(ch) - ord("A") + 10)


def cusip_is_valid(cusip: str) -> bool:
    """A 9-character CUSIP whose check digit (the 9th) matches the first eight."""
    if len(cusip) != 9 or not cusip.isascii() or not cusip[8].isdigit():
        return False
    if not all(c.isdigit() or "A" <= c <= "Z" or c in "*@#" for c in cusip[:8]):
        return False
    total = 0
    for i, ch in enumerate(cusip[:8]):
        value = _char_value(ch) * (2 if i % 2 else 1)
        total += value // 10 + value % 10
    return (10 - total % 10) % 10 == int(cusip[8])


def isin_from_us_cusip(cusip: str) -> str | None:
    """``US`` + CUSIP + ISIN check digit, for a valid CUSIP of a North American issuer.

    CINS codes (first character a letter) belong to issuers outside the US and get no ISIN here. Schwab does
    not say the country of issue, so a Canadian issuer's CUSIP would also get a ``US`` prefix; the unification
    step treats this ISIN as derived.
    """
    cusip = cusip.strip().upper()
    if not cusip_is_valid(cusip) or not cusip[0].isdigit():
        return None
    body = "US" + cusip
    digits = "".join(str(_char_value(c)) for c in body)
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return body + str((10 - total % 10) % 10)


def asset_class_of(asset_type: str, sub_type: str | None) -> AssetClass:
    if asset_type == "EQUITY":
        return AssetClass.WARRANT if sub_type in ("WARRANT", "RIGHT") else AssetClass.EQUITY
    if asset_type == "COLLECTIVE_INVESTMENT":
        return AssetClass.ETF if sub_type == "EXCHANGE_TRADED_FUND" else AssetClass.FUND
    return {
        "MUTUAL_FUND": AssetClass.FUND,
        "CASH_EQUIVALENT": AssetClass.FUND,  # money-market / sweep funds: holdings, not the cash balance
        "FIXED_INCOME": AssetClass.BOND,
        "OPTION": AssetClass.OPTION,
        "FUTURE": AssetClass.FUTURE,
    }.get(asset_type, AssetClass.OTHER)


def instrument(data: Mapping[str, Any], where: Where) -> Instrument:
    """The instrument a position or transaction item names (see the module doc for the id rules)."""
    asset_type = (str_of(data, "assetType", where, required=True) or "").upper()
    symbol = str_of(data, "symbol", where)
    symbol = " ".join(symbol.split()) if symbol else None
    raw_cusip = str_of(data, "cusip", where)
    cusip = raw_cusip.upper() if raw_cusip and asset_type in SECURITY_ASSET_TYPES else None
    if cusip is not None and not cusip_is_valid(cusip):
        cusip = None  # not a CUSIP (Schwab writes internal codes there for some products)
    if symbol is None and raw_cusip is None:
        raise where.fail("instrument has neither symbol nor cusip")
    isin = isin_from_us_cusip(cusip) if cusip else None
    asset_class = asset_class_of(asset_type, str_of(data, "type", where))
    multiplier = Decimal(1)
    if asset_class is AssetClass.OPTION:
        given = dec_of(data, "multiplier", where) or dec_of(data, "optionMultiplier", where)
        multiplier = given if given is not None and given > 0 else OPTION_MULTIPLIER
    return Instrument(
        broker=BROKER,
        broker_instrument_id=symbol if symbol is not None else f"cusip:{raw_cusip}",
        symbol=symbol or raw_cusip or "",
        name=str_of(data, "description", where) or symbol or raw_cusip or "",
        asset_class=asset_class,
        currency=CURRENCY,
        isin=isin,
        cusip=cusip,
        broker_asset_class=asset_type,
        multiplier=multiplier,
    )


def instrument_of(parent: Mapping[str, Any], where: Where) -> Instrument:
    inst_where = where.at("instrument")
    return instrument(obj(parent.get("instrument"), inst_where), inst_where)

"""One IBKR Client Portal position row -> our ``Position`` (pure).

Units, from IBKR's documented examples for ``/portfolio/{accountId}/positions/{pageId}``:

* ``mktValue`` = ``position`` x ``mktPrice`` x multiplier, in the row's ``currency`` (an SPY option: position
  1, mktPrice 95.707, multiplier 100, mktValue 9570.71). ``mktValue`` is what IBKR sums into net liquidation,
  so it is stored as the broker reported it.
* ``avgCost`` is per unit *including* the multiplier (the same option: avgCost 5801.04, avgPrice 58.01), so the
  total cost basis is ``avgCost`` x ``position``.
* LSE lines: IBKR quotes LSE market data in pence but reports portfolio rows in pounds with currency ``GBP``
  (bankroll-py issue #31: "position data and trade confirmations are quoted in GBP"). We trust ``currency``:
  ``GBP`` is pounds, and a minor-unit code (``GBX``/``GBp``) is divided by 100 via ``normalise_currency``.
  As a guard, a ``GBP`` row whose ``mktPrice`` is 100x what ``mktValue`` implies is taken as a pence price,
  divided by 100 and reported in a warning (the value, which reconciles with net liquidation, wins).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from typing import Any

from portfolio_dashboard.brokers.ib_gateway_payloads import BROKER, SOURCE, blank, conid_of, text, to_decimal
from portfolio_dashboard.domain import AssetClass, Instrument, Position
from portfolio_dashboard.domain.currency import UnknownCurrencyError, normalise_currency
from portfolio_dashboard.errors import ParsingError, ValidationError

# IBKR security types (``assetClass``/``secType``) -> ours. STK covers ETFs too; ``type`` tells them apart.
IB_ASSET_CLASSES: dict[str, AssetClass] = {
    "STK": AssetClass.EQUITY,
    "ETF": AssetClass.ETF,
    "OPT": AssetClass.OPTION,
    "FOP": AssetClass.OPTION,
    "FUT": AssetClass.FUTURE,
    "BOND": AssetClass.BOND,
    "BILL": AssetClass.BOND,
    "FIXED": AssetClass.BOND,
    "FUND": AssetClass.FUND,
    "MF": AssetClass.FUND,
    "WAR": AssetClass.WARRANT,
    "IOPT": AssetClass.WARRANT,
    "CRYPTO": AssetClass.CRYPTO,
    "CASH": AssetClass.CASH,
    "CFD": AssetClass.OTHER,
    "CMDTY": AssetClass.OTHER,
    "IND": AssetClass.OTHER,
}
_DERIVATIVES = frozenset({AssetClass.OPTION, AssetClass.FUTURE, AssetClass.WARRANT})
# Where mktValue = position x mktPrice; bonds are priced per 100 of face value, so the pence guard skips them.
_PRICED_PER_UNIT = frozenset({AssetClass.EQUITY, AssetClass.ETF, AssetClass.FUND})


def map_asset_class(ib_class: str | None, ib_type: str | None) -> AssetClass:
    if ib_class is None:
        return AssetClass.OTHER
    asset = IB_ASSET_CLASSES.get(ib_class.upper(), AssetClass.OTHER)
    if asset is AssetClass.EQUITY and ib_type is not None and ib_type.upper() == "ETF":
        return AssetClass.ETF
    return asset


def _close(a: Decimal, b: Decimal) -> bool:
    return abs(a - b) <= max(Decimal("0.02"), abs(b) * Decimal("0.005"))


class PositionReader:
    """Builds positions for one account, enriching missing descriptive fields from ``/trsrv/secdef``."""

    def __init__(self, account: str, secdef: Mapping[str, Mapping[str, Any]], warnings: list[str]) -> None:
        self.account = account
        self.secdef = secdef
        self.warnings = warnings

    def _pick(self, row: Mapping[str, Any], sd: Mapping[str, Any], key: str, endpoint: str) -> str | None:
        value = text(row.get(key), key, endpoint)
        if value is None and not blank(sd.get(key)):
            value = text(sd.get(key), f"secdef.{key}", endpoint)
        return value

    def position(self, row: Mapping[str, Any], endpoint: str) -> Position | None:
        """The row as a Position; None for a closed (zero) row or an FX cash row the ledger already holds."""
        conid = conid_of(row, endpoint)
        where = f"{endpoint} conid {conid}"
        quantity = to_decimal(row.get("position"), "position", where, required=True)
        assert quantity is not None
        if quantity == 0:
            return None
        sd = self.secdef.get(conid, {})
        ib_class = self._pick(row, sd, "assetClass", where)
        asset = map_asset_class(ib_class, self._pick(row, sd, "type", where))
        if ib_class is None:
            self.warnings.append(f"{self.account}: conid {conid} has no asset class; stored as 'other'")
        if asset is AssetClass.CASH:
            # FX balances are in the ledger's cash; storing this row too would count them twice.
            self.warnings.append(f"{self.account}: skipped FX cash row conid {conid} (cash comes from the ledger)")
            return None
        currency_code = self._pick(row, sd, "currency", where)
        if currency_code is None:
            raise ParsingError("required field 'currency' is missing (also from secdef)", source=SOURCE, endpoint=where)
        try:
            currency, divisor = normalise_currency(currency_code)
        except UnknownCurrencyError:
            raise ValidationError(f"unknown currency {currency_code!r}", source=SOURCE, endpoint=where) from None
        value = to_decimal(row.get("mktValue"), "mktValue", where, required=True)
        assert value is not None
        multiplier = to_decimal(row.get("multiplier"), "multiplier", where)
        if multiplier is None or multiplier <= 0:
            multiplier = Decimal(1)  # IBKR sends 0 or null for stocks
        price = to_decimal(row.get("mktPrice"), "mktPrice", where)
        if price is None:
            price = value / (quantity * multiplier)
        elif asset in _PRICED_PER_UNIT and currency == "GBP" and divisor == 1 and value != 0:
            implied = quantity * price * multiplier
            if _close(implied / 100, value) and not _close(implied, value):
                self.warnings.append(
                    f"{self.account}: conid {conid} mktPrice {price} is in pence (mktValue {value} is pounds); "
                    "divided the price by 100"
                )
                price = price / 100
        avg_cost = to_decimal(row.get("avgCost"), "avgCost", where)
        pnl = to_decimal(row.get("unrealizedPnl"), "unrealizedPnl", where)
        return Position(
            instrument=replace(
                self._instrument(row, sd, conid, asset, ib_class, currency, where), multiplier=multiplier
            ),
            quantity=quantity,
            price_local=price / divisor,  # per unit of the underlying: value = quantity x price x multiplier
            market_value_local=value / divisor,
            cost_basis=avg_cost * quantity / divisor if avg_cost is not None else None,
            unrealized_pnl=pnl / divisor if pnl is not None else None,
        )

    def _instrument(
        self,
        row: Mapping[str, Any],
        sd: Mapping[str, Any],
        conid: str,
        asset: AssetClass,
        ib_class: str | None,
        currency: str,
        where: str,
    ) -> Instrument:
        description = text(row.get("contractDesc"), "contractDesc", where)
        description = " ".join(description.split()) if description else None
        ticker = self._pick(row, sd, "ticker", where)
        name = self._pick(row, sd, "name", where)
        full_name = self._pick(row, sd, "fullName", where)
        if asset in _DERIVATIVES:
            # For a derivative ``ticker``/``name`` describe the underlying; the contract is in contractDesc.
            symbol = description or full_name or ticker or conid
            name = full_name or description or name or symbol
        else:
            symbol = ticker or description or conid
            name = name or full_name or description or symbol
        isin = text(row.get("isin"), "isin", where)
        return Instrument(
            broker=BROKER,
            broker_instrument_id=conid,
            symbol=symbol,
            name=name,
            asset_class=asset,
            currency=currency,
            isin=isin.upper() if isin else None,
            exchange=self._pick(row, sd, "listingExchange", where),
            broker_asset_class=ib_class.upper() if ib_class else None,
        )

"""A hand-written broker source with fixed holdings, for capture-level tests of mapping and allocation.

It follows the BrokerSource protocol exactly as a real source does: ``fetch`` records one JSON response
(the "broker's" document), ``parse`` turns the recorded response back into snapshots and rates, purely.
Instruments are described as the brokers identify them: an IB conid (with the ISIN Flex reports), a Schwab
CUSIP with no ISIN.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from portfolio_dashboard.brokers.base import FetchContext, Recorder, SourceHealth
from portfolio_dashboard.domain import (
    Account,
    AccountSnapshot,
    AssetClass,
    CashBalance,
    FxRate,
    Instrument,
    ParseResult,
    Position,
    RawResponse,
)
from portfolio_dashboard.errors import ParsingError


def holding(broker_id: str, symbol: str, currency: str, quantity: str, price: str, *,
            asset_class: str = "equity", name: str | None = None, isin: str | None = None,
            cusip: str | None = None, figi: str | None = None, exchange: str | None = None) -> dict[str, Any]:
    return {"id": broker_id, "symbol": symbol, "name": name or symbol, "assetClass": asset_class,
            "currency": currency, "isin": isin, "cusip": cusip, "figi": figi, "exchange": exchange,
            "quantity": quantity, "price": price}


def account(account_id: str, currency: str, holdings: list[dict[str, Any]],
            cash: dict[str, str] | None = None, name: str | None = None) -> dict[str, Any]:
    return {"id": account_id, "name": name or account_id, "currency": currency, "holdings": holdings,
            "cash": cash or {}}


class HoldingsSource:
    parser_version = "test-1"

    def __init__(self, name: str, broker: str, accounts: list[dict[str, Any]], *, asof: datetime,
                 rates: dict[str, str] | None = None) -> None:
        self.name = name
        self.broker = broker
        self.document = {"asof": asof.isoformat(), "accounts": accounts,
                         "rates": [{"from": c, "to": "GBP", "rate": r} for c, r in (rates or {}).items()]}

    def fetch(self, record: Recorder, ctx: FetchContext) -> None:
        record(RawResponse(source=self.name, broker=self.broker, endpoint="GET /holdings",
                           received_at=datetime.now(UTC), status_code=200,
                           body=json.dumps(self.document).encode(), content_type="application/json"))

    def parse(self, raws: Sequence[RawResponse]) -> ParseResult:
        try:
            doc = raws[-1].json()
            asof = datetime.fromisoformat(doc["asof"])
            rates = tuple(FxRate(r["from"], r["to"], Decimal(r["rate"]), asof, self.name) for r in doc["rates"])
            snapshots = tuple(self._snapshot(a, asof) for a in doc["accounts"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ParsingError(f"holdings document: {exc!r}", source=self.name) from None
        return ParseResult(snapshots=snapshots, fx_rates=rates)

    def _snapshot(self, a: dict[str, Any], asof: datetime) -> AccountSnapshot:
        positions = []
        for h in a["holdings"]:
            inst = Instrument(self.broker, h["id"], h["symbol"], h["name"], AssetClass(h["assetClass"]), h["currency"],
                              isin=h["isin"], cusip=h["cusip"], figi=h["figi"], exchange=h["exchange"])
            qty, price = Decimal(h["quantity"]), Decimal(h["price"])
            positions.append(Position(inst, qty, price, qty * price))
        cash = tuple(CashBalance(c, Decimal(v)) for c, v in a["cash"].items())
        return AccountSnapshot(Account(self.broker, a["id"], a["name"], a["currency"]), asof, "test.asof",
                               tuple(positions), cash)

    def health(self) -> SourceHealth:
        return SourceHealth(self.name, True, True, "fixed holdings")

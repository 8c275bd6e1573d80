"""Hand-written fake sources implementing the BrokerSource protocol (no mocks).

``ScriptedSource`` returns canned responses and a canned parse; ``HttpJsonSource`` talks real HTTP through
``BrokerHttp`` to a ``FakeServer`` and parses a tiny JSON shape, so retries and recording are exercised end
to end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal

import httpx

from portfolio_dashboard.brokers.base import FetchContext, Recorder, SourceHealth
from portfolio_dashboard.brokers.http import BrokerHttp, RetryPolicy
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

ASOF = datetime(2026, 6, 30, 15, 30, tzinfo=UTC)


def raw(source: str, body: bytes | str, endpoint: str = "GET /fake", status: int = 200) -> RawResponse:
    data = body.encode() if isinstance(body, str) else body
    return RawResponse(source, source, endpoint, datetime.now(UTC), status, data, "application/json")


def instrument(broker: str, iid: str, symbol: str, currency: str = "GBP", isin: str | None = None,
               asset_class: AssetClass = AssetClass.EQUITY) -> Instrument:
    return Instrument(broker, iid, symbol, f"{symbol} plc", asset_class, currency, isin=isin)


def snapshot(broker: str = "fake", account: str = "ACC1", *, asof: datetime = ASOF, currency: str = "GBP",
             positions: Sequence[tuple[str, str, str, str]] = (("I1", "AAA", "10", "2.50"),),
             cash: Sequence[tuple[str, str]] = (("GBP", "100"),), total: str | None = None) -> AccountSnapshot:
    """positions: (instrument id, symbol, quantity, price) in ``currency``; total defaults to the exact sum."""
    pos = tuple(
        Position(instrument(broker, iid, sym, currency), Decimal(q), Decimal(p), Decimal(q) * Decimal(p))
        for iid, sym, q, p in positions
    )
    cash_balances = tuple(CashBalance(c, Decimal(a)) for c, a in cash)
    computed = sum((p.market_value_local for p in pos), Decimal(0)) + sum(
        (c.amount for c in cash_balances if c.currency == currency), Decimal(0))
    return AccountSnapshot(Account(broker, account, f"{account} name", currency), asof, "fake.asof", pos,
                           cash_balances, Decimal(total) if total is not None else computed)


class ScriptedSource:
    """Records ``responses`` then either raises ``fetch_error`` or lets ``parse`` return ``result``."""

    parser_version = "1"

    def __init__(self, name: str = "fake", *, broker: str | None = None, result: ParseResult | None = None,
                 responses: Sequence[RawResponse] | None = None, fetch_error: Exception | None = None,
                 parse_error: Exception | None = None, before_fetch: Callable[[], None] | None = None) -> None:
        self.name = name
        self.broker = broker or name
        self.result = result or ParseResult()
        self.responses = list(responses) if responses is not None else [raw(name, '{"ok": true}')]
        self.fetch_error = fetch_error
        self.parse_error = parse_error
        self.before_fetch = before_fetch
        self.retries = 0
        self.fetch_calls = 0

    def fetch(self, record: Recorder, ctx: FetchContext) -> None:
        self.fetch_calls += 1
        if self.before_fetch:
            self.before_fetch()
        for r in self.responses:
            record(r)
        if self.fetch_error:
            raise self.fetch_error

    def parse(self, raws: Sequence[RawResponse]) -> ParseResult:
        if self.parse_error:
            raise self.parse_error
        return self.result

    def health(self) -> SourceHealth:
        return SourceHealth(self.name, True, True, "scripted")


class HttpJsonSource:
    """GET {base}/portfolio -> {"account": "...", "asof": iso, "positions": [[id, symbol, qty, price]], "cash": n}."""

    name = "httpjson"
    broker = "httpjson"
    parser_version = "1"

    def __init__(self, base_url: str, *, policy: RetryPolicy | None = None) -> None:
        self.base_url = base_url
        self.policy = policy or RetryPolicy(max_attempts=4, initial_wait=0.01, max_wait=0.05, max_total=5)
        self.retries = 0
        self._lock = threading.Lock()

    def fetch(self, record: Recorder, ctx: FetchContext) -> None:
        with httpx.Client(base_url=self.base_url, timeout=5) as client:
            http = BrokerHttp(self.name, self.broker, client, record, policy=self.policy)
            try:
                http.request("GET", "/portfolio")
            finally:
                self.retries = http.retries

    def parse(self, raws: Sequence[RawResponse]) -> ParseResult:
        good = [r for r in raws if r.status_code == 200]
        if not good:
            raise ParsingError("no successful response", source=self.name)
        try:
            doc = good[-1].json()
            asof = datetime.fromisoformat(doc["asof"])
            account = Account(self.broker, doc["account"], "HTTP account", "GBP")
            positions = tuple(
                Position(instrument(self.broker, str(i), s), Decimal(q), Decimal(p), Decimal(q) * Decimal(p))
                for i, s, q, p in doc["positions"]
            )
            cash = (CashBalance("GBP", Decimal(str(doc["cash"]))),)
        except (ValueError, KeyError, TypeError) as exc:
            raise ParsingError(f"bad body: {exc}", source=self.name) from None
        total = sum((p.market_value_local for p in positions), Decimal(0)) + cash[0].amount
        return ParseResult(snapshots=(AccountSnapshot(account, asof, "body.asof", positions, cash, total),))

    def health(self) -> SourceHealth:
        return SourceHealth(self.name, True, True, "fake")


def usd_rate(asof: datetime = ASOF, rate: str = "0.8", provider: str = "fake") -> FxRate:
    return FxRate("USD", "GBP", Decimal(rate), asof, provider)

"""A fake IBKR Client Portal gateway: a real HTTPS server on 127.0.0.1 answering like ``clientportal.gw``.

Payload shapes follow IBKR's documented examples (Client Portal Web API v1.0 / IB REST API 2.29): position rows
with their ~40 fields, ``summary`` values as ``{"amount", "currency", "isNull", "timestamp" (ms), "value"}``,
``ledger`` entries per currency plus ``BASE`` (``timestamp`` in seconds, ``exchangerate`` = base units per one
unit), ``/trsrv/secdef`` as ``{"secdef": [...]}``, ``/iserver/exchangerate`` as ``{"rate": r}``.

Behaviour modelled on the real gateway:
* not logged in -> 401 on every ``/v1/api`` path; logged in without a brokerage session -> auth status
  ``authenticated: false`` and ``/iserver/*`` -> 400 ``no bridge``;
* ``/portfolio/{id}/...`` before ``/portfolio/accounts`` -> 400 (IBKR requires the accounts call first);
* pacing: more than 10 requests in a second, or ``/portfolio/accounts`` twice within 5 s -> 429;
* positions paged 100 per page, an empty page after the last; the first ``thin_reads`` reads of an account
  lack the descriptive fields (ticker, name, exchange...) as a first read after login does.

Amounts are computed in Decimal so the summary's net liquidation equals positions + cash at the ledger rates.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tests.fakes.server import FakeServer, Reply, Request

API = "/v1/api"
PAGE_SIZE = 100
CENT = Decimal("0.01")
SESSION_ID = "b7c1f0e9d8a7c6b5a4f3e2d1c0b9a8f7"  # what the gateway's tickle reveals; must never be stored

# GBP per one unit: the "market" the fake's rates derive from.
GBP_PER: dict[str, Decimal] = {
    "GBP": Decimal(1),
    "USD": Decimal("0.78812345"),
    "EUR": Decimal("0.86543210"),
    "CHF": Decimal("0.89901234"),
}


class VirtualClock:
    """Time that passes only when someone sleeps: the source's pacer and the fake's pacing share it."""

    def __init__(self) -> None:
        self._now = 1000.0
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._now += max(0.0, seconds)

    def advance(self, seconds: float) -> None:
        self.sleep(seconds)


@dataclass
class Holding:
    conid: int
    ticker: str
    name: str
    currency: str
    exchange: str
    quantity: Decimal
    price: Decimal
    avg_price: Decimal
    asset_class: str = "STK"
    type: str = "COMMON"
    multiplier: Decimal = Decimal(0)  # IBKR sends 0 for stocks
    contract_desc: str | None = None
    full_name: str | None = None
    expiry: str | None = None
    put_or_call: str | None = None
    strike: str = "0"
    und_conid: int = 0
    always_thin: bool = False  # rows never carry name/exchange (ticker only): only /trsrv/secdef has them

    @property
    def factor(self) -> Decimal:
        return self.multiplier if self.multiplier > 0 else Decimal(1)

    @property
    def market_value(self) -> Decimal:
        return (self.quantity * self.price * self.factor).quantize(CENT, ROUND_HALF_UP)

    @property
    def avg_cost(self) -> Decimal:
        return self.avg_price * self.factor

    @property
    def unrealized(self) -> Decimal:
        return (self.market_value - self.avg_cost * self.quantity).quantize(CENT, ROUND_HALF_UP)


@dataclass
class Account:
    account_id: str
    base: str
    title: str
    alias: str | None
    holdings: list[Holding]
    cash: dict[str, Decimal]
    ledger_omits: set[str] = field(default_factory=set)  # currencies held but absent from the ledger


def rate(source: str, target: str) -> Decimal:
    """Target units per one source unit, to 8 decimals as IBKR prints them."""
    return (GBP_PER[source] / GBP_PER[target]).quantize(Decimal("0.00000001"), ROUND_HALF_UP)


def net_liquidation(account: Account) -> Decimal:
    total = sum((h.market_value * rate(h.currency, account.base) for h in account.holdings), Decimal(0))
    total += sum((amount * rate(ccy, account.base) for ccy, amount in account.cash.items()), Decimal(0))
    return total.quantize(CENT, ROUND_HALF_UP)


def _num(value: Decimal) -> float | int:
    """A JSON number as IBKR prints it (floats; whole numbers as ints)."""
    return int(value) if value == value.to_integral_value() else float(value)


class FakeIbGateway:
    def __init__(
        self,
        accounts: list[Account],
        *,
        clock: VirtualClock | None = None,
        timestamp_ms: int = 1_763_938_800_123,
        thin_reads: int = 0,
        enforce_pacing: bool = True,
    ) -> None:
        self.accounts = {a.account_id: a for a in accounts}
        self.clock: Callable[[], float] = clock.now if clock else time.monotonic
        self.timestamp_ms = timestamp_ms
        self.thin_reads = thin_reads
        self.enforce_pacing = enforce_pacing
        self.logged_in = True  # the read-only session (the login on the gateway's web page)
        self.brokerage = True  # the brokerage session behind /iserver
        self.competing = False
        self.accounts_called = False
        self.reads: dict[str, int] = {}
        self.pacing_violations: list[str] = []
        self._recent: deque[float] = deque()
        self._last_accounts: float | None = None
        self._lock = threading.Lock()
        self.server = FakeServer(tls=True)
        self._routes()

    # --- lifecycle -----------------------------------------------------------------------------------------
    def __enter__(self) -> FakeIbGateway:
        self.server.start()
        # Headers and body leave in separate TLS records; with Nagle on, each response waits ~40 ms for the
        # client's delayed ACK. (A one-line candidate for FakeServer itself.)
        assert self.server._httpd is not None
        self.server._httpd.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.base_url

    @property
    def ca_path(self) -> str:
        assert self.server.ca_path is not None
        return self.server.ca_path

    def count(self, method: str, path: str) -> int:
        return self.server.count(method, API + path)

    def fail_next(self, method: str, path: str, *replies: Reply) -> None:
        self.server.fail_next(method, API + path, *replies)

    # --- routing -------------------------------------------------------------------------------------------
    def _routes(self) -> None:
        table: list[tuple[str, str, Callable[[Request], Reply]]] = [
            ("POST", r"/iserver/auth/status", self._auth_status),
            ("GET", r"/iserver/auth/status", self._auth_status),
            ("POST", r"/tickle", self._tickle),
            ("GET", r"/tickle", self._tickle),
            ("GET", r"/portfolio/accounts", self._accounts),
            ("GET", r"/portfolio/(?P<acct>[^/]+)/positions/(?P<page>\d+)", self._positions),
            ("GET", r"/portfolio/(?P<acct>[^/]+)/summary", self._summary),
            ("GET", r"/portfolio/(?P<acct>[^/]+)/ledger", self._ledger),
            ("GET", r"/iserver/exchangerate", self._exchange_rate),
            ("GET", r"/trsrv/secdef", self._secdef),
        ]
        for method, pattern, handler in table:
            self.server.route(method, API + pattern, self._guarded(handler))

    def _guarded(self, handler: Callable[[Request], Reply]) -> Callable[[Request], Reply]:
        def serve(req: Request) -> Reply:
            with self._lock:
                refusal = self._refuse(req)
            return refusal or handler(req)

        return serve

    def _refuse(self, req: Request) -> Reply | None:
        now = self.clock()
        if self.enforce_pacing:
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            self._recent.append(now)
            if len(self._recent) > 10:
                self.pacing_violations.append(f"{req.method} {req.path}: over 10 requests/s")
                return Reply.json({"error": "Too Many Requests"}, status=429)
            if req.path.endswith("/portfolio/accounts"):
                if self._last_accounts is not None and now - self._last_accounts < 5.0:
                    self.pacing_violations.append("/portfolio/accounts within 5 s")
                    return Reply.json({"error": "Too Many Requests"}, status=429)
                self._last_accounts = now
        if not self.logged_in:
            return Reply.json({"error": "not authenticated", "statusCode": 401}, status=401)
        if req.path.startswith(API + "/iserver/") and not req.path.endswith("/auth/status") and not self.brokerage:
            return Reply.json({"error": "Bad Request: no bridge", "statusCode": 400}, status=400)
        if "/portfolio/" in req.path and not req.path.endswith("/portfolio/accounts") and not self.accounts_called:
            return Reply.json({"error": "Please query /portfolio/accounts first", "statusCode": 400}, status=400)
        return None

    # --- session -------------------------------------------------------------------------------------------
    def _auth(self) -> dict[str, Any]:
        return {
            "authenticated": self.brokerage and not self.competing,
            "competing": self.competing,
            "connected": True,
            "message": "",
            "MAC": "98:F2:B3:23:BF:A0",
            "serverInfo": {"serverName": "JifN19053", "serverVersion": "Build 10.25.0p, Dec 5, 2023 5:48:12 PM"},
            "fail": "",
        }

    def _auth_status(self, req: Request) -> Reply:
        return Reply.json(self._auth())

    def _tickle(self, req: Request) -> Reply:
        auth = self._auth()
        auth.pop("fail")
        return Reply.json(
            {
                "session": SESSION_ID,
                "ssoExpires": 460311,
                "collission": False,
                "userId": 123456789,
                "hmds": {"error": "no bridge"},
                "iserver": {"authStatus": auth},
            }
        )

    # --- portfolio -----------------------------------------------------------------------------------------
    def _accounts(self, req: Request) -> Reply:
        self.accounts_called = True
        return Reply.json([self._account_json(a) for a in self.accounts.values()])

    def _account_json(self, a: Account) -> dict[str, Any]:
        return {
            "id": a.account_id,
            "PrepaidCrypto-Z": False,
            "PrepaidCrypto-P": False,
            "brokerageAccess": True,
            "accountId": a.account_id,
            "accountVan": a.account_id,
            "accountTitle": a.title,
            "displayName": a.title,
            "accountAlias": a.alias,
            "accountStatus": 1590724800000,
            "currency": a.base,
            "type": "INDIVIDUAL",
            "tradingType": "STKCASH",
            "businessType": "IB_PROSERVE",
            "ibEntity": "IB-UK",
            "faclient": False,
            "clearingStatus": "O",
            "covestor": False,
            "noClientTrading": False,
            "trackVirtualFXPortfolio": True,
            "acctCustType": "INDIVIDUAL",
            "parent": {"mmc": [], "accountId": "", "isMParent": False, "isMChild": False, "isMultiplex": False},
            "desc": f"{a.account_id} {a.alias or a.title}",
        }

    def _account(self, req: Request) -> Account | None:
        assert req.match is not None
        return self.accounts.get(req.match.group("acct"))

    def _positions(self, req: Request) -> Reply:
        account = self._account(req)
        if account is None:
            return Reply.json({"error": "Account not found", "statusCode": 400}, status=400)
        assert req.match is not None
        page = int(req.match.group("page"))
        with self._lock:
            if page == 0:
                self.reads[account.account_id] = self.reads.get(account.account_id, 0) + 1
            thin = self.reads.get(account.account_id, 1) <= self.thin_reads
        rows = account.holdings[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
        return Reply.json([self._position_json(account, h, thin) for h in rows])

    def _position_json(self, account: Account, h: Holding, thin: bool) -> dict[str, Any]:
        row: dict[str, Any] = {
            "acctId": account.account_id,
            "conid": h.conid,
            "contractDesc": h.contract_desc or h.ticker,
            "position": _num(h.quantity),
            "mktPrice": float(h.price),
            "mktValue": _num(h.market_value),
            "currency": h.currency,
            "avgCost": float(h.avg_cost),
            "avgPrice": float(h.avg_price),
            "realizedPnl": 0,
            "unrealizedPnl": _num(h.unrealized),
            "exchs": None,
            "expiry": h.expiry,
            "putOrCall": h.put_or_call,
            "multiplier": _num(h.multiplier),
            "strike": h.strike,
            "exerciseStyle": None,
            "conExchMap": [],
            "assetClass": h.asset_class,
            "undConid": h.und_conid,
            "model": "",
        }
        if thin:
            return row  # 21 fields, as a first read after login returns them
        row.update(self._descriptive(h))
        row.update({"time": 38, "pageSize": PAGE_SIZE, "isEventContract": False})
        if h.always_thin:
            for key in ("name", "listingExchange", "fullName"):
                row[key] = None
        return row

    def _descriptive(self, h: Holding) -> dict[str, Any]:
        return {
            "incrementRules": [{"lowerEdge": 0, "increment": 0.01}],
            "displayRule": {
                "magnification": 0,
                "displayRuleStep": [{"decimalDigits": 2, "lowerEdge": 0, "wholeDigits": 4}],
            },
            "chineseName": None,
            "allExchanges": h.exchange,
            "listingExchange": h.exchange,
            "countryCode": {"GBP": "GB", "USD": "US", "EUR": "DE", "CHF": "CH"}.get(h.currency, "US"),
            "name": h.name,
            "lastTradingDay": h.expiry,
            "group": None,
            "sector": None,
            "sectorGroup": None,
            "ticker": h.ticker,
            "type": h.type,
            "hasOptions": h.asset_class == "STK",
            "fullName": h.full_name or h.ticker,
            "isUS": h.currency == "USD",
        }

    def _summary_value(self, amount: Decimal | None, currency: str | None, value: str | None = None) -> dict[str, Any]:
        return {
            "amount": _num(amount) if amount is not None else 0.0,
            "currency": currency,
            "isNull": False,
            "timestamp": self.timestamp_ms,
            "value": value,
            "severity": 0,
        }

    def _summary(self, req: Request) -> Reply:
        a = self._account(req)
        if a is None:
            return Reply.json({"error": "Account not found", "statusCode": 400}, status=400)
        nlv = net_liquidation(a)
        cash = sum((amt * rate(ccy, a.base) for ccy, amt in a.cash.items()), Decimal(0)).quantize(CENT)
        gross = sum((abs(h.market_value) * rate(h.currency, a.base) for h in a.holdings), Decimal(0)).quantize(CENT)
        v = self._summary_value
        body = {
            "accountcode": v(None, None, a.account_id),
            "accountready": v(None, None, "true"),
            "accounttype": v(None, None, "INDIVIDUAL"),
            "accruedcash": v(Decimal(0), a.base),
            "availablefunds": v(cash, a.base),
            "buyingpower": v(cash, a.base),
            "cushion": v(None, None, "1"),
            "equitywithloanvalue": v(nlv, a.base),
            "excessliquidity": v(nlv, a.base),
            "grosspositionvalue": v(gross, a.base),
            "initmarginreq": v(Decimal(0), a.base),
            "maintmarginreq": v(Decimal(0), a.base),
            "netliquidation": v(nlv, a.base),
            "netliquidation-s": v(nlv, a.base),
            "netliquidationuncertainty": v(Decimal(0), a.base),
            "totalcashvalue": v(cash, a.base),
            "tradingtype-s": v(None, None, "STKCASH"),
        }
        return Reply.json(body)

    def _ledger_entry(
        self, a: Account, currency: str, key: str, cash: Decimal, stocks: Decimal, exchange_rate: Decimal
    ) -> dict[str, Any]:
        return {
            "commoditymarketvalue": 0.0,
            "futuremarketvalue": 0.0,
            "settledcash": _num(cash),
            "exchangerate": _num(exchange_rate),
            "sessionid": 1,
            "cashbalance": _num(cash),
            "corporatebondsmarketvalue": 0.0,
            "warrantsmarketvalue": 0.0,
            "netliquidationvalue": _num(cash + stocks),
            "interest": 0.0,
            "unrealizedpnl": 0.0,
            "stockmarketvalue": _num(stocks),
            "moneyfunds": 0.0,
            "currency": key,
            "realizedpnl": 0.0,
            "funds": 0.0,
            "acctcode": a.account_id,
            "issueroptionsmarketvalue": 0.0,
            "key": "LedgerList",
            "timestamp": self.timestamp_ms // 1000,
            "severity": 0,
            "stockoptionmarketvalue": 0.0,
            "futuresonlypnl": 0.0,
            "tbondsmarketvalue": 0.0,
            "futureoptionmarketvalue": 0.0,
            "cashbalancefxsegment": 0.0,
            "secondkey": key,
            "tbillsmarketvalue": 0.0,
            "dividends": 0.0,
            "cryptocurrencyvalue": 0.0,
        }

    def _ledger(self, req: Request) -> Reply:
        a = self._account(req)
        if a is None:
            return Reply.json({"error": "Account not found", "statusCode": 400}, status=400)
        currencies = sorted(({h.currency for h in a.holdings} | set(a.cash)) - a.ledger_omits)
        body: dict[str, Any] = {}
        for ccy in currencies:
            stocks = sum((h.market_value for h in a.holdings if h.currency == ccy), Decimal(0))
            body[ccy] = self._ledger_entry(a, ccy, ccy, a.cash.get(ccy, Decimal(0)), stocks, rate(ccy, a.base))
        cash_base = sum((amt * rate(ccy, a.base) for ccy, amt in a.cash.items()), Decimal(0)).quantize(CENT)
        stocks_base = net_liquidation(a) - cash_base
        body["BASE"] = self._ledger_entry(a, "BASE", "BASE", cash_base, stocks_base, Decimal(1))
        body["BASE"].pop("cryptocurrencyvalue")
        return Reply.json(body)

    # --- contracts and FX ----------------------------------------------------------------------------------
    def _secdef(self, req: Request) -> Reply:
        wanted = {c.strip() for c in (req.param("conids") or "").split(",") if c.strip()}
        rows = []
        for account in self.accounts.values():
            for h in account.holdings:
                if str(h.conid) in wanted and all(r["conid"] != h.conid for r in rows):
                    row = {
                        "conid": h.conid,
                        "currency": h.currency,
                        "time": 770,
                        "assetClass": h.asset_class,
                        "expiry": h.expiry,
                        "putOrCall": h.put_or_call,
                        "strike": h.strike,
                        "undConid": h.und_conid,
                        "multiplier": _num(h.multiplier),
                    }
                    row.update(self._descriptive(h))
                    rows.append(row)
        return Reply.json({"secdef": rows})

    def _exchange_rate(self, req: Request) -> Reply:
        source, target = req.param("source") or "", req.param("target") or ""
        if source not in GBP_PER or target not in GBP_PER:
            return Reply.json({"error": f"invalid currency pair {source}.{target}", "statusCode": 400}, status=400)
        return Reply.json({"rate": float(rate(source, target))})


# --- the standard portfolio -------------------------------------------------------------------------------
def _stock(
    conid: int, ticker: str, name: str, ccy: str, exch: str, qty: str, price: str, avg: str, **extra: Any
) -> Holding:
    return Holding(conid, ticker, name, ccy, exch, Decimal(qty), Decimal(price), Decimal(avg), **extra)


def isa_account() -> Account:
    """A GBP ISA: LSE lines (prices in pounds, as IBKR reports portfolio rows), US and euro stocks, an ETF."""
    holdings = [
        _stock(13374, "VOD", "VODAFONE GROUP PLC", "GBP", "LSE", "5000", "0.7012", "0.75"),
        _stock(30017, "HSBA", "HSBC HOLDINGS PLC", "GBP", "LSE", "1200", "6.845", "5.9"),
        _stock(38925, "ULVR", "UNILEVER PLC", "GBP", "LSE", "150", "44.215", "41.0"),
        _stock(128831206, "VUSA", "VANGUARD S&P 500 UCITS ETF", "GBP", "LSEETF", "300", "88.4125", "70.1", type="ETF"),
        _stock(265598, "AAPL", "APPLE INC", "USD", "NASDAQ", "40", "229.87", "150.25"),
        _stock(272093, "MSFT", "MICROSOFT CORP", "USD", "NASDAQ", "25", "415.2", "300"),
        _stock(117902840, "ASML", "ASML HOLDING NV", "EUR", "AEB", "10", "702.3", "650.5"),
        _stock(14204, "SAP", "SAP SE", "EUR", "IBIS", "30", "221.15", "180"),
    ]
    cash = {"GBP": Decimal("1520.37"), "USD": Decimal("245.10"), "EUR": Decimal(0)}
    return Account("U1234567", "GBP", "Jane Doe", "ISA", holdings, cash)


def general_account() -> Account:
    """A GBP general account with 130 lines (two full pages and a bit), an option, a CHF stock whose currency
    the ledger does not list, and a fund whose rows never carry name/exchange (only /trsrv/secdef does)."""
    holdings = []
    currencies = [("GBP", "LSE"), ("USD", "NYSE"), ("EUR", "IBIS")]
    for i in range(127):
        ccy, exch = currencies[i % 3]
        price = Decimal(10 + i) + Decimal(i % 7) / Decimal(8)
        holdings.append(
            _stock(
                500000 + i,
                f"GEN{i:03d}",
                f"GENERIC HOLDING {i:03d}",
                ccy,
                exch,
                str(10 + i),
                str(price),
                str(price - 1),
            )
        )
    holdings.append(
        Holding(
            584891614,
            "SPY",
            "SPDR S&P 500 ETF TRUST",
            "USD",
            "AMEX",
            Decimal(2),
            Decimal("95.70706175"),
            Decimal("58.010401"),
            asset_class="OPT",
            type="",
            multiplier=Decimal(100),
            contract_desc="SPY    JAN2027 440 C [SPY   270115C00440000 100]",
            full_name="SPY Jan15'27 440 Call",
            expiry="20270115",
            put_or_call="C",
            strike="440",
            und_conid=756733,
        )
    )
    holdings.append(_stock(38709539, "NESN", "NESTLE SA-REG", "CHF", "EBS", "20", "84.12", "95.5"))
    holdings.append(
        _stock(
            9408,
            "VFIAX",
            "VANGUARD 500 INDEX ADMIRAL",
            "USD",
            "FUNDSERV",
            "3.512",
            "552.31",
            "400",
            asset_class="FUND",
            type="",
            always_thin=True,
        )
    )
    cash = {"GBP": Decimal("10000.00"), "EUR": Decimal("512.34")}
    return Account("U7654321", "GBP", "Jane Doe", None, holdings, cash, ledger_omits={"CHF"})


def usd_account() -> Account:
    """A USD-base account: its totals are in USD, so a USD->GBP rate must come from /iserver/exchangerate."""
    holdings = [
        _stock(265598, "AAPL", "APPLE INC", "USD", "NASDAQ", "12", "229.87", "190"),
        _stock(13374, "VOD", "VODAFONE GROUP PLC", "GBP", "LSE", "1000", "0.7012", "0.8"),
    ]
    return Account("U5555555", "USD", "Jane Doe", "Trading", holdings, {"USD": Decimal("1000.50")})

"""A fake Charles Schwab Trader API on 127.0.0.1, shaped as Schwab documents it (and real responses show).

    fake = FakeSchwab()                       # two accounts: equities, an ETF, a mutual fund, a short, cash
    with fake:                                # serving on fake.base_url (HTTPS, CA in fake.ca_path)
        tokens = fake.issue_tokens()          # or walk the login: fake.authorize(url) -> redirect URL
        fake.expire_access_tokens()           # the next API call gets 401
        fake.revoke_refresh_tokens()          # the next refresh gets Schwab's 400 unsupported_token_type
        fake.server.fail_next("GET", "/trader/v1/accounts", Reply(status=429, headers={"Retry-After": "0"}))

Behaviour modelled on the real service:
* ``/v1/oauth/authorize`` redirects to the registered callback with ``code`` (ending in ``%40``, i.e. ``@``),
  ``session`` and the echoed ``state`` — standing in for the user's login in a browser.
* ``/v1/oauth/token`` needs HTTP Basic with the app key and secret; codes are single-use; a refresh returns a
  new 30-minute access token and (unless ``rotate_refresh``) the same refresh token.
* Data calls need a live ``Bearer`` token, else 401. Transactions need ``startDate``/``endDate`` in
  ``yyyy-MM-dd'T'HH:mm:ss.SSSZ`` no more than a year apart, and ``types``; at most ``max_transactions`` items.
"""

from __future__ import annotations

import base64
import copy
import re
import secrets
import ssl
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from tests.fakes.schwab_flows import flow_transactions
from tests.fakes.server import FakeServer, Reply, Request

CLIENT_ID = "fake-app-key-0123456789abcdef"
CLIENT_SECRET = "fake-app-secret-SHOULD-NEVER-LEAK-9f8e7d"
REDIRECT_URI = "https://127.0.0.1"
ACCESS_LIFETIME_S = 1800

MARGIN_NUMBER, MARGIN_HASH = "12345678", "E5B2F7C1A9D04B6E8F3A2C1D0B9E8F7A6C5D4E3F2A1B0C9D8E7F6A5B4C3D2E1F"
CASH_NUMBER, CASH_HASH = "87654321", "0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F9"
TIME_RX = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")


def _instrument(asset_type: str, symbol: str, cusip: str | None, description: str, **extra: Any) -> dict[str, Any]:
    inst: dict[str, Any] = {"assetType": asset_type, "symbol": symbol, "description": description}
    if cusip:
        inst["cusip"] = cusip
    inst.update(extra)
    return inst


def _position(
    instrument: dict[str, Any], long: float, short: float, avg: float, mv: float, pnl: float
) -> dict[str, Any]:
    return {
        "shortQuantity": short,
        "averagePrice": avg,
        "currentDayProfitLoss": 12.5,
        "currentDayProfitLossPercentage": 0.11,
        "longQuantity": long,
        "settledLongQuantity": long,
        "settledShortQuantity": short,
        "instrument": instrument,
        "marketValue": mv,
        "maintenanceRequirement": abs(mv) * 0.3,
        "averageLongPrice": avg if long else 0,
        "averageShortPrice": avg if short else 0,
        "taxLotAverageLongPrice": avg if long else 0,
        "taxLotAverageShortPrice": avg if short else 0,
        "longOpenProfitLoss": pnl if long else 0,
        "shortOpenProfitLoss": pnl if short else 0,
        "previousSessionLongQuantity": long,
        "previousSessionShortQuantity": short,
        "currentDayCost": 0,
    }


def default_accounts() -> list[dict[str, Any]]:
    aapl = _instrument(
        "EQUITY", "AAPL", "037833100", "APPLE INC", instrumentId=1206667, netChange=1.25, type="COMMON_STOCK"
    )
    voo = _instrument(
        "COLLECTIVE_INVESTMENT",
        "VOO",
        "922908363",
        "VANGUARD S&P 500 ETF",
        instrumentId=1807,
        type="EXCHANGE_TRADED_FUND",
    )
    tsla = _instrument("EQUITY", "TSLA", "88160R101", "TESLA INC", instrumentId=4215, type="COMMON_STOCK")
    msft = _instrument("EQUITY", "MSFT", "594918104", "MICROSOFT CORP", instrumentId=1521, type="COMMON_STOCK")
    swppx = _instrument(
        "MUTUAL_FUND", "SWPPX", "808509855", "SCHWAB S&P 500 INDEX", instrumentId=5123, type="NO_LOAD_TAXABLE"
    )
    margin = {
        "securitiesAccount": {
            "type": "MARGIN",
            "accountNumber": MARGIN_NUMBER,
            "roundTrips": 0,
            "isDayTrader": False,
            "isClosingOnlyRestricted": False,
            "pfcbFlag": False,
            "positions": [
                _position(aapl, 50, 0, 150.25, 11321.50, 3809.00),
                _position(voo, 12.5, 0, 400.10, 6400.00, 1398.75),
                _position(tsla, 0, 10, 250.00, -2450.00, 50.00),
            ],
            "initialBalances": {"cashBalance": 5000.0, "liquidationValue": 22500.0, "accountValue": 22500.0},
            "currentBalances": {
                "accruedInterest": 0,
                "cashBalance": 5000.00,
                "cashReceipts": 0,
                "longOptionMarketValue": 0,
                "liquidationValue": 22771.50,
                "longMarketValue": 17721.50,
                "moneyMarketFund": 0,
                "savings": 0,
                "shortMarketValue": -2450.00,
                "pendingDeposits": 0,
                "mutualFundValue": 0,
                "bondValue": 0,
                "shortOptionMarketValue": 0,
                "availableFunds": 9000.0,
                "buyingPower": 18000.0,
                "equity": 22771.50,
                "marginBalance": 0,
                "shortBalance": 2500.00,
                "sma": 9000.0,
            },
            "projectedBalances": {"availableFunds": 9000.0, "buyingPower": 18000.0},
        },
        "aggregatedBalance": {"currentLiquidationValue": 40315.90, "liquidationValue": 40315.90},
    }
    cash = {
        "securitiesAccount": {
            "type": "CASH",
            "accountNumber": CASH_NUMBER,
            "roundTrips": 0,
            "isDayTrader": False,
            "isClosingOnlyRestricted": False,
            "pfcbFlag": False,
            "positions": [
                _position(msft, 20, 0, 310.00, 8300.00, 2100.00),
                _position(swppx, 100.123, 0, 60.00, 8009.84, 2002.46),
            ],
            "initialBalances": {"cashBalance": 1234.56, "liquidationValue": 17500.0},
            "currentBalances": {
                "cashAvailableForTrading": 1234.56,
                "cashAvailableForWithdrawal": 1234.56,
                "cashBalance": 1234.56,
                "totalCash": 1234.56,
                "unsettledCash": 0,
                "liquidationValue": 17544.40,
                "longMarketValue": 16309.84,
                "mutualFundValue": 8009.84,
            },
        },
        "aggregatedBalance": {"currentLiquidationValue": 40315.90, "liquidationValue": 40315.90},
    }
    return [margin, cash]


def _fee(fee_type: str, cost: float) -> dict[str, Any]:
    return {
        "instrument": {
            "assetType": "CURRENCY",
            "status": "ACTIVE",
            "symbol": "CURRENCY_USD",
            "description": "USD currency",
            "instrumentId": 1,
            "closingPrice": 0,
        },
        "amount": abs(cost),
        "cost": cost,
        "feeType": fee_type,
    }


def _trade(
    activity_id: int,
    when: datetime,
    account: str,
    instrument: dict[str, Any],
    qty: float,
    price: float,
    fees: list[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    cost = round(-qty * price, 2)
    net = round(cost + sum(f["cost"] for f in fees), 2)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%S+0000")
    return {
        "activityId": activity_id,
        "time": stamp,
        "accountNumber": account,
        "type": "TRADE",
        "status": "VALID",
        "subAccount": "CASH",
        "tradeDate": stamp,
        "positionId": activity_id + 7,
        "orderId": 1000000000000 + activity_id,
        "netAmount": net,
        "activityType": "EXECUTION",
        "transferItems": [
            *fees,
            {
                "instrument": instrument,
                "amount": qty,
                "cost": cost,
                "price": price,
                "positionEffect": "OPENING" if qty > 0 else "CLOSING",
            },
        ],
        **extra,
    }


def default_transactions(now: datetime) -> dict[str, list[dict[str, Any]]]:
    day = timedelta(days=1)
    # Transaction instruments as Schwab sends them: equities often without a CUSIP.
    aapl = {
        "assetType": "EQUITY",
        "status": "ACTIVE",
        "symbol": "AAPL",
        "instrumentId": 1206667,
        "type": "COMMON_STOCK",
    }
    tsla = {"assetType": "EQUITY", "status": "ACTIVE", "symbol": "TSLA", "instrumentId": 4215, "type": "COMMON_STOCK"}
    msft = {"assetType": "EQUITY", "status": "ACTIVE", "symbol": "MSFT", "instrumentId": 1521, "type": "COMMON_STOCK"}
    swppx = {
        "assetType": "MUTUAL_FUND",
        "status": "ACTIVE",
        "symbol": "SWPPX",
        "cusip": "808509855",
        "description": "SCHWAB S&P 500 INDEX",
        "instrumentId": 5123,
        "type": "NO_LOAD_TAXABLE",
    }
    margin = [
        _trade(
            80990733204, now - 30 * day, MARGIN_NUMBER, aapl, 10, 180.00, [_fee("COMMISSION", 0), _fee("SEC_FEE", 0)]
        ),
        _trade(
            80990733310,
            now - 20 * day,
            MARGIN_NUMBER,
            tsla,
            -10,
            250.00,
            [_fee("COMMISSION", 0), _fee("SEC_FEE", -0.02)],
        ),
        {
            "activityId": 80990733999,
            "time": (now - 10 * day).strftime("%Y-%m-%dT%H:%M:%S+0000"),
            "accountNumber": MARGIN_NUMBER,
            "type": "DIVIDEND_OR_INTEREST",
            "status": "VALID",
            "description": "QUALIFIED DIVIDEND",
            "netAmount": 12.5,
            "transferItems": [],
        },
    ]
    cash = [
        _trade(81000000001, now - 400 * day, CASH_NUMBER, msft, 25, 300.00, [_fee("COMMISSION", 0)]),
        _trade(81000000002, now - 25 * day, CASH_NUMBER, swppx, 100.123, 60.00, []),
        _trade(
            81000000003, now - 5 * day, CASH_NUMBER, msft, -5, 400.00, [_fee("COMMISSION", 0), _fee("SEC_FEE", -0.05)]
        ),
    ]
    flows = flow_transactions(now)  # deposits, dividends, journals, ... (tests/fakes/schwab_flows.py)
    return {MARGIN_HASH: margin + flows[MARGIN_NUMBER], CASH_HASH: cash + flows[CASH_NUMBER]}


def _parse_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _tx_time(tx: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(tx["time"])


class FakeSchwab:
    def __init__(
        self,
        *,
        tls: bool = True,
        rotate_refresh: bool = False,
        max_transactions: int = 3000,
        now: datetime | None = None,
    ) -> None:
        self.server = FakeServer(tls=tls)
        self.rotate_refresh = rotate_refresh
        self.max_transactions = max_transactions
        self.now = now or datetime.now(UTC)
        self.accounts = default_accounts()
        self.numbers = [
            {"accountNumber": MARGIN_NUMBER, "hashValue": MARGIN_HASH},
            {"accountNumber": CASH_NUMBER, "hashValue": CASH_HASH},
        ]
        self.transactions = default_transactions(self.now)
        self._lock = threading.Lock()
        self.codes: set[str] = set()
        self.access_tokens: dict[str, datetime] = {}
        self.refresh_tokens: set[str] = set()
        self.issued: list[str] = []  # every token and code handed out, for leak checks
        # A misbehaving gateway: every API call is refused with a 401 whose body echoes the bearer token sent
        # (the secrets-in-error-bodies case of issue 16).
        self.echo_token_in_401 = False
        self._routes()

    # --- lifecycle ------------------------------------------------------------------------------------------
    def __enter__(self) -> FakeSchwab:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def ca_path(self) -> str | None:
        return self.server.ca_path

    # --- test controls -------------------------------------------------------------------------------------
    def issue_tokens(self) -> dict[str, Any]:
        with self._lock:
            access = "I0.access-" + secrets.token_urlsafe(24) + "@"
            refresh = "refresh-" + secrets.token_urlsafe(24) + "@"
            self.access_tokens[access] = datetime.now(UTC) + timedelta(seconds=ACCESS_LIFETIME_S)
            self.refresh_tokens.add(refresh)
            self.issued += [access, refresh]
        return self._token_body(access, refresh)

    def expire_access_tokens(self) -> None:
        with self._lock:
            self.access_tokens.clear()

    def revoke_refresh_tokens(self) -> None:
        with self._lock:
            self.refresh_tokens.clear()

    def token_calls(self) -> int:
        return self.server.count("POST", "/v1/oauth/token")

    def authorize(self, url: str) -> str:
        """What the user's browser ends on after logging in: the callback URL with the code."""
        import httpx

        with httpx.Client(verify=_verify(self.ca_path)) as client:
            response = client.get(url, follow_redirects=False)
        assert response.status_code == 302, response.text
        return response.headers["location"]

    # --- behaviour ------------------------------------------------------------------------------------------
    def _token_body(self, access: str, refresh: str) -> dict[str, Any]:
        return {
            "expires_in": ACCESS_LIFETIME_S,
            "token_type": "Bearer",
            "scope": "api",
            "refresh_token": refresh,
            "access_token": access,
            "id_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.fake.fake",
        }

    def _routes(self) -> None:
        s = self.server
        s.route("GET", "/v1/oauth/authorize", self._authorize)
        s.route("POST", "/v1/oauth/token", self._token)
        s.route("GET", "/trader/v1/accounts/accountNumbers", self._guard(lambda r: Reply.json(self.numbers)))
        s.route("GET", "/trader/v1/accounts", self._guard(self._accounts))
        s.route("GET", "/trader/v1/accounts/(?P<hash>[^/]+)/transactions", self._guard(self._transactions))
        s.route("GET", "/trader/v1/accounts/(?P<hash>[^/]+)", self._guard(self._account))

    def _authorize(self, req: Request) -> Reply:
        if req.param("client_id") != CLIENT_ID or req.param("redirect_uri") != REDIRECT_URI:
            return Reply.text("<html><body>We are unable to complete your request.</body></html>", 400, "text/html")
        code = "C0.b2F1dGgyLmJkYy5zY2h3YWIuY29t." + secrets.token_urlsafe(24) + "@"
        with self._lock:
            self.codes.add(code)
            self.issued.append(code)
        query = f"code={quote(code, safe='')}&session={secrets.token_hex(8)}"
        if req.param("state") is not None:
            query += "&" + urlencode({"state": req.param("state")})
        return Reply(302, b"", {"Location": f"{REDIRECT_URI}/?{query}"})

    def _token(self, req: Request) -> Reply:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if req.headers.get("Authorization") != expected:
            return Reply.json({"error": "invalid_client", "error_description": "Unauthorized"}, 401)
        form = {k: v[0] for k, v in parse_qs(req.body.decode(), keep_blank_values=True).items()}
        grant = form.get("grant_type")
        with self._lock:
            if grant == "authorization_code":
                code = form.get("code", "")
                if code not in self.codes or form.get("redirect_uri") != REDIRECT_URI:
                    return Reply.json(
                        {
                            "error": "invalid_grant",
                            "error_description": "Bad authorization code: AuthorizationCode has expired",
                        },
                        400,
                    )
                self.codes.discard(code)
                refresh = "refresh-" + secrets.token_urlsafe(24) + "@"
                self.refresh_tokens.add(refresh)
            elif grant == "refresh_token":
                refresh = form.get("refresh_token", "")
                if refresh not in self.refresh_tokens:
                    digest = base64.b64encode(secrets.token_bytes(32)).decode()
                    inner = (
                        '{"error_description":"Exception while authenticating refresh token [tokenDigest='
                        f'{digest}, Exception=Failed refresh token authentication [tokenDigest={digest}]]",'
                        '"error":"refresh_token_authentication_error"}'
                    )
                    return Reply.json(
                        {"error": "unsupported_token_type", "error_description": f'400 Bad Request: "{inner}"'}, 400
                    )
                if self.rotate_refresh:
                    self.refresh_tokens.discard(refresh)
                    refresh = "refresh-" + secrets.token_urlsafe(24) + "@"
                    self.refresh_tokens.add(refresh)
            else:
                return Reply.json({"error": "unsupported_grant_type"}, 400)
            access = "I0.access-" + secrets.token_urlsafe(24) + "@"
            self.access_tokens[access] = datetime.now(UTC) + timedelta(seconds=ACCESS_LIFETIME_S)
            self.issued += [access, refresh]
        return Reply.json(self._token_body(access, refresh))

    def _guard(self, handler: Any) -> Any:
        def guarded(req: Request) -> Reply:
            auth = req.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ")
            with self._lock:
                expiry = self.access_tokens.get(token) if auth.startswith("Bearer ") else None
            if self.echo_token_in_401:
                return Reply.json(
                    {
                        "message": f"Unauthorized: Authorization: Bearer {token}",
                        "errors": [{"status": "401", "title": "Unauthorized",
                                    "detail": f"access_token={token} is not valid"}],
                        "request": {"access_token": token},
                    },
                    401,
                )
            if expiry is None or expiry <= datetime.now(UTC):
                return Reply.json(
                    {
                        "errors": [
                            {
                                "id": secrets.token_hex(8),
                                "status": "401",
                                "title": "Unauthorized",
                                "detail": "Client not authorized",
                            }
                        ]
                    },
                    401,
                )
            reply: Reply = handler(req)
            reply.headers.setdefault("Schwab-Client-CorrelId", secrets.token_hex(16))
            return reply

        return guarded

    def _with_fields(self, account: dict[str, Any], fields: str | None) -> dict[str, Any]:
        account = copy.deepcopy(account)
        if fields != "positions":
            account["securitiesAccount"].pop("positions", None)
        return account

    def _accounts(self, req: Request) -> Reply:
        return Reply.json([self._with_fields(a, req.param("fields")) for a in self.accounts])

    def _account(self, req: Request) -> Reply:
        assert req.match is not None
        number = next((n["accountNumber"] for n in self.numbers if n["hashValue"] == req.match["hash"]), None)
        for account in self.accounts:
            if account["securitiesAccount"]["accountNumber"] == number:
                return Reply.json(self._with_fields(account, req.param("fields")))
        return Reply.json({"message": "Invalid account number", "errors": ["account not found"]}, 400)

    def _transactions(self, req: Request) -> Reply:
        assert req.match is not None
        start, end, types = req.param("startDate"), req.param("endDate"), req.param("types")
        bad = [
            name
            for name, value in (("startDate", start), ("endDate", end))
            if value is None or not TIME_RX.match(value)
        ]
        if bad or not types:
            return Reply.json(
                {
                    "message": "Invalid request parameters",
                    "errors": [f"{n} is missing or malformed" for n in bad or ["types"]],
                },
                400,
            )
        assert start is not None
        assert end is not None
        start_ts, end_ts = _parse_time(start), _parse_time(end)
        if end_ts < start_ts or end_ts - start_ts > timedelta(days=366):
            return Reply.json({"message": "Date range is invalid", "errors": ["maximum date range is 1 year"]}, 400)
        if req.match["hash"] not in self.transactions:
            return Reply.json({"message": "Invalid account number", "errors": ["account not found"]}, 400)
        wanted = set(types.split(","))
        found = [
            tx
            for tx in self.transactions[req.match["hash"]]
            if tx["type"] in wanted and start_ts <= _tx_time(tx) <= end_ts
        ]
        found.sort(key=_tx_time, reverse=True)  # newest first, as Schwab returns them
        return Reply.json(found[: self.max_transactions])


def _verify(ca_path: str | None) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=ca_path) if ca_path else True


def redirect_code(location: str) -> str:
    """The raw (still percent-encoded) code in a redirect Location, for assertions."""
    query = urlsplit(location).query
    return next(part.split("=", 1)[1] for part in query.split("&") if part.startswith("code="))


# --- wiring the real source to this fake (shared by unit, integration and end-to-end tests) -------------------
def seed_tokens(
    fake: FakeSchwab,
    token_path: Any,
    *,
    access_expires_in: timedelta = timedelta(minutes=25),
    issued_ago: timedelta = timedelta(hours=1),
) -> dict[str, Any]:
    """Write a token file as ``auth schwab`` would, with tokens the fake accepts; returns the token body."""
    from portfolio_dashboard.local.schwab_tokens import TokenSet, TokenStore

    body = fake.issue_tokens()
    now = datetime.now(UTC)
    TokenStore(token_path).save(
        TokenSet(
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
            expires_at=now + access_expires_in,
            refresh_token_issued_at=now - issued_ago,
        )
    )
    return body


def build_source(fake: FakeSchwab, token_path: Any, **source_kwargs: Any) -> Any:
    """A ``SchwabSource`` pointed at the fake: fast retries, no real sleeping, TLS verified against its CA."""
    import httpx

    from portfolio_dashboard.brokers.http import RetryPolicy
    from portfolio_dashboard.brokers.schwab import SchwabSource
    from portfolio_dashboard.brokers.schwab_auth import SchwabOAuth
    from portfolio_dashboard.local.schwab_tokens import TokenStore

    client = httpx.Client(verify=_verify(fake.ca_path), timeout=5.0)
    policy = RetryPolicy(max_attempts=3, initial_wait=0.0, max_wait=0.0, max_total=5.0)
    oauth = SchwabOAuth(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        redirect_uri=REDIRECT_URI,
        base_url=fake.base_url,
        store=TokenStore(token_path),
        client=client,
        sleep=lambda s: None,
        policy=policy,
    )
    kwargs: dict[str, Any] = {"sleep": lambda s: None, "policy": policy, "rate_per_s": 1000.0, **source_kwargs}
    return SchwabSource(oauth=oauth, base_url=fake.base_url, client=client, **kwargs)

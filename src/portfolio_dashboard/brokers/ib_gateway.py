"""The ``ib_gateway`` source: IBKR's Client Portal Web API gateway (``clientportal.gw``) on the user's machine.

The user logs in on the gateway's web page (with two-factor authentication); the gateway holds the session and
we store no credentials. We read every account it lists over HTTPS at ``<gateway>/v1/api``:

1. ``POST /iserver/auth/status`` — not authenticated (or 401, or nothing listening) stops the capture with an
   auth/network error telling the user to log in at the gateway URL. ``POST /tickle`` then and every
   ``tickle_interval_s`` (IBKR: about once a minute) during a long capture keeps the session alive.
2. ``GET /portfolio/accounts`` — IBKR requires it before any other ``/portfolio`` endpoint.
3. Per account: ``/positions/{page}`` from 0 until an empty page (re-read once, after a short wait, when the
   first read is *thin*: rows without ticker or name), ``/summary`` and ``/ledger``.
4. ``GET /trsrv/secdef?conids=...`` for rows still lacking ticker/name/exchange/asset class/currency, and
   ``GET /iserver/exchangerate`` for a non-GBP base to GBP and for currencies without a ledger rate. Both are
   enrichment: a failure there (other than auth) is logged and the capture continues.

Pacing follows IBKR's documented limits: 10 requests/s for the CP gateway (we use 9), one
``/portfolio/accounts`` per 5 s, one ``/tickle`` per second. 429 and 503 are retried with backoff; 401 and
"no bridge" are auth errors. Every response goes to ``record`` (the tickle's session id masked).
"""

from __future__ import annotations

import json
import logging
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

import httpx

from portfolio_dashboard.brokers.base import FetchContext, Recorder, SourceHealth
from portfolio_dashboard.brokers.http import BrokerHttp, Pacer, RetryPolicy, parse_retry_after
from portfolio_dashboard.brokers.ib_gateway_fetch import FetchOptions, GatewayFetch
from portfolio_dashboard.brokers.ib_gateway_parse import PARSER_VERSION, parse_responses
from portfolio_dashboard.brokers.ib_gateway_payloads import BROKER, SOURCE, account_ids, load_json, require_dict
from portfolio_dashboard.config import Settings, is_loopback_host, mask_url_password
from portfolio_dashboard.domain import ParseResult, RawResponse
from portfolio_dashboard.errors import (
    AuthError,
    ConfigError,
    NetworkError,
    RateLimitError,
    SourceError,
    ValidationError,
)

log = logging.getLogger(__name__)

API_PREFIX = "/v1/api"
# IBKR: "Users making requests via the CP Gateway tool are restricted to 10 requests per second", plus
# per-endpoint limits. Keys are matched as substrings of the request path.
GATEWAY_RATE_PER_S = 9.0
PER_PATH_INTERVAL_S = {"/portfolio/accounts": 5.0, "/portfolio/subaccounts": 5.0, "/tickle": 1.0}
AUTH_MARKERS = ("no bridge", "not authenticated", "unauthorized", "not logged in")
ERROR_KEYS = frozenset({"error", "statusCode", "message"})


@dataclass(frozen=True, slots=True)
class Hints:
    """What the user can do, phrased for the gateway at ``url``."""

    url: str

    @property
    def login(self) -> str:
        return (
            f"log in to the IBKR Client Portal gateway at {self.url} (open it in a browser and complete "
            "two-factor authentication), then retry"
        )

    @property
    def not_running(self) -> str:
        return (
            f"no IBKR Client Portal gateway answered at {self.url}; start it (bin/run.sh root/conf.yaml), "
            f"log in at {self.url}, then retry — or check IB_GATEWAY_URL"
        )

    @property
    def busy(self) -> str:
        return "the gateway is busy or restarting (IBKR resets it nightly around 01:00 local); retry shortly"


def _mask_session(raw: RawResponse) -> RawResponse:
    """The tickle answer carries the gateway's session id; store the response without it."""
    body = raw.json_or_none()
    if isinstance(body, dict) and "session" in body:
        body["session"] = "***"
        return replace(raw, body=json.dumps(body).encode())
    return raw


class IbGatewaySource:
    name = SOURCE
    broker = BROKER
    parser_version = PARSER_VERSION

    def __init__(
        self,
        base_url: str,
        *,
        verify: bool | str = True,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        retry_policy: RetryPolicy | None = None,
        rate_per_s: float = GATEWAY_RATE_PER_S,
        tickle_interval_s: float = 60.0,
        thin_reread_wait_s: float = 2.0,
        accounts_cache_s: float = 60.0,
        report_currency: str = "GBP",
    ) -> None:
        root = base_url.strip().rstrip("/")
        if root.endswith(API_PREFIX):
            root = root[: -len(API_PREFIX)]
        self.gateway_url = root
        self.api_url = root + API_PREFIX
        self.hints = Hints(mask_url_password(root))
        self.retries = 0
        self._verify = verify
        self._ssl = self._ssl_verify()  # a bad IB_GATEWAY_VERIFY fails here, as a config error, not mid-capture
        self._client = client
        self._transport = transport
        self._timeout_s = timeout_s
        self._sleep = sleep
        self._clock = clock
        self._policy = retry_policy or RetryPolicy()
        self._pacer = Pacer(rate_per_s, PER_PATH_INTERVAL_S, clock=clock, sleep=sleep)
        self.tickle_interval_s = tickle_interval_s
        self.thin_reread_wait_s = thin_reread_wait_s
        self._accounts_cache_s = accounts_cache_s
        self._accounts_cache: tuple[float, list[str]] | None = None
        self.report_currency = report_currency

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        url = settings.resolved_ib_gateway_url
        if not url:
            raise ConfigError(
                "the IBKR Client Portal gateway URL is not configured",
                hint="set IB_GATEWAY_URL=https://127.0.0.1:5000 (or IB_HOST and IB_GATEWAY_PORT)",
            )
        return cls(url, verify=settings.ib_gateway_tls_verify, report_currency=settings.base_currency)

    # --- HTTP plumbing -------------------------------------------------------------------------------------
    def _ssl_verify(self) -> bool | ssl.SSLContext:
        if self._verify is False and not is_loopback_host(urlsplit(self.gateway_url).hostname):
            # The gateway's self-signed certificate is why verification may be skipped at all; that is only
            # safe when the connection never leaves this machine.
            raise ConfigError(
                f"TLS verification can only be turned off for a gateway on this machine, not {self.hints.url}",
                hint="set IB_GATEWAY_VERIFY to the gateway's certificate or CA file (PEM), or run the gateway locally",
            )
        if isinstance(self._verify, bool):
            return self._verify
        path = Path(self._verify).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"IB_GATEWAY_VERIFY points to {path}, which is not a file",
                hint="give the gateway's CA or certificate file (PEM), or true/false",
            )
        try:
            return ssl.create_default_context(cafile=str(path))
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(
                f"cannot load a certificate from {path}: {exc}", hint="IB_GATEWAY_VERIFY must name a PEM file"
            ) from None

    @contextmanager
    def _http_client(self, timeout_s: float) -> Iterator[httpx.Client]:
        if self._client is not None:
            yield self._client
            return
        client = httpx.Client(
            verify=self._ssl,
            transport=self._transport,
            timeout=httpx.Timeout(timeout_s, connect=min(5.0, timeout_s)),
            headers={"User-Agent": "portfolio-dashboard/0.1"},
        )
        try:
            yield client
        finally:
            client.close()

    def _broker_http(self, client: httpx.Client, record: Recorder | None, policy: RetryPolicy) -> BrokerHttp:
        recorder = (lambda raw: record(_mask_session(raw))) if record is not None else None
        return BrokerHttp(
            source=SOURCE,
            broker=BROKER,
            client=client,
            record=recorder,
            pacer=self._pacer,
            policy=policy,
            classify=self._classify,
            sleep=self._sleep,
        )

    def _classify(self, response: httpx.Response, raw: RawResponse) -> SourceError | None:
        status = response.status_code
        body = raw.json_or_none()
        message = body.get("error") if isinstance(body, dict) else None
        message = message if isinstance(message, str) else None
        auth_like = message is not None and any(m in message.lower() for m in AUTH_MARKERS)
        endpoint = raw.endpoint
        if status in (401, 403) or auth_like:
            detail = f": {message}" if message else ""
            return AuthError(
                f"the gateway is not logged in (HTTP {status}{detail})",
                source=SOURCE,
                endpoint=endpoint,
                status_code=status,
                hint=self.hints.login,
            )
        if status == 429:
            return RateLimitError(
                "the gateway is rate limiting (HTTP 429)",
                source=SOURCE,
                endpoint=endpoint,
                status_code=status,
                hint=self.hints.busy,
                retry_after=parse_retry_after(response.headers.get("retry-after")),
            )
        if status >= 500:
            return NetworkError(
                f"the gateway is unavailable (HTTP {status})",
                source=SOURCE,
                endpoint=endpoint,
                status_code=status,
                hint=self.hints.busy,
            )
        if 200 <= status < 300 and message is not None and isinstance(body, dict) and set(body) <= ERROR_KEYS:
            # A 200 whose whole body is {"error": ...}: the gateway refused without saying so in the status.
            return ValidationError(
                f"the gateway answered with an error: {message[:200]}",
                source=SOURCE,
                endpoint=endpoint,
                status_code=status,
                hint=self.hints.busy,
            )
        return None

    # --- BrokerSource --------------------------------------------------------------------------------------
    def fetch(self, record: Recorder, ctx: FetchContext) -> None:
        with self._http_client(self._timeout_s) as client:
            http = self._broker_http(client, record, self._policy)
            # The first contact decides "not running" vs "not logged in": two attempts, not a long backoff.
            probe = self._broker_http(client, record, replace(self._policy, max_attempts=2, max_total=10.0))
            options = FetchOptions(
                self.api_url,
                self.hints.login,
                self._clock,
                self._sleep,
                self.tickle_interval_s,
                self.thin_reread_wait_s,
                self.report_currency,
            )
            run = GatewayFetch(options, http, probe)
            try:
                run.run()
                self._accounts_cache = (self._clock(), run.accounts)
            except SourceError as exc:
                if exc.hint is None:
                    exc.hint = self.hints.not_running if isinstance(exc, NetworkError) else self.hints.login
                raise
            finally:
                self.retries += http.retries + probe.retries

    def parse(self, raws: Sequence[RawResponse]) -> ParseResult:
        return parse_responses(raws)

    def health(self) -> SourceHealth:
        """One auth-status call (plus ``/portfolio/accounts`` at most once a minute): cheap enough to poll."""
        status = SourceHealth(source=SOURCE, reachable=False, authenticated=False, detail="", login_url=self.hints.url)
        try:
            with self._http_client(min(self._timeout_s, 5.0)) as client:
                http = self._broker_http(client, None, self._policy)
                raw = http.request("POST", f"{self.api_url}/iserver/auth/status", retry=False)
                status.reachable = True
                body = require_dict(load_json(raw), raw.endpoint, "auth status")
                status.authenticated = body.get("authenticated") is True
                if not status.authenticated:
                    competing = " (another IBKR session is competing)" if body.get("competing") else ""
                    status.detail = f"gateway running but not logged in{competing}; {self.hints.login}"
                    return status
                status.accounts = self._cached_accounts(http)
                status.detail = f"logged in; {len(status.accounts)} account(s)"
        except NetworkError as exc:
            status.reachable = exc.status_code is not None
            status.detail = exc.user_message() if exc.status_code else f"{exc.message} — {self.hints.not_running}"
        except AuthError:
            status.reachable = True
            status.detail = f"gateway running but not logged in; {self.hints.login}"
        except SourceError as exc:
            status.reachable = True
            status.detail = exc.user_message()
        return status

    def _cached_accounts(self, http: BrokerHttp) -> list[str]:
        now = self._clock()
        if self._accounts_cache is not None and now - self._accounts_cache[0] < self._accounts_cache_s:
            return list(self._accounts_cache[1])
        raw = http.request("GET", f"{self.api_url}/portfolio/accounts", retry=False)
        accounts = account_ids(load_json(raw), raw.endpoint)
        self._accounts_cache = (now, accounts)
        return accounts

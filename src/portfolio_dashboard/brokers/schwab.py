"""The ``schwab`` source: Charles Schwab's Trader API (``https://api.schwabapi.com``).

fetch, in order (every response recorded as it arrives):

1. ``GET /trader/v1/accounts/accountNumbers`` — account number -> hash; the hash goes in every account path.
2. ``GET /trader/v1/accounts?fields=positions`` — every account's positions and balances in one response.
3. ``GET /trader/v1/accounts/{hash}/transactions?types=TRADE&startDate=..&endDate=..`` per account — the
   first capture backfills a year, later ones start a week before the newest stored trade (trades are
   idempotent on Schwab's activity id, so the overlap only re-reads). Schwab allows at most a year per
   request and 3000 transactions per response: longer spans are split, a full response is halved.
4. The same endpoint with ``types=`` every money-moving type (:data:`schwab_transactions.FETCH_TYPES`) per
   account, from a week before the newest stored flow, or on the first capture from
   ``SCHWAB_HISTORY_START`` (else a year back), to now, in windows of at most a year — each window's
   response recorded as its own raw. Flows are idempotent on the activity id too.

Requests are paced under Schwab's ~120 per minute; 429 and 5xx are retried by ``BrokerHttp``. A 401 on a
data call refreshes the access token once and repeats the call (Schwab can revoke a token before its 30
minutes are up). Tokens never reach a recorder: they travel in the ``Authorization`` header, which
``BrokerHttp`` does not keep, and the token calls are made with ``record=False``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, Self

import httpx

from portfolio_dashboard.brokers.base import FetchContext, Recorder, SourceHealth
from portfolio_dashboard.brokers.http import BrokerHttp, Pacer, RetryPolicy
from portfolio_dashboard.brokers.schwab_auth import SchwabOAuth, TokenStatus, oauth_from_settings
from portfolio_dashboard.brokers.schwab_parse import account_numbers, parse_responses
from portfolio_dashboard.brokers.schwab_transactions import FETCH_TYPES
from portfolio_dashboard.config import DEFAULT_SCHWAB_URL, Settings
from portfolio_dashboard.domain import ParseResult, RawResponse
from portfolio_dashboard.errors import AuthError, ConfigError, SourceError, ValidationError, scrub_secrets
from portfolio_dashboard.local.schwab_tokens import AUTH_HINT

ACCOUNT_NUMBERS = "/trader/v1/accounts/accountNumbers"
ACCOUNTS = "/trader/v1/accounts"
RATE_PER_S = 110 / 60  # Schwab allows about 120 requests a minute; stay a little under
BACKFILL = timedelta(days=365)
MAX_WINDOW = timedelta(days=365)  # "maximum date range is 1 year"
OVERLAP = timedelta(days=7)  # re-read the last week: a pending trade may have become valid since
MAX_TRANSACTIONS = 3000  # Schwab's cap per transactions response
MIN_SPLIT = timedelta(hours=1)


def schwab_time(when: datetime) -> str:
    """``2024-03-28T21:10:42.000Z`` — the ISO-8601 form with milliseconds Schwab documents."""
    utc = when.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def spans(start: datetime, now: datetime) -> list[tuple[datetime, datetime]]:
    """``[start, now)`` cut into consecutive spans of at most ``MAX_WINDOW`` (Schwab's limit per request)."""
    windows = []
    while start < now:
        end = min(start + MAX_WINDOW, now)
        windows.append((start, end))
        start = end
    return windows


def trade_windows(newest: datetime | None, now: datetime) -> list[tuple[datetime, datetime]]:
    """The ``[start, end)`` spans to ask for, each at most a year."""
    start = now - BACKFILL if newest is None else min(newest - OVERLAP, now - OVERLAP)
    return spans(start, now)


def flow_windows(newest: datetime | None, now: datetime, history_start: date | None) -> list[tuple[datetime, datetime]]:
    """The ``[start, end)`` spans for flows: from the newest stored flow (less an overlap), else the
    configured history start, else a year back — each span at most a year (Schwab's limit)."""
    if newest is not None:
        start = min(newest - OVERLAP, now - OVERLAP)
    elif history_start is not None:
        start = min(datetime.combine(history_start, datetime.min.time(), tzinfo=UTC), now - OVERLAP)
    else:
        start = now - BACKFILL
    return spans(start, now)


def _message(body: Any) -> str:
    """Schwab's error text: ``{"message", "errors": [..]}`` or ``{"errors": [{"title", "detail"}]}``."""
    if not isinstance(body, dict):
        return ""
    parts: list[str] = []
    if isinstance(body.get("message"), str):
        parts.append(body["message"])
    errors = body.get("errors")
    for err in errors if isinstance(errors, list) else []:
        if isinstance(err, str):
            parts.append(err)
        elif isinstance(err, dict):
            parts.extend(str(err[k]) for k in ("title", "detail") if isinstance(err.get(k), str))
    return scrub_secrets("; ".join(parts))[:200]


def classify(response: httpx.Response, raw: RawResponse) -> SourceError | None:
    status = response.status_code
    if status < 400 or status == 429 or status >= 500:
        return None  # success, or the shared (retried) mapping
    text = _message(raw.json_or_none())
    suffix = f": {text}" if text else ""
    if status == 401:
        return AuthError(
            f"Schwab rejected the access token (HTTP 401{suffix})",
            source="schwab",
            endpoint=raw.endpoint,
            status_code=status,
            hint=AUTH_HINT,
        )
    if status == 403:
        return AuthError(
            f"Schwab refused access (HTTP 403{suffix})",
            source="schwab",
            endpoint=raw.endpoint,
            status_code=status,
            hint=f"check that your Schwab app includes the 'Accounts and Trading Production' product, then {AUTH_HINT}",
        )
    return ValidationError(
        f"Schwab rejected the request (HTTP {status}{suffix})",
        source="schwab",
        endpoint=raw.endpoint,
        status_code=status,
        hint="this is a bug in the request we sent or a change at Schwab; the response is kept in raw_payloads",
    )


class SchwabSource:
    name = "schwab"
    broker = "schwab"
    parser_version = "schwab-2"  # 2: symbol identity, option multiplier, coverage

    def __init__(
        self,
        *,
        oauth: SchwabOAuth,
        base_url: str = DEFAULT_SCHWAB_URL,
        client: httpx.Client,
        sleep: Callable[[float], None] = time.sleep,
        policy: RetryPolicy | None = None,
        rate_per_s: float = RATE_PER_S,
        max_transactions: int = MAX_TRANSACTIONS,
        history_start: date | None = None,
    ) -> None:
        self.oauth = oauth
        self.base_url = base_url.rstrip("/")
        self.client = client
        self.sleep = sleep
        self.policy = policy or RetryPolicy()
        self.pacer = Pacer(rate_per_s, sleep=sleep)
        self.max_transactions = max_transactions
        self.history_start = history_start
        self.retries = 0
        # Set by fetch and health: how long the Schwab login (refresh token) has left, for run summaries.
        self.credential_expires_in_s: float | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        client = httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0), headers={"Accept": "application/json"})
        try:
            oauth = oauth_from_settings(settings, client=client)  # ConfigError without app key and secret
        except ConfigError:
            client.close()
            raise
        return cls(
            oauth=oauth,
            base_url=settings.schwab_api_base_url,
            client=client,
            history_start=settings.schwab_history_start,
        )

    # --- fetch ------------------------------------------------------------------------------------------
    def _http(self, record: Recorder | None, policy: RetryPolicy | None = None) -> BrokerHttp:
        return BrokerHttp(
            source=self.name,
            broker=self.broker,
            client=self.client,
            record=record,
            pacer=self.pacer,
            policy=policy or self.policy,
            classify=classify,
            sleep=self.sleep,
        )

    def _get(self, http: BrokerHttp, path: str, params: dict[str, str] | None = None) -> RawResponse:
        """GET with the current access token; on a 401, refresh once and repeat."""
        token = self.oauth.access_token()
        try:
            return http.request("GET", self.base_url + path, params=params, headers=_bearer(token))
        except AuthError as exc:
            if exc.status_code != 401:
                raise
        token = self.oauth.access_token(rejected=token)
        return http.request("GET", self.base_url + path, params=params, headers=_bearer(token))

    def fetch(self, record: Recorder, ctx: FetchContext) -> None:
        http = self._http(record)
        try:
            numbers = account_numbers(self._get(http, ACCOUNT_NUMBERS))
            self._get(http, ACCOUNTS, {"fields": "positions"})
            for number, account_hash in numbers:
                for start, end in trade_windows(ctx.newest_trade_ts(self.broker, number), ctx.now):
                    self._transactions(http, account_hash, start, end)
                newest_flow = ctx.newest_flow_ts(self.broker, number)
                for start, end in flow_windows(newest_flow, ctx.now, self.history_start):
                    self._transactions(http, account_hash, start, end, ",".join(FETCH_TYPES))
        finally:
            self.retries += http.retries + self.oauth.http.retries
            self.oauth.http.retries = 0
            self._update_credential_left()

    def _transactions(
        self, http: BrokerHttp, account_hash: str, start: datetime, end: datetime, types: str = "TRADE"
    ) -> None:
        params = {"startDate": schwab_time(start), "endDate": schwab_time(end), "types": types}
        raw = self._get(http, f"{ACCOUNTS}/{account_hash}/transactions", params)
        body = raw.json_or_none()  # a malformed body is parse's to report; only its length matters here
        if isinstance(body, list) and len(body) >= self.max_transactions and end - start > MIN_SPLIT:
            # A full page may be truncated: ask for each half (the duplicates are dropped by trade id).
            middle = start + (end - start) / 2
            self._transactions(http, account_hash, start, middle, types)
            self._transactions(http, account_hash, middle, end, types)

    def parse(self, raws: Sequence[RawResponse]) -> ParseResult:
        return parse_responses(raws)

    def close(self) -> None:
        """Release the HTTP connections (the engine calls this after a capture)."""
        self.client.close()

    # --- status -----------------------------------------------------------------------------------------
    def _update_credential_left(self) -> TokenStatus:
        status = self.oauth.status()
        self.credential_expires_in_s = status.refresh_expires_in_s
        return status

    def credential_note(self) -> str | None:
        """One line for ``status`` and the capture summary: how long the Schwab login has left."""
        return self._update_credential_left().describe()

    def health(self) -> SourceHealth:
        status = self._update_credential_left()
        health = SourceHealth(
            source=self.name,
            reachable=False,
            authenticated=False,
            detail=status.describe(),
            credential_expires_in_s=status.refresh_expires_in_s,
        )
        if not status.usable:
            return health
        http = self._http(None, RetryPolicy(max_attempts=1))
        try:
            raw = self._get(http, ACCOUNT_NUMBERS)
            health.accounts = [number for number, _ in account_numbers(raw)]
        except AuthError as exc:
            health.reachable = exc.status_code is not None
            health.detail = exc.user_message()
            return health
        except SourceError as exc:
            health.reachable = exc.category not in ("network",)
            health.authenticated = health.reachable
            health.detail = f"{exc.user_message()} ({status.describe()})"
            return health
        health.reachable = health.authenticated = True
        self._update_credential_left()
        health.credential_expires_in_s = self.credential_expires_in_s
        return health


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}

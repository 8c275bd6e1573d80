"""Interactive Brokers through the Flex Web Service: the unattended path (a token, no browser login).

``fetch`` runs IBKR's two-step protocol: ``SendRequest`` (token + query id -> a reference code and the URL
to fetch from), then ``GetStatement`` polled with a bounded backoff while IBKR answers "statement
generation in progress" (1019) or "server busy". Throttling (1018) is retried by the HTTP layer after a
pause. ``parse`` reads the recorded statement (see :mod:`ib_flex_statement`).

Secrets: the token travels as the ``t`` query parameter. Endpoint labels redact it, and every recorded
body has it replaced by ``***`` in case IBKR echoes it.

IBKR documents a per-token limit (one request a second, a handful a minute); the pacer keeps to one a second
and a capture makes three to a few dozen requests.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Self
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from pydantic import SecretStr

from portfolio_dashboard.brokers.base import FetchContext, Recorder, SourceHealth
from portfolio_dashboard.brokers.http import BrokerHttp, Pacer, RetryPolicy
from portfolio_dashboard.brokers.ib_flex_protocol import (
    SOURCE,
    FlexNotReadyError,
    make_classifier,
    read_xml,
    status_response,
)
from portfolio_dashboard.brokers.ib_flex_statement import BROKER, parse_flex
from portfolio_dashboard.config import DEFAULT_FLEX_URL, Settings
from portfolio_dashboard.domain import ParseResult, RawResponse
from portfolio_dashboard.errors import AuthError, ConfigError, NetworkError, ParsingError, SourceError

# IBKR requires a User-Agent naming the technology and version ("Java/1.8", "Python/3.4.1").
USER_AGENT = f"Python/{sys.version_info.major}.{sys.version_info.minor} portfolio-dashboard"
FLEX_VERSION = "3"


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How long to wait for IBKR to generate a statement: growing pauses inside a bounded total."""

    first_wait: float = 1.0  # before the first GetStatement, on top of the one-second pacing
    initial_wait: float = 3.0
    factor: float = 1.6
    max_wait: float = 30.0
    max_total: float = 240.0
    max_polls: int = 30


class IbFlexSource:
    name = "ib_flex"
    broker = BROKER
    # 2: zoned date-times, row status and per-row ids (transactionID first), FX conversions apart, coverage
    parser_version = "2"

    def __init__(
        self,
        token: str | SecretStr,
        query_id: str,
        base_url: str = DEFAULT_FLEX_URL,
        *,
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        verify: bool | str = True,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        poll: PollPolicy | None = None,
        retry: RetryPolicy | None = None,
        rate_per_s: float = 1.0,
        zone: str = "America/New_York",
    ) -> None:
        self._zone = _zone(zone)
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)
        if not self._token.get_secret_value().strip() or not str(query_id).strip():
            raise ConfigError("the Flex token and query id must not be empty")
        self.query_id = str(query_id).strip()
        self.base_url = base_url.rstrip("/")
        self._client = client or httpx.Client(
            transport=transport, verify=verify, timeout=timeout, headers={"User-Agent": USER_AGENT}
        )
        self._sleep = sleep
        self._clock = clock
        self.poll = poll or PollPolicy()
        self.retry_policy = retry or RetryPolicy(max_attempts=4, initial_wait=2.0, max_wait=30.0, max_total=90.0)
        self._pacer = Pacer(rate_per_s, clock=clock, sleep=sleep)
        self.retries = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        if settings.ib_flex_token is None or not settings.ib_flex_query_id:
            raise ConfigError(
                "the ib_flex source needs IB_FLEX_TOKEN and IB_FLEX_QUERY_ID",
                hint="create an Activity Flex Query (XML) and a Flex Web Service token in Client Portal",
            )
        return cls(
            settings.ib_flex_token,
            settings.ib_flex_query_id,
            settings.ib_flex_base_url,
            zone=settings.ib_flex_timezone,
        )

    def __repr__(self) -> str:
        return f"IbFlexSource(query_id={self.query_id!r}, base_url={self.base_url!r})"

    # --- fetch ---------------------------------------------------------------------------------------------
    def _http(self, record: Recorder | None) -> BrokerHttp:
        token = self._token.get_secret_value()
        scrubbed: Recorder | None = None
        if record is not None:
            sink = record

            def scrubbed(raw: RawResponse) -> None:
                sink(_scrub(raw, token))

        return BrokerHttp(
            source=SOURCE,
            broker=BROKER,
            client=self._client,
            record=scrubbed,
            pacer=self._pacer,
            policy=self.retry_policy,
            classify=make_classifier(token),
            redact_params=frozenset({"t"}),
            sleep=self._sleep,
        )

    def _params(self, q: str) -> dict[str, str]:
        return {"t": self._token.get_secret_value(), "q": q, "v": FLEX_VERSION}

    def _get(self, http: BrokerHttp, url: str, q: str) -> RawResponse:
        return http.request("GET", url, params=self._params(q), headers={"User-Agent": USER_AGENT})

    def _send_request(self, http: BrokerHttp, *, poll: bool = True) -> tuple[str, str]:
        """Step 1: the reference code and the URL to fetch the statement from."""
        url = f"{self.base_url}/SendRequest"
        raw = self._polled(lambda: self._get(http, url, self.query_id)) if poll else self._get(http, url, self.query_id)
        status = status_response(read_xml(raw.body, endpoint=raw.endpoint))
        if not status.reference_code:
            raise ParsingError("SendRequest succeeded without a ReferenceCode", source=SOURCE, endpoint=raw.endpoint)
        return status.reference_code, self._statement_url(status.url)

    def _statement_url(self, url: str | None) -> str:
        """IBKR's ``Url``, trusted only on IBKR's domain or our configured host (the token goes there)."""
        fallback = f"{self.base_url}/GetStatement"
        if not url:
            return fallback
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        ours = (urlsplit(self.base_url).hostname or "").lower()
        trusted = host == ours or host == "interactivebrokers.com" or host.endswith(".interactivebrokers.com")
        if parts.scheme not in ("https", "http") or not trusted or (parts.scheme == "http" and host != ours):
            return fallback
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))

    def _polled(self, call: Callable[[], RawResponse]) -> RawResponse:
        """Repeat ``call`` while IBKR says the statement is not ready, with growing pauses, bounded."""
        started = self._clock()
        wait = self.poll.initial_wait
        for attempt in range(1, self.poll.max_polls + 1):
            try:
                return call()
            except FlexNotReadyError as exc:
                elapsed = self._clock() - started
                if attempt >= self.poll.max_polls or elapsed + wait > self.poll.max_total:
                    raise NetworkError(
                        f"IBKR had not finished the Flex statement after {attempt} tries ({elapsed:.0f} s): "
                        f"{exc.message}",
                        source=SOURCE,
                        endpoint=exc.endpoint,
                        hint="IBKR is busy; the next scheduled capture will try again",
                    ) from None
                self.retries += 1
                self._sleep(wait)
                wait = min(wait * self.poll.factor, self.poll.max_wait)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def fetch(self, record: Recorder, ctx: FetchContext) -> None:
        http = self._http(record)
        try:
            reference, url = self._send_request(http)
            # IBKR needs a moment between the two steps; asking at once mostly earns a 1019.
            self._sleep(self.poll.first_wait)
            self._polled(lambda: self._get(http, url, reference))
        finally:
            self.retries += http.retries

    # --- parse ---------------------------------------------------------------------------------------------
    def parse(self, raws: Sequence[RawResponse]) -> ParseResult:
        return parse_flex(raws, zone=self._zone)

    # --- health --------------------------------------------------------------------------------------------
    def health(self) -> SourceHealth:
        """One ``SendRequest``: it proves the token and query are accepted without fetching the statement."""
        http = self._http(None)
        http.policy = RetryPolicy(max_attempts=1)
        try:
            self._send_request(http, poll=False)
        except AuthError as exc:
            return SourceHealth(self.name, reachable=True, authenticated=False, detail=exc.user_message())
        except FlexNotReadyError as exc:  # IBKR answered: busy, but the token was not refused
            return SourceHealth(self.name, reachable=True, authenticated=True, detail=exc.user_message())
        except NetworkError as exc:
            return SourceHealth(self.name, reachable=False, authenticated=False, detail=exc.user_message())
        except SourceError as exc:
            return SourceHealth(self.name, reachable=True, authenticated=True, detail=exc.user_message())
        return SourceHealth(self.name, reachable=True, authenticated=True, detail="Flex token and query accepted")

    def close(self) -> None:
        self._client.close()


def _scrub(raw: RawResponse, token: str) -> RawResponse:
    """The response with any echo of the token replaced, so it is never stored."""
    secret = token.encode()
    if not secret or secret not in raw.body:
        return raw
    return replace(raw, body=raw.body.replace(secret, b"***"))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"IB_FLEX_TIMEZONE {name!r} is not a time zone", hint="use an IANA name such as America/New_York"
        ) from None

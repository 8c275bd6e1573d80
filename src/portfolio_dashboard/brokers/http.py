"""The HTTP layer every broker source shares: pacing, bounded retries, error mapping, raw recording.

Why one layer: each broker documents the same failure shapes (401, 429 with ``Retry-After``, 5xx, refused
connections) and the capture engine needs them categorised the same way and every response kept. Sources
pass a ``classify`` hook for broker-specific bodies (e.g. IBKR's ``{"error": "no bridge"}`` with 200).
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt, stop_after_delay

from portfolio_dashboard.brokers.base import Recorder
from portfolio_dashboard.brokers.deadline import Deadline, current_deadline
from portfolio_dashboard.domain import RawResponse
from portfolio_dashboard.errors import (
    AuthError,
    DeadlineError,
    NetworkError,
    RateLimitError,
    SourceError,
    ValidationError,
    scrub_secrets,
)

log = logging.getLogger(__name__)

# Query parameters that carry a secret in some broker's API (the Flex token travels as ``t``).
SECRET_PARAMS = frozenset({"t", "token", "access_token", "refresh_token", "client_secret", "code", "password"})


def redact_url(url: httpx.URL | str) -> str:
    """``url`` with the values of secret query parameters replaced by ``***``."""
    parsed = httpx.URL(str(url))
    if not parsed.query:
        return str(parsed)
    query = "&".join(f"{k}={'***' if k.lower() in SECRET_PARAMS else v}" for k, v in parsed.params.multi_items())
    return str(parsed.copy_with(query=None)) + "?" + query


class RedactUrls(logging.Filter):
    """httpx logs every request at INFO as ``HTTP Request: GET <url> ...``; with a Flex token in the URL that
    line would carry the token to whoever reads the logs at INFO. Mask it before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_url(a) if isinstance(a, httpx.URL) else a for a in record.args)
        return True


_REDACT_URLS = RedactUrls()
logging.getLogger("httpx").addFilter(_REDACT_URLS)

SAFE_HEADERS = ("date", "content-type", "retry-after", "x-request-id", "schwab-client-correlid")
USER_AGENT = "portfolio-dashboard/0.1 (+https://github.com/)"

Classifier = Callable[[httpx.Response, RawResponse], SourceError | None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter inside a bounded total time."""

    max_attempts: int = 5
    initial_wait: float = 0.5
    max_wait: float = 8.0
    max_total: float = 45.0


class Pacer:
    """Keeps a source under a broker's documented request rate (thread-safe).

    ``rate_per_s`` bounds all requests; ``per_path`` gives a minimum interval in seconds for paths that
    contain a key (IBKR allows one ``/portfolio/accounts`` per 5 s, for example).
    """

    def __init__(
        self,
        rate_per_s: float,
        per_path: Mapping[str, float] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.min_interval = 1.0 / rate_per_s if rate_per_s > 0 else 0.0
        self.per_path = dict(per_path or {})
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_any = 0.0
        self._next_path: dict[str, float] = {}

    def wait(self, path: str) -> None:
        with self._lock:
            now = self._clock()
            due = self._next_any
            for key in self.per_path:
                if key in path:
                    due = max(due, self._next_path.get(key, 0.0))
            delay = max(0.0, due - now)
            start = now + delay
            self._next_any = start + self.min_interval
            for key, interval in self.per_path.items():
                if key in path:
                    self._next_path[key] = start + interval
        if delay > 0:
            self._sleep(delay)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def default_classify(source: str, response: httpx.Response, endpoint: str) -> SourceError | None:
    status = response.status_code
    if 200 <= status < 300:
        return None
    if status in (401, 403):
        return AuthError(f"HTTP {status} from broker", source=source, endpoint=endpoint, status_code=status)
    if status == 429:
        return RateLimitError(
            "rate limited (HTTP 429)",
            source=source,
            endpoint=endpoint,
            status_code=status,
            retry_after=parse_retry_after(response.headers.get("retry-after")),
        )
    if status >= 500 or status == 408:
        return NetworkError(f"broker unavailable (HTTP {status})", source=source, endpoint=endpoint, status_code=status)
    return ValidationError(
        f"request rejected (HTTP {status}): {scrub_secrets(response.text[:400])[:200]}",
        source=source,
        endpoint=endpoint,
        status_code=status,
    )


@dataclass
class BrokerHttp:
    """One source's HTTP session. Not a client of its own: wraps an ``httpx.Client`` it is given."""

    source: str
    broker: str
    client: httpx.Client
    record: Recorder | None = None
    pacer: Pacer | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    classify: Classifier | None = None
    redact_params: frozenset[str] = frozenset()
    sleep: Callable[[float], None] = time.sleep
    retries: int = 0
    deadline: Deadline | None = None  # None: the deadline of the capture thread this runs in, if any

    def endpoint_label(self, method: str, url: httpx.URL) -> str:
        """``METHOD /path?query`` with secret query parameters replaced, safe to store and log."""
        params = [(k, "***" if k in self.redact_params else v) for k, v in url.params.multi_items()]
        query = "&".join(f"{k}={v}" for k, v in params)
        return f"{method} {url.path}" + (f"?{query}" if query else "")

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        record: bool = True,
        retry: bool = True,
    ) -> RawResponse:
        """Send a request; return the raw response when the broker answered successfully.

        Every response — successful or not, first attempt or retry — is handed to ``record`` unless
        ``record=False`` (used for OAuth token calls, whose bodies are secrets).
        """
        attempt_count = 0

        def once() -> RawResponse:
            nonlocal attempt_count
            attempt_count += 1
            request = self.client.build_request(method, url, params=params, data=data, json=json, headers=headers)
            endpoint = self.endpoint_label(method, request.url)
            if self.pacer is not None:
                self.pacer.wait(request.url.path)
            deadline = self.deadline or current_deadline()
            if deadline is not None:
                cap_timeouts(request, deadline, self.source, endpoint)
            try:
                response = self.client.send(request, auth=auth, stream=True) if auth else \
                    self.client.send(request, stream=True)
                try:
                    body, cut = read_body(response, deadline)
                finally:
                    response.close()
            except httpx.TimeoutException as exc:
                if deadline is not None and deadline.expired:
                    raise deadline_error(deadline, self.source, endpoint, None) from None
                raise NetworkError(
                    f"timed out talking to {request.url.host}:{request.url.port or ''} ({type(exc).__name__})",
                    source=self.source,
                    endpoint=endpoint,
                ) from None
            except httpx.TransportError as exc:
                raise NetworkError(
                    f"cannot reach {request.url.host}:{request.url.port or ''} ({type(exc).__name__}: {exc})",
                    source=self.source,
                    endpoint=endpoint,
                ) from None
            raw = RawResponse(
                source=self.source,
                broker=self.broker,
                endpoint=endpoint,
                received_at=datetime.now(UTC),
                status_code=response.status_code,
                body=body,
                content_type=response.headers.get("content-type"),
                headers={k: response.headers[k] for k in SAFE_HEADERS if k in response.headers},
            )
            if cut and deadline is not None:
                if record and self.record is not None:
                    self.record(raw)  # the bytes that did arrive are kept, as any other response
                raise deadline_error(deadline, self.source, endpoint, len(body))
            response = read_response(response, body)
            if record and self.record is not None:
                self.record(raw)
            error = self.classify(response, raw) if self.classify else None
            if error is None:
                error = default_classify(self.source, response, endpoint)
            if error is not None:
                raise error
            return raw

        if not retry:
            return once()

        started = time.monotonic()
        policy = self.policy

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            backoff: float = min(policy.max_wait, policy.initial_wait * float(2 ** (state.attempt_number - 1)))
            backoff = backoff * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not crypto
            if isinstance(exc, RateLimitError) and exc.retry_after is not None:
                backoff = exc.retry_after
            remaining = policy.max_total - (time.monotonic() - started)
            deadline = self.deadline or current_deadline()
            if deadline is not None:
                remaining = min(remaining, deadline.remaining())
            if backoff > remaining:
                # Waiting longer than the budget allows would only delay the same failure.
                assert exc is not None
                raise exc
            return backoff

        def before_sleep(state: RetryCallState) -> None:
            self.retries += 1
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "%s: retrying %s after %s (attempt %d)",
                self.source,
                url,
                exc if exc is not None else "error",
                state.attempt_number,
            )

        retrying = Retrying(
            stop=stop_after_attempt(policy.max_attempts) | stop_after_delay(policy.max_total),
            wait=wait,
            retry=retry_if_exception(lambda e: isinstance(e, SourceError) and e.retryable),
            reraise=True,
            sleep=self.sleep,
            before_sleep=before_sleep,
        )
        result: RawResponse = retrying(once)
        return result


# --- the capture deadline -------------------------------------------------------------------------------------
_BODY_HEADERS = ("content-encoding", "content-length", "transfer-encoding")


def cap_timeouts(request: httpx.Request, deadline: Deadline, source: str, endpoint: str) -> None:
    """Shorten every per-request timeout to the time the capture has left (or fail now when none is)."""
    left = deadline.remaining()
    if left <= 0:
        raise deadline_error(deadline, source, endpoint, None)
    timeouts = dict(request.extensions.get("timeout") or {})
    request.extensions["timeout"] = {
        key: left if value is None else min(float(value), left)
        for key, value in {"connect": None, "read": None, "write": None, "pool": None, **timeouts}.items()
    }


def read_body(response: httpx.Response, deadline: Deadline | None) -> tuple[bytes, bool]:
    """The (decoded) body, read chunk by chunk; ``(bytes so far, True)`` once ``deadline`` has passed."""
    chunks: list[bytes] = []
    try:
        for chunk in response.iter_bytes():
            chunks.append(chunk)
            if deadline is not None and deadline.expired:
                return b"".join(chunks), True
    except httpx.TimeoutException:
        if deadline is not None and deadline.expired:
            return b"".join(chunks), True  # the last read was cut short by the capped timeout
        raise
    return b"".join(chunks), False


def read_response(streamed: httpx.Response, body: bytes) -> httpx.Response:
    """A fully read copy of a streamed response, for the classify hooks (which read ``.text``/``.json()``)."""
    headers = [(k, v) for k, v in streamed.headers.multi_items() if k.lower() not in _BODY_HEADERS]
    return httpx.Response(streamed.status_code, headers=headers, content=body, request=streamed.request,
                          extensions=streamed.extensions)


def deadline_error(deadline: Deadline, source: str, endpoint: str, received: int | None) -> DeadlineError:
    got = "" if received is None else f" after {received} bytes of the response"
    return DeadlineError(
        f"cut off at the capture deadline ({deadline.seconds:g}s){got}",
        source=source,
        endpoint=endpoint,
        hint="the broker is answering too slowly; CAPTURE_TIMEOUT_S sets the deadline",
    )

"""BrokerHttp: error mapping, bounded retries honouring Retry-After, recording, redaction (MockTransport)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from portfolio_dashboard.brokers.http import BrokerHttp, Pacer, RetryPolicy, parse_retry_after
from portfolio_dashboard.errors import AuthError, NetworkError, RateLimitError, ValidationError


def make(handler, **kwargs):
    sleeps: list[float] = []
    recorded = []
    client = httpx.Client(transport=httpx.MockTransport(handler), base_url="https://broker.test")
    http = BrokerHttp("src", "brk", client, recorded.append, sleep=sleeps.append,
                      policy=kwargs.pop("policy", RetryPolicy(max_attempts=4, initial_wait=0.1, max_wait=1,
                                                              max_total=30)), **kwargs)
    return http, recorded, sleeps


def sequence(*responses):
    it = iter(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        r = next(it)
        if isinstance(r, Exception):
            raise r
        return r

    return handler


def test_success_is_recorded_with_safe_headers_only():
    http, recorded, _ = make(sequence(httpx.Response(200, json={"a": 1},
                                                     headers={"Date": "Tue, 30 Jun 2026 15:30:00 GMT",
                                                              "Set-Cookie": "secret"})))
    raw = http.request("GET", "/x")
    assert raw.json() == {"a": 1}
    assert recorded == [raw]
    assert raw.headers["date"].startswith("Tue")
    assert "set-cookie" not in raw.headers
    assert raw.endpoint == "GET /x"


def test_503_then_429_with_retry_after_then_success_is_retried_and_every_response_kept():
    http, recorded, sleeps = make(sequence(
        httpx.Response(503, text="busy"),
        httpx.Response(429, headers={"Retry-After": "7"}),
        httpx.Response(200, json=[]),
    ))
    http.request("GET", "/x")
    assert http.retries == 2
    assert [r.status_code for r in recorded] == [503, 429, 200]
    assert sleeps[1] == 7  # Retry-After honoured exactly
    assert 0.05 <= sleeps[0] <= 0.1  # backoff with jitter


def test_connection_refused_is_network_and_retried_until_attempts_run_out():
    http, recorded, sleeps = make(sequence(*[httpx.ConnectError("refused")] * 4))
    with pytest.raises(NetworkError, match=r"cannot reach broker\.test"):
        http.request("GET", "/x")
    assert len(sleeps) == 3 and recorded == []


def test_timeout_is_network_error():
    http, _, _ = make(sequence(*[httpx.ReadTimeout("slow")] * 4))
    with pytest.raises(NetworkError, match="timed out"):
        http.request("GET", "/x")


def test_401_is_auth_and_not_retried():
    http, recorded, sleeps = make(sequence(httpx.Response(401, json={"error": "unauthorized"})))
    with pytest.raises(AuthError) as info:
        http.request("GET", "/x")
    assert sleeps == [] and len(recorded) == 1
    assert info.value.category == "auth" and info.value.status_code == 401


def test_other_4xx_is_validation():
    http, _, _ = make(sequence(httpx.Response(400, text="bad account")))
    with pytest.raises(ValidationError, match="bad account"):
        http.request("GET", "/x")


def test_retry_after_longer_than_budget_gives_up_at_once():
    http, _, sleeps = make(sequence(httpx.Response(429, headers={"Retry-After": "3600"})),
                           policy=RetryPolicy(max_attempts=5, max_total=10))
    with pytest.raises(RateLimitError) as info:
        http.request("GET", "/x")
    assert sleeps == [] and info.value.retry_after == 3600


def test_secret_query_params_are_redacted_in_the_endpoint_label():
    http, recorded, _ = make(sequence(httpx.Response(200, text="<ok/>")), redact_params=frozenset({"t"}))
    http.request("GET", "/SendRequest", params={"t": "123456789012", "q": "42", "v": "3"})
    assert recorded[0].endpoint == "GET /SendRequest?t=***&q=42&v=3"
    assert "123456789012" not in recorded[0].endpoint


def test_record_false_keeps_token_bodies_out():
    http, recorded, _ = make(sequence(httpx.Response(200, json={"access_token": "sekrit"})))
    http.request("POST", "/token", record=False)
    assert recorded == []


def test_classify_hook_maps_broker_bodies():
    def classify(response, raw):
        if b"no bridge" in raw.body:
            return AuthError("not logged in", source="src", hint="log in at the gateway")
        return None

    http, _, _ = make(sequence(httpx.Response(200, json={"error": "no bridge"})), classify=classify)
    with pytest.raises(AuthError, match="log in at the gateway"):
        http.request("GET", "/x")


def test_parse_retry_after_accepts_seconds_and_http_dates():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("5") == 5
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30
    assert parse_retry_after("garbage") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after((now - timedelta(minutes=1)).strftime("%a, %d %b %Y %H:%M:%S GMT"), now) == 0


def test_pacer_spaces_requests_and_per_path_limits():
    clock = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        clock[0] += s

    pacer = Pacer(10, {"/portfolio/accounts": 5.0}, clock=lambda: clock[0], sleep=sleep)
    pacer.wait("/v1/api/portfolio/accounts")
    pacer.wait("/v1/api/portfolio/U1/summary")
    pacer.wait("/v1/api/portfolio/accounts")
    assert slept[0] == pytest.approx(0.1)
    assert sum(slept) == pytest.approx(5.0)

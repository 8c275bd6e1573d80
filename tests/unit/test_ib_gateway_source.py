"""ib_gateway fetch behaviour over httpx.MockTransport: error mapping, settings, keep-alive, recording."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from portfolio_dashboard.brokers.base import FetchContext
from portfolio_dashboard.brokers.http import RetryPolicy
from portfolio_dashboard.brokers.ib_gateway import IbGatewaySource
from portfolio_dashboard.config import load_settings
from portfolio_dashboard.domain import RawResponse
from portfolio_dashboard.errors import AuthError, ConfigError, ValidationError

URL = "https://127.0.0.1:5000"
Handler = Callable[[httpx.Request], httpx.Response]

DEFAULTS: dict[str, Any] = {
    "/iserver/auth/status": {"authenticated": True, "competing": False, "connected": True, "message": ""},
    "/tickle": {"session": "0123456789abcdef", "ssoExpires": 460311, "iserver": {"authStatus": {}}},
    "/portfolio/accounts": [{"id": "U1", "accountId": "U1", "currency": "GBP"}],
    "/portfolio/U1/positions/0": [
        {
            "conid": 8314,
            "position": 1,
            "mktPrice": 10.0,
            "mktValue": 10.0,
            "currency": "GBP",
            "assetClass": "STK",
            "ticker": "IBM",
            "name": "IBM",
            "listingExchange": "LSE",
        }
    ],
    "/portfolio/U1/positions/1": [],
    "/portfolio/U1/summary": {"netliquidation": {"amount": 10.0, "currency": "GBP", "timestamp": 1700000000000}},
    "/portfolio/U1/ledger": {"GBP": {"cashbalance": 0, "exchangerate": 1, "timestamp": 1700000000}},
}


class Gateway:
    """A MockTransport answering the documented happy path, with per-path overrides (a list = in turn)."""

    def __init__(self, **overrides: Any) -> None:
        self.overrides = {k.replace("__", "/"): v for k, v in overrides.items()}
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/v1/api")
        self.seen.append(f"{request.method} {path}")
        answer = self.overrides.get(path)
        if isinstance(answer, list) and answer and isinstance(answer[0], httpx.Response):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if isinstance(answer, httpx.Response):
            return answer
        return httpx.Response(200, json=answer if answer is not None else DEFAULTS.get(path, {}))


def source_for(gateway: Gateway, **kwargs: Any) -> IbGatewaySource:
    client = httpx.Client(transport=httpx.MockTransport(gateway))
    policy = RetryPolicy(max_attempts=3, initial_wait=0.001, max_wait=0.002, max_total=5)
    return IbGatewaySource(URL, client=client, sleep=lambda s: None, retry_policy=policy, **kwargs)


def fetch(source: IbGatewaySource) -> list[RawResponse]:
    raws: list[RawResponse] = []
    source.fetch(raws.append, FetchContext())
    return raws


def test_no_bridge_is_an_auth_error_and_not_retried() -> None:
    gw = Gateway(**{"/portfolio/U1/summary": httpx.Response(400, json={"error": "Bad Request: no bridge"})})
    with pytest.raises(AuthError, match="no bridge") as info:
        fetch(source_for(gw))
    assert info.value.hint is not None
    assert "log in" in info.value.hint
    assert gw.seen.count("GET /portfolio/U1/summary") == 1


def test_a_200_that_is_only_an_error_is_not_data() -> None:
    gw = Gateway(**{"/portfolio/U1/ledger": httpx.Response(200, json={"error": "ledger unavailable"})})
    with pytest.raises(ValidationError, match="ledger unavailable"):
        fetch(source_for(gw))


def test_401_mid_capture_is_auth() -> None:
    gw = Gateway(**{"/portfolio/U1/positions/0": httpx.Response(401, text="")})
    with pytest.raises(AuthError):
        fetch(source_for(gw))


def test_503_then_success_counts_a_retry_and_records_both() -> None:
    gw = Gateway(
        **{
            "/portfolio/accounts": [
                httpx.Response(503, text="busy"),
                httpx.Response(200, json=DEFAULTS["/portfolio/accounts"]),
            ]
        }
    )
    source = source_for(gw)
    raws = fetch(source)
    assert source.retries == 1
    assert [r.status_code for r in raws if r.endpoint.endswith("/portfolio/accounts")] == [503, 200]
    assert len(source.parse(raws).snapshots) == 1


def test_a_failing_tickle_does_not_fail_the_capture_but_is_recorded() -> None:
    gw = Gateway(**{"/tickle": httpx.Response(500, text="oops")})
    raws = fetch(source_for(gw))
    assert [r.status_code for r in raws if r.endpoint.endswith("/tickle")] == [500, 500, 500]


def test_tickle_session_id_is_masked_in_the_record() -> None:
    raws = fetch(source_for(Gateway()))
    tickle = next(r for r in raws if r.endpoint.endswith("/tickle"))
    assert json.loads(tickle.body)["session"] == "***"
    assert all(b"0123456789abcdef" not in r.body for r in raws)


def test_keep_alive_follows_the_clock() -> None:
    now = [0.0]

    def clock() -> float:
        now[0] += 25.0  # every look at the clock is 25 s later: a slow capture
        return now[0]

    gw = Gateway()
    fetch(source_for(gw, clock=clock, tickle_interval_s=60.0))
    assert 3 <= gw.seen.count("POST /tickle") <= 5  # ~10 requests over ~250 s: one tickle a minute


def test_health_reports_a_competing_session() -> None:
    gw = Gateway(**{"/iserver/auth/status": {"authenticated": False, "competing": True, "connected": True}})
    health = source_for(gw).health()
    assert (health.reachable, health.authenticated) == (True, False)
    assert "competing" in health.detail
    assert health.login_url == URL


def test_from_settings_builds_the_url_and_tls_choice(tmp_path: Path) -> None:
    host_port = IbGatewaySource.from_settings(load_settings(ib_host="127.0.0.1", ib_gateway_port=5001, _env_file=None))
    assert host_port.api_url == "https://127.0.0.1:5001/v1/api"
    full = IbGatewaySource.from_settings(load_settings(ib_gateway_url="https://127.0.0.1:5000/v1/api/", _env_file=None))
    assert full.api_url == "https://127.0.0.1:5000/v1/api"
    with pytest.raises(ConfigError, match="not configured"):
        IbGatewaySource.from_settings(load_settings(_env_file=None))
    with pytest.raises(ConfigError, match="not a file"):
        IbGatewaySource.from_settings(
            load_settings(ib_gateway_url=URL, ib_gateway_verify=str(tmp_path / "missing.pem"), _env_file=None)
        )
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigError, match="PEM"):
        IbGatewaySource(URL, verify=str(bad))

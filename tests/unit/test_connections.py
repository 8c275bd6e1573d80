"""The Connections page's service: every source's state, whatever the source does."""

from __future__ import annotations

import sys
import threading
import types
from pathlib import Path

import pytest
from pydantic import SecretStr

from portfolio_dashboard.brokers.base import SourceHealth
from portfolio_dashboard.config import load_settings
from portfolio_dashboard.connections import (
    SCHWAB_AUTH_MODULE,
    NotAvailableError,
    database_description,
    is_configured,
    schwab_authorize_url,
    schwab_complete,
    source_states,
)
from portfolio_dashboard.errors import ConfigError


class Healthy:
    name = broker = parser_version = "x"

    def __init__(self, name: str, authenticated: bool = True) -> None:
        self.source = name
        self.authenticated = authenticated

    def fetch(self, record, ctx):  # pragma: no cover - never called here
        raise AssertionError

    def parse(self, raws):  # pragma: no cover - never called here
        raise AssertionError

    def health(self) -> SourceHealth:
        return SourceHealth(self.source, True, self.authenticated, "fine", accounts=["U1234321"],
                            login_url="https://127.0.0.1:5000/")


def settings(tmp_path: Path, **extra: object):
    return load_settings(portfolio_data_dir=tmp_path, _env_file=None, **extra)


def by_name(states):
    return {s.name: s for s in states}


def test_nothing_configured_shows_only_the_demo_as_used(tmp_path):
    states = by_name(source_states(settings(tmp_path), factory=lambda n, s: Healthy(n)))
    assert states["demo"].enabled
    assert states["demo"].state == "ok"
    for name in ("ib_gateway", "ib_flex", "schwab"):
        assert states[name].state == "off"
        assert states[name].problem.startswith("Not configured.")
        assert states[name].health is None
    assert "IB_FLEX_TOKEN" in states["ib_flex"].problem


def test_configured_sources_are_checked_and_their_failures_reported(tmp_path):
    s = settings(tmp_path, brokers="ib_gateway,schwab,ib_flex", ib_gateway_url="https://127.0.0.1:5000",
                 schwab_client_id=SecretStr("id"), schwab_client_secret=SecretStr("secret"))

    def factory(name, _settings):
        if name == "ib_gateway":
            return Healthy(name, authenticated=False)
        if name == "schwab":
            raise ImportError("no schwab", name="portfolio_dashboard.brokers.schwab")
        if name == "ib_flex":
            raise ConfigError("IB_FLEX_TOKEN is not set", hint="set it")
        return Healthy(name)

    states = by_name(source_states(s, factory=factory))
    gateway = states["ib_gateway"]
    assert gateway.state == "attention"
    assert gateway.health.login_url == "https://127.0.0.1:5000/"
    assert states["schwab"].problem == "Not available in this build (portfolio_dashboard.brokers.schwab)."
    assert states["ib_flex"].problem == "Not configured: IB_FLEX_TOKEN is not set — set it"
    assert not states["demo"].enabled  # BROKERS is set: the demo source is not used


def test_a_health_check_that_raises_is_reported(tmp_path):
    class Broken(Healthy):
        def health(self):
            raise RuntimeError("boom")

    s = settings(tmp_path, brokers="ib_gateway", ib_gateway_url="https://127.0.0.1:5000")
    states = by_name(source_states(s, factory=lambda n, _s: Broken(n)))
    assert states["ib_gateway"].problem == "health check failed: RuntimeError: boom"
    assert states["ib_gateway"].state == "attention"


def test_a_hanging_health_check_does_not_hold_the_page(tmp_path):
    release = threading.Event()

    class Hung(Healthy):
        def health(self):
            release.wait(10)
            return super().health()

    s = settings(tmp_path, brokers="ib_gateway", ib_gateway_url="https://127.0.0.1:5000")
    try:
        states = by_name(source_states(s, factory=lambda n, _s: Hung(n) if n == "ib_gateway" else Healthy(n),
                                       timeout_s=0.3))
    finally:
        release.set()
    assert states["ib_gateway"].problem.startswith("no answer within 0.3 s")
    assert states["demo"].health is not None


def test_is_configured(tmp_path):
    assert is_configured("demo", settings(tmp_path))
    assert not is_configured("ib_gateway", settings(tmp_path))
    assert is_configured("ib_gateway", settings(tmp_path, ib_host="gw.local"))
    assert not is_configured("ib_flex", settings(tmp_path, ib_flex_token=SecretStr("t")))
    assert is_configured("ib_flex", settings(tmp_path, ib_flex_token=SecretStr("t"), ib_flex_query_id="1"))


def test_database_description_never_shows_the_password():
    url = "postgresql+psycopg://me:hunter2@db.example:5433/portfolio"
    assert database_description(url, embedded=False) == "db.example:5433/portfolio"
    socket = "postgresql+psycopg://postgres@/portfolio?host=/tmp/x"
    assert database_description(socket, embedded=True).startswith("embedded PostgreSQL")


@pytest.fixture
def fake_schwab_auth(monkeypatch):
    module = types.ModuleType(SCHWAB_AUTH_MODULE)
    seen = {}

    def authorize_url(settings):
        return "https://api.schwabapi.com/v1/oauth/authorize?client_id=x"

    def complete_authorization(settings, redirected):
        seen["url"] = redirected

    module.authorize_url = authorize_url
    module.complete_authorization = complete_authorization
    monkeypatch.setitem(sys.modules, SCHWAB_AUTH_MODULE, module)
    return seen


def test_schwab_oauth_through_the_auth_module(tmp_path, fake_schwab_auth):
    s = settings(tmp_path)
    assert schwab_authorize_url(s).startswith("https://api.schwabapi.com/")
    assert schwab_complete(s, "  https://127.0.0.1/?code=abc  ") == "Schwab connected"
    assert fake_schwab_auth["url"] == "https://127.0.0.1/?code=abc"
    with pytest.raises(ConfigError, match="paste the full address"):
        schwab_complete(s, " ")


def test_schwab_oauth_not_in_this_build(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, SCHWAB_AUTH_MODULE, None)  # import fails
    with pytest.raises(NotAvailableError, match="not available in this build"):
        schwab_authorize_url(settings(tmp_path))

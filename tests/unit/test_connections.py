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
from portfolio_dashboard.errors import AuthError, ConfigError
from portfolio_dashboard.services.connections import (
    SCHWAB_AUTH_MODULE,
    NotAvailableError,
    database_description,
    is_configured,
    schwab_begin,
    schwab_finish,
    schwab_login_left,
    source_states,
)


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


def schwab_settings(tmp_path: Path):
    return settings(tmp_path, schwab_client_id=SecretStr("app-key-123"), schwab_client_secret=SecretStr("s3cret"))


def test_schwab_sign_in_step_one_gives_the_authorize_url(tmp_path):
    login = schwab_begin(schwab_settings(tmp_path))
    assert login.url.startswith("https://")
    assert "app-key-123" in login.url  # the app key is public; the secret never appears
    assert "s3cret" not in login.url


def test_schwab_sign_in_step_two_refuses_a_bad_paste(tmp_path):
    s = schwab_settings(tmp_path)
    login = schwab_begin(s)
    with pytest.raises(ConfigError, match="paste the full address"):
        schwab_finish(s, login, "  ")
    with pytest.raises(AuthError):
        schwab_finish(s, login, "https://127.0.0.1/?state=wrong")


def test_schwab_login_left_without_tokens(tmp_path):
    left = schwab_login_left(schwab_settings(tmp_path))
    assert left is not None
    seconds, sentence = left
    assert seconds is None
    assert "not logged in to Schwab" in sentence


@pytest.fixture
def fake_schwab_auth(monkeypatch):
    """A stand-in for the module, to see the page's calls without Schwab's token endpoint."""
    module = types.ModuleType(SCHWAB_AUTH_MODULE)
    seen = {}

    class Status:
        present, problem, refresh_expires_in_s = True, None, 6.5 * 86400

        def describe(self):
            return "Schwab login valid for 6d 12h more"

    module.begin_login = lambda settings: types.SimpleNamespace(url="https://example.test/authorize", state="s1",
                                                                redirect_uri="https://127.0.0.1")

    def finish_login(settings, login, pasted):
        seen["login"], seen["pasted"] = login, pasted
        return Status()

    module.finish_login = finish_login
    module.token_status = lambda settings: Status()
    monkeypatch.setitem(sys.modules, SCHWAB_AUTH_MODULE, module)
    return seen


def test_schwab_sign_in_through_the_auth_module(tmp_path, fake_schwab_auth):
    s = schwab_settings(tmp_path)
    login = schwab_begin(s)
    assert schwab_finish(s, login, "  https://127.0.0.1/?code=abc&state=s1  ") == "Schwab login valid for 6d 12h more"
    assert fake_schwab_auth["pasted"] == "https://127.0.0.1/?code=abc&state=s1"
    assert fake_schwab_auth["login"] is login
    assert schwab_login_left(s) == (6.5 * 86400, "Schwab login valid for 6d 12h more")


def test_schwab_sign_in_not_in_this_build(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, SCHWAB_AUTH_MODULE, None)  # import fails
    with pytest.raises(NotAvailableError, match="not available in this build"):
        schwab_begin(schwab_settings(tmp_path))
    assert schwab_login_left(schwab_settings(tmp_path)) is None


def test_sources_built_for_a_health_check_are_closed(tmp_path):
    closed = []

    class Closing(Healthy):
        def close(self):
            closed.append(self.source)

    source_states(settings(tmp_path), factory=lambda n, _s: Closing(n))
    assert closed == ["demo"]  # the only source built: nothing else is configured

"""TLS is verified for every endpoint but a loopback IB gateway; secret files are private; URLs in library
logs are masked."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from portfolio_dashboard.bootstrap import build_source
from portfolio_dashboard.brokers.base import FetchContext
from portfolio_dashboard.brokers.ecb import EcbRates
from portfolio_dashboard.brokers.http import RetryPolicy, redact_url
from portfolio_dashboard.brokers.ib_gateway import IbGatewaySource
from portfolio_dashboard.config import load_settings
from portfolio_dashboard.errors import ConfigError, NetworkError
from portfolio_dashboard.local.schwab_tokens import TokenSet, TokenStore
from portfolio_dashboard.storage.embedded import make_private_dir
from tests.fakes.schwab import CLIENT_ID, CLIENT_SECRET, seed_tokens
from tests.fakes.server import FakeServer, Reply


@pytest.fixture
def untrusted() -> Iterator[FakeServer]:
    """An HTTPS server on 127.0.0.1 whose certificate no client trusts (a made-up CA)."""
    server = FakeServer(tls=True)
    server.route("GET", r"/.*", lambda req: Reply.json([]))
    with server:
        yield server


def _fetch_fails_on_the_certificate(source: object) -> None:
    with pytest.raises(NetworkError) as raised:
        source.fetch(lambda raw: None, FetchContext())  # type: ignore[attr-defined]
    assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value) or "certificate verify failed" in str(raised.value)


def test_schwab_verifies_tls_even_on_loopback(untrusted: FakeServer, tmp_path: Path) -> None:
    settings = load_settings(schwab_client_id=CLIENT_ID, schwab_client_secret=CLIENT_SECRET,
                             schwab_api_base_url=untrusted.base_url, portfolio_data_dir=tmp_path, _env_file=None)
    from tests.fakes.schwab import FakeSchwab

    with FakeSchwab(tls=False) as fake:  # only to issue a token file the source will try to use
        seed_tokens(fake, settings.resolved_schwab_token_path)
    source = build_source("schwab", settings)
    source.policy = RetryPolicy(max_attempts=1)  # type: ignore[attr-defined]
    _fetch_fails_on_the_certificate(source)
    source.close()  # type: ignore[attr-defined]


def test_flex_verifies_tls(untrusted: FakeServer, tmp_path: Path) -> None:
    settings = load_settings(ib_flex_token="tok", ib_flex_query_id="1", portfolio_data_dir=tmp_path,
                             ib_flex_base_url=untrusted.base_url + "/AccountManagement/FlexWebService",
                             _env_file=None)
    source = build_source("ib_flex", settings)
    source.retry_policy = RetryPolicy(max_attempts=1)  # type: ignore[attr-defined]
    _fetch_fails_on_the_certificate(source)


def test_ecb_verifies_tls(untrusted: FakeServer, tmp_path: Path) -> None:
    settings = load_settings(ecb_rates_url=untrusted.base_url + "/eurofxref-daily.xml", _env_file=None)
    source = EcbRates.from_settings(settings)
    source.retry_policy = RetryPolicy(max_attempts=1)
    _fetch_fails_on_the_certificate(source)


@pytest.mark.parametrize(("url", "choice", "expected"), [
    ("https://127.0.0.1:5000", "auto", False),  # the gateway's self-signed certificate, on this machine
    ("https://localhost:5000", "auto", False),
    ("https://[::1]:5000", "auto", False),
    ("https://100.101.102.103:5000", "auto", True),  # over Tailscale: verified
    ("https://gateway.example:5000", "auto", True),
    ("https://127.0.0.1:5000", "true", True),
])
def test_ib_gateway_skips_verification_only_on_loopback(url: str, choice: str, expected: bool) -> None:
    settings = load_settings(ib_gateway_url=url, ib_gateway_verify=choice, _env_file=None)
    assert settings.ib_gateway_tls_verify is expected
    source = IbGatewaySource.from_settings(settings)
    assert source._ssl is expected


@pytest.mark.parametrize("url", ["https://100.101.102.103:5000", "https://gateway.example:5000"])
def test_ib_gateway_refuses_to_skip_verification_off_this_machine(url: str) -> None:
    settings = load_settings(ib_gateway_url=url, ib_gateway_verify="false", _env_file=None)
    with pytest.raises(ConfigError, match="only be turned off for a gateway on this machine"):
        IbGatewaySource.from_settings(settings)


def test_token_file_is_0600_in_a_0700_directory(tmp_path: Path) -> None:
    path = tmp_path / "new-dir" / "schwab-token.json"
    now = datetime.now(UTC)
    old = os.umask(0o022)
    try:
        TokenStore(path).save(TokenSet("a", "r", now + timedelta(minutes=30), now))
        TokenStore(path).save(TokenSet("a2", "r2", now + timedelta(minutes=30), now))  # a rewrite keeps it
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_the_data_directory_is_created_0700(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        make_private_dir(tmp_path / "a" / "portfolio-dashboard")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a" / "portfolio-dashboard").stat().st_mode) == 0o700
    existing = tmp_path / "mine"
    existing.mkdir(mode=0o755)
    make_private_dir(existing)  # the user's own directory is theirs to set
    assert stat.S_IMODE(existing.stat().st_mode) == 0o755


def test_secret_query_parameters_are_masked_in_httpx_log_lines(caplog: pytest.LogCaptureFixture) -> None:
    assert redact_url("https://h:1/x/SendRequest?t=SECRET&q=42&v=3") == "https://h:1/x/SendRequest?t=***&q=42&v=3"
    assert redact_url("https://h/a?access_token=SECRET&refresh_token=S2") == "https://h/a?access_token=***&refresh_token=***"
    assert redact_url("https://h/plain") == "https://h/plain"
    with caplog.at_level(logging.INFO, logger="httpx"):
        # what httpx itself logs for every request
        logging.getLogger("httpx").info('HTTP Request: %s %s "%s %d %s"', "GET",
                                        httpx.URL("https://h/SendRequest?t=SECRET&q=1"), "HTTP/1.1", 200, "OK")
    assert "SECRET" not in caplog.text
    assert "t=***" in caplog.text


def test_spool_files_are_0600_in_0700_directories(tmp_path: Path) -> None:
    from portfolio_dashboard.bootstrap import get_app
    from portfolio_dashboard.domain import TriggerContext
    from portfolio_dashboard.services.capture import capture
    from tests.chaos.world import closed_port_url

    unreachable = closed_port_url("postgresql").replace("://", "://pd:pw@") + "/portfolio"
    app = get_app(load_settings(database_url=unreachable, portfolio_data_dir=tmp_path / "data", _env_file=None))
    old = os.umask(0o022)
    try:
        result = capture(TriggerContext(sources=("demo",)), app=app)
    finally:
        os.umask(old)
        app.dispose()
    assert [str(o.status) for o in result.sources] == ["spooled"]
    spool = tmp_path / "data" / "spool"
    files = [p for p in spool.rglob("*") if p.is_file()]
    dirs = [spool, *(p for p in spool.rglob("*") if p.is_dir())]
    assert len(files) >= 3  # the lock, the source's entry, the run manifest
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in files} == {"0o600"}
    assert {oct(stat.S_IMODE(p.stat().st_mode)) for p in dirs} == {"0o700"}


@pytest.mark.parametrize(("url", "warned"), [
    ("postgresql+psycopg://postgres@/portfolio?host=/tmp/pd-sock", False),  # the embedded server's socket
    ("postgres://pd:pw@127.0.0.1:5432/portfolio", False),
    ("postgres://pd:pw@localhost/portfolio", False),
    ("postgres://pd:pw@100.101.102.103:5432/portfolio", False),  # Tailscale
    ("postgres://pd:pw@pi.tail1234.ts.net/portfolio", False),  # MagicDNS
    ("postgres://pd:pw@pi/portfolio", False),  # a short name: cannot tell
    ("postgres://pd:pw@db.example.com/portfolio", True),
    ("postgres://pd:pw@192.168.1.20/portfolio?sslmode=require", True),  # encrypted, but the server unchecked
    ("postgres://pd:pw@db.example.com/portfolio?sslmode=verify-full", False),
])
def test_a_database_reached_over_an_unprotected_network_is_warned_about(url: str, warned: bool) -> None:
    from portfolio_dashboard.storage.engine import transport_warning

    warning = transport_warning(url)
    assert (warning is not None) == warned
    assert warning is None or ("pw" not in warning and "verify-full" in warning)

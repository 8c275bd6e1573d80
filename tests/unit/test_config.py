"""Settings: what the environment may say, what is rejected, and that secrets never show."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from portfolio_dashboard import bootstrap, cli
from portfolio_dashboard.config import Settings, load_settings, mask_url_password
from portfolio_dashboard.errors import ConfigError


def settings_from_env(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return load_settings(_env_file=None)


# --- DATABASE_URL ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "given",
    ["postgres://app:pw@db.lan:5432/portfolio", "postgresql://app:pw@db.lan:5432/portfolio",
     "postgresql+psycopg2://app:pw@db.lan:5432/portfolio", "  postgres://app:pw@db.lan:5432/portfolio\n"],
)
def test_database_url_schemes_are_normalised_for_psycopg3(monkeypatch: pytest.MonkeyPatch, given: str) -> None:
    settings = settings_from_env(monkeypatch, DATABASE_URL=given)
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql+psycopg://app:pw@db.lan:5432/portfolio"
    assert not settings.uses_embedded_db


def test_an_empty_database_url_means_the_embedded_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    settings = settings_from_env(monkeypatch, DATABASE_URL="", PORTFOLIO_DATA_DIR=str(tmp_path))
    assert settings.database_url is None
    assert settings.uses_embedded_db
    assert settings.pgdata_dir == tmp_path / "pgdata"


# --- secrets --------------------------------------------------------------------------------------------------
SECRETS = {
    "DATABASE_URL": "postgres://app:db-pass-4711@db.lan/portfolio",
    "IB_FLEX_TOKEN": "flex-token-4712",
    "SCHWAB_CLIENT_ID": "client-id-4713",
    "SCHWAB_CLIENT_SECRET": "client-secret-4714",
    "ALERT_URLS": "tgram://bot-token-4715/chat",
}
SECRET_VALUES = ("db-pass-4711", "flex-token-4712", "client-id-4713", "client-secret-4714", "bot-token-4715")


def test_secrets_never_appear_in_repr_str_dumps_or_logs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_from_env(monkeypatch, **SECRETS)
    caplog.set_level(logging.INFO)
    logging.getLogger("test").info("settings: %s %r", settings, settings)
    shown = [repr(settings), str(settings), settings.model_dump_json(), str(settings.model_dump()), caplog.text]
    for text in shown:
        for secret in SECRET_VALUES:
            assert secret not in text
    # ... while the code that needs them can still read them
    assert settings.ib_flex_token is not None
    assert settings.ib_flex_token.get_secret_value() == "flex-token-4712"
    assert settings.alert_url_list == ["tgram://bot-token-4715/chat"]


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://app:pw@db.lan:5432/portfolio", "postgresql://app:***@db.lan:5432/portfolio"),
        ("postgresql://app:p%40ss@db.lan/portfolio", "postgresql://app:***@db.lan/portfolio"),
        ("postgresql://app@db.lan/portfolio", "postgresql://app@db.lan/portfolio"),
        ("postgresql://postgres@/portfolio?host=/run/pd", "postgresql://postgres@/portfolio?host=/run/pd"),
    ],
)
def test_mask_url_password(url: str, masked: str) -> None:
    assert mask_url_password(url) == masked


def db_url_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str) -> Result:
    """The real CLI in-process, with a fresh App built from this environment."""
    monkeypatch.setattr(bootstrap, "_app", None)
    # a server that does not exist: `db url` prints the configured URL without connecting
    env = {"DATABASE_URL": "postgres://portfolio:Sup3r-s3cret@db.example.invalid:5432/portfolio",
           "PORTFOLIO_DATA_DIR": str(tmp_path / "data")}
    try:
        return CliRunner().invoke(cli.app, ["db", "url", *args], env=env)
    finally:
        bootstrap.get_app().dispose()
        monkeypatch.setattr(bootstrap, "_app", None)


def test_db_url_masks_the_password_unless_asked(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    masked = db_url_command(monkeypatch, tmp_path)
    assert masked.exit_code == 0, masked.output
    assert masked.stdout.strip() == "postgresql://portfolio:***@db.example.invalid:5432/portfolio"
    assert "Sup3r-s3cret" not in masked.output
    shown = db_url_command(monkeypatch, tmp_path, "--show-password")
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.strip() == "postgresql://portfolio:Sup3r-s3cret@db.example.invalid:5432/portfolio"


# --- BROKERS ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ib_gateway,schwab", ["ib_gateway", "schwab"]),
        (" ib_flex , schwab ", ["ib_flex", "schwab"]),
        ("ib_flex schwab", ["ib_flex", "schwab"]),
        ("demo", ["demo"]),
    ],
)
def test_brokers_list(monkeypatch: pytest.MonkeyPatch, given: str, expected: list[str]) -> None:
    settings = settings_from_env(monkeypatch, BROKERS=given)
    assert settings.brokers == expected
    assert settings.configured_sources == expected


def test_no_brokers_means_the_demo_source(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = settings_from_env(monkeypatch, BROKERS="")
    assert settings.brokers == []
    assert settings.configured_sources == ["demo"]


def test_an_unknown_broker_is_rejected_with_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"unknown source\(s\) \['robinhood'\]; choose from ib_gateway"):
        settings_from_env(monkeypatch, BROKERS="ib_gateway,robinhood")


# --- time zone ----------------------------------------------------------------------------------------------------
def test_portfolio_timezone(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings(_env_file=None).portfolio_timezone == "Europe/London"
    settings = settings_from_env(monkeypatch, PORTFOLIO_TIMEZONE="America/New_York")
    assert settings.timezone.key == "America/New_York"


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../etc/passwd", "BST"])
def test_an_unknown_time_zone_is_rejected(monkeypatch: pytest.MonkeyPatch, zone: str) -> None:
    with pytest.raises(ConfigError, match="unknown time zone"):
        settings_from_env(monkeypatch, PORTFOLIO_TIMEZONE=zone)


# --- IB gateway TLS verification ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "verify"),
    [
        ({}, True),  # nothing configured: nothing to relax
        ({"IB_GATEWAY_URL": "https://localhost:5000"}, False),  # the gateway's self-signed cert, this machine
        ({"IB_GATEWAY_URL": "https://127.0.0.1:5000/"}, False),
        ({"IB_GATEWAY_URL": "https://[::1]:5000"}, False),
        ({"IB_HOST": "127.0.0.2", "IB_GATEWAY_PORT": "5001"}, False),
        ({"IB_GATEWAY_PORT": "5001"}, False),  # host defaults to 127.0.0.1
        ({"IB_GATEWAY_URL": "https://gateway.lan:5000"}, True),  # anywhere else: verify
        ({"IB_HOST": "192.168.1.20"}, True),
        ({"IB_GATEWAY_URL": "https://localhost.evil.example:5000"}, True),
        ({"IB_GATEWAY_URL": "https://127.0.0.1:5000", "IB_GATEWAY_VERIFY": "true"}, True),
        ({"IB_GATEWAY_URL": "https://gateway.lan:5000", "IB_GATEWAY_VERIFY": "false"}, False),
        ({"IB_GATEWAY_URL": "https://gateway.lan:5000", "IB_GATEWAY_VERIFY": "/etc/pd/gateway-ca.pem"},
         "/etc/pd/gateway-ca.pem"),
    ],
)
def test_ib_gateway_tls_verification(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                     verify: bool | str) -> None:
    assert settings_from_env(monkeypatch, **env).ib_gateway_tls_verify == verify

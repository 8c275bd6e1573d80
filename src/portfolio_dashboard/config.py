"""Settings: the only module that reads the environment (and an optional ``.env`` in the working directory).

Every secret is a ``SecretStr``: its ``repr``/``str`` is masked, so printing or logging a ``Settings`` never
shows it. Call ``.get_secret_value()`` only at the point of use.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cached_property
from ipaddress import ip_address
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SOURCE_NAMES = ("ib_gateway", "ib_flex", "schwab", "demo")

DEFAULT_FLEX_URL = "https://ndcdyn.interactivebrokers.com/AccountManagement/FlexWebService"
DEFAULT_ECB_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"
DEFAULT_SCHWAB_URL = "https://api.schwabapi.com"


def parse_duration(text: str) -> timedelta:
    """``26h``, ``90m``, ``4d``, ``30s`` or a bare number of seconds."""
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    if text and text[-1] in units:
        return timedelta(seconds=float(text[:-1]) * units[text[-1]])
    return timedelta(seconds=float(text))


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def mask_url_password(url: str) -> str:
    """The URL with its password replaced by ``***`` (for display and error messages)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return parts._replace(netloc=netloc).geturl()


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # --- storage -----------------------------------------------------------------------------------------
    database_url: SecretStr | None = Field(default=None, description="unset = embedded PostgreSQL")
    portfolio_data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("portfolio-dashboard", appauthor=False))
    )
    base_currency: str = "GBP"
    portfolio_timezone: str = "Europe/London"

    # --- capture -----------------------------------------------------------------------------------------
    brokers: Annotated[list[str], NoDecode] = Field(default_factory=list)
    capture_timeout_s: float = 300.0
    fx_max_age: str = "4d"
    reconcile_tolerance: str = "0.001"  # relative tolerance (0.1%) of positions + cash vs the broker's total

    # --- IB Client Portal gateway -------------------------------------------------------------------------
    ib_gateway_url: str | None = None
    ib_host: str | None = None
    ib_gateway_port: int | None = None
    ib_gateway_verify: str = "auto"  # "true", "false", a CA/cert path, or "auto" (skip only on loopback)

    # --- IB Flex Web Service ------------------------------------------------------------------------------
    ib_flex_token: SecretStr | None = None
    ib_flex_query_id: str | None = None
    ib_flex_base_url: str = DEFAULT_FLEX_URL
    ib_flex_timezone: str = "America/New_York"  # zone of Flex date-times that carry none (IBKR: US Eastern)

    # --- Schwab Trader API --------------------------------------------------------------------------------
    schwab_client_id: SecretStr | None = None
    schwab_client_secret: SecretStr | None = None
    schwab_redirect_uri: str = "https://127.0.0.1"
    schwab_token_path: Path | None = None
    schwab_api_base_url: str = DEFAULT_SCHWAB_URL
    schwab_history_start: date | None = None  # first capture reads flows from here (unset: a year back)

    # --- FX -----------------------------------------------------------------------------------------------
    ecb_rates_url: str = DEFAULT_ECB_URL

    # --- alerts -------------------------------------------------------------------------------------------
    alert_urls: SecretStr | None = None  # apprise URLs, comma/space separated (they embed tokens)
    alert_max_age: str = "26h"

    # --- dashboard ----------------------------------------------------------------------------------------
    dashboard_host: str = "127.0.0.1"
    dashboard_port: int = 8501
    log_format: Literal["text", "json"] = "text"

    @field_validator("brokers", mode="before")
    @classmethod
    def _split_brokers(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.replace(" ", ",").split(",") if part.strip()]
        return value

    @field_validator("brokers")
    @classmethod
    def _known_brokers(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in SOURCE_NAMES]
        if unknown:
            raise ValueError(f"unknown source(s) {unknown}; choose from {', '.join(SOURCE_NAMES)}")
        return value

    @field_validator("database_url", mode="before")
    @classmethod
    def _normalise_db_url(cls, value: object) -> object:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if isinstance(value, str):
            value = value.strip()
            if not value:
                return None
            # The user's existing .env uses postgres://, which SQLAlchemy no longer accepts.
            for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
                if value.startswith(prefix):
                    return "postgresql+psycopg://" + value[len(prefix) :]
        return value

    @field_validator("portfolio_timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("base_currency")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.strip().upper()

    # --- derived --------------------------------------------------------------------------------------------
    @property
    def uses_embedded_db(self) -> bool:
        return self.database_url is None

    @property
    def pgdata_dir(self) -> Path:
        return self.portfolio_data_dir / "pgdata"

    @property
    def spool_dir(self) -> Path:
        return self.portfolio_data_dir / "spool"

    @property
    def resolved_schwab_token_path(self) -> Path:
        return self.schwab_token_path or self.portfolio_data_dir / "schwab-token.json"

    @property
    def resolved_ib_gateway_url(self) -> str | None:
        if self.ib_gateway_url:
            return self.ib_gateway_url.rstrip("/")
        if self.ib_host or self.ib_gateway_port:
            return f"https://{self.ib_host or '127.0.0.1'}:{self.ib_gateway_port or 5000}"
        return None

    @property
    def ib_gateway_tls_verify(self) -> bool | str:
        """``verify`` for httpx: skip only for a loopback gateway unless told otherwise."""
        choice = self.ib_gateway_verify.strip()
        if choice.lower() in ("true", "1", "yes"):
            return True
        if choice.lower() in ("false", "0", "no"):
            return False
        if choice.lower() == "auto":
            url = self.resolved_ib_gateway_url
            return not is_loopback_host(urlsplit(url).hostname if url else None)
        return choice  # a CA bundle or certificate path

    @cached_property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.portfolio_timezone)

    @property
    def fx_max_age_delta(self) -> timedelta:
        return parse_duration(self.fx_max_age)

    @property
    def alert_max_age_delta(self) -> timedelta:
        return parse_duration(self.alert_max_age)

    @property
    def configured_sources(self) -> list[str]:
        """The sources a capture uses: ``BROKERS``, else the demo source."""
        return list(self.brokers) or ["demo"]

    @property
    def alert_url_list(self) -> list[str]:
        if self.alert_urls is None:
            return []
        raw = self.alert_urls.get_secret_value().replace("\n", " ").replace(",", " ")
        return [u for u in raw.split() if u]


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (and ``.env``); keyword overrides win (used by tests and CLI)."""
    return Settings(**overrides)  # type: ignore[arg-type]

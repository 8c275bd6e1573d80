"""Settings: the only module that reads the environment (and an optional ``.env`` in the working directory).

Every secret is a ``SecretStr``: its ``repr``/``str`` is masked, so printing or logging a ``Settings`` never
shows it. Call ``.get_secret_value()`` only at the point of use.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import cached_property
from ipaddress import ip_address
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import platformdirs
import pycountry
from pydantic import Field, SecretStr, field_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from portfolio_dashboard.domain.runs import SOURCE_NAMES
from portfolio_dashboard.errors import ConfigError

__all__ = ["SOURCE_NAMES", "Settings", "is_loopback_host", "load_settings", "mask_url_password", "parse_duration"]


DEFAULT_FLEX_URL = "https://ndcdyn.interactivebrokers.com/AccountManagement/FlexWebService"
DEFAULT_ECB_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"
DEFAULT_SCHWAB_URL = "https://api.schwabapi.com"


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str) -> timedelta:
    """``26h``, ``90m``, ``4d``, ``30s`` or a bare number of seconds; ``ValueError`` (saying so) otherwise."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration (a number with s, m, h, d or w)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


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
    capture_timeout_s: float = Field(default=300.0, gt=0)
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
    dashboard_port: int = Field(default=8501, gt=0, lt=65536)
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
    def _iso_currency(cls, value: str) -> str:
        code = value.strip().upper()
        if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
            raise ValueError(f"{value!r} is not an ISO 4217 currency code")
        return code

    @field_validator("fx_max_age", "alert_max_age")
    @classmethod
    def _duration(cls, value: str) -> str:
        if parse_duration(value) <= timedelta(0):
            raise ValueError(f"{value!r} must be longer than zero")
        return value

    @field_validator("reconcile_tolerance")
    @classmethod
    def _tolerance(cls, value: str) -> str:
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
        if not number.is_finite() or not Decimal(0) <= number < Decimal(1):
            raise ValueError(f"{value!r} must be a fraction from 0 up to 1 (0.01 is 1%)")
        return value.strip()

    @field_validator("database_url")
    @classmethod
    def _well_formed_db_url(cls, value: SecretStr | None) -> SecretStr | None:
        # Checked here so that a typo is a configuration error (exit 2, nothing spooled), not an "outage".
        # The message never repeats the value: it may hold a password.
        if value is None:
            return None
        try:
            url = make_url(value.get_secret_value())
            port = url.port  # a non-numeric port fails only when read
        except (ArgumentError, ValueError):
            raise ValueError("is not a database URL") from None
        if url.drivername != "postgresql+psycopg":
            raise ValueError(f"must be a postgresql:// URL, not {url.drivername}://")
        if not url.database:
            raise ValueError("names no database (the part after the last /)")
        if port is not None and not 0 < port < 65536:
            raise ValueError("has a port outside 1-65535")
        return value

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


# A right value for each setting, shown with the one-line error when the user's value is wrong.
EXAMPLES: dict[str, str] = {
    "database_url": "postgresql://user:password@host:5432/portfolio",
    "portfolio_data_dir": "/home/pi/portfolio-data",
    "base_currency": "GBP",
    "portfolio_timezone": "Europe/London",
    "brokers": "ib_flex,schwab",
    "capture_timeout_s": "300",
    "fx_max_age": "4d",
    "reconcile_tolerance": "0.01",
    "ib_gateway_port": "5000",
    "alert_max_age": "26h",
    "dashboard_port": "8501",
    "log_format": "text",
}
_SECRET_FIELDS = {name for name, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation)}


def config_error(exc: PydanticValidationError) -> ConfigError:
    """The first invalid setting as one line: its name, what is wrong and a right value; never a secret."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    name = field.upper()
    reason = str(first["msg"]).removeprefix("Value error, ")
    if field not in _SECRET_FIELDS and not isinstance(first.get("input"), dict) and "'" not in reason:
        reason = f"{first.get('input')!r}: {reason}"
    more = f" (and {len(errors) - 1} more invalid setting(s))" if len(errors) > 1 else ""
    example = EXAMPLES.get(field)
    return ConfigError(
        " ".join(f"{name}: {reason}{more}".split()),  # one line, whatever the message held
        hint=f"for example {name}={example}" if example else None,
    )


def option_duration(option: str, text: str, example: str) -> timedelta:
    """A command-line duration option, or a ``ConfigError`` naming the option."""
    try:
        return parse_duration(text)  # 0s is allowed: "everything is stale" is a useful check
    except ValueError as exc:
        raise ConfigError(f"{option}: {exc}", hint=f"for example {option} {example}") from None


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment (and ``.env``); keyword overrides win (used by tests and CLI).

    Raises ``ConfigError`` (one line naming the setting) for any invalid value, before anything starts.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except PydanticValidationError as exc:
        raise config_error(exc) from None

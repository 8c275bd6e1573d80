"""Typed readers for Schwab Trader API JSON: every error names the field path and the endpoint."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from portfolio_dashboard.domain import RawResponse
from portfolio_dashboard.errors import ParsingError, scrub_secrets

SOURCE = "schwab"
MAX_EXPONENT = 30


# --- small typed readers -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Where:
    """Where a value came from, for error messages that name the field and the endpoint."""

    endpoint: str
    path: str = ""

    def at(self, key: str | int) -> Where:
        part = f"[{key}]" if isinstance(key, int) else (f".{key}" if self.path else key)
        return Where(self.endpoint, f"{self.path}{part}")

    def fail(self, what: str) -> ParsingError:
        field = self.path or "body"
        return ParsingError(
            f"{field}: {what}",
            source=SOURCE,
            endpoint=self.endpoint,
            hint="Schwab's response was not in the documented shape; it is kept in raw_payloads for review",
        )


def obj(value: Any, where: Where) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise where.fail(f"expected an object, got {type(value).__name__}")
    return value


def list_of(value: Any, where: Where, *, optional: bool = False) -> list[Any]:
    if value is None and optional:
        return []
    if not isinstance(value, list):
        raise where.fail(f"expected a list, got {type(value).__name__}")
    return value


def str_of(data: Mapping[str, Any], key: str, where: Where, *, required: bool = False) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise where.at(key).fail("missing")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise where.at(key).fail(f"expected text, got {type(value).__name__}")
    return str(value).strip() or None


def dec_of(data: Mapping[str, Any], key: str, where: Where, *, required: bool = False) -> Decimal | None:
    """A number as Decimal: JSON numbers via ``str`` (never a float), and strings like ``"1,234.50"``."""
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise where.at(key).fail("missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise where.at(key).fail(f"expected a number, got {type(value).__name__}")
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation:
        raise where.at(key).fail(f"not a number: {str(value)[:40]!r}") from None
    if not number.is_finite():
        raise where.at(key).fail(f"not a finite number: {value!r}")
    if number and not -MAX_EXPONENT <= number.adjusted() <= MAX_EXPONENT:
        # No balance, price or quantity is this large or small; arithmetic on it would overflow.
        raise where.at(key).fail(f"out of range: {str(value)[:40]!r}")
    return number


def time_of(data: Mapping[str, Any], key: str, where: Where) -> datetime | None:
    text = str_of(data, key, where)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text)  # Python 3.11 reads Schwab's "+0000" offsets
    except ValueError:
        raise where.at(key).fail(f"not an ISO-8601 time: {text[:40]!r}") from None
    if parsed.tzinfo is None:
        raise where.at(key).fail(f"time without a UTC offset: {text[:40]!r}")
    return parsed


def endpoint_path(raw: RawResponse) -> str:
    _, _, rest = raw.endpoint.partition(" ")
    return (rest or raw.endpoint).split("?", 1)[0]


def json_of(raw: RawResponse) -> Any:
    try:
        return raw.json()
    except ValueError:
        snippet = scrub_secrets(raw.body[:200].decode("utf-8", errors="replace"))[:60]
        raise ParsingError(
            f"response is not JSON (HTTP {raw.status_code}, starts {snippet!r})",
            source=SOURCE,
            endpoint=raw.endpoint,
            hint="Schwab sent a malformed or truncated body; it is kept in raw_payloads — try the capture again",
        ) from None

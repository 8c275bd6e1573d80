"""Reading IBKR Client Portal gateway payloads: endpoint labels, JSON shapes and values (pure, no I/O).

Shared by the fetch half (which must look at a few bodies to know what to ask next: account ids, an empty
positions page, a thin read, a missing ledger rate) and the parse half. Every helper raises only
``ParsingError`` (unreadable or wrong shape) or ``ValidationError`` (readable but impossible), naming the field
and the endpoint, so a bad body never escapes as ``KeyError``/``TypeError``.

Units as IBKR documents them (Client Portal Web API v1.0):

* ``/portfolio/{id}/summary``: one object per key, ``{"amount", "currency", "isNull", "timestamp", "value"}``,
  ``timestamp`` in epoch **milliseconds**.
* ``/portfolio/{id}/ledger``: one object per currency plus ``BASE``; ``timestamp`` in epoch **seconds**;
  ``exchangerate`` is base-currency units per one unit of that currency.
* ``/iserver/exchangerate?source=A&target=B``: ``{"rate": r}`` with r = units of B per one A (ibind documents
  ``source`` as the base and ``target`` as the quote currency).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from portfolio_dashboard.domain import RawResponse
from portfolio_dashboard.errors import ParsingError, ValidationError, scrub_secrets

SOURCE = "ib_gateway"
BROKER = "ib"
BASE_KEY = "BASE"  # the ledger's aggregate entry, converted to the account's base currency
PAGE_SIZE = 100  # IBKR: "each page will return up to 100 positions" (older gateways used 30; we stop on empty)

# Fields a position row carries once IBKR has loaded the contract's security definition. A first read after
# login often lacks them (ibind issue #6: 21 or 41 fields instead of 47).
DESCRIPTIVE_FIELDS = ("ticker", "name", "listingExchange", "assetClass", "currency")

_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("auth_status", re.compile(r"/iserver/auth/status\Z")),
    ("tickle", re.compile(r"/tickle\Z")),
    ("accounts", re.compile(r"/portfolio/accounts\Z")),
    ("positions", re.compile(r"/portfolio/(?P<account>[^/]+)/positions/(?P<page>\d+)\Z")),
    ("summary", re.compile(r"/portfolio/(?P<account>[^/]+)/summary\Z")),
    ("ledger", re.compile(r"/portfolio/(?P<account>[^/]+)/ledger\Z")),
    ("exchangerate", re.compile(r"/iserver/exchangerate\Z")),
    ("secdef", re.compile(r"/trsrv/secdef\Z")),
)


@dataclass(frozen=True, slots=True)
class Endpoint:
    kind: str  # one of the _PATTERNS names
    account: str | None = None
    page: int | None = None
    query: Mapping[str, str] | None = None


def classify_endpoint(label: str) -> Endpoint | None:
    """What a recorded ``METHOD /v1/api/...?query`` label is, or None for a path we never parse."""
    _, _, target = label.partition(" ")
    parts = urlsplit(target or label)
    for kind, pattern in _PATTERNS:
        match = pattern.search(parts.path)
        if match:
            groups = match.groupdict()
            page = groups.get("page")
            return Endpoint(
                kind=kind,
                account=groups.get("account"),
                page=int(page) if page is not None else None,
                query=dict(parse_qsl(parts.query)),
            )
    return None


def is_success(raw: RawResponse) -> bool:
    return raw.status_code is None or 200 <= raw.status_code < 300


def load_json(raw: RawResponse) -> Any:
    """The body as JSON, or a ParsingError that says what came instead (the raw response is kept)."""
    try:
        return raw.json()
    except (ValueError, UnicodeDecodeError):
        kind = (raw.content_type or "unknown content type").split(";")[0]
        snippet = scrub_secrets(raw.text[:200]).replace("\n", " ")[:60]
        raise ParsingError(
            f"gateway answered with a body that is not JSON ({kind}, {len(raw.body)} bytes: {snippet!r})",
            source=SOURCE,
            endpoint=raw.endpoint,
            status_code=raw.status_code,
            hint="the response is kept in raw_payloads; if the gateway shows a login page, log in and retry",
        ) from None


def require_dict(body: Any, endpoint: str, what: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ParsingError(
            f"expected a JSON object for {what}, got {type(body).__name__}", source=SOURCE, endpoint=endpoint
        )
    return body


def require_list_of_dicts(body: Any, endpoint: str, what: str) -> list[dict[str, Any]]:
    if not isinstance(body, list):
        raise ParsingError(
            f"expected a JSON array for {what}, got {type(body).__name__}", source=SOURCE, endpoint=endpoint
        )
    for index, item in enumerate(body):
        if not isinstance(item, dict):
            raise ParsingError(
                f"{what}[{index}] is {type(item).__name__}, not an object", source=SOURCE, endpoint=endpoint
            )
    return body


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def text(value: Any, field: str, endpoint: str) -> str | None:
    """An optional string field; numbers are accepted (IBKR sends ``strike`` both ways), other types are not."""
    if blank(value):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ParsingError(f"field {field!r} should be text, got {type(value).__name__}", source=SOURCE, endpoint=endpoint)


def to_decimal(value: Any, field: str, endpoint: str, *, required: bool = False) -> Decimal | None:
    """A JSON number or numeric string as Decimal (via ``str`` so a float keeps its printed digits)."""
    if blank(value):
        if required:
            raise ParsingError(f"required field {field!r} is missing", source=SOURCE, endpoint=endpoint)
        return None
    if isinstance(value, bool):
        raise ParsingError(f"field {field!r} should be a number, got a boolean", source=SOURCE, endpoint=endpoint)
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValidationError(f"field {field!r} is not a finite number", source=SOURCE, endpoint=endpoint)
        return _in_range(Decimal(str(value)), field, endpoint)
    if isinstance(value, str):
        cleaned = value.strip().replace(",", "")
        try:
            result = Decimal(cleaned)
        except InvalidOperation:
            raise ParsingError(
                f"field {field!r} is not a number: {value[:40]!r}", source=SOURCE, endpoint=endpoint
            ) from None
        if not result.is_finite():
            raise ValidationError(f"field {field!r} is not a finite number", source=SOURCE, endpoint=endpoint)
        return _in_range(result, field, endpoint)
    raise ParsingError(
        f"field {field!r} should be a number, got {type(value).__name__}", source=SOURCE, endpoint=endpoint
    )


def _in_range(number: Decimal, field: str, endpoint: str) -> Decimal:
    """Refuse magnitudes no account holds (they would also overflow Decimal arithmetic later)."""
    if number and not -15 <= number.adjusted() <= 15:
        raise ValidationError(f"field {field!r} is out of range: {number:.3e}", source=SOURCE, endpoint=endpoint)
    return number


# Epochs outside 2000..2100 are not timestamps of a live account; one that is 1000x off is in the other unit.
_MIN_EPOCH_S = 946_684_800
_MAX_EPOCH_S = 4_102_444_800


def epoch_to_datetime(value: Any, field: str, endpoint: str, *, unit: str) -> datetime:
    """An epoch in the documented ``unit`` ("ms" or "s") as an aware UTC datetime.

    Tolerates the other unit (a value 1000x out of range), because IBKR uses both across endpoints.
    """
    number = to_decimal(value, field, endpoint, required=True)
    assert number is not None
    seconds = number / 1000 if unit == "ms" else number
    if seconds > _MAX_EPOCH_S and unit == "s":
        seconds = number / 1000
    elif seconds < _MIN_EPOCH_S and unit == "ms":
        seconds = number
    if not _MIN_EPOCH_S <= seconds <= _MAX_EPOCH_S:
        raise ValidationError(
            f"field {field!r} is not a plausible timestamp: {value!r}", source=SOURCE, endpoint=endpoint
        )
    return datetime.fromtimestamp(float(seconds), tz=UTC)


def conid_of(row: Mapping[str, Any], endpoint: str) -> str:
    """IBKR's contract id, which we store as ``broker_instrument_id``; sent as a number or a string."""
    value = row.get("conid")
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, float) and value.is_integer() and value > 0:
        return str(int(value))
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses with a ValueError
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit() and int(value) > 0:
        return str(int(value))
    raise ParsingError(f"field 'conid' is missing or not a contract id: {value!r}", source=SOURCE, endpoint=endpoint)


def account_id_of(row: Mapping[str, Any], endpoint: str) -> str:
    for key in ("accountId", "id"):
        value = row.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    raise ParsingError("account entry has no 'accountId'/'id'", source=SOURCE, endpoint=endpoint)


def account_ids(body: Any, endpoint: str) -> list[str]:
    rows = require_list_of_dicts(body, endpoint, "accounts")
    ids: list[str] = []
    for row in rows:
        account = account_id_of(row, endpoint)
        if account not in ids:
            ids.append(account)
    return ids


def is_thin(rows: list[dict[str, Any]]) -> bool:
    """A read is thin when a held row has neither ticker nor name (IBKR has not loaded its definition yet)."""
    return any(blank(row.get("ticker")) and blank(row.get("name")) for row in rows)


def needs_secdef(row: Mapping[str, Any]) -> bool:
    return any(blank(row.get(field)) for field in DESCRIPTIVE_FIELDS)


def ledger_entries(body: Any, endpoint: str) -> dict[str, dict[str, Any]]:
    """The ledger's per-currency objects keyed by currency code (``BASE`` included)."""
    ledger = require_dict(body, endpoint, "ledger")
    entries: dict[str, dict[str, Any]] = {}
    for key, entry in ledger.items():
        if not isinstance(entry, dict):
            raise ParsingError(
                f"ledger entry {key!r} is {type(entry).__name__}, not an object", source=SOURCE, endpoint=endpoint
            )
        entries[str(key).strip()] = entry
    return entries


def ledger_rate(entry: Mapping[str, Any], currency: str, endpoint: str) -> Decimal | None:
    """The ledger's ``exchangerate`` (base units per one ``currency``) when usable, else None."""
    rate = to_decimal(entry.get("exchangerate"), f"{currency}.exchangerate", endpoint)
    return rate if rate is not None and rate > 0 else None


def secdef_rows(body: Any, endpoint: str) -> list[dict[str, Any]]:
    """``/trsrv/secdef`` answers ``{"secdef": [...]}`` (the older POST form answered a bare list)."""
    if isinstance(body, dict):
        body = body.get("secdef", [])
    return require_list_of_dicts(body, endpoint, "secdef")

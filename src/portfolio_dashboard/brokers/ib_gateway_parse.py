"""Parse half of the ``ib_gateway`` source: recorded gateway responses in, snapshots and FX rates out.

Pure: it reads only the recorded responses (bodies, status codes and the safe ``date`` header), so a capture
can be re-parsed later from ``raw_payloads``. Error responses (a 429 before its successful retry) are skipped.

* Accounts: the last successful ``/portfolio/accounts``; every account listed gets a snapshot.
* Positions: responses for an account are grouped into *reads* (each starts at page 0 and runs to the first
  empty page); the last read wins, so a thin first read that fetch re-read is superseded.
* Total and as-of: ``/summary`` ``netliquidation`` (amount in the base currency; timestamp in epoch ms);
  without a ``/summary`` the ledger's ``BASE`` ``netliquidationvalue`` and ``timestamp`` (with a warning).
  Empty positions pages while the totals (``grosspositionvalue``, the ledger's market values) say the account
  holds securities are a validation error, not a snapshot of cash only.
* Cash and FX: ``/ledger`` ``cashbalance`` per currency; ``exchangerate`` becomes an ``FxRate`` from that
  currency to the account base, provider ``ib``. ``/iserver/exchangerate`` answers add rates fetch asked for
  (non-GBP base to GBP, currencies without a ledger rate), timed by the gateway's ``Date`` header.
"""

from __future__ import annotations

import email.utils
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from portfolio_dashboard.brokers.ib_gateway_payloads import (
    BASE_KEY,
    BROKER,
    SOURCE,
    account_id_of,
    classify_endpoint,
    conid_of,
    epoch_to_datetime,
    is_success,
    ledger_entries,
    ledger_rate,
    load_json,
    require_dict,
    require_list_of_dicts,
    secdef_rows,
    text,
    to_decimal,
)
from portfolio_dashboard.brokers.ib_gateway_positions import PositionReader
from portfolio_dashboard.brokers.safety import reject_future
from portfolio_dashboard.domain import (
    Account,
    AccountSnapshot,
    CashBalance,
    CoverageCounter,
    FxRate,
    ParseResult,
    Position,
    RawResponse,
    skip_warnings,
)
from portfolio_dashboard.domain.accounts import wrapper_from_broker
from portfolio_dashboard.domain.currency import UnknownCurrencyError, normalise_currency
from portfolio_dashboard.errors import ParsingError, SourceError, ValidationError

PARSER_VERSION = "ib_gateway/2"  # 2: ledger fallback without /summary, empty-positions check, coverage
PROVIDER = "ib"
MAX_PAGES = 500  # 50,000 positions: far beyond any account; stops a gateway that never sends an empty page


def _currency(code: str, endpoint: str) -> str:
    try:
        major, divisor = normalise_currency(code)
    except UnknownCurrencyError:
        raise ValidationError(f"unknown currency {code!r}", source=SOURCE, endpoint=endpoint) from None
    if divisor != 1:
        raise ValidationError(f"{code!r} is a minor unit, not an account currency", source=SOURCE, endpoint=endpoint)
    return major


def _http_date(raw: RawResponse) -> datetime | None:
    value = raw.headers.get("date") or raw.headers.get("Date")
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


class _Collected:
    """The recorded responses sorted by what they are."""

    def __init__(self) -> None:
        self.accounts: RawResponse | None = None
        self.reads: dict[str, list[dict[int, RawResponse]]] = {}
        self.summaries: dict[str, RawResponse] = {}
        self.ledgers: dict[str, RawResponse] = {}
        self.secdef: dict[str, dict[str, Any]] = {}
        self.rates: list[FxRate] = []

    def add(self, raw: RawResponse, warnings: list[str]) -> None:
        endpoint = classify_endpoint(raw.endpoint)
        if endpoint is None or not is_success(raw):
            return
        account = endpoint.account or ""
        if endpoint.kind == "accounts":
            self.accounts = raw
        elif endpoint.kind == "positions":
            reads = self.reads.setdefault(account, [])
            if endpoint.page == 0 or not reads:
                reads.append({})
            reads[-1][endpoint.page or 0] = raw
        elif endpoint.kind == "summary":
            self.summaries[account] = raw
        elif endpoint.kind == "ledger":
            self.ledgers[account] = raw
        elif endpoint.kind in ("secdef", "exchangerate"):
            # Enrichment only: a bad answer here costs a field or a rate, never the snapshot.
            try:
                if endpoint.kind == "secdef":
                    for row in secdef_rows(load_json(raw), raw.endpoint):
                        self.secdef[conid_of(row, raw.endpoint)] = row
                else:
                    rate = _exchange_rate(raw, endpoint.query or {})
                    if rate is not None:
                        self.rates.append(rate)
            except SourceError as exc:
                warnings.append(f"ignored {raw.endpoint}: {exc.message}")


def _exchange_rate(raw: RawResponse, query: dict[str, str] | Any) -> FxRate | None:
    source = _currency(str(query.get("source", "")), raw.endpoint)
    target = _currency(str(query.get("target", "")), raw.endpoint)
    body = require_dict(load_json(raw), raw.endpoint, "exchange rate")
    rate = to_decimal(body.get("rate"), "rate", raw.endpoint)
    if rate is None or rate <= 0:
        raise ValidationError(
            f"no usable rate {source}->{target}: {body.get('rate')!r}", source=SOURCE, endpoint=raw.endpoint
        )
    asof = _http_date(raw) or raw.received_at
    return FxRate(source, target, rate, asof, PROVIDER)


def _read_rows(account: str, read: dict[int, RawResponse]) -> list[tuple[str, dict[str, Any]]]:
    """Rows of one read in page order, each with its endpoint; the read must end with an empty page."""
    rows: list[tuple[str, dict[str, Any]]] = []
    for page in range(MAX_PAGES):
        raw = read.get(page)
        if raw is None:
            raise ParsingError(
                f"positions of {account} are incomplete: page {page} was not received",
                source=SOURCE,
                endpoint=f"GET /portfolio/{account}/positions/{page}",
            )
        body = require_list_of_dicts(load_json(raw), raw.endpoint, "positions page")
        if not body:
            return rows
        rows.extend((raw.endpoint, row) for row in body)
    raise ValidationError(f"positions of {account} never ended after {MAX_PAGES} pages", source=SOURCE)


def _summary_total(raw: RawResponse) -> tuple[Decimal | None, str | None, datetime, str]:
    """``netliquidation`` amount, its currency, and the broker's as-of with where it came from."""
    body = require_dict(load_json(raw), raw.endpoint, "summary")
    entry = body.get("netliquidation")
    amount: Decimal | None = None
    currency: str | None = None
    if isinstance(entry, dict):
        if entry.get("isNull") is not True:
            amount = to_decimal(entry.get("amount"), "netliquidation.amount", raw.endpoint)
            if amount is None:
                amount = to_decimal(entry.get("value"), "netliquidation.value", raw.endpoint)
        currency = text(entry.get("currency"), "netliquidation.currency", raw.endpoint)
        if entry.get("timestamp") is not None:
            asof = epoch_to_datetime(entry["timestamp"], "netliquidation.timestamp", raw.endpoint, unit="ms")
            return amount, currency, asof, "summary.netliquidation.timestamp"
    elif entry is not None:
        raise ParsingError("'netliquidation' is not an object", source=SOURCE, endpoint=raw.endpoint)
    stamps = [v["timestamp"] for v in body.values() if isinstance(v, dict) and v.get("timestamp") is not None]
    if stamps:
        times = [epoch_to_datetime(s, "timestamp", raw.endpoint, unit="ms") for s in stamps]
        return amount, currency, max(times), "summary.timestamp"
    http_date = _http_date(raw)
    if http_date is None:
        raise ParsingError("summary has no timestamp and no Date header", source=SOURCE, endpoint=raw.endpoint)
    return amount, currency, http_date, "http-date"


def _summary_amount(raw: RawResponse, key: str) -> Decimal | None:
    body = require_dict(load_json(raw), raw.endpoint, "summary")
    entry = body.get(key)
    if not isinstance(entry, dict) or entry.get("isNull") is True:
        return None
    return to_decimal(entry.get("amount"), f"{key}.amount", raw.endpoint)


def _ledger_total(base: dict[str, Any], raw: RawResponse) -> tuple[Decimal | None, datetime, str]:
    """Net liquidation and as-of from the ledger's ``BASE`` entry (``timestamp`` in epoch seconds)."""
    total = to_decimal(base.get("netliquidationvalue"), "BASE.netliquidationvalue", raw.endpoint)
    stamp = base.get("timestamp")
    if stamp:
        return total, epoch_to_datetime(stamp, "BASE.timestamp", raw.endpoint, unit="s"), "ledger.timestamp"
    http_date = _http_date(raw)
    if http_date is None:
        raise ParsingError("ledger has no BASE timestamp and no Date header", source=SOURCE, endpoint=raw.endpoint)
    return total, http_date, "http-date"


def _ledger_holdings(base: dict[str, Any], endpoint: str) -> Decimal | None:
    """What the ledger says the securities are worth (every ``...marketvalue`` of its BASE entry)."""
    values = [
        to_decimal(v, f"BASE.{k}", endpoint) for k, v in base.items() if k.endswith("marketvalue") and v is not None
    ]
    present = [v for v in values if v is not None]
    return sum(present, Decimal(0)) if present else None


class _AccountParser:
    def __init__(self, row: dict[str, Any], collected: _Collected, accounts_endpoint: str, warnings: list[str]) -> None:
        self.row = row
        self.collected = collected
        self.accounts_endpoint = accounts_endpoint
        self.warnings = warnings
        self.account_id = account_id_of(row, accounts_endpoint)

    def _required(self, responses: dict[str, RawResponse], what: str) -> RawResponse:
        raw = responses.get(self.account_id)
        if raw is None:
            raise ParsingError(
                f"no successful {what} response for account {self.account_id}",
                source=SOURCE,
                endpoint=f"GET /portfolio/{self.account_id}/{what}",
            )
        return raw

    def snapshot(self, coverage: CoverageCounter) -> tuple[AccountSnapshot, list[FxRate]]:
        ledger_raw = self._required(self.collected.ledgers, "ledger")
        ledger = ledger_entries(load_json(ledger_raw), ledger_raw.endpoint)
        base_entry = next((v for k, v in ledger.items() if k.upper() == BASE_KEY), {})
        summary = self.collected.summaries.get(self.account_id)
        if summary is not None:
            total, total_ccy, asof, asof_source = _summary_total(summary)
            held = _summary_amount(summary, "grosspositionvalue")
        else:
            # No /summary (the gateway answered an error): the ledger's BASE entry carries the same total.
            total, asof, asof_source = _ledger_total(base_entry, ledger_raw)
            total_ccy, held = None, None
            self.warnings.append(f"{self.account_id}: no /summary; total and as-of from the ledger's net liquidation")
        if held is None:
            held = _ledger_holdings(base_entry, ledger_raw.endpoint)
        base = self._base_currency(total_ccy, (summary or ledger_raw).endpoint)
        if total is None:
            self.warnings.append(f"{self.account_id}: summary has no net liquidation value")
        cash, rates = self._ledger(ledger_raw, base, asof)
        positions = self._positions(coverage)
        if not positions and held is not None and held != 0:
            raise ValidationError(
                f"{self.account_id}: the positions pages are empty but the account's totals say it holds "
                f"securities worth {held} {base}",
                source=SOURCE,
                endpoint=f"GET /portfolio/{self.account_id}/positions/0",
                hint="the gateway's portfolio cache was not ready; run the capture again",
            )
        account_type = self._label("type")
        account = Account(BROKER, self.account_id, self._name(), base, account_type=account_type,
                          wrapper=wrapper_from_broker(BROKER, account_type, self._label("accountAlias"),
                                                      self._label("desc"), self._label("accountTitle")))
        snapshot = AccountSnapshot(
            account,
            asof,
            asof_source,
            positions,
            cash,
            total,
            accrued_dividends_local=to_decimal(base_entry.get("dividends"), "BASE.dividends", ledger_raw.endpoint),
            accrued_interest_local=to_decimal(base_entry.get("interest"), "BASE.interest", ledger_raw.endpoint),
            source_raw=summary or ledger_raw,  # where its total and as-of were read
        )
        return snapshot, rates

    def _label(self, key: str) -> str | None:
        value = self.row.get(key)
        return value.strip() if isinstance(value, str) and value.strip() else None

    def _name(self) -> str:
        for key in ("accountAlias", "accountTitle", "displayName", "desc"):
            value = self.row.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
        return self.account_id

    def _base_currency(self, total_ccy: str | None, summary_endpoint: str) -> str:
        listed = text(self.row.get("currency"), "currency", self.accounts_endpoint)
        base = _currency(listed, self.accounts_endpoint) if listed else None
        reported = _currency(total_ccy, summary_endpoint) if total_ccy else None
        if base and reported and base != reported:
            # The total is what we store in base currency, so its currency wins.
            self.warnings.append(f"{self.account_id}: accounts list says {base}, net liquidation is in {reported}")
            return reported
        chosen = base or reported
        if chosen is not None:
            return chosen
        raise ParsingError(
            f"no base currency for account {self.account_id}", source=SOURCE, endpoint=self.accounts_endpoint
        )

    def _ledger(self, raw: RawResponse, base: str, asof: datetime) -> tuple[tuple[CashBalance, ...], list[FxRate]]:
        cash: list[CashBalance] = []
        rates: list[FxRate] = []
        for key, entry in ledger_entries(load_json(raw), raw.endpoint).items():
            if key.upper() == BASE_KEY:
                continue
            currency = _currency(key, raw.endpoint)
            amount = to_decimal(entry.get("cashbalance"), f"{key}.cashbalance", raw.endpoint, required=True)
            if amount:
                cash.append(CashBalance(currency, amount))
            rate = ledger_rate(entry, key, raw.endpoint)
            if currency != base and rate is not None:
                stamp = entry.get("timestamp")
                when = epoch_to_datetime(stamp, f"{key}.timestamp", raw.endpoint, unit="s") if stamp else asof
                rates.append(FxRate(currency, base, rate, when, PROVIDER))
        return tuple(cash), rates

    def _positions(self, coverage: CoverageCounter) -> tuple[Position, ...]:
        reads = self.collected.reads.get(self.account_id)
        if not reads:
            raise ParsingError(
                f"no positions response for account {self.account_id}",
                source=SOURCE,
                endpoint=f"GET /portfolio/{self.account_id}/positions/0",
            )
        reader = PositionReader(self.account_id, self.collected.secdef, self.warnings)
        positions: dict[str, Position] = {}
        rows = _read_rows(self.account_id, reads[-1])
        coverage.seen("portfolio/positions", "position", len(rows))
        for endpoint, row in rows:
            position = reader.position(row, endpoint)
            if position is None:
                coverage.skipped(
                    "portfolio/positions", "zero quantity or FX cash row (cash is the ledger's)", "position"
                )
                continue
            key = position.instrument.broker_instrument_id
            if key in positions:
                # Pages can overlap when the portfolio changes between page requests.
                self.warnings.append(f"{self.account_id}: conid {key} listed twice; kept the first row")
                coverage.skipped("portfolio/positions", "conid listed twice across pages", "position")
                continue
            positions[key] = position
            coverage.parsed("portfolio/positions", "position")
        return tuple(positions.values())


def _dedupe(rates: list[FxRate], warnings: list[str]) -> tuple[FxRate, ...]:
    kept: dict[tuple[datetime, str, str, str], FxRate] = {}
    for rate in rates:
        key = (rate.asof_ts, rate.source_ccy, rate.target_ccy, rate.provider)
        if key in kept:
            if kept[key].rate != rate.rate:
                pair = f"{rate.source_ccy}->{rate.target_ccy}"
                warnings.append(f"two IBKR rates {pair} at {rate.asof_ts}; kept the first")
            continue
        kept[key] = rate
    return tuple(kept.values())


def parse_responses(raws: Sequence[RawResponse], *, now: datetime | None = None) -> ParseResult:
    """Snapshots and rates; ``now`` (default: the clock) bounds the as-of (no more than minutes ahead)."""
    warnings: list[str] = []
    collected = _Collected()
    for raw in raws:
        collected.add(raw, warnings)
    if collected.accounts is None:
        raise ParsingError(
            "no successful /portfolio/accounts response among the recorded responses",
            source=SOURCE,
            endpoint="GET /portfolio/accounts",
        )
    accounts_endpoint = collected.accounts.endpoint
    rows = require_list_of_dicts(load_json(collected.accounts), accounts_endpoint, "accounts")
    snapshots: list[AccountSnapshot] = []
    rates: list[FxRate] = []
    seen: set[str] = set()
    coverage = CoverageCounter()
    coverage.seen("portfolio/accounts", "account", len(rows))
    for row in rows:
        parser = _AccountParser(row, collected, accounts_endpoint, warnings)
        if parser.account_id in seen:
            coverage.skipped("portfolio/accounts", "account listed twice", "account")
            continue
        seen.add(parser.account_id)
        snapshot, ledger_rates = parser.snapshot(coverage)
        snapshots.append(snapshot)
        rates.extend(ledger_rates)
        coverage.parsed("portfolio/accounts", "account")
    reject_future(snapshots, now or datetime.now(UTC), source=SOURCE)
    rates.extend(collected.rates)
    lines = coverage.lines()
    warnings += skip_warnings(lines)
    return ParseResult(
        snapshots=tuple(snapshots), fx_rates=_dedupe(rates, warnings), warnings=tuple(warnings), coverage=lines
    )

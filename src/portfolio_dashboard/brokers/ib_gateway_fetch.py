"""Fetch half of the ``ib_gateway`` source: the order of requests one capture makes (see ``ib_gateway``).

It reads a few bodies only to decide what to ask next (the account ids, when a positions read ends, whether
it was thin, which rows or currencies need enrichment); the meaning of everything is left to ``parse``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from portfolio_dashboard.brokers.http import BrokerHttp
from portfolio_dashboard.brokers.ib_gateway_parse import MAX_PAGES
from portfolio_dashboard.brokers.ib_gateway_payloads import (
    BASE_KEY,
    SOURCE,
    account_ids,
    conid_of,
    is_thin,
    ledger_entries,
    ledger_rate,
    load_json,
    needs_secdef,
    require_dict,
    require_list_of_dicts,
    text,
    to_decimal,
)
from portfolio_dashboard.domain import RawResponse
from portfolio_dashboard.domain.currency import UnknownCurrencyError, normalise_currency
from portfolio_dashboard.errors import AuthError, SourceError, ValidationError

log = logging.getLogger(__name__)

SECDEF_BATCH = 200  # IBKR: /trsrv/secdef takes at most 200 conids per request


@dataclass(frozen=True, slots=True)
class FetchOptions:
    api_url: str  # https://host:port/v1/api
    login_hint: str
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    tickle_interval_s: float = 60.0  # IBKR: tickle about once a minute to keep the session
    thin_reread_wait_s: float = 2.0
    report_currency: str = "GBP"  # the dashboard's base: an account in another base also gets base->GBP


def _major(code: str | None) -> str | None:
    if code is None:
        return None
    try:
        return normalise_currency(code)[0]
    except UnknownCurrencyError:
        return None  # parse reports it; fetch only needs currencies it can ask a rate for


class GatewayFetch:
    def __init__(self, options: FetchOptions, http: BrokerHttp, probe: BrokerHttp) -> None:
        self.options = options
        self.api = options.api_url
        self.http = http
        self.probe = probe
        self._last_tickle: float | None = None
        self.accounts: list[str] = []
        self._rows: dict[str, list[dict[str, Any]]] = {}
        self._ledgers: dict[str, dict[str, dict[str, Any]]] = {}
        self._bases: dict[str, str] = {}
        self._secdef_currency: dict[str, str] = {}

    # --- requests ------------------------------------------------------------------------------------------
    def _keep_alive(self) -> None:
        now = self.options.clock()
        if self._last_tickle is not None and now - self._last_tickle < self.options.tickle_interval_s:
            return
        self._last_tickle = now
        try:
            self.http.request("POST", f"{self.api}/tickle")
        except AuthError:
            raise
        except SourceError as exc:
            # A missed keep-alive is not a failed capture; the next request will tell if the session is gone.
            log.warning("%s: tickle failed: %s", SOURCE, exc)

    def _get(self, path: str, params: dict[str, str] | None = None) -> tuple[Any, str]:
        self._keep_alive()
        raw: RawResponse = self.http.request("GET", f"{self.api}{path}", params=params)
        return load_json(raw), raw.endpoint

    # --- steps ---------------------------------------------------------------------------------------------
    def run(self) -> None:
        self._check_session()
        self._keep_alive()
        body, endpoint = self._get("/portfolio/accounts")
        self.accounts = account_ids(body, endpoint)
        for row in require_list_of_dicts(body, endpoint, "accounts"):
            base = _major(text(row.get("currency"), "currency", endpoint))
            if base:
                self._bases[str(row.get("accountId") or row.get("id"))] = base
        for account in self.accounts:
            self._rows[account] = self._positions(account)
            summary, endpoint = self._get(f"/portfolio/{account}/summary")
            if account not in self._bases:
                total = require_dict(summary, endpoint, "summary").get("netliquidation")
                base = _major(text(total.get("currency"), "currency", endpoint)) if isinstance(total, dict) else None
                if base:
                    self._bases[account] = base
            ledger, endpoint = self._get(f"/portfolio/{account}/ledger")
            self._ledgers[account] = ledger_entries(ledger, endpoint)
        self._enrich(self._secdef, "security definitions")
        self._enrich(self._exchange_rates, "exchange rates")

    def _check_session(self) -> None:
        raw = self.probe.request("POST", f"{self.api}/iserver/auth/status")
        status = require_dict(load_json(raw), raw.endpoint, "auth status")
        if status.get("authenticated") is not True:
            competing = status.get("competing") is True
            reason = "another IBKR session (TWS, mobile, web) is competing" if competing else "not authenticated"
            raise AuthError(
                f"the gateway session is {reason}",
                source=SOURCE,
                endpoint=raw.endpoint,
                status_code=raw.status_code,
                hint=self.options.login_hint,
            )

    def _read_pages(self, account: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for page in range(MAX_PAGES):
            body, endpoint = self._get(f"/portfolio/{account}/positions/{page}")
            page_rows = require_list_of_dicts(body, endpoint, "positions page")
            if not page_rows:
                return rows
            rows.extend(page_rows)
        raise ValidationError(f"positions of {account} never ended after {MAX_PAGES} pages", source=SOURCE)

    def _positions(self, account: str) -> list[dict[str, Any]]:
        rows = self._read_pages(account)
        if is_thin(rows):
            # IBKR answers the first read after login before it has loaded contract details; read once more.
            log.info("%s: thin positions read for %s; reading again", SOURCE, account)
            self.options.sleep(self.options.thin_reread_wait_s)
            rows = self._read_pages(account)
        return rows

    def _enrich(self, step: Callable[[], None], what: str) -> None:
        try:
            step()
        except AuthError:
            raise
        except SourceError as exc:
            log.warning("%s: could not fetch %s (%s); continuing without them", SOURCE, what, exc)

    def _secdef(self) -> None:
        wanted: list[str] = []
        for rows in self._rows.values():
            for row in rows:
                if needs_secdef(row):
                    conid = conid_of(row, "positions")
                    if conid not in wanted:
                        wanted.append(conid)
        for start in range(0, len(wanted), SECDEF_BATCH):
            batch = wanted[start : start + SECDEF_BATCH]
            body, endpoint = self._get("/trsrv/secdef", {"conids": ",".join(batch)})
            rows = body.get("secdef", []) if isinstance(body, dict) else body
            for row in require_list_of_dicts(rows, endpoint, "secdef"):
                currency = _major(text(row.get("currency"), "currency", endpoint))
                if currency:
                    self._secdef_currency[conid_of(row, endpoint)] = currency

    def _needed_pairs(self) -> list[tuple[str, str]]:
        pairs: list[tuple[str, str]] = []
        for account in self.accounts:
            ledger = self._ledgers.get(account, {})
            base = self._bases.get(account)
            if base is None:
                continue
            currencies: set[str] = set()
            for row in self._rows.get(account, []):
                conid = str(row.get("conid"))
                code = _major(text(row.get("currency"), "currency", "positions")) or self._secdef_currency.get(conid)
                if code and to_decimal(row.get("position"), "position", "positions"):
                    currencies.add(code)
            rated: set[str] = set()
            for key, entry in ledger.items():
                code = _major(key) if key.upper() != BASE_KEY else None
                if code is None:
                    continue
                currencies.add(code)
                if ledger_rate(entry, key, "ledger") is not None:
                    rated.add(code)
            for code in sorted(currencies - rated - {base}):
                pairs.append((code, base))
            if base != self.options.report_currency:
                pairs.append((base, self.options.report_currency))
        return list(dict.fromkeys(pairs))

    def _exchange_rates(self) -> None:
        for source, target in self._needed_pairs():
            try:
                self._get("/iserver/exchangerate", {"source": source, "target": target})
            except AuthError:
                raise
            except SourceError as exc:
                log.warning("%s: no IBKR rate %s->%s (%s)", SOURCE, source, target, exc)

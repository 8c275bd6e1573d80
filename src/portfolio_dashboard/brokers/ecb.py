"""The ECB's euro foreign exchange reference rates: the public fallback of the FX chain.

The feed (``ECB_RATES_URL``; the daily file by default, the 90-day or full history file work too)::

    <gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01"
                     xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
      <Cube>
        <Cube time="2024-05-17">
          <Cube currency="USD" rate="1.0866"/> <Cube currency="GBP" rate="0.85550"/> ...

Each rate is units of the currency for one euro. The ECB publishes around 16:00 CET on TARGET working days,
so a day's rates are dated that day 16:00 Europe/Berlin (CET/CEST).

``parse`` emits the published EUR->X rates unchanged and, for every currency X, the cross rate to the base
currency through the euro (USD->GBP = EUR->GBP / EUR->USD), rounded to 10 significant digits — the ECB
publishes at most 6, so the rounding adds nothing and keeps the stored numbers short. All carry provider
``ecb``; the capture stores the ones it uses, so each day's rates are fetched once and then found in
``fx_rates``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from decimal import Context, Decimal, InvalidOperation
from typing import Self
from xml.etree.ElementTree import Element, ParseError
from zoneinfo import ZoneInfo

import httpx
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from portfolio_dashboard.brokers.base import FetchContext, Recorder, SourceHealth
from portfolio_dashboard.brokers.http import USER_AGENT, BrokerHttp, RetryPolicy
from portfolio_dashboard.config import DEFAULT_ECB_URL, Settings
from portfolio_dashboard.domain import FxRate, ParseResult, RawResponse, normalise_currency
from portfolio_dashboard.domain.currency import UnknownCurrencyError
from portfolio_dashboard.errors import ParsingError, SourceError

NAME = "ecb"
PROVIDER = "ecb"
ECB_ZONE = ZoneInfo("Europe/Berlin")
PUBLISHED_AT = 16  # hour, ECB time
CROSS_CONTEXT = Context(prec=10)


def publication_asof(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, PUBLISHED_AT, tzinfo=ECB_ZONE)


def latest_publication(now: datetime) -> datetime:
    """The as-of of the newest rates that should exist at ``now`` (weekends skipped; TARGET holidays are
    not modelled, so on a holiday a fetch simply returns the previous day's rates again)."""
    local = now.astimezone(ECB_ZONE)
    day = local.date() if local.hour >= PUBLISHED_AT else local.date() - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return publication_asof(day)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class EcbRates:
    """Source-like: ``fetch`` records the feed, ``parse`` is pure and yields only ``fx_rates``."""

    name = NAME
    broker = NAME
    parser_version = "1"

    def __init__(
        self,
        url: str = DEFAULT_ECB_URL,
        *,
        base_currency: str = "GBP",
        client: httpx.Client | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 20.0,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.url = url
        self.base_currency = base_currency.upper()
        self._client = client or httpx.Client(
            transport=transport, timeout=timeout, headers={"User-Agent": USER_AGENT}, follow_redirects=True
        )
        self._sleep = sleep
        self.retry_policy = retry or RetryPolicy(max_attempts=3, initial_wait=1.0, max_wait=5.0, max_total=20.0)
        self.retries = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(settings.ecb_rates_url, base_currency=settings.base_currency)

    def fetch(self, record: Recorder, ctx: FetchContext) -> None:
        http = BrokerHttp(NAME, NAME, self._client, record=record, policy=self.retry_policy, sleep=self._sleep)
        try:
            http.request("GET", self.url)
        finally:
            self.retries += http.retries

    def health(self) -> SourceHealth:
        http = BrokerHttp(NAME, NAME, self._client, policy=RetryPolicy(max_attempts=1), sleep=self._sleep)
        try:
            http.request("GET", self.url, retry=False)
        except SourceError as exc:
            return SourceHealth(NAME, reachable=False, authenticated=True, detail=exc.user_message())
        return SourceHealth(NAME, reachable=True, authenticated=True, detail="ECB reference rates reachable")

    def close(self) -> None:
        self._client.close()

    # --- parse ---------------------------------------------------------------------------------------------
    def parse(self, raws: Sequence[RawResponse]) -> ParseResult:
        rates: dict[tuple[datetime, str, str], FxRate] = {}
        warnings: list[str] = []
        found = False
        for raw in raws:
            if raw.status_code is not None and not 200 <= raw.status_code < 300:
                continue
            for day, published in self._days(raw):
                found = True
                for rate in self._rates(day, published, warnings):
                    rates[(rate.asof_ts, rate.source_ccy, rate.target_ccy)] = rate
        if not found:
            raise ParsingError("no ECB reference rates among the responses", source=NAME, hint="check ECB_RATES_URL")
        return ParseResult(
            fx_rates=tuple(sorted(rates.values(), key=lambda r: (r.asof_ts, r.source_ccy, r.target_ccy))),
            warnings=tuple(dict.fromkeys(warnings)),
        )

    def _days(self, raw: RawResponse) -> list[tuple[date, dict[str, Decimal]]]:
        def fail(problem: str) -> ParsingError:
            return ParsingError(problem, source=NAME, endpoint=raw.endpoint, hint="check ECB_RATES_URL")

        try:
            root: Element = fromstring(raw.body)
        except (ParseError, DefusedXmlException) as exc:
            raise fail(f"the ECB feed is not well-formed XML ({type(exc).__name__})") from None
        days: list[tuple[date, dict[str, Decimal]]] = []
        for cube in root.iter():
            if _local(cube.tag) != "Cube" or "time" not in cube.attrib:
                continue
            try:
                day = date.fromisoformat(cube.attrib["time"].strip())
            except ValueError:
                raise fail(f"Cube.time is not a date: {cube.attrib['time']!r}") from None
            published: dict[str, Decimal] = {}
            for child in cube:
                if _local(child.tag) != "Cube":
                    continue
                code, text = child.get("currency"), child.get("rate")
                if code is None or text is None:
                    raise fail(f"Cube for {day} lacks currency or rate")
                try:
                    rate = Decimal(text.strip())
                except InvalidOperation:
                    raise fail(f"Cube {code} rate is not a number: {text!r}") from None
                if not rate.is_finite() or rate <= 0 or not -12 <= rate.adjusted() <= 12:
                    raise fail(f"Cube {code} rate must be a positive number of sensible size, got {text!r}")
                published[code.strip().upper()] = rate
            days.append((day, published))
        if not days and _local(root.tag) != "Envelope":
            raise fail(f"unexpected XML root <{_local(root.tag)}>: expected the ECB's gesmes:Envelope")
        return days

    def _rates(self, day: date, published: dict[str, Decimal], warnings: list[str]) -> list[FxRate]:
        asof = publication_asof(day)
        euro: dict[str, Decimal] = {}
        for code, rate in published.items():
            try:
                ccy, divisor = normalise_currency(code)
            except UnknownCurrencyError:
                warnings.append(f"ECB rate for unknown currency {code!r} on {day} ignored")
                continue
            if divisor == 1 and ccy != "EUR":
                euro[ccy] = rate
        out = [FxRate("EUR", ccy, rate, asof, PROVIDER) for ccy, rate in sorted(euro.items())]
        base = self.base_currency
        if base == "EUR":
            return out
        to_base = euro.get(base)
        if to_base is None:
            warnings.append(f"the ECB feed for {day} has no {base} rate: no cross rates to {base}")
            return out
        for ccy, rate in sorted(euro.items()):
            if ccy != base:
                out.append(FxRate(ccy, base, CROSS_CONTEXT.divide(to_base, rate), asof, PROVIDER))
        return out

"""The ECB reference-rate provider: parsing the ECB's XML into EUR rates and cross rates to GBP."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import httpx
import pytest

from portfolio_dashboard.brokers.ecb import EcbRates, latest_publication
from portfolio_dashboard.config import load_settings
from portfolio_dashboard.domain import RawResponse
from portfolio_dashboard.errors import NetworkError, ParsingError
from tests.fakes.ecb import TYPICAL, feed_xml

BERLIN = ZoneInfo("Europe/Berlin")
DAY = date(2026, 11, 20)


def raw(body: bytes, status: int = 200) -> RawResponse:
    return RawResponse("ecb", "ecb", "GET /stats/eurofxref/eurofxref-daily.xml", datetime.now(UTC), status, body)


def rates_of(body: bytes, base: str = "GBP"):
    result = EcbRates(base_currency=base).parse([raw(body)])
    return {(r.source_ccy, r.target_ccy, r.asof_ts.date()): r for r in result.fx_rates}, result


def test_published_euro_rates_and_cross_rates_to_gbp():
    rates, _ = rates_of(feed_xml({DAY: TYPICAL}))
    usd = rates[("EUR", "USD", DAY)]
    assert usd.rate == Decimal("1.0506") and usd.provider == "ecb"
    assert usd.asof_ts == datetime(2026, 11, 20, 16, tzinfo=BERLIN)
    assert rates[("EUR", "GBP", DAY)].rate == Decimal("0.83")
    # USD->GBP = EUR->GBP / EUR->USD, 10 significant digits
    assert rates[("USD", "GBP", DAY)].rate == Decimal("0.7900247478")
    assert rates[("JPY", "GBP", DAY)].rate == Decimal("0.005111781733")
    assert ("GBP", "GBP", DAY) not in rates
    assert len(rates) == 2 * len(TYPICAL) - 1


def test_the_90_day_history_gives_every_day():
    days = {date(2026, 11, 18): {"USD": "1.05", "GBP": "0.84"}, DAY: {"USD": "1.0506", "GBP": "0.83"}}
    rates, _ = rates_of(feed_xml(days))
    assert rates[("USD", "GBP", date(2026, 11, 18))].rate == Decimal("0.8")
    assert ("USD", "GBP", DAY) in rates


def test_euro_base_needs_no_cross_rates():
    rates, _ = rates_of(feed_xml({DAY: TYPICAL}), base="EUR")
    assert all(r.source_ccy == "EUR" for r in rates.values())


def test_a_day_without_the_base_currency_warns():
    rates, result = rates_of(feed_xml({DAY: {"USD": "1.0506"}}))
    assert list(rates) == [("EUR", "USD", DAY)]
    assert any("no GBP rate" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"<html>gateway timeout</html>", "unexpected XML root"),
        (b"<gesmes:Envelope xmlns:gesmes=\"http://www.gesmes.org/xml/2002-08-01\"/>", "no ECB reference rates"),
        (b"not xml at all", "well-formed"),
        (feed_xml({DAY: {"USD": "abc"}}), "not a number"),
        (feed_xml({DAY: {"USD": "-1"}}), "positive"),
        (feed_xml({DAY: {"USD": "1E+999999", "GBP": "0.83"}}), "sensible size"),
        (feed_xml({DAY: TYPICAL})[:200], "well-formed"),
        (feed_xml({DAY: TYPICAL}).replace(b"time='2026-11-20'", b"time='20/11/2026'"), "not a date"),
    ],
)
def test_unreadable_feeds_raise_parsing_error(body, match):
    with pytest.raises(ParsingError, match=match):
        EcbRates().parse([raw(body)])


def test_error_responses_are_skipped():
    result = EcbRates().parse([raw(b"<html>503</html>", status=503), raw(feed_xml({DAY: TYPICAL}))])
    assert result.fx_rates


def test_latest_publication_skips_weekends_and_waits_for_16h_cet():
    assert latest_publication(datetime(2026, 11, 20, 14, 0, tzinfo=UTC)) == datetime(2026, 11, 19, 16, tzinfo=BERLIN)
    assert latest_publication(datetime(2026, 11, 20, 15, 30, tzinfo=UTC)) == datetime(2026, 11, 20, 16, tzinfo=BERLIN)
    assert latest_publication(datetime(2026, 11, 22, 12, 0, tzinfo=UTC)) == datetime(2026, 11, 20, 16, tzinfo=BERLIN)


def test_fetch_records_the_feed_and_parse_reads_it():
    body = feed_xml({DAY: TYPICAL})
    ecb = EcbRates("https://ecb.test/daily.xml", transport=httpx.MockTransport(lambda req: httpx.Response(200, content=body)))
    recorded: list[RawResponse] = []
    from portfolio_dashboard.brokers.base import FetchContext

    ecb.fetch(recorded.append, FetchContext())
    assert [r.endpoint for r in recorded] == ["GET /daily.xml"]
    assert ecb.parse(recorded).fx_rates


def test_fetch_failure_is_a_network_error_after_bounded_retries():
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    ecb = EcbRates("https://ecb.test/daily.xml", transport=httpx.MockTransport(refuse), sleep=lambda s: None)
    from portfolio_dashboard.brokers.base import FetchContext

    with pytest.raises(NetworkError):
        ecb.fetch(lambda raw: None, FetchContext())
    assert ecb.retries == 2
    assert ecb.health().reachable is False


def test_from_settings_uses_the_configured_url_and_base(tmp_path):
    settings = load_settings(ecb_rates_url="http://127.0.0.1:9/x.xml", base_currency="usd", _env_file=None,
                             portfolio_data_dir=tmp_path)
    ecb = EcbRates.from_settings(settings)
    assert (ecb.url, ecb.base_currency, ecb.name) == ("http://127.0.0.1:9/x.xml", "USD", "ecb")

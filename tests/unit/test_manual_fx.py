"""Manual FX rates typed by a user for offline use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from portfolio_dashboard.brokers.manual_fx import ManualRateError, manual_rates, parse_manual_rate

NOW = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("spec", ["USD/GBP=0.7912", "usdgbp=0.7912", "USD/GBP 0.7912", " USD / GBP = 0.7912 "])
def test_forms(spec):
    rate = parse_manual_rate(spec, NOW)
    assert (rate.source_ccy, rate.target_ccy, rate.rate, rate.asof_ts, rate.provider) == (
        "USD", "GBP", Decimal("0.7912"), NOW, "manual"
    )


def test_as_of_date_and_datetime():
    assert parse_manual_rate("EUR/GBP=0.83@2026-11-20", NOW).asof_ts == datetime(2026, 11, 20, tzinfo=UTC)
    when = parse_manual_rate("EUR/GBP=0.83@2026-11-20T16:00+01:00", NOW).asof_ts
    assert when == datetime(2026, 11, 20, 16, tzinfo=timezone(timedelta(hours=1)))


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("USD->GBP 0.79", "cannot read"),
        ("USD/GBP=abc", "cannot read"),
        ("USD/ABC=0.79", "not an ISO"),
        ("USD/USD=1", "itself"),
        ("USD/GBP=0", "positive"),
        ("USD/GBP=0.79@yesterday", "not an ISO date"),
    ],
)
def test_mistakes_are_explained(spec, match):
    with pytest.raises(ManualRateError, match=match):
        parse_manual_rate(spec, NOW)


def test_several():
    assert [r.source_ccy for r in manual_rates(["USD/GBP=0.79", "EUR/GBP=0.83"], NOW)] == ["USD", "EUR"]

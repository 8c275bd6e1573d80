"""The demo source is deterministic, minute-idempotent and goes through a pure parse."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from portfolio_dashboard.brokers.base import FetchContext
from portfolio_dashboard.brokers.demo import DemoSource
from portfolio_dashboard.domain.valuation import validate
from portfolio_dashboard.errors import ParsingError, ValidationError
from tests.fakes.sources import raw


def fetch(at: datetime):
    src = DemoSource(clock=lambda: at)
    raws = []
    src.fetch(raws.append, FetchContext())
    return src, raws


def test_same_minute_gives_identical_snapshots():
    src, a = fetch(datetime(2026, 3, 2, 10, 15, 5, tzinfo=UTC))
    _, b = fetch(datetime(2026, 3, 2, 10, 15, 55, tzinfo=UTC))
    pa, pb = src.parse(a), src.parse(b)
    assert [s.key for s in pa.snapshots] == [s.key for s in pb.snapshots]
    assert pa.snapshots == pb.snapshots


def test_accounts_currencies_and_pence_quotes():
    src, raws = fetch(datetime(2026, 3, 2, 10, 15, tzinfo=UTC))
    parsed = src.parse(raws)
    assert {s.account.base_currency for s in parsed.snapshots} == {"GBP", "USD", "EUR"}
    isa = next(s for s in parsed.snapshots if s.account.base_currency == "GBP")
    isf = next(p for p in isa.positions if p.instrument.symbol == "ISF")
    assert isf.instrument.currency == "GBP"  # quoted in pence (GBX), stored in pounds
    assert abs(isf.quantity * isf.price_local - isf.market_value_local) <= Decimal("0.01")
    for s in parsed.snapshots:
        validate(s)
    assert {r.provider for r in parsed.fx_rates} == {"demo"}


def test_prices_move_over_time():
    src, a = fetch(datetime(2026, 3, 2, 10, 15, tzinfo=UTC))
    _, b = fetch(datetime(2026, 3, 9, 10, 15, tzinfo=UTC))
    assert src.parse(a).snapshots[0].total_value_local != src.parse(b).snapshots[0].total_value_local


def test_bad_payload_is_a_parsing_error():
    with pytest.raises(ParsingError):
        DemoSource().parse([raw("demo", b"{not json")])
    with pytest.raises(ParsingError):
        DemoSource().parse([raw("demo", b'{"asof": "2026-01-01T00:00:00+00:00"}')])


@pytest.mark.parametrize(("where", "value", "error"), [
    (lambda doc: doc["fxRates"][0], [], ParsingError),  # found by the mutation campaign: a list, unhashable
    (lambda doc: doc["fxRates"][0], "GBX", ValidationError),  # a minor unit is no rate's currency
    (lambda doc: doc["accounts"][0], 7, ParsingError),
    (lambda doc: doc["accounts"][0]["cash"][0], "XYZ", ValidationError),
])
def test_a_mistyped_currency_code_is_our_error_not_a_stored_string(where, value, error):
    _, raws = fetch(datetime(2026, 3, 2, 10, 15, tzinfo=UTC))
    doc = json.loads(raws[0].body)
    field = "from" if "rate" in where(doc) else "currency"
    where(doc)[field] = value
    with pytest.raises(error, match=r"currency|minor unit|unknown"):
        DemoSource().parse([raw("demo", json.dumps(doc).encode())])

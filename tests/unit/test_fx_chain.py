"""The FX provider chain: preference order, cross rates, staleness, never an invented rate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from portfolio_dashboard.domain import FxRate
from portfolio_dashboard.errors import NetworkError
from portfolio_dashboard.services.fx import FxChain, find_rate

T = datetime(2026, 6, 30, 16, tzinfo=UTC)


def r(src, tgt, rate, provider="ib", at=T):
    return FxRate(src, tgt, Decimal(rate), at, provider)


class Reference:
    name = "ecb"

    def __init__(self, rates=(), error=None):
        self.rates, self.error, self.calls = list(rates), error, 0

    def load(self, record):
        self.calls += 1
        if self.error:
            raise self.error
        return self.rates


def test_same_currency_needs_no_rate():
    c = FxChain("GBP", timedelta(days=4)).conversion("GBP", T)
    assert c.factor == 1 and c.rate is None


def test_own_rate_wins_over_run_book_stored_and_reference():
    ref = Reference([r("USD", "GBP", "0.70", "ecb")])
    chain = FxChain("GBP", timedelta(days=4), stored_lookup=lambda *a: r("USD", "GBP", "0.75", "manual"),
                    reference=ref)
    chain.publish([r("USD", "GBP", "0.78", "ib_flex")])
    c = chain.conversion("USD", T, own=[r("USD", "GBP", "0.79")])
    assert c.factor == Decimal("0.79") and c.rate.provider == "ib"
    assert chain.conversion("USD", T).rate.provider == "ib_flex"
    assert ref.calls == 0


def test_inverse_rate_is_used_by_division():
    c = FxChain("GBP", timedelta(days=4)).conversion("USD", T, own=[r("GBP", "USD", "1.25")])
    assert c.factor == Decimal("0.8") and c.rate.source_ccy == "GBP"


def test_cross_rate_through_the_account_base_is_stored_as_its_own_row():
    own = [r("EUR", "USD", "1.10"), r("USD", "GBP", "0.80")]
    rate = find_rate(own, "EUR", "GBP", T)
    assert rate.rate == Decimal("0.880") and rate.provider == "ib+cross"


def test_closest_rate_in_time_wins():
    rates = [r("USD", "GBP", "0.70", at=T - timedelta(days=3)), r("USD", "GBP", "0.80", at=T - timedelta(hours=1))]
    assert find_rate(rates, "USD", "GBP", T).rate == Decimal("0.80")


def test_reference_is_fetched_once_and_failure_is_explained():
    ref = Reference(error=NetworkError("unreachable", source="ecb"))
    chain = FxChain("GBP", timedelta(days=4), reference=ref)
    c1 = chain.conversion("USD", T)
    c2 = chain.conversion("EUR", T)
    assert c1.factor is None and c2.factor is None
    assert ref.calls == 1
    assert "reference rates unavailable" in c1.warning and "unreachable" in c1.warning


def test_stale_rate_is_used_with_a_warning():
    c = FxChain("GBP", timedelta(days=4)).conversion("USD", T, own=[r("USD", "GBP", "0.8", at=T - timedelta(days=6))])
    assert c.factor == Decimal("0.8")
    assert "6 days" in c.warning


def test_on_a_tie_the_direct_quote_wins_over_the_inverse():
    rates = [r("GBP", "USD", "1.2500001"), r("USD", "GBP", "0.8")]
    assert find_rate(rates, "USD", "GBP", T).source_ccy == "USD"
    assert find_rate(list(reversed(rates)), "USD", "GBP", T).source_ccy == "USD"


def test_a_stale_stored_rate_gives_way_to_a_fresher_reference_rate():
    ref = Reference([r("USD", "GBP", "0.77", "ecb", at=T - timedelta(hours=20))])
    old = r("USD", "GBP", "0.70", "ecb", at=T - timedelta(days=30))
    chain = FxChain("GBP", timedelta(days=4), stored_lookup=lambda *a: old, reference=ref)
    c = chain.conversion("USD", T)
    assert c.factor == Decimal("0.77") and c.warning is None


def test_a_fresh_stored_rate_needs_no_reference_fetch():
    ref = Reference([r("USD", "GBP", "0.77", "ecb")])
    fresh = r("USD", "GBP", "0.70", "ib", at=T - timedelta(days=1))
    chain = FxChain("GBP", timedelta(days=4), stored_lookup=lambda *a: fresh, reference=ref)
    assert chain.conversion("USD", T).factor == Decimal("0.70")
    assert ref.calls == 0

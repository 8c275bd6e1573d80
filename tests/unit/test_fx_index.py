"""``OwnRates.near`` must never change which rate ``find_rate`` picks, only how fast it is found."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from portfolio_dashboard.domain import FxRate
from portfolio_dashboard.domain.fx_index import SMALL, OwnRates
from portfolio_dashboard.services.fx import find_rate

CURRENCIES = ("GBP", "USD", "EUR", "CHF", "JPY")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def random_rates(rng: random.Random, n: int) -> list[FxRate]:
    rates = []
    for _ in range(n):
        a, b = rng.sample(CURRENCIES, 2)
        at = T0 + timedelta(hours=rng.randrange(0, 24 * 40, 6))  # coarse: many equal times and ties
        rates.append(FxRate(a, b, Decimal(rng.randrange(1, 10_000)) / 1000, at, rng.choice(("ib", "ecb", "demo"))))
    return rates


def test_near_gives_find_rate_the_same_answer_as_every_rate() -> None:
    rng = random.Random(20261124)
    for _ in range(300):
        rates = random_rates(rng, rng.randrange(SMALL + 1, 400))
        own = OwnRates(rates)
        for _ in range(20):
            currency = rng.choice(CURRENCIES[1:])
            at = T0 + timedelta(hours=rng.randrange(-48, 24 * 42, 3))
            assert find_rate(own.near(currency, "GBP", at), currency, "GBP", at) == \
                find_rate(rates, currency, "GBP", at)


def test_small_sets_are_passed_through_and_large_ones_shrink() -> None:
    rng = random.Random(7)
    few = random_rates(rng, SMALL)
    assert OwnRates(few).near("USD", "GBP", T0) is few
    many = random_rates(rng, 2000)
    assert len(OwnRates(many).near("USD", "GBP", T0 + timedelta(days=3))) < 40

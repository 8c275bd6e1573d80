"""Hypothesis properties of the matching: quantities and cost conserved; a pool-only history is average cost."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio_dashboard.domain.cgt import OpeningPool, TaxYear, compute, report_dict
from tests.unit.cgt_builders import ACME, IB_GIA, SCHWAB, buy, sell

START = date(2024, 1, 1)
trade = st.tuples(
    st.booleans(),  # buy?
    st.integers(min_value=0, max_value=120),  # day offset
    st.integers(min_value=1, max_value=50),  # quantity
    st.integers(min_value=1, max_value=100_000),  # pence
    st.booleans(),  # Schwab?
)


@settings(max_examples=150, deadline=None)
@given(st.lists(trade, max_size=40))
def test_quantities_and_cost_are_conserved(trades: list[tuple[bool, int, int, int, bool]]) -> None:
    """Opening pool + acquisitions = matched disposals + pool left, in shares and in pounds."""
    opening = OpeningPool(ACME, Decimal(10_000), Decimal(20_000), START - timedelta(days=1))
    events = []
    for index, (is_buy, offset, quantity, pence, schwab) in enumerate(trades):
        maker = buy if is_buy else sell
        day = START + timedelta(days=offset)
        events.append(
            maker(
                day, str(quantity), str(Decimal(pence) / 100), account=SCHWAB if schwab else IB_GIA, trade_id=str(index)
            )
        )
    result = compute(events, opening_pools=[opening])
    acquired = opening.quantity + sum((e.quantity for e in events if e.side.value == "buy"), Decimal(0))
    acquired_cost = opening.cost_gbp + sum(
        (e.consideration_gbp + e.costs_gbp for e in events if e.side.value == "buy"), Decimal(0)
    )
    assert all(disposal.complete for disposal in result.disposals)
    matched = sum((m.quantity for d in result.disposals for m in d.matches), Decimal(0))
    matched_cost = sum((m.cost_gbp for d in result.disposals for m in d.matches), Decimal(0))
    assert matched == sum((e.quantity for e in events if e.side.value == "sell"), Decimal(0))
    pools = result.pools_at(START + timedelta(days=365))
    left = sum((pool.quantity for pool in pools), Decimal(0))
    left_cost = sum((pool.cost_gbp for pool in pools), Decimal(0))
    assert matched + left == acquired
    # Average cost divides, so conservation holds to the decimal context's precision (28 digits), far below a penny.
    assert abs(matched_cost + left_cost - acquired_cost) < Decimal("1e-18")


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 100), st.integers(1, 1_000_000)), min_size=1, max_size=10),
    st.lists(st.floats(min_value=0.01, max_value=1.0), min_size=1, max_size=10),
)
def test_pool_only_history_is_average_cost(buys: list[tuple[int, int]], fractions: list[float]) -> None:
    """Buys first, sales more than 30 days later with no purchase after: every sale is at average cost."""
    events = [buy(START + timedelta(days=i), str(q), str(Decimal(p) / 100)) for i, (q, p) in enumerate(buys)]
    held = Fraction(sum(q for q, _ in buys))
    cost = sum((Fraction(p, 100) for _, p in buys), Fraction(0))
    expected: list[Fraction] = []
    for index, share in enumerate(fractions):
        quantity = int(held * Fraction(share).limit_denominator(100))
        if quantity == 0:
            continue
        expected.append(cost * quantity / held)
        cost -= cost * quantity / held
        held -= quantity
        events.append(sell(START + timedelta(days=60 + index), str(quantity), "1"))
    result = compute(events)
    assert len(result.disposals) == len(expected)
    for disposal, cost_expected in zip(result.disposals, expected, strict=True):
        assert [m.rule.value for m in disposal.matches] == ["s104"]
        actual = disposal.acquisition_cost_gbp
        assert actual is not None
        assert abs(Fraction(actual) - cost_expected) < Fraction(1, 10**30)


@settings(max_examples=50, deadline=None)
@given(st.lists(trade, max_size=30), st.randoms(use_true_random=False))
def test_input_order_does_not_matter(trades: list[tuple[bool, int, int, int, bool]], rng: random.Random) -> None:
    opening = OpeningPool(ACME, Decimal(5_000), Decimal(7_000), START - timedelta(days=1))
    events = [
        (buy if is_buy else sell)(START + timedelta(days=offset), str(quantity), str(Decimal(pence) / 100),
                                  account=SCHWAB if schwab else IB_GIA, trade_id=str(index))
        for index, (is_buy, offset, quantity, pence, schwab) in enumerate(trades)
    ]  # fmt: skip
    shuffled = list(events)
    rng.shuffle(shuffled)
    year = TaxYear(2023)
    first = report_dict(compute(events, opening_pools=[opening]), year)
    second = report_dict(compute(shuffled, opening_pools=[opening]), year)
    for report in (first, second):  # trade lists within one day follow input order; compare them as sets
        for disposal in report["disposals"]:  # type: ignore[attr-defined]
            disposal["trades"] = sorted(disposal["trades"], key=lambda ref: ref["trade_id"])
            for match in disposal["matches"]:
                match["trades"] = sorted(match["trades"], key=lambda ref: ref["trade_id"])
    assert first == second

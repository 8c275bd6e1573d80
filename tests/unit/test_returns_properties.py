"""Property tests of the returns arithmetic (issue 18): the identities any correct TWR/MWR must satisfy."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from portfolio_dashboard.domain.returns import (
    AccountSeries,
    ExternalFlow,
    ReturnSeries,
    Valuation,
    combine_accounts,
    mwr,
    twr,
)

TOL = Decimal("1e-12")
ORIGIN = datetime(2024, 1, 1, 17, 0, tzinfo=UTC)

# Daily growth factors between −20% and +20%, as exact decimals.
growths = st.decimals(min_value=Decimal("0.8"), max_value=Decimal("1.2"), places=4)
amounts = st.decimals(min_value=Decimal("-300"), max_value=Decimal("5000"), places=2)
offsets = st.integers(min_value=0, max_value=24 * 60 - 1)  # minutes before a valuation, after the previous one


def day(k: int) -> datetime:
    return ORIGIN + timedelta(days=k)


@st.composite
def series_with_flows(draw: st.DrawFn) -> tuple[list[Valuation], list[ExternalFlow], list[Decimal]]:
    """A consistent account: each day grows by a drawn factor and then takes a drawn flow at a drawn moment.

    Values are built so the flow's Modified-Dietz-weighted effect is what the sub-period return reports: the flow
    arrives at the valuation moment (w = 0) when ``at_close`` else it is invested for part of the day at the
    same rate. The drawn daily factors are returned so a test knows the true TWR.
    """
    factors = draw(st.lists(growths, min_size=1, max_size=40))
    value = draw(st.decimals(min_value=Decimal("100"), max_value=Decimal("100000"), places=2))
    valuations = [Valuation(day(0), value)]
    flows: list[ExternalFlow] = []
    for k, factor in enumerate(factors, start=1):
        amount = draw(st.one_of(st.just(Decimal(0)), amounts))
        grown = value * factor
        if amount and grown + amount > 0:
            flows.append(ExternalFlow(day(k), amount))  # at the valuation moment: weight 0, no approximation
            grown += amount
        value = grown
        valuations.append(Valuation(day(k), value))
    return valuations, flows, factors


@settings(max_examples=200, deadline=None)
@given(st.lists(st.decimals(min_value=Decimal("1"), max_value=Decimal("1e7"), places=2), min_size=2, max_size=50))
def test_no_flows_equals_the_simple_return(values: list[Decimal]) -> None:
    valuations = [Valuation(day(k), value) for k, value in enumerate(values)]
    assert abs(twr(valuations, []) - (values[-1] / values[0] - 1)) <= TOL


@settings(max_examples=200, deadline=None)
@given(series_with_flows())
def test_twr_is_the_chain_of_the_true_daily_returns(
    case: tuple[list[Valuation], list[ExternalFlow], list[Decimal]],
) -> None:
    valuations, flows, factors = case
    product = Decimal(1)
    for factor in factors:
        product *= factor
    assert abs(twr(valuations, flows) - (product - 1)) <= Decimal("1e-9")


@settings(max_examples=200, deadline=None)
@given(series_with_flows(), st.data())
def test_splitting_a_period_and_chaining_equals_the_whole(
    case: tuple[list[Valuation], list[ExternalFlow], list[Decimal]], data: st.DataObject
) -> None:
    valuations, flows, _ = case
    k = data.draw(st.integers(min_value=0, max_value=len(valuations) - 1))
    whole = twr(valuations, flows)
    first = twr(valuations[: k + 1], [f for f in flows if f.ts <= valuations[k].ts])
    second = twr(valuations[k:], [f for f in flows if f.ts > valuations[k].ts])
    assert abs((1 + first) * (1 + second) - 1 - whole) <= Decimal("1e-9")
    # The prepared series answers any sub-range the same way.
    series = ReturnSeries(valuations, flows)
    assert abs(series.chained(0, k) - first) <= Decimal("1e-9")


@settings(max_examples=200, deadline=None)
@given(
    st.decimals(min_value=Decimal("1"), max_value=Decimal("1e6"), places=2),
    st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1e6"), places=2),
    offsets,
)
def test_a_deposit_alone_never_changes_twr(start: Decimal, deposit: Decimal, minutes: int) -> None:
    # Whenever in the day it arrives, a deposit that is the only change in value is a return of exactly 0.
    flow = ExternalFlow(day(1) - timedelta(minutes=minutes), deposit)
    assert twr([Valuation(day(0), start), Valuation(day(1), start + deposit)], [flow]) == 0


@settings(max_examples=100, deadline=None)
@given(series_with_flows(), st.data())
def test_a_deposit_invested_like_the_rest_never_changes_twr(
    case: tuple[list[Valuation], list[ExternalFlow], list[Decimal]], data: st.DataObject
) -> None:
    # Add money at valuation k and invest it in the same portfolio: every later value scales, the TWR does not.
    valuations, flows, _ = case
    k = data.draw(st.integers(min_value=0, max_value=len(valuations) - 1))
    extra = data.draw(st.decimals(min_value=Decimal("1"), max_value=Decimal("1e5"), places=2))
    scale = (valuations[k].value + extra) / valuations[k].value
    scaled = valuations[:k] + [Valuation(x.ts, x.value * scale) for x in valuations[k:]]
    scaled_flows = [
        ExternalFlow(f.ts, f.amount * scale if f.ts > valuations[k].ts else f.amount)
        for f in flows
        if f.amount is not None
    ]
    if k > 0:  # at k = 0 the extra money is simply part of the start value
        scaled_flows.append(ExternalFlow(valuations[k].ts, extra))
    assert abs(twr(scaled, scaled_flows) - twr(valuations, flows)) <= Decimal("1e-9")


@settings(max_examples=100, deadline=None)
@given(series_with_flows())
def test_mwr_discounts_the_flows_to_zero(case: tuple[list[Valuation], list[ExternalFlow], list[Decimal]]) -> None:
    valuations, flows, _ = case
    # Over more than a year the MWR is the annual XIRR itself: the flows discounted at it sum to zero.
    end = Valuation(valuations[0].ts + timedelta(days=400), valuations[-1].value)
    try:
        annual = float(mwr(valuations[0], end, flows))
    except ValueError:
        return  # no XIRR solution: the function says so instead of inventing one
    start_day = valuations[0].ts.date()
    npv = -float(valuations[0].value)
    for flow in flows:
        npv += -float(flow.amount or 0) / (1 + annual) ** ((flow.ts.date() - start_day).days / 365)
    npv += float(end.value) / (1 + annual) ** (400 / 365)
    assert abs(npv) <= 1e-6 * max(float(valuations[0].value), 1.0) * 100


@settings(max_examples=100, deadline=None)
@given(st.lists(growths, min_size=2, max_size=30), st.data())
def test_accounts_starting_on_different_days_earn_what_each_earns(factors: list[Decimal], data: st.DataObject) -> None:
    # Two accounts earning the same return every day make a portfolio earning that return, whenever each opened
    # and whatever it held on arrival (the case Wealthfolio #1414 gets wrong).
    opens = data.draw(st.integers(min_value=1, max_value=len(factors) - 1))
    opening = data.draw(st.decimals(min_value=Decimal("1"), max_value=Decimal("1e6"), places=2))

    def account(first_day: int, value: Decimal) -> AccountSeries:
        values = [Valuation(day(first_day), value)]
        for k in range(first_day, len(factors)):
            value = value * factors[k]
            values.append(Valuation(day(k + 1), value))
        return AccountSeries(tuple(values), ())

    a = account(0, Decimal(1000))
    combined = combine_accounts({"a": a, "b": account(opens, opening)})
    assert abs(twr(combined.valuations, combined.flows) - twr(a.valuations, ())) <= Decimal("1e-9")


def test_a_single_account_combined_is_itself() -> None:
    valuations = (Valuation(day(0), Decimal(100)), Valuation(day(1), Decimal(120)))
    flows = (ExternalFlow(day(1), Decimal(10)),)
    assert combine_accounts({"only": AccountSeries(valuations, flows)}) == AccountSeries(valuations, flows)


def test_the_start_of_a_period_is_the_previous_close() -> None:
    series = ReturnSeries([Valuation(day(k), Decimal(100 + k)) for k in range(5)], [])
    assert series.start_index(date(2024, 1, 3)) == 1  # the 2 January close
    assert series.start_index(date(2024, 1, 1)) == 0  # the history begins that day: its first valuation
    assert series.start_index(date(2023, 12, 31)) is None

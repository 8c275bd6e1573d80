"""Hand-computed returns scenarios (issue 18): each expected figure is worked out in the comment beside it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from portfolio_dashboard.domain.returns import (
    FLOWS_UNKNOWN,
    AccountSeries,
    ExternalFlow,
    ReturnSeries,
    Valuation,
    combine_accounts,
    compute_returns,
    external_flows,
    last_per_day,
    monthly_returns,
    mwr,
    scope_returns,
    twr,
)

TOL = Decimal("1e-6")
LONG = timedelta(days=4000)  # for sparse hand-made series: the gap rule is tested on its own below


def at(day: date | str, hour: int = 12, minute: int = 0) -> datetime:
    d = date.fromisoformat(day) if isinstance(day, str) else day
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=UTC)


def v(day: str, value: str, hour: int = 12) -> Valuation:
    return Valuation(at(day, hour), Decimal(value))


def f(day: str, amount: str, hour: int = 12, minute: int = 0) -> ExternalFlow:
    return ExternalFlow(at(day, hour, minute), Decimal(amount))


def close(actual: Decimal | None, expected: Decimal | str) -> bool:
    assert actual is not None
    return abs(actual - Decimal(expected)) <= TOL


def test_flows_on_the_first_and_the_last_day_of_the_period() -> None:
    # Period 2 Jan..4 Jan starts from the 1 Jan close (1000). Deposit 400 at 00:00 on 2 Jan: 12 of the 24 hours to
    # the 2 Jan valuation remain, w = 0.5: r1 = (1410 − 1000 − 400) / (1000 + 0.5·400) = 10/1200.
    # 3 Jan: 1410 → 1424.1, r2 = 0.01. 4 Jan: +1% then a 200 withdrawal at the valuation moment (w = 0):
    # V = 1424.1·1.01 − 200 = 1238.341, r3 = (1238.341 − 1424.1 + 200) / 1424.1 = 0.01.
    # TWR = (121/120)·1.0201 − 1 = 123.4321/120 − 1 = 0.028600833…; net flows 200; gain 1238.341 − 1000 − 200.
    valuations = [
        v("2026-01-01", "1000"),
        v("2026-01-02", "1410"),
        v("2026-01-03", "1424.1"),
        v("2026-01-04", "1238.341"),
    ]
    flows = [f("2026-01-02", "400", hour=0), f("2026-01-04", "-200")]
    result = compute_returns(valuations, flows, date(2026, 1, 2), date(2026, 1, 4), max_gap=LONG)
    assert result.unavailable == ()
    assert result.start_value == Decimal("1000") and result.end_value == Decimal("1238.341")
    assert result.net_flows == Decimal("200")
    assert result.gain == Decimal("38.341")
    assert close(result.twr, "0.0286008333")
    assert result.twr_annualised is None  # three days are not annualised


def test_a_withdrawal_larger_than_the_gain() -> None:
    # 10 000 earns 200 (2%), then 5 000 leaves at the valuation moment: r = (5200 − 10000 + 5000)/10000 = 0.02;
    # gain = 5200 − 10000 − (−5000) = 200 — a fall in value of 4 800 that is not a loss.
    result = compute_returns(
        [v("2026-03-01", "10000"), v("2026-03-02", "5200")],
        [f("2026-03-02", "-5000")],
        date(2026, 3, 2),
        date(2026, 3, 2),
    )
    assert close(result.twr, "0.02")
    assert result.gain == Decimal("200")
    assert result.net_flows == Decimal("-5000")


def test_a_mid_period_withdrawal_is_weighted_by_the_time_it_was_out() -> None:
    # 6 000 out at midnight, half-way between the noon valuations: r = (4100 − 10000 + 6000)/(10000 − 0.5·6000)
    # = 100/7000 = 0.0142857142…
    result = twr([v("2026-03-01", "10000"), v("2026-03-02", "4100")], [f("2026-03-02", "-6000", hour=0)])
    assert close(result, "0.0142857143")


def test_accounts_opened_on_different_dates() -> None:
    # A: 1000 → 1100 → 1210 (10% a day). B opens on 2 Jan with a 5 000 deposit (08:00), valued 5 000 at noon,
    # then 5 500. The portfolio is worth 1000, 6100, 6710; B's arrival is money in, not gain:
    # r1 = (6100 − 1000 − 5000)/1000 = 0.1, r2 = 610/6100 = 0.1, TWR = 1.1² − 1 = 0.21; gain = 710 (= 210 + 500).
    a = AccountSeries((v("2026-01-01", "1000"), v("2026-01-02", "1100"), v("2026-01-03", "1210")), ())
    b = AccountSeries((v("2026-01-02", "5000"), v("2026-01-03", "5500")), (f("2026-01-02", "5000", hour=8),))
    combined = combine_accounts({"A": a, "B": b})
    assert [x.value for x in combined.valuations] == [Decimal("1000"), Decimal("6100"), Decimal("6710")]
    scope = scope_returns({"A": a, "B": b}, date(2026, 1, 1), date(2026, 1, 3))
    assert close(scope.total.twr, "0.21")
    assert scope.total.gain == Decimal("710")
    assert scope.total.net_flows == Decimal("5000")
    assert close(scope.accounts["A"].twr, "0.21")
    # B's own "since inception" return is its 10% (the period starting before it opened is withheld for B alone).
    assert close(compute_returns(b.valuations, b.flows, date(2026, 1, 2), date(2026, 1, 3)).twr, "0.1")
    assert scope.accounts["B"].twr is None and "history begins" in scope.accounts["B"].unavailable[0]


def test_an_account_brought_in_with_holdings_and_no_recorded_flow_is_not_a_gain() -> None:
    # Same as above but B had no deposit on record (an existing account added to the tool): same result.
    a = AccountSeries((v("2026-01-01", "1000"), v("2026-01-02", "1100"), v("2026-01-03", "1210")), ())
    b = AccountSeries((v("2026-01-02", "5000"), v("2026-01-03", "5500")), ())
    assert close(scope_returns({"A": a, "B": b}, date(2026, 1, 1), date(2026, 1, 3)).total.twr, "0.21")


def test_a_currency_move_with_no_price_move() -> None:
    # $1 000 of cash; USD→GBP 0.80 then 0.75, and $500 deposited at the second valuation (GBP 375).
    # In GBP: (1125 − 800 − 375)/800 = −0.0625 — the currency effect is in the GBP return.
    # In USD (the account's own currency): (1500 − 1000 − 500)/1000 = 0.
    gbp = compute_returns(
        [v("2026-05-01", "800"), v("2026-05-02", "1125")], [f("2026-05-02", "375")], date(2026, 5, 2), date(2026, 5, 2)
    )
    usd = compute_returns(
        [v("2026-05-01", "1000"), v("2026-05-02", "1500")], [f("2026-05-02", "500")], date(2026, 5, 2), date(2026, 5, 2)
    )
    assert close(gbp.twr, "-0.0625")
    assert gbp.gain == Decimal("-50")
    assert close(usd.twr, "0")
    assert usd.gain == Decimal("0")


def test_a_period_over_a_year_is_annualised() -> None:
    # 1000 → 1331 from 1 Jan 2023 to 1 Jan 2026 (1096 days, 2024 a leap year): TWR 0.331,
    # annualised 1.331^(365.25/1096) − 1 = 1.1^(3·365.25/1096) − 1 = 1.1^0.9997719 − 1
    # = 1.1·e^(−0.0002281·ln 1.1) − 1 = 1.1·(1 − 0.00002174) − 1 = 0.0999761.
    result = compute_returns(
        [v("2023-01-01", "1000"), v("2026-01-01", "1331")], [], date(2023, 1, 1), date(2026, 1, 1), max_gap=LONG
    )
    assert close(result.twr, "0.331")
    assert close(result.twr_annualised, "0.0999761")
    # MWR with no flows over more than a year is the XIRR (actual/365): 1.1^(3·365/1096) − 1 = 1.1^0.9990876 − 1
    # = 1.1·(1 − 0.0009124·ln 1.1) − 1 = 1.1·(1 − 0.00008696) − 1 = 0.0999043.
    assert close(result.mwr, "0.0999043")


def test_xirr_against_a_hand_value() -> None:
    # 1000 in on 1 Jan 2025, 1100 out on 1 Jan 2026 (365 days): XIRR = 10%, and a one-year period is not
    # re-scaled ((1.1)^(365/365) − 1).
    assert close(mwr(v("2025-01-01", "1000"), v("2026-01-01", "1100"), []), "0.1")
    # Two years with a 1 000 deposit after exactly one (2025-01-01 → 2026-01-01 → 2027-01-01, 365 days each):
    # 1000·1.1² + 1000·1.1 = 2310 out, so the XIRR is exactly 10%.
    assert close(mwr(v("2025-01-01", "1000"), v("2027-01-01", "2310"), [f("2026-01-01", "1000")]), "0.1")


def test_mwr_differs_from_twr_when_money_arrives_before_a_loss() -> None:
    # Monthly valuations. 1000 → 1100 (+10%), then 10 000 arrives at the valuation (11 100) and falls 10% to 9 990.
    # TWR: 1.1·0.9 − 1 = −1%; MWR is far lower because most money was in for the fall; gain = 9990 − 1000 − 10000.
    result = compute_returns(
        [v("2026-01-01", "1000"), v("2026-02-01", "11100"), v("2026-03-01", "9990")],
        [f("2026-02-01", "10000")],
        date(2026, 1, 2),
        date(2026, 3, 1),
        max_gap=LONG,
    )
    assert close(result.twr, "-0.01")
    assert result.mwr is not None and result.mwr < Decimal("-0.01")
    assert result.gain == Decimal("-1010")


def test_unknown_flows_withhold_the_figures_with_the_reason() -> None:
    result = compute_returns(
        [v("2026-01-01", "1000"), v("2026-01-02", "1100")], [], date(2026, 1, 2), date(2026, 1, 2), flows_known=False
    )
    assert result.twr is None and result.mwr is None and result.gain is None and result.net_flows is None
    assert result.unavailable == (FLOWS_UNKNOWN,)
    assert result.end_value == Decimal("1100")  # what is known is still shown


def test_a_gap_longer_than_the_limit_withholds_the_twr_only() -> None:
    valuations = [v("2026-01-01", "1000"), v("2026-01-02", "1010"), v("2026-01-20", "1100")]
    result = compute_returns(valuations, [], date(2026, 1, 2), date(2026, 1, 20), max_gap=timedelta(days=7))
    assert result.twr is None
    assert any("gap in valuations" in reason and "2026-01-02" in reason for reason in result.unavailable)
    assert result.gain == Decimal("100") and result.mwr is not None
    allowed = compute_returns(valuations, [], date(2026, 1, 2), date(2026, 1, 20), max_gap=timedelta(days=20))
    assert close(allowed.twr, "0.1")


def test_a_stale_end_is_reported() -> None:
    result = compute_returns(
        [v("2026-01-01", "1000"), v("2026-01-02", "1010")], [], date(2026, 1, 2), date(2026, 1, 30)
    )
    assert result.twr is None and any(reason.startswith("stale") for reason in result.unavailable)


def test_a_flow_that_cannot_be_valued_withholds_instead_of_counting_zero() -> None:
    result = compute_returns(
        [v("2026-01-01", "1000"), v("2026-01-02", "1500")],
        [ExternalFlow(at("2026-01-02", 9), None)],
        date(2026, 1, 2),
        date(2026, 1, 2),
    )
    assert result.twr is None and result.mwr is None and result.gain is None
    assert any("could not be valued" in reason for reason in result.unavailable)


def test_a_period_before_the_history_is_withheld_not_shortened() -> None:
    result = compute_returns([v("2026-06-01", "1000"), v("2026-06-02", "1010")], [], date(2026, 1, 1), date(2026, 6, 2))
    assert result.twr is None and "history begins on 2026-06-01" in result.unavailable[0]
    since_inception = compute_returns(
        [v("2026-06-01", "1000"), v("2026-06-02", "1010")], [], date(2026, 6, 1), date(2026, 6, 2)
    )
    assert close(since_inception.twr, "0.01")


def test_a_portfolio_inherits_an_accounts_unknown_flows() -> None:
    a = AccountSeries((v("2026-01-01", "1000"), v("2026-01-02", "1100")), ())
    gateway = AccountSeries((v("2026-01-01", "500"), v("2026-01-02", "900")), (), flows_known=False)
    scope = scope_returns({"ib_flex:U1": a, "ib_gateway:U2": gateway}, date(2026, 1, 2), date(2026, 1, 2))
    assert scope.total.twr is None
    assert scope.total.unavailable[0].startswith("ib_gateway:U2: flows unknown")
    assert close(scope.accounts["ib_flex:U1"].twr, "0.1")


def test_monthly_returns_chain_to_the_whole() -> None:
    # Daily valuations for Jan–Mar 2026: +0.1% a day in January, −0.05% in February, flat in March,
    # and a deposit in February that changes nothing.
    valuations, flows = [], []
    value = Decimal("1000")
    day = date(2025, 12, 31)
    valuations.append(Valuation(at(day), value))
    while day < date(2026, 3, 31):
        day += timedelta(days=1)
        rate = {1: Decimal("0.001"), 2: Decimal("-0.0005"), 3: Decimal(0)}[day.month]
        value = value * (1 + rate)
        if day == date(2026, 2, 10):
            value += 500
            flows.append(ExternalFlow(at(day), Decimal(500)))
        valuations.append(Valuation(at(day), value))
    months = monthly_returns(valuations, flows)
    assert [(m.year, m.month) for m in months] == [(2025, 12), (2026, 1), (2026, 2), (2026, 3)]
    assert months[0].twr is None  # one valuation in December: nothing to measure
    assert close(months[1].twr, Decimal("1.001") ** 31 - 1)
    assert close(months[2].twr, Decimal("0.9995") ** 28 - 1)
    assert close(months[3].twr, "0")
    whole = compute_returns(valuations, flows, date(2026, 1, 1), date(2026, 3, 31))
    chained = (1 + months[1].twr) * (1 + months[2].twr) * (1 + months[3].twr) - 1  # type: ignore[operator]
    assert close(whole.twr, chained)


def test_unordered_valuations_are_refused() -> None:
    with pytest.raises(ValueError, match="increasing"):
        twr([v("2026-01-02", "1"), v("2026-01-01", "1")], [])


def test_one_year_is_not_annualised_even_when_its_start_close_is_earlier() -> None:
    # 1Y on Friday 4 Dec 2026 starts from the 4 Dec 2025 close; with none that day it starts from 3 Dec (366 days
    # of valuations). The period asked for is one year, so neither TWR nor MWR is annualised: both are the 10%.
    result = compute_returns(
        [v("2025-12-03", "1000"), v("2026-12-04", "1100")], [], date(2025, 12, 5), date(2026, 12, 4), max_gap=LONG
    )
    assert close(result.twr, "0.1")
    assert result.twr_annualised is None
    assert close(result.mwr, "0.1")


def test_a_period_with_no_valuation_inside_is_not_zero() -> None:
    # Today, before today's capture: the last valuation is yesterday's, the period's start. Not "0%".
    result = compute_returns([v("2026-01-01", "1000"), v("2026-01-02", "1010")], [], date(2026, 1, 3), date(2026, 1, 3))
    assert result.twr is None and result.mwr is None and result.gain is None
    assert result.unavailable[0].startswith("no valuation between 2026-01-03 and 2026-01-03")


def test_the_inputs_returns_take_from_stored_rows() -> None:
    # Several snapshots a day: only each day's last counts. Only external kinds are flows.
    snapshots = [v("2026-01-01", "990", hour=9), v("2026-01-01", "1000", hour=22), v("2026-01-02", "1010", hour=22)]
    assert last_per_day(reversed(snapshots)) == (snapshots[1], snapshots[2])
    rows = [
        ("dividend", at("2026-01-02"), Decimal("5")),
        ("deposit", at("2026-01-02"), Decimal("100")),
        ("transfer_out", at("2026-01-01"), None),
        ("withholding_tax", at("2026-01-02"), Decimal("-1")),
    ]
    assert external_flows(rows) == (
        ExternalFlow(at("2026-01-01"), None),
        ExternalFlow(at("2026-01-02"), Decimal("100")),
    )


def test_closing_an_account_is_not_minus_one_hundred_percent() -> None:
    # Everything (10 050 after a 50 gain) withdrawn at 09:00, valued 0 at 22:00, 0 again the next day (the case
    # of Wealthfolio #497). w = 13/24: r = (0 − 10000 + 10050)/(10000 − 10050·13/24) = 50/4556.25 = 0.0109739369;
    # the empty day after is neutral.
    valuations = [v("2026-02-01", "10000", hour=22), v("2026-02-02", "0", hour=22), v("2026-02-03", "0", hour=22)]
    result = compute_returns(valuations, [f("2026-02-02", "-10050", hour=9)], date(2026, 2, 2), date(2026, 2, 3))
    assert close(result.twr, "0.0109739369")
    assert result.gain == Decimal("50")


def test_an_undefined_sub_period_withholds_only_the_periods_containing_it() -> None:
    # 2→3 Jan: 300 withdrawn half-way from 110 → capital 110 − 150 < 0, no rate of return exists.
    valuations = [v("2026-01-01", "100"), v("2026-01-02", "110"), v("2026-01-03", "-180"), v("2026-01-04", "-180")]
    flows = [f("2026-01-03", "-300", hour=0)]
    series = ReturnSeries(valuations, flows)
    assert close(series.period(date(2026, 1, 2), date(2026, 1, 2)).twr, "0.1")
    spanning = series.period(date(2026, 1, 2), date(2026, 1, 4))
    assert spanning.twr is None and spanning.unavailable[0].startswith("time-weighted return undefined")
    assert spanning.gain == Decimal("20")  # −180 − 100 − (−300): the gain does not need the rate
    assert [value for _, value in series.cumulative(date(2026, 1, 2), date(2026, 1, 4))] == [
        Decimal(0),
        Decimal("0.1"),
        None,
        None,
    ]

"""Scenarios of our own (figures worked by hand from TCGA92 s104/s105/s106A; not HMRC's)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from portfolio_dashboard.domain import AssetClass, Instrument, Trade
from portfolio_dashboard.domain.cgt import (
    OpeningPool,
    Reorganisation,
    ReorganisationKind,
    Rule,
    Security,
    Side,
    Split,
    TaxYear,
    choose_rate,
    compute,
    event_from_trade,
    event_in_gbp,
    report_dict,
    year_totals,
)
from portfolio_dashboard.domain.cgt.sterling import RateSource
from tests.unit.cgt_builders import ACME, IB_GIA, IB_ISA, SCHWAB, D, buy, sell

Y2024 = TaxYear(2024)


def test_bed_and_breakfast_across_the_two_brokers() -> None:
    """Sold at IB, bought back at Schwab 10 days later: the sale is matched with the Schwab purchase."""
    events = [
        buy(date(2023, 5, 1), "1000", "5000", trade_id="ib-1"),
        sell(date(2024, 6, 10), "1000", "8000", trade_id="ib-2"),
        buy(date(2024, 6, 20), "1000", "7600", account=SCHWAB, trade_id="sw-1"),
    ]
    result = compute(events)
    (disposal,) = result.disposals
    (match,) = disposal.matches
    assert (match.rule, match.quantity, match.cost_gbp, match.acquired) == (
        Rule.THIRTY_DAY,
        D("1000"),
        D("7600"),
        date(2024, 6, 20),
    )
    assert [(ref.broker, ref.trade_id) for ref in match.trades] == [("schwab", "sw-1")]
    assert disposal.gain_gbp == D("400")
    # The original pool is untouched: the repurchased shares were used up by the 30-day match.
    (pool,) = result.pools_at(Y2024.end)
    assert (pool.quantity, pool.cost_gbp) == (D("1000"), D("5000"))


def test_thirty_first_day_is_outside_the_window() -> None:
    events = [
        buy(date(2023, 5, 1), "100", "500"),
        sell(date(2024, 6, 1), "100", "800"),
        buy(date(2024, 7, 2), "100", "900"),  # 31 days later: joins the pool
    ]
    (disposal,) = compute(events).disposals
    assert [(m.rule, m.cost_gbp) for m in disposal.matches] == [(Rule.S104, D("500"))]


def test_same_day_buy_at_one_broker_and_sale_at_the_other() -> None:
    """Schwab buys 50 (cost £605 with commission) the day IB sells 80: 50 same-day, 30 from the pool."""
    events = [
        buy(date(2023, 1, 5), "100", "1000"),
        buy(date(2024, 7, 1), "50", "600", costs="5", account=SCHWAB),
        sell(date(2024, 7, 1), "80", "1000", costs="5"),
    ]
    result = compute(events)
    (disposal,) = result.disposals
    assert [(m.rule, m.quantity, m.cost_gbp) for m in disposal.matches] == [
        (Rule.SAME_DAY, D("50"), D("605")),
        (Rule.S104, D("30"), D("300")),
    ]
    assert disposal.allowable_costs_gbp == D("910")
    assert disposal.gain_gbp == D("90")
    (pool,) = result.pools_at(Y2024.end)
    assert (pool.quantity, pool.cost_gbp) == (D("70"), D("700"))


def test_same_day_rule_of_a_later_day_comes_before_an_earlier_thirty_day_match() -> None:
    """CG51560: the 30-day rule yields only to the same-day rule, including a later day's same-day match."""
    events = [
        buy(date(2020, 12, 31), "700", "700"),
        sell(date(2021, 1, 13), "700", "1400"),
        buy(date(2021, 1, 13), "500", "1000"),
        buy(date(2021, 1, 14), "650", "1950"),
        sell(date(2021, 1, 14), "600", "1800"),
    ]
    first, second = compute(events).disposals
    assert [(m.rule, m.quantity, m.cost_gbp) for m in first.matches] == [
        (Rule.SAME_DAY, D("500"), D("1000")),
        (Rule.THIRTY_DAY, D("50"), D("150")),
        (Rule.S104, D("150"), D("150")),
    ]
    assert [(m.rule, m.quantity, m.cost_gbp) for m in second.matches] == [(Rule.SAME_DAY, D("600"), D("1800"))]


def test_usd_security_bought_and_sold_at_different_exchange_rates() -> None:
    """Each leg at its own day's rate: 0.80 GBP per USD on the purchase, 0.75 on the sale."""
    usd = Security("gi-usco", "USCO", "US0000000001")
    buy_rate = choose_rate("USD", date(2024, 5, 1), broker_rate=D("0.80"), ecb_rate=D("0.81"))
    sell_rate = choose_rate("USD", date(2024, 9, 2), stored_rate=D("0.75"), ecb_rate=D("0.76"))
    assert buy_rate is not None and sell_rate is not None
    assert (buy_rate.source, sell_rate.source) == (RateSource.BROKER, RateSource.STORED)
    common = {"security": usd, "account": IB_GIA, "taxes_local": D("0")}
    purchase = event_in_gbp(
        side=Side.BUY, trade_date=date(2024, 5, 1), quantity=D("10"), price_local=D("100"),
        commission_local=D("-1"), rate=buy_rate, trade_id="t1", **common,
    )  # fmt: skip
    sale = event_in_gbp(
        side=Side.SELL, trade_date=date(2024, 9, 2), quantity=D("-10"), price_local=D("120"),
        commission_local=D("-1"), rate=sell_rate, trade_id="t2", **common,
    )  # fmt: skip
    (disposal,) = compute([purchase, sale]).disposals
    assert disposal.proceeds_gbp == D("900")
    assert disposal.disposal_costs_gbp == D("0.75")
    assert disposal.acquisition_cost_gbp == D("800.80")
    assert disposal.gain_gbp == D("98.45")


def test_rate_choice_order_and_gbp() -> None:
    assert choose_rate("USD", date(2024, 1, 2)) is None
    gbp = choose_rate("GBP", date(2024, 1, 2), ecb_rate=D("9"))
    assert gbp is not None and (gbp.gbp_per_unit, gbp.source) == (Decimal(1), RateSource.PARITY)
    ecb = choose_rate("eur", date(2024, 1, 2), ecb_rate=D("0.86"))
    assert ecb is not None and (ecb.currency, ecb.source) == ("EUR", RateSource.ECB)


def test_split_inside_the_thirty_day_window() -> None:
    """Sold 100 before a 2-for-1 split, bought 200 after it within 30 days: the 200 new are the 100 old."""
    events = [
        buy(date(2023, 3, 1), "100", "1000"),
        sell(date(2024, 6, 3), "100", "1500"),
        buy(date(2024, 6, 20), "200", "1400"),
    ]
    result = compute(events, splits=[Split(ACME.instrument_id, date(2024, 6, 10), D("2"), D("1"))])
    (disposal,) = result.disposals
    assert [(m.rule, m.quantity, m.cost_gbp, m.acquired) for m in disposal.matches] == [
        (Rule.THIRTY_DAY, D("100"), D("1400"), date(2024, 6, 20))
    ]
    assert disposal.gain_gbp == D("100")
    (pool,) = result.pools_at(Y2024.end)
    assert (pool.quantity, pool.cost_gbp) == (D("200"), D("1000"))


def test_consolidation_keeps_cost_and_exact_quantities() -> None:
    events = [buy(date(2023, 3, 1), "300", "900"), sell(date(2024, 8, 1), "50", "400")]
    result = compute(events, splits=[Split(ACME.instrument_id, date(2024, 5, 1), D("1"), D("3"))])
    (disposal,) = result.disposals
    assert disposal.acquisition_cost_gbp == D("450")  # half of the 100 post-consolidation shares
    (pool,) = result.pools_at(Y2024.end)
    assert (pool.quantity, pool.cost_gbp) == (D("50"), D("450"))


def test_share_for_share_exchange_carries_cost_and_other_actions_need_review() -> None:
    newco = Security("gi-newco", "NEWCO", "GB00NEWCO001")
    events = [buy(date(2023, 3, 1), "100", "1000"), sell(date(2024, 8, 1), "100", "1800", security=newco)]
    exchange = Reorganisation(
        ACME.instrument_id, date(2024, 6, 1), ReorganisationKind.SHARE_FOR_SHARE, "ACME into NEWCO 1:2", newco, D("2")
    )
    (disposal,) = compute(events, reorganisations=[exchange]).disposals
    assert disposal.quantity == D("100")
    assert [(m.rule, m.quantity, m.cost_gbp) for m in disposal.matches] == [(Rule.S104, D("100"), D("500"))]

    demerger = Reorganisation(ACME.instrument_id, date(2024, 6, 1), ReorganisationKind.OTHER, "demerger of ACME Sub")
    result = compute(
        [buy(date(2023, 3, 1), "100", "1000"), sell(date(2024, 8, 1), "50", "900")], reorganisations=[demerger]
    )
    (disposal,) = result.disposals
    assert not disposal.complete and disposal.gain_gbp is None
    report = report_dict(result, Y2024)
    assert report["complete"] is False
    assert [item["reason"] for item in report["needs_review"]] == [
        "corporate action not computed (other): demerger of ACME Sub"
    ]  # type: ignore[index]


def test_isa_sale_does_not_count() -> None:
    events = [
        buy(date(2023, 3, 1), "100", "1000"),
        buy(date(2023, 3, 1), "100", "2000", account=IB_ISA),
        sell(date(2024, 8, 1), "100", "5000", account=IB_ISA),
    ]
    result = compute(events)
    assert result.disposals == ()
    assert result.excluded_sheltered == 2
    report = report_dict(result, Y2024)
    assert report["disposals"] == [] and report["complete"] is True
    assert report["pools"] == [
        {"symbol": "ACME", "isin": "GB00ACME0001", "quantity": "100", "cost_gbp": "1000.00", "complete": True}
    ]


def test_incomplete_security_is_never_computed_with_zero_cost() -> None:
    events = [buy(date(2024, 5, 1), "10", "100"), sell(date(2024, 8, 1), "30", "600")]
    result = compute(events)
    (disposal,) = result.disposals
    assert not disposal.complete
    assert (disposal.gain_gbp, disposal.allowable_costs_gbp, disposal.unmatched_quantity) == (None, None, D("30"))
    report = report_dict(result, Y2024)
    assert report["complete"] is False
    totals = report["totals"]
    assert totals["disposals"] == 0 and totals["incomplete_disposals"] == 1  # type: ignore[index]
    assert report["disposals"][0]["gain_gbp"] is None  # type: ignore[index]

    stated = OpeningPool(ACME, D("20"), D("150"), date(2024, 4, 30))
    (disposal,) = compute(events, opening_pools=[stated]).disposals
    assert disposal.complete and disposal.acquisition_cost_gbp == D("250") and disposal.gain_gbp == D("350")


def test_losses_brought_forward_only_down_to_the_exempt_amount() -> None:
    events = [buy(date(2023, 3, 1), "100", "1000"), sell(date(2024, 8, 1), "100", "6000")]
    totals = year_totals(compute(events), Y2024, D("4000"))
    assert (totals.net_gain_gbp, totals.annual_exempt_amount_gbp) == (D("5000"), D("3000"))
    assert (totals.losses_used_gbp, totals.taxable_gain_gbp, totals.losses_carried_forward_gbp) == (
        D("2000"),
        D("0"),
        D("2000"),
    )
    small = year_totals(
        compute([buy(date(2023, 3, 1), "100", "1000"), sell(date(2024, 8, 1), "100", "2500")]), Y2024, D("4000")
    )
    assert (small.losses_used_gbp, small.taxable_gain_gbp, small.losses_carried_forward_gbp) == (
        D("0"),
        D("0"),
        D("4000"),
    )
    loss = year_totals(
        compute([buy(date(2023, 3, 1), "100", "1000"), sell(date(2024, 8, 1), "100", "700")]), Y2024, D("10")
    )
    assert (loss.losses_gbp, loss.losses_used_gbp, loss.losses_carried_forward_gbp) == (D("300"), D("0"), D("310"))


def test_2024_25_gains_before_and_from_30_october() -> None:
    other = Security("gi-other", "OTHR", None)
    events = [
        buy(date(2023, 3, 1), "100", "1000"),
        buy(date(2023, 3, 1), "100", "1000", security=other),
        sell(date(2024, 10, 29), "50", "1200"),  # gain 700
        sell(date(2024, 10, 30), "50", "300"),  # loss 200
        sell(date(2025, 1, 15), "100", "4000", security=other),  # gain 3000
    ]
    report = report_dict(compute(events), Y2024, losses_brought_forward=D("100"))
    totals = report["totals"]
    assert totals["before_2024_10_30"] == {"gains_gbp": "700.00", "losses_gbp": "0.00", "net_gain_gbp": "700.00"}  # type: ignore[index]
    assert totals["from_2024_10_30"] == {"gains_gbp": "3000.00", "losses_gbp": "200.00", "net_gain_gbp": "2800.00"}  # type: ignore[index]
    assert totals["net_gain_gbp"] == "3500.00" and totals["taxable_gain_gbp"] == "400.00"  # type: ignore[index]
    assert "before_2024_10_30" not in report_dict(compute(events), TaxYear(2023))["totals"]  # type: ignore[operator]


def test_reporting_threshold_flag_even_without_a_gain() -> None:
    events = [buy(date(2022, 3, 1), "1000", "60000"), sell(date(2023, 9, 1), "1000", "55000")]
    totals = year_totals(compute(events), TaxYear(2023))
    assert totals.net_gain_gbp == D("-5000")
    assert totals.reporting_threshold_gbp == D("50000") and totals.proceeds_over_reporting_threshold
    earlier = year_totals(
        compute([buy(date(2021, 3, 1), "10", "48000"), sell(date(2022, 9, 1), "10", "49000")]), TaxYear(2022)
    )
    assert earlier.reporting_threshold_gbp == D("49200") and not earlier.proceeds_over_reporting_threshold


def test_report_is_json_with_exact_decimal_strings_and_traceable_trades() -> None:
    events = [
        buy(date(2023, 3, 1), "3", "10", trade_id="b1"),
        sell(date(2024, 8, 1), "1", "5", costs="0.10", trade_id="s1"),
    ]
    report = report_dict(compute(events), Y2024)
    assert json.loads(json.dumps(report)) == report
    (disposal,) = report["disposals"]  # type: ignore[misc]
    assert disposal["proceeds_gbp"] == "5.00"
    assert disposal["acquisition_cost_gbp"] == "3.33"  # £10/3 exactly, rounded only here
    assert disposal["cost_gbp"] == "3.43" and disposal["gain_gbp"] == "1.57"
    assert disposal["matches"] == [
        {"rule": "s104", "quantity": "1", "cost_gbp": "3.33", "acquired": None, "trades": []}
    ]
    assert disposal["trades"][0]["trade_id"] == "s1" and disposal["trades"][0]["raw_payload_hash"] == "hs1"
    assert report["pools"][0]["cost_gbp"] == "6.67"  # type: ignore[index]
    assert set(report["totals"]) >= {  # type: ignore[arg-type]
        "disposals", "proceeds_gbp", "allowable_costs_gbp", "gains_gbp", "losses_gbp", "net_gain_gbp",
        "annual_exempt_amount_gbp", "losses_brought_forward_gbp", "taxable_gain_gbp",
    }  # fmt: skip


def test_event_from_a_stored_broker_trade() -> None:
    """An IB sale booked at 20:30 New York time on 1 Aug is 2 Aug in London: the UK day is the one used."""
    instrument = Instrument("ib", "265598", "USCO", "US Co", AssetClass.EQUITY, "USD", isin="US0000000001")
    trade = Trade(
        broker="ib", broker_trade_id="T-9", broker_account_id="U1000001", instrument=instrument,
        trade_ts=datetime(2024, 8, 1, 20, 30, tzinfo=ZoneInfo("America/New_York")), quantity=D("-5"),
        price_local=D("200"), amount_local=D("1000"), currency="USD", commission=D("-1.25"),
    )  # fmt: skip
    rate = choose_rate("USD", date(2024, 8, 2), broker_rate=D("0.78"))
    assert rate is not None
    event = event_from_trade(
        trade, security=Security("gi-usco", "USCO"), wrapper="GIA", rate=rate, raw_payload_hash="abc"
    )
    assert (event.side, event.trade_date, event.quantity) == (Side.SELL, date(2024, 8, 2), D("5"))
    assert (event.consideration_gbp, event.costs_gbp) == (D("780.00"), D("0.9750"))
    assert (event.account.broker, event.account.account_id, event.trade_id) == ("ib", "U1000001", "T-9")
    isa = event_from_trade(trade, security=Security("gi-usco", "USCO"), wrapper="ISA", rate=rate)
    assert not isa.account.taxable


def test_corporate_action_on_an_isa_only_holding_needs_no_review() -> None:
    other = Reorganisation(ACME.instrument_id, date(2024, 6, 1), ReorganisationKind.OTHER, "demerger")
    events = [buy(date(2023, 3, 1), "10", "100", account=IB_ISA), sell(date(2024, 8, 1), "10", "150", account=IB_ISA)]
    report = report_dict(compute(events, reorganisations=[other]), Y2024)
    assert report["needs_review"] == [] and report["complete"] is True


def test_opening_pool_stated_after_an_unhandled_corporate_action_supersedes_it() -> None:
    """The user's pool at a date already reflects what happened before it; trades before it are not reused."""
    old = Reorganisation(ACME.instrument_id, date(2022, 6, 1), ReorganisationKind.OTHER, "capital return")
    events = [
        buy(date(2021, 3, 1), "999", "1"),  # before the opening pool: already in it
        sell(date(2023, 1, 10), "5", "50"),  # likewise: listed, not computed
        buy(date(2024, 5, 1), "10", "100"),
        sell(date(2024, 8, 1), "30", "600"),
    ]
    stated = OpeningPool(ACME, D("20"), D("150"), date(2023, 12, 31))
    result = compute(events, reorganisations=[old], opening_pools=[stated])
    (disposal,) = [d for d in result.disposals if d.day == date(2024, 8, 1)]
    assert disposal.complete and disposal.gain_gbp == D("350")
    assert len(result.disposals) == 1
    assert [item.reason for item in result.review][-1].startswith("disposal on or before the stated opening pool")
    assert result.pools_at(Y2024.end) == ()  # 20 + 10 - 30: nothing left, and the cost was known throughout

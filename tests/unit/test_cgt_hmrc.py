"""HMRC's own worked examples, to the penny.

CG51590 Example 1 (Ms Davy) and the Section 104 part of CG51624 are HMRC's figures as retrieved from the
Capital Gains Manual. HS284's "Example 3" PDF could not be retrieved itself; its figures come from two
independent public transcriptions that agree (see that test's docstring).
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_DOWN, Decimal

from portfolio_dashboard.domain.cgt import Rule, TaxYear, compute, year_totals
from portfolio_dashboard.domain.cgt.report import pennies, rounded_gain
from tests.unit.cgt_builders import D, buy, sell


def test_cg51590_example_1_ms_davy() -> None:
    """CG51590 Example 1: purchases 2006-07, a sale in March 2010 matched with a purchase 22 days later.

    Retrieved text: 1,000 shares for £1,300 (15 Apr 2006), 1,000 for £1,450 (4 Aug 2006), 500 for £950
    (19 Jan 2007), sells 2,000 for £6,850 (16 Mar 2010), buys 2,000 for £6,790 (7 Apr 2010), sells 2,200 for
    £7,700 (10 Dec 2010); proceeds are net of incidental costs. HMRC: the March sale is matched with the
    April purchase, gain £60; the April shares do not enter the pool; before the December sale the Section 104
    holding is 2,500 shares costing £3,700 and the sale is a part disposal "on a simple apportionment" (the
    retrieved excerpt stops there: 2,200/2,500 x £3,700 = £3,256, gain £4,444, 300 shares costing £444 left
    follow from that stated rule).
    """
    events = [
        buy(date(2006, 4, 15), "1000", "1300"),
        buy(date(2006, 8, 4), "1000", "1450"),
        buy(date(2007, 1, 19), "500", "950"),
        sell(date(2010, 3, 16), "2000", "6850"),
        buy(date(2010, 4, 7), "2000", "6790"),
        sell(date(2010, 12, 10), "2200", "7700"),
    ]
    result = compute(events)
    march, december = result.disposals
    assert [(m.rule, m.quantity, m.cost_gbp, m.acquired) for m in march.matches] == [
        (Rule.THIRTY_DAY, D("2000"), D("6790"), date(2010, 4, 7))
    ]
    assert march.gain_gbp == D("60")
    assert [(m.rule, m.quantity) for m in december.matches] == [(Rule.S104, D("2200"))]
    assert december.acquisition_cost_gbp == D("3256")
    assert december.gain_gbp == D("4444")
    (pool,) = result.pools_at(date(2011, 4, 5))
    assert (pool.quantity, pool.cost_gbp) == (D("300"), D("444"))
    # The two sales fall in different tax years (2009-10 and 2010-11).
    assert year_totals(result, TaxYear(2009)).gains_gbp == D("60.00")
    assert year_totals(result, TaxYear(2010)).gains_gbp == D("4444.00")


def test_cg51624_section_104_part_disposal_with_costs_of_disposal() -> None:
    """CG51624: 10,000 shares for £100,000 (Jan 2005); 5,000 sold for £60,000 with £4,000 costs of disposal.

    HMRC's figures: cost £50,000, cost of disposal £4,000, total £54,000, unindexed gain £6,000. The example
    is about corporation tax (it then deducts indexation); capital gains tax for individuals has no
    indexation after 2008, so the unindexed gain is the gain here.
    """
    result = compute(
        [buy(date(2005, 1, 10), "10000", "100000"), sell(date(2013, 1, 15), "5000", "60000", costs="4000")]
    )
    (disposal,) = result.disposals
    assert disposal.acquisition_cost_gbp == D("50000")
    assert disposal.allowable_costs_gbp == D("54000")
    assert disposal.gain_gbp == D("6000")
    totals = year_totals(result, TaxYear(2012))
    assert (totals.proceeds_gbp, totals.allowable_costs_gbp, totals.gains_gbp) == (D("60000"), D("54000"), D("6000"))
    assert totals.annual_exempt_amount_gbp == Decimal(10600)


def test_hs284_example_3_lobster_plc() -> None:
    """HS284 Example 3 (2024 edition): a Section 104 holding with two part disposals, dealing costs each time.

    The PDF itself could not be retrieved with the search tool; its figures are taken from two independent
    public transcriptions that agree (one of the 2024 edition with these dates, one of an earlier edition
    with the same numbers four years earlier): 1,000 shares at 400p + £150 costs (Apr 2015); 500 at 410p +
    £80 (Sep 2018); 700 sold at 480p = £3,360, costs £100 (May 2023); 400 sold at 520p = £2,080, costs £105
    (Feb 2024). HMRC: pool 1,500 shares / £6,280; first sale cost £2,931, gain £329; second sale cost £1,675,
    gain £300. HMRC rounds to whole pounds at each step; the engine keeps pence (£2,930.67 and £1,674.67), so
    its gains are £329.33 and £300.33, which are HMRC's £329 and £300 in whole pounds. Days of the month are
    not given in the example; the 1st is used.
    """
    events = [
        buy(date(2015, 4, 1), "1000", "4000", costs="150"),
        buy(date(2018, 9, 1), "500", "2050", costs="80"),
        sell(date(2023, 5, 1), "700", "3360", costs="100"),
        sell(date(2024, 2, 1), "400", "2080", costs="105"),
    ]
    result = compute(events)
    (pool_before,) = result.pools_at(date(2023, 4, 30))
    assert (pool_before.quantity, pool_before.cost_gbp) == (D("1500"), D("6280"))
    may, february = result.disposals
    assert pennies(may.acquisition_cost_gbp) == D("2930.67")  # HMRC: £2,931
    assert rounded_gain(may) == D("329.33")  # HMRC: £329
    assert pennies(february.acquisition_cost_gbp) == D("1674.67")  # HMRC: £1,675
    assert rounded_gain(february) == D("300.33")  # HMRC: £300
    for disposal, hmrc_gain in ((may, 329), (february, 300)):
        gain = rounded_gain(disposal)
        assert gain is not None and gain.quantize(D("1"), rounding=ROUND_DOWN) == hmrc_gain
    (pool_after,) = result.pools_at(date(2024, 4, 5))
    assert (pool_after.quantity, pennies(pool_after.cost_gbp)) == (D("400"), D("1674.67"))  # HMRC: £1,674
    totals = year_totals(result, TaxYear(2023))
    assert (totals.disposals, totals.proceeds_gbp, totals.allowable_costs_gbp) == (2, D("5440.00"), D("4810.34"))
    assert (totals.gains_gbp, totals.annual_exempt_amount_gbp, totals.taxable_gain_gbp) == (
        D("629.66"),
        D("6000"),
        D("0"),
    )
    assert not totals.proceeds_over_reporting_threshold

"""HMRC's own worked examples, to the penny.

CG51590 Example 1 (Ms Davy) and the Section 104 part of CG51624 are HMRC's figures as retrieved from the
Capital Gains Manual. HS284's "Example 3" PDFs could not be retrieved with the search tool (only the
publication page listing them), so no HS284 figures appear here; the rules HS284 states are covered by
the scenario tests with figures of our own, labelled as such.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from portfolio_dashboard.domain.cgt import Rule, TaxYear, compute, year_totals
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

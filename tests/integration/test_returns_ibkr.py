"""IBKR cross-check through the database: a real-shaped Flex statement (daily NAVs in EquitySummaryInBase,
deposits and a withdrawal in CashTransactions, a dividend inside the NAV, ChangeInNAV with IBKR's TWR) is
parsed by our Flex parser, stored row by row, read back by the returns read model, and our TWR agrees with the
broker's within 0.05 percentage points (issue 18)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Connection

from portfolio_dashboard.brokers.ib_flex_statement import parse_flex
from portfolio_dashboard.domain import RawResponse
from portfolio_dashboard.services.returns import returns_report
from tests.fakes.flex_flows import Cash, cash_transactions, change_in_nav
from tests.fakes.flex_statement import FlexAccount, statement_xml
from tests.integration.returns_rows import store_flex
from tests.unit.test_returns_crosscheck import ibkr_style_twr, real_shaped_month

ACCOUNT = "U2468024"
ENDPOINT = "GET /AccountManagement/FlexWebService/GetStatement?t=***&q=1&v=3"


def statement(seed: int, weight: Decimal) -> tuple[bytes, Decimal]:
    navs, flows = real_shaped_month(seed)
    twr_percent = (ibkr_style_twr(navs, flows, weight) * 100).quantize(Decimal("0.000001"))
    cash = [Cash("Deposits/Withdrawals", "GBP", str(amount), "1", datetime(d.year, d.month, d.day, 14, 30),
                 f"90{i}", "CASH RECEIPT / ELECTRONIC FUND" if amount > 0 else "DISBURSEMENT")
            for i, (d, amount) in enumerate(sorted(flows.items()))]
    cash.append(Cash("Dividends", "GBP", "41.20", "1", datetime(2026, 11, 12, 20, 20), "9100",
                     "VWRL(IE00B3RBWM25) Cash Dividend GBP 0.40 per Share", "12345", "VWRL", "IE00B3RBWM25"))
    nav_xml = change_in_nav(ACCOUNT, "GBP", date(2026, 11, 1), date(2026, 11, 30),
                            startingValue=str(navs[0][1]), endingValue=str(navs[-1][1]),
                            depositsWithdrawals=str(sum(flows.values())), dividends="41.20",
                            twr=str(twr_percent))
    account = FlexAccount(ACCOUNT, "GBP", "ISA", totals={d: str(v) for d, v in navs},
                          money=[cash_transactions(ACCOUNT, cash), nav_xml],
                          sections=("AccountInformation", "EquitySummaryInBase"))
    body = statement_xml([account], from_date=navs[0][0], to_date=navs[-1][0],
                         generated=datetime(2026, 12, 1, 9, tzinfo=UTC))
    return body, twr_percent / 100


@pytest.mark.parametrize(("seed", "weight"), [(1, Decimal(0)), (2, Decimal("0.5")), (3, Decimal(1))])
def test_ours_agrees_with_ibkrs_twr_through_the_read_model(conn: Connection, seed: int, weight: Decimal) -> None:
    body, broker = statement(seed, weight)
    result = parse_flex([RawResponse("ib_flex", "ib", ENDPOINT, datetime(2026, 12, 1, 9, tzinfo=UTC), 200, body,
                                     "text/xml")])
    assert len(result.snapshots) >= 21 and len(result.nav_changes) == 1
    assert sum(1 for f in result.cash_flows if str(f.kind) in ("deposit", "withdrawal")) == 3
    store_flex(conn, result)
    # IBKR's 30 November close is stamped 20:20 New York, 1 December in London: November's statement is our
    # London 1 November .. 1 December.
    report = returns_report(conn, period=None, start=date(2026, 11, 1), end=date(2026, 12, 1))
    [account] = report.accounts
    assert account.gbp.unavailable == ()
    assert account.broker_twr == broker
    assert account.comparison is not None and account.comparison.agrees, account.comparison
    assert account.comparison.difference_pp is not None and abs(account.comparison.difference_pp) <= Decimal("0.05")
    # a return counting the deposits as gain would miss by more than a point
    naive = account.gbp.end_value / account.gbp.start_value - 1  # type: ignore[operator]
    assert abs(naive - broker) * 100 > 1

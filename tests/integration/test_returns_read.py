"""The returns read model and service on a real database: hand-computed scenarios to 1e-6 (issue 18)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Connection, text

from portfolio_dashboard.services.returns import ReturnsFilter, broker_twr, prepare, returns_report
from portfolio_dashboard.storage.reads.returns import NavChange, account_histories
from tests.integration import rows
from tests.integration.returns_rows import flow, nav, set_wrapper

D = Decimal
LONDON = ZoneInfo("Europe/London")
TOL = D("1e-6")


def noon(day: int, month: int = 1, year: int = 2026) -> datetime:
    return datetime(year, month, day, 12, tzinfo=LONDON)


def close(a: Decimal | None, b: Decimal) -> bool:
    return a is not None and abs(a - b) <= TOL


@pytest.fixture
def worked(conn: Connection) -> Connection:
    """docs/returns.md's worked example: flows on the first and the last day of the period."""
    run = rows.run(conn)
    rows.account(conn, "ib", "U1")
    for day, value in ((1, "1000"), (2, "1410"), (3, "1424.10"), (4, "1238.341")):
        rows.snapshot(conn, run, "ib", "U1", noon(day), value)
    flow(conn, "ib", "U1", "deposit", datetime(2026, 1, 2, tzinfo=LONDON), "400")
    flow(conn, "ib", "U1", "withdrawal", noon(4), "-200")
    flow(conn, "ib", "U1", "dividend", noon(3), "5")  # not external: part of the return
    return conn


def test_the_worked_example_through_the_database(worked: Connection) -> None:
    report = returns_report(worked, period=None, start=date(2026, 1, 2), end=date(2026, 1, 4))
    total = report.total
    assert total.unavailable == ()
    assert total.start_value == D("1000") and total.end_value == D("1238.341")
    assert total.net_flows == D("200") and total.gain == D("38.341")
    assert close(total.twr, D(121) / D(120) * D("1.01") ** 2 - 1)
    [account] = report.accounts
    assert account.gbp == total and account.local == total  # a GBP account's own currency is GBP
    assert account.broker_twr is None


def test_a_deposit_alone_is_not_a_gain(conn: Connection) -> None:
    run = rows.run(conn)
    rows.account(conn, "ib", "U1")
    rows.snapshot(conn, run, "ib", "U1", noon(1), "10000")
    rows.snapshot(conn, run, "ib", "U1", noon(2), "15000")
    flow(conn, "ib", "U1", "deposit", noon(2), "5000")
    result = returns_report(conn, period=None, start=date(2026, 1, 2), end=date(2026, 1, 2)).total
    assert result.twr == 0 and result.gain == 0 and result.net_flows == D("5000")


def test_a_withdrawal_larger_than_the_gain(conn: Connection) -> None:
    run = rows.run(conn)
    rows.account(conn, "ib", "U1")
    rows.snapshot(conn, run, "ib", "U1", noon(1), "10000")
    rows.snapshot(conn, run, "ib", "U1", noon(2), "10200")
    rows.snapshot(conn, run, "ib", "U1", noon(3), "5200")
    flow(conn, "ib", "U1", "withdrawal", noon(3), "-5000")
    result = returns_report(conn, period=None, start=date(2026, 1, 2), end=date(2026, 1, 3)).total
    assert result.gain == D("200") and close(result.twr, D("0.02"))


def test_accounts_opened_on_different_dates_and_a_currency_move(conn: Connection) -> None:
    """A GBP account earning 1% a day; a USD account of $1,000 cash opening on day 2 while USD→GBP falls from
    0.80 to 0.75: 0% in dollars, −6.25% in pounds, and its arrival is money in, not a gain."""
    run = rows.run(conn)
    rows.account(conn, "ib", "U1")
    rows.account(conn, "schwab", "S1", currency="USD")
    for day, value in ((1, "1000"), (2, "1010"), (3, "1020.10")):
        rows.snapshot(conn, run, "ib", "U1", noon(day), value)
    rows.snapshot(conn, run, "schwab", "S1", noon(2, ), "800", total_local="1000", currency="USD")
    rows.snapshot(conn, run, "schwab", "S1", noon(3), "750", total_local="1000", currency="USD")
    flow(conn, "schwab", "S1", "deposit", noon(2), "800", amount_local="1000", currency="USD")
    report = returns_report(conn, period=None, start=date(2026, 1, 2), end=date(2026, 1, 3))
    usd = next(a for a in report.accounts if a.broker == "schwab")
    assert usd.currency == "USD"
    assert usd.local is not None and usd.local.twr == 0
    # its history begins on the period's first day: its period starts at that first valuation
    assert usd.gbp.start_value == D("800") and usd.gbp.twr == D("-0.0625")
    total = report.total
    assert total.unavailable == ()
    # day 2: only U1 earns (+10 on 1000), the USD account arrives with weight 0; day 3: +10.10 and −50 on 1810
    expected = (D("1.01") * (1 + (D("1770.10") - D("1810")) / D("1810"))) - 1
    assert close(total.twr, expected)
    assert total.net_flows == D("800") and total.gain == D("1770.10") - D("1000") - D("800")
    one_day = returns_report(conn, period=None, start=date(2026, 1, 3), end=date(2026, 1, 3))
    usd_day = next(a for a in one_day.accounts if a.broker == "schwab")
    assert usd_day.gbp.twr == D("-0.0625") and usd_day.local is not None and usd_day.local.twr == 0
    assert set(one_day.brokers) == {"ib", "schwab"} and one_day.brokers["schwab"].twr == D("-0.0625")


def test_a_gateway_only_account_withholds_the_scope(conn: Connection) -> None:
    run = rows.run(conn)
    rows.account(conn, "ib", "U1")
    rows.account(conn, "ib", "U2")
    for day in (1, 2, 3):
        rows.snapshot(conn, run, "ib", "U1", noon(day), "1000")
        sid = rows.snapshot(conn, run, "ib", "U2", noon(day), "500")
        conn.execute(text("UPDATE snapshots SET source = 'ib_gateway' WHERE id = :i"), {"i": sid})
    report = returns_report(conn, period=None, start=date(2026, 1, 2), end=date(2026, 1, 3))
    gateway = next(a for a in report.accounts if a.broker_account_id == "U2")
    assert gateway.gbp.twr is None and gateway.gbp.unavailable[0].startswith("flows unknown")
    assert report.total.twr is None and report.total.gain is None
    assert report.total.unavailable[0].startswith("ib:U2: flows unknown")
    only_u1 = returns_report(conn, ReturnsFilter(accounts=(("ib", "U1"),)), period=None,
                             start=date(2026, 1, 2), end=date(2026, 1, 3))
    assert only_u1.total.twr == 0 and only_u1.total.unavailable == ()


def test_wrappers_and_the_filter(conn: Connection) -> None:
    run = rows.run(conn)
    for account, wrapper in (("U1", "ISA"), ("U2", "SIPP"), ("U3", None)):
        rows.account(conn, "ib", account)
        if wrapper:
            set_wrapper(conn, "ib", account, wrapper)
        for day, value in ((1, "100"), (2, "110")):
            rows.snapshot(conn, run, "ib", account, noon(day), value)
    report = returns_report(conn, period=None, start=date(2026, 1, 2), end=date(2026, 1, 2))
    assert set(report.wrappers) == {"ISA", "SIPP", "unassigned"}
    assert all(r.twr == D("0.1") for r in report.wrappers.values())
    isa = returns_report(conn, ReturnsFilter(wrappers=("ISA",)), period=None, start=date(2026, 1, 2),
                         end=date(2026, 1, 2))
    assert [a.broker_account_id for a in isa.accounts] == ["U1"]


def test_named_periods_resolve_against_today_and_inception(worked: Connection) -> None:
    prepared = prepare(worked, today=date(2026, 1, 4))
    assert prepared.inception == date(2026, 1, 1)
    everything = prepared.report("all")
    assert (everything.start, everything.end) == (date(2026, 1, 1), date(2026, 1, 4))
    assert everything.total.start_value == D("1000")
    assert prepared.report("ytd").total == everything.total  # the history begins on 1 January itself
    month = prepared.report("1m")  # 5 December .. 4 January: the history begins inside it
    assert month.total.twr is None and month.total.unavailable[0].startswith("no valuation to start from")


def test_the_read_model_uses_each_days_last_snapshot_and_local_days(conn: Connection) -> None:
    run = rows.run(conn)
    rows.account(conn, "ib", "U1")
    rows.snapshot(conn, run, "ib", "U1", datetime(2026, 6, 1, 9, tzinfo=UTC), "100")
    rows.snapshot(conn, run, "ib", "U1", datetime(2026, 6, 1, 20, tzinfo=UTC), "101")
    rows.snapshot(conn, run, "ib", "U1", datetime(2026, 6, 1, 23, 30, tzinfo=UTC), "102")  # 2 June in London
    [history] = account_histories(conn)
    assert [(v.ts.date(), v.value) for v in history.valuations_gbp] == [
        (date(2026, 6, 1), D("101")), (date(2026, 6, 2), D("102"))]
    assert history.flows_known


def test_ibkr_statements_are_chained_over_the_period(conn: Connection) -> None:
    run = rows.run(conn)
    rows.account(conn, "ib", "U1")
    for day, value in ((2, "1000"), (5, "1010"), (6, "1020.10")):  # 3-4 Jan 2026 is a weekend
        rows.snapshot(conn, run, "ib", "U1", noon(day), value)
    nav(conn, "ib", "U1", date(2026, 1, 5), date(2026, 1, 5), "1.0")
    nav(conn, "ib", "U1", date(2026, 1, 6), date(2026, 1, 6), "1.0")
    report = returns_report(conn, period=None, start=date(2026, 1, 3), end=date(2026, 1, 6))
    [account] = report.accounts
    assert account.broker_twr == D("1.01") * D("1.01") - 1
    assert account.comparison is not None and account.comparison.agrees
    assert account.comparison.difference_pp == 0


def test_a_missing_statement_is_not_a_flat_day() -> None:
    navs = [NavChange(date(2026, 1, 5), date(2026, 1, 5), D("0.01"), "GBP")]
    valued = [date(2026, 1, 5), date(2026, 1, 6)]
    assert broker_twr(navs, valued, date(2026, 1, 5), date(2026, 1, 6)) is None
    assert broker_twr(navs, valued, date(2026, 1, 3), date(2026, 1, 5)) == D("0.01")
    assert broker_twr([], valued, date(2026, 1, 5), date(2026, 1, 6)) is None


def test_a_gateway_account_opening_inside_the_period_still_withholds_the_scope(conn: Connection) -> None:
    run = rows.run(conn)
    rows.account(conn, "ib", "U1")
    rows.account(conn, "ib", "U2")
    for day in (1, 2, 3):
        rows.snapshot(conn, run, "ib", "U1", noon(day), "1000")
    sid = rows.snapshot(conn, run, "ib", "U2", noon(3), "500")
    conn.execute(text("UPDATE snapshots SET source = 'ib_gateway' WHERE id = :i"), {"i": sid})
    total = returns_report(conn, period=None, start=date(2026, 1, 2), end=date(2026, 1, 3)).total
    assert total.twr is None and any(r.startswith("ib:U2: flows unknown") for r in total.unavailable)

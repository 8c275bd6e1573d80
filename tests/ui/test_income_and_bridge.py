"""The Income page and the Overview's money-in bridge through AppTest, on a real database with demo history."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from sqlalchemy import text

from portfolio_dashboard.domain.cgt.tax_years import tax_year_of
from portfolio_dashboard.domain.income import summarise
from portfolio_dashboard.domain.returns.periods import resolve_period
from portfolio_dashboard.storage.reads import flows as rf
from portfolio_dashboard.storage.reads import portfolio as rp
from portfolio_dashboard.storage.reads.scope import Scope
from portfolio_dashboard.ui import fmt, value_chart
from tests.ui import chart_markup
from tests.ui.conftest import run_page

pytestmark = pytest.mark.slow


def _metric(at, label: str) -> str:  # type: ignore[no-untyped-def]
    return next(m.value for m in at.metric if m.label == label)


def _markdown(at) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(str(m.value) for m in at.markdown)


def test_income_page_shows_the_tax_years_income_by_month_security_and_account(seeded) -> None:  # type: ignore[no-untyped-def]
    at = run_page("income")
    assert not at.exception
    year = tax_year_of(date.today())
    with seeded.engine.connect() as conn:
        lines = rf.income_lines(conn, Scope(), start=year.start, end=year.end)
    s = summarise(lines)
    assert lines, "the demo history pays interest every month"
    assert _metric(at, "Net income") == fmt.money(s.total_gbp)
    assert _metric(at, "Withholding tax") == fmt.money(s.withholding_gbp)
    assert _metric(at, "Income received") == fmt.money(s.gross_gbp)
    assert len(at.get("plotly_chart")) == 1
    frames = [d.value for d in at.dataframe]  # tables are told apart by their columns (AppTest drops their keys)

    def table(column: str):  # type: ignore[no-untyped-def]
        return next(f for f in frames if column in f.columns)

    tables = {"income_by_account": table("Account"), "income_by_security": table("ISIN"),
              "income_by_tax_year": table("Tax year"), "income_lines": table("Kind")}
    assert set(tables["income_by_account"]["Account"]) == {fmt.account_label(b, a) for b, a in s.by_account}
    assert "Interest (no security)" in set(tables["income_by_security"]["Security"])
    assert year.label in set(tables["income_by_tax_year"]["Tax year"])
    assert not any(k == "Deposit" for k in tables["income_lines"]["Kind"])  # a deposit is never income
    assert len(at.get("download_button")) == 2


def test_income_page_all_time_covers_every_payment(seeded) -> None:  # type: ignore[no-untyped-def]
    at = run_page("income")
    at.segmented_control(key="income_period").set_value("All time").run()
    with seeded.engine.connect() as conn:
        s = summarise(rf.income_lines(conn, Scope()))
    assert _metric(at, "Net income") == fmt.money(s.total_gbp)


def test_overview_bridge_adds_up_and_counts_deposits_as_money_in(seeded) -> None:  # type: ignore[no-untyped-def]
    at = run_page()
    assert not at.exception
    at.segmented_control(key="bridge_period").set_value("1M").run()
    tz = seeded.settings.timezone
    first, _ = resolve_period("1m", datetime.now(tz).date())
    with seeded.engine.connect() as conn:
        b = rf.bridge(conn, Scope(), datetime.combine(first, time(), tz))
        deposits = conn.execute(text(
            "SELECT sum(amount_gbp) FROM cash_flows WHERE kind IN ('deposit', 'withdrawal') AND flow_ts > :s"),
            {"s": datetime.combine(first, time(), tz)}).scalar()
    assert b.value_now is not None and b.start_value is not None and b.gain is not None
    assert b.money_in == deposits and b.money_in > 0  # the month's deposits into both accounts
    assert b.value_now == b.start_value + b.money_in + b.gain
    chart = chart_markup.find(at)  # the value chart, with the invested line
    assert not at.error and chart.invested and value_chart.INVESTED in chart.legend
    assert all(tip.splitlines()[-1].startswith(f"{value_chart.INVESTED}: £") for tip in chart.tips)
    line = _markdown(at)
    assert f"Value <b>{fmt.money(b.value_now)}</b> = start {fmt.money(b.start_value)}" in line
    assert f"money in <b>{fmt.money(b.money_in, signed=True)}</b>" in line
    cent = Decimal("0.01")  # the sentence adds up as printed: each figure to the penny, the gain what is left
    up = ROUND_HALF_UP
    shown = b.value_now.quantize(cent, up) - b.start_value.quantize(cent, up) - b.money_in.quantize(cent, up)
    assert abs(shown - b.gain) < cent
    assert f"gain <b>{fmt.money(shown, signed=True)}</b>" in line


def test_since_previous_day_is_the_market_move_without_the_days_deposit(seeded) -> None:  # type: ignore[no-untyped-def]
    # A deposit into the ISA after the last value before today, with the same cash in a new snapshot: the
    # value rises by the deposit, the "since previous day" figure must not.
    amount = Decimal("5000.00")
    with seeded.engine.begin() as conn:
        latest = conn.execute(text(
            "SELECT id, asof_ts, total_value_gbp FROM snapshots WHERE broker_account_id = 'DEMO-ISA-01' "
            "ORDER BY asof_ts DESC LIMIT 1")).one()
        now = latest.asof_ts + timedelta(minutes=5)
        conn.execute(text(
            "INSERT INTO snapshots (run_id, broker, broker_account_id, asof_ts, snapshot_key, total_value_local, "
            "total_value_gbp, base_currency, account_currency, source, parser_version, fx_complete) "
            "SELECT run_id, broker, broker_account_id, :t, snapshot_key || '-deposit', total_value_local + :a, "
            "total_value_gbp + :a, base_currency, account_currency, source, parser_version, fx_complete "
            "FROM snapshots WHERE id = :id"), {"t": now, "a": amount, "id": latest.id})
        conn.execute(text(
            "INSERT INTO cash_flows (broker, broker_account_id, broker_flow_id, kind, flow_ts, currency, "
            "amount_local, amount_gbp) VALUES ('demo', 'DEMO-ISA-01', 'test-deposit', 'deposit', :t, 'GBP', :a, :a)"),
            {"t": now - timedelta(minutes=1), "a": amount})
    at = run_page()
    with seeded.engine.connect() as conn:
        s = rp.portfolio_summary(conn, Scope(), "GBP")
    assert s.change_day is not None
    market = s.change_day.amount - amount
    shown = next(m for m in at.metric if m.label == "Since previous day")
    assert shown.value == fmt.money(market, "GBP", signed=True)
    assert f"money in {fmt.money(amount, 'GBP', signed=True)}" in shown.delta
    assert datetime.now(UTC) > now - timedelta(days=2)


def test_overview_names_the_accounts_whose_flows_are_unknown(seeded) -> None:  # type: ignore[no-untyped-def]
    with seeded.engine.begin() as conn:
        conn.execute(text("INSERT INTO broker_accounts (broker, broker_account_id, name, base_currency) "
                          "VALUES ('ib', 'U5550123', 'Gateway only', 'GBP')"))
        conn.execute(text(
            "INSERT INTO snapshots (run_id, broker, broker_account_id, asof_ts, snapshot_key, total_value_local, "
            "total_value_gbp, base_currency, account_currency, source, parser_version, fx_complete) "
            "SELECT run_id, 'ib', 'U5550123', asof_ts, 'gw-' || snapshot_key, 1000, 1000, 'GBP', 'GBP', "
            "'ib_gateway', '1', true FROM snapshots ORDER BY asof_ts DESC LIMIT 1"))
    at = run_page()
    warning = "\n".join(str(w.value) for w in at.warning)
    assert f"Money in and out is unknown for {fmt.account_label('ib', 'U5550123')}" in warning
    assert "Flex query" in warning
    with seeded.engine.connect() as conn:
        assert rf.flows_unknown(conn, Scope()) == [("ib", "U5550123")]
        assert rf.flows_unknown(conn, Scope(brokers=("demo",))) == []

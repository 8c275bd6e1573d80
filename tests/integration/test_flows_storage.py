"""Storing money in and out: idempotent on the broker's ids through capture, reprocess and demo seed; valued in
GBP at the flow date's rate (the broker's own first, never a demo rate for a real account); linked to the run
and raw payload; demo clear removes them; the ChangeInNAV cross-check warns on the run."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, text

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.domain import (
    Account,
    AccountSnapshot,
    AssetClass,
    CashFlow,
    CorporateAction,
    DividendAccrual,
    FlowKind,
    FxRate,
    Instrument,
    NavChange,
    ParseResult,
    RawResponse,
    RunStatus,
    TriggerContext,
)
from portfolio_dashboard.services import demo_history
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.services.flow_values import store_flows, value_flows
from portfolio_dashboard.services.fx import FxChain
from portfolio_dashboard.services.reprocess import Selection, reprocess
from portfolio_dashboard.storage.flows import newest_flow_ts
from portfolio_dashboard.storage.raw_payloads import raw_payload_id
from portfolio_dashboard.storage.repositories import Repository

AT = datetime(2026, 3, 10, 14, tzinfo=UTC)


def _flow_rows(app: App) -> list[tuple[object, ...]]:
    with app.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT broker, broker_account_id, broker_flow_id, kind, amount_local, amount_gbp, fx_rate_id, run_id, "
            "raw_payload_id FROM cash_flows ORDER BY 1, 2, 3")).all()]


def test_demo_capture_stores_flows_once_and_reprocess_changes_nothing(app: App) -> None:
    first = capture(TriggerContext(sources=("demo",)), app=app)
    assert first.status == RunStatus.SUCCESS
    rows = _flow_rows(app)
    assert rows, "the demo lists the last 40 days of flows: a monthly deposit at least"
    assert first.sources[0].flows_written == len(rows)
    assert all(r[7] == first.run_id and r[8] is not None for r in rows)  # linked to its run and raw payload
    usd = [r for r in rows if r[1] == "DEMO-US-01"]
    assert usd and all(r[5] is not None and r[6] is not None for r in usd)  # valued, with the rate used

    second = capture(TriggerContext(sources=("demo",)), app=app)
    assert second.sources[0].flows_written == 0
    assert _flow_rows(app) == rows  # same rows, still the first run's

    report = reprocess(app, Selection(all=True))
    assert report.flows_written == 0
    assert _flow_rows(app) == rows


def test_capture_asks_storage_for_the_newest_flow(app: App) -> None:
    capture(TriggerContext(sources=("demo",)), app=app)
    with app.engine.connect() as conn:
        newest = conn.execute(text("SELECT max(flow_ts) FROM cash_flows WHERE broker_account_id = 'DEMO-ISA-01'"))
        assert newest_flow_ts(conn, "demo", "DEMO-ISA-01") == newest.scalar()
        assert newest_flow_ts(conn, "demo", "NOPE") is None


def test_demo_seed_stores_the_flows_and_clear_deletes_them(app: App) -> None:
    end = datetime(2026, 6, 30, 18, tzinfo=UTC)
    demo_history.seed(app, 60, end=end)
    count = len(_flow_rows(app))
    assert count > 0
    demo_history.seed(app, 60, end=end)
    assert len(_flow_rows(app)) == count  # seeding the same days again stores nothing new
    with app.engine.connect() as conn:
        kinds = {r[0] for r in conn.execute(text("SELECT DISTINCT kind FROM cash_flows"))}
    assert {"deposit", "dividend", "withholding_tax", "interest"} <= kinds
    cleared = demo_history.clear(app)
    assert cleared["cash flows"] == count
    assert _flow_rows(app) == []


def _real_flow(broker: str, flow_id: str, rate_to_base: Decimal | None = None, at: datetime = AT) -> CashFlow:
    return CashFlow(broker, "U1", flow_id, FlowKind.DEPOSIT, at, "USD", Decimal("1000.00"),
                    fx_rate_to_base=rate_to_base)


def _snapshot(broker: str, base: str) -> AccountSnapshot:
    return AccountSnapshot(Account(broker, "U1", "real", base), AT, "test", ())


def test_a_real_account_uses_the_brokers_rate_when_its_base_is_gbp() -> None:
    demo_rate = FxRate("USD", "GBP", Decimal("0.5"), AT, "demo")
    chain = FxChain("GBP", timedelta(days=4), stored_lookup=lambda _s, _t, _a: demo_rate)
    parsed = ParseResult(snapshots=(_snapshot("ib", "GBP"),),
                         cash_flows=(_real_flow("ib", "T1", Decimal("0.79")),
                                     _real_flow("ib", "T2", at=AT + timedelta(days=10)),
                                     _real_flow("ib", "T3", at=AT + timedelta(hours=3))))
    valued = value_flows(parsed, chain)
    by_id = {v.flow.broker_flow_id: v for v in valued.flows}
    assert by_id["T1"].amount_gbp == Decimal("790.0000")
    assert by_id["T1"].rate is not None and by_id["T1"].rate.provider == "ib_flex"
    # no broker rate that day and only a simulated one stored: nothing, and the run says so
    assert by_id["T2"].amount_gbp is None and by_id["T2"].rate is None
    # the broker's rate of that day values its other flows of the day too
    assert by_id["T3"].amount_gbp == Decimal("790.0000")
    assert any("1 cash flow(s) in USD have no USD->GBP rate" in w for w in valued.warnings)


def test_the_brokers_rate_is_not_used_when_the_account_base_is_not_gbp() -> None:
    ecb = FxRate("USD", "GBP", Decimal("0.8"), AT - timedelta(hours=2), "ecb")
    chain = FxChain("GBP", timedelta(days=4), stored_lookup=lambda _s, _t, _a: ecb)
    parsed = ParseResult(snapshots=(_snapshot("ib", "USD"),), cash_flows=(_real_flow("ib", "T1", Decimal(1)),))
    [valued] = value_flows(parsed, chain).flows
    assert valued.amount_gbp == Decimal("800.000") and valued.rate == ecb


def test_a_nav_difference_is_a_run_warning() -> None:
    nav = NavChange("ib", "U1", date(2026, 3, 1), date(2026, 3, 31), "GBP", deposits_withdrawals=Decimal("790.00"),
                    dividends=Decimal("0"), interest=Decimal("1.00"))
    flows = (_real_flow("ib", "T1", Decimal("0.79")),)
    ok = value_flows(ParseResult(cash_flows=flows, nav_changes=(nav,)), FxChain("GBP", timedelta(days=4)))
    assert [w for w in ok.warnings if "ChangeInNAV" in w] == [
        "ib:U1 2026-03-01..2026-03-31: our interest 0.00 differ from the broker's ChangeInNAV 1.00"]


def test_storing_twice_changes_nothing_and_a_later_rate_fills_the_gap(conn: Connection) -> None:
    run_id = uuid.uuid4()
    repo = Repository(conn)
    repo.create_run(run_id, trigger_type="manual", triggered_by=None, sources=["ib_flex"], schema_version="0007",
                    app_version="test", started_at=AT, hostname="h", pid=1)
    body = b'<FlexStatement><CashTransaction transactionID="T1" amount="1000"/></FlexStatement>'
    raw = RawResponse("ib_flex", "ib", "GET /flex", AT, 200, body)
    repo.insert_raw_payloads(run_id, [raw], "1")
    stock = Instrument("ib", "265598", "AAPL", "Apple", AssetClass.EQUITY, "USD", isin="US0378331005")
    flow = CashFlow("ib", "U1", "T1", FlowKind.DIVIDEND, AT, "USD", Decimal("10.00"), instrument=stock)
    no_rate = value_flows(ParseResult(cash_flows=(flow,)), FxChain("GBP", timedelta(days=4)))
    assert store_flows(conn, run_id, [raw], no_rate) == 1
    assert store_flows(conn, run_id, [raw], no_rate) == 0
    row = conn.execute(text("SELECT amount_gbp, raw_payload_id, instrument_id FROM cash_flows")).one()
    assert row[0] is None and row[1] == raw_payload_id(run_id, raw) and row[2] is not None
    rate = FxRate("USD", "GBP", Decimal("0.8"), AT, "ecb")
    valued = value_flows(ParseResult(cash_flows=(flow,), fx_rates=(rate,)), FxChain("GBP", timedelta(days=4)))
    assert store_flows(conn, run_id, [raw], valued) == 1  # the GBP value is filled in, nothing else changes
    assert store_flows(conn, run_id, [raw], valued) == 0
    assert conn.execute(text("SELECT amount_gbp FROM cash_flows")).scalar() == Decimal("8.000")


def _counts(conn: Connection) -> tuple[int, ...]:
    return tuple(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                 for t in ("cash_flows", "corporate_actions", "nav_changes", "dividend_accruals"))


def test_statements_actions_and_accruals_are_stored_once_and_the_latest_accrual_wins(conn: Connection) -> None:
    repo = Repository(conn)
    run_id = uuid.uuid4()
    repo.create_run(run_id, trigger_type="manual", triggered_by=None, sources=["ib_flex"], schema_version="0007",
                    app_version="test", started_at=AT, hostname="h", pid=1)
    stock = Instrument("ib", "265598", "AAPL", "Apple", AssetClass.EQUITY, "USD")
    nav = NavChange("ib", "U1", date(2026, 3, 1), date(2026, 3, 31), "GBP", starting_value=Decimal("100"),
                    ending_value=Decimal("110"), deposits_withdrawals=Decimal("5"), twr=Decimal("4.9"))
    action = CorporateAction("ib", "U1", "CA1", AT, "FS", stock, "USD", quantity=Decimal("30"))
    accrual = DividendAccrual("ib", "U1", stock, "USD", date(2026, 3, 9), date(2026, 3, 20), Decimal("100"),
                              Decimal("0.25"), Decimal("25"), Decimal("3.75"), Decimal(0), Decimal("21.25"))
    parsed = ParseResult(corporate_actions=(action,), nav_changes=(nav,), dividend_accruals=(accrual,))
    early = RawResponse("ib_flex", "ib", "GET /flex", AT, 200, b"<U1/>")
    later = RawResponse("ib_flex", "ib", "GET /flex", AT + timedelta(days=1), 200, b"<U1 again/>")
    repo.insert_raw_payloads(run_id, [early, later], "1")
    chain = FxChain("GBP", timedelta(days=4))
    store_flows(conn, run_id, [early], value_flows(parsed, chain))
    assert _counts(conn) == (0, 1, 1, 1)
    store_flows(conn, run_id, [early], value_flows(parsed, chain))
    assert _counts(conn) == (0, 1, 1, 1)
    assert conn.execute(text("SELECT twr_percent, deposits_withdrawals FROM nav_changes")).one() == (
        Decimal("4.9"), Decimal("5"))
    firmer = ParseResult(dividend_accruals=(replace(accrual, net_amount=Decimal("21.30")),))
    store_flows(conn, run_id, [later], value_flows(firmer, chain))
    row = conn.execute(text("SELECT net_amount, reported_at FROM dividend_accruals")).one()
    assert row == (Decimal("21.30"), later.received_at)
    store_flows(conn, run_id, [early], value_flows(parsed, chain))  # an older report never wins back
    assert conn.execute(text("SELECT net_amount FROM dividend_accruals")).scalar() == Decimal("21.30")

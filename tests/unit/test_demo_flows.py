"""The demo's money in and out: a realistic schedule, stable ids, and cash that moves with every flow."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from portfolio_dashboard.brokers.demo import DemoSource
from portfolio_dashboard.brokers.demo_flows import FLOWS_START
from portfolio_dashboard.domain import FlowKind


def _cash(source: DemoSource, at: datetime, account: str, currency: str) -> Decimal:
    (snap,) = [s for s in source.parse([source.raw_for(at)]).snapshots if s.account.broker_account_id == account]
    return next(c.amount for c in snap.cash if c.currency == currency)


def test_a_year_of_history_has_every_kind_of_flow() -> None:
    source = DemoSource()
    end = datetime(2026, 12, 1, 17, tzinfo=UTC)
    raws = [source.raw_for(end - timedelta(days=d)) for d in range(365, -1, -1)]
    flows = [f for f in source.parse(raws).cash_flows if f.flow_ts > end - timedelta(days=365)]
    kinds = Counter((f.broker_account_id, f.kind) for f in flows)
    assert kinds[("DEMO-ISA-01", FlowKind.DEPOSIT)] >= 12  # monthly
    assert kinds[("DEMO-US-01", FlowKind.INTEREST)] >= 12
    assert kinds[("DEMO-US-01", FlowKind.DIVIDEND)] == 8  # AAPL and MSFT quarterly
    assert kinds[("DEMO-US-01", FlowKind.WITHHOLDING_TAX)] == 8
    assert kinds[("DEMO-ISA-01", FlowKind.WITHHOLDING_TAX)] == 0  # an ISA's Irish ETFs pay gross
    assert kinds[("DEMO-EU-01", FlowKind.DIVIDEND)] == 1
    assert kinds[("DEMO-EU-01", FlowKind.WITHHOLDING_TAX)] == 1
    keys = [(f.broker_account_id, f.broker_flow_id) for f in flows]
    assert len(keys) == len(set(keys))
    for flow in flows:
        assert flow.flow_ts.tzinfo is not None and isinstance(flow.amount_local, Decimal)
        if flow.kind in (FlowKind.DIVIDEND, FlowKind.WITHHOLDING_TAX):
            assert flow.instrument is not None and flow.instrument.isin
    aapl = [f for f in flows if f.instrument is not None and f.instrument.symbol == "AAPL"]
    gross = next(f for f in aapl if f.kind is FlowKind.DIVIDEND)
    tax = next(f for f in aapl if f.kind is FlowKind.WITHHOLDING_TAX and f.flow_ts == gross.flow_ts)
    assert gross.amount_local == Decimal("15.00") and tax.amount_local == Decimal("-2.25")  # 60 x 0.25, 15%


def test_the_one_withdrawal_is_negative() -> None:
    source = DemoSource()
    flows = source.parse([source.raw_for(datetime(2025, 9, 20, tzinfo=UTC))]).cash_flows
    (withdrawal,) = [f for f in flows if f.kind is FlowKind.WITHDRAWAL]
    assert withdrawal.amount_local == Decimal(-1500) and withdrawal.broker_account_id == "DEMO-US-01"


def test_recapturing_gives_the_same_ids() -> None:
    source = DemoSource()
    at = datetime(2026, 6, 30, 16, 35, tzinfo=UTC)
    first = source.parse([source.raw_for(at)]).cash_flows
    again = source.parse([source.raw_for(at), source.raw_for(at - timedelta(days=1))]).cash_flows
    again_by_id = {f.broker_flow_id: f for f in again}
    assert first and all(again_by_id[f.broker_flow_id] == f for f in first)  # same id, same flow


def test_a_deposit_raises_cash_by_its_amount() -> None:
    source = DemoSource()
    deposit_at = datetime(2026, 3, 1, 9, tzinfo=UTC)
    before = _cash(source, deposit_at - timedelta(minutes=1), "DEMO-ISA-01", "GBP")
    after = _cash(source, deposit_at, "DEMO-ISA-01", "GBP")
    assert after - before == Decimal(250)


def test_before_the_first_flow_the_cash_is_the_starting_cash() -> None:
    source = DemoSource()
    at = datetime.combine(FLOWS_START, datetime.min.time(), UTC) - timedelta(days=1)
    assert _cash(source, at, "DEMO-ISA-01", "GBP") == Decimal("1843.27")
    assert source.parse([source.raw_for(at)]).cash_flows == ()

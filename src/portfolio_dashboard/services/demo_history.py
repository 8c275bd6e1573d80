"""Demo history: ``demo seed`` backfills daily snapshots in one bulk transaction; ``demo clear`` removes
every demo row. Demo data lives under broker ``demo`` only and never mixes with real accounts."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.brokers.demo import BROKER, DemoSource, history_instants
from portfolio_dashboard.domain.valuation import validate, value
from portfolio_dashboard.services import runs
from portfolio_dashboard.services.flow_values import store_flows, value_flows
from portfolio_dashboard.services.fx import FxChain
from portfolio_dashboard.storage.demo_data import delete_broker_data
from portfolio_dashboard.storage.unit_of_work import UnitOfWork
from portfolio_dashboard.storage.writer import ValuedTrade, write_source


def seed(app: App, days: int, *, end: datetime | None = None) -> int:
    """Store ``days`` daily demo snapshots ending yesterday; already stored days are skipped (idempotent)."""
    app.migrate()
    settings = app.settings
    source = DemoSource()
    instants = history_instants(days, end or datetime.now(UTC), settings.timezone)
    raws = [source.raw_for(at) for at in instants]
    parsed = source.parse(raws)
    chain = FxChain(settings.base_currency, settings.fx_max_age_delta)
    tolerance = Decimal(settings.reconcile_tolerance)
    by_time: dict[datetime, list] = {}  # type: ignore[type-arg]
    for rate in parsed.fx_rates:
        by_time.setdefault(rate.asof_ts, []).append(rate)
    valued = []
    for snap in parsed.snapshots:
        checked, _warnings = validate(snap)
        own = by_time.get(snap.asof_ts, [])

        def convert(ccy: str, at: datetime, own: list = own) -> tuple:  # type: ignore[type-arg]
            c = chain.conversion(ccy, at, own)
            return c.factor, c.rate, c.warning

        valued.append(value(checked, convert, tolerance))
    trades = []
    for trade in parsed.trades:  # each at the rate the demo stated for its moment
        c = chain.conversion(trade.currency, trade.trade_ts, by_time.get(trade.trade_ts, []))
        trades.append(ValuedTrade(trade, c.convert(trade.amount_local), c.rate))
    meta = runs.new_run("manual", f"demo seed --days {days}", ["demo"])
    run_id = meta.run_id
    with UnitOfWork(app.engine) as uow:
        uow.lock("pd.source:demo")
        runs.record_start(uow, meta)
        counts = write_source(
            uow, run_id=run_id, source="demo", parser_version=source.parser_version,
            base_currency=settings.base_currency, raws=raws, snapshots=valued, fx_rates=parsed.fx_rates,
            trades=trades,
        )
        # the demo's deposits, dividends, taxes and interest, each valued at its own day's demo rate
        flows = store_flows(uow.connection, run_id, raws, value_flows(parsed, chain))
        runs.record_finish(
            uow, run_id, status="success", finished_at=datetime.now(UTC), error_summary=None,
            outcomes=[{"source": "demo", "status": "success", "snapshots_written": counts.snapshots_written,
                      "snapshots_existing": counts.snapshots_existing,
                      "positions_written": counts.positions_written, "trades_written": counts.trades_written,
                      "raw_payloads": counts.raw_payloads, "flows_written": flows}],
            warnings=[],
        )
        uow.commit()
    return counts.snapshots_written


def clear(app: App) -> dict[str, int]:
    """Delete all demo data, children first, in one transaction."""
    app.migrate()
    with UnitOfWork(app.engine) as uow:
        uow.lock("pd.source:demo")
        counts = delete_broker_data(uow.connection, BROKER)
        uow.commit()
    return counts

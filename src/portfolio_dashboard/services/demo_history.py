"""Demo history: ``demo seed`` backfills daily snapshots in one bulk transaction; ``demo clear`` removes
every demo row. Demo data lives under broker ``demo`` only and never mixes with real accounts."""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import text

from portfolio_dashboard import __version__
from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.brokers.demo import BROKER, DemoSource, history_instants
from portfolio_dashboard.domain.valuation import validate, value
from portfolio_dashboard.services.fx import FxChain
from portfolio_dashboard.storage import migrate
from portfolio_dashboard.storage.unit_of_work import UnitOfWork
from portfolio_dashboard.storage.writer import write_source


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
    run_id = uuid.uuid4()
    now = datetime.now(UTC)
    with UnitOfWork(app.engine) as uow:
        uow.lock("pd.source:demo")
        uow.repo.create_run(
            run_id, trigger_type="manual", triggered_by=f"demo seed --days {days}", sources=["demo"],
            schema_version=migrate.head_revision(), app_version=__version__, started_at=now,
            hostname=socket.gethostname(), pid=os.getpid(),
        )
        counts = write_source(
            uow, run_id=run_id, source="demo", parser_version=source.parser_version,
            base_currency=settings.base_currency, raws=raws, snapshots=valued, fx_rates=parsed.fx_rates,
        )
        uow.repo.finish_run(
            run_id, status="success", finished_at=datetime.now(UTC), error_summary=None,
            outcome=[{"source": "demo", "status": "success", "snapshots_written": counts.snapshots_written,
                      "snapshots_existing": counts.snapshots_existing,
                      "positions_written": counts.positions_written, "raw_payloads": counts.raw_payloads}],
            warnings=[],
        )
        uow.commit()
    return counts.snapshots_written


def clear(app: App) -> dict[str, int]:
    """Delete all demo data, children first, in one transaction."""
    app.migrate()
    statements = [
        ("positions", "DELETE FROM positions p USING snapshots s WHERE p.snapshot_id = s.id AND s.broker = :b"),
        ("trades", "DELETE FROM trades WHERE broker = :b"),
        ("cash flows", "DELETE FROM cash_flows WHERE broker = :b"),
        ("snapshots", "DELETE FROM snapshots WHERE broker = :b"),
        ("raw payloads", "DELETE FROM raw_payloads WHERE broker = :b"),
        ("mappings", "DELETE FROM instrument_mapping m USING instruments i "
                     "WHERE m.instrument_id = i.id AND i.broker = :b"),
        ("instruments", "DELETE FROM instruments WHERE broker = :b"),
        ("global instruments", "DELETE FROM global_instruments g WHERE NOT EXISTS "
                               "(SELECT 1 FROM instrument_mapping m WHERE m.global_instrument_id = g.id)"),
        ("accounts", "DELETE FROM broker_accounts WHERE broker = :b"),
        # A real account valued at a demo rate (before provenance was enforced) loses that value: it was made up.
        ("real positions unvalued", "UPDATE positions p SET market_value_gbp = NULL, fx_rate_id = NULL "
                                    "FROM fx_rates f WHERE p.fx_rate_id = f.id AND f.provider LIKE '%demo%'"),
        ("real trades unvalued", "UPDATE trades t SET amount_gbp = NULL, fx_rate_id = NULL "
                                 "FROM fx_rates f WHERE t.fx_rate_id = f.id AND f.provider LIKE '%demo%'"),
        ("real cash flows unvalued", "UPDATE cash_flows c SET amount_gbp = NULL, fx_rate_id = NULL "
                                     "FROM fx_rates f WHERE c.fx_rate_id = f.id AND f.provider LIKE '%demo%'"),
        ("fx rates", "DELETE FROM fx_rates WHERE provider LIKE '%demo%'"),
        ("runs", "DELETE FROM snapshot_runs r WHERE r.sources = ARRAY['demo']::text[] AND NOT EXISTS "
                 "(SELECT 1 FROM snapshots s WHERE s.run_id = r.run_id) AND NOT EXISTS "
                 "(SELECT 1 FROM raw_payloads p WHERE p.run_id = r.run_id) AND NOT EXISTS "
                 "(SELECT 1 FROM trades t WHERE t.run_id = r.run_id) AND NOT EXISTS "
                 "(SELECT 1 FROM cash_flows c WHERE c.run_id = r.run_id)"),
    ]
    counts: dict[str, int] = {}
    with UnitOfWork(app.engine) as uow:
        uow.lock("pd.source:demo")
        for label, sql in statements:
            counts[label] = uow.connection.execute(text(sql), {"b": BROKER}).rowcount
        uow.commit()
    return counts

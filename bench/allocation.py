"""Benchmark of the allocation queries (by global instrument, asset class, currency, broker, account).

Against an existing history (e.g. the read benchmark's generated database), by --database-url or DATABASE_URL:

    uv run python -m bench.allocation --database-url postgresql+psycopg://...

Or on a history of its own, bulk-loaded with COPY into a throwaway embedded PostgreSQL:

    uv run python -m bench.allocation                      # 2.2M positions (the read benchmark's scale)
    uv run python -m bench.allocation --positions 200000   # quicker
    uv run python -m bench.allocation --pgdata /tmp/h      # keep it, and reuse it next time

The generated history is shaped like a real multi-broker portfolio: IB accounts whose instruments carry
conids and ISINs, Schwab accounts whose instruments carry only CUSIPs, the same securities held at both
(so the mapping code merges them), LSE listings in GBP, cash in three currencies, and a few positions
without a GBP value. Instruments go through the real ``upsert_instruments`` and
``assign_global_instruments``; snapshots and positions go in with COPY. Prints the median and p95 per
query; exits non-zero when a median exceeds ``--budget-ms`` (default 20).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
from sqlalchemy import Connection, Engine, text

from portfolio_dashboard.domain import AssetClass, Instrument, cash_instrument
from portfolio_dashboard.domain.identifiers import cusip_check_digit, isin_check_digit
from portfolio_dashboard.storage import migrate
from portfolio_dashboard.storage.embedded import start_embedded, stop_embedded
from portfolio_dashboard.storage.engine import make_engine
from portfolio_dashboard.storage.mapping import assign_global_instruments
from portfolio_dashboard.storage.reads import runs as queries
from portfolio_dashboard.storage.unit_of_work import UnitOfWork

ACCOUNTS = (("ib", "U1000001", "GBP"), ("ib", "U1000002", "USD"), ("ib", "U1000003", "GBP"),
            ("schwab", "11110001", "USD"), ("schwab", "11110002", "USD"), ("schwab", "11110003", "USD"))
QUERIES: dict[str, Callable[[Connection], queries.Allocation]] = {
    "by_global_instrument": queries.allocation_by_global_instrument,
    "by_asset_class": queries.allocation_by_asset_class,
    "by_currency": queries.allocation_by_currency,
    "by_broker": queries.allocation_by_broker,
    "by_account": queries.allocation_by_account,
}


def _security(rng: random.Random, n: int) -> tuple[str, str, str]:
    """A made-up US security: (symbol, cusip, isin) with correct check digits."""
    body = f"{rng.randrange(100000, 999999)}{rng.randrange(10, 99)}"
    cusip = body + str(cusip_check_digit(body))
    isin = "US" + cusip + str(isin_check_digit("US" + cusip))
    return f"S{n:03d}", cusip, isin


def _instruments(rng: random.Random, per_account: int) -> dict[str, list[Instrument]]:
    us = [_security(rng, n) for n in range(per_account * 2)]
    ib = [Instrument("ib", str(100000 + n * 7), sym, f"{sym} Inc", AssetClass.EQUITY, "USD", isin=isin,
                     exchange="NASDAQ", broker_asset_class="STK") for n, (sym, _c, isin) in enumerate(us)]
    for n in range(per_account // 4):  # LSE ETFs in GBP, only at IB
        body = f"IE00B{n:06d}"
        ib.append(Instrument("ib", str(900000 + n), f"L{n:03d}", f"UCITS ETF {n}", AssetClass.ETF, "GBP",
                             isin=body + str(isin_check_digit(body)), exchange="LSEETF", broker_asset_class="STK"))
    schwab = [Instrument("schwab", cusip, sym, f"{sym} INC", AssetClass.EQUITY, "USD", cusip=cusip,
                         broker_asset_class="EQUITY") for sym, cusip, _i in us[per_account // 2:]]
    return {"ib": ib, "schwab": schwab}


def generate(engine: Engine, admin_libpq: str, positions: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    per_snapshot = 100
    days = max(2, positions // (per_snapshot * len(ACCOUNTS)))
    catalogue = _instruments(rng, per_snapshot)
    with UnitOfWork(engine) as uow:
        for broker, acct, ccy in ACCOUNTS:
            uow.connection.execute(
                text("INSERT INTO broker_accounts (broker, broker_account_id, name, base_currency) "
                     "VALUES (:b, :a, :n, :c) ON CONFLICT DO NOTHING"),
                {"b": broker, "a": acct, "n": f"{broker.upper()} {acct}", "c": ccy},
            )
        every = [i for lst in catalogue.values() for i in lst]
        every += [cash_instrument(b, c) for b in ("ib", "schwab") for c in ("GBP", "USD", "EUR")]
        ids = uow.repo.upsert_instruments(every)
        assign_global_instruments(uow.connection, ids, {i.key: i for i in every})
        run_id = uuid.uuid4()
        uow.connection.execute(
            text("INSERT INTO snapshot_runs (run_id, trigger_type, status, finished_at, schema_version) "
                 "VALUES (:r, 'manual', 'success', now(), :v)"),
            {"r": run_id, "v": migrate.head_revision()},
        )
        uow.commit()
    start = datetime(2026, 1, 1, 16, 35, tzinfo=UTC) - timedelta(days=days)
    with psycopg.connect(admin_libpq) as conn, conn.cursor() as cur:
        snaps = []
        with cur.copy("COPY snapshots (id, run_id, broker, broker_account_id, asof_ts, snapshot_key, "
                      "total_value_local, total_value_gbp, account_currency, source, parser_version) "
                      "FROM STDIN") as copy:
            for day in range(days):
                at = start + timedelta(days=day)
                for broker, acct, ccy in ACCOUNTS:
                    sid = uuid.uuid4()
                    snaps.append((sid, broker, acct))
                    copy.write_row((sid, run_id, broker, acct, at, f"{broker}|{acct}|{at.isoformat()}",
                                    "100000", "80000", ccy, broker, "bench"))
        held = {key: rng.sample(catalogue[key[0]], min(per_snapshot - 3, len(catalogue[key[0]])))
                for key in ((b, a) for b, a, _c in ACCOUNTS)}
        with cur.copy("COPY positions (snapshot_id, instrument_id, quantity, price_local, market_value_local, "
                      "market_value_gbp) FROM STDIN") as copy:
            for sid, broker, acct in snaps:
                for k, inst in enumerate(held[(broker, acct)]):
                    value = Decimal(rng.randrange(1000, 90000))
                    # one holding of the first IB account never has a GBP value (no FX rate)
                    unvalued = k == 0 and (broker, acct) == ACCOUNTS[0][:2]
                    gbp = None if unvalued else value * Decimal("0.79")
                    copy.write_row((sid, ids[inst.key], 10, value / 10, value, gbp))
                for c in ("GBP", "USD", "EUR"):
                    value = Decimal(rng.randrange(100, 5000))
                    copy.write_row((sid, ids[(broker, f"CASH.{c}")], value, 1, value, value))
        conn.commit()
        cur.execute("ANALYZE")


def run(engine: Engine, repeat: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {name: [] for name in QUERIES}
    with engine.connect() as conn:
        counts = conn.execute(text("SELECT (SELECT count(*) FROM positions), (SELECT count(*) FROM snapshots)")).one()
        print(f"history: {counts[0]:,} positions in {counts[1]:,} snapshots")
        for name, fn in QUERIES.items():
            result = fn(conn)  # warm-up, and a sanity check
            weights = sum((r.weight for r in result.rows if r.weight is not None), Decimal(0))
            print(f"  {name}: {len(result.rows)} rows, total £{result.total_gbp:,.2f}, weights sum {weights:.12f}, "
                  f"{len(result.unvalued)} positions without GBP")
            for _ in range(repeat):
                t0 = time.perf_counter()
                fn(conn)
                timings[name].append((time.perf_counter() - t0) * 1000)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"),
                        help="an already-generated history (SQLAlchemy or libpq URL; default $DATABASE_URL)")
    parser.add_argument("--positions", type=int, default=2_200_000, help="positions to generate (no URL given)")
    parser.add_argument("--pgdata", type=Path,
                        help="keep the embedded server's data here and reuse a history generated earlier")
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--budget-ms", type=float, default=20.0)
    args = parser.parse_args()
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if args.database_url:
        url = args.database_url.replace("postgresql://", "postgresql+psycopg://", 1)
        engine = make_engine(url)
    else:
        if args.pgdata is None:
            tmp = tempfile.TemporaryDirectory(prefix="pd-bench-")
            pgdata = Path(tmp.name) / "pgdata"
        else:
            pgdata = args.pgdata
        url = start_embedded(pgdata, database="bench_allocation", cleanup_mode="delete" if tmp else "stop")
        engine = make_engine(url)
        migrate.upgrade(engine)
        with engine.connect() as conn:
            have = conn.execute(text("SELECT count(*) FROM positions")).scalar_one()
        if not have:
            t0 = time.perf_counter()
            generate(engine, url.replace("postgresql+psycopg://", "postgresql://"), args.positions)
            print(f"generated {args.positions:,} positions in {time.perf_counter() - t0:.1f} s")
    try:
        timings = run(engine, args.repeat)
    finally:
        engine.dispose()
        if not args.database_url:
            stop_embedded(pgdata)
        if tmp is not None:
            tmp.cleanup()
    worst = 0.0
    print(f"{'query':<24}{'median ms':>12}{'p95 ms':>10}")
    for name, ms in timings.items():
        ms.sort()
        median = statistics.median(ms)
        worst = max(worst, median)
        print(f"{name:<24}{median:>12.2f}{ms[int(len(ms) * 0.95) - 1]:>10.2f}")
    return 0 if worst <= args.budget_ms else 1


if __name__ == "__main__":
    sys.exit(main())

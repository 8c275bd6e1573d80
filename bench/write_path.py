"""Write-path benchmark: one snapshot persisted by the real capture code vs COPY of the same rows.

    uv run python -m bench.write_path            # embedded PostgreSQL in a temp dir (or DATABASE_URL)
    uv run python -m bench.write_path --repeat 30

For each size (50, 500, 5,000 positions) it measures, in the same run and on the same database:
  * real:  ``storage.writer.write_source`` in one unit of work — raw payload, account and instrument upserts,
           mapping check, FX rate upsert, the snapshot and its positions — committed (a daily capture where
           the instruments are already known);
  * bound: the same rows — every column of the raw payload, the snapshot and its positions, as the real path
           stores them — written with COPY into the same tables (keys and foreign keys checked) in one committed
           transaction.
It prints medians and the ratio real/bound. Bound (pass/fail, exit status 1 when missed): real/COPY at most
``MAX_RATIO`` (1.8) at 500 positions, a daily capture's size. A ratio: this machine's speed drifts, and both
sides drift together. The plain path (positions by COPY with PostgreSQL's own foreign-key checks) meets it;
see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine, text
from tests.fakes.sources import snapshot

from portfolio_dashboard.domain import FxRate, ParseResult, RawResponse
from portfolio_dashboard.domain.valuation import validate, value
from portfolio_dashboard.services.fx import FxChain
from portfolio_dashboard.storage import migrate
from portfolio_dashboard.storage.raw_payloads import exact_body, raw_body_columns, raw_payload_id
from portfolio_dashboard.storage.unit_of_work import UnitOfWork
from portfolio_dashboard.storage.writer import write_source

SIZES = (50, 500, 5000)
MAX_RATIO = 1.8  # real / COPY at 500 positions


@contextmanager
def bench_engine() -> Iterator[Engine]:
    """DATABASE_URL when set, else a throw-away embedded server."""
    import os
    import shutil
    import tempfile
    from pathlib import Path

    from portfolio_dashboard.storage.embedded import start_embedded, stop_embedded
    from portfolio_dashboard.storage.engine import make_engine

    if os.environ.get("DATABASE_URL"):
        from portfolio_dashboard.config import load_settings

        engine = make_engine(load_settings().database_url.get_secret_value())  # type: ignore[union-attr]
        yield engine
        engine.dispose()
        return
    parent = Path(tempfile.mkdtemp(prefix="pd-bench-"))
    url = start_embedded(parent / "pgdata", database="bench", cleanup_mode="delete")
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        stop_embedded(parent / "pgdata")
        shutil.rmtree(parent, ignore_errors=True)


def prepared(size: int, asof: datetime):
    snap = snapshot("bench", "B1", asof=asof, currency="GBP",
                    positions=[(f"I{j}", f"SYM{j}", str(j + 1), "12.34") for j in range(size)])
    rate = FxRate("USD", "GBP", Decimal("0.79"), asof, "bench")
    body = json.dumps({"positions": [[f"I{j}", j + 1, "12.34"] for j in range(size)]}).encode()
    raw = RawResponse("bench", "bench", "GET /positions", asof, 200, body, "application/json")
    chain = FxChain("GBP", timedelta(days=4))
    checked, _ = validate(snap)
    valued = value(checked, lambda c, at: (lambda x: (x.factor, x.rate, x.warning))(chain.conversion(c, at)),
                   Decimal("0.01"))
    return ParseResult(snapshots=(snap,), fx_rates=(rate,)), valued, raw


def time_it(fn: Callable[[int], None], repeat: int) -> list[float]:
    out = []
    for i in range(repeat):
        t = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t)
    return out


def run(engine: Engine, repeat: int) -> list[dict[str, float]]:
    migrate.upgrade(engine)
    run_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO snapshot_runs (run_id, trigger_type, status, schema_version, finished_at) "
                          "VALUES (:r, 'manual', 'success', 'bench', now())"), {"r": run_id})
    results = []
    base = datetime(2020, 1, 1, 16, tzinfo=UTC)
    counter = iter(range(10**9))
    for size in SIZES:
        # warm-up: the instruments and the account become known (a daily capture's steady state)
        parsed, valued, raw = prepared(size, base + timedelta(minutes=next(counter)))
        with UnitOfWork(engine) as uow:
            write_source(uow, run_id=run_id, source="bench", parser_version="1", base_currency="GBP",
                         raws=[raw], snapshots=[valued], fx_rates=parsed.fx_rates)
            uow.commit()
        cases = [prepared(size, base + timedelta(minutes=next(counter))) for _ in range(repeat * 2)]

        def real(i: int, cases=cases) -> None:
            p, v, r = cases[i]
            with UnitOfWork(engine) as uow:
                uow.lock("pd.source:bench")
                write_source(uow, run_id=run_id, source="bench", parser_version="1", base_currency="GBP",
                             raws=[r], snapshots=[v], fx_rates=p.fx_rates)
                uow.commit()

        with engine.connect() as conn:
            ids = dict(conn.execute(
                text("SELECT broker_instrument_id, id FROM instruments WHERE broker = 'bench'")).all())

        def bound(i: int, cases=cases, ids=ids) -> None:
            """COPY of the same rows the real path stores — every column of the raw payload, the snapshot and its
            positions — with their values prepared beforehand (so only the writing is timed)."""
            _p, v, r = cases[repeat + i]
            snap_id = uuid.uuid4()
            payload_json, body_text = raw_body_columns(r)
            raw_row = (raw_payload_id(run_id, r), run_id, r.broker, r.endpoint, payload_json, r.received_at, r.source,
                       r.status_code, r.content_type, body_text, r.sha256, "1", json.dumps(r.headers),
                       exact_body(r, body_text))
            s = v.snapshot
            snap_row = (snap_id, run_id, "bench", "B1", s.asof_ts, s.key + ":copy", s.total_value_local,
                        v.total_base, "GBP", s.account.base_currency, v.reported_total_base, s.asof_source, "bench",
                        "1", v.fx_complete, json.dumps(list(v.warnings)))
            raw_conn = engine.raw_connection()
            try:
                pg = raw_conn.driver_connection
                with pg.cursor() as cur:
                    with cur.copy("COPY raw_payloads (id, run_id, broker, endpoint, payload_json, received_at, source, "
                                  "status_code, content_type, body_text, content_sha256, parser_version, headers, "
                                  "body_bytes) FROM STDIN") as cp:
                        cp.write_row(raw_row)
                    with cur.copy("COPY snapshots (id, run_id, broker, broker_account_id, asof_ts, snapshot_key, "
                                  "total_value_local, total_value_gbp, base_currency, account_currency, "
                                  "reported_total_gbp, asof_source, source, parser_version, fx_complete, warnings) "
                                  "FROM STDIN") as cp:
                        cp.write_row(snap_row)
                    with cur.copy("COPY positions (snapshot_id, instrument_id, quantity, price_local, "
                                  "market_value_local, market_value_gbp, fx_rate_id, cost_basis, unrealized_pnl) "
                                  "FROM STDIN") as cp:
                        for vp in v.positions:
                            pos = vp.position
                            cp.write_row((snap_id, ids[pos.instrument.broker_instrument_id], pos.quantity,
                                          pos.price_local, pos.market_value_local, vp.market_value_base, None,
                                          pos.cost_basis, pos.unrealized_pnl))
                pg.commit()
            finally:
                raw_conn.close()

        # interleave so background noise hits both equally
        real_t: list[float] = []
        bound_t: list[float] = []
        for i in range(repeat):
            real_t += time_it(lambda _i, i=i: real(i), 1)
            bound_t += time_it(lambda _i, i=i: bound(i), 1)
        r_med, b_med = statistics.median(real_t), statistics.median(bound_t)
        results.append({"positions": size, "real_ms": r_med * 1000, "copy_ms": b_med * 1000, "ratio": r_med / b_med})
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with bench_engine() as engine:
        rows = run(engine, args.repeat)
    print(f"{'positions':>9} {'real (ms)':>10} {'COPY (ms)':>10} {'ratio':>6}")
    for r in rows:
        print(f"{r['positions']:>9} {r['real_ms']:>10.2f} {r['copy_ms']:>10.2f} {r['ratio']:>6.2f}")
    daily = next(r for r in rows if r["positions"] == 500)
    ok = daily["ratio"] <= MAX_RATIO
    print(f"500 positions: real/COPY {daily['ratio']:.2f} {'meets' if ok else 'MISSES'} the bound of {MAX_RATIO}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

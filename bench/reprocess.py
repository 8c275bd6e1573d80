"""Reprocess throughput in position rows per second, against COPY of the same rows in the same run.

    uv run python bench/reprocess.py [--days 3000] [--json bench/results/reprocess.json]

A throwaway embedded PostgreSQL is filled with ``--days`` daily demo capture runs (3 accounts, 17 position
rows a day), then ``reprocess --all`` runs four times:

  unchanged   today's parser: every derived value already right, nothing written (the idempotent case);
  updated     a parser that changes every position's cost basis and every snapshot's as-of label;
  inserted    after deleting every position: each row inserted again;
  restored    today's parser again, undoing "updated".

Each pass reports end to end (load raws, parse, validate, value, write) and its write phase alone (the bulk
write path: staging by COPY, merging, committing). COPY is the same position rows copied straight into
``positions`` (primary key, index and foreign keys checked, as any write must) and, for reference, into a
table without foreign keys.

Bound (pass/fail): the slowest pass's write path at least ``MIN_RATIO_TO_COPY`` (0.5) times the rate of COPY
into ``positions`` in the same run. A ratio, not rows/s: this machine's speed drifts by a third within minutes,
and both sides drift together. The plain path (one connection, one transaction a batch, the foreign keys
checked by PostgreSQL) meets it with room: see docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import text

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.brokers.demo import DemoSource, history_instants
from portfolio_dashboard.config import load_settings
from portfolio_dashboard.domain import ParseResult, RawResponse
from portfolio_dashboard.services.fx import FxChain
from portfolio_dashboard.services.pipeline import value_parsed
from portfolio_dashboard.services.reprocess import ReprocessReport, Selection, reprocess
from portfolio_dashboard.storage import migrate
from portfolio_dashboard.storage.embedded import start_embedded, stop_embedded
from portfolio_dashboard.storage.unit_of_work import UnitOfWork
from portfolio_dashboard.storage.writer import write_source

MIN_RATIO_TO_COPY = 0.5


class ChangedDemo(DemoSource):
    parser_version = "bench-2"

    def parse(self, raws: Sequence[RawResponse]) -> ParseResult:
        out = super().parse(raws)
        snaps = tuple(
            replace(s, asof_source="bench.v2",
                    positions=tuple(replace(p, cost_basis=(p.cost_basis or Decimal(0)) + 1) for p in s.positions))
            for s in out.snapshots
        )
        return replace(out, snapshots=snaps)


def seed_daily_runs(app: App, days: int) -> int:
    """One capture run a day, as the timer makes them (``demo seed`` stores all days in a single run)."""
    app.migrate()
    settings = app.settings
    source = DemoSource()
    stored = 0
    with UnitOfWork(app.engine) as uow:
        for at in history_instants(days, datetime(2026, 11, 20, tzinfo=UTC), settings.timezone):
            run_id = uuid.uuid4()
            uow.repo.create_run(run_id, trigger_type="scheduled", triggered_by="bench", sources=["demo"],
                                schema_version=migrate.head_revision(), app_version="bench", started_at=at,
                                hostname="bench", pid=0)
            raws = [source.raw_for(at)]
            parsed = source.parse(raws)
            valued = value_parsed(parsed, FxChain(settings.base_currency, settings.fx_max_age_delta),
                                  Decimal(settings.reconcile_tolerance))
            counts = write_source(uow, run_id=run_id, source="demo", parser_version=source.parser_version,
                                  base_currency=settings.base_currency, raws=raws, snapshots=valued.snapshots,
                                  fx_rates=parsed.fx_rates)
            uow.repo.finish_run(run_id, status="success", finished_at=at, error_summary=None,
                                outcome=[{"source": "demo", "status": "success"}], warnings=[])
            stored += counts.snapshots_written
        uow.commit()
    return stored


COLUMNS = """snapshot_id, instrument_id, quantity, price_local, market_value_local, market_value_gbp, fx_rate_id,
             cost_basis, unrealized_pnl"""


@dataclass(frozen=True)
class Copied:
    rows: int
    into_positions_s: float
    without_fk_s: float

    def rate(self, seconds: float) -> int:
        return round(self.rows / seconds)


def copy_rows(app: App) -> Copied:
    """The same position rows by plain COPY, twice: into ``positions`` itself (its primary key, index and three
    foreign keys checked per row: the ceiling for writing these rows into this schema), and into an empty
    table with the same columns and indexes but no foreign keys."""
    raw = app.engine.raw_connection()
    try:
        cur = raw.cursor()
        rows = cur.execute(f"SELECT {COLUMNS} FROM positions").fetchall()
        cur.execute("CREATE TEMP TABLE bench_copy (LIKE positions INCLUDING ALL)")
        raw.commit()
        seconds = []
        for table in ("positions", "bench_copy"):
            cur.execute(f"DELETE FROM {table}")
            raw.commit()
            started = time.perf_counter()
            with cur.copy(f"COPY {table} ({COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            raw.commit()
            seconds.append(time.perf_counter() - started)
        return Copied(len(rows), seconds[0], seconds[1])
    finally:
        raw.close()


@dataclass(frozen=True)
class Pass:
    name: str
    position_rows: int
    seconds: float
    rows_per_s: int
    write_seconds: float
    write_rows_per_s: int
    positions_inserted: int
    positions_updated: int


def run_pass(name: str, app: App) -> Pass:
    report: ReprocessReport = reprocess(app, Selection(all=True))
    rows = report.positions_total
    result = Pass(name, rows, round(report.seconds, 3), round(rows / report.seconds),
                  round(report.write_seconds, 3), round(rows / report.write_seconds), report.positions_inserted,
                  report.positions_updated)
    print(f"{name:>10}: {rows:>8,} rows in {report.seconds:6.2f}s = {result.rows_per_s:>9,} rows/s end to end; "
          f"write path {report.write_seconds:6.2f}s = {result.write_rows_per_s:>9,} rows/s "
          f"({report.positions_inserted:,} inserted, {report.positions_updated:,} updated)")
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=3000)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pd-bench-") as tmp:
        pgdata = Path(tmp) / "pgdata"
        url = start_embedded(pgdata, cleanup_mode="delete")
        try:
            settings = load_settings(database_url=url, portfolio_data_dir=Path(tmp), _env_file=None)
            app = App(settings)
            t0 = time.perf_counter()
            stored = seed_daily_runs(app, args.days)
            print(f"seeded {stored:,} snapshots ({args.days} daily runs) in {time.perf_counter() - t0:.1f}s")
            changed = App(settings, source_factory=lambda n, s: ChangedDemo())
            passes = [run_pass("unchanged", app)]
            passes.append(run_pass("updated", changed))
            with app.engine.begin() as conn:
                conn.execute(text("DELETE FROM positions"))
            passes.append(run_pass("inserted", changed))
            passes.append(run_pass("restored", app))
            copied = copy_rows(app)
            app.dispose()
            changed.dispose()
        finally:
            stop_embedded(pgdata)
    copy_rate = copied.rate(copied.into_positions_s)
    for label, seconds in (("COPY", copied.into_positions_s), ("COPY no FK", copied.without_fk_s)):
        print(f"{label:>10}: {copied.rows:>8,} rows in {seconds:6.2f}s = {copied.rate(seconds):>9,} rows/s")
    slowest_write = min(p.write_rows_per_s for p in passes)
    slowest = min(p.rows_per_s for p in passes)
    ratio = slowest_write / copy_rate
    verdict = "meets" if ratio >= MIN_RATIO_TO_COPY else "MISSES"
    print(f"write path: slowest pass {slowest_write:,} rows/s = {ratio:.2f} x COPY into positions, {verdict} the "
          f"bound of {MIN_RATIO_TO_COPY} x COPY; end to end (parsing included) slowest {slowest:,} rows/s")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "machine": {"python": sys.version.split()[0], "platform": platform.platform(),
                        "processor": platform.machine(), "cpus": os.cpu_count()},
            "days": args.days, "passes": [asdict(p) for p in passes],
            "copy": {"rows": copied.rows, "into_positions_rows_per_s": copy_rate,
                     "without_fk_rows_per_s": copied.rate(copied.without_fk_s)},
            "min_ratio_to_copy": MIN_RATIO_TO_COPY, "ratio_to_copy": round(ratio, 3),
        }, indent=2))
    return 0 if ratio >= MIN_RATIO_TO_COPY else 1


if __name__ == "__main__":
    raise SystemExit(main())

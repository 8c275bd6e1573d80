"""Returns through the database (issue 18): the read model plus the arithmetic, for every account, broker, wrapper
and the total, over ten years of daily captures and over ten times that.

    uv run python -m bench.returns_db --data-dir /tmp/pd-bench                  # 10 years, 3 accounts (2.2M rows)
    uv run python -m bench.returns_db --data-dir /tmp/pd-bench100 --years 100 --positions 2   # ten times the days
    uv run python -m bench.returns_db --scale 0.05                             # a small, quick run

The history comes from ``bench/generate_history.py`` (generated when the database has no snapshots). It has no
money flows, so the first run adds synthetic ones (a deposit a month per account, a withdrawal a year); they
are not reflected in the generated values, which only matters for the figures, not for the timing. Positions
do not matter to returns (they read the daily closes), so ten times the history is ten times the days.

Measured, median of ``--runs`` (server side: this process, from opening a connection to the last figure):

* **one period**: ``prepare`` (the read model's four queries + preparing every series) and one ``report``
  (per account in GBP and in its own currency, per broker, per wrapper, total) — what the Returns page and
  ``portfolio-dashboard returns`` do per request;
* **total only**: ``prepare`` and the whole filter's figures only (the Overview's "Return (TWR)");
* **since inception**: ``prepare_period`` for ``all`` (the closes thinned in the database to those the figures
  depend on, see docs/returns.md "Since inception, thinned") and its ``report``;
* **every period**: the whole history's preparation, then all ten named periods;
* the **bound**: a plain scan fetching the same daily values (``daily_account_value``, valued days only), in
  the same run. The ratio says what reading into the domain types and the arithmetic cost beyond reading the
  numbers, whatever the machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import Engine, text

from bench.common import bench_database, libpq_url, machine, today
from bench.generate_history import Spec, add_spec_arguments, generate, spec_from_args
from portfolio_dashboard.domain.returns import PERIOD_NAMES
from portfolio_dashboard.services.returns import prepare, prepare_period
from portfolio_dashboard.storage.engine import make_engine

LONDON = ZoneInfo("Europe/London")
SCAN_SQL = """SELECT broker, broker_account_id, asof_ts, total_value_gbp, total_value_local
              FROM daily_account_value WHERE NOT carried_forward ORDER BY broker, broker_account_id, day"""


def ensure_history(url: str, spec: Spec) -> None:
    with psycopg.connect(libpq_url(url)) as conn:
        row = conn.execute("SELECT count(*) FROM snapshots").fetchone()
    if not row or not row[0]:
        print(f"generating {spec.days} days x {spec.accounts} accounts x {spec.positions} positions ...")
        generate(url, spec)


def ensure_flows(url: str) -> int:
    """Monthly deposits and a yearly withdrawal per account, between its first and last snapshot."""
    with psycopg.connect(libpq_url(url)) as conn:
        present = conn.execute("SELECT count(*) FROM cash_flows").fetchone()
        if present and present[0]:
            return int(present[0])
        spans = conn.execute("""SELECT broker, broker_account_id, min(asof_ts), max(asof_ts) FROM snapshots
                                GROUP BY broker, broker_account_id""").fetchall()
        rows: list[tuple[Any, ...]] = []
        for broker, account, first, last in spans:
            day = first.astimezone(LONDON).date().replace(day=1) + timedelta(days=32)
            day = day.replace(day=1)
            while day <= last.astimezone(LONDON).date():
                when = datetime.combine(day, clock(9, 30), tzinfo=LONDON)
                withdrawal = day.month == 12
                amount = "-2500.00" if withdrawal else "1000.00"
                rows.append((broker, account, uuid.uuid4().hex, "withdrawal" if withdrawal else "deposit", when,
                             "GBP", amount, amount))
                day = (day + timedelta(days=32)).replace(day=1)
        with conn.cursor() as cur, cur.copy(
            "COPY cash_flows (broker, broker_account_id, broker_flow_id, kind, flow_ts, currency, amount_local, "
            "amount_gbp) FROM STDIN"
        ) as copy:
            for r in rows:
                copy.write_row(r)
        conn.execute("ANALYZE cash_flows")
        conn.commit()
        return len(rows)


def median_ms(fn: Callable[[], object], runs: int, warmup: int = 2) -> tuple[float, list[float]]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), times


def measure(engine: Engine, end: date, runs: int) -> dict[str, Any]:
    def scan() -> int:
        with engine.connect() as conn:
            return len(conn.execute(text(SCAN_SQL)).all())

    def one_period() -> object:
        with engine.connect() as conn:
            return prepare_period(conn, period="ytd", today=end).report("ytd")

    def total_only() -> object:
        with engine.connect() as conn:
            return prepare_period(conn, period="ytd", today=end).total("ytd")

    def since_inception() -> object:
        with engine.connect() as conn:
            return prepare_period(conn, period="all", today=end).report("all")

    def one_period_whole() -> object:
        with engine.connect() as conn:
            return prepare(conn, today=end).report("ytd")

    def every_period() -> object:
        with engine.connect() as conn:
            prepared = prepare(conn, today=end)
            return [prepared.report(name) for name in PERIOD_NAMES]

    def read_only() -> object:
        from portfolio_dashboard.storage.reads.returns import account_histories

        with engine.connect() as conn:
            return account_histories(conn)

    rows = scan()
    results: dict[str, Any] = {"daily_values": rows}
    for name, fn in (("plain scan", scan), ("read model only", read_only), ("total only", total_only),
                     ("one period", one_period), ("one period, whole read", one_period_whole),
                     ("since inception", since_inception), ("every period", every_period)):
        ms, _ = median_ms(fn, runs)
        results[name] = round(ms, 1)
    bound = results["plain scan"]
    results["ratio total only"] = round(results["total only"] / bound, 1)
    results["ratio one period"] = round(results["one period"] / bound, 1)
    results["ratio since inception"] = round(results["since inception"] / bound, 1)
    results["ratio every period"] = round(results["every period"] / bound, 1)
    with engine.connect() as conn:
        report = prepare(conn, today=end).report("all")
        whole = prepare(conn, today=end).report("ytd")
        windowed = prepare_period(conn, period="ytd", today=end).report("ytd")
        thinned = prepare_period(conn, period="all", today=end).report("all")
    results["check"] = {"accounts": len(report.accounts), "total twr (all)": str(report.total.twr),
                        "unavailable": list(report.total.unavailable)[:2],
                        "ytd windowed == whole": windowed == whole,
                        "since inception thinned == whole": thinned == report}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_spec_arguments(parser)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    spec = spec_from_args(args)
    with bench_database(args.data_dir) as url:
        ensure_history(url, spec)
        flows = ensure_flows(url)
        engine = make_engine(url, timezone="Europe/London")
        try:
            results = measure(engine, spec.end, args.runs)
        finally:
            engine.dispose()
    results.update({"days": spec.days, "accounts": spec.accounts, "flows": flows, "machine": machine(),
                    "date": today(), "runs": args.runs})
    for key, value in results.items():
        print(f"{key:>20}: {value}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

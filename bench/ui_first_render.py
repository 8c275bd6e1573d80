"""Dashboard first render on the 10-year benchmark history (issue 8: under 2 s after the server is up).

    uv run python bench/ui_first_render.py                 # generate into a temp folder, measure, clean up
    uv run python bench/ui_first_render.py --data-dir DIR  # keep (or reuse) the generated database in DIR

1. Generates ten years of daily snapshots with COPY: 4 accounts x 150 positions x 3,653 days = 2.19M position
   rows (plus instruments, mappings, daily GBP rates, one run per day), in an embedded PostgreSQL.
2. Times the dashboard's read queries directly and checks that the Overview's plans never read ``positions``.
3. Starts the real ``portfolio-dashboard serve`` (embedded database, free port), waits for its health check
   ("the server is up"), then opens the Overview in headless Chromium and waits for the total value to show:
   that interval is the first render. A second visit shows the cached render. Repeated ``--rounds`` times with a
   fresh server each time.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.e2e.dashboard_server (shared with the browser tests)

import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402
from tests.e2e.dashboard_server import CHROMIUM, CHROMIUM_ARGS, DashboardServer  # noqa: E402

from portfolio_dashboard.bootstrap import get_app  # noqa: E402
from portfolio_dashboard.config import load_settings  # noqa: E402
from portfolio_dashboard.storage import read_audit, read_portfolio  # noqa: E402
from portfolio_dashboard.storage.embedded import stop_embedded  # noqa: E402
from portfolio_dashboard.storage.read_scope import Scope  # noqa: E402

TOTAL = '.st-key-total-value [data-testid="stMetricValue"]'
LONDON = ZoneInfo("Europe/London")
ACCOUNTS = [("ib", "U1234321", "GBP"), ("ib", "U7654321", "USD"), ("schwab", "12345678", "USD"),
            ("schwab", "87654321", "USD")]
CURRENCIES = ("GBP", "USD", "EUR")


def _copy(conn: psycopg.Connection, table: str, columns: str, rows: io.StringIO) -> None:
    rows.seek(0)
    with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        while chunk := rows.read(1 << 20):
            copy.write(chunk)


def generate(url: str, days: int, positions: int, seed: int = 8) -> int:
    """Ten years of history, written with COPY in one transaction; returns the number of position rows."""
    rng = random.Random(seed)
    end = date.today() - timedelta(days=1)
    start = end - timedelta(days=days - 1)
    with psycopg.connect(url) as conn:
        if conn.execute("SELECT count(*) FROM snapshots").fetchone()[0]:  # type: ignore[index]
            return int(conn.execute("SELECT count(*) FROM positions").fetchone()[0])  # type: ignore[index]
        for broker, account, ccy in ACCOUNTS:
            conn.execute("INSERT INTO broker_accounts (broker, broker_account_id, name, base_currency) "
                         "VALUES (%s, %s, %s, %s)", (broker, account, f"{broker.upper()} {ccy} account", ccy))
        instruments: dict[str, list[tuple[uuid.UUID, str, float, float, float]]] = {}
        inst_rows, global_rows, map_rows = io.StringIO(), io.StringIO(), io.StringIO()
        for broker, account, _ccy in ACCOUNTS:
            held = []
            for i in range(positions):
                iid, gid = uuid.uuid4(), uuid.uuid4()
                ccy = CURRENCIES[i % 3]
                symbol = f"S{i:03d}"
                asset = "cash" if i >= positions - 3 else ("etf" if i % 4 == 0 else "equity")
                inst_rows.write(f"{iid}\t{broker}\t{account}:{symbol}\t{symbol}\tInstrument {symbol}\t{asset}\t{ccy}\n")
                global_rows.write(f"{gid}\t{symbol}\tInstrument {symbol}\t{asset}\t{ccy}\n")
                map_rows.write(f"{gid}\t{iid}\tbroker\t1\n")
                held.append((iid, ccy, rng.uniform(5, 500), rng.uniform(1, 400), rng.gauss(0.0003, 0.0001)))
            instruments[account] = held
        _copy(conn, "instruments", "id, broker, broker_instrument_id, symbol, name, asset_class, currency", inst_rows)
        _copy(conn, "global_instruments", "id, symbol, name, asset_class, currency", global_rows)
        _copy(conn, "instrument_mapping", "global_instrument_id, instrument_id, mapping_source, confidence", map_rows)
        runs, fx, snaps = io.StringIO(), io.StringIO(), io.StringIO()
        gbp_per = {"GBP": 1.0, "USD": 0.78, "EUR": 0.86}
        count = 0
        # Positions stream straight into COPY (2M+ rows never sit in memory); their snapshots follow once the
        # totals are known, so the foreign key is checked at commit time instead of per row.
        conn.execute("SET session_replication_role = replica")
        with conn.cursor().copy("COPY positions (snapshot_id, instrument_id, quantity, price_local, market_value_local,"
                                " market_value_gbp, cost_basis, unrealized_pnl) FROM STDIN") as copy:
            for n in range(days):
                day = start + timedelta(days=n)
                asof = datetime.combine(day, dtime(16, 35), LONDON).astimezone(UTC)
                run_id = uuid.uuid4()
                runs.write(f"{run_id}\tscheduled\t{asof.isoformat()}\t{(asof + timedelta(seconds=4)).isoformat()}"
                           "\tsuccess\t0001\t{ib_gateway,schwab}\n")
                for ccy in ("USD", "EUR"):
                    gbp_per[ccy] *= 1 + rng.gauss(0, 0.004)
                    fx.write(f"{asof.isoformat()}\t{ccy}\tGBP\t{gbp_per[ccy]:.6f}\tecb\n")
                for broker, account, acct_ccy in ACCOUNTS:
                    snap_id = uuid.uuid4()
                    total_gbp = 0.0
                    lines = []
                    for iid, ccy, qty, price0, drift in instruments[account]:
                        price = price0 * (1 + drift) ** n
                        local = round(qty * price, 2)
                        gbp = round(local * gbp_per[ccy], 2)
                        total_gbp += gbp
                        lines.append(f"{snap_id}\t{iid}\t{qty:.4f}\t{price:.4f}\t{local:.2f}\t{gbp:.2f}\t"
                                     f"{qty * price0:.2f}\t\\N\n")
                    copy.write("".join(lines))
                    count += len(lines)
                    local_total = total_gbp / gbp_per[acct_ccy]
                    snaps.write(f"{snap_id}\t{run_id}\t{broker}\t{account}\t{asof.isoformat()}\t"
                                f"{broker}:{account}:{asof.isoformat()}\t{local_total:.2f}\t{total_gbp:.2f}\t"
                                f"{acct_ccy}\tbench\tbench\t1\n")
        conn.execute("SET session_replication_role = origin")
        _copy(conn, "snapshot_runs", "run_id, trigger_type, started_at, finished_at, status, schema_version, sources",
              runs)
        _copy(conn, "fx_rates", "asof_ts, source_ccy, target_ccy, rate, provider", fx)
        _copy(conn, "snapshots", "id, run_id, broker, broker_account_id, asof_ts, snapshot_key, total_value_local, "
                                 "total_value_gbp, account_currency, asof_source, source, parser_version", snaps)
        orphans = conn.execute("SELECT count(*) FROM positions p WHERE NOT EXISTS "
                               "(SELECT 1 FROM snapshots s WHERE s.id = p.snapshot_id)").fetchone()
        if orphans is None or orphans[0] != 0:
            raise SystemExit("generator bug: positions without a snapshot")
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE")
        return count


def time_queries(engine: object) -> dict[str, float]:
    """Milliseconds per read query (second call: plans and buffers warm, as in a running dashboard)."""
    timings: dict[str, float] = {}
    calls = {
        "overview summary": lambda c: read_portfolio.portfolio_summary(c, Scope()),
        "overview summary (USD)": lambda c: read_portfolio.portfolio_summary(c, Scope(), "USD"),
        "value over time": lambda c: read_portfolio.portfolio_series(c, Scope()),
        "value over time by account": lambda c: read_portfolio.portfolio_series(c, Scope(), by_account=True),
        "latest positions": lambda c: read_portfolio.latest_positions(c, Scope()),
        "allocation by instrument": lambda c: read_portfolio.allocation(c, Scope(), "instrument"),
        "runs": lambda c: read_audit.runs(c, Scope()),
        "filter accounts": lambda c: read_portfolio.accounts(c),
    }
    with engine.connect() as conn:  # type: ignore[attr-defined]
        for name, call in calls.items():
            call(conn)
            t0 = time.perf_counter()
            call(conn)
            timings[name] = round((time.perf_counter() - t0) * 1000, 1)
        plan = conn.execute(text("EXPLAIN (FORMAT JSON) " + read_portfolio._SUMMARY_SQL),
                            {**Scope().params(), "ccy": "GBP", "base": "GBP", "allow_demo": False}).scalar_one()
        if '"positions"' in json.dumps(plan):
            raise SystemExit("the Overview summary plan reads the positions table")
    return timings


def measure(data_dir: Path, rounds: int) -> list[tuple[float, float, float]]:
    """(seconds to server up, first render after up, cached render) per round, each with a fresh server."""
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for _ in range(rounds):
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto("about:blank")
            started = time.monotonic()
            server = DashboardServer(data_dir, owns_database=False)  # this process holds the embedded server
            server.start()
            try:
                assert server.up_at is not None
                page.goto(server.url)
                page.wait_for_selector(TOTAL, timeout=120_000)
                first = time.monotonic() - server.up_at
                t0 = time.monotonic()
                page.goto(server.url)
                page.wait_for_selector(TOTAL, timeout=120_000)
                results.append((server.up_at - started, first, time.monotonic() - t0))
            finally:
                page.close()
                server.stop()
        browser.close()
    return results


def measure_floor(rounds: int) -> list[float]:
    """First render of a one-line Streamlit page on this machine: what no dashboard can beat here."""
    import contextlib
    import os
    import signal
    import subprocess
    import urllib.request

    from playwright.sync_api import sync_playwright
    from tests.e2e.dashboard_server import free_port

    results = []
    with tempfile.TemporaryDirectory(prefix="pd-floor-") as tmp, sync_playwright() as p:
        script = Path(tmp) / "hello.py"
        script.write_text('import streamlit as st\nst.title("Hello")\n')
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for _ in range(rounds):
            port = free_port()
            proc = subprocess.Popen(
                [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
                 "--server.headless", "true", "--browser.gatherUsageStats", "false"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
            )
            try:
                while True:
                    with contextlib.suppress(OSError), urllib.request.urlopen(
                            f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                        break
                    time.sleep(0.05)
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                t0 = time.monotonic()
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_selector("h1", timeout=120_000)
                results.append(time.monotonic() - t0)
                page.close()
            finally:
                os.killpg(proc.pid, signal.SIGTERM)  # the group we started
                proc.wait(30)
        browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=3653)
    parser.add_argument("--positions", type=int, default=150, help="positions per account per day")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-dir", type=Path, help="keep the generated database here (reused when present)")
    args = parser.parse_args()
    tmp = None
    if args.data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="pd-ui-bench-")
        args.data_dir = Path(tmp.name) / "data"
    app = get_app(load_settings(portfolio_data_dir=args.data_dir, _env_file=None))
    app.migrate()
    url = app.engine.url.render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://")
    t0 = time.perf_counter()
    rows = generate(url, args.days, args.positions)
    print(f"history: {rows:,} position rows ({time.perf_counter() - t0:.0f} s to generate or find)")
    for name, ms in time_queries(app.engine).items():
        print(f"  query {name}: {ms} ms")
    app.dispose()  # this process keeps its handle on the embedded server; each serve joins it
    results = measure(args.data_dir, args.rounds)
    for up, first, cached in results:
        print(f"  server up after {up:.1f} s; first Overview render {first:.2f} s after up; cached {cached:.2f} s")
    firsts = [r[1] for r in results]
    print(f"first render: median {statistics.median(firsts):.2f} s, worst {max(firsts):.2f} s "
          f"({len(results)} rounds; target < 2 s)")
    floor = measure_floor(args.rounds)
    print(f"floor (a one-line Streamlit page, same machine): median {statistics.median(floor):.2f} s, "
          f"worst {max(floor):.2f} s")
    with open("/proc/loadavg") if Path("/proc/loadavg").exists() else io.StringIO("n/a") as load:
        print(f"load average during the run: {load.read().split(' ')[:3]}")
    stop_embedded(app.settings.pgdata_dir)  # the server stops when no other process holds it
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()

"""Time machine and export benchmark: every page's read at past dates against the latest view, and an export
of the whole history, on the bench history (10 years x 3 accounts x ~200 positions = ~2.2M position rows).

    uv run python -m bench.asof                          # full size, temporary embedded database
    uv run python -m bench.asof --data-dir /tmp/pd-b     # keep the generated history for the next run
    uv run python -m bench.asof --scale 0.1              # a quicker, smaller run

Each read is the dashboard's own read model (``storage.reads.portfolio``), median of RUNS calls after a warm-up
call, at the latest view (asof None) and at as-of dates 1 month, 1 year, 5 years and 9 years back, with the
slowest past date over the latest view as a ratio (the Overview, Positions, Allocation, Income and Returns
pages' reads; Returns prepares every series of the filter, then any period costs microseconds).

The export writes daily values and positions for the whole history as ``portfolio-dashboard export`` does
(``services.statements.export_history``), to CSV and to Parquet, and prints wall and CPU time against the floor:
the database's own time to run both queries to the end (``SELECT count(*)`` over each). Exits non-zero when a
format's export takes longer than ``--budget-s`` (default 10, issue 20's budget).

    uv run python -m bench.asof --data-dir /tmp/pd-b --exports-only    # just the exports
    uv run python -m bench.asof --data-dir /tmp/pd-b --row-path        # also the row-by-row path, for comparison
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, text

from bench.common import bench_database, libpq_url, machine, today
from bench.generate_history import add_spec_arguments, spec_from_args
from bench.ui_first_render import ensure_history
from portfolio_dashboard.services.returns import prepare
from portfolio_dashboard.services.statements.export_history import export_history
from portfolio_dashboard.services.statements.exports import ExportFormat, write_export
from portfolio_dashboard.storage.engine import make_engine
from portfolio_dashboard.storage.reads import flows as rf
from portfolio_dashboard.storage.reads import portfolio as rp
from portfolio_dashboard.storage.reads.classes import allocation_by_class
from portfolio_dashboard.storage.reads.exports import EXPORT_SQL, INCOME_KINDS, export_rows
from portfolio_dashboard.storage.reads.scope import Scope

RUNS = 9
KINDS = ("daily-values", "positions")
PARAMS = {"start": None, "end": None, "income": list(INCOME_KINDS)}
BACK = {"latest": None, "1 month": 30, "1 year": 365, "5 years": 5 * 365, "9 years": 9 * 365}


def reads(asof: datetime | None) -> dict[str, Callable[[Connection], Any]]:
    day = asof.date() if asof else None
    return {
        "summary (Overview)": lambda c: rp.portfolio_summary(c, Scope(), asof=asof),
        "series (Overview chart)": lambda c: rp.portfolio_series(c, Scope(), asof_day=day),
        "positions": lambda c: rp.latest_positions(c, Scope(), asof=asof),
        "allocation (asset class)": lambda c: rp.allocation(c, Scope(), "asset_class", asof=asof),
        "allocation (your class)": lambda c: allocation_by_class(c, Scope(), "class", asof=asof),
        "income (Income)": lambda c: rf.income_lines(c, Scope(), end=day),
        "accruals (Income)": lambda c: rf.open_accruals(c, Scope(), asof),
        "returns (prepare)": lambda c: prepare(c, until=asof),
    }


def median_ms(conn: Connection, read: Callable[[Connection], Any]) -> float:
    read(conn)  # warm: plans and buffers, as in a running dashboard
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        read(conn)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_spec_arguments(parser)
    parser.add_argument("--exports-only", action="store_true", help="skip the page reads")
    parser.add_argument("--row-path", action="store_true", help="also time the row-by-row export path")
    parser.add_argument("--budget-s", type=float, default=10.0, help="budget per format for the exports")
    args = parser.parse_args()
    spec = spec_from_args(args)
    with bench_database(args.data_dir) as url:
        rows = ensure_history(libpq_url(url), spec)
        engine = make_engine(url, timezone="Europe/London")
        print(f"{machine()} · {today()} · {rows:,} position rows")
        with engine.connect() as conn:
            newest = conn.execute(text("SELECT max(asof_ts) FROM snapshots")).scalar_one()
            print(f"{'read':28}" + "".join(f"{k:>11}" for k in BACK) + f"{'worst/latest':>14}")
            for name in [] if args.exports_only else reads(None):
                cells = []
                for days in BACK.values():
                    at = None if days is None else newest - timedelta(days=days)
                    cells.append(median_ms(conn, reads(at)[name]))
                # the bound: the latest view measured in the same run (a past date must cost no more)
                ratio = max(cells[1:]) / cells[0] if cells[0] else float("nan")
                print(f"{name:28}" + "".join(f"{ms:>9.1f}ms" for ms in cells) + f"{ratio:>13.2f}x")
        ok = exports(engine, args.budget_s, args.row_path)
        engine.dispose()
    print(f"finished {datetime.now(UTC):%H:%M:%S} UTC")
    return 0 if ok else 1


def server_cpu(conn: Connection) -> float:
    """CPU seconds the connection's server process has used (the embedded server runs on this machine; NaN
    for a server elsewhere)."""
    pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def exports(engine: Engine, budget_s: float, row_path: bool) -> bool:
    """Both formats of daily values + positions, against the database's own time for the two queries."""
    with engine.connect() as conn:
        wall0 = time.perf_counter()
        for kind in KINDS:
            conn.execute(text("SELECT set_config('cursor_tuple_fraction', '1', true)"))
            conn.execute(text(f"SELECT count(*) FROM ({EXPORT_SQL[kind]}) q"), PARAMS)
        floor = time.perf_counter() - wall0
    print(f"floor: both queries run to the end in the database, {floor:.2f} s")
    paths: dict[str, Callable[[Connection, str, Path, ExportFormat], int]] = {
        "export": lambda conn, kind, out, fmt: export_history(conn, kind, out, fmt=fmt).rows,
    }
    if row_path:  # the previous path: every row decoded into Python objects, then written
        paths["row by row"] = lambda conn, kind, out, fmt: write_export(
            kind, export_rows(conn, kind), out, fmt=fmt
        ).rows
    ok = True
    with tempfile.TemporaryDirectory(prefix="pd-asof-export-") as tmp:
        formats: tuple[ExportFormat, ...] = ("csv", "parquet")
        for name, path in paths.items():
            for fmt in formats:
                out = Path(tmp) / name.replace(" ", "-")
                wall0, cpu0 = time.perf_counter(), time.process_time()
                written = 0
                with engine.connect() as conn:
                    server0 = server_cpu(conn)
                    for kind in KINDS:
                        written += path(conn, kind, out, fmt)
                    server = server_cpu(conn) - server0
                wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
                size = sum(f.stat().st_size for f in out.iterdir() if f.suffix == f".{fmt}")
                verdict = "ok" if wall <= budget_s else f"OVER the {budget_s:g} s budget"
                print(f"{name} daily-values + positions, {fmt:7}: {written:,} rows in {wall:6.2f} s wall "
                      f"(ratio to floor {wall / floor:5.2f}), CPU {cpu:5.2f} s here + {server:5.2f} s in the server, "
                      f"{size / 1e6:6.1f} MB  {verdict}")
                ok = ok and (wall <= budget_s or name != "export")
    return ok


if __name__ == "__main__":
    sys.exit(main())

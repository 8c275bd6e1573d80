"""Time machine and export benchmark: every page's read at past dates against the latest view, and an export
of the whole history, on the bench history (10 years x 3 accounts x ~200 positions = ~2.2M position rows).

    uv run python -m bench.asof                          # full size, temporary embedded database
    uv run python -m bench.asof --data-dir /tmp/pd-b     # keep the generated history for the next run
    uv run python -m bench.asof --scale 0.1              # a quicker, smaller run

Each read is the dashboard's own read model (``storage.reads.portfolio``), median of RUNS calls after a warm-up
call, at the latest view (asof None) and at as-of dates 1 month, 1 year, 5 years and 9 years back, with the
slowest past date over the latest view as a ratio (the Overview, Positions, Allocation, Income and Returns
pages' reads; Returns prepares every series of the filter, then any period costs microseconds). The export
writes daily values and positions for the whole history through ``storage.reads.exports`` and the exports
writer, to CSV and to Parquet, and prints wall and CPU time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, text

from bench.common import bench_database, libpq_url, machine, today
from bench.generate_history import add_spec_arguments, spec_from_args
from bench.ui_first_render import ensure_history
from portfolio_dashboard.services.returns import prepare
from portfolio_dashboard.services.statements.exports import write_export
from portfolio_dashboard.storage.engine import make_engine
from portfolio_dashboard.storage.reads import flows as rf
from portfolio_dashboard.storage.reads import portfolio as rp
from portfolio_dashboard.storage.reads.classes import allocation_by_class
from portfolio_dashboard.storage.reads.exports import export_rows
from portfolio_dashboard.storage.reads.scope import Scope

RUNS = 9
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_spec_arguments(parser)
    args = parser.parse_args()
    spec = spec_from_args(args)
    with bench_database(args.data_dir) as url:
        rows = ensure_history(libpq_url(url), spec)
        engine = make_engine(url, timezone="Europe/London")
        print(f"{machine()} · {today()} · {rows:,} position rows")
        with engine.connect() as conn:
            newest = conn.execute(text("SELECT max(asof_ts) FROM snapshots")).scalar_one()
            print(f"{'read':28}" + "".join(f"{k:>11}" for k in BACK) + f"{'worst/latest':>14}")
            for name in reads(None):
                cells = []
                for days in BACK.values():
                    at = None if days is None else newest - timedelta(days=days)
                    cells.append(median_ms(conn, reads(at)[name]))
                # the bound: the latest view measured in the same run (a past date must cost no more)
                ratio = max(cells[1:]) / cells[0] if cells[0] else float("nan")
                print(f"{name:28}" + "".join(f"{ms:>9.1f}ms" for ms in cells) + f"{ratio:>13.2f}x")
        with tempfile.TemporaryDirectory(prefix="pd-asof-export-") as out:
            formats: tuple[Literal["csv"], Literal["parquet"]] = ("csv", "parquet")
            for fmt in formats:
                wall0, cpu0 = time.perf_counter(), time.process_time()
                written = 0
                with engine.connect() as conn:
                    for kind in ("daily-values", "positions"):
                        written += write_export(kind, export_rows(conn, kind), Path(out), fmt=fmt).rows
                wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
                print(f"export daily-values + positions, {fmt}: {written:,} rows in {wall:.2f} s wall, "
                      f"{cpu:.2f} s CPU (this process; the database's own time is in the wall time)")
        engine.dispose()
    print(f"finished {datetime.now(UTC):%H:%M:%S} UTC")


if __name__ == "__main__":
    main()

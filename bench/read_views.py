"""Read-path benchmark: the dashboard's typical query on every view, median of 20 runs.

    uv run python -m bench.read_views                         # full size (~2.2M positions), temp database
    uv run python -m bench.read_views --data-dir /tmp/pd-b    # keep the generated history for the next run
    uv run python -m bench.read_views --scale 0.05            # a small, quick run
    DATABASE_URL=postgresql://... uv run python -m bench.read_views   # an existing server (scratch database!)

If the database has no snapshots yet, a history is generated first (see ``bench/generate_history.py``).
Each query is also compared with a *bound* measured in the same run: the cheapest plain query that reads
the same rows (an index scan of the same positions, a scan of every snapshot's total). The ratio says how
much the view's own work costs, independently of the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import pq

from bench.common import bench_database, libpq_url, machine, today
from bench.generate_history import add_spec_arguments, generate, spec_from_args

RUNS = 20
WARMUP = 3
TARGET_MS = 20.0

Params = dict[str, Any]
Conn = psycopg.Connection[tuple[Any, ...]]


@dataclass(frozen=True)
class Case:
    name: str
    view_sql: str
    bound_name: str
    bound_sql: str


# The dashboard filters one instrument by its global identity; resolving that to the broker instruments
# (an unmapped instrument is its own identity) keeps the positions index usable.
ONE_INSTRUMENT = """SELECT * FROM positions_history
    WHERE instrument_id IN (SELECT instrument_id FROM instrument_mapping WHERE global_instrument_id = %(g)s
                            UNION ALL SELECT %(g)s)
    ORDER BY asof_ts"""

CASES = (
    Case(
        "daily_portfolio_value: full daily history",
        "SELECT * FROM daily_portfolio_value ORDER BY day",
        "scan of every snapshot's total",
        "SELECT broker, broker_account_id, asof_ts, total_value_gbp FROM snapshots",
    ),
    Case(
        "daily_account_value: full daily history, every account",
        "SELECT * FROM daily_account_value ORDER BY day",
        "scan of every snapshot's total",
        "SELECT broker, broker_account_id, asof_ts, total_value_gbp FROM snapshots",
    ),
    Case(
        "positions_history: one broker instrument (typical)",
        "SELECT * FROM positions_history WHERE instrument_id = %(iid_one)s ORDER BY asof_ts",
        "index scan of the same positions",
        "SELECT * FROM positions WHERE instrument_id = %(iid_one)s",
    ),
    Case(
        "positions_history: one global instrument (typical)",
        ONE_INSTRUMENT,
        "index scan of the same positions",
        "SELECT * FROM positions WHERE instrument_id = ANY(%(iids)s)",
    ),
    Case(
        "positions_history: one global instrument (longest)",
        ONE_INSTRUMENT.replace("%(g)s", "%(g_max)s"),
        "index scan of the same positions",
        "SELECT * FROM positions WHERE instrument_id = ANY(%(iids_max)s)",
    ),
    Case(
        "asset_allocation_by_global_instrument: latest",
        "SELECT * FROM asset_allocation_by_global_instrument ORDER BY value_gbp DESC NULLS LAST",
        "index scan of the same positions",
        "SELECT * FROM positions WHERE snapshot_id = ANY(%(latest)s)",
    ),
    Case(
        "latest_snapshot_per_broker_account",
        "SELECT * FROM latest_snapshot_per_broker_account",
        "fetch of the same snapshots by id",
        "SELECT * FROM snapshots WHERE id = ANY(%(latest)s)",
    ),
)


def connect(url: str, timezone: str) -> Conn:
    # prepare_threshold=None: every run is planned afresh, as a one-off dashboard query is.
    conn = psycopg.connect(libpq_url(url), options=f"-c portfolio.timezone={timezone}", autocommit=True,
                           prepare_threshold=None)
    return conn


def around_median(items: list[Any], n: int) -> list[Any]:
    """``n`` items (repeating if there are fewer) centred on the median of a list sorted by size."""
    lo = max(0, min(len(items) - n, len(items) // 2 - n // 2))
    window = items[lo:lo + n]
    return [window[i % len(window)] for i in range(n)]


def pick_params(conn: Conn, runs: int) -> tuple[list[Params], list[Params]]:
    """Parameter sets for the view runs and for the bound runs (warm-up runs first in each).

    Each run of an instrument query asks for ANOTHER instrument of about the median history length — as a
    user clicking through holdings does — so its rows are not all in shared buffers from the previous run;
    the bound reads other instruments of the same lengths (alternate ones), not the rows the view just
    read. The longest history is a single instrument (the worst case, warm after the first run)."""
    both = conn.execute(
        """SELECT m.global_instrument_id, array_agg(DISTINCT p.instrument_id), count(*)
           FROM positions p JOIN instrument_mapping m USING (instrument_id)
           JOIN instruments i ON i.id = p.instrument_id
           WHERE i.asset_class <> 'cash'
           GROUP BY m.global_instrument_id
           HAVING count(DISTINCT i.broker) > 1
           ORDER BY count(*), m.global_instrument_id"""
    ).fetchall()
    if not both:  # a single broker: any mapped security
        both = conn.execute(
            """SELECT m.global_instrument_id, array_agg(DISTINCT p.instrument_id), count(*)
               FROM positions p JOIN instrument_mapping m USING (instrument_id)
               GROUP BY m.global_instrument_id ORDER BY count(*), m.global_instrument_id"""
        ).fetchall()
    assert both, "no positions: generate a history first"
    singles = conn.execute(
        """SELECT p.instrument_id FROM positions p JOIN instruments i ON i.id = p.instrument_id
           WHERE i.asset_class <> 'cash' GROUP BY p.instrument_id ORDER BY count(*), p.instrument_id"""
    ).fetchall()
    latest = [r[0] for r in conn.execute("SELECT id FROM latest_snapshot_per_broker_account")]
    total = WARMUP + runs
    globals_, broker_ones = around_median(both, 2 * total), around_median(singles, 2 * total)
    sets = [
        {"g": g[0], "iids": list(g[1]), "g_max": both[-1][0], "iids_max": list(both[-1][1]),
         "iid_one": one[0], "latest": latest}
        for g, one in zip(globals_, broker_ones, strict=True)
    ]
    return sets[0::2], sets[1::2]


class Timer:
    """Times a query as the database delivers it (libpq: sent, executed, every row received, nothing
    decoded) and, separately, as Python sees it (rows decoded into Decimal/datetime/UUID objects)."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.stat = Path(f"/proc/{conn.info.backend_pid}/schedstat")  # the server backend's CPU time (Linux)

    def backend_cpu_ns(self) -> int | None:
        try:
            return int(self.stat.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def db(self, query: bytes) -> tuple[float, float | None, int]:
        cpu0 = self.backend_cpu_ns()
        start = time.perf_counter()
        result = self.conn.pgconn.exec_(query)
        wall = (time.perf_counter() - start) * 1000
        cpu1 = self.backend_cpu_ns()
        if result.status != pq.ExecStatus.TUPLES_OK:
            raise RuntimeError((result.error_message or b"").decode(errors="replace"))
        cpu = (cpu1 - cpu0) / 1e6 if cpu0 is not None and cpu1 is not None else None
        return wall, cpu, result.ntuples

    def python(self, sql: str, params: Params) -> float:
        start = time.perf_counter()
        self.conn.execute(sql, params).fetchall()  # type: ignore[arg-type]
        return (time.perf_counter() - start) * 1000


@dataclass
class Measure:
    median_ms: float
    min_ms: float
    cpu_ms: float | None
    rows: int


def measure(timer: Timer, queries: list[bytes]) -> Measure:
    """The first WARMUP queries warm up; the rest are measured."""
    for query in queries[:WARMUP]:
        timer.db(query)
    samples = [timer.db(query) for query in queries[WARMUP:]]
    cpus = [s[1] for s in samples if s[1] is not None]
    return Measure(statistics.median(s[0] for s in samples), min(s[0] for s in samples),
                   statistics.median(cpus) if cpus else None, int(statistics.median(s[2] for s in samples)))


def explain(conn: Conn, query: bytes) -> str:
    rows = conn.execute(b"EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, COSTS OFF) " + query)
    return "\n".join(r[0] for r in rows)


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def raise_priority(conn: Conn, niceness: int, out: Callable[[str], None]) -> None:
    """On a shared machine, let the benchmark's client and server backend run ahead of other work (root)."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
        os.setpriority(os.PRIO_PROCESS, conn.info.backend_pid, niceness)
    except (OSError, PermissionError) as exc:
        out(f"cannot set priority {niceness} ({exc}); measuring at normal priority")
    else:
        out(f"client and server backend at nice {niceness}")


def run(url: str, *, timezone: str, runs: int, show_plans: bool, niceness: int | None = None,
        out: Callable[[str], None] = print) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    with connect(url, timezone) as conn:
        if niceness is not None:
            raise_priority(conn, niceness, out)
        counts = conn.execute("SELECT (SELECT count(*) FROM snapshots), (SELECT count(*) FROM positions)").fetchone()
        assert counts is not None
        variants, bound_variants = pick_params(conn, runs)
        timer = Timer(conn)
        mogrify = psycopg.ClientCursor(conn).mogrify
        out(f"{counts[0]} snapshots, {counts[1]} positions; portfolio.timezone {timezone}; "
            f"median of {runs} runs; load average before: {load_average()}")
        out(f"{'query':54} {'rows':>6} {'median':>8} {'min':>7} {'cpu':>6} {'python':>7} "
            f"{'bound':>7} {'ratio':>6}  target {TARGET_MS:.0f} ms")
        for case in CASES:
            view = measure(timer, [mogrify(case.view_sql, p).encode() for p in variants])
            bound = measure(timer, [mogrify(case.bound_sql, p).encode() for p in bound_variants])
            py = statistics.median(timer.python(case.view_sql, p) for p in variants[-max(3, runs // 4):])
            ratio = view.median_ms / bound.median_ms
            cpu = f"{view.cpu_ms:6.1f}" if view.cpu_ms is not None else "     -"
            verdict = "ok" if view.median_ms < TARGET_MS else "MISSED"
            out(f"{case.name:54} {view.rows:>6} {view.median_ms:8.2f} {view.min_ms:7.2f} {cpu} {py:7.1f} "
                f"{bound.median_ms:7.2f} {ratio:6.1f}  {verdict}")
            results.append({"query": case.name, "sql": case.view_sql, "rows": view.rows,
                            "median_ms": round(view.median_ms, 2), "min_ms": round(view.min_ms, 2),
                            "backend_cpu_ms": None if view.cpu_ms is None else round(view.cpu_ms, 2),
                            "python_fetch_ms": round(py, 1), "bound": case.bound_name,
                            "bound_median_ms": round(bound.median_ms, 2), "ratio": round(ratio, 2)})
            if show_plans:
                out(explain(conn, mogrify(case.view_sql, variants[-1]).encode()))
        out(f"load average after: {load_average()}")
        out("median/min/cpu: database latency in ms (query sent, executed, all rows received; cpu = the server "
            "backend's CPU time); python: the same query fetched into Python objects; bound: the cheapest plain "
            "query reading the same rows; ratio = median / bound median")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_spec_arguments(parser)
    parser.add_argument("--runs", type=int, default=RUNS)
    parser.add_argument("--timezone", default="Europe/London", help="portfolio.timezone for the daily views")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of every view query")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--revision", default="head",
                        help="migrate the database to this schema revision first (e.g. 0001: before the view work)")
    parser.add_argument("--nice", type=int, default=None,
                        help="run client and server backend at this niceness (e.g. -10, needs root) to reduce "
                             "interference from other processes on a shared machine")
    args = parser.parse_args()
    print(f"machine: {machine()}; date {today()}")
    with bench_database(args.data_dir, timezone=args.timezone, revision=args.revision) as url:
        with connect(url, args.timezone) as conn:
            row = conn.execute("SELECT count(*) FROM snapshots").fetchone()
        if not row or not row[0]:
            spec = spec_from_args(args)
            print(f"generating {spec.days} days x {spec.accounts} accounts x {spec.positions} positions ...")
            counts = generate(url, spec, progress=False)
            print(f"generated {counts.positions} positions in {counts.seconds:.0f}s")
        results = run(url, timezone=args.timezone, runs=args.runs, show_plans=args.explain, niceness=args.nice)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": machine(), "date": today(), "nice": args.nice,
                                         "results": results}, indent=2))


if __name__ == "__main__":
    main()

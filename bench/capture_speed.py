"""End-to-end capture speed: a full capture against the fake brokers with a per-request latency, compared with
the critical path the brokers' pacing rules allow.

    uv run python -m bench.capture_speed                      # 100 ms per request, 3 timed captures
    uv run python -m bench.capture_speed --latency 0.05 --runs 5 --json bench/results/capture_speed.json

The capture: the IB Client Portal gateway with 2 accounts x 200 positions, Schwab with 2 accounts (positions
and a year of trades), IB Flex (a two-account statement), each through its real source with its real pacing
(IB 9 requests/s and one ``/portfolio/accounts`` per 5 s; Schwab ~110 requests/min; Flex one request/s and
the documented pause before ``GetStatement``), into a throw-away embedded PostgreSQL (or ``DATABASE_URL``).
Stored FX rates are seeded so no FX reference fetch happens (it is not a broker's chain).

**Critical path**: the fakes log when each request arrived and when it was answered. Per source, its
requests are replayed on an ideal client: each starts as soon as the previous one is answered *and* the
source's pacing rules allow (minimum interval between requests, per-path intervals, Flex's first wait), and
takes as long as the fake took to answer it (the injected latency included). The longest source's schedule is
the critical path: no capture of these brokers can finish sooner. Target: wall <= 1.2 x critical + 0.5 s;
and never below 0.98 x critical (a capture that beats it broke a pacing rule). The bench exits 1 when either
fails (these checks were a test in the default run once; timing belongs here).

Also reported: the database share (the union of the intervals when a transaction was open, over the wall
time), and peak memory (tracemalloc's peak of Python allocations during one extra, untimed capture, and the
process's peak RSS — which includes the in-process fake brokers).
"""

from __future__ import annotations

import argparse
import inspect
import json
import resource
import statistics
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from tests.chaos.world import World, seed_rates
from tests.fakes.ib_gateway import Account, Holding
from tests.fakes.schwab import CLIENT_ID, CLIENT_SECRET, REDIRECT_URI

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.brokers.ib_flex import IbFlexSource, PollPolicy
from portfolio_dashboard.brokers.ib_gateway import GATEWAY_RATE_PER_S, PER_PATH_INTERVAL_S, IbGatewaySource
from portfolio_dashboard.brokers.schwab import RATE_PER_S as SCHWAB_RATE
from portfolio_dashboard.brokers.schwab import SchwabSource
from portfolio_dashboard.brokers.schwab_auth import SchwabOAuth
from portfolio_dashboard.config import load_settings
from portfolio_dashboard.domain import RunResult, TriggerContext
from portfolio_dashboard.local.schwab_tokens import TokenStore
from portfolio_dashboard.services.capture import capture
from portfolio_dashboard.storage.unit_of_work import UnitOfWork

SOURCES = ("ib_gateway", "schwab", "ib_flex")
# The sources' own pacing, read from them (so the critical path follows any change to it)
FLEX_RATE: float = inspect.signature(IbFlexSource).parameters["rate_per_s"].default
FLEX_FIRST_WAIT = PollPolicy().first_wait


def big_account(account_id: str, base: str, first_conid: int, n: int = 200) -> Account:
    """An account of ``n`` stock positions in GBP, USD and EUR (two full pages and an empty one)."""
    places = [("GBP", "LSE"), ("USD", "NASDAQ"), ("EUR", "IBIS")]
    holdings = []
    for i in range(n):
        ccy, exch = places[i % 3]
        price = Decimal(20 + i % 50) + Decimal(i % 8) / 8
        holdings.append(Holding(first_conid + i, f"B{account_id[-3:]}{i:03d}", f"BENCH HOLDING {i:03d}", ccy, exch,
                                Decimal(10 + i), price, price - 1))
    cash = {"GBP": Decimal("2500.00"), "USD": Decimal("1200.50"), "EUR": Decimal("310.25")}
    return Account(account_id, base, "Bench User", None, holdings, cash)


# --- what the database was doing -------------------------------------------------------------------------------
class Transactions:
    """Records when every unit of work (a transaction) was open, across threads."""

    def __init__(self) -> None:
        self.intervals: list[tuple[float, float]] = []
        self._lock = threading.Lock()
        self._open: dict[int, float] = {}

    @contextmanager
    def installed(self) -> Iterator[None]:
        enter, leave = UnitOfWork.__enter__, UnitOfWork.__exit__
        me = self

        def timed_enter(uow: UnitOfWork) -> UnitOfWork:
            me._open[id(uow)] = time.perf_counter()
            return enter(uow)

        def timed_exit(uow: UnitOfWork, *exc: Any) -> None:
            try:
                leave(uow, *exc)
            finally:
                with me._lock:
                    me.intervals.append((me._open.pop(id(uow)), time.perf_counter()))

        UnitOfWork.__enter__ = timed_enter  # type: ignore[method-assign]
        UnitOfWork.__exit__ = timed_exit  # type: ignore[method-assign]
        try:
            yield
        finally:
            UnitOfWork.__enter__ = enter  # type: ignore[method-assign]
            UnitOfWork.__exit__ = leave  # type: ignore[method-assign]

    def busy(self, start: float, end: float) -> float:
        """Seconds within [start, end] when at least one transaction was open."""
        spans = sorted((max(a, start), min(b, end)) for a, b in self.intervals if b > start and a < end)
        total, cur_a, cur_b = 0.0, None, None
        for a, b in spans:
            if cur_b is None or a > cur_b:
                if cur_b is not None and cur_a is not None:
                    total += cur_b - cur_a
                cur_a, cur_b = a, b
            else:
                cur_b = max(cur_b, b)
        if cur_a is not None and cur_b is not None:
            total += cur_b - cur_a
        return total


# --- the critical path ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pacing:
    min_interval: float
    per_path: dict[str, float]
    wait_before: dict[str, float]  # a pause the source documents before a path (after the previous answer)


PACING = {
    "ib_gateway": Pacing(1 / GATEWAY_RATE_PER_S, dict(PER_PATH_INTERVAL_S), {}),
    "schwab": Pacing(1 / SCHWAB_RATE, {}, {}),
    "ib_flex": Pacing(1 / FLEX_RATE, {}, {"/GetStatement": FLEX_FIRST_WAIT}),
}


def ideal_schedule(requests: list[Any], pacing: Pacing) -> float:
    """When an ideal client, bound by the same pacing and answered as fast as the fake did, would finish."""
    t = 0.0
    prev_start: float | None = None
    last_path: dict[str, float] = {}
    for req in requests:
        took = (req.done or req.at) - req.at
        start = t
        if prev_start is not None:
            start = max(start, prev_start + pacing.min_interval)
        for key, interval in pacing.per_path.items():
            if key in req.path and key in last_path:
                start = max(start, last_path[key] + interval)
        for key, pause in pacing.wait_before.items():
            if req.path.endswith(key):
                start = max(start, t + pause)
        for key in pacing.per_path:
            if key in req.path:
                last_path[key] = start
        prev_start = start
        t = start + took
    return t


# --- one capture ---------------------------------------------------------------------------------------------
def build_sources(world: World) -> dict[str, Any]:
    """The real sources with their real pacing and policies (only TLS trust and the endpoints differ)."""
    gateway = IbGatewaySource(world.gateway.url, verify=world.gateway.ca_path)
    client = httpx.Client(timeout=30.0, headers={"Accept": "application/json"})
    oauth = SchwabOAuth(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uri=REDIRECT_URI,
                        base_url=world.schwab.base_url, store=TokenStore(world.token_path), client=client)
    schwab = SchwabSource(oauth=oauth, base_url=world.schwab.base_url, client=client)
    flex = IbFlexSource(world.env()["IB_FLEX_TOKEN"], world.env()["IB_FLEX_QUERY_ID"], world.flex.base_url)
    return {"ib_gateway": gateway, "schwab": schwab, "ib_flex": flex}


@dataclass
class Measured:
    wall: float
    critical: float
    critical_source: str
    per_source: dict[str, dict[str, float]]
    db_busy: float
    requests: int
    positions: int

    @property
    def ratio(self) -> float:
        return self.wall / self.critical

    @property
    def target(self) -> float:
        return 1.2 * self.critical + 0.5


def one_capture(app: App, world: World, transactions: Transactions) -> Measured:
    world.next_capture()
    marks = {n: len(s.requests) for n, s in world.servers.items()}
    sources = build_sources(world)
    t0 = time.perf_counter()
    result: RunResult = capture(TriggerContext(sources=SOURCES), app=app, sources=sources)
    wall = time.perf_counter() - t0
    bad = [f"{o.source}: {o.error_message}" for o in result.sources if o.status != "success"]
    if bad:
        raise SystemExit(f"capture failed: {bad}")
    per_source: dict[str, dict[str, float]] = {}
    requests = 0
    for name in SOURCES:
        reqs = world.servers[name].requests[marks[name]:]
        requests += len(reqs)
        outcome = next(o for o in result.sources if o.source == name)
        per_source[name] = {"requests": len(reqs), "ideal_s": ideal_schedule(reqs, PACING[name]),
                            "fetch_s": outcome.fetch_seconds, "write_s": outcome.write_seconds}
    critical_source = max(per_source, key=lambda n: per_source[n]["ideal_s"])
    busy = transactions.busy(t0, t0 + wall)
    positions = sum(o.positions_written for o in result.sources)
    return Measured(wall, per_source[critical_source]["ideal_s"], critical_source, per_source, busy, requests,
                    positions)


@contextmanager
def database() -> Iterator[str]:
    import os
    import shutil
    import tempfile

    from portfolio_dashboard.storage.embedded import start_embedded, stop_embedded

    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    parent = Path(tempfile.mkdtemp(prefix="pd-bench-"))
    try:
        yield start_embedded(parent / "pgdata", database="bench", cleanup_mode="delete")
    finally:
        stop_embedded(parent / "pgdata")
        shutil.rmtree(parent, ignore_errors=True)


def run(latency: float, runs: int) -> dict[str, Any]:
    import tempfile

    data = Path(tempfile.mkdtemp(prefix="pd-bench-data-"))
    with database() as url, World(data, tls=False) as world:
        world.gateway.accounts = {a.account_id: a for a in (big_account("U1000001", "GBP", 700_000),
                                                           big_account("U1000002", "GBP", 800_000))}
        for server in (world.gateway.server, world.schwab.server, world.flex.server):
            server.latency = latency
        app = App(load_settings(database_url=url, portfolio_data_dir=data, _env_file=None))
        app.reference_factory = lambda settings: None
        app.migrate()
        with UnitOfWork(app.engine) as uow:
            uow.repo.upsert_fx_rates(seed_rates())
            uow.commit()
        transactions = Transactions()
        with transactions.installed():
            one_capture(app, world, transactions)  # warm-up: instruments and accounts become known
            measured = [one_capture(app, world, transactions) for _ in range(runs)]
        tracemalloc.start()
        one_capture(app, world, Transactions())
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        app.dispose()
    median = sorted(measured, key=lambda m: m.wall)[len(measured) // 2]
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "latency_s": latency,
        "runs": runs,
        "walls_s": [round(m.wall, 3) for m in measured],
        "wall_s": round(median.wall, 3),
        "critical_path_s": round(median.critical, 3),
        "critical_source": median.critical_source,
        "ratio": round(median.ratio, 3),
        "target_s": round(median.target, 3),
        "target_met": all(m.wall <= m.target for m in measured),
        "pacing_respected": all(m.wall >= 0.98 * m.critical for m in measured),
        "db_share": round(median.db_busy / median.wall, 3),
        "db_busy_s": round(median.db_busy, 3),
        "requests": median.requests,
        "positions_written": median.positions,
        "per_source": {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in median.per_source.items()},
        "peak_python_alloc_mib": round(peak / 2**20, 1),
        "peak_rss_mib": round(rss_kib / 1024, 1),
        "mean_wall_s": round(statistics.mean(m.wall for m in measured), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.1, help="seconds added to every request (0.1)")
    parser.add_argument("--runs", type=int, default=3, help="timed captures after one warm-up (3)")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    res = run(args.latency, args.runs)
    print(f"latency {res['latency_s'] * 1000:.0f} ms/request; {res['requests']} requests, "
          f"{res['positions_written']} positions written per capture; median of {res['runs']} captures")
    for name, s in res["per_source"].items():
        print(f"  {name:10s} {s['requests']:3.0f} requests  critical path {s['ideal_s']:6.3f} s  "
              f"fetch {s['fetch_s']:6.3f} s  write {s['write_s']:6.3f} s")
    print(f"wall {res['wall_s']:.3f} s (all: {res['walls_s']}), critical path {res['critical_path_s']:.3f} s "
          f"({res['critical_source']}): ratio {res['ratio']:.2f}; target 1.2 x critical + 0.5 s = "
          f"{res['target_s']:.3f} s: {'met' if res['target_met'] else 'NOT met'}; "
          f"{'no capture beat' if res['pacing_respected'] else 'a capture BEAT'} the pacing rules' critical path")
    print(f"database share {res['db_share'] * 100:.1f}% ({res['db_busy_s']:.3f} s with a transaction open); "
          f"peak Python allocations {res['peak_python_alloc_mib']} MiB, peak RSS {res['peak_rss_mib']} MiB")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(res, indent=2) + "\n")
    return 0 if res["target_met"] and res["pacing_respected"] else 1


if __name__ == "__main__":
    sys.exit(main())

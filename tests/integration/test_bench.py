"""The benchmark's generated history is internally consistent, and the read benchmark runs (a tiny scale)."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from bench import read_views
from bench.generate_history import Spec, generate
from sqlalchemy import create_engine, text

SPEC = Spec(days=40, accounts=3, positions=8, seed=7)


@pytest.fixture
def history(db_url: str) -> str:
    counts = generate(db_url, SPEC, progress=False)
    assert counts.positions == counts.snapshots * SPEC.positions
    assert SPEC.days * SPEC.accounts * 0.9 < counts.snapshots <= SPEC.days * SPEC.accounts
    return db_url


def test_generated_history_is_consistent(history: str) -> None:
    engine = create_engine(history)
    with engine.connect() as conn:
        # the snapshot total is exactly the sum of its positions
        mismatched = conn.execute(text("""
            SELECT count(*) FROM snapshots s
            WHERE total_value_gbp <> (SELECT sum(market_value_gbp) FROM positions p WHERE p.snapshot_id = s.id)
        """)).scalar()
        assert mismatched == 0
        # every non-GBP value went through a stored rate of that day
        off = conn.execute(text("""
            SELECT count(*) FROM positions p JOIN instruments i ON i.id = p.instrument_id
            LEFT JOIN fx_rates f ON f.id = p.fx_rate_id
            WHERE (i.currency = 'GBP') <> (p.fx_rate_id IS NULL)
               OR (f.id IS NOT NULL AND abs(p.market_value_gbp - p.market_value_local * f.rate) > 0.005)
        """)).scalar()
        assert off == 0
        # a run is success/partial/fail by how many accounts it captured
        runs = conn.execute(text("""
            SELECT r.status, count(s.id) FROM snapshot_runs r LEFT JOIN snapshots s USING (run_id)
            GROUP BY r.run_id, r.status
        """)).all()
        expected = {SPEC.accounts: "success", 0: "fail"}
        assert all(status == expected.get(n, "partial") for status, n in runs)
        # captured around 22:00 London time, every day
        london = ZoneInfo("Europe/London")
        times = [r[0].astimezone(london).time() for r in conn.execute(text("SELECT asof_ts FROM snapshots"))]
        assert all(time(21, 29) <= t <= time(23, 1) for t in times)
        days = conn.execute(text("SELECT count(*), sum(accounts) FROM daily_portfolio_value")).one()
        assert days[0] >= SPEC.days - 1
        assert days[1] > 0
        values = conn.execute(text("SELECT min(total_value_gbp) FROM daily_portfolio_value")).scalar()
        assert values > Decimal(0)
    engine.dispose()


def test_read_benchmark_runs_and_reports_every_view(history: str) -> None:
    lines: list[str] = []
    results = read_views.run(history, timezone="Europe/London", runs=2, show_plans=False, out=lines.append)
    assert [r["query"] for r in results] == [c.name for c in read_views.CASES]
    for r in results:
        assert r["rows"] > 0
        assert r["median_ms"] > 0
        assert r["bound_median_ms"] > 0
    assert any("median" in line for line in lines)

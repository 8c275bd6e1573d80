"""Benchmark price series: imported closes (``benchmark_prices``) or an instrument we hold, from our own
snapshots' position prices (the last snapshot of each local day that holds it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import Connection, text

from portfolio_dashboard.domain.returns import Valuation
from portfolio_dashboard.storage.reads.returns import portfolio_zone
from portfolio_dashboard.storage.reads.scope import TZ_SQL


@dataclass(frozen=True, slots=True)
class BenchmarkInfo:
    name: str
    kind: str  # "imported" or "held" (an instrument in our own snapshots)
    closes: int
    first_day: date | None
    last_day: date | None
    currency: str | None
    source: str | None


LIST_SQL = """
SELECT name, count(*) AS closes, min(day) AS first_day, max(day) AS last_day,
       (array_agg(currency ORDER BY day DESC))[1] AS currency, (array_agg(source ORDER BY day DESC))[1] AS source
FROM benchmark_prices GROUP BY name ORDER BY name
"""

# The symbols of instruments in the newest snapshot of each account: the ones worth comparing with.
HELD_SQL = """
WITH latest AS (
    SELECT s.id FROM broker_accounts a
    CROSS JOIN LATERAL (
        SELECT s.id FROM snapshots s
        WHERE s.broker = a.broker AND s.broker_account_id = a.broker_account_id
        ORDER BY s.asof_ts DESC LIMIT 1) s
)
SELECT DISTINCT i.symbol FROM latest l
JOIN positions p ON p.snapshot_id = l.id
JOIN instruments i ON i.id = p.instrument_id
WHERE i.symbol IS NOT NULL AND p.price_local IS NOT NULL AND p.price_local > 0
ORDER BY i.symbol
"""

IMPORTED_SQL = "SELECT day, close FROM benchmark_prices WHERE name = :name ORDER BY day"

# Every instrument row with that symbol (one per broker) through the covering (instrument, snapshot) index;
# the price of each local day's last snapshot holding it.
HELD_PRICES_SQL = f"""
SELECT DISTINCT ON ((s.asof_ts AT TIME ZONE {TZ_SQL})::date)
       (s.asof_ts AT TIME ZONE {TZ_SQL})::date AS day, p.price_local
FROM instruments i
JOIN positions p ON p.instrument_id = i.id
JOIN snapshots s ON s.id = p.snapshot_id
WHERE upper(i.symbol) = upper(:name) AND p.price_local IS NOT NULL AND p.price_local > 0
ORDER BY (s.asof_ts AT TIME ZONE {TZ_SQL})::date, s.asof_ts DESC
"""  # noqa: S608 - constants only


def imported_benchmarks(conn: Connection) -> list[BenchmarkInfo]:
    return [BenchmarkInfo(r.name, "imported", r.closes, r.first_day, r.last_day, r.currency, r.source)
            for r in conn.execute(text(LIST_SQL))]


def held_symbols(conn: Connection) -> list[str]:
    return [str(s) for s in conn.execute(text(HELD_SQL)).scalars()]


def benchmark_prices(conn: Connection, name: str) -> tuple[str, list[Valuation]]:
    """``(kind, closes)``: the imported series called ``name``, else the held instrument with that symbol.

    Each close is stamped at the end of its local day, so a period's start rule ("the close before the first
    day") picks the same day for the benchmark as for the accounts.
    """
    zone = portfolio_zone(conn)
    rows = conn.execute(text(IMPORTED_SQL), {"name": name}).all()
    kind = "imported"
    if not rows:
        rows = conn.execute(text(HELD_PRICES_SQL), {"name": name}).all()
        kind = "held"
    return kind, [Valuation(datetime.combine(day, time(23, 59, 59), zone), close) for day, close in rows]

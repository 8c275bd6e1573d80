"""A benchmark beside our returns: its price return over the same dates, and ours minus it (issue 18)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Connection

from portfolio_dashboard.domain.returns import benchmark_cumulative, benchmark_return
from portfolio_dashboard.storage.reads.benchmarks import benchmark_prices, held_symbols, imported_benchmarks


@dataclass(frozen=True, slots=True)
class BenchmarkComparison:
    name: str
    kind: str  # "imported" (a CSV) or "held" (an instrument from our own snapshots)
    twr: Decimal | None  # the benchmark's price return over the period; None when its prices do not cover it
    difference: Decimal | None  # ours minus the benchmark's, as a fraction
    cumulative: list[tuple[datetime, Decimal]]
    unavailable: str | None = None


def benchmark_names(conn: Connection) -> list[str]:
    """Imported benchmarks first, then the symbols we hold (usable as benchmarks from our own prices)."""
    imported = [b.name for b in imported_benchmarks(conn)]
    return imported + [s for s in held_symbols(conn) if s not in imported]


def compare_benchmark(conn: Connection, name: str, start: date, end: date, ours: Decimal | None) -> BenchmarkComparison:
    kind, prices = benchmark_prices(conn, name)
    if not prices:
        return BenchmarkComparison(name, kind, None, None, [], f"no prices stored for {name!r}")
    twr = benchmark_return(prices, start, end)
    if twr is None:
        return BenchmarkComparison(name, kind, None, None, [],
                                   f"{name}'s prices begin on {prices[0].ts.date()}, after the period starts")
    return BenchmarkComparison(name, kind, twr, ours - twr if ours is not None else None,
                               benchmark_cumulative(prices, start, end))

"""A benchmark beside our returns: its price return over the same dates, and ours minus it (issue 18)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Connection

from portfolio_dashboard.domain.returns import benchmark_cumulative, benchmark_return
from portfolio_dashboard.local.benchmark_csv import BenchmarkFileError, read_closes
from portfolio_dashboard.storage.benchmarks import upsert_benchmark_prices
from portfolio_dashboard.storage.reads.benchmarks import (
    BenchmarkInfo,
    benchmark_prices,
    held_symbols,
    imported_benchmarks,
)

__all__ = [
    "BenchmarkComparison",
    "BenchmarkFileError",
    "BenchmarkInfo",
    "ImportSummary",
    "benchmark_names",
    "compare_benchmark",
    "held_symbols",
    "import_benchmark",
    "imported_benchmarks",
]


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


@dataclass(frozen=True, slots=True)
class ImportSummary:
    name: str
    closes: int
    first_day: date
    last_day: date
    inserted: int
    updated: int

    @property
    def unchanged(self) -> int:
        return self.closes - self.inserted - self.updated


def import_benchmark(conn: Connection, name: str, path: Path, *, currency: str | None = None) -> ImportSummary:
    """Read ``path`` (raises ``BenchmarkFileError`` naming each bad line) and store its closes as ``name``."""
    label = name.strip()
    if not label:
        raise BenchmarkFileError(["the benchmark needs a name"])
    closes = read_closes(path)
    inserted, updated = upsert_benchmark_prices(conn, label, closes, currency=currency.upper() if currency else None,
                                                source=f"csv:{path.name}")
    return ImportSummary(label, len(closes), closes[0][0], closes[-1][0], inserted, updated)

"""Benchmark of the export writer: ten years of daily values and positions for three accounts (~2.2M rows).

    uv run python -m bench.exports                      # CSV and Parquet, full size
    uv run python -m bench.exports --days 365           # a quick check
    uv run python -m bench.exports --formats csv

Rows are generated in memory as the export reads them (a generator of dicts, like rows fetched from the
database), so no run holds the whole history. The floor is a bare ``csv.writer`` writing the same generated
rows (``str()`` of each value, no schema, no checks) in the same run; the ratio writer/floor is what the
writer's own work costs, independently of the machine. Exits non-zero when the full export (daily values and
positions together, per format) takes longer than ``--budget-s`` (default 10).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from portfolio_dashboard.services.statements.export_columns import EXPORT_KINDS
from portfolio_dashboard.services.statements.exports import write_export

ACCOUNTS = (("U1234567", "ib", "GBP"), ("U7654321", "ib", "GBP"), ("23456789", "schwab", "USD"))
RATES = {"GBP": Decimal(1), "USD": Decimal("0.781250000000000000"), "EUR": Decimal("0.846200000000000000")}
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"


def position_rows(days: int, per_account: int) -> Iterator[dict[str, Any]]:
    """``days`` × 3 accounts × ``per_account`` positions; each day's rows are copies of a fixed template."""
    templates = []
    for account, broker, _ in ACCOUNTS:
        for i in range(per_account):
            ccy = ("GBP", "USD", "EUR")[i % 3]
            qty = Decimal(i * 7 + 3)
            price = Decimal("12.3456") + i
            value = qty * price
            templates.append(
                {
                    "account_id": account,
                    "broker": broker,
                    "security": f"SEC{i:03d}",
                    "isin": f"GB00{i:08d}",
                    "quantity": qty,
                    "price": price,
                    "currency": ccy,
                    "value_local": value,
                    "fx_rate_gbp_per_unit": RATES[ccy],
                    "value_gbp": (value * RATES[ccy]).quantize(Decimal("0.01")),
                    "snapshot_id": f"snap-{account}",
                    "source_sha256": SHA,
                }
            )
    start = date(2016, 1, 1)
    for d in range(days):
        day = start + timedelta(days=d)
        for template in templates:
            yield {**template, "date": day}


def daily_rows(days: int) -> Iterator[dict[str, Any]]:
    start = date(2016, 1, 1)
    for d in range(days):
        for account, broker, ccy in ACCOUNTS:
            value = Decimal("250000.00") + d
            yield {
                "date": start + timedelta(days=d),
                "account_id": account,
                "broker": broker,
                "currency": ccy,
                "value_local": value,
                "fx_rate_gbp_per_unit": RATES[ccy],
                "value_gbp": value * RATES[ccy],
                "snapshot_id": f"snap-{account}-{d}",
                "source_sha256": SHA,
            }


def floor_csv(kind: str, rows: Iterator[dict[str, Any]], path: Path) -> None:
    names = [c.name for c in EXPORT_KINDS[kind]]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(tuple(row.values()) for row in rows)


CPU: list[float] = [0.0]  # process CPU time of the last timed() call: steadier than wall time on a busy machine


def timed(action: Callable[[], object]) -> float:
    began, cpu = time.perf_counter(), time.process_time()
    action()
    CPU[0] = time.process_time() - cpu
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=3653, help="days of history (default: ten years)")
    parser.add_argument("--positions", type=int, default=200, help="positions per account per day")
    parser.add_argument("--formats", default="csv,parquet")
    parser.add_argument("--budget-s", type=float, default=10.0)
    args = parser.parse_args(argv)
    total_rows = args.days * len(ACCOUNTS) * (args.positions + 1)
    print(f"{total_rows:,} rows: {args.days} days × {len(ACCOUNTS)} accounts × ({args.positions} positions + 1 total)")
    ok = True
    with tempfile.TemporaryDirectory(prefix="pd-bench-exports-") as tmp:
        out = Path(tmp)
        generate = timed(lambda: sum(1 for _ in position_rows(args.days, args.positions)))
        floor = timed(lambda: floor_csv("positions", position_rows(args.days, args.positions), out / "floor.csv"))
        floor_cpu = CPU[0]
        floor += timed(lambda: floor_csv("daily-values", daily_rows(args.days), out / "floor-daily.csv"))
        floor_cpu += CPU[0]
        print(
            f"generating the rows alone: {generate:.2f} s; csv.writer floor (incl. generation): {floor:.2f} s "
            f"(cpu {floor_cpu:.2f} s)"
        )
        for fmt in args.formats.split(","):
            spent = timed(
                lambda fmt=fmt: write_export(  # type: ignore[misc]
                    "positions", position_rows(args.days, args.positions), out / "x", fmt=fmt
                )
            )
            cpu = CPU[0]
            spent += timed(
                lambda fmt=fmt: write_export(  # type: ignore[misc]
                    "daily-values", daily_rows(args.days), out / "x", fmt=fmt
                )
            )
            cpu += CPU[0]
            size = sum(p.stat().st_size for p in (out / "x").iterdir() if p.suffix == f".{fmt}")
            verdict = "ok" if spent <= args.budget_s else f"OVER the {args.budget_s:g} s budget"
            print(
                f"{fmt:8} {spent:6.2f} s (cpu {cpu:6.2f} s)  ratio to floor {spent / floor:4.2f} "
                f"(cpu {cpu / floor_cpu:4.2f})  {size / 1e6:7.1f} MB  {verdict}"
            )
            ok = ok and spent <= args.budget_s
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of the capital gains engine: 10,000 trades over 500 securities, matched and reported.

    uv run python -m bench.cgt                  # the issue's scale, bound 1 s
    uv run python -m bench.cgt --trades 50000   # more

Pure, no database. The history is generated with a fixed seed: two brokers' taxable accounts and an ISA,
purchases and sales (never more than held, so every disposal is computed), same-day trades, repurchases
within 30 days, a split on some securities. Times ``compute`` plus a ``report_dict`` for every tax year
touched, best of ``--repeat`` runs, and prints the ratio to a floor measured in the same run on the same
machine (sorting the same events by security and date, which any engine must at least do). Exits 1 when the
best time exceeds ``--bound`` seconds.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from portfolio_dashboard.domain.cgt import (
    AccountRef,
    CgtEvent,
    Security,
    Side,
    Split,
    compute,
    report_dict,
    tax_year_of,
)

ACCOUNTS = (
    AccountRef("ib", "U1000001", "GIA"),
    AccountRef("schwab", "90000001", "GIA"),
    AccountRef("ib", "U1000002", "ISA"),
)
FIRST_DAY = date(2019, 4, 6)


def generate(trades: int, securities: int, seed: int) -> tuple[list[CgtEvent], list[Split]]:
    rng = random.Random(seed)
    names = [Security(f"gi-{n:04d}", f"SEC{n:04d}", f"GB00{n:08d}") for n in range(securities)]
    held: dict[tuple[str, str], int] = {}
    events: list[CgtEvent] = []
    splits = [Split(names[n].instrument_id, date(2022, 7, 1), Decimal(2), Decimal(1)) for n in range(0, securities, 25)]
    per_security = trades // securities
    for security in names:
        day = FIRST_DAY + timedelta(days=rng.randrange(0, 60))
        for _ in range(per_security):
            account = rng.choice(ACCOUNTS)
            key = (security.instrument_id, account.account_id)
            price = Decimal(rng.randrange(100, 20_000)) / 100
            have = held.get(key, 0)
            if have > 0 and rng.random() < 0.45:
                quantity, side = rng.randint(1, have), Side.SELL
                held[key] = have - quantity
            else:
                quantity, side = rng.randint(1, 500), Side.BUY
                held[key] = have + quantity
            events.append(
                CgtEvent(
                    security, account, side, day, Decimal(quantity), quantity * price, Decimal("4.95"),
                    f"t{len(events)}", f"h{len(events)}",
                )
            )  # fmt: skip
            day += timedelta(days=rng.choice((0, 1, 3, 10, 25, 40, 90)))
    rng.shuffle(events)  # the engine must not rely on input order
    return events, splits


def run(events: list[CgtEvent], splits: list[Split]) -> int:
    result = compute(events, splits=splits)
    years = sorted({tax_year_of(d.day) for d in result.disposals}, key=lambda year: year.start_year)
    for year in years:
        report_dict(result, year)
    return len(result.disposals)


def floor(events: list[CgtEvent]) -> None:
    sorted(events, key=lambda event: (event.security.instrument_id, event.trade_date, event.side))


def best_of(repeat: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--trades", type=int, default=10_000)
    parser.add_argument("--securities", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--bound", type=float, default=1.0, help="seconds")
    parser.add_argument("--seed", type=int, default=21)
    args = parser.parse_args(argv)
    events, splits = generate(args.trades, args.securities, args.seed)
    disposals = run(events, splits)
    elapsed = best_of(args.repeat, lambda: run(events, splits))
    floor_time = best_of(args.repeat, lambda: floor(events))
    sheltered = sum(1 for event in events if not event.account.taxable)
    print(
        f"{len(events)} trades ({sheltered} in the ISA, excluded), {args.securities} securities, {disposals} disposals"
    )
    print(
        f"compute + yearly reports: {elapsed * 1000:.1f} ms (best of {args.repeat}); bound {args.bound * 1000:.0f} ms"
    )
    print(f"floor (sorting the same events): {floor_time * 1000:.2f} ms; ratio {elapsed / floor_time:.1f}x")
    if elapsed > args.bound:
        print("FAIL: over the bound")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())

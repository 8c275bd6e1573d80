"""Returns arithmetic benchmark (issue 18): every period for three accounts and their portfolio, pure part only.

    uv run python -m bench.returns                 # ten years of daily valuations, and ten times that
    uv run python -m bench.returns --runs 5 --json /tmp/returns.json

A synthetic history: three accounts valued every day in GBP for ten years (one opens two years later than the
others), with monthly deposits, a withdrawal each year and in-kind transfers now and then. For every scope (each
account and the portfolio) and every named period the figures are computed two ways:

* **prepared** — ``ReturnSeries`` built once per scope, then ``period()`` for each period (how a read model
  should call it);
* **one-off** — ``compute_returns`` per period and scope (each call prepares the series again).

Both include ``combine_accounts`` (also timed on its own). The **bound**, measured in the same run, is a plain
scan summing the same daily values (every account's and the portfolio's ``Decimal`` values once per period), and
the ratio says what the arithmetic costs beyond reading the numbers, whatever the machine. The database read
that feeds it is not measured here (the read model comes with the storage half of the issue).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from portfolio_dashboard.domain.returns import (
    PERIOD_NAMES,
    AccountSeries,
    ExternalFlow,
    ReturnSeries,
    Valuation,
    combine_accounts,
    compute_returns,
    resolve_period,
)

CENT = Decimal("0.01")


def generate(days: int, seed: int = 18) -> tuple[dict[str, AccountSeries], date]:
    """Three accounts of ``days`` daily valuations ending today-ish, with external flows."""
    rng = random.Random(seed)
    end = date(2026, 12, 4)
    first = end - timedelta(days=days - 1)
    accounts: dict[str, AccountSeries] = {}
    for index, (key, opening, delay) in enumerate(
        (
            ("ib_flex:U1", Decimal("50000"), 0),
            ("schwab:1234", Decimal("80000"), 0),
            ("ib_flex:U2", Decimal("5000"), days // 5),
        )
    ):
        value = opening
        valuations: list[Valuation] = []
        flows: list[ExternalFlow] = []
        day = first + timedelta(days=delay)
        while day <= end:
            ts = datetime(day.year, day.month, day.day, 22, tzinfo=UTC)
            value = (value * Decimal(str(1 + rng.gauss(0.0003, 0.009)))).quantize(CENT)
            if day.day == 1 + index:  # a monthly deposit
                amount = Decimal(500 * (index + 1))
                flows.append(ExternalFlow(ts - timedelta(hours=8), amount))
                value += amount
            if day.month == 8 and day.day == 15:  # a yearly withdrawal
                amount = -(value / 10).quantize(CENT)
                flows.append(ExternalFlow(ts, amount))
                value += amount
            if rng.random() < 0.002:  # an in-kind transfer in, at market value
                amount = Decimal(rng.randint(1000, 20000))
                flows.append(ExternalFlow(ts - timedelta(hours=3), amount))
                value += amount
            valuations.append(Valuation(ts, value))
            day += timedelta(days=1)
        accounts[key] = AccountSeries(tuple(valuations), tuple(flows))
    return accounts, end


def periods(today: date, inception: date) -> list[tuple[date, date]]:
    return [resolve_period(name, today, inception) for name in PERIOD_NAMES]


def prepared(accounts: dict[str, AccountSeries], today: date, inception: date) -> int:
    combined = combine_accounts(accounts)
    scopes = [*accounts.values(), combined]
    count = 0
    for scope in scopes:
        series = ReturnSeries(scope.valuations, scope.flows, flows_known=scope.flows_known)
        for start, end in periods(today, inception):
            series.period(start, end)
            count += 1
    return count


def one_off(accounts: dict[str, AccountSeries], today: date, inception: date) -> int:
    combined = combine_accounts(accounts)
    count = 0
    for scope in [*accounts.values(), combined]:
        for start, end in periods(today, inception):
            compute_returns(scope.valuations, scope.flows, start, end)
            count += 1
    return count


def plain_scan(scopes: list[AccountSeries], today: date, inception: date) -> int:
    """The bound: read every daily value of every scope (the portfolio's already combined) once per period and
    add them up."""
    count = 0
    for scope in scopes:
        values = [valuation.value for valuation in scope.valuations]
        for _ in periods(today, inception):
            sum(values, Decimal(0))
            count += 1
    return count


def measure(run: Callable[[], int], runs: int) -> float:
    run()  # warm-up
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    results = []
    for factor in (1, 10):
        days = int(365.25 * args.years * factor)
        accounts, today = generate(days)
        inception = min(scope.valuations[0].ts.date() for scope in accounts.values())
        rows = sum(len(scope.valuations) for scope in accounts.values())
        scopes = [*accounts.values(), combine_accounts(accounts)]
        bound = measure(lambda s=scopes, t=today, i=inception: plain_scan(s, t, i), args.runs)
        combine = measure(lambda a=accounts: len(combine_accounts(a).valuations), args.runs)
        fast = measure(lambda a=accounts, t=today, i=inception: prepared(a, t, i), args.runs)
        slow = measure(lambda a=accounts, t=today, i=inception: one_off(a, t, i), args.runs)
        result = {
            "history_days": days,
            "valuations": rows,
            "flows": sum(len(scope.flows) for scope in accounts.values()),
            "scopes_x_periods": prepared(accounts, today, inception),
            "plain_scan_ms": round(bound, 2),
            "combine_accounts_ms": round(combine, 2),
            "prepared_ms": round(fast, 2),
            "prepared_ratio": round(fast / bound, 2),
            "one_off_ms": round(slow, 2),
            "one_off_ratio": round(slow / bound, 2),
        }
        results.append(result)
        print(
            f"{days:>6} days, {rows:>7} account valuations, {result['flows']:>5} flows: "
            f"plain scan {bound:7.2f} ms | combine {combine:7.2f} ms | prepared {fast:8.2f} ms (x{fast / bound:.2f}) | "
            f"one-off {slow:8.2f} ms (x{slow / bound:.2f})  [median of {args.runs}]"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

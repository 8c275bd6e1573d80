"""Generate a realistic capture history straight into PostgreSQL with COPY.

Default: 10 years of daily snapshots of 3 accounts (GBP, USD and EUR based, at two brokers) holding 200
positions each (198 securities + 2 cash lines) — about 2.2 million position rows. What makes it realistic
for the read path:

* one scheduled capture a day at about 22:00 London time (so in summer the UTC instant is 21:xx and the
  London day differs from the UTC day for late captures), with ~1% of captures missing per account
  (the daily views then forward-fill) and the day's run marked partial or failed accordingly;
* prices follow a seeded random walk; holdings turn over (a sale and a purchase on ~5% of days);
* daily ECB-style USD/GBP and EUR/GBP rates, referenced by every non-GBP position;
* both brokers hold many of the same securities (same ISIN -> one global instrument); 1 in 20 securities
  has no mapping, so the views' "unmapped counts as its own identity" path is exercised;
* ``total_value_gbp`` of a snapshot is exactly the sum of its positions' ``market_value_gbp``.

Values are computed in integer cents / ten-thousandths so they are exact decimals (never floats in the
database). Everything is deterministic for a given ``--seed``.

    uv run python -m bench.generate_history --data-dir /tmp/pd-bench          # full size (~2.2M positions)
    uv run python -m bench.generate_history --scale 0.05 --data-dir /tmp/pd-small
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from bench.common import bench_database, libpq_url
from portfolio_dashboard.storage import migrate

LONDON = ZoneInfo("Europe/London")
UNIVERSE = 600  # securities the brokers can hold (Schwab: only the USD ones)
CURRENCIES = ("USD", "USD", "USD", "USD", "USD", "GBP", "GBP", "GBP", "EUR", "EUR")  # by security index % 10
ACCOUNT_TEMPLATES = (("ib", "U{n:07d}", "GBP"), ("schwab", "{n:08d}", "USD"), ("ib", "U{n:07d}", "EUR"))
SKIP_RATE = 0.01  # captures that did not happen
TURNOVER_RATE = 0.05  # days with a sale and a purchase
BLOCK_DAYS = 60  # days written per COPY round (snapshots first: positions reference them)
START_FX = {"USD": 0.78, "EUR": 0.86}


@dataclass(frozen=True)
class Spec:
    days: int = 3650
    accounts: int = 3
    positions: int = 200
    seed: int = 42
    end: date = date(2026, 6, 30)

    @property
    def start(self) -> date:
        return self.end - timedelta(days=self.days - 1)


@dataclass
class Counts:
    snapshots: int = 0
    positions: int = 0
    runs: int = 0
    fx_rates: int = 0
    instruments: int = 0
    seconds: float = 0.0


@dataclass
class Holding:
    security: int
    quantity: int
    cost_cents: int  # total cost basis in the instrument's currency


@dataclass
class AccountSim:
    broker: str
    account_id: str
    currency: str
    holdings: list[Holding] = field(default_factory=list)
    cash: dict[str, int] = field(default_factory=dict)  # currency -> cents


def fmt_fixed(value: int, places: int) -> str:
    """An integer count of 10**-places units as an exact decimal string (``12345, 2 -> '123.45'``)."""
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 10**places)
    return f"{sign}{whole}.{frac:0{places}d}"


def ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


class History:
    """The simulated world: instruments, prices, FX, accounts. Rows come out as COPY text lines."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.rng = random.Random(spec.seed)
        nprng = np.random.default_rng(spec.seed)
        returns = nprng.normal(0.0002, 0.015, size=(spec.days, UNIVERSE))
        start = nprng.uniform(5, 400, size=UNIVERSE)
        # price in ten-thousandths of the currency unit, per day and security
        self.price4 = np.rint(start * np.exp(np.cumsum(returns, axis=0)) * 10_000).astype(np.int64)
        fx_steps = nprng.normal(0, 0.004, size=(spec.days, 2))
        walk = np.exp(np.cumsum(fx_steps, axis=0))
        self.fx = {  # per day: rate (units of GBP per unit) as a 6-decimal integer
            "USD": np.rint(START_FX["USD"] * walk[:, 0] * 1e6).astype(np.int64),
            "EUR": np.rint(START_FX["EUR"] * walk[:, 1] * 1e6).astype(np.int64),
        }
        self.fx_ids = {ccy: [uuid.uuid4() for _ in range(spec.days)] for ccy in self.fx}
        self.brokers = sorted({ACCOUNT_TEMPLATES[i % len(ACCOUNT_TEMPLATES)][0] for i in range(spec.accounts)})
        self.instrument_ids: dict[tuple[str, int], uuid.UUID] = {}  # (broker, security) ; -1.. for cash
        self.cash_ids: dict[tuple[str, str], uuid.UUID] = {}
        self.global_ids = {s: uuid.uuid4() for s in range(UNIVERSE)}
        self.global_cash = {c: uuid.uuid4() for c in ("GBP", "USD", "EUR")}
        self.accounts = [self._new_account(i) for i in range(spec.accounts)]

    # --- reference data ------------------------------------------------------------------------------------
    def pool(self, broker: str) -> list[int]:
        return [s for s in range(UNIVERSE) if broker != "schwab" or CURRENCIES[s % 10] == "USD"]

    def _new_account(self, i: int) -> AccountSim:
        broker, pattern, ccy = ACCOUNT_TEMPLATES[i % len(ACCOUNT_TEMPLATES)]
        acct = AccountSim(broker, pattern.format(n=1_000_001 + i), ccy)
        securities = self.rng.sample(self.pool(broker), self.spec.positions - 2)
        for s in securities:
            acct.holdings.append(self._buy(s, 0))
        other = "USD" if ccy == "GBP" else "GBP"
        acct.cash = {ccy: self.rng.randint(200_000, 2_000_000), other: self.rng.randint(10_000, 200_000)}
        return acct

    def _buy(self, security: int, day: int) -> Holding:
        price4 = int(self.price4[day, security])
        target_cents = self.rng.randint(100_000, 3_000_000)  # 1k..30k in the instrument's currency
        quantity = max(1, round(target_cents * 100 / price4))
        return Holding(security, quantity, quantity * price4 // 100)

    def instrument_lines(self) -> Iterator[str]:
        for broker in self.brokers:
            for s in self.pool(broker):
                iid = uuid.uuid4()
                self.instrument_ids[(broker, s)] = iid
                ccy = CURRENCIES[s % 10]
                bid = str(265_598 + s * 7) if broker == "ib" else f"{s:06d}10{s % 10}"
                yield (f"{iid}\t{broker}\t{bid}\tSEC{s:03d}\tSecurity {s} plc\t"
                       f"{'etf' if s % 4 == 0 else 'equity'}\t{ccy}\tXS{s:09d}0\t\\N\n")
            for ccy in ("GBP", "USD", "EUR"):
                iid = uuid.uuid4()
                self.cash_ids[(broker, ccy)] = iid
                yield f"{iid}\t{broker}\tCASH.{ccy}\t{ccy}\t{ccy} cash\tcash\t{ccy}\t\\N\t\\N\n"

    def global_lines(self) -> Iterator[str]:
        for s, gid in self.global_ids.items():
            if s % 20 == 19:  # unmapped: no global identity of its own
                continue
            ccy = CURRENCIES[s % 10]
            yield f"{gid}\tSecurity {s} plc\tSEC{s:03d}\t{'etf' if s % 4 == 0 else 'equity'}\t{ccy}\tXS{s:09d}0\n"
        for ccy, gid in self.global_cash.items():
            yield f"{gid}\t{ccy} cash\t{ccy}\tcash\t{ccy}\t\\N\n"

    def mapping_lines(self) -> Iterator[str]:
        for (_broker, s), iid in self.instrument_ids.items():
            if s % 20 != 19:  # 1 in 20 securities stays unmapped
                yield f"{self.global_ids[s]}\t{iid}\tbroker\t1\n"
        for (_broker, ccy), iid in self.cash_ids.items():
            yield f"{self.global_cash[ccy]}\t{iid}\tbroker\t1\n"

    def account_lines(self) -> Iterator[str]:
        for a in self.accounts:
            yield f"{a.broker}\t{a.account_id}\t{a.broker} {a.currency} account\t{a.currency}\n"

    def fx_lines(self) -> Iterator[str]:
        for d in range(self.spec.days):
            at = datetime.combine(self.spec.start + timedelta(days=d), clock(15), tzinfo=UTC)
            for ccy, rates in self.fx.items():
                yield f"{self.fx_ids[ccy][d]}\t{ts(at)}\t{ccy}\tGBP\t{fmt_fixed(int(rates[d]), 6)}\tecb\n"

    # --- the daily simulation ------------------------------------------------------------------------------
    def to_gbp(self, cents: int, ccy: str, day: int) -> int:
        return cents if ccy == "GBP" else round(cents * int(self.fx[ccy][day]) / 1_000_000)

    def turnover(self, acct: AccountSim, day: int) -> None:
        if self.rng.random() >= TURNOVER_RATE:
            return
        held = {h.security for h in acct.holdings}
        sold = acct.holdings.pop(self.rng.randrange(len(acct.holdings)))
        held.discard(sold.security)
        candidates = [s for s in self.pool(acct.broker) if s not in held and s != sold.security]
        acct.holdings.append(self._buy(self.rng.choice(candidates), day))

    def day_rows(self, day: int, run_id: uuid.UUID, acct: AccountSim) -> tuple[str, list[str]]:
        """One snapshot line and its position lines."""
        sid = uuid.uuid4()
        the_day = self.spec.start + timedelta(days=day)
        local = datetime.combine(the_day, clock(22), tzinfo=LONDON) + timedelta(minutes=self.rng.randint(-30, 60))
        asof = local.astimezone(UTC)
        lines: list[str] = []
        total_gbp = 0
        for h in acct.holdings:
            ccy = CURRENCIES[h.security % 10]
            price4 = int(self.price4[day, h.security])
            mvl = h.quantity * price4 // 100
            mvg = self.to_gbp(mvl, ccy, day)
            total_gbp += mvg
            fx_id = "\\N" if ccy == "GBP" else str(self.fx_ids[ccy][day])
            lines.append(
                f"{sid}\t{self.instrument_ids[(acct.broker, h.security)]}\t{h.quantity}\t{fmt_fixed(price4, 4)}\t"
                f"{fmt_fixed(mvl, 2)}\t{fmt_fixed(mvg, 2)}\t{fx_id}\t{fmt_fixed(h.cost_cents, 2)}\t"
                f"{fmt_fixed(mvl - h.cost_cents, 2)}\n"
            )
        for ccy, cents in acct.cash.items():
            acct.cash[ccy] = max(0, cents + self.rng.randint(-5_000, 5_000))
            mvg = self.to_gbp(acct.cash[ccy], ccy, day)
            total_gbp += mvg
            fx_id = "\\N" if ccy == "GBP" else str(self.fx_ids[ccy][day])
            amount = fmt_fixed(acct.cash[ccy], 2)
            lines.append(f"{sid}\t{self.cash_ids[(acct.broker, ccy)]}\t{amount}\t1\t{amount}\t"
                         f"{fmt_fixed(mvg, 2)}\t{fx_id}\t\\N\t\\N\n")
        if acct.currency == "GBP":
            total_local, reported = total_gbp, total_gbp
        else:
            total_local = round(total_gbp * 1_000_000 / int(self.fx[acct.currency][day]))
            reported = self.to_gbp(total_local, acct.currency, day)
        key = f"{acct.broker}|{acct.account_id}|{asof.isoformat(timespec='microseconds')}"
        snapshot = (
            f"{sid}\t{run_id}\t{acct.broker}\t{acct.account_id}\t{ts(asof)}\t{key}\t{fmt_fixed(total_local, 2)}\t"
            f"{fmt_fixed(total_gbp, 2)}\tGBP\t{acct.currency}\t{fmt_fixed(reported, 2)}\tsummary.timestamp\t"
            f"{acct.broker}\tbench-1\ttrue\t{ts(asof + timedelta(seconds=40))}\n"
        )
        return snapshot, lines


SNAPSHOT_COLUMNS = ("id, run_id, broker, broker_account_id, asof_ts, snapshot_key, total_value_local, "
                    "total_value_gbp, base_currency, account_currency, reported_total_gbp, asof_source, source, "
                    "parser_version, fx_complete, created_at")
POSITION_COLUMNS = ("snapshot_id, instrument_id, quantity, price_local, market_value_local, market_value_gbp, "
                    "fx_rate_id, cost_basis, unrealized_pnl")
RUN_COLUMNS = "run_id, trigger_type, triggered_by, started_at, finished_at, status, schema_version, error_summary"


def _copy(cur: psycopg.Cursor[tuple[object, ...]], table: str, columns: str, lines: Iterator[str] | list[str],
          batch: int = 20_000) -> int:
    count = 0
    with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:
        buf: list[str] = []
        for line in lines:
            buf.append(line)
            if len(buf) >= batch:
                cp.write("".join(buf))
                count += len(buf)
                buf.clear()
        if buf:
            cp.write("".join(buf))
            count += len(buf)
    return count


def _skip_foreign_key_triggers(cur: psycopg.Cursor[tuple[object, ...]]) -> bool:
    """As a superuser (the embedded server), skip per-row foreign-key checks during the load; every key is
    checked in bulk afterwards (``_check_foreign_keys``), so the result is as safe and ~2x faster."""
    row = cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    if not row or not row[0]:
        return False
    cur.execute("SET LOCAL session_replication_role = replica")
    return True


def _drop_secondary_indexes(cur: psycopg.Cursor[tuple[object, ...]], table: str) -> list[str]:
    """Drop the table's indexes that back no constraint; return their definitions to recreate them."""
    rows = cur.execute(
        """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
           WHERE i.indrelid = %s::regclass
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)""",
        (table,),
    ).fetchall()
    for name, _definition in rows:
        cur.execute(f"DROP INDEX {name}")
    cur.execute("SET LOCAL maintenance_work_mem = '256MB'")
    return [definition for _name, definition in rows]


FOREIGN_KEYS = """
SELECT c.conname, c.conrelid::regclass::text, c.confrelid::regclass::text,
       array_agg(a.attname::text ORDER BY k.ord), array_agg(af.attname::text ORDER BY k.ord)
FROM pg_constraint c
CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(att, fatt, ord)
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.att
JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = k.fatt
WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
GROUP BY c.oid, c.conname, c.conrelid, c.confrelid
"""


def _check_foreign_keys(cur: psycopg.Cursor[tuple[object, ...]]) -> None:
    """Every foreign key of the schema, checked in bulk (one anti-join each) after a load without triggers."""
    for name, table, target, columns, target_columns in cur.execute(FOREIGN_KEYS).fetchall():
        present = " AND ".join(f"c.{col} IS NOT NULL" for col in columns)
        match = " AND ".join(f"t.{tc} = c.{col}" for col, tc in zip(columns, target_columns, strict=True))
        orphans = cur.execute(
            f"SELECT count(*) FROM {table} c WHERE {present} AND NOT EXISTS (SELECT 1 FROM {target} t WHERE {match})"
        ).fetchone()
        if orphans and orphans[0]:
            raise RuntimeError(f"generated data breaks {name}: {orphans[0]} row(s) of {table} without a {target}")


def generate(url: str, spec: Spec, *, progress: bool = True) -> Counts:
    """Write the history into an empty, migrated database at ``url`` (SQLAlchemy or libpq form)."""
    started = time.perf_counter()
    world = History(spec)
    counts = Counts()
    schema = migrate.head_revision()
    with psycopg.connect(libpq_url(url)) as conn, conn.cursor() as cur:
        existing = cur.execute("SELECT count(*) FROM snapshots").fetchone()
        if existing and existing[0]:
            raise SystemExit(f"the database already holds {existing[0]} snapshots; use an empty database")
        unchecked = _skip_foreign_key_triggers(cur)
        deferred = _drop_secondary_indexes(cur, "positions")
        _copy(cur, "broker_accounts", "broker, broker_account_id, name, base_currency", world.account_lines())
        counts.instruments = _copy(
            cur, "instruments",
            "id, broker, broker_instrument_id, symbol, name, asset_class, currency, isin, cusip",
            world.instrument_lines(),
        )
        _copy(cur, "global_instruments", "id, name, symbol, asset_class, currency, isin", world.global_lines())
        _copy(cur, "instrument_mapping", "global_instrument_id, instrument_id, mapping_source, confidence",
              world.mapping_lines())
        counts.fx_rates = _copy(cur, "fx_rates", "id, asof_ts, source_ccy, target_ccy, rate, provider",
                                world.fx_lines())
        for block_start in range(0, spec.days, BLOCK_DAYS):
            runs: list[str] = []
            snaps: list[str] = []
            positions: list[str] = []
            for day in range(block_start, min(spec.days, block_start + BLOCK_DAYS)):
                run_id = uuid.uuid4()
                missing = []
                for acct in world.accounts:
                    world.turnover(acct, day)
                    if world.rng.random() < SKIP_RATE:
                        missing.append(f"{acct.broker}: network: connection timed out")
                        continue
                    snap, lines = world.day_rows(day, run_id, acct)
                    snaps.append(snap)
                    positions.extend(lines)
                start = datetime.combine(spec.start + timedelta(days=day), clock(22), tzinfo=LONDON) - timedelta(
                    minutes=31)
                status = "success" if not missing else ("fail" if len(missing) == len(world.accounts) else "partial")
                error = "; ".join(missing) if missing else "\\N"
                runs.append(f"{run_id}\tscheduled\ttimer\t{ts(start)}\t{ts(start + timedelta(minutes=95))}\t"
                            f"{status}\t{schema}\t{error}\n")
            counts.runs += _copy(cur, "snapshot_runs", RUN_COLUMNS, runs)
            counts.snapshots += _copy(cur, "snapshots", SNAPSHOT_COLUMNS, snaps)
            counts.positions += _copy(cur, "positions", POSITION_COLUMNS, positions)
            if progress:
                print(f"  {counts.snapshots} snapshots, {counts.positions} positions "
                      f"({time.perf_counter() - started:.0f}s)", flush=True)
        for definition in deferred:  # one sorted build instead of 2.2M random inserts
            cur.execute(definition)
        if unchecked:
            _check_foreign_keys(cur)
            # the load ran without triggers, so the daily-value cache (revision 0004) learnt nothing of it
            if cur.execute("SELECT to_regprocedure('daily_value_cache_refresh(timestamptz, text)')").fetchone() != (
                None,
            ):
                cur.execute("SELECT daily_value_cache_refresh(NULL)")
        conn.commit()
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        # What autovacuum would have done by the time anyone reads a 10-year history: statistics and the
        # visibility map (which index-only scans rely on).
        conn.execute("VACUUM (ANALYZE) snapshot_runs, broker_accounts, instruments, global_instruments, "
                     "instrument_mapping, fx_rates, snapshots, positions")
        if conn.execute("SELECT to_regclass('daily_account_value_cache')").fetchone() != (None,):
            conn.execute("VACUUM (ANALYZE) daily_account_value_cache, daily_portfolio_value_cache")
    counts.seconds = time.perf_counter() - started
    return counts


def spec_from_args(args: argparse.Namespace) -> Spec:
    return Spec(days=max(2, round(args.years * 365 * args.scale)), accounts=args.accounts,
                positions=args.positions, seed=args.seed)


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--years", type=float, default=10.0, help="years of daily snapshots (default 10)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of days (e.g. 0.05)")
    parser.add_argument("--accounts", type=int, default=3, help="accounts (default 3)")
    parser.add_argument("--positions", type=int, default=200, help="positions per snapshot (default 200)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="keep the embedded server here (default: a temporary directory, deleted)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_spec_arguments(parser)
    args = parser.parse_args()
    spec = spec_from_args(args)
    with bench_database(args.data_dir) as url:
        counts = generate(url, spec)
    print(f"generated {counts.snapshots} snapshots, {counts.positions} positions, {counts.runs} runs, "
          f"{counts.fx_rates} fx rates, {counts.instruments} instruments in {counts.seconds:.1f}s")


if __name__ == "__main__":
    main()

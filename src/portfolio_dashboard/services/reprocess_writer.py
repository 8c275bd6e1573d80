"""Writing one batch of re-parsed captures (``reprocess.py`` parses them, ``storage/bulk.py`` holds the SQL).

A batch is written in one transaction, or, when it is large and there are workers to spare, in parts written
concurrently on connections of their own. Measured (``bench/reprocess.py``), the server is CPU-bound on a
reprocess: rewriting a changed position costs a new row version and an entry in each of its two indexes, and
one connection runs on one core. So:

1. one transaction stores what the parts share: accounts, instruments and their mapping, every FX rate of the
   batch, and its trades;
2. the snapshots are split into parts of whole snapshots, each written with its positions in a transaction of
   its own, all at once. A snapshot always commits together with its positions: no commit shows half of one.

A batch whose runs no longer produce some of their snapshots (a parser change moved an as-of, so the
replacements have new keys) is written whole in one transaction instead: in parts, the removal would commit
before the replacements.

The parts cannot conflict. Each snapshot key goes to one part only: where two runs of the batch produced the
same broker state, the one a single merge would keep (the run that stored it, else the first) is the only one
passed on, so no two parts write the same snapshot or position. The rows they share (accounts, instruments,
rates) are stored by step 1 and only locked ``FOR KEY SHARE`` by the parts, a lock that does not conflict with
itself: there is nothing to deadlock on. A part that fails rolls back on its own (its snapshots keep their
previous rows, consistent); the error is raised once every part has finished.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Connection, Engine, text

from portfolio_dashboard.domain import FxRate, Instrument
from portfolio_dashboard.domain.valuation import ValuedPosition
from portfolio_dashboard.services.pipeline import Valued
from portfolio_dashboard.storage import bulk
from portfolio_dashboard.storage.exact_record import components_json, set_multipliers, set_run_coverage, store_fx_legs
from portfolio_dashboard.storage.mapping import assign_global_instruments
from portfolio_dashboard.storage.repositories import Repository, SnapshotRow, fx_key
from portfolio_dashboard.storage.unit_of_work import UnitOfWork

# A part smaller than this is not worth a connection of its own: the fixed cost of a part (a transaction, a
# dozen statements) would eat what the parallel writing saves.
MIN_PART_POSITIONS = 10_000

log = logging.getLogger(__name__)

Held = list[tuple[Instrument, ValuedPosition]]


@dataclass(slots=True)
class Batch:
    """Re-parsed captures of many runs, in run order, waiting to be written."""

    snapshots: list[tuple[SnapshotRow, Held]] = field(default_factory=list)
    accounts: list[Any] = field(default_factory=list)
    instruments: dict[tuple[str, str], Instrument] = field(default_factory=dict)
    # Every rate object met, by identity: the positions of a snapshot share their currency's rate object, so
    # this holds a few thousand rates for ~50,000 positions, each keyed (``fx_key``) once when written. The
    # dict keeps the objects alive, so an id cannot be reused by another object meanwhile.
    rates: dict[int, FxRate] = field(default_factory=dict)
    trades: list[tuple[uuid.UUID, Valued]] = field(default_factory=list)
    groups: list[tuple[uuid.UUID, str]] = field(default_factory=list)  # (run, source) pairs re-parsed
    coverage: list[tuple[uuid.UUID, str, list[dict[str, object]]]] = field(default_factory=list)
    positions: int = 0

    def add_rates(self, rates: Iterable[FxRate]) -> None:
        for rate in rates:
            self.rates[id(rate)] = rate


@dataclass(slots=True)
class Written:
    """What a batch changed (``ReprocessReport`` sums them)."""

    snapshots_inserted: int = 0
    snapshots_updated: int = 0
    snapshots_unchanged: int = 0
    snapshots_removed: int = 0
    positions_inserted: int = 0
    positions_updated: int = 0
    positions_deleted: int = 0
    positions_total: int = 0  # position rows the parsers produced (what the throughput is counted in)
    trades_inserted: int = 0
    trades_updated: int = 0
    fx_legs_inserted: int = 0
    parts: int = 0  # transactions the snapshots were written in

    def add(self, counts: bulk.BatchCounts) -> None:
        self.snapshots_inserted += counts.snapshots.inserted
        self.snapshots_updated += counts.snapshots.updated
        self.snapshots_unchanged += counts.snapshots_written - counts.snapshots.inserted - counts.snapshots.updated
        self.positions_inserted += counts.positions.inserted
        self.positions_updated += counts.positions.updated
        self.positions_deleted += counts.positions.deleted
        self.positions_total += counts.positions_total
        self.parts += 1

    def merge(self, other: Written) -> None:
        for f in fields(Written):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def default_workers() -> int:
    """Two connections where there are two cores or more (measured: a third gains nothing on two cores)."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def write(engine: Engine, batch: Batch, workers: int) -> Written:
    """Write ``batch``; with ``workers`` > 1, its snapshots in up to that many concurrent parts."""
    written = Written()
    parts = max(1, min(workers, batch.positions // MIN_PART_POSITIONS))
    with UnitOfWork(engine) as uow:
        conn = _tuned(uow.connection)
        ids = _store_references(conn, batch)
        rate_ids = _store_rates(conn, batch.rates)
        written.snapshots_removed = bulk.delete_vanished(
            conn, batch.groups, ((row.run_id, row.source, row.snapshot_key) for row, _held in batch.snapshots))
        _write_trades(conn, batch, ids, rate_ids, written)
        set_run_coverage(conn, batch.coverage)
        # A batch that removes snapshots (a parser change moved their as-of: their replacements have new keys) is
        # written whole in this transaction: in parts, the removal would commit before the replacements, and a
        # reader (or a failed part) would see those accounts without a snapshot for those runs.
        if parts == 1 or written.snapshots_removed:
            written.add(_write_snapshots(conn, batch.snapshots, ids, rate_ids))
            uow.commit()
            return written
        kept = _one_owner(conn, batch.snapshots)
        uow.commit()
    with ThreadPoolExecutor(parts, thread_name_prefix="reprocess-write") as pool:
        futures = [pool.submit(_write_part, engine, part, ids, rate_ids) for part in _split(kept, parts)]
    failures: list[BaseException] = []
    for future in futures:
        try:
            written.merge(future.result())
        except BaseException as exc:  # every part has finished; the first error is raised below
            failures.append(exc)
    if failures:
        for failure in failures:
            log.error("reprocess: a part of %d was rolled back: %s", len(futures), failure)
        log.warning("reprocess: committed before the failure (rerunning finishes the rest): %s", written)
        raise failures[0]
    return written


def _tuned(conn: Connection) -> Connection:
    # Everything written here can be derived again from the raw payloads: a crash losing the last commit loses
    # nothing that a rerun would not restore, so do not wait for the WAL flush.
    conn.execute(text("SET LOCAL synchronous_commit TO off"))
    conn.execute(text("SET LOCAL work_mem TO '64MB'"))  # the merge's joins and sorts stay in memory
    return conn


def _store_references(conn: Connection, batch: Batch) -> dict[tuple[str, str], uuid.UUID]:
    repo = Repository(conn)
    repo.upsert_accounts(batch.accounts)
    ids, mapped = repo.upsert_instruments_mapped(batch.instruments.values())
    assign_global_instruments(conn, ids, batch.instruments, mapped)
    set_multipliers(conn, ids, batch.instruments.values())
    return ids


def _one_owner(conn: Connection, snapshots: list[tuple[SnapshotRow, Held]]) -> list[tuple[SnapshotRow, Held]]:
    """The snapshots with each key kept once, where a single merge would keep it (``bulk._merge_snapshots``):
    with the run that stored it, else with its first occurrence."""
    counts = Counter(row.snapshot_key for row, _held in snapshots)
    repeated = [key for key, n in counts.items() if n > 1]
    if not repeated:
        return snapshots
    found = conn.execute(text("SELECT snapshot_key, run_id FROM snapshots WHERE snapshot_key = ANY(:keys)"),
                         {"keys": repeated})
    stored: dict[str, uuid.UUID] = {key: run for key, run in found}
    kept: list[tuple[SnapshotRow, Held]] = []
    taken: set[str] = set()
    for row, held in snapshots:
        key = row.snapshot_key
        if counts[key] > 1:
            owner = stored.get(key)
            if key in taken or (owner is not None and owner != row.run_id):
                continue
            taken.add(key)
        kept.append((row, held))
    return kept


def _split(snapshots: list[tuple[SnapshotRow, Held]], parts: int) -> list[list[tuple[SnapshotRow, Held]]]:
    """``parts`` runs of consecutive snapshots holding about the same number of positions each."""
    total = sum(len(held) for _row, held in snapshots)
    out: list[list[tuple[SnapshotRow, Held]]] = [[] for _ in range(parts)]
    done = 0
    for item in snapshots:
        out[min(parts - 1, done * parts // max(total, 1))].append(item)
        done += len(item[1])
    return [part for part in out if part]


def _write_part(engine: Engine, snapshots: list[tuple[SnapshotRow, Held]], ids: dict[tuple[str, str], uuid.UUID],
                rate_ids: dict[int, str]) -> Written:
    written = Written()
    with UnitOfWork(engine) as uow:
        written.add(_write_snapshots(_tuned(uow.connection), snapshots, ids, rate_ids))
        uow.commit()
    return written


def _store_rates(conn: Connection, rates: dict[int, FxRate]) -> dict[int, str]:
    """Store the batch's rates; return their ids as text (how they go to COPY) by the rate object's identity."""
    keys = {oid: fx_key(r) for oid, r in rates.items()}
    unique = {key: rates[oid] for oid, key in keys.items()}
    seq = {key: n for n, key in enumerate(unique)}
    ids = bulk.store_rates(conn, ((seq[key], r.asof_ts, r.source_ccy, r.target_ccy, r.provider, r.rate)
                                  for key, r in unique.items()))
    return {oid: ids[seq[key]] for oid, key in keys.items()}


def _write_snapshots(conn: Connection, snapshots: Sequence[tuple[SnapshotRow, Held]],
                     ids: dict[tuple[str, str], uuid.UUID], rate_ids: dict[int, str]) -> bulk.BatchCounts:
    # ids go to COPY as text, each converted once (psycopg adapts a UUID object in Python, a string in C)
    instrument_text = {key: str(i) for key, i in ids.items()}
    run_text = {run: str(run) for run in {r.run_id for r, _held in snapshots}}
    return bulk.write_batch(
        conn,
        snapshots=(
            (seq, run_text[r.run_id], r.broker, r.broker_account_id, r.asof_ts, r.snapshot_key, r.source,
             r.total_value_local, r.total_value_gbp, r.base_currency, r.account_currency, r.reported_total_gbp,
             r.asof_source, r.parser_version, r.fx_complete, json.dumps(list(r.warnings)) if r.warnings else "[]",
             r.reconcile_residual_gbp, r.reconcile_residual_pct, components_json(r.reconcile_components))
            for seq, (r, _held) in enumerate(snapshots)
        ),
        positions=(
            (seq, instrument_text[instrument.key], p.position.quantity, p.position.price_local,
             p.position.market_value_local, p.market_value_base,
             None if p.rate is None else rate_ids[id(p.rate)], p.position.cost_basis,
             p.position.unrealized_pnl)
            for seq, (_r, held) in enumerate(snapshots) for instrument, p in held
        ),
    )


def _write_trades(conn: Connection, batch: Batch, ids: dict[tuple[str, str], uuid.UUID], rate_ids: dict[int, str],
                  written: Written) -> None:
    """Upsert the batch's trades; their rates are among the batch's, stored by ``_store_rates``."""
    for run_id, valued in batch.trades:
        gbp = {
            (t.trade.broker, t.trade.broker_trade_id):
                (t.amount_base, uuid.UUID(rate_ids[id(t.rate)]) if t.rate is not None else None)
            for t in valued.trades
        }
        traded = bulk.upsert_trades(conn, dict.fromkeys(gbp, run_id), [t.trade for t in valued.trades], ids, gbp)
        written.trades_inserted += traded.inserted
        written.trades_updated += traded.updated
        if valued.fx_legs:  # conversions an older parser stored as trades (or not at all) are added
            by_object = {id(leg.rate): uuid.UUID(rate_ids[id(leg.rate)]) for leg in valued.fx_legs
                         if leg.rate is not None}
            written.fx_legs_inserted += store_fx_legs(conn, run_id, valued.fx_legs, by_object)[0]

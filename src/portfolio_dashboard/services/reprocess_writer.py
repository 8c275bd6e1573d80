"""Writing one batch of re-parsed captures (``reprocess.py`` parses them, ``storage/bulk.py`` holds the SQL).

A batch is written on one connection in one transaction: accounts, instruments and their mapping, the batch's
FX rates, the removal of snapshots the runs no longer produce, trades, then the snapshots with their positions.
It commits whole or not at all, so a reader never sees a run without its snapshots, and a failed batch leaves
its snapshots as they were (rerunning finishes the job: reprocessing is idempotent). Which run owns a snapshot
key that two runs produced is decided once, in SQL (``bulk.write_batch``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import Connection, Engine

from portfolio_dashboard.domain import FxRate, Instrument, RawResponse
from portfolio_dashboard.domain.valuation import ValuedPosition
from portfolio_dashboard.services.flow_values import ValuedFlows, store_flows
from portfolio_dashboard.services.pipeline import Valued
from portfolio_dashboard.storage import bulk
from portfolio_dashboard.storage.exact_record import components_json, set_multipliers, set_run_coverage
from portfolio_dashboard.storage.flows import store_fx_legs
from portfolio_dashboard.storage.fx_rate_writes import fx_key
from portfolio_dashboard.storage.mapping import assign_global_instruments
from portfolio_dashboard.storage.repositories import Repository
from portfolio_dashboard.storage.snapshot_writes import SnapshotRow
from portfolio_dashboard.storage.unit_of_work import UnitOfWork

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
    # (run, its raws, the flows re-read from them): upserted on the broker's ids, so a reprocess adds only
    # flows a parser change newly reads (and GBP values a rate now exists for)
    flows: list[tuple[uuid.UUID, Sequence[RawResponse], ValuedFlows]] = field(default_factory=list)
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
    batches: int = 0  # transactions the batches were written in
    flows_written: int = 0  # cash flows newly stored or given a GBP value
    fx_legs_inserted: int = 0

    def add(self, counts: bulk.BatchCounts) -> None:
        self.snapshots_inserted += counts.snapshots.inserted
        self.snapshots_updated += counts.snapshots.updated
        self.snapshots_unchanged += counts.snapshots_written - counts.snapshots.inserted - counts.snapshots.updated
        self.positions_inserted += counts.positions.inserted
        self.positions_updated += counts.positions.updated
        self.positions_deleted += counts.positions.deleted
        self.positions_total += counts.positions_total
        self.batches += 1

    def merge(self, other: Written) -> None:
        for f in fields(Written):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def write(engine: Engine, batch: Batch) -> Written:
    """Write ``batch`` in one transaction."""
    written = Written()
    with UnitOfWork(engine) as uow:
        conn = bulk.tuned_for_rederivable_writes(uow.connection)
        ids = _store_references(conn, batch)
        rate_ids = _store_rates(conn, batch.rates)
        written.snapshots_removed = bulk.delete_vanished(
            conn, batch.groups, ((row.run_id, row.source, row.snapshot_key) for row, _held in batch.snapshots))
        _write_trades(conn, batch, ids, rate_ids, written)
        set_run_coverage(conn, batch.coverage)
        for run_id, raws, flows in batch.flows:
            written.flows_written += store_flows(conn, run_id, raws, flows)
        written.add(_write_snapshots(conn, batch.snapshots, ids, rate_ids))
        uow.commit()
    return written


def _store_references(conn: Connection, batch: Batch) -> dict[tuple[str, str], uuid.UUID]:
    repo = Repository(conn)
    repo.upsert_accounts(batch.accounts)
    ids, mapped = repo.upsert_instruments_mapped(batch.instruments.values())
    assign_global_instruments(conn, ids, batch.instruments, mapped)
    set_multipliers(conn, ids, batch.instruments.values())
    return ids


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
             r.reconcile_residual_gbp, r.reconcile_residual_pct, components_json(r.reconcile_components),
             None if r.raw_payload_id is None else str(r.raw_payload_id))
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
        traded = bulk.upsert_trades(conn, run_id, [t.trade for t in valued.trades], ids, gbp)
        written.trades_inserted += traded.inserted
        written.trades_updated += traded.updated
        if valued.fx_legs:  # conversions an older parser stored as trades (or not at all) are added
            by_object = {id(leg.rate): uuid.UUID(rate_ids[id(leg.rate)]) for leg in valued.fx_legs
                         if leg.rate is not None}
            written.fx_legs_inserted += store_fx_legs(conn, run_id, valued.fx_legs, by_object)[0]

"""Persisting one source's capture: raw payloads, accounts, instruments, rates, snapshots, positions, trades and
currency conversions, all inside the caller's unit of work (one transaction: all or nothing).

The one write path of the online capture, the spool replay and ``demo seed``; ``reprocess`` writes the same
rows set-based (``storage/bulk.py``) from the same :func:`snapshot_row`. The counts it returns are storage's side
of the coverage account: for each table, rows stored by this write and rows already stored (an idempotent
re-capture stores nothing twice)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from portfolio_dashboard.domain import CoverageLine, FxRate, RawResponse, SourceOutcome, Trade
from portfolio_dashboard.domain.valuation import ValuedSnapshot
from portfolio_dashboard.storage.bulk import upsert_trades
from portfolio_dashboard.storage.exact_record import set_multipliers
from portfolio_dashboard.storage.flows import FxLeg, store_fx_legs
from portfolio_dashboard.storage.fx_rate_writes import fx_key
from portfolio_dashboard.storage.mapping import assign_global_instruments
from portfolio_dashboard.storage.raw_payloads import raw_payload_id
from portfolio_dashboard.storage.snapshot_writes import PositionRow, SnapshotRow
from portfolio_dashboard.storage.unit_of_work import UnitOfWork


@dataclass(slots=True)
class WriteCounts:
    raw_payloads: int = 0
    snapshots_written: int = 0
    snapshots_existing: int = 0
    positions_written: int = 0
    positions_existing: int = 0  # positions of snapshots already stored
    trades_written: int = 0
    trades_existing: int = 0
    fx_legs_written: int = 0
    fx_legs_existing: int = 0
    fx_rates: int = 0
    flows_written: int = 0
    coverage: tuple[CoverageLine, ...] = ()  # the parser's side of the coverage account

    def stored_lines(self) -> list[dict[str, object]]:
        """Storage's side of the coverage account: per table, rows stored now and rows already stored."""
        lines = [("snapshots", self.snapshots_written, self.snapshots_existing),
                 ("positions (incl. cash)", self.positions_written, self.positions_existing),
                 ("trades", self.trades_written, self.trades_existing),
                 ("fx conversion legs (cash_flows)", self.fx_legs_written, self.fx_legs_existing)]
        return [{"table": t, "stored": n, "already_stored": e} for t, n, e in lines if n or e]

    def record_on(self, outcome: SourceOutcome) -> None:
        """Copy these counts onto a run's per-source outcome."""
        outcome.raw_payloads = self.raw_payloads
        outcome.snapshots_written = self.snapshots_written
        outcome.snapshots_existing = self.snapshots_existing
        outcome.positions_written = self.positions_written
        outcome.trades_written = self.trades_written
        outcome.fx_rates_written = self.fx_rates
        outcome.flows_written = self.flows_written
        outcome.coverage = [coverage_dict(line) for line in self.coverage]
        outcome.stored = self.stored_lines()


def coverage_dict(line: CoverageLine) -> dict[str, object]:
    return {"section": line.section, "kind": line.kind, "seen": line.seen, "parsed": line.parsed,
            "skipped": line.skipped, "reasons": list(line.reasons)}


def snapshot_row(s: ValuedSnapshot, *, run_id: uuid.UUID, source: str, parser_version: str,
                 base_currency: str, raw_id: uuid.UUID | None = None) -> SnapshotRow:
    """The stored row of a valued snapshot (shared by the capture's write and reprocess).

    ``raw_id`` is the stored id of the response it was read from; by default the id the capture gives that
    response (``raw_payload_id``), which the same transaction has just stored.
    """
    snap = s.snapshot
    if raw_id is None and snap.source_raw is not None:
        raw_id = raw_payload_id(run_id, snap.source_raw)
    return SnapshotRow(
        run_id=run_id,
        broker=snap.account.broker,
        broker_account_id=snap.account.broker_account_id,
        asof_ts=snap.asof_ts,
        snapshot_key=snap.key,
        total_value_local=snap.total_value_local,
        total_value_gbp=s.total_base,
        base_currency=base_currency,
        account_currency=snap.account.base_currency,
        reported_total_gbp=s.reported_total_base,
        asof_source=snap.asof_source,
        source=source,
        parser_version=parser_version,
        fx_complete=s.fx_complete,
        warnings=s.warnings,
        reconcile_residual_gbp=s.residual_base,
        reconcile_residual_pct=None if s.residual_fraction is None else s.residual_fraction * 100,
        reconcile_components=dict(s.components_base),
        raw_payload_id=raw_id,
    )


@dataclass(frozen=True, slots=True)
class ValuedTrade:
    trade: Trade
    amount_base: Decimal | None
    rate: FxRate | None


def write_source(
    uow: UnitOfWork,
    *,
    run_id: uuid.UUID,
    source: str,
    parser_version: str,
    base_currency: str,
    raws: Sequence[RawResponse],
    snapshots: Sequence[ValuedSnapshot],
    fx_rates: Sequence[FxRate],
    trades: Sequence[ValuedTrade] = (),
    fx_legs: Sequence[FxLeg] = (),
    coverage: Sequence[CoverageLine] = (),
) -> WriteCounts:
    repo = uow.repo
    counts = WriteCounts(coverage=tuple(coverage))
    counts.raw_payloads = repo.insert_raw_payloads(run_id, raws, parser_version)
    repo.upsert_accounts([s.snapshot.account for s in snapshots])
    instruments = {p.position.instrument.key: p.position.instrument for s in snapshots for p in s.positions}
    instruments.update({t.trade.instrument.key: t.trade.instrument for t in trades})
    ids, mapped = repo.upsert_instruments_mapped(instruments.values())
    assign_global_instruments(uow.connection, ids, instruments, mapped)
    set_multipliers(uow.connection, ids, instruments.values())
    used = list(fx_rates)
    used += [p.rate for s in snapshots for p in s.positions if p.rate is not None]
    used += [s.total_rate for s in snapshots if s.total_rate is not None]
    used += [t.rate for t in trades if t.rate is not None]
    used += [leg.rate for leg in fx_legs if leg.rate is not None]
    rate_ids = repo.upsert_fx_rates(used)
    counts.fx_rates = len(rate_ids)
    for s in snapshots:
        snapshot_id = repo.insert_snapshot(snapshot_row(s, run_id=run_id, source=source,
                                                        parser_version=parser_version, base_currency=base_currency))
        if snapshot_id is None:
            counts.snapshots_existing += 1
            counts.positions_existing += len(s.positions)
            continue
        counts.snapshots_written += 1
        rows = []
        for p in s.positions:
            pos = p.position
            rows.append(PositionRow(  # positional: a named tuple builds twice as fast that way
                ids[pos.instrument.key], pos.quantity, pos.price_local, pos.market_value_local, p.market_value_base,
                None if p.rate is None else rate_ids[fx_key(p.rate)], pos.cost_basis, pos.unrealized_pnl))
        counts.positions_written += repo.insert_positions(snapshot_id, rows)
    if trades:
        gbp = {
            (t.trade.broker, t.trade.broker_trade_id):
                (t.amount_base, rate_ids[fx_key(t.rate)] if t.rate is not None else None)
            for t in trades
        }
        counts.trades_written = upsert_trades(uow.connection, run_id, [t.trade for t in trades], ids, gbp).inserted
        counts.trades_existing = len(gbp) - counts.trades_written
    if fx_legs:
        by_object = {id(leg.rate): rate_ids[fx_key(leg.rate)] for leg in fx_legs if leg.rate is not None}
        counts.fx_legs_written, counts.fx_legs_existing = store_fx_legs(uow.connection, run_id, fx_legs, by_object)
    return counts

"""Writes of snapshots and their positions: a snapshot is inserted once (conflict key ``snapshot_key``), and only
a snapshot this transaction inserted gets positions, written with COPY."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import Connection, text

from portfolio_dashboard.storage.bulk import copy_positions
from portfolio_dashboard.storage.exact_record import components_json


class PositionRow(NamedTuple):
    """A position as written, in ``positions``' column order after ``snapshot_id``. A named tuple, not a
    dataclass: a capture builds hundreds of these, and the tuple goes to COPY as it is."""

    instrument_id: uuid.UUID
    quantity: Decimal
    price_local: Decimal | None
    market_value_local: Decimal
    market_value_gbp: Decimal | None
    fx_rate_id: uuid.UUID | None
    cost_basis: Decimal | None
    unrealized_pnl: Decimal | None


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    run_id: uuid.UUID
    broker: str
    broker_account_id: str
    asof_ts: datetime
    snapshot_key: str
    total_value_local: Decimal | None
    total_value_gbp: Decimal | None
    base_currency: str
    account_currency: str | None
    reported_total_gbp: Decimal | None
    asof_source: str
    source: str
    parser_version: str
    fx_complete: bool
    warnings: Sequence[str]
    # reconciliation (positions + cash + the broker's components vs its total), see docs/record.md
    reconcile_residual_gbp: Decimal | None = None
    reconcile_residual_pct: Decimal | None = None  # percent of the broker's total
    reconcile_components: Mapping[str, Decimal] | None = None  # in GBP, e.g. {"accrued_dividends": ...}
    raw_payload_id: uuid.UUID | None = None  # the stored response its as-of and total were read from


class Snapshots:
    """The snapshot part of ``Repository``."""

    conn: Connection

    def insert_snapshot(self, row: SnapshotRow) -> uuid.UUID | None:
        """Insert a snapshot; ``None`` when its ``snapshot_key`` is already stored (idempotent retry)."""
        result = self.conn.execute(
            text(
                """INSERT INTO snapshots (run_id, broker, broker_account_id, asof_ts, snapshot_key,
                       total_value_local, total_value_gbp, base_currency, account_currency, reported_total_gbp,
                       asof_source, source, parser_version, fx_complete, warnings, reconcile_residual_gbp,
                       reconcile_residual_pct, reconcile_components, raw_payload_id)
                   VALUES (:run_id, :broker, :broker_account_id, :asof_ts, :snapshot_key, :total_value_local,
                       :total_value_gbp, :base_currency, :account_currency, :reported_total_gbp, :asof_source,
                       :source, :parser_version, :fx_complete, CAST(:warnings AS jsonb), :residual_gbp,
                       :residual_pct, CAST(:components AS jsonb), :raw_payload_id)
                   ON CONFLICT (snapshot_key) DO NOTHING
                   RETURNING id"""
            ),
            dict(
                run_id=row.run_id,
                broker=row.broker,
                broker_account_id=row.broker_account_id,
                asof_ts=row.asof_ts,
                snapshot_key=row.snapshot_key,
                total_value_local=row.total_value_local,
                total_value_gbp=row.total_value_gbp,
                base_currency=row.base_currency,
                account_currency=row.account_currency,
                reported_total_gbp=row.reported_total_gbp,
                asof_source=row.asof_source,
                source=row.source,
                parser_version=row.parser_version,
                fx_complete=row.fx_complete,
                warnings=json.dumps(list(row.warnings)),
                residual_gbp=row.reconcile_residual_gbp,
                residual_pct=row.reconcile_residual_pct,
                components=components_json(row.reconcile_components),
                raw_payload_id=row.raw_payload_id,
            ),
        ).first()
        return None if result is None else result[0]

    def insert_positions(self, snapshot_id: uuid.UUID, rows: Sequence[PositionRow]) -> int:
        """Positions of a snapshot this transaction has just inserted, written with COPY.

        Why COPY and not an upsert: ``insert_snapshot`` returned this id only because the snapshot was new
        (its ``snapshot_key`` upsert inserted it), so none of its positions can exist yet, and validation has
        already rejected two rows for one instrument. The primary key ``(snapshot_id, instrument_id)`` and the
        foreign keys still guard the table, checked by PostgreSQL for every role alike.
        """
        if not rows:
            return 0
        dbapi = self.conn.connection.driver_connection
        assert dbapi is not None
        with dbapi.cursor() as cur:
            return copy_positions(cur, ((snapshot_id, *r) for r in rows))

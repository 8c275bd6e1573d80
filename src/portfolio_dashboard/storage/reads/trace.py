"""Where a figure comes from: a stored snapshot, its run, and the raw broker responses it was read from.

A snapshot names the response its as-of and total were read from (``snapshots.raw_payload_id``, stored by
captures and ``reprocess`` since migration 0013). The run's other responses from the same broker follow, nearest
in time first: a snapshot also draws on them (a gateway's positions pages beside its summary), and a snapshot
stored before the column, whose run kept several responses, has only them (the exports then cite the nearest).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text


@dataclass(frozen=True, slots=True)
class SnapshotTrace:
    snapshot_id: uuid.UUID
    run_id: uuid.UUID
    broker: str
    broker_account_id: str
    asof_ts: datetime
    asof_source: str | None
    source: str | None
    parser_version: str | None
    total_value_local: Decimal | None
    account_currency: str | None
    total_value_gbp: Decimal | None
    reported_total_gbp: Decimal | None
    warnings: list[Any]
    positions: int
    # (id, endpoint, sha256, received_at): the snapshot's own response first, then the run's others, nearest first
    payloads: list[tuple[uuid.UUID, str, str, datetime]]
    raw_payload_id: uuid.UUID | None = None  # the response it was read from (None: stored before it was recorded)

    @property
    def source_payload(self) -> tuple[uuid.UUID, str, str, datetime] | None:
        return self.payloads[0] if self.raw_payload_id is not None and self.payloads else None


def snapshot_trace(conn: Connection, snapshot_id: uuid.UUID) -> SnapshotTrace | None:
    row = conn.execute(text(
        """SELECT s.id, s.run_id, s.broker, s.broker_account_id, s.asof_ts, s.asof_source, s.source,
                  s.parser_version, s.total_value_local, s.account_currency, s.total_value_gbp,
                  s.reported_total_gbp, s.warnings,
                  (SELECT count(*) FROM positions p WHERE p.snapshot_id = s.id)::integer, s.raw_payload_id
           FROM snapshots s WHERE s.id = :id"""), {"id": snapshot_id}).one_or_none()
    if row is None:
        return None
    payloads = conn.execute(text(
        """SELECT r.id, r.endpoint, r.content_sha256, r.received_at FROM raw_payloads r
           WHERE (r.run_id = :run AND r.broker = :broker) OR r.id = CAST(:own AS uuid)
           ORDER BY r.id IS DISTINCT FROM CAST(:own AS uuid), abs(extract(epoch FROM r.received_at - :asof)), r.id
           LIMIT 50"""),
        {"run": row[1], "broker": row[2], "asof": row[4], "own": row[14]}).all()
    own = row[14] if any(p[0] == row[14] for p in payloads) else None
    return SnapshotTrace(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], row[8], row[9], row[10],
                         row[11], list(row[12] or []), row[13], [(p[0], p[1], p[2], p[3]) for p in payloads], own)


def payload_run(conn: Connection, payload_id: uuid.UUID) -> uuid.UUID | None:
    """The run a stored raw response belongs to."""
    value = conn.execute(text("SELECT run_id FROM raw_payloads WHERE id = :id"), {"id": payload_id}).scalar()
    return value if isinstance(value, uuid.UUID) else None

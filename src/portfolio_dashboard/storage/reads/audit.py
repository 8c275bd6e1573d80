"""Read queries for the dashboard's audit pages: runs with their raw payloads and snapshots, instruments.

Runs record source names (``ib_gateway``), snapshots record brokers (``ib``): a broker filter keeps the runs
of the sources writing under that broker; an account filter keeps the runs that stored a snapshot of the
account, plus the runs of its broker's sources that stored nothing (a failure is exactly what a user
filtering "IB ISA only" needs to see).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from portfolio_dashboard.storage.reads.runs import RunRow
from portfolio_dashboard.storage.reads.scope import Scope, scope_sql


@dataclass(frozen=True, slots=True)
class RunLine(RunRow):
    """A run as the Runs page lists it: the stored run plus what it left behind."""

    snapshots: int
    raw_payloads: int

    @property
    def duration_s(self) -> float | None:
        return None if self.finished_at is None else (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True, slots=True)
class PayloadMeta:
    id: uuid.UUID
    source: str | None
    broker: str
    endpoint: str
    status_code: int | None
    content_type: str | None
    received_at: datetime
    size: int
    content_sha256: str


@dataclass(frozen=True, slots=True)
class Payload:
    meta: PayloadMeta
    json_body: Any | None  # the parsed body when it was JSON
    text_body: str | None  # the body when it was not (XML, HTML, truncated)
    headers: dict[str, str]
    parser_version: str | None


@dataclass(frozen=True, slots=True)
class RunSnapshot:
    id: uuid.UUID
    broker: str
    broker_account_id: str
    asof_ts: datetime
    asof_source: str | None
    total_value_local: Decimal | None
    account_currency: str | None
    total_value_gbp: Decimal | None
    reported_total_gbp: Decimal | None
    fx_complete: bool
    warnings: list[str]
    positions: int
    residual_gbp: Decimal | None = None  # positions + cash + the broker's accruals - the broker's total
    residual_pct: Decimal | None = None  # percent of the broker's total


_RUNS_SQL = """
SELECT r.run_id, r.trigger_type, r.triggered_by, r.started_at, r.finished_at, r.status, r.error_summary,
       r.sources, r.outcome, r.warnings,
       (SELECT count(*) FROM snapshots s WHERE s.run_id = r.run_id)::integer,
       (SELECT count(*) FROM raw_payloads p WHERE p.run_id = r.run_id)::integer
FROM snapshot_runs r
WHERE (cardinality(CAST(:sources AS text[])) = 0 OR r.sources && CAST(:sources AS text[]))
  AND (cardinality(CAST(:scope_accounts AS text[])) = 0
       OR EXISTS (SELECT 1 FROM snapshots s WHERE s.run_id = r.run_id
                    AND (s.broker || '/' || s.broker_account_id) = ANY(CAST(:scope_accounts AS text[])))
       OR NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.run_id = r.run_id))
ORDER BY r.started_at DESC
LIMIT :limit
"""


def runs(conn: Connection, scope: Scope, limit: int = 100) -> list[RunLine]:
    """Snapshot runs, newest first, with how many snapshots and raw payloads each stored."""
    params = {**scope.params(), "sources": scope.sources, "limit": limit}
    return [
        RunLine(r[0], r[1], r[2], r[3], r[4], r[5], r[6], list(r[7] or []), list(r[8] or []), list(r[9] or []),
                r[10], r[11])
        for r in conn.execute(text(_RUNS_SQL), params)
    ]


_META = """p.id, p.source, p.broker, p.endpoint, p.status_code, p.content_type, p.received_at,
           COALESCE(octet_length(p.body_text), octet_length(p.payload_json::text), 0)::integer, p.content_sha256"""


def run_payloads(conn: Connection, run_id: uuid.UUID) -> list[PayloadMeta]:
    rows = conn.execute(
        text(f"SELECT {_META} FROM raw_payloads p WHERE p.run_id = :r ORDER BY p.received_at, p.endpoint"),  # noqa: S608
        {"r": run_id},
    )
    return [PayloadMeta(*r) for r in rows]


def raw_payload(conn: Connection, payload_id: uuid.UUID) -> Payload | None:
    row = conn.execute(
        text(f"SELECT {_META}, p.payload_json, p.body_text, p.headers, p.parser_version "  # noqa: S608
             "FROM raw_payloads p WHERE p.id = :i"),
        {"i": payload_id},
    ).first()
    if row is None:
        return None
    return Payload(PayloadMeta(*row[:9]), row[9], row[10], dict(row[11] or {}), row[12])


def run_snapshots(conn: Connection, run_id: uuid.UUID, scope: Scope, limit: int = 200) -> tuple[list[RunSnapshot], int]:
    """A run's snapshots in scope (newest first, at most ``limit``) and how many there are in all."""
    where = f"s.run_id = :r AND {scope_sql('s')}"
    params = {**scope.params(), "r": run_id, "limit": limit}
    total = conn.execute(text(f"SELECT count(*) FROM snapshots s WHERE {where}"), params).scalar_one()  # noqa: S608
    rows = conn.execute(
        text(
            f"""SELECT s.id, s.broker, s.broker_account_id, s.asof_ts, s.asof_source, s.total_value_local,
                       s.account_currency, s.total_value_gbp, s.reported_total_gbp, s.fx_complete, s.warnings,
                       (SELECT count(*) FROM positions p WHERE p.snapshot_id = s.id)::integer,
                       s.reconcile_residual_gbp, s.reconcile_residual_pct
                FROM snapshots s WHERE {where}
                ORDER BY s.asof_ts DESC, s.broker, s.broker_account_id LIMIT :limit"""  # noqa: S608
        ),
        params,
    )
    return [
        RunSnapshot(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], list(r[10] or []), r[11], r[12],
                    r[13])
        for r in rows
    ], int(total)

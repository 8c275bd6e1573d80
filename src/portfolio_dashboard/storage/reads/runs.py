"""Read queries over the views, used by the CLI and the dashboard (never by the write path)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: uuid.UUID
    trigger_type: str
    triggered_by: str | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    error_summary: str | None
    sources: list[str]
    outcome: list[dict[str, Any]]
    warnings: list[str]


@dataclass(frozen=True, slots=True)
class AccountLatest:
    broker: str
    broker_account_id: str
    name: str | None
    account_currency: str | None
    asof_ts: datetime
    total_value_local: Decimal | None
    total_value_gbp: Decimal | None
    snapshot_id: uuid.UUID
    run_id: uuid.UUID
    fx_complete: bool


_RUN_COLUMNS = """run_id, trigger_type, triggered_by, started_at, finished_at, status, error_summary, sources,
                  outcome, warnings"""


def _run(row: Any) -> RunRow:
    return RunRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], list(row[7] or []),
                  list(row[8] or []), list(row[9] or []))


def last_run(conn: Connection) -> RunRow | None:
    row = conn.execute(
        text(f"SELECT {_RUN_COLUMNS} FROM snapshot_runs ORDER BY started_at DESC LIMIT 1")  # noqa: S608
    ).first()
    return None if row is None else _run(row)


def recent_runs(conn: Connection, limit: int = 50) -> list[RunRow]:
    rows = conn.execute(
        text(f"SELECT {_RUN_COLUMNS} FROM snapshot_runs ORDER BY started_at DESC LIMIT :n"),  # noqa: S608
        {"n": limit},
    )
    return [_run(r) for r in rows]


def latest_per_account(conn: Connection) -> list[AccountLatest]:
    """The newest stored snapshot of every account: a stored snapshot only exists for a successful write."""
    rows = conn.execute(
        text(
            """SELECT l.broker, l.broker_account_id, a.name, l.account_currency, l.asof_ts, l.total_value_local,
                      l.total_value_gbp, l.id, l.run_id, l.fx_complete
               FROM latest_snapshot_per_broker_account l
               LEFT JOIN broker_accounts a USING (broker, broker_account_id)
               ORDER BY l.broker, l.broker_account_id"""
        )
    )
    return [AccountLatest(*r) for r in rows]

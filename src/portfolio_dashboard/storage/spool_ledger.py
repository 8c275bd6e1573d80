"""The ``spool_entries`` ledger: which spool entries are already stored, so a replay repeated stores nothing."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text


def claim_entry(conn: Connection, entry_id: uuid.UUID, run_id: uuid.UUID, source: str, kind: str,
                spooled_at: datetime) -> bool:
    """Insert the entry's ledger row; False when it is already there (the entry was stored before)."""
    row = conn.execute(
        text(
            """INSERT INTO spool_entries (entry_id, run_id, source, kind, spooled_at)
               VALUES (:e, :r, :s, :k, :at) ON CONFLICT (entry_id) DO NOTHING RETURNING entry_id"""
        ),
        {"e": entry_id, "r": run_id, "s": source, "k": kind, "at": spooled_at},
    ).first()
    return row is not None


def record_outcome(conn: Connection, entry_id: uuid.UUID, outcome: dict[str, Any]) -> None:
    conn.execute(
        text("UPDATE spool_entries SET outcome = CAST(:o AS jsonb) WHERE entry_id = :e"),
        {"o": json.dumps(outcome, default=str), "e": entry_id},
    )


def run_ledger(conn: Connection, run_id: uuid.UUID) -> list[tuple[str, str, dict[str, Any] | None, datetime]]:
    """``(source, kind, outcome, ingested_at)`` of every stored entry of a run, in spool order."""
    rows = conn.execute(
        text("""SELECT source, kind, outcome, ingested_at FROM spool_entries WHERE run_id = :r
                ORDER BY spooled_at, entry_id"""),
        {"r": run_id},
    ).all()
    return [(r[0], r[1], r[2], r[3]) for r in rows]


def run_record(conn: Connection, run_id: uuid.UUID) -> tuple[list[dict[str, Any]] | None, datetime | None]:
    """The run's stored ``(outcome, finished_at)``."""
    row = conn.execute(
        text("SELECT outcome, finished_at FROM snapshot_runs WHERE run_id = :r"), {"r": run_id}
    ).one()
    return row[0], row[1]

"""Writes of the run record (``snapshot_runs``): a run starts ``running``, ends with its status, outcome,
warnings and coverage account, or is marked interrupted when its process died."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from portfolio_dashboard.storage.exact_record import run_coverage


class RunRecords:
    """The run-record part of ``Repository``."""

    conn: Connection

    def create_run(
        self,
        run_id: uuid.UUID,
        *,
        trigger_type: str,
        triggered_by: str | None,
        sources: Sequence[str],
        schema_version: str,
        app_version: str,
        started_at: datetime,
        hostname: str,
        pid: int,
    ) -> None:
        self.conn.execute(
            text(
                """INSERT INTO snapshot_runs (run_id, trigger_type, triggered_by, started_at, status,
                       schema_version, app_version, sources, hostname, pid)
                   VALUES (:run_id, :trigger_type, :triggered_by, :started_at, 'running',
                       :schema_version, :app_version, :sources, :hostname, :pid)
                   ON CONFLICT (run_id) DO NOTHING"""
            ),
            dict(
                run_id=run_id,
                trigger_type=trigger_type,
                triggered_by=triggered_by,
                started_at=started_at,
                schema_version=schema_version,
                app_version=app_version,
                sources=list(sources),
                hostname=hostname,
                pid=pid,
            ),
        )

    def finish_run(
        self,
        run_id: uuid.UUID,
        *,
        status: str,
        finished_at: datetime,
        error_summary: str | None,
        outcome: Any,
        warnings: Sequence[str],
    ) -> None:
        self.conn.execute(
            text(
                """UPDATE snapshot_runs SET status = :status, finished_at = :finished_at,
                       error_summary = :error_summary, outcome = CAST(:outcome AS jsonb),
                       warnings = CAST(:warnings AS jsonb), coverage = CAST(:coverage AS jsonb)
                   WHERE run_id = :run_id"""
            ),
            dict(
                run_id=run_id,
                status=status,
                finished_at=finished_at,
                error_summary=error_summary,
                outcome=json.dumps(outcome, default=str),
                warnings=json.dumps(list(warnings)),
                coverage=json.dumps(run_coverage(outcome), default=str),
            ),
        )

    def running_run_ids(self) -> list[uuid.UUID]:
        rows = self.conn.execute(text("SELECT run_id FROM snapshot_runs WHERE status = 'running'"))
        return [r[0] for r in rows]

    def mark_interrupted(self, run_id: uuid.UUID, finished_at: datetime) -> bool:
        result = self.conn.execute(
            text(
                """UPDATE snapshot_runs SET status = 'fail', finished_at = :at,
                       error_summary = COALESCE(error_summary || '; ', '') ||
                           'interrupted: the capture process ended before finishing this run'
                   WHERE run_id = :run_id AND status = 'running'"""
            ),
            {"run_id": run_id, "at": finished_at},
        )
        return bool(result.rowcount)

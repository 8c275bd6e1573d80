"""The run lifecycle, in one place: what a run records when it starts, the rule that gives a finished run its
status, the failure summary a user reads, and recording the end. Capture, the offline capture, the spool
replay and the demo seed all go through here."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from portfolio_dashboard import __version__
from portfolio_dashboard.domain import RunStatus, SourceOutcome, SourceStatus
from portfolio_dashboard.local.spool import RunMeta
from portfolio_dashboard.storage import migrate
from portfolio_dashboard.storage.unit_of_work import UnitOfWork

Outcome = SourceOutcome | Mapping[str, Any]  # a replay reads outcomes back as JSON objects


def new_run(trigger_type: str, triggered_by: str | None, sources: Iterable[str]) -> RunMeta:
    """A run starting now in this process: a fresh id, this host and pid, the code's and schema's versions."""
    return RunMeta(uuid.uuid4(), trigger_type, triggered_by, tuple(sources), datetime.now(UTC),
                   socket.gethostname(), os.getpid(), __version__, migrate.head_revision())


def record_start(uow: UnitOfWork, meta: RunMeta) -> None:
    """Insert the run as ``running`` (in the caller's unit of work)."""
    uow.repo.create_run(
        meta.run_id, trigger_type=meta.trigger_type, triggered_by=meta.triggered_by, sources=list(meta.sources),
        schema_version=meta.schema_version, app_version=meta.app_version, started_at=meta.started_at,
        hostname=meta.hostname, pid=meta.pid,
    )


def start(engine: Engine, meta: RunMeta) -> None:
    """Insert the run as ``running`` and commit, so it is visible (and reapable) while it works."""
    with UnitOfWork(engine) as uow:
        record_start(uow, meta)
        uow.commit()


def _field(outcome: Outcome, name: str) -> Any:
    return outcome.get(name) if isinstance(outcome, Mapping) else getattr(outcome, name)


def failed(outcomes: Iterable[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if _field(o, "status") != SourceStatus.SUCCESS]


def status_of(outcomes: Sequence[Outcome]) -> RunStatus:
    """``success`` when every source succeeded, ``fail`` when none did, else ``partial``."""
    bad = failed(outcomes)
    if not bad:
        return RunStatus.SUCCESS
    return RunStatus.FAIL if len(bad) == len(outcomes) else RunStatus.PARTIAL


def failure_summary(outcomes: Iterable[Outcome]) -> str | None:
    """``source: category: message`` of every source that did not succeed, joined by ``; ``; None if none."""
    return "; ".join(f"{_field(o, 'source')}: {_field(o, 'error_category')}: {_field(o, 'error_message')}"
                     for o in failed(outcomes)) or None


def record_finish(uow: UnitOfWork, run_id: uuid.UUID, *, status: str, finished_at: datetime,
                  error_summary: str | None, outcomes: list[dict[str, Any]], warnings: list[str]) -> None:
    """Record how the run ended (in the caller's unit of work)."""
    uow.repo.finish_run(run_id, status=status, finished_at=finished_at, error_summary=error_summary,
                        outcome=outcomes, warnings=warnings)

"""Snapshot runs: what triggered a capture and how each source fared."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from uuid import UUID

# every source a run can capture (the BROKERS setting and ``--source`` choose among them)
SOURCE_NAMES = ("ib_gateway", "ib_flex", "schwab", "demo")
# every broker an instrument or account can belong to (both IB sources are broker "ib")
BROKER_NAMES = ("ib", "schwab", "demo")
# how a broker instrument came to its global instrument
MAPPING_SOURCES = ("broker", "heuristic", "manual")


class RunStatus(StrEnum):
    RUNNING = "running"
    SUCCESS = "success"
    PARTIAL = "partial"
    FAIL = "fail"


class TriggerType(StrEnum):
    MANUAL = "manual"
    SCHEDULED = "scheduled"
    REPROCESS = "reprocess"
    REPLAY = "replay"


class SourceStatus(StrEnum):
    SUCCESS = "success"
    FAIL = "fail"
    SPOOLED = "spooled"


@dataclass(frozen=True, slots=True)
class TriggerContext:
    trigger_type: TriggerType = TriggerType.MANUAL
    triggered_by: str | None = None
    sources: tuple[str, ...] | None = None  # None = every configured source


@dataclass(slots=True)
class SourceOutcome:
    source: str
    status: SourceStatus
    error_category: str | None = None
    error_message: str | None = None
    accounts: list[str] = field(default_factory=list)
    snapshots_written: int = 0
    snapshots_existing: int = 0
    positions_written: int = 0
    trades_written: int = 0
    fx_rates_written: int = 0
    raw_payloads: int = 0
    retries: int = 0
    fetch_seconds: float = 0.0
    write_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    credential: str | None = None  # e.g. "Schwab login valid for 5d 3h more"


@dataclass(slots=True)
class RunResult:
    run_id: UUID
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    sources: list[SourceOutcome]
    warnings: list[str] = field(default_factory=list)
    error_summary: str | None = None


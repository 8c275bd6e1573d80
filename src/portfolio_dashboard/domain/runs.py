"""Snapshot runs: what triggered a capture and how each source fared."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
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
    IMPORT = "import"  # a statement file the user downloaded (import flex)


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
    flows_written: int = 0  # cash flows stored (or given their GBP value) by this capture
    raw_payloads: int = 0
    retries: int = 0
    fetch_seconds: float = 0.0
    write_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)
    credential: str | None = None  # e.g. "Schwab login valid for 5d 3h more"
    # The coverage account (docs/record.md): per section of the payload, rows seen / parsed / skipped with
    # reasons (``CoverageLine`` as a dict), and per stored table, rows stored vs already stored.
    coverage: list[dict[str, Any]] = field(default_factory=list)
    stored: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class RunResult:
    run_id: UUID
    status: RunStatus
    started_at: datetime
    finished_at: datetime | None
    sources: list[SourceOutcome]
    warnings: list[str] = field(default_factory=list)
    error_summary: str | None = None


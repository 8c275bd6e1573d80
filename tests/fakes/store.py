"""A hand-written, in-memory ``SourceStore`` (services/capture_source.py): the capture's rules run against it
without PostgreSQL, as in "Architecture Patterns with Python" (cosmicpython): a fake repository, not a mock.

It keeps what PostgreSQL keeps for these rules: a snapshot is stored once per idempotency key (the first
stored wins, a repeat counts as existing), raw responses are always kept, a write is all-or-nothing. It can
be told to behave as an unreachable server (``DatabaseUnavailableError``) or to reject a write (a bad
statement: ``DatabaseError``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from portfolio_dashboard.domain import FxRate, RawResponse, snapshot_key
from portfolio_dashboard.errors import DatabaseError, DatabaseUnavailableError
from portfolio_dashboard.services.pipeline import Valued
from portfolio_dashboard.storage.writer import ValuedTrade, WriteCounts


@dataclass
class FakeStore:
    unavailable: bool = False  # every call fails as if the server were gone
    values: bool = True  # stored FX rates can be read (False: validate only, as with the spool alone)
    reject_writes: bool = False  # the full write fails (a constraint, a bad statement); raws alone still go in
    snapshots: dict[str, uuid.UUID] = field(default_factory=dict)  # idempotency key -> run that stored it
    raws: list[tuple[uuid.UUID, RawResponse]] = field(default_factory=list)
    trades: list[ValuedTrade] = field(default_factory=list)
    writes: int = 0
    finished: dict[uuid.UUID, str] = field(default_factory=dict)  # run -> the status it ended with

    def write(self, *, run_id: uuid.UUID, source: str, parser_version: str, base_currency: str,
              raws: Sequence[RawResponse], fx_rates: Sequence[FxRate], valued: Valued) -> WriteCounts:
        snapshots, trades, flows = valued.snapshots, valued.trades, valued.flows
        if self.unavailable:
            raise DatabaseUnavailableError("database unreachable: connection refused")
        if self.reject_writes:
            raise DatabaseError("database write failed: a constraint rejected the rows")
        counts = WriteCounts()
        new: dict[str, uuid.UUID] = {}
        for v in snapshots:
            s = v.snapshot
            key = snapshot_key(s.account.broker, s.account.broker_account_id, s.asof_ts)
            if key in self.snapshots or key in new:
                counts.snapshots_existing += 1
            else:
                new[key] = run_id
                counts.snapshots_written += 1
                counts.positions_written += len(v.positions)
        # all or nothing, like the one transaction it stands for
        self.snapshots.update(new)
        self.raws += [(run_id, r) for r in raws]
        self.trades += list(trades)
        counts.raw_payloads = len(raws)
        counts.trades_written = len(trades)
        counts.flows_written = len(flows.flows)
        self.writes += 1
        return counts

    def keep_raws(self, run_id: uuid.UUID, raws: Sequence[RawResponse], parser_version: str) -> int:
        if self.unavailable:
            raise DatabaseUnavailableError("database unreachable: connection refused")
        self.raws += [(run_id, r) for r in raws]
        return len(raws)

    def finish_run(self, run_id: uuid.UUID, *, status: str, finished_at: datetime, error_summary: str | None,
                   outcomes: list[dict[str, Any]], warnings: list[str]) -> None:
        if self.unavailable:
            raise DatabaseUnavailableError("database unreachable: connection refused")
        self.finished[run_id] = status

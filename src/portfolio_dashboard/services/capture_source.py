"""One source of one run: fetch, parse, value, write — and when the database cannot take it, the spool.

The rules (what a failure at each step records, when responses are kept on their own, when they go to the
local spool) talk to a ``SourceStore``, the one place the database-or-spool choice is made: PostgreSQL
(``DatabaseStore``); the spool alone when the database could not be reached before the run started
(``SpoolStore``: every write is refused as unreachable, so the same rules spool it); an in-memory fake in the
unit tests, so the rules are tested without a server.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from portfolio_dashboard.brokers.base import BrokerSource, CredentialReporting, FetchContext
from portfolio_dashboard.domain import AccountSnapshot, FxRate, ParseResult, RawResponse, SourceOutcome, SourceStatus
from portfolio_dashboard.errors import (
    DatabaseError,
    DatabaseUnavailableError,
    PortfolioError,
    SourceError,
    scrub_secrets,
)
from portfolio_dashboard.local.spool import RunSpooler
from portfolio_dashboard.services import runs
from portfolio_dashboard.services.flow_values import store_flows
from portfolio_dashboard.services.fx import FxChain
from portfolio_dashboard.services.pipeline import (
    Progress,
    Valued,
    categorise,
    fetch_source,
    validate_parsed,
    value_parsed,
)
from portfolio_dashboard.storage.engine import is_connection_error
from portfolio_dashboard.storage.unit_of_work import UnitOfWork
from portfolio_dashboard.storage.writer import WriteCounts, write_source

log = logging.getLogger(__name__)


class SourceStore(Protocol):
    """Where a source's capture is stored: everything in one transaction, or the raw responses alone; and where
    the run's end is recorded. ``values``: whether stored FX rates can be read now to value in GBP (without
    them a capture only validates; the replay values what it spooled)."""

    values: bool

    def write(self, *, run_id: uuid.UUID, source: str, parser_version: str, base_currency: str,
              raws: Sequence[RawResponse], fx_rates: Sequence[FxRate], valued: Valued) -> WriteCounts: ...

    def keep_raws(self, run_id: uuid.UUID, raws: Sequence[RawResponse], parser_version: str) -> int: ...

    def finish_run(self, run_id: uuid.UUID, *, status: str, finished_at: datetime, error_summary: str | None,
                   outcomes: list[dict[str, Any]], warnings: list[str]) -> None: ...


class DatabaseStore:
    """``SourceStore`` in PostgreSQL: one unit of work per call, the source's lock held while it writes."""

    values = True

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def write(self, *, run_id: uuid.UUID, source: str, parser_version: str, base_currency: str,
              raws: Sequence[RawResponse], fx_rates: Sequence[FxRate], valued: Valued) -> WriteCounts:
        with UnitOfWork(self.engine) as uow:
            # One capture's sources write one at a time: they share instruments, rates and global ids, and since
            # every source waits for the others' rates before valuing, they would otherwise all write at once and
            # could deadlock on those rows. A write takes milliseconds; the lock is released at commit.
            uow.lock("pd.capture-write")
            uow.lock(f"pd.source:{source}")
            counts = write_source(uow, run_id=run_id, source=source, parser_version=parser_version,
                                  base_currency=base_currency, raws=raws, snapshots=valued.snapshots,
                                  fx_rates=fx_rates, trades=valued.trades, fx_legs=valued.fx_legs,
                                  coverage=valued.coverage)
            counts.flows_written = store_flows(uow.connection, run_id, raws, valued.flows)
            uow.commit()
        return counts

    def keep_raws(self, run_id: uuid.UUID, raws: Sequence[RawResponse], parser_version: str) -> int:
        with UnitOfWork(self.engine) as uow:
            count = uow.repo.insert_raw_payloads(run_id, raws, parser_version)
            uow.commit()
        return count

    def finish_run(self, run_id: uuid.UUID, *, status: str, finished_at: datetime, error_summary: str | None,
                   outcomes: list[dict[str, Any]], warnings: list[str]) -> None:
        with UnitOfWork(self.engine) as uow:
            runs.record_finish(uow, run_id, status=status, finished_at=finished_at, error_summary=error_summary,
                               outcomes=outcomes, warnings=warnings)
            uow.commit()


class SpoolStore:
    """``SourceStore`` when PostgreSQL could not be reached before the run: nothing is tried against it (each
    try would wait for a connect timeout); every write is refused as unreachable, so what the capture fetched
    goes to the local spool by the same rules as a database lost mid-run."""

    values = False  # no stored FX rates to value with: the replay values what was spooled

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def write(self, *, run_id: uuid.UUID, source: str, parser_version: str, base_currency: str,
              raws: Sequence[RawResponse], fx_rates: Sequence[FxRate], valued: Valued) -> WriteCounts:
        raise DatabaseUnavailableError(f"database unreachable: {self.reason}")

    def keep_raws(self, run_id: uuid.UUID, raws: Sequence[RawResponse], parser_version: str) -> int:
        raise DatabaseUnavailableError(f"database unreachable: {self.reason}")

    def finish_run(self, run_id: uuid.UUID, *, status: str, finished_at: datetime, error_summary: str | None,
                   outcomes: list[dict[str, Any]], warnings: list[str]) -> None:
        raise DatabaseUnavailableError(self.reason)  # the reason alone: the spool's manifest says the rest


def capture_source(
    store: SourceStore,
    run_id: uuid.UUID,
    name: str,
    source: BrokerSource,
    chain: FxChain,
    fetch_ctx: FetchContext,
    tolerance: Decimal,
    base_currency: str,
    progress: Progress | None,
    spooler: RunSpooler | None = None,
) -> SourceOutcome:
    outcome = SourceOutcome(name, SourceStatus.FAIL)
    raws: list[RawResponse] = []
    notify = progress or (lambda _s, _state: None)
    notify(name, "fetching")
    parsed: ParseResult | None = None
    result = Valued()
    validated: Sequence[AccountSnapshot] = ()  # without valuing: the snapshots that passed validation
    error: SourceError | DatabaseError | None = fetch_source(name, source, raws, fetch_ctx, outcome)
    fetched = error is None
    if isinstance(source, CredentialReporting):
        outcome.credential = _credential_note(source)
    if error is None:
        try:
            parsed = source.parse(raws)
        except Exception as exc:  # categorised and recorded, never lost
            error = categorise(exc, name)
    # every source's rates before anyone values: the rate a position gets never depends on who was first
    chain.arrive(name, parsed.fx_rates if parsed is not None else ())
    if error is None and parsed is not None:
        try:
            if store.values:
                if not chain.wait_for_sources():
                    log.warning("%s: valued before every source had parsed (capture deadline)", name)
                result = value_parsed(parsed, chain, tolerance, publish=False)
                outcome.warnings.extend(result.warnings)
            else:  # the user learns now that a broker's data is bad, not at the replay
                outcome.warnings.extend(validate_parsed(parsed))
                validated = parsed.snapshots
        except Exception as exc:  # categorised and recorded, never lost
            error = categorise(exc, name)
    notify(name, "writing")
    t1 = time.monotonic()
    counts = WriteCounts()
    if error is None and parsed is not None:
        try:
            counts = store.write(run_id=run_id, source=name, parser_version=source.parser_version,
                                 base_currency=base_currency, raws=raws, fx_rates=parsed.fx_rates, valued=result)
        except Exception as exc:  # categorised and recorded, never lost
            error = categorise(exc, name)
            counts = WriteCounts()
    # The run record, the log, alerts and the dashboard all read the outcome: no secret may be in it.
    outcome.warnings = [scrub_secrets(w) for w in outcome.warnings]
    if error is not None:
        outcome.error_category = error.category
        message = error.user_message() if isinstance(error, PortfolioError) else str(error)
        if isinstance(error, SourceError) and error.endpoint:
            message += f" [{error.endpoint}]"
        outcome.error_message = scrub_secrets(message)
        if isinstance(error, DatabaseUnavailableError) and spooler is not None:
            outcome.status = SourceStatus.SPOOLED
            reason = outcome.error_message
            outcome.error_message = f"{reason}; {len(raws)} response(s) spooled locally"
            if spooler.spool_source(name, source.parser_version, raws, kind="parse" if fetched else "raws",
                                    outcome=asdict(outcome)) is None:
                outcome.status = SourceStatus.FAIL
                outcome.error_message = f"{reason} — NOT stored: the local spool could not be written either"
        else:
            counts.raw_payloads = keep_raws(store, run_id, raws, source.parser_version, name, spooler,
                                            outcome if fetched else None)
        log.error("%s: %s: %s", name, outcome.error_category, outcome.error_message)
    else:
        outcome.status = SourceStatus.SUCCESS
        log.info("%s: stored %d new snapshot(s) (%d already stored), %d positions, %d trades in %.2fs", name,
                 counts.snapshots_written, counts.snapshots_existing, counts.positions_written,
                 counts.trades_written, time.monotonic() - t1)
    outcome.write_seconds = round(time.monotonic() - t1, 3)
    outcome.accounts = sorted({v.snapshot.account.broker_account_id for v in result.snapshots}
                              | {s.account.broker_account_id for s in validated})
    counts.record_on(outcome)
    notify(name, str(outcome.status))
    return outcome


def _credential_note(source: CredentialReporting) -> str | None:
    try:
        return source.credential_note()
    except Exception:  # a status line must never fail a capture
        log.exception("could not read the login status of a source")
        return None


def keep_raws(store: SourceStore, run_id: uuid.UUID, raws: Sequence[RawResponse], parser_version: str,
               name: str, spooler: RunSpooler | None = None, outcome: SourceOutcome | None = None) -> int:
    """Store the raw payloads of a failed source on their own (they are what makes a failure debuggable);
    spool them when the database cannot take them (``outcome`` given: the fetch was complete, so a replay
    may re-parse them)."""
    if not raws:
        return 0
    try:
        return store.keep_raws(run_id, raws, parser_version)
    except (SQLAlchemyError, DatabaseUnavailableError) as exc:
        if spooler is not None and is_connection_error(exc):
            spooler.spool_source(name, parser_version, raws, kind="raws",
                                 outcome=asdict(outcome) if outcome is not None else {"source": name})
        else:
            log.exception("%s: could not store %d raw payloads", name, len(raws))
        return 0

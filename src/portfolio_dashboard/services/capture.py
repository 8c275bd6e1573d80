"""The one headless snapshot function: ``capture(trigger)``, used unchanged by the CLI, the dashboard's
Save Snapshot button and the scheduler.

Workflow (the Data Persistence Plan's, refined by the capture-engine issue):
 1. reap runs left ``running`` by a process that died; insert this run as ``running`` and commit, holding a
    session advisory lock on it for as long as the process lives (that lock is how a later reaper knows);
 2. fetch every source concurrently, each in its own thread: one slow broker never delays another's write;
 3. per source: parse, validate, value in GBP, then write raw payloads and every normalised row in ONE
    transaction; when anything fails, the raw payloads are still written (alone) and the error recorded;
 4. the run ends ``success``, ``partial`` (some sources failed) or ``fail`` (all failed), with a per-source
    outcome, warnings and an ``error_summary`` a user can act on.

When PostgreSQL cannot be reached — before the run starts (``offline.py``) or when a write fails half-way —
nothing is lost: every raw response goes to the local spool (``spool.py``) and the next capture (or
``portfolio-dashboard spool replay``) stores it first (``replay.py``).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

from portfolio_dashboard import __version__
from portfolio_dashboard.bootstrap import App, get_app
from portfolio_dashboard.brokers.base import BrokerSource, CredentialReporting, FetchContext
from portfolio_dashboard.brokers.safety import scrub_secrets
from portfolio_dashboard.domain import (
    ParseResult,
    RawResponse,
    RunResult,
    RunStatus,
    SourceOutcome,
    SourceStatus,
    TriggerContext,
)
from portfolio_dashboard.domain.valuation import ValuedSnapshot
from portfolio_dashboard.errors import (
    DatabaseError,
    DatabaseUnavailableError,
    PortfolioError,
    SourceError,
)
from portfolio_dashboard.local.spool import RunMeta, RunSpooler, Spool
from portfolio_dashboard.services.fx import FxChain
from portfolio_dashboard.services.offline import capture_offline
from portfolio_dashboard.services.pipeline import (
    Progress,
    Valued,
    categorise,
    fetch_source,
    stored_lookup,
    value_parsed,
)
from portfolio_dashboard.services.replay import replay_quietly
from portfolio_dashboard.storage import migrate
from portfolio_dashboard.storage.engine import db_error_reason, is_connection_error
from portfolio_dashboard.storage.repositories import Repository
from portfolio_dashboard.storage.unit_of_work import UnitOfWork
from portfolio_dashboard.storage.writer import WriteCounts, write_source

log = logging.getLogger(__name__)

def run_lock_key(run_id: uuid.UUID) -> int:
    """A signed 64-bit advisory-lock key for a run."""
    return int.from_bytes(run_id.bytes[:8], "big", signed=True)


def reap_interrupted_runs(engine: Engine) -> list[uuid.UUID]:
    """Mark ``fail`` ("interrupted") every ``running`` run whose process no longer holds its lock."""
    reaped: list[uuid.UUID] = []
    with engine.connect() as conn:
        for run_id in Repository(conn).running_run_ids():
            key = run_lock_key(run_id)
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            if not got:
                continue  # its capture is still alive
            try:
                if Repository(conn).mark_interrupted(run_id, datetime.now(UTC)):
                    reaped.append(run_id)
                conn.commit()
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
    for run_id in reaped:
        log.warning("run %s was interrupted (its process ended); marked fail", run_id)
    return reaped


def capture(
    trigger: TriggerContext | None = None,
    *,
    app: App | None = None,
    sources: dict[str, BrokerSource] | None = None,
    progress: Progress | None = None,
) -> RunResult:
    """Capture one snapshot of every requested source. Never raises for a broker's failure: the run says.

    When the database cannot be reached the responses are spooled locally and the run says so (status
    ``fail``, sources ``spooled``); earlier spooled runs are stored before this one starts.
    """
    trigger = trigger or TriggerContext()
    app = app or get_app()
    settings = app.settings
    try:
        app.migrate()
        engine = app.engine
        reap_interrupted_runs(engine)
    except (SQLAlchemyError, DatabaseError) as exc:
        return capture_offline(trigger, app, sources, progress, db_error_reason(exc))
    replay_quietly(app)  # what an earlier capture spooled goes in first, in time order
    chosen = sources if sources is not None else _build_sources(app, trigger)
    if isinstance(chosen, RunResult):
        return chosen
    meta = RunMeta(uuid.uuid4(), str(trigger.trigger_type), trigger.triggered_by, tuple(chosen),
                   datetime.now(UTC), socket.gethostname(), os.getpid(), __version__, migrate.head_revision())
    run_id, started = meta.run_id, meta.started_at
    try:
        holder = _start_run(engine, meta)  # holds the run's liveness lock until this function returns
    except SQLAlchemyError as exc:
        return capture_offline(trigger, app, chosen, progress, db_error_reason(exc))
    spooler = RunSpooler(Spool(settings.spool_dir), meta)
    try:
        log.info("run %s started (%s): sources %s", run_id, trigger.trigger_type, ", ".join(chosen))
        chain = FxChain(
            settings.base_currency,
            settings.fx_max_age_delta,
            stored_lookup=stored_lookup(engine),
            reference=app.reference_factory(settings),
        )
        fetch_ctx = FetchContext(newest_trade_ts=_newest_trade_lookup(engine))
        tolerance = Decimal(settings.reconcile_tolerance)

        def one(item: tuple[str, BrokerSource]) -> SourceOutcome:
            name, source = item
            return _capture_source(engine, run_id, name, source, chain, fetch_ctx, tolerance,
                                   settings.base_currency, progress, spooler)

        try:
            with ThreadPoolExecutor(max_workers=max(1, len(chosen)), thread_name_prefix="capture") as pool:
                outcomes = list(pool.map(one, chosen.items()))
        finally:
            for source in chosen.values():
                close = getattr(source, "close", None)
                if callable(close):
                    close()
        run_warnings = _store_reference_raws(engine, run_id, chain, spooler)
        return _finish(engine, run_id, started, outcomes, run_warnings, spooler)
    finally:
        spooler.close()
        _close_quietly(holder)


def _start_run(engine: Engine, meta: RunMeta) -> Connection:
    holder = engine.connect()
    try:
        holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": run_lock_key(meta.run_id)})
        holder.commit()
        with UnitOfWork(engine) as uow:
            uow.repo.create_run(
                meta.run_id, trigger_type=meta.trigger_type, triggered_by=meta.triggered_by,
                sources=list(meta.sources), schema_version=meta.schema_version, app_version=meta.app_version,
                started_at=meta.started_at, hostname=meta.hostname, pid=meta.pid,
            )
            uow.commit()
    except BaseException:
        _close_quietly(holder)
        raise
    return holder


def _close_quietly(conn: Connection) -> None:
    """Close a connection that may have died with its server (closing then must not mask the result)."""
    try:
        conn.close()
    except SQLAlchemyError:
        log.debug("closing a dead database connection failed", exc_info=True)


def _build_sources(app: App, trigger: TriggerContext) -> dict[str, BrokerSource] | RunResult:
    try:
        return app.sources(trigger.sources)
    except PortfolioError as exc:
        # A source that cannot even be built (missing settings) still gets a recorded failed run.
        names = list(trigger.sources or app.settings.configured_sources)
        outcome = SourceOutcome(",".join(names), SourceStatus.FAIL, exc.category, exc.user_message())
        run_id = uuid.uuid4()
        started = datetime.now(UTC)
        with UnitOfWork(app.engine) as uow:
            uow.repo.create_run(
                run_id, trigger_type=str(trigger.trigger_type), triggered_by=trigger.triggered_by,
                sources=names, schema_version=migrate.head_revision(), app_version=__version__,
                started_at=started, hostname=socket.gethostname(), pid=os.getpid(),
            )
            uow.commit()
        return _finish(app.engine, run_id, started, [outcome], [])


def _newest_trade_lookup(engine: Engine) -> Callable[[str, str], datetime | None]:
    def lookup(broker: str, account: str) -> datetime | None:
        try:
            with engine.connect() as conn:
                return Repository(conn).newest_trade_ts(broker, account)
        except SQLAlchemyError as exc:
            # Without it a source fetches its full trade window: slower, never wrong (trades are upserted).
            log.warning("newest stored trade unknown (%s); fetching the full trade window", db_error_reason(exc))
            return None

    return lookup


def _capture_source(
    engine: Engine,
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
    valued: list[ValuedSnapshot] = []
    result = Valued()
    error: SourceError | DatabaseError | None = fetch_source(name, source, raws, fetch_ctx, outcome)
    fetched = error is None
    if isinstance(source, CredentialReporting):
        outcome.credential = _credential_note(source)
    if error is None:
        try:
            parsed = source.parse(raws)
            result = value_parsed(parsed, chain, tolerance)
            valued = result.snapshots
            outcome.warnings.extend(result.warnings)
        except Exception as exc:  # categorised and recorded, never lost
            error = categorise(exc, name)
    notify(name, "writing")
    t1 = time.monotonic()
    counts = WriteCounts()
    if error is None and parsed is not None:
        try:
            with UnitOfWork(engine) as uow:
                uow.lock(f"pd.source:{name}")
                counts = write_source(
                    uow, run_id=run_id, source=name, parser_version=source.parser_version,
                    base_currency=base_currency, raws=raws, snapshots=valued, fx_rates=parsed.fx_rates,
                    trades=result.trades, fx_legs=result.fx_legs, coverage=result.coverage,
                )
                uow.commit()
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
            counts.raw_payloads = _keep_raws(engine, run_id, raws, source.parser_version, name, spooler,
                                             outcome if fetched else None)
        log.error("%s: %s: %s", name, outcome.error_category, outcome.error_message)
    else:
        outcome.status = SourceStatus.SUCCESS
        log.info("%s: stored %d new snapshot(s) (%d already stored), %d positions, %d trades in %.2fs", name,
                 counts.snapshots_written, counts.snapshots_existing, counts.positions_written,
                 counts.trades_written, time.monotonic() - t1)
    outcome.write_seconds = round(time.monotonic() - t1, 3)
    outcome.accounts = sorted({v.snapshot.account.broker_account_id for v in valued})
    counts.record_on(outcome)
    notify(name, str(outcome.status))
    return outcome


def _credential_note(source: CredentialReporting) -> str | None:
    try:
        return source.credential_note()
    except Exception:  # a status line must never fail a capture
        log.exception("could not read the login status of a source")
        return None


def _keep_raws(engine: Engine, run_id: uuid.UUID, raws: Sequence[RawResponse], parser_version: str,
               name: str, spooler: RunSpooler | None = None, outcome: SourceOutcome | None = None) -> int:
    """Store the raw payloads of a failed source on their own (they are what makes a failure debuggable);
    spool them when the database cannot take them (``outcome`` given: the fetch was complete, so a replay
    may re-parse them)."""
    if not raws:
        return 0
    try:
        with UnitOfWork(engine) as uow:
            count = uow.repo.insert_raw_payloads(run_id, raws, parser_version)
            uow.commit()
            return count
    except SQLAlchemyError as exc:
        if spooler is not None and is_connection_error(exc):
            spooler.spool_source(name, parser_version, raws, kind="raws",
                                 outcome=asdict(outcome) if outcome is not None else {"source": name})
        else:
            log.exception("%s: could not store %d raw payloads", name, len(raws))
        return 0


def _store_reference_raws(engine: Engine, run_id: uuid.UUID, chain: FxChain,
                          spooler: RunSpooler | None = None) -> list[str]:
    warnings = []
    if chain.reference_raws:
        _keep_raws(engine, run_id, chain.reference_raws, "1", "fx-reference", spooler)
    if chain.reference_error:
        warnings.append(f"fx reference rates unavailable: {chain.reference_error}")
    return warnings


def run_status(outcomes: Sequence[SourceOutcome]) -> RunStatus:
    failed = [o for o in outcomes if o.status != SourceStatus.SUCCESS]
    if not failed:
        return RunStatus.SUCCESS
    return RunStatus.FAIL if len(failed) == len(outcomes) else RunStatus.PARTIAL


def _finish(
    engine: Engine,
    run_id: uuid.UUID,
    started: datetime,
    outcomes: list[SourceOutcome],
    run_warnings: list[str],
    spooler: RunSpooler | None = None,
) -> RunResult:
    status = run_status(outcomes)
    failed = [o for o in outcomes if o.status != SourceStatus.SUCCESS]
    summary = "; ".join(f"{o.source}: {o.error_category}: {o.error_message}" for o in failed) or None
    warnings = run_warnings + [f"{o.source}: {w}" for o in outcomes for w in o.warnings]
    finished = datetime.now(UTC)
    reason: str | None = None
    try:
        with UnitOfWork(engine) as uow:
            uow.repo.finish_run(
                run_id, status=str(status), finished_at=finished, error_summary=summary,
                outcome=[asdict(o) for o in outcomes], warnings=warnings,
            )
            uow.commit()
    except SQLAlchemyError as exc:
        if spooler is None or not is_connection_error(exc):
            raise
        reason = db_error_reason(exc)
    if spooler is not None and (spooler.used or reason is not None):
        # The spool's manifest is how a replay closes this run with its true outcome.
        why = reason or next((o.error_message or "" for o in outcomes if o.status == SourceStatus.SPOOLED),
                             "a write failed")
        spooler.finish(finished, [asdict(o) for o in outcomes], warnings, why)
        status = RunStatus.FAIL
        others = "; ".join(f"{o.source}: {o.error_category}: {o.error_message}" for o in failed
                           if o.status != SourceStatus.SPOOLED)
        summary = spooler.message(why) + (f"; {others}" if others else "")
        log.error("%s", summary)
    log.info("run %s finished: %s", run_id, status)
    return RunResult(run_id, status, started, finished, outcomes, warnings, summary)



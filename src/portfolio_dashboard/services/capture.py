"""The one headless snapshot function: ``capture(trigger)``, used unchanged by the CLI, the dashboard's
Save Snapshot button and the scheduler.

Workflow (the Data Persistence Plan's, refined by the capture-engine issue):
 1. reap runs left ``running`` by a process that died; insert this run as ``running`` and commit, holding a
    session advisory lock on it for as long as the process lives (that lock is how a later reaper knows);
 2. fetch every source concurrently, each in its own thread; a source values what it parsed once every other
    source has parsed too (or failed, or met the deadline), so that the FX rate a position gets never depends
    on which source was first (``fx.py``): a slow broker delays the others' writes by its fetch, no more;
 3. per source: parse, validate, value in GBP, then write raw payloads and every normalised row in ONE
    transaction; when anything fails, the raw payloads are still written (alone) and the error recorded;
 4. the run ends ``success``, ``partial`` (some sources failed) or ``fail`` (all failed), with a per-source
    outcome, warnings and an ``error_summary`` a user can act on.

When PostgreSQL cannot be reached — before the run starts or when a write fails half-way — nothing is lost:
the same pipeline runs, its store (``capture_source.SourceStore``) says where rows go: PostgreSQL, or, when the
database was unreachable from the start, the local spool alone (``SpoolStore``: the brokers are still asked,
since their data for today may be gone tomorrow, and each source is parsed and validated so a broker's failure
shows now; valuing waits for the replay, which needs the stored FX rates). Every raw response then goes to
the local spool (``spool.py``) and the next capture (or ``portfolio-dashboard spool replay``) stores it first
(``replay.py``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from portfolio_dashboard.bootstrap import App, get_app
from portfolio_dashboard.brokers.base import BrokerSource, FetchContext
from portfolio_dashboard.brokers.deadline import capture_deadline
from portfolio_dashboard.domain import (
    RunResult,
    RunStatus,
    SourceOutcome,
    SourceStatus,
    TriggerContext,
)
from portfolio_dashboard.errors import (
    DatabaseError,
    DatabaseUnavailableError,
    PortfolioError,
)
from portfolio_dashboard.local.spool import RunMeta, RunSpooler, Spool
from portfolio_dashboard.services import runs
from portfolio_dashboard.services.capture_source import (
    DatabaseStore,
    SourceStore,
    SpoolStore,
    capture_source,
    keep_raws,
)
from portfolio_dashboard.services.flow_values import newest_flow_lookup
from portfolio_dashboard.services.fx import FxChain
from portfolio_dashboard.services.pipeline import (
    Progress,
    stored_lookup,
)
from portfolio_dashboard.services.replay import replay_quietly
from portfolio_dashboard.storage.engine import db_error_reason, is_connection_error
from portfolio_dashboard.storage.repositories import Repository
from portfolio_dashboard.storage.run_locks import hold_run_lock, release_run_lock, try_run_lock

log = logging.getLogger(__name__)

def reap_interrupted_runs(engine: Engine) -> list[uuid.UUID]:
    """Mark ``fail`` ("interrupted") every ``running`` run whose process no longer holds its lock."""
    reaped: list[uuid.UUID] = []
    with engine.connect() as conn:
        for run_id in Repository(conn).running_run_ids():
            if not try_run_lock(conn, run_id):
                continue  # its capture is still alive
            try:
                if Repository(conn).mark_interrupted(run_id, datetime.now(UTC)):
                    reaped.append(run_id)
                conn.commit()
            finally:
                release_run_lock(conn, run_id)
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
    ``fail``, sources ``spooled``; ``partial`` when another source was stored first); earlier spooled runs
    are stored before this one starts.
    """
    trigger = trigger or TriggerContext()
    app = app or get_app()
    settings = app.settings
    offline: str | None = None  # why the database cannot be reached, when it cannot
    try:
        app.migrate()
        reap_interrupted_runs(app.engine)
    except (SQLAlchemyError, DatabaseError) as exc:
        offline = db_error_reason(exc)
    if offline is None:
        replay_quietly(app)  # what an earlier capture spooled goes in first, in time order
    chosen = sources if sources is not None else _build_sources(app, trigger, offline)
    if isinstance(chosen, RunResult):
        return chosen
    meta = runs.new_run(str(trigger.trigger_type), trigger.triggered_by, chosen)
    run_id, started = meta.run_id, meta.started_at
    holder: Connection | None = None
    if offline is None:
        try:
            holder = _start_run(app.engine, meta)  # holds the run's liveness lock until this function returns
        except SQLAlchemyError as exc:
            offline = db_error_reason(exc)
    store: SourceStore = DatabaseStore(app.engine) if offline is None else SpoolStore(offline)
    if offline is not None:
        log.error("database unreachable (%s): capturing into the local spool", offline)
    spooler = RunSpooler(Spool(settings.spool_dir), meta)
    try:
        log.info("run %s started (%s%s): sources %s", run_id, trigger.trigger_type,
                 "" if offline is None else ", offline", ", ".join(chosen))
        if offline is None:
            chain = FxChain(settings.base_currency, settings.fx_max_age_delta,
                            stored_lookup=stored_lookup(app.engine), reference=app.reference_factory(settings))
            fetch_ctx = FetchContext(newest_trade_ts=_newest_trade_lookup(app.engine),
                                     newest_flow_ts=newest_flow_lookup(app.engine))
        else:  # nothing to value with; no stored state: a full trade window, never wrong
            chain, fetch_ctx = FxChain(settings.base_currency, settings.fx_max_age_delta), FetchContext()
        tolerance = Decimal(settings.reconcile_tolerance)

        chain.expect(chosen, settings.capture_timeout_s + 30)  # sources value once all have parsed (fx.py)

        def one(item: tuple[str, BrokerSource]) -> SourceOutcome:
            name, source = item
            try:
                return capture_source(store, run_id, name, source, chain, fetch_ctx, tolerance,
                                      settings.base_currency, progress, spooler)
            finally:
                chain.arrive(name)  # whatever happened, the others stop waiting for this one

        try:
            # CAPTURE_TIMEOUT_S bounds the whole fetch stage: each fetch thread carries the deadline
            with capture_deadline(settings.capture_timeout_s) as deadline, ThreadPoolExecutor(
                    max_workers=max(1, len(chosen)), thread_name_prefix="capture", initializer=deadline.bind) as pool:
                outcomes = list(pool.map(one, chosen.items()))
        finally:
            for source in chosen.values():
                close = getattr(source, "close", None)
                if callable(close):
                    close()
        run_warnings = _store_reference_raws(store, run_id, chain, spooler)
        return _finish(store, run_id, started, outcomes, run_warnings, spooler)
    finally:
        spooler.close()
        if holder is not None:
            _close_quietly(holder)


def _start_run(engine: Engine, meta: RunMeta) -> Connection:
    holder = engine.connect()
    try:
        hold_run_lock(holder, meta.run_id)
        holder.commit()
        runs.start(engine, meta)
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


def _build_sources(app: App, trigger: TriggerContext, offline: str | None) -> dict[str, BrokerSource] | RunResult:
    try:
        return app.sources(trigger.sources)
    except PortfolioError as exc:
        # A source that cannot even be built (missing settings) still gets a recorded failed run (when there
        # is a database to record it in).
        names = list(trigger.sources or app.settings.configured_sources)
        outcome = SourceOutcome(",".join(names), SourceStatus.FAIL, exc.category, exc.user_message())
        if offline is not None:
            summary = f"database unreachable ({offline}); and {runs.failure_summary([outcome])}"
            log.error("%s", summary)
            now = datetime.now(UTC)
            return RunResult(uuid.uuid4(), RunStatus.FAIL, now, now, [outcome], [], summary)
        meta = runs.new_run(str(trigger.trigger_type), trigger.triggered_by, names)
        runs.start(app.engine, meta)
        return _finish(DatabaseStore(app.engine), meta.run_id, meta.started_at, [outcome], [])


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


def _store_reference_raws(store: SourceStore, run_id: uuid.UUID, chain: FxChain,
                          spooler: RunSpooler | None = None) -> list[str]:
    warnings = []
    if chain.reference_raws:
        keep_raws(store, run_id, chain.reference_raws, "1", "fx-reference", spooler)
    if chain.reference_error:
        warnings.append(f"fx reference rates unavailable: {chain.reference_error}")
    return warnings


def _finish(
    store: SourceStore,
    run_id: uuid.UUID,
    started: datetime,
    outcomes: list[SourceOutcome],
    run_warnings: list[str],
    spooler: RunSpooler | None = None,
) -> RunResult:
    status = runs.status_of(outcomes)
    summary = runs.failure_summary(outcomes)
    warnings = run_warnings + [f"{o.source}: {w}" for o in outcomes for w in o.warnings]
    finished = datetime.now(UTC)
    reason: str | None = None
    try:
        store.finish_run(run_id, status=str(status), finished_at=finished, error_summary=summary,
                         outcomes=[asdict(o) for o in outcomes], warnings=warnings)
    except (SQLAlchemyError, DatabaseUnavailableError) as exc:
        if spooler is None or not is_connection_error(exc):
            raise
        reason = db_error_reason(exc)
    if spooler is not None and (spooler.used or reason is not None):
        # The spool's manifest is how a replay closes this run with its true outcome.
        why = reason or next((o.error_message or "" for o in outcomes if o.status == SourceStatus.SPOOLED),
                             "a write failed")
        spooler.finish(finished, [asdict(o) for o in outcomes], warnings, why)
        # a source stored before the database went away is stored: the run is partial, not a failure
        status = RunStatus.PARTIAL if any(o.status == SourceStatus.SUCCESS for o in outcomes) else RunStatus.FAIL
        others = runs.failure_summary(o for o in outcomes if o.status != SourceStatus.SPOOLED)
        summary = spooler.message(why) + (f"; {others}" if others else "")
        log.error("%s", summary)
    log.info("run %s finished: %s", run_id, status)
    return RunResult(run_id, status, started, finished, outcomes, warnings, summary)



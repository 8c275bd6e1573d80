"""A capture while PostgreSQL is away (the Pi is down, Tailscale is off): fetch anyway, spool everything.

The brokers are still asked — their data for today may not be available tomorrow (an IB gateway session, a
Flex statement's window) — and every response goes to the local spool. Each source is parsed and validated
too, so the user learns now that a broker failed rather than at replay; valuing in GBP waits for the replay,
as it needs the stored FX rates. The run is reported ``fail`` (exit status 1) with a message saying where
the data is and how it will be stored.
"""

from __future__ import annotations

import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import UTC, datetime

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.brokers.base import BrokerSource, FetchContext
from portfolio_dashboard.brokers.deadline import capture_deadline
from portfolio_dashboard.domain import (
    RawResponse,
    RunResult,
    RunStatus,
    SourceOutcome,
    SourceStatus,
    TriggerContext,
)
from portfolio_dashboard.domain.valuation import validate
from portfolio_dashboard.errors import PortfolioError, SourceError
from portfolio_dashboard.local.spool import RunSpooler, Spool
from portfolio_dashboard.services import runs
from portfolio_dashboard.services.pipeline import Progress, categorise, fetch_source

log = logging.getLogger(__name__)


def capture_offline(
    trigger: TriggerContext,
    app: App,
    sources: dict[str, BrokerSource] | None,
    progress: Progress | None,
    reason: str,
) -> RunResult:
    log.error("database unreachable (%s): capturing into the local spool", reason)
    try:
        chosen = sources if sources is not None else app.sources(trigger.sources)
    except PortfolioError as exc:
        names = ",".join(trigger.sources or app.settings.configured_sources)
        outcome = SourceOutcome(names, SourceStatus.FAIL, exc.category, exc.user_message())
        summary = f"database unreachable ({reason}); and {runs.failure_summary([outcome])}"
        log.error("%s", summary)
        return RunResult(uuid.uuid4(), RunStatus.FAIL, datetime.now(UTC), datetime.now(UTC), [outcome], [], summary)
    meta = runs.new_run(str(trigger.trigger_type), trigger.triggered_by, chosen)
    run_id, started = meta.run_id, meta.started_at
    spooler = RunSpooler(Spool(app.settings.spool_dir), meta)
    try:
        log.info("run %s started (%s, offline): sources %s", run_id, trigger.trigger_type, ", ".join(chosen))

        def one(item: tuple[str, BrokerSource]) -> SourceOutcome:
            return _fetch_and_spool(item[0], item[1], spooler, progress)

        # CAPTURE_TIMEOUT_S bounds the whole fetch stage: each fetch thread carries the deadline
        with capture_deadline(app.settings.capture_timeout_s) as deadline, ThreadPoolExecutor(
                max_workers=max(1, len(chosen)), thread_name_prefix="capture", initializer=deadline.bind) as pool:
            outcomes = list(pool.map(one, chosen.items()))
        finished = datetime.now(UTC)
        warnings = [f"{o.source}: {w}" for o in outcomes for w in o.warnings]
        spooler.finish(finished, [asdict(o) for o in outcomes], warnings, reason)
        summary = spooler.message(reason)
        failed = runs.failure_summary(o for o in outcomes if o.status == SourceStatus.FAIL)
        if failed:
            summary += "; " + failed
        log.error("%s", summary)
        log.info("run %s finished: %s (spooled)", run_id, RunStatus.FAIL)
        return RunResult(run_id, RunStatus.FAIL, started, finished, outcomes, warnings, summary)
    finally:
        spooler.close()


def _fetch_and_spool(name: str, source: BrokerSource, spooler: RunSpooler, progress: Progress | None) -> SourceOutcome:
    notify = progress or (lambda _s, _state: None)
    notify(name, "fetching")
    outcome = SourceOutcome(name, SourceStatus.SPOOLED)
    raws: list[RawResponse] = []
    # no stored state: a full trade window, never wrong
    error: PortfolioError | None = fetch_source(name, source, raws, FetchContext(), outcome)
    fetched = error is None
    if fetched:
        try:
            parsed = source.parse(raws)
            accounts = set()
            for snap in parsed.snapshots:
                _checked, warnings = validate(snap)
                outcome.warnings.extend(w for w in warnings if w not in outcome.warnings)
                accounts.add(snap.account.broker_account_id)
            outcome.accounts = sorted(accounts)
        except Exception as exc:  # the replay will record the same failure; say it now
            error = categorise(exc, name)
    if error is not None:
        outcome.status = SourceStatus.FAIL
        outcome.error_category = error.category
        outcome.error_message = error.user_message()
        if isinstance(error, SourceError) and error.endpoint:
            outcome.error_message += f" [{error.endpoint}]"
        log.error("%s: %s: %s", name, outcome.error_category, outcome.error_message)
    else:
        outcome.error_category = "db"
        outcome.error_message = f"database unreachable: {len(raws)} response(s) spooled locally"
    t1 = time.monotonic()
    if raws and spooler.spool_source(name, source.parser_version, raws, kind="parse" if fetched else "raws",
                                     outcome=asdict(outcome)) is None:
        outcome.status = SourceStatus.FAIL
        outcome.error_category = outcome.error_category or "db"
        outcome.error_message = f"{outcome.error_message} — NOT stored: the local spool could not be written"
    outcome.write_seconds = round(time.monotonic() - t1, 3)
    notify(name, str(outcome.status))
    return outcome

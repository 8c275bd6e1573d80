"""Storing what the spool holds: ``portfolio-dashboard spool replay``, and the first step of every capture.

Each spool entry is stored in ONE transaction together with its row in ``spool_entries``: the row is
inserted first (``ON CONFLICT DO NOTHING``), so an entry that is already stored — a replay repeated, two
processes replaying at once, a crash between commit and file deletion — stores nothing the second time.
Raw payload ids are deterministic too (``raw_payloads.raw_payload_id``), so even a capture whose commit was
lost in flight and then spooled cannot duplicate its responses.

A "parse" entry is re-parsed with the source's current (pure) parser, validated, valued and written with the
capture's own writer; the received times and the broker's as-ofs come from the raw responses, so the rows
are those the capture would have written. The run keeps its id, trigger and start time; its outcome is the
capture's with each spooled source replaced by what the replay stored, and a warning says when and why it
went through the spool.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import psycopg
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.domain import SourceOutcome, SourceStatus
from portfolio_dashboard.errors import PortfolioError
from portfolio_dashboard.local.spool import PendingRun, Spool, SpoolEntry
from portfolio_dashboard.services import runs
from portfolio_dashboard.services.flow_values import store_flows
from portfolio_dashboard.services.fx import FxChain
from portfolio_dashboard.services.pipeline import categorise, stored_lookup, value_parsed
from portfolio_dashboard.storage.engine import db_error_reason, is_connection_error
from portfolio_dashboard.storage.spool_ledger import claim_entry, record_outcome, run_ledger, run_record
from portfolio_dashboard.storage.unit_of_work import UnitOfWork
from portfolio_dashboard.storage.writer import write_source

log = logging.getLogger(__name__)


def open_spool(app: App) -> Spool:
    """The local spool of this installation (readable without the database)."""
    return Spool(app.settings.spool_dir)


@dataclass(slots=True)
class ReplayedRun:
    run_id: str
    status: str
    entries_stored: int = 0
    entries_already_stored: int = 0
    raw_payloads: int = 0
    snapshots_written: int = 0
    positions_written: int = 0
    corrupt: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ReplayReport:
    runs: list[ReplayedRun] = field(default_factory=list)
    in_progress: int = 0  # run directories still held by a live capture
    quarantined: list[str] = field(default_factory=list)  # unreadable files of runs with nothing else readable

    @property
    def entries_stored(self) -> int:
        return sum(r.entries_stored for r in self.runs)

    @property
    def quarantined_files(self) -> int:
        return len(self.quarantined) + sum(len(r.corrupt) for r in self.runs)

    @property
    def outcome(self) -> str:
        """``partial`` when files were quarantined (data someone must look at), else ``success``."""
        return "partial" if self.quarantined_files else "success"

    def text(self) -> str:
        kept = [f"  unreadable spool file kept in {path}" for path in self.quarantined]
        if not self.runs:
            extra = f" ({self.in_progress} still being written by a running capture)" if self.in_progress else ""
            return "\n".join(["spool: nothing to replay" + extra, *kept])
        lines = [f"spool: {len(self.runs)} run(s) replayed", *kept]
        for r in self.runs:
            lines.append(
                f"  run {r.run_id}: {r.status} — {r.entries_stored} entr(ies) stored "
                f"({r.entries_already_stored} already stored), {r.raw_payloads} raw response(s), "
                f"{r.snapshots_written} new snapshot(s), {r.positions_written} positions"
            )
            for path in r.corrupt:
                lines.append(f"    unreadable spool file kept in {path}")
        if self.in_progress:
            lines.append(f"  {self.in_progress} run(s) still being written by a running capture: left alone")
        return "\n".join(lines)


def replay_pending(app: App, spool: Spool | None = None) -> ReplayReport:
    """Store every spooled run, oldest first. Raises ``DatabaseError`` when the database is unusable (what
    is not stored yet stays in the spool)."""
    spool = spool or Spool(app.settings.spool_dir)
    report = ReplayReport()
    directories = spool.run_dirs()
    if not directories:
        return report
    app.migrate()
    for directory in directories:
        with spool.claim(directory) as mine:
            if not mine:
                report.in_progress += 1
                continue
            pending = spool.load(directory)
            if pending.run is None:  # nothing but unreadable files (now in corrupt/) or an empty leftover
                report.quarantined += [str(path) for path in pending.corrupt]
                spool.remove(directory)
                continue
            report.runs.append(_replay_run(app, pending))
            spool.remove(directory)
    return report


def replay_quietly(app: App) -> ReplayReport | None:
    """Replay before a capture; a failure is logged, never stops the capture (the spool keeps the data)."""
    try:
        report = replay_pending(app)
    except (PortfolioError, SQLAlchemyError, psycopg.Error, OSError) as exc:
        log.error("spool replay failed, the spool is kept: %s", db_error_reason(exc))
        return None
    if report.runs:
        log.info("%s", report.text().replace("\n", ";"))
    return report


def _replay_run(app: App, pending: PendingRun) -> ReplayedRun:
    meta = pending.run
    assert meta is not None
    engine = app.engine
    settings = app.settings
    log.info("spool: replaying run %s (%d entries)", meta.run_id, len(pending.entries))
    runs.start(engine, meta)
    chain = FxChain(settings.base_currency, settings.fx_max_age_delta, stored_lookup=stored_lookup(engine),
                    reference=app.reference_factory(settings))
    tolerance = Decimal(settings.reconcile_tolerance)
    result = ReplayedRun(str(meta.run_id), "")
    result.corrupt = [str(p) for p in pending.corrupt]
    for entry in pending.entries:
        stored = _replay_entry(app, entry, chain, tolerance)
        if stored is None:
            result.entries_already_stored += 1
            continue
        result.entries_stored += 1
        result.raw_payloads += stored.raw_payloads
        result.snapshots_written += stored.snapshots_written
        result.positions_written += stored.positions_written
    if chain.reference_raws:
        with UnitOfWork(engine) as uow:
            uow.repo.insert_raw_payloads(meta.run_id, chain.reference_raws, "1")
            uow.commit()
    result.status = _finalise(app, pending)
    log.info("spool: run %s stored (%s)", meta.run_id, result.status)
    return result


def _claim(conn: Connection, entry: SpoolEntry) -> bool:
    return claim_entry(conn, entry.entry_id, entry.run.run_id, entry.source, entry.kind, entry.spooled_at)


def _record(conn: Connection, entry: SpoolEntry, outcome: SourceOutcome) -> None:
    record_outcome(conn, entry.entry_id, asdict(outcome))


def _captured_outcome(entry: SpoolEntry) -> SourceOutcome:
    """The capture-time outcome (timings, retries, the broker's error) as a starting point."""
    known = {f for f in SourceOutcome.__dataclass_fields__}
    data = {k: v for k, v in entry.outcome.items() if k in known}
    data.setdefault("source", entry.source)
    data["status"] = SourceStatus(data.get("status", SourceStatus.FAIL))
    return SourceOutcome(**data)


def _replay_entry(app: App, entry: SpoolEntry, chain: FxChain, tolerance: Decimal) -> SourceOutcome | None:
    """Store one entry; ``None`` when it was stored before."""
    run_id = entry.run.run_id
    outcome = _captured_outcome(entry)
    with UnitOfWork(app.engine) as uow:
        uow.lock(f"pd.source:{entry.source}")
        if not _claim(uow.connection, entry):
            return None
        if entry.kind == "raws":
            outcome.raw_payloads = uow.repo.insert_raw_payloads(run_id, entry.raws, entry.parser_version)
            if outcome.status == SourceStatus.SPOOLED:  # an outcome the capture never finalised
                outcome.status = SourceStatus.FAIL
        else:
            _parse_and_write(app, uow, entry, outcome, chain, tolerance)
            if chain.reference_raws:
                # Reference rates this entry's valuation fetched are stored with it, in its transaction: the
                # rates it stored must never outlive their raw responses (the database may go away before
                # the run's end). Raw payload ids are deterministic, so a later entry repeating them is a no-op.
                uow.repo.insert_raw_payloads(run_id, chain.reference_raws, "1")
        _record(uow.connection, entry, outcome)
        uow.commit()
    log.info("spool: %s of run %s stored: %s, %d raw response(s), %d new snapshot(s)", entry.source, run_id,
             outcome.status, outcome.raw_payloads, outcome.snapshots_written)
    return outcome


def _parse_and_write(app: App, uow: UnitOfWork, entry: SpoolEntry, outcome: SourceOutcome, chain: FxChain,
                     tolerance: Decimal) -> None:
    settings = app.settings
    outcome.error_category = outcome.error_message = None
    outcome.warnings = []
    parser_version = entry.parser_version
    try:
        source = app.source_factory(entry.source, settings)
        parser_version = source.parser_version
        parsed = source.parse(entry.raws)
        valued = value_parsed(parsed, chain, tolerance)
        with uow.connection.begin_nested():  # a failed write leaves the raws to be stored alone below
            counts = write_source(
                uow, run_id=entry.run.run_id, source=entry.source, parser_version=parser_version,
                base_currency=settings.base_currency, raws=entry.raws, snapshots=valued.snapshots,
                fx_rates=parsed.fx_rates, trades=valued.trades, fx_legs=valued.fx_legs, coverage=valued.coverage,
            )
            outcome.flows_written = store_flows(uow.connection, entry.run.run_id, entry.raws, valued.flows)
    except (SQLAlchemyError, psycopg.Error) as exc:  # the writer COPYs positions through the driver
        if is_connection_error(exc):
            raise  # stop: the entry stays in the spool
        _fail(outcome, "db", f"database write failed: {db_error_reason(exc)}")
    except Exception as exc:  # a parser's failure is recorded, and the responses still stored
        error = categorise(exc, entry.source)
        _fail(outcome, error.category, error.user_message())
    else:
        outcome.status = SourceStatus.SUCCESS
        outcome.accounts = sorted({v.snapshot.account.broker_account_id for v in valued.snapshots})
        outcome.warnings = list(valued.warnings)
        counts.record_on(outcome)
        return
    outcome.raw_payloads = uow.repo.insert_raw_payloads(entry.run.run_id, entry.raws, parser_version)
    log.error("spool: %s of run %s: %s: %s", entry.source, entry.run.run_id, outcome.error_category,
              outcome.error_message)


def _fail(outcome: SourceOutcome, category: str, message: str) -> None:
    outcome.status = SourceStatus.FAIL
    outcome.error_category = category
    outcome.error_message = message


def _finalise(app: App, pending: PendingRun) -> str:
    """Close the run with its true outcome, recomputed from the ledger (so repeating it changes nothing)."""
    meta = pending.run
    assert meta is not None
    with UnitOfWork(app.engine) as uow:
        conn = uow.connection
        ledger = run_ledger(conn, meta.run_id)
        row = run_record(conn, meta.run_id)
        base: list[dict[str, Any]]
        if pending.manifest is not None:
            base = list(pending.manifest.outcomes)
        elif row[0]:
            base = list(row[0])
        else:
            base = [e.outcome for e in pending.entries]
        replayed = {r[0]: dict(r[2]) for r in ledger if r[2]}
        outcomes = [replayed.pop(o.get("source", ""), o) for o in base]
        outcomes += [o for name, o in replayed.items() if name in meta.sources]
        if pending.manifest is None:
            # The capture died before recording its outcome: a source with no entry was never fetched or
            # spooled, so the run cannot claim it (without this a run killed half-way replayed as "success").
            covered = {o.get("source") for o in outcomes}
            outcomes += [{"source": name, "status": str(SourceStatus.FAIL), "error_category": None,
                          "error_message": "interrupted: the capture process ended before this source was "
                                           "stored or spooled"} for name in meta.sources if name not in covered]
        for o in outcomes:
            if o.get("status") == SourceStatus.SPOOLED:  # spooled, but its entry is missing (unreadable)
                o.update(status=str(SourceStatus.FAIL), error_category="db",
                         error_message="spooled while the database was away, but the spool file is unreadable")
        status = str(runs.status_of(outcomes))
        summary = runs.failure_summary(outcomes)
        stored_at = min((r[3] for r in ledger), default=datetime.now(UTC))
        reason = pending.manifest.reason if pending.manifest else "the database went away during the capture"
        warnings = list(pending.manifest.warnings) if pending.manifest else []
        for o in outcomes:
            warnings += [f"{o.get('source')}: {w}" for w in o.get("warnings", []) if f"{o.get('source')}: {w}"
                         not in warnings]
        warnings.append(f"stored from the local spool at {stored_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC: "
                        f"{reason}")
        if pending.manifest is not None:
            finished = pending.manifest.finished_at
        else:
            finished = max((e.spooled_at for e in pending.entries), default=row[1] or stored_at)
        runs.record_finish(uow, meta.run_id, status=status, finished_at=finished, error_summary=summary,
                           outcomes=outcomes, warnings=warnings)
        uow.commit()
    return status

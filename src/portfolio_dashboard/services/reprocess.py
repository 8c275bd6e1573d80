"""``portfolio-dashboard reprocess``: re-parse stored raw payloads with today's parsers, upsert what they mean.

Raw payloads are never modified. For every selected run, the responses of each source are loaded back in
the order they were received — the exact bytes from ``body_bytes`` (or ``body_text``; rows stored before
``body_bytes`` existed fall back to the ``jsonb`` text, which is the same JSON but not the same bytes, and
are counted as such) — parsed by the source's current ``parse``, validated and valued exactly as a capture
does, and written set-based in large batches, each in one transaction (``reprocess_writer.py``,
``storage/bulk.py``):

* a snapshot is updated in place (keeping its run and key) where a derived value differs, and records the
  parser version that produced it; snapshots a (run, source) no longer produces are removed;
* a snapshot's positions become exactly what the parser now says (insert / update / delete);
* trades are upserted by broker trade id.

Running it twice changes nothing the second time. Only sources whose fetch was complete are re-parsed: a
capture that failed while fetching (auth, network, rate limit) kept partial responses, and parsing those
would store a partial portfolio. FX conversion uses the raws' own rates, those of the other sources in the
same run, and stored rates at or before each as-of; no reference rates are fetched.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.brokers.base import BrokerSource
from portfolio_dashboard.domain import FxRate, ParseResult, RawResponse
from portfolio_dashboard.errors import ConfigError, NotFoundError, PortfolioError
from portfolio_dashboard.services import reprocess_writer
from portfolio_dashboard.services.collector import collector_paused
from portfolio_dashboard.services.fx import FxChain
from portfolio_dashboard.services.pipeline import Valued, categorise, stored_lookup, value_parsed
from portfolio_dashboard.services.reprocess_writer import Batch, Written
from portfolio_dashboard.storage.reads.stored_runs import finished_runs, raw_rows, sources_with_snapshots
from portfolio_dashboard.storage.writer import coverage_dict, snapshot_row

log = logging.getLogger(__name__)

# A fetch that ended in one of these never completed: its responses are a partial picture.
INCOMPLETE_FETCH = ("auth", "network", "rate_limit", "config")
REFERENCE_SOURCES = ("ecb", "fx-reference")
RUNS_PER_LOAD = 200


@dataclass(slots=True)
class ReprocessReport(Written):
    """What the batches wrote (``Written``'s counters, summed) and what reprocessing met on the way."""

    runs: int = 0
    groups: int = 0  # (run, source) pairs re-parsed
    raw_payloads: int = 0
    raws_reserialised: int = 0  # legacy rows without body_bytes: parsed from jsonb text (same JSON, not bytes)
    skipped: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    parser_versions: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    write_seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return any((self.snapshots_inserted, self.snapshots_updated, self.snapshots_removed,
                    self.positions_inserted, self.positions_updated, self.positions_deleted,
                    self.trades_inserted, self.trades_updated, self.fx_legs_inserted))

    @property
    def outcome(self) -> str:
        return "partial" if self.failures else "success"

    def text(self) -> str:
        rate = self.positions_total / self.seconds if self.seconds else 0.0
        versions = ", ".join(f"{k} {v}" for k, v in sorted(self.parser_versions.items())) or "none"
        lines = [
            f"reprocessed {self.groups} source capture(s) in {self.runs} run(s) from {self.raw_payloads} raw "
            f"payload(s) in {self.seconds:.1f}s ({rate:,.0f} position rows/s); parsers: {versions}",
            f"  snapshots: {self.snapshots_inserted} new, {self.snapshots_updated} updated, "
            f"{self.snapshots_unchanged} unchanged, {self.snapshots_removed} removed",
            f"  positions: {self.positions_inserted} new, {self.positions_updated} updated, "
            f"{self.positions_deleted} removed ({self.positions_total} in all)",
            f"  trades: {self.trades_inserted} new, {self.trades_updated} updated",
            f"  fx conversion legs: {self.fx_legs_inserted} new",
        ]
        if not self.changed:
            lines.append("  nothing changed")
        if self.raws_reserialised:
            lines.append(f"  {self.raws_reserialised} payload(s) stored before exact bodies were kept were parsed "
                         "from their JSON as stored (same values, not byte-identical)")
        lines += [f"  skipped: {s}" for s in self.skipped]
        lines += [f"  FAILED: {f}" for f in self.failures]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Selection:
    run_ids: tuple[uuid.UUID, ...] = ()
    since: datetime | None = None
    all: bool = False
    sources: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.all:
            return "all runs"
        if self.since is not None:
            return f"runs since {self.since:%Y-%m-%d %H:%M %Z}"
        return f"{len(self.run_ids)} run(s)"


@dataclass(slots=True)
class _Group:
    run_id: uuid.UUID
    source: str
    raws: list[RawResponse]
    stored_ids: dict[int, uuid.UUID] = field(default_factory=dict)  # id(raw) -> its raw_payloads row


def select_runs(conn: Connection, selection: Selection) -> list[tuple[uuid.UUID, list[dict[str, Any]]]]:
    """``(run_id, outcome)`` of the selected finished runs, oldest first."""
    if not (selection.run_ids or selection.since is not None or selection.all):
        raise ConfigError("say which runs to reprocess: --run ID, --since DATE or --all")
    runs = finished_runs(conn, run_ids=list(selection.run_ids), since=selection.since)
    missing = sorted(str(r) for r in set(selection.run_ids) - {run_id for run_id, _ in runs})
    if missing:
        # reprocessing nothing and saying "nothing changed" would read as success
        raise NotFoundError(f"no finished run with id {', '.join(missing)}",
                            hint="`portfolio-dashboard status` shows the last run's id")
    return runs


def _load_raws(conn: Connection, run_ids: Sequence[uuid.UUID], report: ReprocessReport) -> list[_Group]:
    rows = raw_rows(conn, run_ids, REFERENCE_SOURCES)
    groups: dict[tuple[uuid.UUID, str], _Group] = {}
    for run_id, source, broker, endpoint, received, status, ctype, headers, exact, body_text, js, sha, pid in rows:
        if exact is not None:
            body = bytes(exact)
        else:
            body = (body_text if body_text is not None else js or "").encode()
            if hashlib.sha256(body).hexdigest() != sha:
                report.raws_reserialised += 1
        raw = RawResponse(source, broker, endpoint, received, status, body, ctype, dict(headers or {}))
        group = groups.setdefault((run_id, source), _Group(run_id, source, []))
        group.raws.append(raw)
        group.stored_ids[id(raw)] = pid  # rows stored before ids were deterministic keep their own
        report.raw_payloads += 1
    return list(groups.values())


def _complete(outcome: list[dict[str, Any]], source: str, has_snapshots: bool) -> bool:
    for o in outcome:
        if isinstance(o, dict) and o.get("source") == source:
            return o.get("status") == "success" or o.get("error_category") not in INCOMPLETE_FETCH
    return has_snapshots  # no outcome recorded (an interrupted run): trust only a run that stored snapshots


def reprocess(app: App, selection: Selection, *, batch_positions: int = 50_000,
              progress: Callable[[str], None] | None = None) -> ReprocessReport:
    """Re-parse the selected runs; write in batches of about ``batch_positions`` positions, one transaction
    each."""
    with collector_paused():
        return _reprocess(app, selection, batch_positions, progress)


def _reprocess(app: App, selection: Selection, batch_positions: int,
               progress: Callable[[str], None] | None) -> ReprocessReport:
    report = ReprocessReport()
    t0 = time.monotonic()
    app.migrate()
    engine = app.engine
    settings = app.settings
    tolerance = Decimal(settings.reconcile_tolerance)
    sources: dict[str, BrokerSource | PortfolioError] = {}
    with engine.connect() as conn:
        runs = select_runs(conn, selection)
    report.runs = len(runs)
    batch = Batch()
    batch_runs, runs_left = 0, len(runs)
    for chunk in _chunks(runs, RUNS_PER_LOAD):
        outcomes = dict(chunk)
        with engine.connect() as conn:
            groups = _load_raws(conn, list(outcomes), report)
            stored = sources_with_snapshots(conn, list(outcomes))
        by_run: dict[uuid.UUID, list[_Group]] = defaultdict(list)
        for g in groups:
            if selection.sources and g.source not in selection.sources:
                continue
            if not _complete(outcomes[g.run_id], g.source, (g.run_id, g.source) in stored):
                report.skipped.append(f"run {g.run_id} {g.source}: its fetch did not complete")
                continue
            by_run[g.run_id].append(g)
        for run_id in outcomes:  # in run order (the raws come sorted by run id): the first run keeps a shared key
            runs_left -= 1
            run_groups = by_run.get(run_id)
            if not run_groups:
                continue
            _parse_run(app, run_id, run_groups, sources, tolerance, batch, report)
            batch_runs += 1
            if batch.positions >= batch_positions and not _takes_the_rest(batch, batch_runs, runs_left,
                                                                          batch_positions):
                _flush(engine, batch, report)
                batch, batch_runs = Batch(), 0
                gc.collect(1)
        if progress:
            progress(f"{report.groups} source capture(s), {report.positions_total} positions")
    _flush(engine, batch, report)
    report.seconds = time.monotonic() - t0
    log.info("reprocess (%s): %s", selection.describe(), report.text().replace("\n", ";"))
    return report


def _takes_the_rest(batch: Batch, batch_runs: int, runs_left: int, batch_positions: int) -> bool:
    """Whether a full batch should also take the runs that are left: when they would make a last batch of under a
    quarter of the size (estimated from this batch's runs), one transaction writes them all instead of a small
    trailing one paying the same fixed costs. The batch grows to at most 1.25 times its size."""
    left = runs_left * batch.positions / max(batch_runs, 1)
    return batch.positions + left <= batch_positions * 1.25


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _source(app: App, name: str, cache: dict[str, BrokerSource | PortfolioError]) -> BrokerSource | PortfolioError:
    if name not in cache:
        try:
            cache[name] = app.source_factory(name, app.settings)
        except PortfolioError as exc:
            cache[name] = exc
    return cache[name]


def _parse_run(app: App, run_id: uuid.UUID, groups: list[_Group], cache: dict[str, BrokerSource | PortfolioError],
               tolerance: Decimal, batch: Batch, report: ReprocessReport) -> None:
    settings = app.settings
    lookup = stored_lookup(app.engine)
    stored: dict[tuple[str, str, datetime], FxRate | None] = {}

    def cached(source_ccy: str, target_ccy: str, at: datetime) -> FxRate | None:
        # one query per currency and as-of, not per position (a run's snapshots share their as-ofs)
        key = (source_ccy, target_ccy, at)
        if key not in stored:
            stored[key] = lookup(source_ccy, target_ccy, at)
        return stored[key]

    chain = FxChain(settings.base_currency, settings.fx_max_age_delta, stored_lookup=cached)
    parsed: list[tuple[_Group, BrokerSource, ParseResult]] = []
    for g in groups:
        source = _source(app, g.source, cache)
        if isinstance(source, PortfolioError):
            report.failures.append(f"run {run_id} {g.source}: cannot build the parser: {source.user_message()}")
            continue
        try:
            result = source.parse(g.raws)
        except Exception as exc:  # recorded; the stored rows of this (run, source) stay as they are
            report.failures.append(f"run {run_id} {g.source}: {categorise(exc, g.source)}")
            continue
        chain.publish(result.fx_rates)  # every source's rates first: the result does not depend on order
        parsed.append((g, source, result))
    for g, source, result in parsed:
        try:
            valued = value_parsed(result, chain, tolerance, publish=False)
        except Exception as exc:
            report.failures.append(f"run {run_id} {g.source}: {categorise(exc, g.source)}")
            continue
        report.groups += 1
        report.parser_versions[g.source] = source.parser_version
        _add(batch, run_id, g, source.parser_version, settings.base_currency, result, valued)
        batch.flows.append((run_id, g.raws, valued.flows))


def _add(batch: Batch, run_id: uuid.UUID, group: _Group, parser_version: str, base_currency: str,
         parsed: ParseResult, valued: Valued) -> None:
    source = group.source
    batch.groups.append((run_id, source))
    batch.coverage.append((run_id, source, [coverage_dict(line) for line in valued.coverage]))
    batch.add_rates(parsed.fx_rates)
    for s in valued.snapshots:
        snap = s.snapshot
        batch.accounts.append(snap.account)
        raw = snap.source_raw
        row = snapshot_row(s, run_id=run_id, source=source, parser_version=parser_version,
                           base_currency=base_currency, raw_id=None if raw is None else group.stored_ids.get(id(raw)))
        positions = []
        for p in s.positions:
            batch.instruments[p.position.instrument.key] = p.position.instrument
            positions.append((p.position.instrument, p))
            if p.rate is not None:
                batch.add_rates((p.rate,))
        if s.total_rate is not None:
            batch.add_rates((s.total_rate,))
        batch.snapshots.append((row, positions))
        batch.positions += len(positions)
    if valued.trades:
        for t in valued.trades:
            batch.instruments[t.trade.instrument.key] = t.trade.instrument
            if t.rate is not None:
                batch.add_rates((t.rate,))
        batch.trades.append((run_id, valued))
    elif valued.fx_legs:
        batch.trades.append((run_id, valued))  # the conversion legs are written with the trades
    batch.add_rates(leg.rate for leg in valued.fx_legs if leg.rate is not None)


def _flush(engine: Engine, batch: Batch, report: ReprocessReport) -> None:
    if not batch.groups:
        return
    t0 = time.monotonic()
    report.merge(reprocess_writer.write(engine, batch))
    report.write_seconds += time.monotonic() - t0

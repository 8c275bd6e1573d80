"""The steps every capture path shares — the online capture, the offline (spool) capture, the spool replay and
reprocess: fetch a source with its failure categorised, then validate and value what it parsed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import psycopg
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from portfolio_dashboard.brokers.base import BrokerSource, FetchContext, RetryCounting
from portfolio_dashboard.brokers.safety import redact_raw
from portfolio_dashboard.domain import CoverageLine, FxRate, ParseResult, RawResponse, SourceOutcome
from portfolio_dashboard.domain.coverage import skip_warnings, unbalanced
from portfolio_dashboard.domain.fx_index import OwnRates
from portfolio_dashboard.domain.valuation import InvalidSnapshotError, ValuedSnapshot, validate, value
from portfolio_dashboard.errors import (
    DatabaseError,
    DatabaseUnavailableError,
    ParsingError,
    SourceError,
    ValidationError,
    scrub_secrets,
)
from portfolio_dashboard.services.flow_values import ValuedFlows, value_flows
from portfolio_dashboard.services.fx import Conversion, FxChain
from portfolio_dashboard.storage.engine import db_error_reason, is_connection_error
from portfolio_dashboard.storage.flows import FxLeg, describe, legs_of
from portfolio_dashboard.storage.repositories import Repository
from portfolio_dashboard.storage.writer import ValuedTrade

log = logging.getLogger(__name__)

DEMO_BROKER = "demo"  # the demo source's broker: the only accounts demo rates may value

Progress = Callable[[str, str], None]  # (source, state) — "fetching", "writing", "success", "fail"

# Stored rates a capture may use. Never the demo's: a made-up rate must not value a real account (the demo
# source brings its own rates with every parse, so it needs none stored).
TRUSTED_STORED_PROVIDERS = ("ib", "ib_flex", "ecb", "manual")


def stored_lookup(engine: Engine) -> Callable[[str, str, datetime], FxRate | None]:
    def lookup(source_ccy: str, target_ccy: str, at: datetime) -> FxRate | None:
        with engine.connect() as conn:
            found = Repository(conn).latest_fx_rate(source_ccy, target_ccy, at, TRUSTED_STORED_PROVIDERS)
        return None if found is None else found[1]

    return lookup


def categorise(exc: BaseException, source: str) -> SourceError | DatabaseError:
    if isinstance(exc, SourceError | DatabaseError):
        return exc
    if isinstance(exc, InvalidSnapshotError):
        return ValidationError(str(exc), source=source)
    if isinstance(exc, SQLAlchemyError | psycopg.Error):
        if is_connection_error(exc):
            return DatabaseUnavailableError(f"database unreachable: {db_error_reason(exc)}")
        return DatabaseError(f"database write failed: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    # Anything else escaped a parser or adapter: the body was not what the broker documents.
    log.error("%s: unexpected %s", source, type(exc).__name__, exc_info=exc)
    return ParsingError(f"unexpected {type(exc).__name__}: {scrub_secrets(str(exc))[:500]}", source=source)


@dataclass(slots=True)
class Valued:
    """A parse result validated and valued in the base currency, ready for ``write_source``."""

    snapshots: list[ValuedSnapshot] = field(default_factory=list)
    trades: list[ValuedTrade] = field(default_factory=list)
    fx_legs: list[FxLeg] = field(default_factory=list)  # currency conversions, one row per currency leg
    coverage: tuple[CoverageLine, ...] = ()
    warnings: list[str] = field(default_factory=list)
    flows: ValuedFlows = field(default_factory=ValuedFlows)  # money in and out, with the broker's statements


def validate_parsed(parsed: ParseResult) -> list[str]:
    """The warnings of validating what a parse returned, without valuing it (no stored rates to value with).

    Raises ``InvalidSnapshotError`` for a snapshot that must not be stored, as ``value_parsed`` would."""
    warnings: list[str] = []
    for snap in parsed.snapshots:
        _checked, found = validate(snap)
        warnings.extend(w for w in found if w not in warnings)
    return warnings


def value_parsed(parsed: ParseResult, chain: FxChain, tolerance: Decimal, *, publish: bool = True) -> Valued:
    """Validate and value what a parse returned (shared by capture, spool replay and reprocess).

    Raises ``InvalidSnapshotError`` for a snapshot that must not be stored.
    """
    out = Valued(coverage=parsed.coverage)
    if publish:
        chain.publish(parsed.fx_rates)
    out.warnings.extend(parsed.warnings)
    # Every skipped row is a warning (parsers add these; repeated here so no parser can forget), and a row
    # that vanished without a reason is said loudly: the record must account for every row.
    out.warnings.extend(w for w in skip_warnings(parsed.coverage) if w not in out.warnings)
    for line in unbalanced(parsed.coverage):
        out.warnings.append(f"{line.section}: {line.seen} row(s) seen but {line.parsed} parsed and {line.skipped} "
                            "skipped: rows unaccounted for")
    own = OwnRates(parsed.fx_rates)  # a long history of own rates must not be scanned for every position

    def conversion(currency: str, at: datetime, broker: str) -> Conversion:
        # provenance: the demo's made-up rates value the demo's accounts only
        return chain.conversion(currency, at, own.near(currency, chain.base, at), allow_demo=broker == DEMO_BROKER)

    for snap in parsed.snapshots:
        checked, warnings = validate(snap)
        out.warnings.extend(warnings)

        def convert(currency: str, at: datetime, broker: str = snap.account.broker
                    ) -> tuple[Decimal | None, FxRate | None, str | None]:
            conv = conversion(currency, at, broker)
            return conv.factor, conv.rate, conv.warning

        out.snapshots.append(value(checked, convert, tolerance))
    for t in parsed.trades:
        conv = conversion(t.currency, t.trade_ts, t.broker)
        out.trades.append(ValuedTrade(t, conv.convert(t.amount_local), conv.rate))
    for c in parsed.fx_conversions:
        for flow_id, currency, amount in legs_of(c):
            conv = conversion(currency, c.ts, c.broker)
            if conv.warning and conv.warning not in out.warnings:
                out.warnings.append(conv.warning)
            out.fx_legs.append(FxLeg(c.broker, c.broker_account_id, flow_id, c.ts, currency, amount,
                                     conv.convert(amount), conv.rate, describe(c)))
    out.flows = value_flows(parsed, chain, own)
    out.warnings.extend(out.flows.warnings)
    for v in out.snapshots:
        out.warnings.extend(w for w in v.warnings if w not in out.warnings)
    return out


def fetch_source(name: str, source: BrokerSource, raws: list[RawResponse], ctx: FetchContext,
                 outcome: SourceOutcome) -> SourceError | DatabaseError | None:
    """Run a source's fetch, keeping every response in ``raws``; time it, count retries, categorise a failure."""
    t0 = time.monotonic()
    error: SourceError | DatabaseError | None = None
    try:
        # Secrets a broker echoes in an error body are removed before the response is kept anywhere
        # (raw_payloads, the spool, the dashboard).
        source.fetch(lambda raw: raws.append(redact_raw(raw)), ctx)
    except Exception as exc:  # categorised and recorded, never lost
        error = categorise(exc, name)
    outcome.fetch_seconds = round(time.monotonic() - t0, 3)
    if isinstance(source, RetryCounting):
        outcome.retries = source.retries
    log.info("%s: fetched %d response(s) in %.2fs (%d retries)%s", name, len(raws), outcome.fetch_seconds,
             outcome.retries, "" if error is None else " before failing")
    return error

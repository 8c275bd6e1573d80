"""Valuing what a source said moved in or out of its accounts in GBP, and checking it against the broker's own
statement of the period — the flow half of ``pipeline.value_parsed``, shared by capture, replay and reprocess.

A flow is valued at the rate of its own date, never today's:
  1. the broker's own ``fx_rate_to_base`` when the account's base currency is GBP (IBKR states it per row);
  2. otherwise the FX chain (the source's own rates, this run's, a stored rate at or before the flow, ECB);
  3. a simulated demo rate is never used for a real account: ECB's is used instead, or none.
Without a rate ``amount_gbp`` stays empty and the run says so.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from portfolio_dashboard.domain import (
    CashFlow,
    CorporateAction,
    DividendAccrual,
    FxRate,
    Instrument,
    NavChange,
    ParseResult,
    RawResponse,
)
from portfolio_dashboard.domain.flow_checks import reconcile
from portfolio_dashboard.domain.fx_index import OwnRates
from portfolio_dashboard.services.fx import FxChain, factor_for, find_rate
from portfolio_dashboard.storage import flows as flow_store
from portfolio_dashboard.storage.engine import db_error_reason
from portfolio_dashboard.storage.flows import FlowRow, RawFinder
from portfolio_dashboard.storage.fx_rate_writes import fx_key
from portfolio_dashboard.storage.mapping import assign_global_instruments
from portfolio_dashboard.storage.repositories import Repository

log = logging.getLogger(__name__)

DEMO_BROKER = "demo"
# The provider a broker's own per-row rate is stored under (IBKR's fxRateToBase is the Flex statement's).
RATE_PROVIDERS = {"ib": "ib_flex"}


@dataclass(frozen=True, slots=True)
class ValuedFlow:
    flow: CashFlow
    amount_gbp: Decimal | None
    rate: FxRate | None  # the rate to store and reference; None for GBP flows and flows without a rate


@dataclass(slots=True)
class ValuedFlows:
    flows: list[ValuedFlow] = field(default_factory=list)
    corporate_actions: Sequence[CorporateAction] = ()
    nav_changes: Sequence[NavChange] = ()
    dividend_accruals: Sequence[DividendAccrual] = ()
    warnings: list[str] = field(default_factory=list)

    @property
    def rates(self) -> list[FxRate]:
        return [v.rate for v in self.flows if v.rate is not None]


def _broker_rate(flow: CashFlow, account_base: str | None, base: str) -> FxRate | None:
    if flow.fx_rate_to_base is None or flow.fx_rate_to_base <= 0 or account_base != base:
        return None
    provider = RATE_PROVIDERS.get(flow.broker, flow.broker)
    return FxRate(flow.currency, base, flow.fx_rate_to_base, flow.flow_ts, provider)


def value_flow(flow: CashFlow, account_base: str | None, chain: FxChain, own: OwnRates) -> ValuedFlow:
    if flow.currency == chain.base:
        return ValuedFlow(flow, flow.amount_local, None)
    rate = _broker_rate(flow, account_base, chain.base)
    if rate is None and flow.broker == DEMO_BROKER:
        rate = _demo_rate(flow, chain, own)
    elif rate is None:
        rate = chain.conversion(flow.currency, flow.flow_ts, own.near(flow.currency, chain.base, flow.flow_ts)).rate
        if rate is not None and (rate.provider.startswith(DEMO_BROKER) or not _of_the_day(rate, flow, chain)):
            # simulated rates never value real money, and a flow is valued at its own date's rate: else ECB's
            rate = chain.reference_rate(flow.currency, flow.flow_ts)
        if rate is not None and not _of_the_day(rate, flow, chain):
            rate = None
    if rate is None:
        return ValuedFlow(flow, None, None)
    return ValuedFlow(flow, flow.amount_local * factor_for(rate, flow.currency), rate)


def _of_the_day(rate: FxRate, flow: CashFlow, chain: FxChain) -> bool:
    """A rate close enough to the flow to be "that day's" (``FX_MAX_AGE``: a weekend or holiday uses the last
    business day's rate); a rate weeks away would value a dividend at the wrong month's rate."""
    return abs(rate.asof_ts - flow.flow_ts) <= chain.max_age


def _demo_rate(flow: CashFlow, chain: FxChain, own: OwnRates) -> FxRate | None:
    """The demo's own simulated rate nearest the flow (its document's, or a stored demo day's): the demo never
    asks the public reference provider (a demo must work offline)."""
    candidates = [r for r in (find_rate(own.near(flow.currency, chain.base, flow.flow_ts), flow.currency,
                                        chain.base, flow.flow_ts),
                              chain.stored_lookup(flow.currency, chain.base, flow.flow_ts)
                              if chain.stored_lookup is not None else None) if r is not None]
    return min(candidates, key=lambda r: abs(r.asof_ts - flow.flow_ts), default=None)


def value_flows(parsed: ParseResult, chain: FxChain, own: OwnRates | None = None) -> ValuedFlows:
    """Every flow of ``parsed`` valued in the chain's base currency, plus the ChangeInNAV cross-check."""
    bases = {(s.account.broker, s.account.broker_account_id): s.account.base_currency for s in parsed.snapshots}
    # the broker's per-row rates into GBP (GBP-based accounts) value the same currency's flows of its other
    # accounts that day too, so a flow's GBP value does not depend on what an earlier capture stored
    stated = [r for f in parsed.cash_flows
              if (r := _broker_rate(f, bases.get((f.broker, f.broker_account_id)), chain.base)) is not None]
    own = OwnRates([*parsed.fx_rates, *stated]) if stated or own is None else own
    out = ValuedFlows(corporate_actions=parsed.corporate_actions, nav_changes=parsed.nav_changes,
                      dividend_accruals=parsed.dividend_accruals)
    missing: dict[str, int] = {}
    for flow in parsed.cash_flows:
        valued = value_flow(flow, bases.get((flow.broker, flow.broker_account_id)), chain, own)
        out.flows.append(valued)
        if valued.amount_gbp is None:
            missing[flow.currency] = missing.get(flow.currency, 0) + 1
    for ccy, count in sorted(missing.items()):
        out.warnings.append(f"{count} cash flow(s) in {ccy} have no {ccy}->{chain.base} rate of their date; "
                            f"their {chain.base} amount is left empty")
    for nav in parsed.nav_changes:
        out.warnings.extend(nav_warnings(parsed.cash_flows, nav))
    return out


def nav_warnings(flows: Sequence[CashFlow], nav: NavChange) -> list[str]:
    """One warning per ChangeInNAV figure our flows do not match to the penny (figures the query omits are
    not compared)."""
    out = []
    for check in reconcile(flows, nav):
        if check.broker_value is None or check.matches:
            continue
        extra = f" ({check.unconverted} flow(s) without the broker's rate)" if check.unconverted else ""
        out.append(f"{nav.broker}:{nav.broker_account_id} {nav.from_date}..{nav.to_date}: our {check.figure} "
                   f"{check.ours} differ from the broker's ChangeInNAV {check.broker_value}{extra}")
    return out


def store_flows(conn: Connection, run_id: uuid.UUID, raws: Sequence[RawResponse], valued: ValuedFlows) -> int:
    """Write a source's flows, corporate actions, period statements and accruals inside the caller's
    transaction (with the securities and rates they name); return how many cash flows were stored or filled in.
    """
    repo = Repository(conn)
    instruments = {i.key: i for i in flow_instruments(valued)}
    ids, mapped = repo.upsert_instruments_mapped(instruments.values())
    assign_global_instruments(conn, ids, instruments, mapped)
    rate_ids = repo.upsert_fx_rates(valued.rates)
    finder = RawFinder(run_id, raws)
    accounts = {(v.flow.broker, v.flow.broker_account_id) for v in valued.flows}
    accounts |= {(x.broker, x.broker_account_id) for x in valued.corporate_actions}
    accounts |= {(x.broker, x.broker_account_id) for x in valued.nav_changes}
    accounts |= {(x.broker, x.broker_account_id) for x in valued.dividend_accruals}
    flow_store.ensure_accounts(conn, accounts)
    rows = [FlowRow(v.flow, v.amount_gbp, None if v.rate is None else rate_ids[fx_key(v.rate)])
            for v in valued.flows]
    written = flow_store.upsert_cash_flows(conn, run_id, rows, ids, finder)
    flow_store.upsert_corporate_actions(conn, run_id, valued.corporate_actions, ids, finder)
    flow_store.upsert_nav_changes(conn, run_id, valued.nav_changes, finder)
    # an accrual is as of the response that reported it (a replay or reprocess must not make it newer)
    reported_at = max((r.received_at for r in raws), default=None) or datetime.now(UTC)
    flow_store.upsert_dividend_accruals(conn, run_id, valued.dividend_accruals, ids, reported_at, finder)
    return written


def flow_instruments(valued: ValuedFlows) -> list[Instrument]:
    """The securities the flows name."""
    found = [v.flow.instrument for v in valued.flows if v.flow.instrument is not None]
    found += [a.instrument for a in valued.corporate_actions if a.instrument is not None]
    found += [a.instrument for a in valued.dividend_accruals]
    return found


def newest_flow_lookup(engine: Engine) -> Callable[[str, str], datetime | None]:
    """``FetchContext.newest_flow_ts``: where an incremental flow fetch (Schwab's) starts."""

    def lookup(broker: str, account: str) -> datetime | None:
        try:
            with engine.connect() as conn:
                return flow_store.newest_flow_ts(conn, broker, account)
        except SQLAlchemyError as exc:
            # Without it a source fetches its configured history: slower, never wrong (flows are upserted).
            log.warning("newest stored flow unknown (%s); fetching the full flow window", db_error_reason(exc))
            return None

    return lookup

"""Read models for a statement and the realised-gains view: the accounts, holdings at a moment, and the trades
that realised a gain or loss (the broker's own figure, IB ``fifoPnlRealized``, stored as ``realized_pnl``).

Holdings at a moment are each account's newest stored snapshot at or before it (the time machine's rule), with
the rate that turned each value into GBP and the raw response the snapshot was read from (see
``storage.reads.exports`` for how a snapshot names its response).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Connection, text

from portfolio_dashboard.storage.reads.exports import snapshot_sha_sql
from portfolio_dashboard.storage.reads.scope import TZ_SQL, Scope, latest_sql


@dataclass(frozen=True, slots=True)
class StatementAccountRow:
    broker: str
    account_id: str
    wrapper: str | None
    currency: str | None


@dataclass(frozen=True, slots=True)
class HoldingRow:
    broker: str
    account_id: str
    snapshot_id: str
    asof_ts: datetime
    day: date
    security: str
    isin: str | None
    quantity: Decimal
    price: Decimal | None
    currency: str
    value_local: Decimal
    value_gbp: Decimal | None
    fx_rate: Decimal | None  # GBP per unit, as applied (value_gbp / value_local)
    fx_provider: str | None  # the stored rate's provider, when the position names one
    source_sha256: str | None


@dataclass(frozen=True, slots=True)
class RealisedTrade:
    broker: str
    account_id: str
    broker_trade_id: str
    trade_ts: datetime
    day: date  # in the portfolio's time zone
    security: str
    isin: str | None
    quantity: Decimal  # signed, as the broker reports it
    currency: str
    amount_local: Decimal | None  # signed cash effect (proceeds of a sale are positive)
    commission_local: Decimal | None
    realised_local: Decimal  # the broker's realised P&L
    fx_rate: Decimal | None  # GBP per unit at the trade date, where the trade carries a GBP amount
    source_sha256: str | None


def statement_accounts(conn: Connection) -> list[StatementAccountRow]:
    rows = conn.execute(text(
        "SELECT broker, broker_account_id, wrapper, base_currency FROM broker_accounts ORDER BY 1, 2"))
    return [StatementAccountRow(*r) for r in rows]


_HOLDINGS_SQL = f"""
WITH {latest_sql("l", asof=True)}
SELECT l.broker, l.broker_account_id, l.id::text, l.asof_ts, (l.asof_ts AT TIME ZONE {TZ_SQL})::date,
       COALESCE(i.symbol, i.name, i.broker_instrument_id), i.isin, p.quantity,
       COALESCE(p.price_local, p.market_value_local / NULLIF(p.quantity, 0)), COALESCE(i.currency, '?'),
       p.market_value_local, p.market_value_gbp,
       trim_scale(round(p.market_value_gbp / NULLIF(p.market_value_local, 0), 18)), f.provider,
       {snapshot_sha_sql("l")}
FROM l
JOIN positions p ON p.snapshot_id = l.id
JOIN instruments i ON i.id = p.instrument_id
LEFT JOIN fx_rates f ON f.id = p.fx_rate_id
ORDER BY l.broker, l.broker_account_id, p.market_value_gbp DESC NULLS LAST, 6
"""  # noqa: S608 - constants only


def holdings_at(conn: Connection, at: datetime, scope: Scope | None = None) -> list[HoldingRow]:
    """Every position of each account's newest snapshot at or before ``at``."""
    params = {**(scope or Scope()).params(), "asof": at}
    return [HoldingRow(*r) for r in conn.execute(text(_HOLDINGS_SQL), params)]


_REALISED_SQL = f"""
SELECT t.broker, t.broker_account_id, t.broker_trade_id, t.trade_ts, (t.trade_ts AT TIME ZONE {TZ_SQL})::date,
       COALESCE(i.symbol, i.name, i.broker_instrument_id, '?'), i.isin, t.quantity,
       COALESCE(t.currency, i.currency, '?'), t.amount_local, t.commission, t.realized_pnl,
       trim_scale(round(t.amount_gbp / NULLIF(t.amount_local, 0), 18)),
       (SELECT r.content_sha256 FROM raw_payloads r WHERE r.run_id = t.run_id AND r.broker = t.broker
        ORDER BY r.received_at, r.id LIMIT 1)
FROM trades t
LEFT JOIN instruments i ON i.id = t.instrument_id
WHERE t.realized_pnl IS NOT NULL AND t.realized_pnl <> 0
  AND (CAST(:start AS date) IS NULL OR (t.trade_ts AT TIME ZONE {TZ_SQL})::date >= CAST(:start AS date))
  AND (CAST(:end AS date) IS NULL OR (t.trade_ts AT TIME ZONE {TZ_SQL})::date <= CAST(:end AS date))
ORDER BY t.trade_ts, t.broker, t.broker_account_id, t.broker_trade_id
"""  # noqa: S608 - constants only


def realised_trades(conn: Connection, start: date | None = None, end: date | None = None) -> list[RealisedTrade]:
    """Trades with a realised gain or loss reported by the broker, oldest first."""
    return [RealisedTrade(*r) for r in conn.execute(text(_REALISED_SQL), {"start": start, "end": end})]

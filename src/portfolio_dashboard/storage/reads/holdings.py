"""Read queries that show every amount in two currencies side by side: each holding and each account in GBP
and in USD (a UK investor with US accounts reads both), plus the display currency for totals.

The GBP value is the one stored at capture (at that moment's rate); USD is that GBP value at the stored
GBP->USD rate nearest at or before the snapshot (``scope.factor_sql``), the same rule every other read uses.
A holding's rate to GBP is its stored GBP value over its local value (the rate the capture used).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, text

from portfolio_dashboard.storage.reads.scope import Scope, demo_only, factor_sql, latest_sql

SECOND = "USD"  # the currency shown beside GBP


def _factor(at: str, param: str) -> str:
    """``factor_sql`` towards the currency bound as ``param`` instead of ``:ccy``."""
    return factor_sql(at).replace(":ccy", f":{param}")


@dataclass(frozen=True, slots=True)
class Holding:
    broker: str
    broker_account_id: str
    wrapper: str | None
    asof_ts: datetime
    global_instrument_id: uuid.UUID
    symbol: str | None
    name: str | None
    asset_class: str | None
    currency: str | None
    quantity: Decimal
    price_local: Decimal | None
    value_local: Decimal
    cost_basis: Decimal | None  # local currency
    pnl_local: Decimal | None  # broker-reported, else value - cost basis
    fx_gbp: Decimal | None  # GBP per one unit of the holding's currency
    fx_usd: Decimal | None  # USD per one unit of the holding's currency
    value_gbp: Decimal | None
    value_usd: Decimal | None
    value: Decimal | None  # display currency
    pnl_gbp: Decimal | None
    pnl_usd: Decimal | None
    pnl: Decimal | None  # display currency
    pnl_pct: Decimal | None  # fraction of cost basis
    weight: Decimal | None  # of the GBP value of everything in scope
    snapshot_id: uuid.UUID | None = None  # the stored snapshot it comes from (traceability)


@dataclass(frozen=True, slots=True)
class AccountLine:
    broker: str
    broker_account_id: str
    name: str | None
    wrapper: str | None
    currency: str | None
    asof_ts: datetime
    value_local: Decimal | None
    value_gbp: Decimal | None
    value_usd: Decimal | None
    weight: Decimal | None  # of the GBP total in scope


@dataclass(frozen=True, slots=True)
class HoldingStats:
    """The Overview's position headlines, in the display currency."""

    positions: int
    average: Decimal | None  # mean position value (positions without a value are left out)
    unrealised_pnl: Decimal | None  # sum over positions that have a P&L
    without_pnl: int  # positions with no cost basis or P&L from the broker


def _holdings_sql(asof: bool) -> str:
    return f"""
WITH {latest_sql("l", asof=asof)},
rows AS (
    SELECT l.id AS snapshot_id, l.broker, l.broker_account_id, a.wrapper, l.asof_ts,
           COALESCE(m.global_instrument_id, i.id) AS gid,
           i.symbol, i.name, i.asset_class, i.currency, p.quantity, p.price_local, p.market_value_local AS vl,
           p.cost_basis, COALESCE(p.unrealized_pnl, p.market_value_local - p.cost_basis) AS pnl_local,
           CASE WHEN i.currency = :base THEN 1::numeric
                ELSE p.market_value_gbp / NULLIF(p.market_value_local, 0) END AS fx_gbp,
           p.market_value_gbp AS vg,
           {_factor("l.asof_ts", "second")} AS f_second,
           {factor_sql("l.asof_ts")} AS f_display
    FROM l
    JOIN positions p ON p.snapshot_id = l.id
    JOIN instruments i ON i.id = p.instrument_id
    LEFT JOIN instrument_mapping m ON m.instrument_id = p.instrument_id
    LEFT JOIN broker_accounts a ON a.broker = l.broker AND a.broker_account_id = l.broker_account_id
)
SELECT broker, broker_account_id, wrapper, asof_ts, gid, symbol, name, asset_class, currency, quantity,
       price_local, vl, cost_basis, pnl_local,
       fx_gbp, fx_gbp * f_second,
       vg, vg * f_second, vg * f_display,
       pnl_local * fx_gbp, pnl_local * fx_gbp * f_second, pnl_local * fx_gbp * f_display,
       pnl_local / NULLIF(cost_basis, 0),
       vg / NULLIF(sum(vg) OVER (), 0), snapshot_id
FROM rows
ORDER BY vg DESC NULLS LAST, symbol
"""  # noqa: S608 - built from code constants only; values are bound parameters


_HOLDINGS_SQL = {asof: _holdings_sql(asof) for asof in (False, True)}

def _accounts_sql(asof: bool) -> str:
    return f"""
WITH {latest_sql("l", asof=asof)}
SELECT l.broker, l.broker_account_id, COALESCE(a.display_name, a.name), a.wrapper, l.account_currency, l.asof_ts,
       l.total_value_local, l.total_value_gbp, l.total_value_gbp * {_factor("l.asof_ts", "second")},
       l.total_value_gbp / NULLIF(sum(l.total_value_gbp) OVER (), 0)
FROM l
LEFT JOIN broker_accounts a ON a.broker = l.broker AND a.broker_account_id = l.broker_account_id
ORDER BY l.total_value_gbp DESC NULLS LAST, l.broker, l.broker_account_id
"""  # noqa: S608 - built from code constants only; values are bound parameters


_ACCOUNTS_SQL = {asof: _accounts_sql(asof) for asof in (False, True)}


def _params(conn: Connection, scope: Scope, currency: str, base: str, asof: datetime | None) -> dict[str, object]:
    allow_demo = demo_only(conn)
    return {**scope.params(), "ccy": currency, "second": SECOND, "base": base, "allow_demo": allow_demo,
            "asof": asof}


def holdings(conn: Connection, scope: Scope, currency: str = "GBP", base: str = "GBP",
             asof: datetime | None = None) -> list[Holding]:
    """Every position of the latest snapshot (at or before ``asof``, the time machine) of each account in scope,
    in local, GBP, USD and display currency; largest first."""
    sql = _HOLDINGS_SQL[asof is not None]
    return [Holding(*r) for r in conn.execute(text(sql), _params(conn, scope, currency, base, asof))]


def account_lines(conn: Connection, scope: Scope, base: str = "GBP", asof: datetime | None = None) -> list[AccountLine]:
    """The latest snapshot (at or before ``asof``) of each account in scope with its wrapper, in GBP and USD,
    largest first."""
    sql = _ACCOUNTS_SQL[asof is not None]
    return [AccountLine(*r) for r in conn.execute(text(sql), _params(conn, scope, base, base, asof))]


def stats(lines: list[Holding]) -> HoldingStats:
    """Count, mean size and total unrealised P&L of the investments in ``lines`` (cash balances are positions
    in storage but not what a reader counts as a position), in their display currency."""
    held = [h for h in lines if h.asset_class != "cash"]
    valued = [h.value for h in held if h.value is not None]
    pnls = [h.pnl for h in held if h.pnl is not None]
    return HoldingStats(
        positions=len(held),
        average=sum(valued, Decimal(0)) / len(valued) if valued else None,
        unrealised_pnl=sum(pnls, Decimal(0)) if pnls else None,
        without_pnl=len(held) - len(pnls),
    )

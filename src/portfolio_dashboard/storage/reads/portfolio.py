"""Read queries for the dashboard's portfolio pages: overview, value over time, positions, allocation.

Each query reads the views or index-backed lookups only (the first Overview render must not scan the
positions table): totals come from snapshots, positions from the latest snapshot per account through the
positions primary key, an instrument's history through ``positions_instrument_idx``. Amounts are Decimal;
``display`` amounts are in the requested display currency (see ``read_scope``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Connection, text

from portfolio_dashboard.storage.reads.portfolio_types import (
    AccountInfo,
    AccountValue,
    AllocationSlice,
    BrokerValue,
    Change,
    HistoryPoint,
    PositionLine,
    SeriesPoint,
    Summary,
)
from portfolio_dashboard.storage.reads.scope import TZ_SQL, Scope, demo_only, factor_sql, latest_sql, scope_sql

__all__ = [
    "AccountInfo", "AccountValue", "AllocationSlice", "BrokerValue", "Change", "Dimension", "HistoryPoint",
    "PositionLine", "SeriesPoint", "Summary", "accounts", "allocation", "has_snapshots", "instrument_history",
    "latest_positions", "portfolio_series", "portfolio_summary",
]


Dimension = Literal["instrument", "asset_class", "currency", "broker", "account"]

_GROUPS: dict[str, tuple[str, str]] = {
    # dimension -> (group key expression, label expression) over the latest_positions CTE
    "instrument": ("lp.global_instrument_id::text", "min(lp.global_label)"),
    "asset_class": ("COALESCE(lp.asset_class, 'unknown')", "COALESCE(lp.asset_class, 'unknown')"),
    "currency": ("COALESCE(lp.currency, '?')", "COALESCE(lp.currency, '?')"),
    "broker": ("lp.broker", "lp.broker"),
    "account": ("lp.broker || '/' || lp.broker_account_id", "lp.broker || '/' || lp.broker_account_id"),
}


def _conversion_params(conn: Connection, currency: str, base: str) -> dict[str, Any]:
    allow_demo = demo_only(conn)
    return {"ccy": currency, "base": base, "allow_demo": allow_demo}


def has_snapshots(conn: Connection) -> bool:
    return conn.execute(text("SELECT EXISTS (SELECT 1 FROM snapshots)")).scalar() is True


def accounts(conn: Connection) -> list[AccountInfo]:
    """Every account with its snapshot span (for the filters)."""
    rows = conn.execute(
        text(
            """SELECT a.broker, a.broker_account_id, a.name, a.base_currency, s.first_asof, s.last_asof
               FROM broker_accounts a
               LEFT JOIN LATERAL (
                   SELECT (SELECT asof_ts FROM snapshots x WHERE x.broker = a.broker
                             AND x.broker_account_id = a.broker_account_id ORDER BY asof_ts LIMIT 1) AS first_asof,
                          (SELECT asof_ts FROM snapshots x WHERE x.broker = a.broker
                             AND x.broker_account_id = a.broker_account_id ORDER BY asof_ts DESC LIMIT 1)
                             AS last_asof
               ) s ON true
               ORDER BY a.broker, a.broker_account_id"""
        )
    )
    return [AccountInfo(*r) for r in rows]


def _summary_sql(asof: bool) -> str:
    return f"""
WITH {latest_sql(asof=asof)},
day_start AS (
    -- midnight (portfolio time zone) starting the day of the newest snapshot in scope
    SELECT (date_trunc('day', max(asof_ts) AT TIME ZONE {TZ_SQL}) AT TIME ZONE {TZ_SQL}) AS ts,
           max(asof_ts) AS newest
    FROM latest
)
SELECT l.broker, l.broker_account_id, a.name, l.account_currency, l.asof_ts, l.total_value_local,
       l.total_value_gbp, l.fx_complete,
       prev.asof_ts, prev.total_value_gbp * {factor_sql("prev.asof_ts")},
       yday.asof_ts, yday.total_value_gbp * {factor_sql("ds.ts")},
       l.total_value_gbp * {factor_sql("ds.newest")},
       {factor_sql("ds.newest")}, l.id
FROM latest l
CROSS JOIN day_start ds
LEFT JOIN broker_accounts a ON a.broker = l.broker AND a.broker_account_id = l.broker_account_id
LEFT JOIN LATERAL (
    SELECT s.asof_ts, s.total_value_gbp FROM snapshots s
    WHERE s.broker = l.broker AND s.broker_account_id = l.broker_account_id AND s.asof_ts < l.asof_ts
    ORDER BY s.asof_ts DESC LIMIT 1
) prev ON true
LEFT JOIN LATERAL (
    SELECT s.asof_ts, s.total_value_gbp FROM snapshots s
    WHERE s.broker = l.broker AND s.broker_account_id = l.broker_account_id AND s.asof_ts < ds.ts
    ORDER BY s.asof_ts DESC LIMIT 1
) yday ON true
ORDER BY l.broker, l.broker_account_id
"""  # noqa: S608 - built from code constants only; values are bound parameters


# Two fixed texts: the latest view keeps its own plan, the time machine adds one bound ``:asof`` predicate.
_SUMMARY_SQL = _summary_sql(False)
_SUMMARY_ASOF_SQL = _summary_sql(True)


def _change(now: Decimal, before: Decimal, since: datetime | None) -> Change:
    delta = now - before
    return Change(delta, delta / before if before else None, since)


def _asof_params(asof: datetime | None) -> dict[str, Any]:
    if asof is not None and asof.tzinfo is None:
        raise ValueError("asof must be timezone-aware")
    return {} if asof is None else {"asof": asof}


def portfolio_summary(conn: Connection, scope: Scope, currency: str = "GBP", base: str = "GBP",
                      asof: datetime | None = None) -> Summary:
    """Total value now, the change since the previous day and since each account's previous snapshot.

    * previous day: every account's latest snapshot before midnight starting the newest snapshot's day
      (forward-filled like ``daily_account_value``; an account that did not exist then counts as zero);
    * previous snapshot: the sum over accounts of (latest - that account's previous snapshot).

    With ``asof``, "latest" is each account's newest stored snapshot at or before that moment.
    """
    params = {**scope.params(), **_conversion_params(conn, currency, base), **_asof_params(asof)}
    rows = conn.execute(text(_SUMMARY_ASOF_SQL if asof is not None else _SUMMARY_SQL), params).all()
    accts: list[AccountValue] = []
    yday_values: list[tuple[datetime, Decimal]] = []
    for r in rows:
        accts.append(AccountValue(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[12], r[8], r[9], r[7], r[14]))
        if r[10] is not None and r[11] is not None:
            yday_values.append((r[10], r[11]))
    rate = rows[0][13] if rows else None
    rate_missing = bool(rows) and currency != base and rate is None
    valued = [a.value for a in accts if a.value is not None]
    total = sum(valued, Decimal(0)) if valued else None
    gbp = [a.value_gbp for a in accts if a.value_gbp is not None]
    change_day = None
    change_snapshot = None
    missing = sum(1 for a in accts if a.value is None)
    if total is not None and missing == 0:
        if yday_values:
            change_day = _change(total, sum((v for _t, v in yday_values), Decimal(0)),
                                 max(t for t, _v in yday_values))
        pairs = [(a.value, a.previous_value) for a in accts
                 if a.value is not None and a.previous_value is not None]
        if pairs:
            since = max((a.previous_asof for a in accts if a.previous_asof is not None), default=None)
            change_snapshot = _change(sum((n for n, _p in pairs), Decimal(0)),
                                      sum((p for _n, p in pairs), Decimal(0)), since)
    by_broker: dict[str, list[AccountValue]] = {}
    for a in accts:
        by_broker.setdefault(a.broker, []).append(a)
    brokers = [
        BrokerValue(b, len(items), sum((a.value for a in items if a.value is not None), Decimal(0))
                    if any(a.value is not None for a in items) else None)
        for b, items in sorted(by_broker.items())
    ]
    return Summary(
        currency=currency, rate=rate, rate_missing=rate_missing, total=total,
        total_gbp=sum(gbp, Decimal(0)) if gbp else None,
        asof=max((a.asof_ts for a in accts), default=None),
        oldest_asof=min((a.asof_ts for a in accts), default=None),
        accounts_without_value=missing, change_day=change_day, change_snapshot=change_snapshot,
        accounts=accts, brokers=brokers, at=asof,
    )


def _series_sql(asof: bool) -> str:
    bound = "AND v.day <= :asof_day" if asof else ""
    return f"""
WITH d AS (
    SELECT v.day, v.broker, v.broker_account_id, v.total_value_gbp
    FROM daily_account_value v WHERE {scope_sql("v")} {bound}
),
agg AS (
    SELECT day,
           CASE WHEN :by_account THEN broker END AS broker,
           CASE WHEN :by_account THEN broker_account_id END AS broker_account_id,
           sum(total_value_gbp) AS value_gbp,
           count(*)::integer AS accounts,
           (count(*) FILTER (WHERE total_value_gbp IS NULL))::integer AS missing
    FROM d GROUP BY 1, 2, 3
),
days AS (
    SELECT day, {factor_sql(f"((day + 1)::timestamp AT TIME ZONE {TZ_SQL})")} AS factor
    FROM (SELECT DISTINCT day FROM agg) x
)
SELECT agg.day, agg.broker, agg.broker_account_id,
       CASE WHEN agg.missing = 0 THEN agg.value_gbp END,
       CASE WHEN agg.missing = 0 THEN agg.value_gbp * days.factor END,
       agg.accounts, agg.missing
FROM agg JOIN days USING (day)
ORDER BY agg.day, agg.broker, agg.broker_account_id
"""  # noqa: S608 - built from code constants only; values are bound parameters


_SERIES_SQL = _series_sql(False)
_SERIES_ASOF_SQL = _series_sql(True)


def portfolio_series(conn: Connection, scope: Scope, currency: str = "GBP", *, by_account: bool = False,
                     base: str = "GBP", asof_day: date | None = None) -> list[SeriesPoint]:
    """Daily value (``daily_account_value``: each account forward-filled), summed or per account.

    A day on which some account lacks a GBP value has ``value`` None: a partial sum would show a false drop.
    ``asof_day`` ends the series on that (portfolio time zone) day.
    """
    params = {**scope.params(), **_conversion_params(conn, currency, base), "by_account": by_account}
    if asof_day is not None:
        params["asof_day"] = asof_day
    sql = _SERIES_ASOF_SQL if asof_day is not None else _SERIES_SQL
    return [SeriesPoint(*r) for r in conn.execute(text(sql), params)]


def _positions_sql(asof: bool) -> str:
    return f"""
WITH {latest_sql("l", asof=asof)}
SELECT l.broker, l.broker_account_id, l.asof_ts, i.id, COALESCE(m.global_instrument_id, i.id),
       i.symbol, i.name, i.asset_class, i.currency,
       p.quantity, p.price_local, p.market_value_local, p.market_value_gbp,
       p.market_value_gbp * {factor_sql("l.asof_ts")},
       p.cost_basis, pnl.local,
       pnl.local * p.market_value_gbp / NULLIF(p.market_value_local, 0),
       pnl.local / NULLIF(p.cost_basis, 0),
       p.market_value_gbp / NULLIF(sum(p.market_value_gbp) OVER (), 0), l.id
FROM l
JOIN positions p ON p.snapshot_id = l.id
JOIN instruments i ON i.id = p.instrument_id
LEFT JOIN instrument_mapping m ON m.instrument_id = p.instrument_id
CROSS JOIN LATERAL (SELECT COALESCE(p.unrealized_pnl, p.market_value_local - p.cost_basis) AS local) pnl
ORDER BY p.market_value_gbp DESC NULLS LAST, i.symbol
"""  # noqa: S608 - built from code constants only; values are bound parameters


_POSITIONS_SQL = _positions_sql(False)
_POSITIONS_ASOF_SQL = _positions_sql(True)


def latest_positions(conn: Connection, scope: Scope, currency: str = "GBP", base: str = "GBP",
                     asof: datetime | None = None) -> list[PositionLine]:
    """Every position of the latest snapshot (at or before ``asof``) of each account in scope, largest first."""
    params = {**scope.params(), **_conversion_params(conn, currency, base), **_asof_params(asof)}
    sql = _POSITIONS_ASOF_SQL if asof is not None else _POSITIONS_SQL
    return [PositionLine(*r) for r in conn.execute(text(sql), params)]


def instrument_history(conn: Connection, scope: Scope, global_instrument_id: uuid.UUID) -> list[HistoryPoint]:
    """Every stored position of one global instrument (all its broker instruments), oldest first."""
    ids = [
        r[0]
        for r in conn.execute(
            text("SELECT instrument_id FROM instrument_mapping WHERE global_instrument_id = :g"),
            {"g": global_instrument_id},
        )
    ]
    ids.append(global_instrument_id)  # an unmapped instrument is its own global identity
    # ``instrument_id = ANY(:ids)`` with a bound array keeps the plan on positions_instrument_idx.
    rows = conn.execute(
        text(
            f"""SELECT h.asof_ts, h.broker, h.broker_account_id, h.symbol, h.quantity, h.price_local,
                       h.market_value_local, h.market_value_gbp
                FROM positions_history h
                WHERE h.instrument_id = ANY(CAST(:ids AS uuid[])) AND {scope_sql("h")}
                ORDER BY h.asof_ts, h.broker, h.broker_account_id"""  # noqa: S608 - constants only
        ),
        {**scope.params(), "ids": ids},
    )
    return [HistoryPoint(*r) for r in rows]


def allocation(conn: Connection, scope: Scope, dimension: Dimension, currency: str = "GBP",
               base: str = "GBP", asof: datetime | None = None) -> list[AllocationSlice]:
    """The latest positions (at or before ``asof``) in scope grouped by one dimension, largest first, with
    weights of the GBP total."""
    if dimension not in _GROUPS:
        raise ValueError(f"unknown allocation dimension {dimension!r}; choose from {', '.join(_GROUPS)}")
    key, label = _GROUPS[dimension]
    sql = f"""
    WITH {latest_sql("l", asof=asof is not None)},
    latest_positions AS (
        SELECT l.broker, l.broker_account_id, l.asof_ts,
               COALESCE(m.global_instrument_id, i.id) AS global_instrument_id,
               COALESCE(gi.symbol, i.symbol) || ' · ' || COALESCE(gi.name, i.name, '') AS global_label,
               COALESCE(gi.asset_class, i.asset_class) AS asset_class, i.currency,
               p.market_value_gbp, p.market_value_gbp * {factor_sql("l.asof_ts")} AS value
        FROM l
        JOIN positions p ON p.snapshot_id = l.id
        JOIN instruments i ON i.id = p.instrument_id
        LEFT JOIN instrument_mapping m ON m.instrument_id = p.instrument_id
        LEFT JOIN global_instruments gi ON gi.id = m.global_instrument_id
    ),
    grouped AS (
        SELECT {key} AS key, {label} AS label, sum(lp.market_value_gbp) AS value_gbp, sum(lp.value) AS value,
               count(*)::integer AS holdings,
               (count(*) FILTER (WHERE lp.market_value_gbp IS NULL))::integer AS missing
        FROM latest_positions lp GROUP BY 1
    )
    SELECT key, label, value_gbp, value, value_gbp / NULLIF(sum(value_gbp) OVER (), 0), holdings, missing
    FROM grouped ORDER BY value_gbp DESC NULLS LAST, label
    """  # noqa: S608 - key/label come from the _GROUPS whitelist; values are bound parameters
    params = {**scope.params(), **_conversion_params(conn, currency, base), **_asof_params(asof)}
    return [AllocationSlice(*r) for r in conn.execute(text(sql), params)]

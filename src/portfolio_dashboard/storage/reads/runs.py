"""Read queries over the views, used by the CLI and the dashboard (never by the write path)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: uuid.UUID
    trigger_type: str
    triggered_by: str | None
    started_at: datetime
    finished_at: datetime | None
    status: str
    error_summary: str | None
    sources: list[str]
    outcome: list[dict[str, Any]]
    warnings: list[str]


@dataclass(frozen=True, slots=True)
class AccountLatest:
    broker: str
    broker_account_id: str
    name: str | None
    account_currency: str | None
    asof_ts: datetime
    total_value_local: Decimal | None
    total_value_gbp: Decimal | None
    snapshot_id: uuid.UUID
    run_id: uuid.UUID
    fx_complete: bool


_RUN_COLUMNS = """run_id, trigger_type, triggered_by, started_at, finished_at, status, error_summary, sources,
                  outcome, warnings"""


def _run(row: Any) -> RunRow:
    return RunRow(row[0], row[1], row[2], row[3], row[4], row[5], row[6], list(row[7] or []),
                  list(row[8] or []), list(row[9] or []))


def last_run(conn: Connection) -> RunRow | None:
    row = conn.execute(
        text(f"SELECT {_RUN_COLUMNS} FROM snapshot_runs ORDER BY started_at DESC LIMIT 1")  # noqa: S608
    ).first()
    return None if row is None else _run(row)


def recent_runs(conn: Connection, limit: int = 50) -> list[RunRow]:
    rows = conn.execute(
        text(f"SELECT {_RUN_COLUMNS} FROM snapshot_runs ORDER BY started_at DESC LIMIT :n"),  # noqa: S608
        {"n": limit},
    )
    return [_run(r) for r in rows]


def latest_per_account(conn: Connection) -> list[AccountLatest]:
    """The newest stored snapshot of every account: a stored snapshot only exists for a successful write."""
    rows = conn.execute(
        text(
            """SELECT l.broker, l.broker_account_id, a.name, l.account_currency, l.asof_ts, l.total_value_local,
                      l.total_value_gbp, l.id, l.run_id, l.fx_complete
               FROM latest_snapshot_per_broker_account l
               LEFT JOIN broker_accounts a USING (broker, broker_account_id)
               ORDER BY l.broker, l.broker_account_id"""
        )
    )
    return [AccountLatest(*r) for r in rows]


# --- allocation over the latest snapshot of every account -------------------------------------------------
# Weights are shares of the GBP total over positions that HAVE a GBP value (value_gbp / sum of value_gbp);
# they sum to 1. Positions without a GBP value (no FX rate at capture) cannot be weighed: each row counts
# them (positions_without_gbp) and ``Allocation.unvalued`` lists them, so the UI can say what is missing
# instead of silently showing a total that understates. Short positions and overdrawn cash weigh negative.


@dataclass(frozen=True, slots=True)
class AllocationRow:
    key: str  # global instrument id, asset class, currency, broker, or "broker:account"
    label: str  # what to show: instrument name, asset class, currency, broker, account name
    value_gbp: Decimal | None  # None when no position of the row has a GBP value
    weight: Decimal | None
    positions: int
    positions_without_gbp: int
    symbol: str | None = None  # by instrument only
    asset_class: str | None = None  # by instrument only
    currency: str | None = None  # by instrument only


@dataclass(frozen=True, slots=True)
class UnvaluedPosition:
    broker: str
    broker_account_id: str
    asof_ts: datetime
    symbol: str | None
    name: str | None
    currency: str | None
    market_value_local: Decimal
    global_instrument_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Allocation:
    rows: list[AllocationRow]
    total_gbp: Decimal  # over positions with a GBP value
    unvalued: list[UnvaluedPosition]


# The newest snapshot of every account, found through the (broker, account, asof) index one account at a
# time: with years of history this is what keeps every allocation query in milliseconds.
_LATEST = """
latest AS (
    SELECT s.id, s.broker, s.broker_account_id, s.asof_ts
    FROM broker_accounts a
    CROSS JOIN LATERAL (
        SELECT s.id, s.broker, s.broker_account_id, s.asof_ts FROM snapshots s
        WHERE s.broker = a.broker AND s.broker_account_id = a.broker_account_id
        -- leading equality columns first: the planner then walks the (broker, account, asof) index
        ORDER BY s.broker, s.broker_account_id, s.asof_ts DESC, s.created_at DESC LIMIT 1
    ) s
),
latest_positions AS (
    SELECT l.broker, l.broker_account_id, l.asof_ts, p.instrument_id,
           COALESCE(m.global_instrument_id, p.instrument_id) AS global_instrument_id,
           p.market_value_local, p.market_value_gbp
    FROM latest l
    JOIN positions p ON p.snapshot_id = l.id
    LEFT JOIN instrument_mapping m ON m.instrument_id = p.instrument_id
)"""

# dimension -> (key expression, label expression, extra joins); constants only, never user input
_DIMENSIONS: dict[str, tuple[str, str, str]] = {
    "asset_class": ("COALESCE(g.asset_class, i.asset_class, 'other')",
                    "COALESCE(g.asset_class, i.asset_class, 'other')",
                    "JOIN instruments i ON i.id = lp.instrument_id "
                    "LEFT JOIN global_instruments g ON g.id = lp.global_instrument_id"),
    "currency": ("COALESCE(i.currency, '?')", "COALESCE(i.currency, '?')",
                 "JOIN instruments i ON i.id = lp.instrument_id"),
    "broker": ("lp.broker", "lp.broker", ""),
    "account": ("lp.broker || ':' || lp.broker_account_id",
                "COALESCE(a.name, lp.broker_account_id) || ' (' || lp.broker || ')'",
                "LEFT JOIN broker_accounts a ON a.broker = lp.broker AND a.broker_account_id = lp.broker_account_id"),
}


def _unvalued(conn: Connection) -> list[UnvaluedPosition]:
    rows = conn.execute(
        text(
            f"""WITH {_LATEST}
                SELECT lp.broker, lp.broker_account_id, lp.asof_ts, COALESCE(g.symbol, i.symbol),
                       COALESCE(g.name, i.name), i.currency, lp.market_value_local, lp.global_instrument_id
                FROM latest_positions lp
                JOIN instruments i ON i.id = lp.instrument_id
                LEFT JOIN global_instruments g ON g.id = lp.global_instrument_id
                WHERE lp.market_value_gbp IS NULL
                ORDER BY lp.broker, lp.broker_account_id, i.symbol"""  # noqa: S608 - constant fragments
        )
    )
    return [UnvaluedPosition(*r) for r in rows]


def _allocation(rows: list[AllocationRow], conn: Connection) -> Allocation:
    total = sum((r.value_gbp for r in rows if r.value_gbp is not None), Decimal(0))
    return Allocation(rows=rows, total_gbp=total, unvalued=_unvalued(conn))


def allocation_by(conn: Connection, dimension: str) -> Allocation:
    """Allocation of the latest holdings by ``asset_class`` (of the global instrument), ``currency`` (the
    instrument's own, as the broker reported it), ``broker`` or ``account``; largest first."""
    if dimension == "global_instrument":
        return allocation_by_global_instrument(conn)
    if dimension not in _DIMENSIONS:
        raise ValueError(f"unknown allocation dimension {dimension!r}")
    key, label, joins = _DIMENSIONS[dimension]
    rows = conn.execute(
        text(
            f"""WITH {_LATEST},
                grouped AS (
                    SELECT {key} AS key, min({label}) AS label, sum(lp.market_value_gbp) AS value_gbp,
                           count(*)::integer AS positions,
                           (count(*) FILTER (WHERE lp.market_value_gbp IS NULL))::integer AS without_gbp
                    FROM latest_positions lp {joins}
                    GROUP BY 1
                )
                SELECT key, label, value_gbp, value_gbp / NULLIF(sum(value_gbp) OVER (), 0) AS weight,
                       positions, without_gbp
                FROM grouped
                ORDER BY value_gbp DESC NULLS LAST, key"""  # noqa: S608 - constant fragments
        )
    )
    return _allocation([AllocationRow(str(r[0]), str(r[1]), r[2], r[3], r[4], r[5]) for r in rows], conn)


def allocation_by_global_instrument(conn: Connection) -> Allocation:
    """One line per global instrument (the same security at several brokers merged), from the view."""
    rows = conn.execute(
        text(
            """SELECT global_instrument_id, name, symbol, asset_class, currency, holdings, value_gbp, weight,
                      holdings_without_gbp
               FROM asset_allocation_by_global_instrument
               ORDER BY value_gbp DESC NULLS LAST, global_instrument_id"""
        )
    )
    out = [
        AllocationRow(key=str(r[0]), label=r[1] or r[2] or str(r[0]), value_gbp=r[6], weight=r[7], positions=r[5],
                      positions_without_gbp=r[8], symbol=r[2], asset_class=r[3], currency=r[4])
        for r in rows
    ]
    return _allocation(out, conn)


def allocation_by_asset_class(conn: Connection) -> Allocation:
    return allocation_by(conn, "asset_class")


def allocation_by_currency(conn: Connection) -> Allocation:
    return allocation_by(conn, "currency")


def allocation_by_broker(conn: Connection) -> Allocation:
    return allocation_by(conn, "broker")


def allocation_by_account(conn: Connection) -> Allocation:
    return allocation_by(conn, "account")

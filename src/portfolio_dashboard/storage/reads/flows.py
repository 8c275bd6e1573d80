"""Read models for money in and out: the flow listing, income lines, announced dividends, the period bridge
("value now = value at start + money in + gain") and the accounts whose flows we cannot know.

Days are the portfolio's time zone (``portfolio.timezone``); GBP amounts are as stored (at each flow's own
date's rate); a flow without a GBP value is counted, never treated as zero silently.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Connection, text

from portfolio_dashboard.storage.reads.scope import TZ_SQL, Scope, latest_sql, scope_sql

EXTERNAL_KINDS = ("deposit", "withdrawal", "transfer_in", "transfer_out")
INCOME_KINDS = ("dividend", "payment_in_lieu", "interest", "withholding_tax")
ALL = Scope()  # no filter


@dataclass(frozen=True, slots=True)
class FlowLine:
    id: uuid.UUID
    run_id: uuid.UUID | None
    broker: str
    broker_account_id: str
    broker_flow_id: str
    kind: str
    instrument_id: uuid.UUID | None
    symbol: str | None
    isin: str | None
    flow_ts: datetime
    day: date  # in the portfolio's time zone
    currency: str
    amount_local: Decimal
    amount_gbp: Decimal | None
    fx_rate_id: uuid.UUID | None
    quantity: Decimal | None
    description: str | None
    raw_payload_id: uuid.UUID | None


FLOW_SQL = f"""
SELECT c.id, c.run_id, c.broker, c.broker_account_id, c.broker_flow_id, c.kind, c.instrument_id, i.symbol, i.isin,
       c.flow_ts, (c.flow_ts AT TIME ZONE {TZ_SQL})::date AS day, c.currency, c.amount_local, c.amount_gbp,
       c.fx_rate_id, c.quantity, c.description, c.raw_payload_id
FROM cash_flows c
LEFT JOIN instruments i ON i.id = c.instrument_id
WHERE {scope_sql("c")}
  AND (CAST(:start AS date) IS NULL OR (c.flow_ts AT TIME ZONE {TZ_SQL})::date >= CAST(:start AS date))
  AND (CAST(:end AS date) IS NULL OR (c.flow_ts AT TIME ZONE {TZ_SQL})::date <= CAST(:end AS date))
  AND (cardinality(CAST(:kinds AS text[])) = 0 OR c.kind = ANY(CAST(:kinds AS text[])))
  AND (CAST(:run_id AS uuid) IS NULL OR c.run_id = CAST(:run_id AS uuid))
ORDER BY c.flow_ts, c.broker, c.broker_account_id, c.broker_flow_id
"""  # noqa: S608 - constants only


def flows(conn: Connection, scope: Scope = ALL, *, start: date | None = None, end: date | None = None,
          kinds: Sequence[str] = (), run_id: uuid.UUID | None = None) -> list[FlowLine]:
    """Every stored flow in scope, oldest first; ``start``/``end`` are inclusive days."""
    rows = conn.execute(text(FLOW_SQL), {**scope.params(), "start": start, "end": end, "kinds": list(kinds),
                                         "run_id": run_id})
    return [FlowLine(*r) for r in rows]


def income_lines(conn: Connection, scope: Scope = ALL, *, start: date | None = None,
                 end: date | None = None) -> list[FlowLine]:
    """Dividends, payments in lieu, interest and the tax withheld from them."""
    return flows(conn, scope, start=start, end=end, kinds=INCOME_KINDS)


@dataclass(frozen=True, slots=True)
class AccrualLine:
    broker: str
    broker_account_id: str
    symbol: str | None
    isin: str | None
    currency: str
    ex_date: date | None
    pay_date: date | None
    quantity: Decimal | None
    gross_amount: Decimal | None
    tax: Decimal | None
    net_amount: Decimal | None
    reported_at: datetime


ACCRUALS_SQL = f"""
        SELECT d.broker, d.broker_account_id, i.symbol, i.isin, d.currency, d.ex_date, d.pay_date, d.quantity,
               d.gross_amount, d.tax, d.net_amount, d.reported_at
        FROM dividend_accruals d
        LEFT JOIN instruments i ON i.id = d.instrument_id
        WHERE {scope_sql("d")}
          AND d.reported_at = (SELECT max(x.reported_at) FROM dividend_accruals x
                               WHERE x.broker = d.broker AND x.broker_account_id = d.broker_account_id
                                 AND (CAST(:asof AS timestamptz) IS NULL
                                      OR x.reported_at <= CAST(:asof AS timestamptz)))
        ORDER BY d.pay_date NULLS LAST, i.symbol"""  # noqa: S608 - constants only


def open_accruals(conn: Connection, scope: Scope = ALL, asof: datetime | None = None) -> list[AccrualLine]:
    """Announced dividends not yet paid, as the newest report of each account lists them (a paid dividend
    drops off the broker's list, so older reports are history, not what is owed); with ``asof`` (the time
    machine) the newest report at or before it."""
    rows = conn.execute(text(ACCRUALS_SQL), {**scope.params(), "asof": asof})
    return [AccrualLine(*r) for r in rows]


@dataclass(frozen=True, slots=True)
class MoneyIn:
    net_gbp: Decimal  # deposits and transfers in, less withdrawals and transfers out
    unvalued: int  # external flows without a GBP value (not in ``net_gbp``)


MONEY_IN_SQL = f"""
        SELECT COALESCE(sum(c.amount_gbp), 0), count(*) FILTER (WHERE c.amount_gbp IS NULL)
        FROM cash_flows c
        WHERE {scope_sql("c")} AND c.kind = ANY(CAST(:kinds AS text[]))
          AND (CAST(:after AS timestamptz) IS NULL OR c.flow_ts > CAST(:after AS timestamptz))
          AND c.flow_ts <= :until"""  # noqa: S608 - constants only


def money_in(conn: Connection, scope: Scope, after: datetime | None, until: datetime) -> MoneyIn:
    """Net external money into the accounts in scope over (``after``, ``until``]."""
    row = conn.execute(text(MONEY_IN_SQL), {**scope.params(), "kinds": list(EXTERNAL_KINDS), "after": after,
                                           "until": until}).one()
    return MoneyIn(row[0], row[1])


@dataclass(frozen=True, slots=True)
class Bridge:
    """value_now = start_value + money_in + gain, over (start, asof], in GBP, summed over the accounts in scope.

    An account without a snapshot at or before ``start`` (its history begins later) starts at its first
    snapshot, and only the money that moved after that snapshot counts: a value that was already there when
    recording began is neither money in nor gain. ``effective_start`` is then later than ``start``.
    """

    start: datetime | None  # None: since each account's first snapshot
    effective_start: datetime | None  # the latest of the accounts' starting points
    asof: datetime | None  # the newest snapshot in scope
    start_value: Decimal | None
    money_in: Decimal
    gain: Decimal | None
    value_now: Decimal | None
    unvalued_flows: int


BRIDGE_SQL = f"""
WITH {latest_sql()},
origin AS (
    SELECT l.broker, l.broker_account_id,
           COALESCE(b.total_value_gbp, f.total_value_gbp) AS start_gbp,
           (b.asof_ts IS NULL AND f.total_value_gbp IS NULL) OR (b.asof_ts IS NOT NULL AND b.total_value_gbp IS NULL)
               AS start_missing,
           CASE WHEN b.asof_ts IS NOT NULL THEN CAST(:start AS timestamptz) ELSE f.asof_ts END AS flows_after
    FROM latest l
    LEFT JOIN LATERAL (
        SELECT x.asof_ts, x.total_value_gbp FROM snapshots x
        WHERE x.broker = l.broker AND x.broker_account_id = l.broker_account_id AND x.asof_ts <= :start
        ORDER BY x.broker, x.broker_account_id, x.asof_ts DESC, x.created_at DESC LIMIT 1) b ON true
    LEFT JOIN LATERAL (
        SELECT x.asof_ts, x.total_value_gbp FROM snapshots x
        WHERE x.broker = l.broker AND x.broker_account_id = l.broker_account_id AND x.asof_ts > :start
        ORDER BY x.broker, x.broker_account_id, x.asof_ts, x.created_at LIMIT 1) f ON true),
moved AS (
    SELECT COALESCE(sum(c.amount_gbp), 0) AS net, count(*) FILTER (WHERE c.amount_gbp IS NULL) AS unvalued
    FROM origin o
    JOIN cash_flows c ON c.broker = o.broker AND c.broker_account_id = o.broker_account_id
    WHERE c.kind = ANY(CAST(:kinds AS text[])) AND c.flow_ts > o.flows_after
      AND c.flow_ts <= (SELECT max(asof_ts) FROM latest))
SELECT (SELECT sum(total_value_gbp) FROM latest),
       (SELECT count(*) FILTER (WHERE total_value_gbp IS NULL) FROM latest),
       (SELECT max(asof_ts) FROM latest),
       (SELECT COALESCE(sum(start_gbp), 0) FROM origin),
       (SELECT count(*) FILTER (WHERE start_missing) FROM origin),
       (SELECT max(flows_after) FROM origin),
       moved.net, moved.unvalued
FROM moved
"""  # noqa: S608 - constants only


def bridge(conn: Connection, scope: Scope, start: datetime | None) -> Bridge:
    """How the value in scope got from ``start`` (None: the beginning of the records) to the newest snapshot."""
    at = start or datetime(1970, 1, 1, tzinfo=UTC)
    now, now_missing, asof, before, before_missing, effective, net, unvalued = conn.execute(
        text(BRIDGE_SQL), {**scope.params(), "start": at, "kinds": list(EXTERNAL_KINDS)}).one()
    if asof is None:
        return Bridge(start, None, None, None, Decimal(0), None, None, 0)
    value_now = None if now_missing else now
    start_value = None if before_missing else before
    gain = None
    if value_now is not None and start_value is not None and not unvalued:
        gain = value_now - start_value - net
    return Bridge(start, effective, asof, start_value, net, gain, value_now, unvalued)


@dataclass(frozen=True, slots=True)
class DailyFlow:
    day: date
    net_external_gbp: Decimal
    income_gbp: Decimal
    costs_gbp: Decimal


DAILY_SQL = f"""
        SELECT day, COALESCE(sum(net_external_gbp), 0), COALESCE(sum(income_gbp), 0), COALESCE(sum(costs_gbp), 0)
        FROM daily_net_flows d WHERE {scope_sql("d")}
        GROUP BY day ORDER BY day"""  # noqa: S608 - constants only


def daily_flows(conn: Connection, scope: Scope = ALL) -> list[DailyFlow]:
    """Per day (portfolio time zone), summed over the accounts in scope: for the contributions line."""
    rows = conn.execute(text(DAILY_SQL), scope.params())
    return [DailyFlow(*r) for r in rows]


UNKNOWN_SQL = f"""
        WITH {latest_sql()}
        SELECT l.broker, l.broker_account_id FROM latest l
        WHERE NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.broker = l.broker
                            AND s.broker_account_id = l.broker_account_id AND s.source <> 'ib_gateway')
          AND NOT EXISTS (SELECT 1 FROM cash_flows c WHERE c.broker = l.broker
                            AND c.broker_account_id = l.broker_account_id)
        ORDER BY 1, 2"""  # noqa: S608 - constants only


def flows_unknown(conn: Connection, scope: Scope = ALL) -> list[tuple[str, str]]:
    """Accounts whose money in and out we cannot know: captured only through the Client Portal gateway (it has
    no cash-transaction listing) and with no flow stored from any other source (a Flex query)."""
    rows = conn.execute(text(UNKNOWN_SQL), scope.params())
    return [(r[0], r[1]) for r in rows]

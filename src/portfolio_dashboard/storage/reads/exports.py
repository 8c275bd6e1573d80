"""Read models for the exports: each yields one mapping per row with the columns of its export kind
(``services/statements/export_columns.py``), streamed from a server-side cursor so ten years of history never
sits in memory.

Dates are days in the portfolio's time zone; ``start`` / ``end`` are inclusive and either may be None (open).
A snapshot names the raw response it was read from (``snapshots.raw_payload_id``, migration 0013); a snapshot
stored before that column, whose run kept several responses, falls back to the response of the same run and
broker nearest in time to it. A cash flow names its own response (``raw_payload_id``). Decimals come back as
``Decimal``; rates derived from two stored amounts are rounded to 18 places (the Parquet scale).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date
from typing import Any, cast

from sqlalchemy import Connection, text

from portfolio_dashboard.storage.reads.scope import TZ_SQL

STREAM_ROWS = 20_000
INCOME_KINDS = ("dividend", "payment_in_lieu", "interest", "withholding_tax")

_RANGE = "(CAST(:start AS date) IS NULL OR {day} >= CAST(:start AS date)) " \
         "AND (CAST(:end AS date) IS NULL OR {day} <= CAST(:end AS date))"

def snapshot_sha_sql(alias: str) -> str:
    """The raw response the snapshot ``alias`` was read from (see the module note); alias is a constant."""
    # COALESCE evaluates the fallback only for a snapshot without its own reference (one primary-key probe else)
    return f"""COALESCE((SELECT r.content_sha256 FROM raw_payloads r WHERE r.id = {alias}.raw_payload_id),
        (SELECT r.content_sha256 FROM raw_payloads r WHERE r.run_id = {alias}.run_id
        AND r.broker = {alias}.broker ORDER BY abs(extract(epoch FROM r.received_at - {alias}.asof_ts)), r.id
        LIMIT 1))"""  # noqa: S608 - constants only


_SNAPSHOT_SHA = snapshot_sha_sql("s")

_DAILY_VALUES_SQL = f"""
SELECT v.day AS date, v.broker_account_id AS account_id, v.broker, COALESCE(v.account_currency, s.base_currency)
           AS currency,
       v.total_value_local AS value_local,
       trim_scale(round(v.total_value_gbp / NULLIF(v.total_value_local, 0), 18)) AS fx_rate_gbp_per_unit,
       v.total_value_gbp AS value_gbp, v.snapshot_id::text AS snapshot_id, {_SNAPSHOT_SHA} AS source_sha256
FROM daily_account_value v
JOIN snapshots s ON s.id = v.snapshot_id
WHERE v.total_value_local IS NOT NULL AND {_RANGE.format(day="v.day")}
ORDER BY v.day, v.broker, v.broker_account_id
"""  # noqa: S608 - constants only

_POSITIONS_SQL = f"""
WITH snaps AS MATERIALIZED (
    SELECT s.id, s.broker, s.broker_account_id, (s.asof_ts AT TIME ZONE {TZ_SQL})::date AS day, s.asof_ts,
           {_SNAPSHOT_SHA} AS sha
    FROM snapshots s
    WHERE {_RANGE.format(day=f"(s.asof_ts AT TIME ZONE {TZ_SQL})::date")}
    ORDER BY s.asof_ts, s.broker, s.broker_account_id
)
-- One snapshot at a time through the positions primary key, in the CTE's order: ten years of positions
-- stream without a sort of millions of rows (an outer ORDER BY would sort them all before the first row).
SELECT sn.day AS date, sn.broker_account_id AS account_id, sn.broker,
       COALESCE(i.symbol, i.name, i.broker_instrument_id) AS security, i.isin, p.quantity,
       COALESCE(p.price_local, p.market_value_local / NULLIF(p.quantity, 0)) AS price,
       COALESCE(i.currency, '?') AS currency, p.market_value_local AS value_local,
       trim_scale(round(p.market_value_gbp / NULLIF(p.market_value_local, 0), 18)) AS fx_rate_gbp_per_unit,
       p.market_value_gbp AS value_gbp, sn.id::text AS snapshot_id, sn.sha AS source_sha256
FROM snaps sn
CROSS JOIN LATERAL (SELECT * FROM positions p WHERE p.snapshot_id = sn.id ORDER BY p.instrument_id) p
JOIN instruments i ON i.id = p.instrument_id
"""  # noqa: S608 - constants only

_TRADES_SQL = f"""
SELECT t.trade_ts AS trade_time, t.broker_account_id AS account_id, t.broker, t.broker_trade_id,
       COALESCE(i.symbol, i.name, i.broker_instrument_id, '?') AS security, i.isin, t.quantity,
       t.price_local AS price, COALESCE(t.currency, i.currency, '?') AS currency, t.amount_local,
       t.commission AS commission_local, t.realized_pnl AS realised_pnl_local,
       trim_scale(round(t.amount_gbp / NULLIF(t.amount_local, 0), 18)) AS fx_rate_gbp_per_unit,
       (SELECT r.content_sha256 FROM raw_payloads r WHERE r.run_id = t.run_id AND r.broker = t.broker
        ORDER BY r.received_at, r.id LIMIT 1) AS source_sha256
FROM trades t
LEFT JOIN instruments i ON i.id = t.instrument_id
WHERE {_RANGE.format(day=f"(t.trade_ts AT TIME ZONE {TZ_SQL})::date")}
ORDER BY t.trade_ts, t.broker, t.broker_account_id, t.broker_trade_id
"""  # noqa: S608 - constants only

_FLOWS_SQL = f"""
SELECT (f.flow_ts AT TIME ZONE {TZ_SQL})::date AS date, f.broker_account_id AS account_id, f.broker, f.kind,
       f.currency, f.amount_local,
       trim_scale(round(f.amount_gbp / NULLIF(f.amount_local, 0), 18)) AS fx_rate_gbp_per_unit,
       f.amount_gbp, f.description, r.content_sha256 AS source_sha256
FROM cash_flows f
LEFT JOIN raw_payloads r ON r.id = f.raw_payload_id
WHERE f.kind <> ALL(CAST(:income AS text[])) AND {_RANGE.format(day=f"(f.flow_ts AT TIME ZONE {TZ_SQL})::date")}
ORDER BY f.flow_ts, f.broker, f.broker_account_id, f.broker_flow_id
"""  # noqa: S608 - constants only

# Income: a payment and the tax withheld from it are separate broker rows; they are one income row here,
# grouped by account, day, paying instrument and currency.
_INCOME_SQL = f"""
WITH rows AS (
    SELECT f.*, (f.flow_ts AT TIME ZONE {TZ_SQL})::date AS day, r.content_sha256
    FROM cash_flows f LEFT JOIN raw_payloads r ON r.id = f.raw_payload_id
    WHERE f.kind = ANY(CAST(:income AS text[])) AND {_RANGE.format(day=f"(f.flow_ts AT TIME ZONE {TZ_SQL})::date")}
),
grouped AS (
    SELECT day, broker, broker_account_id, instrument_id, currency,
           CASE WHEN bool_or(kind IN ('dividend', 'payment_in_lieu')) THEN 'dividend' ELSE 'interest' END AS kind,
           COALESCE(sum(amount_local) FILTER (WHERE kind <> 'withholding_tax'), 0) AS gross_local,
           COALESCE(sum(amount_local) FILTER (WHERE kind = 'withholding_tax'), 0) AS wht_local,
           sum(amount_gbp) FILTER (WHERE kind <> 'withholding_tax') AS gross_gbp,
           COALESCE(sum(amount_gbp) FILTER (WHERE kind = 'withholding_tax'), 0) AS wht_gbp,
           bool_and(amount_gbp IS NOT NULL) AS valued,
           min(content_sha256) AS sha
    FROM rows GROUP BY 1, 2, 3, 4, 5
    HAVING bool_or(kind <> 'withholding_tax')
)
SELECT g.day AS date, g.broker_account_id AS account_id, g.broker, g.kind,
       COALESCE(i.symbol, i.name, g.currency || ' cash') AS security, i.isin, g.currency,
       g.gross_local, g.wht_local AS withholding_tax_local, g.gross_local + g.wht_local AS net_local,
       CASE WHEN g.valued THEN trim_scale(round(g.gross_gbp / NULLIF(g.gross_local, 0), 18)) END
           AS fx_rate_gbp_per_unit,
       CASE WHEN g.valued THEN g.gross_gbp END AS gross_gbp,
       CASE WHEN g.valued THEN g.wht_gbp END AS withholding_tax_gbp,
       CASE WHEN g.valued THEN g.gross_gbp + g.wht_gbp END AS net_gbp,
       g.sha AS source_sha256
FROM grouped g LEFT JOIN instruments i ON i.id = g.instrument_id
ORDER BY g.day, g.broker, g.broker_account_id, security
"""  # noqa: S608 - constants only

_FX_RATES_SQL = f"""
SELECT f.asof_ts AS as_of, f.source_ccy AS source_currency, f.target_ccy AS target_currency,
       trim_scale(round(f.rate, 18)) AS rate, f.provider, NULL::text AS source_sha256
FROM fx_rates f
WHERE {_RANGE.format(day=f"(f.asof_ts AT TIME ZONE {TZ_SQL})::date")}
ORDER BY f.asof_ts, f.source_ccy, f.target_ccy, f.provider
"""  # noqa: S608 - constants only

EXPORT_SQL: dict[str, str] = {
    "daily-values": _DAILY_VALUES_SQL, "positions": _POSITIONS_SQL, "trades": _TRADES_SQL, "flows": _FLOWS_SQL,
    "income": _INCOME_SQL, "fx-rates": _FX_RATES_SQL,
}


def export_rows(conn: Connection, kind: str, start: date | None = None,
                end: date | None = None) -> Iterator[Mapping[str, Any]]:
    """The rows of export ``kind`` between ``start`` and ``end`` (inclusive days), streamed."""
    if kind not in EXPORT_SQL:
        raise ValueError(f"unknown export kind {kind!r}; one of {', '.join(EXPORT_SQL)}")
    params = {"start": start, "end": end, "income": list(INCOME_KINDS)}
    # A server-side cursor is planned for its first 10 % of rows (cursor_tuple_fraction), which picks
    # fast-start nested loops over whole tables; an export reads every row, so plan for all of them.
    conn.execute(text("SELECT set_config('cursor_tuple_fraction', '1', true)"))
    # Statement-level options: ``Connection.execution_options`` would leave the caller's connection streaming.
    result = conn.execute(text(EXPORT_SQL[kind]).execution_options(stream_results=True, yield_per=STREAM_ROWS),
                          params)
    for row in result.mappings():
        yield cast(Mapping[str, Any], row)  # a RowMapping is a read-only Mapping

"""Set-based upserts for reprocessing: one statement per table per batch of many snapshots.

Unlike the capture's writes (insert-only: a stored snapshot is never rewritten by a capture), these update
the derived columns of rows that already exist — only where a value really differs (``IS DISTINCT FROM``),
so reprocessing with an unchanged parser writes nothing. Snapshots, positions and rates go in by ``COPY``
into temporary tables and are merged by a few set-based statements, ids resolved by joins in the database
(no per-row round trip, no per-value parameter encoding); the few trades go in as arrays through ``unnest``.
``bench/reprocess.py`` measures this against plain ``COPY`` of the same rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from portfolio_dashboard.domain import Trade

SNAPSHOT_DERIVED = ("total_value_local", "total_value_gbp", "base_currency", "account_currency",
                    "reported_total_gbp", "asof_source", "parser_version", "fx_complete", "warnings")
POSITION_DERIVED = ("quantity", "price_local", "market_value_local", "market_value_gbp", "fx_rate_id",
                    "cost_basis", "unrealized_pnl")
TRADE_DERIVED = ("broker_account_id", "instrument_id", "trade_ts", "quantity", "price_local", "amount_local",
                 "amount_gbp", "currency", "commission", "realized_pnl", "fx_rate_id", "description")


@dataclass(slots=True)
class UpsertCounts:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0


def _changed(table: str, cols: Sequence[str]) -> str:
    mine = ", ".join(f"{table}.{c}" for c in cols)
    theirs = ", ".join(f"EXCLUDED.{c}" for c in cols)
    return f"({mine}) IS DISTINCT FROM ({theirs})"


def _sets(cols: Sequence[str]) -> str:
    return ", ".join(f"{c} = EXCLUDED.{c}" for c in cols)


def _tally(rows: Sequence[Any]) -> UpsertCounts:
    inserted = sum(1 for r in rows if r[0])
    return UpsertCounts(inserted=inserted, updated=len(rows) - inserted)


def _cursor(conn: Connection) -> Any:
    driver = conn.connection.driver_connection  # the same connection, so the same transaction
    assert driver is not None
    return driver.cursor()


def _stage(cur: Any, table: str, definition: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """COPY ``rows`` into a new temporary table (dropped at commit); return how many."""
    cur.execute(f"CREATE TEMP TABLE {table} ({definition}) ON COMMIT DROP")
    count = 0
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


@dataclass(slots=True)
class BatchCounts:
    snapshots: UpsertCounts
    snapshots_written: int  # snapshot rows this batch owns (inserted, updated or found unchanged)
    snapshots_removed: int
    positions: UpsertCounts
    positions_total: int  # position rows of the owned snapshots


# A staged snapshot: its order in the batch, then the snapshot's columns.
SNAPSHOT_STAGE = ("seq", "run_id", "broker", "broker_account_id", "asof_ts", "snapshot_key", "source",
                  *SNAPSHOT_DERIVED)
# A staged position names its snapshot by key and its rate by natural key: ids are joined in the database.
POSITION_STAGE = ("snapshot_key", "instrument_id", "quantity", "price_local", "market_value_local",
                  "market_value_gbp", "fx_asof", "fx_source", "fx_target", "fx_provider", "cost_basis",
                  "unrealized_pnl")
RATE_STAGE = ("asof_ts", "source_ccy", "target_ccy", "provider", "rate")

_POSITIONS_STAGE_TABLE = """snapshot_key text, instrument_id uuid, quantity numeric, price_local numeric,
    market_value_local numeric, market_value_gbp numeric, fx_asof timestamptz, fx_source text, fx_target text,
    fx_provider text, cost_basis numeric, unrealized_pnl numeric"""
_RATES_STAGE_TABLE = "asof_ts timestamptz, source_ccy text, target_ccy text, provider text, rate numeric"


def write_batch(
    conn: Connection,
    *,
    groups: Sequence[tuple[uuid.UUID, str]],
    snapshots: Iterable[Sequence[Any]],
    positions: Iterable[Sequence[Any]],
    rates: Iterable[Sequence[Any]],
) -> BatchCounts:
    """Upsert a batch of re-parsed (run, source) captures in a few set-based statements.

    ``snapshots`` rows follow ``SNAPSHOT_STAGE`` (``seq`` ascending in run order), ``positions`` rows
    ``POSITION_STAGE``, ``rates`` rows ``RATE_STAGE``. Accounts and instruments must be stored already.

    * snapshots a group stored before and no longer produces are deleted (with their positions);
    * a snapshot belongs to the run that first stored it: a later run that met the same broker state (found it
      "already stored") does not rewrite it, or reprocessing would flip-flop between the two;
    * each kept snapshot's positions become exactly the staged ones.
    """
    snap_cols = ", ".join(SNAPSHOT_STAGE[1:])
    pos_cols = ", ".join(("snapshot_id", "instrument_id", *POSITION_DERIVED))
    cur = _cursor(conn)
    try:
        _stage(cur, "pd_stage_rates", _RATES_STAGE_TABLE, RATE_STAGE, rates)
        cur.execute(
            """INSERT INTO fx_rates (asof_ts, source_ccy, target_ccy, provider, rate)
               SELECT DISTINCT ON (asof_ts, source_ccy, target_ccy, provider) * FROM pd_stage_rates
               ORDER BY asof_ts, source_ccy, target_ccy, provider
               ON CONFLICT (asof_ts, source_ccy, target_ccy, provider) DO NOTHING"""
        )
        _stage(cur, "pd_stage_snapshots", "LIKE snapshots INCLUDING DEFAULTS, seq integer", SNAPSHOT_STAGE,
               snapshots)
        staged_positions = _stage(cur, "pd_stage_positions", _POSITIONS_STAGE_TABLE, POSITION_STAGE, positions)
        cur.execute(
            """DELETE FROM snapshots s
               USING unnest(%(runs)s::uuid[], %(sources)s::text[]) AS g(run_id, source)
               WHERE s.run_id = g.run_id AND s.source = g.source
                 AND NOT EXISTS (SELECT 1 FROM pd_stage_snapshots t WHERE t.snapshot_key = s.snapshot_key)""",
            {"runs": [g[0] for g in groups], "sources": [g[1] for g in groups]},
        )
        removed = cur.rowcount
        cur.execute("""DELETE FROM pd_stage_snapshots t USING snapshots s
                       WHERE s.snapshot_key = t.snapshot_key AND s.run_id <> t.run_id""")
        cur.execute("""DELETE FROM pd_stage_snapshots t USING pd_stage_snapshots u
                       WHERE u.snapshot_key = t.snapshot_key AND u.seq < t.seq""")
        cur.execute("""DELETE FROM pd_stage_positions n WHERE NOT EXISTS
                           (SELECT 1 FROM pd_stage_snapshots t WHERE t.snapshot_key = n.snapshot_key)""")
        positions_total = staged_positions - cur.rowcount
        cur.execute(
            f"""WITH merged AS (
                    INSERT INTO snapshots ({snap_cols}) SELECT {snap_cols} FROM pd_stage_snapshots
                    ON CONFLICT (snapshot_key) DO UPDATE SET {_sets(SNAPSHOT_DERIVED)}
                    WHERE {_changed("snapshots", SNAPSHOT_DERIVED)}
                    RETURNING (xmax = 0) AS inserted)
                SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),
                       (SELECT count(*) FROM pd_stage_snapshots) FROM merged"""  # noqa: S608
        )
        snap = cur.fetchone()
        cur.execute(
            """DELETE FROM positions p
               USING pd_stage_snapshots t JOIN snapshots s ON s.snapshot_key = t.snapshot_key
               WHERE p.snapshot_id = s.id
                 AND NOT EXISTS (SELECT 1 FROM pd_stage_positions n
                                 WHERE n.snapshot_key = t.snapshot_key AND n.instrument_id = p.instrument_id)"""
        )
        deleted = cur.rowcount
        cur.execute(
            f"""WITH merged AS (
                    INSERT INTO positions ({pos_cols})
                    SELECT s.id, n.instrument_id, n.quantity, n.price_local, n.market_value_local,
                           n.market_value_gbp, f.id, n.cost_basis, n.unrealized_pnl
                    FROM pd_stage_positions n
                    JOIN snapshots s ON s.snapshot_key = n.snapshot_key
                    LEFT JOIN fx_rates f ON f.asof_ts = n.fx_asof AND f.source_ccy = n.fx_source
                                        AND f.target_ccy = n.fx_target AND f.provider = n.fx_provider
                    ON CONFLICT (snapshot_id, instrument_id) DO UPDATE SET {_sets(POSITION_DERIVED)}
                    WHERE {_changed("positions", POSITION_DERIVED)}
                    RETURNING (xmax = 0) AS inserted)
                SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged"""  # noqa: S608
        )
        pos = cur.fetchone()
        cur.execute("DROP TABLE pd_stage_rates, pd_stage_snapshots, pd_stage_positions")
    finally:
        cur.close()
    return BatchCounts(
        snapshots=UpsertCounts(inserted=int(snap[0]), updated=int(snap[1])), snapshots_written=int(snap[2]),
        snapshots_removed=int(removed),
        positions=UpsertCounts(inserted=int(pos[0]), updated=int(pos[1]), deleted=int(deleted)),
        positions_total=positions_total,
    )


def upsert_trades(
    conn: Connection,
    run_ids: Mapping[tuple[str, str], uuid.UUID],
    trades: Sequence[Trade],
    instrument_ids: Mapping[tuple[str, str], uuid.UUID],
    gbp: Mapping[tuple[str, str], tuple[Decimal | None, uuid.UUID | None]],
) -> UpsertCounts:
    """Insert new trades; update the derived columns of stored ones (keyed by broker + trade id) that the same
    run stored — a trade met again by a later run's overlapping window belongs to the run that stored it."""
    unique = {(t.broker, t.broker_trade_id): t for t in trades}
    keys = sorted(unique)
    if not keys:
        return UpsertCounts()
    ordered = [unique[k] for k in keys]
    result = conn.execute(
        text(
            f"""INSERT INTO trades (broker, broker_trade_id, broker_account_id, instrument_id, trade_ts, quantity,
                    price_local, amount_local, amount_gbp, currency, commission, realized_pnl, fx_rate_id,
                    description, run_id)
                SELECT * FROM unnest(CAST(:b AS text[]), CAST(:tid AS text[]), CAST(:acct AS text[]),
                    CAST(:iid AS uuid[]), CAST(:ts AS timestamptz[]), CAST(:q AS numeric[]), CAST(:p AS numeric[]),
                    CAST(:amt AS numeric[]), CAST(:gbp AS numeric[]), CAST(:ccy AS text[]),
                    CAST(:comm AS numeric[]), CAST(:pnl AS numeric[]), CAST(:fx AS uuid[]),
                    CAST(:descr AS text[]), CAST(:run AS uuid[]))
                ON CONFLICT (broker, broker_trade_id) DO UPDATE SET {_sets(TRADE_DERIVED)}
                WHERE trades.run_id IS NOT DISTINCT FROM EXCLUDED.run_id AND {_changed("trades", TRADE_DERIVED)}
                RETURNING (xmax = 0)"""  # noqa: S608 - column names are constants, values are bound
        ),
        {
            "b": [t.broker for t in ordered], "tid": [t.broker_trade_id for t in ordered],
            "acct": [t.broker_account_id for t in ordered],
            "iid": [instrument_ids.get(t.instrument.key) for t in ordered],
            "ts": [t.trade_ts for t in ordered], "q": [t.quantity for t in ordered],
            "p": [t.price_local for t in ordered], "amt": [t.amount_local for t in ordered],
            "gbp": [gbp.get(k, (None, None))[0] for k in keys], "ccy": [t.currency for t in ordered],
            "comm": [t.commission for t in ordered], "pnl": [t.realized_pnl for t in ordered],
            "fx": [gbp.get(k, (None, None))[1] for k in keys], "descr": [t.description for t in ordered],
            "run": [run_ids[k] for k in keys],
        },
    ).all()
    return _tally(result)

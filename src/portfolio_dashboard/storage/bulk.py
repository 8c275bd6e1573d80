"""Set-based upserts for reprocessing: one statement per table per batch of many snapshots.

Unlike the capture's writes (insert-only: a stored snapshot is never rewritten by a capture), these update
the derived columns of rows that already exist — only where a value really differs (``IS DISTINCT FROM``),
so reprocessing with an unchanged parser writes nothing. Rows go in as arrays through ``unnest``, which is
what keeps a reprocess within a small factor of ``COPY`` (``bench/reprocess.py``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from portfolio_dashboard.domain import Trade
from portfolio_dashboard.storage.repositories import PositionRow, SnapshotRow

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


def upsert_snapshots(conn: Connection, rows: Sequence[SnapshotRow]) -> tuple[dict[str, uuid.UUID], UpsertCounts]:
    """Insert new snapshots, update derived columns of existing ones (their run and key stay); ids by key."""
    if not rows:
        return {}, UpsertCounts()
    params = {
        "run": [r.run_id for r in rows], "b": [r.broker for r in rows], "a": [r.broker_account_id for r in rows],
        "asof": [r.asof_ts for r in rows], "key": [r.snapshot_key for r in rows],
        "tvl": [r.total_value_local for r in rows], "tvg": [r.total_value_gbp for r in rows],
        "bc": [r.base_currency for r in rows], "ac": [r.account_currency for r in rows],
        "rtg": [r.reported_total_gbp for r in rows], "aso": [r.asof_source for r in rows],
        "src": [r.source for r in rows], "pv": [r.parser_version for r in rows],
        "fxc": [r.fx_complete for r in rows], "w": [json.dumps(list(r.warnings)) for r in rows],
    }
    result = conn.execute(
        text(
            f"""INSERT INTO snapshots (run_id, broker, broker_account_id, asof_ts, snapshot_key, total_value_local,
                    total_value_gbp, base_currency, account_currency, reported_total_gbp, asof_source, source,
                    parser_version, fx_complete, warnings)
                SELECT run, b, a, asof, key, tvl, tvg, bc, ac, rtg, aso, src, pv, fxc, CAST(w AS jsonb)
                FROM unnest(CAST(:run AS uuid[]), CAST(:b AS text[]), CAST(:a AS text[]),
                    CAST(:asof AS timestamptz[]), CAST(:key AS text[]), CAST(:tvl AS numeric[]),
                    CAST(:tvg AS numeric[]), CAST(:bc AS text[]), CAST(:ac AS text[]), CAST(:rtg AS numeric[]),
                    CAST(:aso AS text[]), CAST(:src AS text[]), CAST(:pv AS text[]), CAST(:fxc AS boolean[]),
                    CAST(:w AS text[])) AS n(run, b, a, asof, key, tvl, tvg, bc, ac, rtg, aso, src, pv, fxc, w)
                ON CONFLICT (snapshot_key) DO UPDATE SET {_sets(SNAPSHOT_DERIVED)}
                WHERE {_changed("snapshots", SNAPSHOT_DERIVED)}
                RETURNING (xmax = 0)"""  # noqa: S608 - column names are constants, values are bound
        ),
        params,
    ).all()
    ids = {
        r[0]: r[1]
        for r in conn.execute(
            text("SELECT snapshot_key, id FROM snapshots WHERE snapshot_key = ANY(CAST(:k AS text[]))"),
            {"k": params["key"]},
        )
    }
    return ids, _tally(result)


def delete_superseded_snapshots(conn: Connection, groups: Sequence[tuple[uuid.UUID, str]],
                                keep: Sequence[str]) -> int:
    """Remove snapshots a (run, source) stored earlier that its raws no longer produce (a parser fix changed
    an as-of, say); their positions go with them."""
    if not groups:
        return 0
    result = conn.execute(
        text(
            """DELETE FROM snapshots s
               USING unnest(CAST(:r AS uuid[]), CAST(:s AS text[])) AS g(run_id, source)
               WHERE s.run_id = g.run_id AND s.source = g.source
                 AND NOT (s.snapshot_key = ANY(CAST(:keep AS text[])))"""
        ),
        {"r": [g[0] for g in groups], "s": [g[1] for g in groups], "keep": list(keep)},
    )
    return int(result.rowcount)


def replace_positions(conn: Connection, rows: Sequence[tuple[uuid.UUID, PositionRow]]) -> UpsertCounts:
    """Make the positions of every snapshot in ``rows`` exactly ``rows``: delete the ones no longer there,
    insert new ones, update changed ones."""
    if not rows:
        return UpsertCounts()
    sids = [s for s, _ in rows]
    iids = [p.instrument_id for _, p in rows]
    deleted = conn.execute(
        text(
            """DELETE FROM positions p
               WHERE p.snapshot_id = ANY(CAST(:sids AS uuid[]))
                 AND (p.snapshot_id, p.instrument_id) NOT IN (
                     SELECT * FROM unnest(CAST(:s AS uuid[]), CAST(:i AS uuid[])))"""
        ),
        {"sids": sorted(set(sids)), "s": sids, "i": iids},
    ).rowcount
    result = conn.execute(
        text(
            f"""INSERT INTO positions (snapshot_id, instrument_id, quantity, price_local, market_value_local,
                    market_value_gbp, fx_rate_id, cost_basis, unrealized_pnl)
                SELECT * FROM unnest(CAST(:s AS uuid[]), CAST(:i AS uuid[]), CAST(:q AS numeric[]),
                    CAST(:p AS numeric[]), CAST(:mvl AS numeric[]), CAST(:mvg AS numeric[]), CAST(:fx AS uuid[]),
                    CAST(:cb AS numeric[]), CAST(:pnl AS numeric[]))
                ON CONFLICT (snapshot_id, instrument_id) DO UPDATE SET {_sets(POSITION_DERIVED)}
                WHERE {_changed("positions", POSITION_DERIVED)}
                RETURNING (xmax = 0)"""  # noqa: S608 - column names are constants, values are bound
        ),
        {
            "s": sids, "i": iids, "q": [p.quantity for _, p in rows], "p": [p.price_local for _, p in rows],
            "mvl": [p.market_value_local for _, p in rows], "mvg": [p.market_value_gbp for _, p in rows],
            "fx": [p.fx_rate_id for _, p in rows], "cb": [p.cost_basis for _, p in rows],
            "pnl": [p.unrealized_pnl for _, p in rows],
        },
    ).all()
    counts = _tally(result)
    counts.deleted = int(deleted)
    return counts


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

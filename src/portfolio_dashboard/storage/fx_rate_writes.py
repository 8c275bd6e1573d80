"""Stored FX rates: the natural key a rate is stored under, the insert that keeps a rate as first stored and
returns every id, and the newest stored rate at a moment."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, text

from portfolio_dashboard.domain import FxRate

FxKey = tuple[datetime, str, str, str]


def fx_key(rate: FxRate) -> FxKey:
    return (rate.asof_ts, rate.source_ccy, rate.target_ccy, rate.provider)


class FxRates:
    """The FX-rate part of ``Repository``."""

    conn: Connection

    def upsert_fx_rates(self, rates: Iterable[FxRate]) -> dict[FxKey, uuid.UUID]:
        """Store rates (a rate already stored under the same key is kept as first stored); return ids."""
        unique = {fx_key(r): r for r in rates}
        keys = sorted(unique)
        if not keys:
            return {}
        params = {
            "asof": [k[0] for k in keys],
            "src": [k[1] for k in keys],
            "tgt": [k[2] for k in keys],
            "prov": [k[3] for k in keys],
            "rate": [unique[k].rate for k in keys],
        }
        # One round trip: insert what is new and read back every id. The SELECT half sees the table as it was
        # before this statement, the INSERT half returns what it added; together they cover every key.
        sql = text(
            """WITH k AS (
                   SELECT * FROM unnest(CAST(:asof AS timestamptz[]), CAST(:src AS text[]), CAST(:tgt AS text[]),
                                        CAST(:prov AS text[]), CAST(:rate AS numeric[]))
                       AS k(asof, src, tgt, prov, rate)),
               ins AS (
                   INSERT INTO fx_rates (asof_ts, source_ccy, target_ccy, provider, rate)
                   SELECT asof, src, tgt, prov, rate FROM k
                   ON CONFLICT (asof_ts, source_ccy, target_ccy, provider) DO NOTHING
                   RETURNING asof_ts, source_ccy, target_ccy, provider, id),
               stored AS (
                   SELECT f.asof_ts, f.source_ccy, f.target_ccy, f.provider, f.id
                   FROM fx_rates f JOIN k
                     ON f.asof_ts = k.asof AND f.source_ccy = k.src AND f.target_ccy = k.tgt AND f.provider = k.prov)
               SELECT * FROM ins
               UNION ALL
               SELECT * FROM stored"""
        )
        found = self.conn.execute(sql, params).all()
        if len({(r[0], r[1], r[2], r[3]) for r in found}) < len(keys):
            # A concurrent capture committed one of these keys after this statement began: read again.
            found = self.conn.execute(sql, params).all()
        # Callers look rates up by the datetime they supplied; PostgreSQL returns it normalised to UTC.
        by_instant = {(r[0].timestamp(), r[1], r[2], r[3]): r[4] for r in found}
        return {k: by_instant[(k[0].timestamp(), k[1], k[2], k[3])] for k in keys}

    def latest_fx_rate(
        self, source_ccy: str, target_ccy: str, at: datetime, providers: Sequence[str]
    ) -> tuple[uuid.UUID, FxRate] | None:
        """The newest stored rate at or before ``at`` from the given providers (either direction)."""
        row = self.conn.execute(
            text(
                """SELECT id, asof_ts, source_ccy, target_ccy, rate, provider FROM fx_rates
                   WHERE ((source_ccy = :s AND target_ccy = :t) OR (source_ccy = :t AND target_ccy = :s))
                     AND provider = ANY(:providers) AND asof_ts <= :at
                   ORDER BY asof_ts DESC LIMIT 1"""
            ),
            {"s": source_ccy, "t": target_ccy, "at": at, "providers": list(providers)},
        ).first()
        if row is None:
            return None
        return row[0], FxRate(row[2], row[3], row[4], row[1], row[5])

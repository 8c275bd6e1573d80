"""The stored FX rates, newest first (``portfolio-dashboard fx list``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, text


@dataclass(frozen=True, slots=True)
class StoredRate:
    asof_ts: datetime
    source_ccy: str
    target_ccy: str
    rate: Decimal
    provider: str


def stored_rates(conn: Connection, a: str, b: str, limit: int) -> list[StoredRate]:
    """The newest ``limit`` rates; only the pair ``a``/``b`` (either direction) unless ``a`` is empty."""
    rows = conn.execute(text(
        """SELECT asof_ts, source_ccy, target_ccy, rate, provider FROM fx_rates
           WHERE CAST(:a AS text) = '' OR (source_ccy = :a AND target_ccy = :b)
              OR (source_ccy = :b AND target_ccy = :a)
           ORDER BY asof_ts DESC LIMIT :n"""), {"a": a, "b": b, "n": limit}).all()
    return [StoredRate(r[0], r[1], r[2], r[3], r[4]) for r in rows]

"""Writes of benchmark closes (``benchmark_prices``, migration 0009): idempotent by (name, day)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, text

# A re-import of the same file changes nothing (an import without --currency keeps the stored one); a corrected
# close replaces the stored one (and says so).
UPSERT_SQL = """
INSERT INTO benchmark_prices AS b (name, day, close, currency, source)
VALUES (:name, :day, :close, :currency, :source)
ON CONFLICT (name, day) DO UPDATE
    SET close = EXCLUDED.close, currency = COALESCE(EXCLUDED.currency, b.currency), source = EXCLUDED.source,
        created_at = now()
    WHERE (b.close, b.currency, b.source)
          IS DISTINCT FROM (EXCLUDED.close, COALESCE(EXCLUDED.currency, b.currency), EXCLUDED.source)
RETURNING (xmax = 0) AS inserted
"""


def upsert_benchmark_prices(
    conn: Connection, name: str, prices: Sequence[tuple[date, Decimal]], *, currency: str | None, source: str
) -> tuple[int, int]:
    """Store closes for ``name``; returns ``(inserted, updated)`` (unchanged rows count in neither)."""
    inserted = updated = 0
    for day, close in prices:
        row = conn.execute(text(UPSERT_SQL), {"name": name, "day": day, "close": close, "currency": currency,
                                              "source": source}).first()
        if row is None:
            continue
        if row.inserted:
            inserted += 1
        else:
            updated += 1
    return inserted, updated

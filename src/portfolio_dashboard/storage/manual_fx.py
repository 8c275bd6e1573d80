"""Manual FX rates in the database: removing one (``fx delete``) and the other providers' rates around a
date (what ``fx set`` compares a typed rate with)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, text

MANUAL = "manual"


# each row that names one of the rates stops naming it, and says when it was (positions: their snapshot's as-of)
_UNLINK = (
    """UPDATE positions p SET fx_rate_id = NULL FROM snapshots s
       WHERE s.id = p.snapshot_id AND p.fx_rate_id = ANY(:ids) RETURNING s.asof_ts AS ts""",
    "UPDATE trades SET fx_rate_id = NULL WHERE fx_rate_id = ANY(:ids) RETURNING trade_ts AS ts",
    "UPDATE cash_flows SET fx_rate_id = NULL WHERE fx_rate_id = ANY(:ids) RETURNING flow_ts AS ts",
)


@dataclass(frozen=True, slots=True)
class Removed:
    rates: int  # manual rates deleted
    uses: int  # positions, trades and cash flows that named one of them (now naming none)
    first_use: date | None  # the earliest as-of of those rows (where a reprocess should start)


def delete_manual_rates(conn: Connection, source_ccy: str, target_ccy: str, day: date) -> Removed:
    """Delete the manual ``source_ccy``->``target_ccy`` rates of ``day`` (UTC). Rows valued with one keep
    their values but stop naming it (the foreign key); the caller says how to value them again."""
    ids = [r[0] for r in conn.execute(
        text("""SELECT id FROM fx_rates WHERE provider = :p AND source_ccy = :s AND target_ccy = :t
                AND asof_ts >= :d AND asof_ts < :e"""),
        {"p": MANUAL, "s": source_ccy, "t": target_ccy, "d": _utc(day), "e": _utc(day + timedelta(days=1))},
    )]
    if not ids:
        return Removed(0, 0, None)
    uses, first = 0, None
    for update in _UNLINK:
        row = conn.execute(text(f"WITH u AS ({update}) SELECT count(*), min(ts) FROM u"),  # noqa: S608
                           {"ids": ids}).one()
        uses += row[0]
        if row[1] is not None:
            first = row[1].date() if first is None else min(first, row[1].date())
    conn.execute(text("DELETE FROM fx_rates WHERE id = ANY(:ids)"), {"ids": ids})
    return Removed(len(ids), uses, first)


def rates_around(conn: Connection, source_ccy: str, target_ccy: str, at: datetime, days: int
                 ) -> list[tuple[datetime, Decimal, str]]:
    """Every non-manual rate of the pair within ``days`` of ``at``, as ``source_ccy``->``target_ccy``
    (a rate stored the other way round is inverted): ``(as-of, rate, provider)``, oldest first."""
    rows = conn.execute(
        text("""SELECT asof_ts, CASE WHEN source_ccy = :s THEN rate ELSE 1 / rate END, provider FROM fx_rates
                WHERE provider <> :p AND rate > 0 AND asof_ts BETWEEN :lo AND :hi
                  AND ((source_ccy = :s AND target_ccy = :t) OR (source_ccy = :t AND target_ccy = :s))
                ORDER BY asof_ts"""),
        {"s": source_ccy, "t": target_ccy, "p": MANUAL, "lo": at - timedelta(days=days),
         "hi": at + timedelta(days=days)},
    )
    return [(r[0], Decimal(r[1]), r[2]) for r in rows]


def _utc(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)

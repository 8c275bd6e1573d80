"""Read model: each account's reconciliation residual at its newest snapshot (positions + cash + the broker's
own components, minus the broker's total; see docs/record.md)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, text


@dataclass(frozen=True, slots=True)
class Residual:
    broker: str
    broker_account_id: str
    residual_gbp: Decimal | None
    residual_pct: Decimal | None  # percent of the broker's total


def latest_residuals(conn: Connection) -> dict[tuple[str, str], Residual]:
    """The newest snapshot's residual per account, keyed ``(broker, broker_account_id)``.

    Snapshots without holdings (a Flex statement's NAV for an earlier day) have nothing to reconcile and are
    passed over, so an account's residual is that of its newest snapshot that has positions or cash."""
    rows = conn.execute(text(
        """SELECT DISTINCT ON (s.broker, s.broker_account_id)
                  s.broker, s.broker_account_id, s.reconcile_residual_gbp, s.reconcile_residual_pct
           FROM snapshots s
           WHERE EXISTS (SELECT 1 FROM positions p WHERE p.snapshot_id = s.id)
           ORDER BY s.broker, s.broker_account_id, s.asof_ts DESC"""
    ))
    return {(r[0], r[1]): Residual(r[0], r[1], r[2], r[3]) for r in rows}

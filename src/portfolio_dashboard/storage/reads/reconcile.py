"""Reconciliation read models: per account per day, our positions + cash against the broker's own total, and
the broker's NAV bridge (IB Flex ChangeInNAV, ``nav_changes``) beside our own figures for the same period.

``snapshots.total_value_gbp`` is positions + cash as we valued them; ``reported_total_gbp`` is the broker's
total at the stored rate (``domain.valuation.value``). A day is the portfolio time zone's; its last snapshot
stands for it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Connection, text

from portfolio_dashboard.storage.reads.scope import TZ_SQL, Scope, scope_sql


@dataclass(frozen=True, slots=True)
class ReconRow:
    day: date
    broker: str
    broker_account_id: str
    snapshot_id: uuid.UUID
    asof_ts: datetime
    positions: int
    ours_gbp: Decimal | None  # positions + cash
    broker_gbp: Decimal | None  # the broker's own total
    fx_complete: bool  # False: a position had no rate (no GBP value)
    warnings: list[str]  # the capture's warnings for this snapshot (minor units corrected, skipped rows, ...)
    off_value: int  # positions whose quantity x price differs from their value by more than 1 % (and 1p)

    @property
    def residual_gbp(self) -> Decimal | None:
        return None if self.ours_gbp is None or self.broker_gbp is None else self.ours_gbp - self.broker_gbp

    @property
    def residual_pct(self) -> Decimal | None:
        r = self.residual_gbp
        return None if r is None or not self.broker_gbp else r / self.broker_gbp

    def over(self, tolerance: Decimal) -> bool:
        """Beyond the capture's own rule: relative tolerance, with a floor of a penny per position."""
        r = self.residual_gbp
        if r is None or self.broker_gbp is None:
            return False
        return abs(r) > max(abs(self.broker_gbp) * tolerance, Decimal("0.01") * max(1, self.positions))


_RECON_SQL = f"""
SELECT DISTINCT ON (s.broker, s.broker_account_id, (s.asof_ts AT TIME ZONE {TZ_SQL})::date)
       (s.asof_ts AT TIME ZONE {TZ_SQL})::date, s.broker, s.broker_account_id, s.id, s.asof_ts,
       (SELECT count(*) FROM positions p WHERE p.snapshot_id = s.id)::integer,
       s.total_value_gbp, s.reported_total_gbp, s.fx_complete,
       ARRAY(SELECT jsonb_array_elements_text(s.warnings)),
       (SELECT count(*) FROM positions p WHERE p.snapshot_id = s.id AND p.price_local IS NOT NULL
          AND abs(p.quantity * p.price_local - p.market_value_local)
              > greatest(0.01, abs(p.market_value_local) * 0.01))::integer
FROM snapshots s
WHERE {scope_sql("s")} AND s.asof_ts >= :since AND s.asof_ts <= :until
ORDER BY s.broker, s.broker_account_id, (s.asof_ts AT TIME ZONE {TZ_SQL})::date DESC, s.asof_ts DESC
"""  # noqa: S608 - constants only


def reconciliation(conn: Connection, scope: Scope, since: datetime, until: datetime) -> list[ReconRow]:
    """One row per account per day between two moments (newest day first within each account)."""
    params = {**scope.params(), "since": since, "until": until}
    return [ReconRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], list(r[9] or []), r[10])
            for r in conn.execute(text(_RECON_SQL), params)]


@dataclass(frozen=True, slots=True)
class NavBridge:
    broker: str
    broker_account_id: str
    from_date: date
    to_date: date
    currency: str | None
    starting_value: Decimal | None
    deposits_withdrawals: Decimal | None
    dividends: Decimal | None  # net of withholding tax
    interest: Decimal | None
    fees: Decimal | None  # advisor, broker and other fees and commissions
    market_move: Decimal | None  # the broker's mark-to-market
    fx_translation: Decimal | None
    other: Decimal | None  # everything else the broker lists (realised, transfers, accruals, ...)
    ending_value: Decimal | None
    ours_start_local: Decimal | None  # our stored total at the end of from_date - 1 / to_date, same currency
    ours_end_local: Decimal | None
    ours_deposits_local: Decimal | None  # deposits and withdrawals we stored for the period


_NAV_SQL = f"""
SELECT n.broker, n.broker_account_id, n.from_date, n.to_date, n.currency, n.starting_value,
       n.deposits_withdrawals,
       COALESCE(n.dividends, 0) + COALESCE(n.withholding_tax, 0),
       n.interest,
       COALESCE(n.advisor_fees, 0) + COALESCE(n.broker_fees, 0) + COALESCE(n.other_fees, 0)
           + COALESCE(n.commissions, 0),
       n.mtm, n.fx_translation,
       n.ending_value - COALESCE(n.starting_value, 0) - COALESCE(n.deposits_withdrawals, 0)
           - COALESCE(n.dividends, 0) - COALESCE(n.withholding_tax, 0) - COALESCE(n.interest, 0)
           - COALESCE(n.advisor_fees, 0) - COALESCE(n.broker_fees, 0) - COALESCE(n.other_fees, 0)
           - COALESCE(n.commissions, 0) - COALESCE(n.mtm, 0) - COALESCE(n.fx_translation, 0),
       n.ending_value,
       (SELECT v.total_value_local FROM daily_account_value v WHERE v.broker = n.broker
          AND v.broker_account_id = n.broker_account_id AND v.day = n.from_date - 1),
       (SELECT v.total_value_local FROM daily_account_value v WHERE v.broker = n.broker
          AND v.broker_account_id = n.broker_account_id AND v.day = n.to_date),
       (SELECT sum(f.amount_local) FROM cash_flows f WHERE f.broker = n.broker
          AND f.broker_account_id = n.broker_account_id
          AND f.kind IN ('deposit', 'withdrawal', 'transfer_in', 'transfer_out')
          AND (f.flow_ts AT TIME ZONE {TZ_SQL})::date BETWEEN n.from_date AND n.to_date)
FROM nav_changes n
WHERE {scope_sql("n")}
ORDER BY n.to_date DESC, n.broker, n.broker_account_id
LIMIT :limit
"""  # noqa: S608 - constants only


def nav_bridges(conn: Connection, scope: Scope, limit: int = 50) -> list[NavBridge]:
    """The broker's NAV bridges (newest period first) with our own figures for the same period."""
    return [NavBridge(*r) for r in conn.execute(text(_NAV_SQL), {**scope.params(), "limit": limit})]

"""Since inception without reading every day (issue 18): the closes a period from inception needs, thinned in SQL.

A since-inception figure chains every sub-period of the history, but almost all of them are plain ratios: a
sub-period with no flow, starting from a positive value, grows by V1/V0, and a run of such sub-periods chains to
the ratio of its last value to its first (the middle values cancel). So the database keeps, of each account's
closes, only

* its first and last;
* the last close before and the first at or after each *cut*: every external flow of any account in the filter,
  both ends of each account's first day (its arrival in a combined scope), both ends of each IBKR statement's
  dates, and the end of the period's last day;
* both ends of every stretch between neighbouring closes at least ``max_gap`` (the gap rule's limit) long;

and says of each kept close its position among all of them (``ordinals``), so the domain knows which kept
closes were neighbours (``SeriesColumns.adjacent``). Why that loses nothing (docs/returns.md, "Since
inception, thinned"):

* every Modified Dietz sub-period keeps both of its valuations, in every account, so it is computed from the same
  values, for an account and for a combined scope; between them the kept closes chain to the same product;
* a combined scope's value at a kept moment may miss a left-out change of another account, but only inside a run
  without flows, where it cancels out; at the runs' ends every account's close was kept;
* a gap is reported only between kept closes that were neighbours, and every longer-than-limit stretch between
  neighbours is kept, so the gap rule reports exactly the gaps of the full history;
* IBKR's statements are chained across days only where the account was not valued: with cuts at each
  statement's dates, every uncovered stretch that held a close still holds a kept one.

The argument needs every value positive and present (a zero or negative value, or a missing one, makes the
sub-periods around it special, and a combined scope's middle values could then change sign): an account with
any such close is counted in ``irregular``, and the caller reads the whole history instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from portfolio_dashboard.domain.returns import IBKR_STATEMENT_ZONE


@dataclass(frozen=True, slots=True)
class Inception:
    """A period from inception to ``last`` (inclusive), whose figures use the gap rule's limit ``max_gap``."""

    last: date
    max_gap: timedelta

    def params(self, zone: ZoneInfo) -> dict[str, Any]:
        return {"zone": zone.key, "statement_zone": IBKR_STATEMENT_ZONE.key, "gap": self.max_gap,
                "cut_end": datetime.combine(self.last + timedelta(days=1), time(), zone)}


def thinned_closes_sql(filter_sql: str, until: bool) -> str:
    """One row per account in the filter: its kept closes as arrays in time order, its currencies, and how many of
    all its closes are not positive or lack a value (``irregular``). Each account's closes are read by their own
    index-backed lateral query, so the window functions order one account's moments (no sort by account names)."""
    bound = "AND d.day <= :until_day AND d.asof_ts <= :until" if until else ""
    return f"""
WITH accounts AS (
    SELECT a.broker, a.broker_account_id FROM broker_accounts a WHERE {filter_sql}
),
first_days AS (
    SELECT ((SELECT min(s.asof_ts) FROM snapshots s
             WHERE s.broker = a.broker AND s.broker_account_id = a.broker_account_id
                   {"AND s.asof_ts <= :until" if until else ""}) AT TIME ZONE :zone)::date AS day
    FROM accounts a
),
cuts AS (
    SELECT array_agg(DISTINCT e.at ORDER BY e.at) AS at FROM (
        SELECT c.flow_ts AS at FROM cash_flows c JOIN accounts a USING (broker, broker_account_id)
        WHERE c.kind = ANY(CAST(:external AS text[])) {"AND c.flow_ts <= :until" if until else ""}
        UNION ALL SELECT f.day::timestamp AT TIME ZONE :zone FROM first_days f
        UNION ALL SELECT (f.day + 1)::timestamp AT TIME ZONE :zone FROM first_days f
        UNION ALL SELECT n.from_date::timestamp AT TIME ZONE :statement_zone
                  FROM nav_changes n JOIN accounts a USING (broker, broker_account_id)
        UNION ALL SELECT (n.to_date + 1)::timestamp AT TIME ZONE :statement_zone
                  FROM nav_changes n JOIN accounts a USING (broker, broker_account_id)
        UNION ALL SELECT CAST(:cut_end AS timestamptz)
    ) e WHERE e.at IS NOT NULL
)
SELECT a.broker, a.broker_account_id, k.stamps, k.gbp, k.local, k.ordinals, k.currencies, k.irregular
FROM accounts a CROSS JOIN cuts
CROSS JOIN LATERAL (
    SELECT array_agg(t.asof_ts ORDER BY t.asof_ts) FILTER (WHERE t.kept) AS stamps,
           array_agg(t.total_value_gbp ORDER BY t.asof_ts) FILTER (WHERE t.kept) AS gbp,
           array_agg(t.total_value_local ORDER BY t.asof_ts) FILTER (WHERE t.kept) AS local,
           array_agg(t.n ORDER BY t.asof_ts) FILTER (WHERE t.kept) AS ordinals,
           array_agg(DISTINCT t.account_currency) FILTER (WHERE t.account_currency <> '') AS currencies,
           count(*) FILTER (WHERE NOT COALESCE(t.total_value_gbp > 0 AND t.total_value_local > 0, false))
               AS irregular
    FROM (
        SELECT c.asof_ts, c.total_value_gbp, c.total_value_local, c.account_currency, row_number() OVER w AS n,
               c.cut IS DISTINCT FROM lag(c.cut) OVER w OR c.cut IS DISTINCT FROM lead(c.cut) OVER w
               OR c.asof_ts - lag(c.asof_ts) OVER w >= CAST(:gap AS interval)
               OR lead(c.asof_ts) OVER w - c.asof_ts >= CAST(:gap AS interval) AS kept
        FROM (
            SELECT d.asof_ts, d.total_value_gbp, d.total_value_local, d.account_currency,
                   width_bucket(d.asof_ts, cuts.at) AS cut
            FROM daily_account_value d
            WHERE d.broker = a.broker AND d.broker_account_id = a.broker_account_id AND NOT d.carried_forward
                  {bound}
        ) c
        WINDOW w AS (ORDER BY c.asof_ts)
    ) t
) k
ORDER BY a.broker, a.broker_account_id
"""  # noqa: S608 - constants only

"""Read-path performance: the dashboard's view queries at 10 years x 3 accounts x 200 positions (2.2M rows).

Measured with ``bench/read_views.py`` (figures in docs/benchmarks.md). Same results, row for row (the
semantics tests in tests/integration/test_views.py run against this revision), cheaper plans:

* ``latest_snapshot_per_broker_account`` sorted every snapshot (DISTINCT ON over the whole table); now one
  index probe per account (``LIMIT 1`` per row of ``broker_accounts``, which every snapshot references
  through ``snapshots_account_fkey``, so no account can be missed). The allocation view reads it too.
* ``daily_account_value`` built a day x account grid, joined it back and ran two window passes. Now: one
  ordered pass over the snapshots (an index-only scan) whose ``lag`` finds each local day's last snapshot
  and the next day that has one; the days in between are generated only where there is a gap. The local
  date is a non-decreasing function of ``asof_ts`` in any time zone, so "the next snapshot's day" is "the
  next day with a snapshot", and the newest snapshot's day is the last day of all.
* ``positions_history`` for one instrument fetched one heap page per row (an instrument's rows are spread
  over the whole table, one per snapshot). A covering index makes it an index-only scan; it replaces
  ``positions_instrument_idx``, whose key it shares.
* ``snapshots_account_asof_idx`` also covers ``account_currency`` so the daily view never visits the heap.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEXES = """
CREATE INDEX positions_instrument_history_idx ON positions (instrument_id, snapshot_id)
    INCLUDE (quantity, price_local, market_value_local, market_value_gbp, fx_rate_id, cost_basis, unrealized_pnl);
DROP INDEX positions_instrument_idx;

DROP INDEX snapshots_account_asof_idx;
CREATE INDEX snapshots_account_asof_idx ON snapshots (broker, broker_account_id, asof_ts DESC)
    INCLUDE (id, total_value_gbp, total_value_local, account_currency);
"""

VIEWS = """
CREATE OR REPLACE VIEW latest_snapshot_per_broker_account AS
SELECT s.*
FROM broker_accounts a
CROSS JOIN LATERAL (
    SELECT *
    FROM snapshots s
    WHERE s.broker = a.broker AND s.broker_account_id = a.broker_account_id
    ORDER BY s.asof_ts DESC, s.created_at DESC
    LIMIT 1
) s;

CREATE OR REPLACE VIEW daily_account_value AS
WITH tz AS (
    SELECT COALESCE(NULLIF(current_setting('portfolio.timezone', true), ''), 'Europe/London') AS name
),
local_days AS (
    SELECT s.broker, s.broker_account_id, s.id, s.asof_ts, s.total_value_gbp, s.total_value_local,
           s.account_currency, (s.asof_ts AT TIME ZONE tz.name)::date AS day
    FROM snapshots s CROSS JOIN tz
),
-- The last snapshot of each account's local day: the one whose next (newer) snapshot falls on another day.
-- next_day is that newer snapshot's day, i.e. the account's next day with a snapshot (NULL: none yet).
closes AS MATERIALIZED (
    SELECT *
    FROM (SELECT l.*,
                 lag(l.day) OVER (PARTITION BY l.broker, l.broker_account_id ORDER BY l.asof_ts DESC) AS next_day
          FROM local_days l) ordered
    WHERE next_day IS DISTINCT FROM day
),
last_day AS (
    SELECT ((SELECT max(asof_ts) FROM snapshots) AT TIME ZONE tz.name)::date AS day FROM tz
)
SELECT c.day, c.broker, c.broker_account_id, c.id AS snapshot_id, c.asof_ts, c.total_value_gbp,
       c.total_value_local, c.account_currency, false AS carried_forward
FROM closes c
UNION ALL
-- Days without a snapshot of their own carry the previous day's close forward, up to the last day of all.
SELECT c.day + k, c.broker, c.broker_account_id, c.id, c.asof_ts, c.total_value_gbp,
       c.total_value_local, c.account_currency, true
FROM closes c
CROSS JOIN last_day l
CROSS JOIN LATERAL generate_series(1, COALESCE(c.next_day, l.day + 1) - c.day - 1) AS k
WHERE COALESCE(c.next_day, l.day + 1) - c.day > 1;
"""

# The 0001 definitions, restored on downgrade.
OLD_VIEWS = """
CREATE OR REPLACE VIEW latest_snapshot_per_broker_account AS
SELECT DISTINCT ON (s.broker, s.broker_account_id) s.*
FROM snapshots s
ORDER BY s.broker, s.broker_account_id, s.asof_ts DESC, s.created_at DESC;

CREATE OR REPLACE VIEW daily_account_value AS
WITH tz AS (
    SELECT COALESCE(NULLIF(current_setting('portfolio.timezone', true), ''), 'Europe/London') AS name
),
per_day AS (
    SELECT DISTINCT ON (s.broker, s.broker_account_id, (s.asof_ts AT TIME ZONE tz.name)::date)
           s.broker, s.broker_account_id, (s.asof_ts AT TIME ZONE tz.name)::date AS day,
           s.id AS snapshot_id, s.asof_ts, s.total_value_gbp, s.total_value_local, s.account_currency
    FROM snapshots s CROSS JOIN tz
    ORDER BY s.broker, s.broker_account_id, (s.asof_ts AT TIME ZONE tz.name)::date, s.asof_ts DESC
),
accounts AS (
    SELECT broker, broker_account_id, min(day) AS first_day FROM per_day GROUP BY broker, broker_account_id
),
days AS (
    SELECT generate_series(min(day), max(day), interval '1 day')::date AS day FROM per_day
),
grid AS (
    SELECT d.day, a.broker, a.broker_account_id, p.snapshot_id, p.asof_ts, p.total_value_gbp,
           p.total_value_local, p.account_currency,
           count(p.snapshot_id) OVER (PARTITION BY a.broker, a.broker_account_id ORDER BY d.day) AS grp
    FROM days d
    JOIN accounts a ON d.day >= a.first_day
    LEFT JOIN per_day p
           ON p.broker = a.broker AND p.broker_account_id = a.broker_account_id AND p.day = d.day
)
SELECT day, broker, broker_account_id,
       first_value(snapshot_id) OVER w AS snapshot_id,
       first_value(asof_ts) OVER w AS asof_ts,
       first_value(total_value_gbp) OVER w AS total_value_gbp,
       first_value(total_value_local) OVER w AS total_value_local,
       first_value(account_currency) OVER w AS account_currency,
       snapshot_id IS NULL AS carried_forward
FROM grid
WINDOW w AS (PARTITION BY broker, broker_account_id, grp ORDER BY day);
"""

OLD_INDEXES = """
DROP INDEX snapshots_account_asof_idx;
CREATE INDEX snapshots_account_asof_idx ON snapshots (broker, broker_account_id, asof_ts DESC)
    INCLUDE (id, total_value_gbp, total_value_local);

CREATE INDEX positions_instrument_idx ON positions (instrument_id, snapshot_id);
DROP INDEX positions_instrument_history_idx;
"""


def upgrade() -> None:
    op.execute(INDEXES)
    op.execute(VIEWS)


def downgrade() -> None:
    op.execute(OLD_VIEWS)
    op.execute(OLD_INDEXES)

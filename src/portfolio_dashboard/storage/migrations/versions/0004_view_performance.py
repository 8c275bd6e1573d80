"""Read-path performance: the dashboard's view queries at 10 years x 3 accounts x 200 positions (2.2M rows).

Measured with ``bench/read_views.py`` (figures in docs/benchmarks.md). Same results, row for row (the
semantics tests in tests/integration/test_views.py run against 0001 and this revision), cheaper plans:

* ``latest_snapshot_per_broker_account`` sorted every snapshot (DISTINCT ON over the whole table); now one
  index probe per account (``LIMIT 1`` per row of ``broker_accounts``, which every snapshot references
  through ``snapshots_account_fkey``, so no account can be missed). The allocation view reads it too.
* ``daily_account_value`` built a day x account grid, joined it back and ran two window passes. The
  computation (``daily_account_value_in(zone)``) is now one ordered pass over the snapshots (an index-only
  scan) whose ``lag`` finds each local day's last snapshot and the next day that has one; the days in between
  are generated only where there is a gap. The local date is a non-decreasing function of ``asof_ts`` in any
  zone, so "the next snapshot's day" is "the next day with a snapshot", and the newest snapshot's day is the
  last day of all. Even so, every read processed every snapshot (~20 ms of CPU at 10 years on the target
  machine), so the view now reads a cache of its own rows per time zone (``daily_account_value_cache``),
  maintained at commit by triggers on ``snapshots`` and exactly equal to the computation (see CACHE below;
  tests/integration/test_daily_value_cache.py), and ``daily_portfolio_value`` reads the per-day sums of it.
* ``positions_history`` for one instrument fetched one heap page per row (an instrument's rows are spread
  over the whole table, one per snapshot). A covering index makes it an index-only scan; it replaces
  ``positions_instrument_idx``, whose key it shares.
* ``snapshots_account_asof_idx`` also covers ``account_currency`` so the daily computation never visits the
  heap.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from alembic import op

revision = "0004"
down_revision = "0003"
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
"""

# daily_account_value, computed. The function takes the zone as an argument so that the cache below can be
# filled for any zone; the view passes the session's zone. Inlined by the planner (a single SQL SELECT).
DAILY_FUNCTIONS = """
CREATE FUNCTION portfolio_timezone() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN COALESCE(NULLIF(current_setting('portfolio.timezone', true), ''), 'Europe/London');

CREATE FUNCTION daily_account_value_in(zone text)
RETURNS TABLE (day date, broker text, broker_account_id text, snapshot_id uuid, asof_ts timestamptz,
               total_value_gbp numeric, total_value_local numeric, account_currency text, carried_forward boolean)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
WITH local_days AS (
    SELECT s.broker, s.broker_account_id, s.id, s.asof_ts, s.total_value_gbp, s.total_value_local,
           s.account_currency, (s.asof_ts AT TIME ZONE zone)::date AS day
    FROM snapshots s
),
-- The last snapshot of each account's local day: the one whose next (newer) snapshot falls on another day.
-- next_day is that newer snapshot's day, i.e. the account's next day with a snapshot (NULL: none yet).
closes AS MATERIALIZED (
    SELECT *
    FROM (SELECT l.*,
                 lag(l.day) OVER (PARTITION BY l.broker, l.broker_account_id ORDER BY l.asof_ts DESC) AS next_day
          FROM local_days l) ordered
    WHERE ordered.next_day IS DISTINCT FROM ordered.day
),
last_day AS (
    SELECT ((SELECT max(s.asof_ts) FROM snapshots s) AT TIME ZONE zone)::date AS day
)
SELECT c.day, c.broker, c.broker_account_id, c.id, c.asof_ts, c.total_value_gbp, c.total_value_local,
       c.account_currency, false
FROM closes c
UNION ALL
-- Days without a snapshot of their own carry the previous day's close forward, up to the last day of all.
SELECT c.day + k.n, c.broker, c.broker_account_id, c.id, c.asof_ts, c.total_value_gbp, c.total_value_local,
       c.account_currency, true
FROM closes c
CROSS JOIN last_day l
CROSS JOIN LATERAL generate_series(1, COALESCE(c.next_day, l.day + 1) - c.day - 1) AS k(n)
WHERE COALESCE(c.next_day, l.day + 1) - c.day > 1
$$;
"""

# The cache: daily_account_value materialised per time zone, maintained at write time. Reading the full daily
# history then scans ~11k small rows instead of recomputing every account's days from every snapshot.
#
# Exactness. A row of day x depends only on the snapshots of local days <= x and on whether x <= the last day
# of all (L). A change (insert, delete, update) of snapshots at local days >= d therefore leaves every row
# before min(d, min(L_before, L_after) + 1) as it was; the flush recomputes the rows from that day on with
# the same function the view uses. Changes are collected per transaction (a transaction-local setting holds
# the earliest changed as-of) and flushed once at commit by a deferred trigger, under an advisory lock so
# that concurrent writers flush one after the other, each seeing the others' committed rows (READ COMMITTED;
# other isolation levels are refused, their snapshot would be stale). Until its flush, a transaction that
# changed snapshots reads the computed path, so it sees its own changes; every other session sees cache and
# snapshots committed together. A zone without a cache (or a session with pending changes) is computed.
DAILY_COLUMNS = "id, broker, broker_account_id, asof_ts, total_value_gbp, total_value_local, account_currency"
CHANGED = " IS DISTINCT FROM ".join(
    "(" + ", ".join(f"{side}.{c.strip()}" for c in DAILY_COLUMNS.split(",")) + ")" for side in ("OLD", "NEW")
)

CACHE = """
CREATE TABLE daily_value_cache_zones (
    zone      text PRIMARY KEY,
    added_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE daily_account_value_cache (
    zone               text NOT NULL REFERENCES daily_value_cache_zones (zone) ON DELETE CASCADE,
    day                date NOT NULL,
    broker             text NOT NULL,
    broker_account_id  text NOT NULL,
    snapshot_id        uuid NOT NULL,
    asof_ts            timestamptz NOT NULL,
    total_value_gbp    numeric,
    total_value_local  numeric,
    account_currency   text,
    carried_forward    boolean NOT NULL,
    PRIMARY KEY (zone, day, broker, broker_account_id)
);

-- One row per zone and day: the sums of that day's daily_account_value_cache rows.
CREATE TABLE daily_portfolio_value_cache (
    zone                      text NOT NULL REFERENCES daily_value_cache_zones (zone) ON DELETE CASCADE,
    day                       date NOT NULL,
    total_value_gbp           numeric,
    accounts                  integer NOT NULL,
    accounts_without_gbp      integer NOT NULL,
    accounts_carried_forward  integer NOT NULL,
    PRIMARY KEY (zone, day)
);

CREATE FUNCTION daily_value_cache_usable() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
RETURN COALESCE(current_setting('portfolio.daily_value_pending', true), '') = ''
       AND EXISTS (SELECT 1 FROM daily_value_cache_zones z WHERE z.zone = portfolio_timezone());

-- Recompute the cached rows from the local day of ``since`` on (NULL: all), for every cached zone or one.
CREATE FUNCTION daily_value_cache_refresh(since timestamptz, only_zone text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    z text;
    old_last date;
    new_last date;
    first_day date;
BEGIN
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'snapshots can only be changed in READ COMMITTED transactions'
            USING ERRCODE = 'invalid_transaction_state',
                  HINT = 'the daily value cache is refreshed at commit from the committed snapshots';
    END IF;
    PERFORM pg_advisory_xact_lock(727003);
    FOR z IN SELECT c.zone FROM daily_value_cache_zones c WHERE only_zone IS NULL OR c.zone = only_zone LOOP
        SELECT max(c.day) INTO old_last FROM daily_account_value_cache c WHERE c.zone = z;
        new_last := ((SELECT max(s.asof_ts) FROM snapshots s) AT TIME ZONE z)::date;
        IF since IS NULL OR new_last IS NULL THEN
            first_day := '-infinity';
        ELSE
            first_day := LEAST((since AT TIME ZONE z)::date, LEAST(old_last, new_last) + 1);
        END IF;
        DELETE FROM daily_account_value_cache c WHERE c.zone = z AND c.day >= first_day;
        INSERT INTO daily_account_value_cache (zone, day, broker, broker_account_id, snapshot_id, asof_ts,
                                               total_value_gbp, total_value_local, account_currency,
                                               carried_forward)
        SELECT z, d.* FROM daily_account_value_in(z) d WHERE d.day >= first_day
        ORDER BY d.day, d.broker, d.broker_account_id;  -- stored in reading order: sorting it is then ~free
        -- a day's portfolio row depends on that day's account rows only
        DELETE FROM daily_portfolio_value_cache p WHERE p.zone = z AND p.day >= first_day;
        INSERT INTO daily_portfolio_value_cache (zone, day, total_value_gbp, accounts, accounts_without_gbp,
                                                 accounts_carried_forward)
        SELECT z, c.day, sum(c.total_value_gbp), count(*)::integer,
               (count(*) FILTER (WHERE c.total_value_gbp IS NULL))::integer,
               (count(*) FILTER (WHERE c.carried_forward))::integer
        FROM daily_account_value_cache c WHERE c.zone = z AND c.day >= first_day
        GROUP BY c.day ORDER BY c.day;
    END LOOP;
END $$;

-- Keep a cache for ``zone`` from now on (filled at once); a no-op when there is one.
CREATE FUNCTION daily_value_cache_track(new_zone text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM now() AT TIME ZONE new_zone;  -- rejects an unknown zone
    INSERT INTO daily_value_cache_zones AS c (zone) VALUES (new_zone) ON CONFLICT (zone) DO NOTHING;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM daily_value_cache_refresh(NULL, new_zone);
    RETURN true;
END $$;

CREATE FUNCTION daily_value_cache_mark() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changed timestamptz;
    micros bigint;
    pending text := current_setting('portfolio.daily_value_pending', true);
BEGIN
    changed := CASE TG_OP WHEN 'INSERT' THEN NEW.asof_ts WHEN 'DELETE' THEN OLD.asof_ts
                          ELSE LEAST(OLD.asof_ts, NEW.asof_ts) END;
    -- microseconds since the epoch: exact, and independent of the session's DateStyle and TimeZone
    micros := (extract(epoch FROM changed) * 1000000)::bigint;
    IF COALESCE(pending, '') = '' OR micros < pending::bigint THEN
        PERFORM set_config('portfolio.daily_value_pending', micros::text, true);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION daily_value_cache_flush() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    pending text := current_setting('portfolio.daily_value_pending', true);
BEGIN
    IF COALESCE(pending, '') = '' THEN
        RETURN NULL;  -- flushed by an earlier row of this transaction
    END IF;
    PERFORM daily_value_cache_refresh(to_timestamp(0) + pending::bigint * interval '1 microsecond');
    PERFORM set_config('portfolio.daily_value_pending', '', true);
    RETURN NULL;
END $$;

CREATE FUNCTION daily_value_cache_clear() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM daily_account_value_cache;
    DELETE FROM daily_portfolio_value_cache;
    RETURN NULL;
END $$;

-- An update matters only when it changes a column the daily views read (reprocess rewrites labels too).
CREATE TRIGGER snapshots_daily_value_mark AFTER INSERT OR DELETE ON snapshots
    FOR EACH ROW EXECUTE FUNCTION daily_value_cache_mark();
CREATE TRIGGER snapshots_daily_value_mark_update AFTER UPDATE ON snapshots
    FOR EACH ROW WHEN ({changed})
    EXECUTE FUNCTION daily_value_cache_mark();
CREATE CONSTRAINT TRIGGER snapshots_daily_value_flush AFTER INSERT OR DELETE ON snapshots
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION daily_value_cache_flush();
CREATE CONSTRAINT TRIGGER snapshots_daily_value_flush_update AFTER UPDATE ON snapshots
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN ({changed})
    EXECUTE FUNCTION daily_value_cache_flush();
CREATE TRIGGER snapshots_daily_value_truncate AFTER TRUNCATE ON snapshots
    FOR EACH STATEMENT EXECUTE FUNCTION daily_value_cache_clear();

CREATE OR REPLACE VIEW daily_account_value AS
SELECT c.day, c.broker, c.broker_account_id, c.snapshot_id, c.asof_ts, c.total_value_gbp, c.total_value_local,
       c.account_currency, c.carried_forward
FROM daily_account_value_cache c
WHERE c.zone = (SELECT portfolio_timezone()) AND daily_value_cache_usable()
UNION ALL
SELECT d.day, d.broker, d.broker_account_id, d.snapshot_id, d.asof_ts, d.total_value_gbp, d.total_value_local,
       d.account_currency, d.carried_forward
FROM daily_account_value_in(portfolio_timezone()) d
WHERE NOT daily_value_cache_usable();

CREATE OR REPLACE VIEW daily_portfolio_value AS
SELECT p.day, p.total_value_gbp, p.accounts, p.accounts_without_gbp, p.accounts_carried_forward
FROM daily_portfolio_value_cache p
WHERE p.zone = (SELECT portfolio_timezone()) AND daily_value_cache_usable()
UNION ALL
SELECT d.day, sum(d.total_value_gbp), count(*)::integer,
       (count(*) FILTER (WHERE d.total_value_gbp IS NULL))::integer,
       (count(*) FILTER (WHERE d.carried_forward))::integer
FROM daily_account_value_in(portfolio_timezone()) d
WHERE NOT daily_value_cache_usable()
GROUP BY d.day;

-- The default zone is cached from the start; the app adds PORTFOLIO_TIMEZONE (storage.migrate.track_timezone).
SELECT daily_value_cache_track('Europe/London');
"""

# The 0001 definitions, restored on downgrade.
OLD_VIEWS = """
CREATE OR REPLACE VIEW daily_portfolio_value AS
SELECT day,
       sum(total_value_gbp) AS total_value_gbp,
       count(*)::integer AS accounts,
       (count(*) FILTER (WHERE total_value_gbp IS NULL))::integer AS accounts_without_gbp,
       (count(*) FILTER (WHERE carried_forward))::integer AS accounts_carried_forward
FROM daily_account_value
GROUP BY day;

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


DROP_CACHE = """
DROP TRIGGER snapshots_daily_value_truncate ON snapshots;
DROP TRIGGER snapshots_daily_value_flush_update ON snapshots;
DROP TRIGGER snapshots_daily_value_flush ON snapshots;
DROP TRIGGER snapshots_daily_value_mark_update ON snapshots;
DROP TRIGGER snapshots_daily_value_mark ON snapshots;
DROP FUNCTION daily_value_cache_clear();
DROP FUNCTION daily_value_cache_flush();
DROP FUNCTION daily_value_cache_mark();
DROP FUNCTION daily_value_cache_track(text);
DROP FUNCTION daily_value_cache_refresh(timestamptz, text);
DROP FUNCTION daily_value_cache_usable();
DROP TABLE daily_portfolio_value_cache;
DROP TABLE daily_account_value_cache;
DROP TABLE daily_value_cache_zones;
DROP FUNCTION daily_account_value_in(text);
DROP FUNCTION portfolio_timezone();
"""


def upgrade() -> None:
    op.execute(INDEXES)
    op.execute(VIEWS)
    op.execute(DAILY_FUNCTIONS)
    op.execute(CACHE.replace("{changed}", CHANGED))


def downgrade() -> None:
    op.execute(OLD_VIEWS)
    op.execute(DROP_CACHE)
    op.execute(OLD_INDEXES)

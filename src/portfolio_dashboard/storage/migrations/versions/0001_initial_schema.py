"""The Data Persistence Plan's schema, its constraints, indexes and the four analytics views.

Every table and column of the plan keeps the plan's name and type. Additions (marked "added") earn their
place: a global instrument table naming each identity, raw payload columns for non-JSON bodies and
auditing, run outcomes, and FX/as-of provenance.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = """
CREATE TABLE snapshot_runs (
    run_id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    trigger_type    text NOT NULL,
    triggered_by    text,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    status          text NOT NULL DEFAULT 'running',
    schema_version  text NOT NULL,
    app_version     text,
    error_summary   text,
    -- added: what ran and how each source fared
    sources         text[] NOT NULL DEFAULT '{}',
    outcome         jsonb NOT NULL DEFAULT '[]'::jsonb,
    warnings        jsonb NOT NULL DEFAULT '[]'::jsonb,
    hostname        text,
    pid             integer,
    CONSTRAINT snapshot_runs_status_check CHECK (status IN ('running', 'success', 'partial', 'fail')),
    CONSTRAINT snapshot_runs_trigger_check
        CHECK (trigger_type IN ('manual', 'scheduled', 'reprocess', 'replay')),
    CONSTRAINT snapshot_runs_finished_check CHECK ((status = 'running') = (finished_at IS NULL))
);
CREATE INDEX snapshot_runs_started_idx ON snapshot_runs (started_at DESC);
CREATE INDEX snapshot_runs_running_idx ON snapshot_runs (run_id) WHERE status = 'running';

CREATE TABLE broker_accounts (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    broker             text NOT NULL,
    broker_account_id  text NOT NULL,
    name               text,
    base_currency      text,
    created_at         timestamptz NOT NULL DEFAULT now(),  -- added
    updated_at         timestamptz NOT NULL DEFAULT now(),  -- added
    CONSTRAINT broker_accounts_broker_account_key UNIQUE (broker, broker_account_id)
);

CREATE TABLE instruments (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    broker                text NOT NULL,
    broker_instrument_id  text NOT NULL,
    symbol                text,
    name                  text,
    asset_class           text,
    currency              text,
    isin                  text,
    cusip                 text,
    figi                  text,          -- added
    exchange              text,          -- added: listing exchange
    broker_asset_class    text,          -- added: the broker's own label (IB "STK", Schwab "EQUITY")
    created_at            timestamptz NOT NULL DEFAULT now(),  -- added
    updated_at            timestamptz NOT NULL DEFAULT now(),  -- added
    CONSTRAINT instruments_broker_instrument_key UNIQUE (broker, broker_instrument_id)
);
CREATE INDEX instruments_isin_idx ON instruments (isin) WHERE isin IS NOT NULL;

-- added: one row per global identity, named, so views can show a name for merged instruments
CREATE TABLE global_instruments (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name         text,
    symbol       text,
    asset_class  text,
    currency     text,
    isin         text,
    cusip        text,
    figi         text,
    exchange     text,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX global_instruments_isin_idx ON global_instruments (isin) WHERE isin IS NOT NULL;

CREATE TABLE instrument_mapping (
    global_instrument_id  uuid NOT NULL REFERENCES global_instruments (id),
    instrument_id         uuid NOT NULL REFERENCES instruments (id) ON DELETE CASCADE,
    mapping_source        text NOT NULL,
    confidence            numeric,
    updated_at            timestamptz NOT NULL DEFAULT now(),  -- added
    CONSTRAINT instrument_mapping_instrument_key UNIQUE (instrument_id),
    CONSTRAINT instrument_mapping_source_check CHECK (mapping_source IN ('manual', 'heuristic', 'broker')),
    CONSTRAINT instrument_mapping_confidence_check CHECK (confidence IS NULL OR confidence BETWEEN 0 AND 1)
);
CREATE INDEX instrument_mapping_global_idx ON instrument_mapping (global_instrument_id);

CREATE TABLE fx_rates (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    asof_ts     timestamptz NOT NULL,
    source_ccy  text NOT NULL,
    target_ccy  text NOT NULL,
    rate        numeric NOT NULL,
    provider    text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),  -- added
    CONSTRAINT fx_rates_asof_pair_provider_key UNIQUE (asof_ts, source_ccy, target_ccy, provider),
    CONSTRAINT fx_rates_rate_positive CHECK (rate > 0)
);
CREATE INDEX fx_rates_pair_asof_idx ON fx_rates (source_ccy, target_ccy, asof_ts DESC);

CREATE TABLE snapshots (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    run_id             uuid NOT NULL REFERENCES snapshot_runs (run_id),
    broker             text NOT NULL,
    broker_account_id  text NOT NULL,
    asof_ts            timestamptz NOT NULL,
    snapshot_key       text NOT NULL,
    total_value_local  numeric,
    total_value_gbp    numeric,
    base_currency      text NOT NULL DEFAULT 'GBP',
    -- added: provenance and reconciliation
    account_currency   text,           -- currency of total_value_local (the account's base at the broker)
    reported_total_gbp numeric,        -- the broker's total converted at the stored rate
    asof_source        text,           -- where asof_ts came from (broker timestamp, HTTP Date, report date)
    source             text,           -- the source that captured it (ib_gateway, ib_flex, schwab, demo)
    parser_version     text,
    fx_complete        boolean NOT NULL DEFAULT true,  -- false when a position lacks a GBP value
    warnings           jsonb NOT NULL DEFAULT '[]'::jsonb,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT snapshots_snapshot_key_key UNIQUE (snapshot_key),
    CONSTRAINT snapshots_account_fkey FOREIGN KEY (broker, broker_account_id)
        REFERENCES broker_accounts (broker, broker_account_id)
);
CREATE INDEX snapshots_account_asof_idx ON snapshots (broker, broker_account_id, asof_ts DESC)
    INCLUDE (id, total_value_gbp, total_value_local);
CREATE INDEX snapshots_run_idx ON snapshots (run_id);
CREATE INDEX snapshots_asof_idx ON snapshots (asof_ts);

CREATE TABLE positions (
    snapshot_id         uuid NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,
    instrument_id       uuid NOT NULL REFERENCES instruments (id),
    quantity            numeric NOT NULL,
    price_local         numeric,
    market_value_local  numeric NOT NULL,
    market_value_gbp    numeric,
    fx_rate_id          uuid REFERENCES fx_rates (id),
    cost_basis          numeric,
    unrealized_pnl      numeric,
    CONSTRAINT positions_snapshot_instrument_key PRIMARY KEY (snapshot_id, instrument_id)
);
CREATE INDEX positions_instrument_idx ON positions (instrument_id, snapshot_id);

CREATE TABLE raw_payloads (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    run_id          uuid NOT NULL REFERENCES snapshot_runs (run_id),
    broker          text NOT NULL,
    endpoint        text NOT NULL,
    payload_json    jsonb,            -- the body when it is JSON
    received_at     timestamptz NOT NULL,
    -- added: bodies that are not JSON (Flex XML, an HTML error page) and audit fields
    source          text,
    status_code     integer,
    content_type    text,
    body_text       text,             -- the body when it is not JSON
    content_sha256  text NOT NULL,    -- of the body bytes as received
    parser_version  text,
    headers         jsonb NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT raw_payloads_body_check CHECK (payload_json IS NOT NULL OR body_text IS NOT NULL)
);
CREATE INDEX raw_payloads_run_idx ON raw_payloads (run_id);
CREATE INDEX raw_payloads_received_idx ON raw_payloads (received_at);

CREATE TABLE trades (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    broker             text NOT NULL,
    broker_trade_id    text NOT NULL,
    broker_account_id  text NOT NULL,
    instrument_id      uuid REFERENCES instruments (id),
    trade_ts           timestamptz NOT NULL,
    quantity           numeric NOT NULL,
    price_local        numeric,
    amount_local       numeric,
    amount_gbp         numeric,
    -- added
    currency           text,
    commission         numeric,
    realized_pnl       numeric,
    fx_rate_id         uuid REFERENCES fx_rates (id),
    description        text,
    run_id             uuid REFERENCES snapshot_runs (run_id),
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT trades_broker_trade_key UNIQUE (broker, broker_trade_id)
);
CREATE INDEX trades_account_ts_idx ON trades (broker, broker_account_id, trade_ts DESC);
"""

VIEWS = """
-- The newest snapshot of every (broker, broker_account_id).
CREATE VIEW latest_snapshot_per_broker_account AS
SELECT DISTINCT ON (s.broker, s.broker_account_id) s.*
FROM snapshots s
ORDER BY s.broker, s.broker_account_id, s.asof_ts DESC, s.created_at DESC;

-- One row per account per calendar day (in the portfolio time zone, a session setting the app sets from
-- PORTFOLIO_TIMEZONE) from the account's first snapshot to the last day of any snapshot. Each day carries
-- the account's latest snapshot at or before the end of that day (forward-filled: carried_forward = true),
-- so a day on which only one broker was captured does not show a false drop for the others.
CREATE VIEW daily_account_value AS
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

-- One row per calendar day: the GBP total across accounts (each forward-filled as above).
-- accounts_without_gbp counts accounts whose snapshot lacks a GBP value (no FX rate): the total then
-- understates and the dashboard says so.
CREATE VIEW daily_portfolio_value AS
SELECT day,
       sum(total_value_gbp) AS total_value_gbp,
       count(*)::integer AS accounts,
       (count(*) FILTER (WHERE total_value_gbp IS NULL))::integer AS accounts_without_gbp,
       (count(*) FILTER (WHERE carried_forward))::integer AS accounts_carried_forward
FROM daily_account_value
GROUP BY day;

-- Every position of every snapshot with its instrument and global identity.
CREATE VIEW positions_history AS
SELECT p.snapshot_id, s.asof_ts, s.broker, s.broker_account_id,
       p.instrument_id, COALESCE(m.global_instrument_id, p.instrument_id) AS global_instrument_id,
       i.symbol, i.name, i.asset_class, i.currency,
       p.quantity, p.price_local, p.market_value_local, p.market_value_gbp,
       p.cost_basis, p.unrealized_pnl, p.fx_rate_id
FROM positions p
JOIN snapshots s ON s.id = p.snapshot_id
JOIN instruments i ON i.id = p.instrument_id
LEFT JOIN instrument_mapping m ON m.instrument_id = p.instrument_id;

-- Over the latest snapshot of every account: GBP value and weight per global instrument. An instrument
-- without a mapping counts as its own identity.
CREATE VIEW asset_allocation_by_global_instrument AS
WITH latest_positions AS (
    SELECT COALESCE(m.global_instrument_id, p.instrument_id) AS global_instrument_id,
           p.instrument_id, p.market_value_gbp
    FROM latest_snapshot_per_broker_account l
    JOIN positions p ON p.snapshot_id = l.id
    LEFT JOIN instrument_mapping m ON m.instrument_id = p.instrument_id
),
grouped AS (
    SELECT global_instrument_id,
           min(instrument_id::text)::uuid AS any_instrument_id,
           count(*)::integer AS holdings,
           sum(market_value_gbp) AS value_gbp,
           (count(*) FILTER (WHERE market_value_gbp IS NULL))::integer AS holdings_without_gbp
    FROM latest_positions
    GROUP BY global_instrument_id
)
SELECT g.global_instrument_id,
       COALESCE(gi.name, i.name) AS name,
       COALESCE(gi.symbol, i.symbol) AS symbol,
       COALESCE(gi.asset_class, i.asset_class) AS asset_class,
       COALESCE(gi.currency, i.currency) AS currency,
       g.holdings, g.value_gbp, g.holdings_without_gbp,
       g.value_gbp / NULLIF(sum(g.value_gbp) OVER (), 0) AS weight
FROM grouped g
LEFT JOIN global_instruments gi ON gi.id = g.global_instrument_id
LEFT JOIN instruments i ON i.id = g.any_instrument_id;
"""

DROP = """
DROP VIEW IF EXISTS asset_allocation_by_global_instrument;
DROP VIEW IF EXISTS positions_history;
DROP VIEW IF EXISTS daily_portfolio_value;
DROP VIEW IF EXISTS daily_account_value;
DROP VIEW IF EXISTS latest_snapshot_per_broker_account;
DROP TABLE IF EXISTS trades;
DROP TABLE IF EXISTS raw_payloads;
DROP TABLE IF EXISTS positions;
DROP TABLE IF EXISTS snapshots;
DROP TABLE IF EXISTS fx_rates;
DROP TABLE IF EXISTS instrument_mapping;
DROP TABLE IF EXISTS global_instruments;
DROP TABLE IF EXISTS instruments;
DROP TABLE IF EXISTS broker_accounts;
DROP TABLE IF EXISTS snapshot_runs;
"""


def upgrade() -> None:
    op.execute(TABLES)
    op.execute(VIEWS)


def downgrade() -> None:
    op.execute(DROP)

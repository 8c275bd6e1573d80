"""Money in and out as the brokers state it: cash flows, corporate actions, the broker's own statement of a
period (IBKR's ChangeInNAV) and announced-but-unpaid dividends.

``cash_flows.amount_local`` is signed from the account's point of view (money INTO the account positive), so
an account's net money in over a period is a plain sum. Each row carries the broker's own id: re-capturing or
reprocessing a period stores nothing new (``UNIQUE (broker, broker_account_id, broker_flow_id)``).
``amount_gbp`` is valued at the rate of the flow's date (the broker's own rate first, then a stored rate, then
ECB's — never the demo's); ``fx_rate_id`` names the stored rate used.

``daily_net_flows`` (per account per day in the portfolio's time zone) and ``income_by_month`` sit beside the
daily value views: returns, the Overview's "money in" and the Income page read them.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

KINDS = ("deposit", "withdrawal", "transfer_in", "transfer_out", "dividend", "payment_in_lieu", "interest",
         "withholding_tax", "fee", "fx_conversion", "other")

UPGRADE = """
CREATE TABLE cash_flows (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    run_id             uuid REFERENCES snapshot_runs (run_id),
    broker             text NOT NULL,
    broker_account_id  text NOT NULL,
    broker_flow_id     text NOT NULL,
    kind               text NOT NULL,
    instrument_id      uuid REFERENCES instruments (id),
    flow_ts            timestamptz NOT NULL,
    currency           text NOT NULL,
    amount_local       numeric NOT NULL,
    amount_gbp         numeric,
    fx_rate_id         uuid REFERENCES fx_rates (id),
    fx_rate_to_base    numeric,          -- the broker's own rate to the account's base currency, as stated
    quantity           numeric,          -- in-kind transfers: units moved
    description        text,
    raw_payload_id     uuid REFERENCES raw_payloads (id) ON DELETE SET NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cash_flows_broker_flow_key UNIQUE (broker, broker_account_id, broker_flow_id),
    CONSTRAINT cash_flows_kind_check CHECK (kind IN ('deposit', 'withdrawal', 'transfer_in', 'transfer_out',
        'dividend', 'payment_in_lieu', 'interest', 'withholding_tax', 'fee', 'fx_conversion', 'other')),
    CONSTRAINT cash_flows_account_fkey FOREIGN KEY (broker, broker_account_id)
        REFERENCES broker_accounts (broker, broker_account_id)
);
CREATE INDEX cash_flows_account_ts_idx ON cash_flows (broker, broker_account_id, flow_ts);
CREATE INDEX cash_flows_ts_idx ON cash_flows (flow_ts);
CREATE INDEX cash_flows_run_idx ON cash_flows (run_id);

CREATE TABLE corporate_actions (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    run_id             uuid REFERENCES snapshot_runs (run_id),
    broker             text NOT NULL,
    broker_account_id  text NOT NULL,
    broker_action_id   text NOT NULL,
    action_ts          timestamptz NOT NULL,
    action_type        text,
    instrument_id      uuid REFERENCES instruments (id),
    currency           text,
    quantity           numeric,
    amount             numeric,
    proceeds           numeric,
    value              numeric,
    fx_rate_to_base    numeric,
    group_id           text,
    report_date        date,
    description        text,
    raw_payload_id     uuid REFERENCES raw_payloads (id) ON DELETE SET NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT corporate_actions_broker_action_key UNIQUE (broker, broker_account_id, broker_action_id),
    CONSTRAINT corporate_actions_account_fkey FOREIGN KEY (broker, broker_account_id)
        REFERENCES broker_accounts (broker, broker_account_id)
);
CREATE INDEX corporate_actions_account_ts_idx ON corporate_actions (broker, broker_account_id, action_ts);

-- The broker's own statement of a period, in the account's base currency (figures as stated; twr in percent).
CREATE TABLE nav_changes (
    id                           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    run_id                       uuid REFERENCES snapshot_runs (run_id),
    broker                       text NOT NULL,
    broker_account_id            text NOT NULL,
    from_date                    date NOT NULL,
    to_date                      date NOT NULL,
    currency                     text,
    starting_value               numeric,
    ending_value                 numeric,
    mtm                          numeric,
    realized                     numeric,
    change_in_unrealized         numeric,
    deposits_withdrawals         numeric,
    internal_cash_transfers      numeric,
    asset_transfers              numeric,
    dividends                    numeric,
    withholding_tax              numeric,
    change_in_dividend_accruals  numeric,
    interest                     numeric,
    change_in_interest_accruals  numeric,
    advisor_fees                 numeric,
    broker_fees                  numeric,
    other_fees                   numeric,
    commissions                  numeric,
    fx_translation               numeric,
    net_fx_trading               numeric,
    corporate_action_proceeds    numeric,
    other                        numeric,
    twr_percent                  numeric,
    raw_payload_id               uuid REFERENCES raw_payloads (id) ON DELETE SET NULL,
    created_at                   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT nav_changes_period_key UNIQUE (broker, broker_account_id, from_date, to_date),
    CONSTRAINT nav_changes_period_check CHECK (from_date <= to_date),
    CONSTRAINT nav_changes_account_fkey FOREIGN KEY (broker, broker_account_id)
        REFERENCES broker_accounts (broker, broker_account_id)
);

-- Announced dividends not yet paid, as of the capture that reported them (the latest report wins).
CREATE TABLE dividend_accruals (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    run_id             uuid REFERENCES snapshot_runs (run_id),
    broker             text NOT NULL,
    broker_account_id  text NOT NULL,
    accrual_key        text NOT NULL,
    instrument_id      uuid REFERENCES instruments (id),
    currency           text NOT NULL,
    ex_date            date,
    pay_date           date,
    quantity           numeric,
    gross_rate         numeric,
    gross_amount       numeric,
    tax                numeric,
    fee                numeric,
    net_amount         numeric,
    fx_rate_to_base    numeric,
    reported_at        timestamptz NOT NULL,
    raw_payload_id     uuid REFERENCES raw_payloads (id) ON DELETE SET NULL,
    CONSTRAINT dividend_accruals_key UNIQUE (broker, broker_account_id, accrual_key),
    CONSTRAINT dividend_accruals_account_fkey FOREIGN KEY (broker, broker_account_id)
        REFERENCES broker_accounts (broker, broker_account_id)
);

CREATE VIEW daily_net_flows AS
SELECT broker,
       broker_account_id,
       (flow_ts AT TIME ZONE portfolio_timezone())::date AS day,
       sum(amount_gbp) FILTER (WHERE kind IN ('deposit', 'withdrawal', 'transfer_in', 'transfer_out'))
           AS net_external_gbp,
       sum(amount_gbp) FILTER (WHERE kind IN ('dividend', 'payment_in_lieu', 'interest')) AS income_gbp,
       sum(amount_gbp) FILTER (WHERE kind IN ('withholding_tax', 'fee')) AS costs_gbp,
       count(*) FILTER (WHERE amount_gbp IS NULL) AS unvalued_flows
FROM cash_flows
GROUP BY broker, broker_account_id, (flow_ts AT TIME ZONE portfolio_timezone())::date;

CREATE VIEW income_by_month AS
SELECT broker,
       broker_account_id,
       date_trunc('month', flow_ts AT TIME ZONE portfolio_timezone())::date AS month,
       kind,
       currency,
       sum(amount_local) AS amount_local,
       sum(amount_gbp) AS amount_gbp,
       count(*) AS flows
FROM cash_flows
WHERE kind IN ('dividend', 'payment_in_lieu', 'interest', 'withholding_tax')
GROUP BY broker, broker_account_id, date_trunc('month', flow_ts AT TIME ZONE portfolio_timezone())::date, kind,
         currency;
"""

DOWNGRADE = """
DROP VIEW IF EXISTS income_by_month;
DROP VIEW IF EXISTS daily_net_flows;
DROP TABLE IF EXISTS dividend_accruals;
DROP TABLE IF EXISTS nav_changes;
DROP TABLE IF EXISTS corporate_actions;
DROP TABLE IF EXISTS cash_flows;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)

"""The record is exact: every broker row stored with its status, the contract multiplier, each run's coverage
account and each snapshot's reconciliation residual.

* ``trades.status`` — what the broker's row says happened (executed, cancelled, corrected). IBKR reports a
  cancellation as its own row and a correction as a new row next to the reversed original, so a ledger sums
  every row. A trade's id is unique per account (``(broker, broker_account_id, broker_trade_id)``), as cash
  flows' are: a consolidated statement stores each row under its own account.
* ``instruments.multiplier`` — ``price_local`` is per unit of the underlying for every broker; a position's
  value is quantity x price x multiplier (an option contract is usually 100).
* ``snapshot_runs.coverage`` — per source, one line per section of the payload: rows seen, parsed, skipped
  (with reasons), and what storage made of them (stored, already stored).
* ``snapshots.reconcile_*`` — positions + cash + the broker's own components (dividend and interest
  accruals) minus the broker's total, in GBP and as a fraction of the total, with the components used.
* ``raw_payloads.redacted`` — the body was stored with secret values replaced (a broker echoed a token);
  ``content_sha256`` is then the fingerprint of the stored (redacted) body.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE trades
    ADD COLUMN status text NOT NULL DEFAULT 'executed',
    ADD CONSTRAINT trades_status_check CHECK (status IN ('executed', 'cancelled', 'corrected'));

ALTER TABLE instruments
    ADD COLUMN multiplier numeric NOT NULL DEFAULT 1,
    ADD CONSTRAINT instruments_multiplier_positive CHECK (multiplier > 0);

ALTER TABLE snapshot_runs
    ADD COLUMN coverage jsonb NOT NULL DEFAULT '{}'::jsonb;

ALTER TABLE snapshots
    ADD COLUMN reconcile_residual_gbp numeric,
    ADD COLUMN reconcile_residual_pct numeric,
    ADD COLUMN reconcile_components jsonb NOT NULL DEFAULT '{}'::jsonb;

ALTER TABLE raw_payloads
    ADD COLUMN redacted boolean NOT NULL DEFAULT false;
"""

DOWNGRADE = """
ALTER TABLE raw_payloads DROP COLUMN IF EXISTS redacted;
ALTER TABLE snapshots
    DROP COLUMN IF EXISTS reconcile_components,
    DROP COLUMN IF EXISTS reconcile_residual_pct,
    DROP COLUMN IF EXISTS reconcile_residual_gbp;
ALTER TABLE snapshot_runs DROP COLUMN IF EXISTS coverage;
ALTER TABLE instruments
    DROP CONSTRAINT IF EXISTS instruments_multiplier_positive,
    DROP COLUMN IF EXISTS multiplier;
ALTER TABLE trades
    DROP CONSTRAINT IF EXISTS trades_status_check,
    DROP COLUMN IF EXISTS status;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)

"""Capital gains: the user's stated opening Section 104 pools and losses brought forward, the broker's taxes
on each trade (stamp duty / SDRT, an allowable cost), and ``import`` runs (Flex statements from a file).

Trades before the records begin are unknown: ``cgt_opening_pools`` holds the pool the user states for a
global instrument at the close of ``as_of`` (quantity, cost in GBP). ``cgt_losses`` holds the losses the user
carries into a tax year from before the records begin. Both are keyed so that setting them again replaces the
figure (idempotent).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE cgt_opening_pools (
    global_instrument_id  uuid PRIMARY KEY REFERENCES global_instruments (id) ON DELETE CASCADE,
    quantity              numeric NOT NULL,
    cost_gbp              numeric NOT NULL,
    as_of                 date NOT NULL,
    note                  text,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cgt_opening_pools_quantity_check CHECK (quantity >= 0),
    CONSTRAINT cgt_opening_pools_cost_check CHECK (cost_gbp >= 0)
);

CREATE TABLE cgt_losses (
    tax_year                    text PRIMARY KEY,
    losses_brought_forward_gbp  numeric NOT NULL,
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT cgt_losses_tax_year_check CHECK (tax_year ~ '^[0-9]{4}-[0-9]{2}$'),
    CONSTRAINT cgt_losses_amount_check CHECK (losses_brought_forward_gbp >= 0)
);

-- the broker's taxes on the trade (IBKR Trade@taxes: stamp duty, SDRT, transaction levies), in its currency
ALTER TABLE trades ADD COLUMN taxes numeric;

ALTER TABLE snapshot_runs DROP CONSTRAINT snapshot_runs_trigger_check;
ALTER TABLE snapshot_runs ADD CONSTRAINT snapshot_runs_trigger_check
    CHECK (trigger_type IN ('manual', 'scheduled', 'reprocess', 'replay', 'import'));
"""

DOWNGRADE = """
-- import runs are kept (their data stays), relabelled manual so the older CHECK holds
ALTER TABLE snapshot_runs DROP CONSTRAINT snapshot_runs_trigger_check;
UPDATE snapshot_runs SET trigger_type = 'manual' WHERE trigger_type = 'import';
ALTER TABLE snapshot_runs ADD CONSTRAINT snapshot_runs_trigger_check
    CHECK (trigger_type IN ('manual', 'scheduled', 'reprocess', 'replay'));
ALTER TABLE trades DROP COLUMN IF EXISTS taxes;
DROP TABLE IF EXISTS cgt_losses;
DROP TABLE IF EXISTS cgt_opening_pools;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)

"""The tax wrapper of each broker account (ISA, GIA, SIPP, ...), the broker's own account type, and a name the
user chooses.

A UK investor reads a portfolio by wrapper: "ISA only", capital gains only from taxable accounts, the ISA
allowance. The broker states the account type where it can (IB's account type and alias, Schwab's account
type); the user can override it. ``wrapper_source`` says which one set it, so a capture never overwrites the
user's choice and a reprocess keeps it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

WRAPPERS = ("ISA", "LISA", "JISA", "SIPP", "GIA", "US_TAXABLE", "IRA", "OTHER")

UPGRADE = f"""
ALTER TABLE broker_accounts
    ADD COLUMN wrapper         text,
    ADD COLUMN wrapper_source  text,
    ADD COLUMN account_type    text,
    ADD COLUMN display_name    text,
    ADD CONSTRAINT broker_accounts_wrapper_check
        CHECK (wrapper IS NULL OR wrapper IN ({", ".join(f"'{w}'" for w in WRAPPERS)})),
    ADD CONSTRAINT broker_accounts_wrapper_source_check
        CHECK ((wrapper IS NULL) = (wrapper_source IS NULL)
               AND (wrapper_source IS NULL OR wrapper_source IN ('broker', 'user')));
"""

DOWNGRADE = """
ALTER TABLE broker_accounts
    DROP CONSTRAINT IF EXISTS broker_accounts_wrapper_source_check,
    DROP CONSTRAINT IF EXISTS broker_accounts_wrapper_check,
    DROP COLUMN IF EXISTS display_name,
    DROP COLUMN IF EXISTS account_type,
    DROP COLUMN IF EXISTS wrapper_source,
    DROP COLUMN IF EXISTS wrapper;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)

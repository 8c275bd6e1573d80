"""The user's own asset class and sub-class per global instrument ("Equity ETF", "Money Market Fund", ...).

A capture never writes these columns. While ``user_class`` is NULL the reads derive a default from the broker's
metadata (``domain.asset_classes.default_class``), so the default follows better broker data; once the user sets
a class (``class_source = 'user'``) it survives captures, reprocess and remapping of broker instruments.
``class_source = 'default'`` marks a default written down explicitly (e.g. a user who resets to the default).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE global_instruments
    ADD COLUMN user_class     text,
    ADD COLUMN user_subclass  text,
    ADD COLUMN class_source   text,
    ADD CONSTRAINT global_instruments_class_source_check
        CHECK (class_source IS NULL OR class_source IN ('default', 'user')),
    ADD CONSTRAINT global_instruments_user_class_check
        CHECK ((user_class IS NULL OR btrim(user_class) <> '')
               AND (user_subclass IS NULL OR btrim(user_subclass) <> ''));
"""

DOWNGRADE = """
ALTER TABLE global_instruments
    DROP CONSTRAINT IF EXISTS global_instruments_user_class_check,
    DROP CONSTRAINT IF EXISTS global_instruments_class_source_check,
    DROP COLUMN IF EXISTS class_source,
    DROP COLUMN IF EXISTS user_subclass,
    DROP COLUMN IF EXISTS user_class;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)

"""Views the user saves: a name and the dashboard filter it stands for (the page URL's query string).

The query string is the one the dashboard puts in its own URL (``wrapper=ISA&ccy=USD``), so a saved view, a
bookmark and a typed address mean the same thing and ``?view=NAME`` simply expands to it.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE saved_views (
    name        text PRIMARY KEY CHECK (length(btrim(name)) BETWEEN 1 AND 60),
    query       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
"""

DOWNGRADE = "DROP TABLE IF EXISTS saved_views;"


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)

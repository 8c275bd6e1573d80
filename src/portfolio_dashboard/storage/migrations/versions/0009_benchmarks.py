"""Benchmark price series: what the portfolio's return is compared with.

A benchmark is a named series of closes (``portfolio-dashboard benchmark import NAME FILE.csv``). One close per
name and day: re-importing the same file stores nothing new and a corrected close replaces the old one. An
instrument we hold needs no import: its closes are read from our own snapshots' position prices.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE benchmark_prices (
    name        text NOT NULL,
    day         date NOT NULL,
    close       numeric NOT NULL,
    currency    text,
    source      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT benchmark_prices_pkey PRIMARY KEY (name, day),
    CONSTRAINT benchmark_prices_close_positive CHECK (close > 0),
    CONSTRAINT benchmark_prices_name_check CHECK (length(btrim(name)) > 0)
);
"""

DOWNGRADE = "DROP TABLE IF EXISTS benchmark_prices;"


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)

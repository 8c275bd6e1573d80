"""Room on each ``snapshots`` page for the reprocess command's updates.

Reprocessing after a parser change rewrites every affected snapshot's ``parser_version`` (and often its
``asof_source`` or ``warnings``): columns no index covers. PostgreSQL can then update the row in place on its
own page (a heap-only tuple: no new entry in any of the table's five indexes), but only where the page has
room. At the default fill factor (100) a page has none, so each update wrote a new row version on another page
plus five index entries: about three quarters of the time ``bench/reprocess.py`` spent on snapshots. A
reprocess rewrites every row of a page, so a page needs room for a second copy of each: pages are now filled
to 50%. The table is small (one row per account per capture: ~11,000 rows, a few MB, after ten years of three
accounts), so the space is cheap; old versions are pruned from the page the next time it is read.

The setting applies to pages written from now on: an existing database gains the room as its pages are
rewritten (a ``VACUUM FULL snapshots`` does it at once).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE snapshots SET (fillfactor = 50)")


def downgrade() -> None:
    op.execute("ALTER TABLE snapshots RESET (fillfactor)")

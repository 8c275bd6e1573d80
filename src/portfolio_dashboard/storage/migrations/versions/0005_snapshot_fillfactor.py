"""Room on each ``snapshots`` page for the reprocess command's updates, and a covering index for the history join.

Reprocessing after a parser change rewrites every affected snapshot's ``parser_version`` (and often its
``asof_source`` or ``warnings``): columns no index covers. PostgreSQL can then update the row in place on its
own page (a heap-only tuple: no new entry in any of the table's indexes), but only where the page has room. At
the default fill factor (100) a page has none, so each update wrote a new row version on another page plus an
entry in each of five indexes: about three quarters of the time ``bench/reprocess.py`` spent on snapshots. A
reprocess rewrites every row of a page, so a page needs room for a second copy of each: pages are now filled
to 50%. The table is small (one row per account per capture: ~11,000 rows, a few MB, after ten years of three
accounts), so the space is cheap; old versions are pruned from the page the next time it is read.

A half-full table costs twice the pages to scan, and ``positions_history`` scanned all of ``snapshots`` to
join an instrument's positions to their as-of and account (``bench/read_views.py``: +1 ms on "one global
instrument"). The join now reads ``snapshots_history_idx``, which holds exactly those columns: a fraction of
the pages even of the dense table. None of its columns is one a reprocess updates in place (a new as-of is a
new snapshot), so the updates stay heap-only.

The fill factor applies to pages written from now on: an existing database gains the room as its pages are
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
    op.execute("CREATE INDEX snapshots_history_idx ON snapshots (id) INCLUDE (asof_ts, broker, broker_account_id)")


def downgrade() -> None:
    op.execute("DROP INDEX snapshots_history_idx")
    op.execute("ALTER TABLE snapshots RESET (fillfactor)")

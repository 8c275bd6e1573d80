"""Each snapshot names the raw broker response it was read from (``snapshots.raw_payload_id``).

Before this a snapshot reached its response only through its run (the run's responses from the same broker,
nearest in time first), which is exact for one response per run and a guess otherwise. Captures and
``reprocess`` now store the response whose as-of and total the parser read. Existing snapshots are filled here
where that is certain: their run kept exactly one successful response from their source (a Flex statement, a
Schwab accounts call, one demo document); ``reprocess`` fills the rest.

``ON DELETE SET NULL``: deleting raw payloads (``demo clear``) never deletes what was read from them. The partial
index serves that delete's check and the trace's lookup.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE snapshots
    ADD COLUMN raw_payload_id uuid REFERENCES raw_payloads (id) ON DELETE SET NULL;
CREATE INDEX snapshots_raw_payload_idx ON snapshots (raw_payload_id) WHERE raw_payload_id IS NOT NULL;
UPDATE snapshots s SET raw_payload_id = one.id
FROM (SELECT run_id, source, (array_agg(id))[1] AS id
      FROM raw_payloads
      WHERE source IS NOT NULL AND (status_code IS NULL OR status_code BETWEEN 200 AND 299)
      GROUP BY run_id, source
      HAVING count(*) = 1) one
WHERE one.run_id = s.run_id AND one.source = s.source AND s.raw_payload_id IS NULL;
"""

DOWNGRADE = """
DROP INDEX IF EXISTS snapshots_raw_payload_idx;
ALTER TABLE snapshots DROP COLUMN IF EXISTS raw_payload_id;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)

"""Unattended operation: exact raw bodies, the spool's ingestion ledger and alert state.

* ``raw_payloads.body_bytes``: the body exactly as received whenever the text columns cannot reproduce it
  (always for JSON, which ``jsonb`` re-serialises; for text bodies only when they are not valid UTF-8 or
  hold NUL). ``reprocess`` parses these bytes, so it sees what the capture saw (``content_sha256`` checks it).
* ``spool_entries``: one row per local spool file stored, written in the same transaction as its rows, so
  replaying a spool twice stores nothing twice.
* ``alert_state``: one row per alert key (``run``, ``stale:<broker>/<account>``, ``credential:<source>``...):
  whether it is firing, since when, and when it was last sent (the once-a-day reminder rule).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UP = """
ALTER TABLE raw_payloads ADD COLUMN body_bytes bytea;

CREATE TABLE spool_entries (
    entry_id     uuid PRIMARY KEY,
    run_id       uuid NOT NULL REFERENCES snapshot_runs (run_id) ON DELETE CASCADE,
    source       text NOT NULL,
    kind         text NOT NULL,
    spooled_at   timestamptz NOT NULL,
    ingested_at  timestamptz NOT NULL DEFAULT now(),
    outcome      jsonb NOT NULL DEFAULT '{}'::jsonb,
    CONSTRAINT spool_entries_kind_check CHECK (kind IN ('parse', 'raws'))
);
CREATE INDEX spool_entries_run_idx ON spool_entries (run_id);

CREATE TABLE alert_state (
    alert_key     text PRIMARY KEY,
    state         text NOT NULL,
    since         timestamptz NOT NULL,
    last_sent_at  timestamptz,
    pending       boolean NOT NULL DEFAULT false,  -- the current state's message is not delivered yet
    message       text,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT alert_state_state_check CHECK (state IN ('ok', 'firing'))
);
"""

DOWN = """
DROP TABLE IF EXISTS alert_state;
DROP TABLE IF EXISTS spool_entries;
ALTER TABLE raw_payloads DROP COLUMN IF EXISTS body_bytes;
"""


def upgrade() -> None:
    op.execute(UP)


def downgrade() -> None:
    op.execute(DOWN)

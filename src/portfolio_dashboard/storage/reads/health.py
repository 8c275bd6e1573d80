"""When each account last had a successful capture: what the staleness alerts and ``status`` are built on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text

LAST_SUCCESS = """
WITH seen AS (
    SELECT o->>'source' AS source, a.acct AS account, NULL::text AS broker, r.finished_at AS at
    FROM snapshot_runs r
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(r.outcome) = 'array' THEN r.outcome ELSE '[]'::jsonb END) o
    CROSS JOIN LATERAL jsonb_array_elements_text(
        CASE WHEN jsonb_typeof(o->'accounts') = 'array' THEN o->'accounts' ELSE '[]'::jsonb END) a(acct)
    WHERE r.finished_at IS NOT NULL AND o->>'status' = 'success'
    UNION ALL
    SELECT COALESCE(s.source, s.broker), s.broker_account_id, s.broker, r.finished_at
    FROM snapshots s JOIN snapshot_runs r USING (run_id)
    WHERE r.finished_at IS NOT NULL
)
SELECT b.broker, b.broker_account_id, b.name, seen.source, max(seen.at)
FROM seen
JOIN broker_accounts b ON b.broker_account_id = seen.account AND (seen.broker IS NULL OR seen.broker = b.broker)
GROUP BY b.broker, b.broker_account_id, b.name, seen.source
ORDER BY b.broker, b.broker_account_id
"""


def account_success_rows(conn: Connection) -> list[tuple[str, str, str | None, str, datetime]]:
    """``(broker, broker_account_id, name, source, last success)`` per account and source that captured it."""
    return [(r[0], r[1], r[2], r[3], r[4]) for r in conn.execute(text(LAST_SUCCESS))]

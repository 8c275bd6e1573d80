"""Two cheap questions the dashboard asks before every page: has the data changed, and is there a schema."""

from __future__ import annotations

from sqlalchemy import Connection, text


def data_version(conn: Connection) -> str:
    """Changes whenever a run starts or ends (the dashboard's, the CLI's, the scheduler's, a reprocess)."""
    row = conn.execute(text("SELECT max(started_at), max(finished_at), count(*) FROM snapshot_runs")).one()
    return "|".join(str(v) for v in row)


def has_schema(conn: Connection) -> bool:
    return conn.execute(text("SELECT to_regclass('snapshot_runs')")).scalar() is not None

"""Session advisory locks that say a capture run is alive: its process holds the lock for as long as it lives,
so a reaper that can take the lock knows the run's process has ended."""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, text


def run_lock_key(run_id: uuid.UUID) -> int:
    """A signed 64-bit advisory-lock key for a run."""
    return int.from_bytes(run_id.bytes[:8], "big", signed=True)


def hold_run_lock(conn: Connection, run_id: uuid.UUID) -> None:
    """Block until this session holds the run's lock (held until the session ends or ``release_run_lock``)."""
    conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": run_lock_key(run_id)})


def try_run_lock(conn: Connection, run_id: uuid.UUID) -> bool:
    """Take the run's lock if no live session holds it."""
    return bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": run_lock_key(run_id)}).scalar())


def release_run_lock(conn: Connection, run_id: uuid.UUID) -> None:
    conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": run_lock_key(run_id)})

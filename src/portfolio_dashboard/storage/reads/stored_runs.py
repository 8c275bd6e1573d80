"""What a reprocess reads back: the finished runs selected, their stored raw responses, and which sources
already have snapshots in them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

# (run_id, source, broker, endpoint, received_at, status_code, content_type, headers, body_bytes, body_text,
#  payload_json as text, content_sha256, id)
RawRow = tuple[uuid.UUID, str, str, str, datetime, int | None, str | None, dict[str, str] | None, bytes | None,
               str | None, str | None, str, uuid.UUID]


def finished_runs(conn: Connection, *, run_ids: Sequence[uuid.UUID] = (), since: datetime | None = None
                  ) -> list[tuple[uuid.UUID, list[dict[str, Any]]]]:
    """``(run_id, outcome)`` of finished runs, oldest first: those in ``run_ids`` when given, else those
    started at or after ``since`` when given, else all."""
    where = "status <> 'running'"
    params: dict[str, Any] = {}
    if run_ids:
        where += " AND run_id = ANY(:ids)"
        params["ids"] = list(run_ids)
    elif since is not None:
        where += " AND started_at >= :since"
        params["since"] = since
    rows = conn.execute(
        text(f"SELECT run_id, outcome FROM snapshot_runs WHERE {where} ORDER BY started_at, run_id"),  # noqa: S608
        params,
    )
    return [(r[0], list(r[1] or [])) for r in rows]


def raw_rows(conn: Connection, run_ids: Sequence[uuid.UUID], skip_sources: Sequence[str]) -> Iterator[RawRow]:
    """The stored raw responses of the runs (a source's own, not those in ``skip_sources``), in capture order."""
    rows = conn.execute(
        text(
            """SELECT run_id, source, broker, endpoint, received_at, status_code, content_type, headers,
                      body_bytes, body_text, payload_json::text, content_sha256, id
               FROM raw_payloads
               WHERE run_id = ANY(:ids) AND source IS NOT NULL AND NOT (source = ANY(:refs))
               ORDER BY run_id, source, received_at, id"""
        ),
        {"ids": list(run_ids), "refs": list(skip_sources)},
    )
    for r in rows:
        yield (r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12])


def sources_with_snapshots(conn: Connection, run_ids: Sequence[uuid.UUID]) -> set[tuple[uuid.UUID, str]]:
    return {(r[0], r[1]) for r in conn.execute(
        text("SELECT DISTINCT run_id, source FROM snapshots WHERE run_id = ANY(:ids)"), {"ids": list(run_ids)})}

"""Writes for the exact record: instrument multipliers and the runs' coverage accounts (currency conversions,
stored as ``cash_flows`` legs, are written with the other cash flows in ``flows.py``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from portfolio_dashboard.domain import Instrument


def set_multipliers(conn: Connection, ids: Mapping[tuple[str, str], uuid.UUID],
                    instruments: Iterable[Instrument]) -> int:
    """Record each instrument's contract multiplier where it differs from the stored one; return how many.

    ``price_local`` is per unit of the underlying for every broker, so a position's value is quantity x price x
    multiplier; a multiplier the broker no longer sends (1) never erases one it sent before."""
    changed = {ids[i.key]: i.multiplier for i in instruments if i.key in ids and i.multiplier != 1}
    if not changed:
        return 0
    keys = sorted(changed)
    result = conn.execute(
        text(
            """UPDATE instruments i SET multiplier = k.m, updated_at = now()
               FROM unnest(CAST(:ids AS uuid[]), CAST(:m AS numeric[])) AS k(id, m)
               WHERE i.id = k.id AND i.multiplier IS DISTINCT FROM k.m"""
        ),
        {"ids": keys, "m": [changed[k] for k in keys]},
    )
    return int(result.rowcount)


def set_run_coverage(conn: Connection, entries: Sequence[tuple[uuid.UUID, str, list[dict[str, object]]]]) -> int:
    """Replace the parser's side of stored runs' coverage accounts (``reprocess``: today's parser read the same
    payloads); storage's side of each run (what that capture stored) is kept. Returns runs changed."""
    changed = 0
    for run_id, source, lines in entries:
        result = conn.execute(
            text("""UPDATE snapshot_runs
                    SET coverage = jsonb_set(coverage, ARRAY[CAST(:source AS text)],
                                             COALESCE(coverage -> CAST(:source AS text), '{"stored": []}'::jsonb)
                                             || jsonb_build_object('lines', CAST(:lines AS jsonb)))
                    WHERE run_id = :run_id
                      AND coverage -> CAST(:source AS text) -> 'lines' IS DISTINCT FROM CAST(:lines AS jsonb)"""),
            {"run_id": run_id, "source": source, "lines": json.dumps(lines)},
        )
        changed += int(result.rowcount)
    return changed


def components_json(components: Mapping[str, Decimal] | None) -> str:
    """Reconciliation components as JSON with exact decimal strings."""
    return json.dumps({k: str(v) for k, v in (components or {}).items()})


def run_coverage(outcome: Any) -> dict[str, Any]:
    """The run's coverage account by source, from the per-source outcomes: the rows each payload held
    (``coverage``: section, kind, seen, parsed, skipped, reasons) and what storage made of them (``stored``)."""
    found: dict[str, Any] = {}
    for o in outcome if isinstance(outcome, list) else []:
        if isinstance(o, dict) and (o.get("coverage") or o.get("stored")):
            found[str(o.get("source"))] = {"lines": o.get("coverage") or [], "stored": o.get("stored") or []}
    return found

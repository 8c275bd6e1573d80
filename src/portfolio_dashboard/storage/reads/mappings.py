"""Read side of instrument mapping for ``mapping list`` / ``mapping review`` and the dashboard's page."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text


@dataclass(frozen=True, slots=True)
class MappingRow:
    instrument_id: uuid.UUID
    broker: str
    broker_instrument_id: str
    symbol: str | None
    name: str | None
    asset_class: str | None
    currency: str | None
    exchange: str | None
    isin: str | None
    cusip: str | None
    figi: str | None
    global_instrument_id: uuid.UUID | None  # None only for an instrument never assigned (should not happen)
    global_name: str | None
    mapping_source: str | None
    confidence: Decimal | None
    evidence: str | None
    updated_at: datetime | None
    members: int  # broker instruments sharing this global instrument
    merged_with: list[str] = field(default_factory=list)  # the others, as "broker:id SYMBOL (exchange, CCY)"

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, uuid.UUID | Decimal | datetime) else v) for k, v in asdict(self).items()}


_SELECT = """
SELECT i.id, i.broker, i.broker_instrument_id, i.symbol, i.name, i.asset_class, i.currency, i.exchange,
       i.isin, i.cusip, i.figi, m.global_instrument_id, g.name, m.mapping_source, m.confidence, m.evidence,
       m.updated_at, count(*) OVER (PARTITION BY COALESCE(m.global_instrument_id, i.id))::integer
FROM instruments i
LEFT JOIN instrument_mapping m ON m.instrument_id = i.id
LEFT JOIN global_instruments g ON g.id = m.global_instrument_id
"""


def _describe(row: MappingRow) -> str:
    where = ", ".join(x for x in (row.exchange, row.currency) if x)
    return f"{row.broker}:{row.broker_instrument_id} {row.symbol or ''} ({where})".replace(" ()", "")


def _with_merges(rows: list[MappingRow]) -> list[MappingRow]:
    by_global: dict[uuid.UUID, list[MappingRow]] = {}
    for r in rows:
        if r.global_instrument_id is not None:
            by_global.setdefault(r.global_instrument_id, []).append(r)
    out = []
    for r in rows:
        peers = by_global.get(r.global_instrument_id, []) if r.global_instrument_id else []
        others = [_describe(p) for p in peers if p.instrument_id != r.instrument_id]
        out.append(replace(r, merged_with=others))
    return out


def list_mappings(conn: Connection, *, broker: str | None = None, source: str | None = None) -> list[MappingRow]:
    """Every broker instrument with its global instrument, grouped by global instrument."""
    rows = conn.execute(text(_SELECT + " ORDER BY g.name NULLS LAST, m.global_instrument_id, i.broker, i.symbol"))
    found = _with_merges([MappingRow(*r) for r in rows])
    return [r for r in found
            if (broker is None or r.broker == broker) and (source is None or r.mapping_source == source)]


def review_mappings(conn: Connection, *, below: Decimal = Decimal(1)) -> list[MappingRow]:
    """Heuristic mappings with a confidence below ``below``, each with the instruments it was merged with:
    confirm one with ``mapping set`` to its current global id, or split it with ``mapping set --new``."""
    return [r for r in list_mappings(conn, source="heuristic")
            if r.confidence is None or r.confidence < below]

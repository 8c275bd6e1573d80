"""The one read model of instrument mapping: which global instrument each broker instrument counts as, for the
CLI's ``mapping list`` / ``mapping review`` and the dashboard's Instruments page alike."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, text

from portfolio_dashboard.storage.reads.scope import Scope, latest_sql


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
    global_symbol: str | None
    global_name: str | None
    mapping_source: str | None
    confidence: Decimal | None
    evidence: str | None  # the rule that made the mapping (isin, cusip, symbol, manual...)
    updated_at: datetime | None
    members: int  # broker instruments sharing this global instrument
    merged_with: list[str] = field(default_factory=list)  # the others, as "broker:id SYMBOL (exchange, CCY)"

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, uuid.UUID | Decimal | datetime) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True, slots=True)
class GlobalInstrumentLine:
    id: uuid.UUID
    symbol: str | None
    name: str | None
    asset_class: str | None
    currency: str | None
    isin: str | None
    mapped: int  # broker instruments mapped to it
    brokers: list[str]


# An instrument is in scope when no account or wrapper is chosen, or a chosen account holds it now; and its
# broker is chosen (or none is).
_HELD_SQL = """
    ((cardinality(CAST(:scope_accounts AS text[])) = 0 AND cardinality(CAST(:scope_wrappers AS text[])) = 0)
     OR i.id IN (
        SELECT p.instrument_id FROM held_latest l JOIN positions p ON p.snapshot_id = l.id))
    AND (cardinality(CAST(:scope_brokers AS text[])) = 0 OR i.broker = ANY(CAST(:scope_brokers AS text[])))
"""

_SELECT = """
SELECT i.id, i.broker, i.broker_instrument_id, i.symbol, i.name, i.asset_class, i.currency, i.exchange,
       i.isin, i.cusip, i.figi, m.global_instrument_id, g.symbol, g.name, m.mapping_source, m.confidence,
       m.evidence, m.updated_at, count(*) OVER (PARTITION BY COALESCE(m.global_instrument_id, i.id))::integer
FROM instruments i
LEFT JOIN instrument_mapping m ON m.instrument_id = i.id
LEFT JOIN global_instruments g ON g.id = m.global_instrument_id
"""

# grouped by global instrument (the CLI), or by symbol (the dashboard's table)
_BY_GLOBAL = " ORDER BY g.name NULLS LAST, m.global_instrument_id, i.broker, i.symbol"
_BY_SYMBOL = " ORDER BY i.symbol, i.broker, i.broker_instrument_id"


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


def list_mappings(conn: Connection, *, scope: Scope | None = None, broker: str | None = None,
                  source: str | None = None, by_symbol: bool = False) -> list[MappingRow]:
    """Every broker instrument with its global instrument, grouped by global instrument (``by_symbol``: in
    symbol order); ``scope`` keeps the instruments its accounts hold now and its brokers'."""
    order = _BY_SYMBOL if by_symbol else _BY_GLOBAL
    if scope is None:
        rows = conn.execute(text(_SELECT + order))
    else:
        rows = conn.execute(text(f"WITH {latest_sql('held_latest')} {_SELECT} WHERE {_HELD_SQL} {order}"),
                            scope.params())
    found = _with_merges([MappingRow(*r) for r in rows])
    return [r for r in found
            if (broker is None or r.broker == broker) and (source is None or r.mapping_source == source)]


def review_mappings(conn: Connection, *, below: Decimal = Decimal(1)) -> list[MappingRow]:
    """Heuristic mappings with a confidence below ``below``, each with the instruments it was merged with:
    confirm one with ``mapping set`` to its current global id, or split it with ``mapping set --new``."""
    return [r for r in list_mappings(conn, source="heuristic")
            if r.confidence is None or r.confidence < below]


def global_instruments(conn: Connection, scope: Scope) -> list[GlobalInstrumentLine]:
    """Global identities with the broker instruments mapped to them (filtered like ``list_mappings``)."""
    rows = conn.execute(
        text(
            f"""WITH {latest_sql("held_latest")}
                SELECT g.id, g.symbol, g.name, g.asset_class, g.currency, g.isin,
                       count(i.id)::integer, array_agg(DISTINCT i.broker ORDER BY i.broker)
                FROM global_instruments g
                JOIN instrument_mapping m ON m.global_instrument_id = g.id
                JOIN instruments i ON i.id = m.instrument_id
                WHERE {_HELD_SQL}
                GROUP BY g.id ORDER BY g.symbol NULLS LAST, g.name"""  # noqa: S608 - constants only
        ),
        scope.params(),
    )
    return [GlobalInstrumentLine(r[0], r[1], r[2], r[3], r[4], r[5], r[6], list(r[7] or [])) for r in rows]

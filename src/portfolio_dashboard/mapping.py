"""Global instrument identity: every broker instrument maps to exactly one global instrument.

Assignment runs inside a capture's write transaction for instruments that have no mapping yet, strongest
evidence first: cash by currency; the same ISIN -> ``broker`` (confidence 1); otherwise a new global
instrument of its own. Existing mappings (above all ``manual`` ones) are never touched here.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from sqlalchemy import Connection, text

from portfolio_dashboard.domain import AssetClass, Instrument

MAPPING_LOCK = "pd.mapping"


def assign_global_instruments(conn: Connection, instruments: Mapping[tuple[str, str], uuid.UUID],
                              by_key: Mapping[tuple[str, str], Instrument]) -> int:
    """Map every unmapped instrument in ``instruments`` (natural key -> id); return how many were mapped."""
    if not instruments:
        return 0
    ids = list(instruments.values())
    mapped = {
        r[0]
        for r in conn.execute(
            text("SELECT instrument_id FROM instrument_mapping WHERE instrument_id = ANY(:ids)"), {"ids": ids}
        )
    }
    todo = sorted((k, v) for k, v in instruments.items() if v not in mapped)
    if not todo:
        return 0
    # Two sources capturing at once could both create a global identity for the same ISIN.
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:n))"), {"n": MAPPING_LOCK})
    count = 0
    for key, instrument_id in todo:
        inst = by_key[key]
        global_id, source, confidence = _find_global(conn, inst)
        if global_id is None:
            global_id = _create_global(conn, inst)
            source, confidence = "broker", 1
        result = conn.execute(
            text(
                """INSERT INTO instrument_mapping (global_instrument_id, instrument_id, mapping_source, confidence)
                   VALUES (:g, :i, :s, :c) ON CONFLICT (instrument_id) DO NOTHING"""
            ),
            {"g": global_id, "i": instrument_id, "s": source, "c": confidence},
        )
        count += result.rowcount
    return count


def _find_global(conn: Connection, inst: Instrument) -> tuple[uuid.UUID | None, str, float]:
    if inst.asset_class == AssetClass.CASH:
        row = conn.execute(
            text("SELECT id FROM global_instruments WHERE asset_class = 'cash' AND currency = :c LIMIT 1"),
            {"c": inst.currency},
        ).first()
        return (row[0] if row else None), "broker", 1.0
    if inst.isin:
        row = conn.execute(
            text("SELECT id FROM global_instruments WHERE isin = :isin ORDER BY created_at LIMIT 1"),
            {"isin": inst.isin},
        ).first()
        if row:
            return row[0], "broker", 1.0
    return None, "broker", 1.0


def _create_global(conn: Connection, inst: Instrument) -> uuid.UUID:
    is_cash = inst.asset_class == AssetClass.CASH
    row = conn.execute(
        text(
            """INSERT INTO global_instruments (name, symbol, asset_class, currency, isin, cusip, figi, exchange)
               VALUES (:name, :symbol, :ac, :ccy, :isin, :cusip, :figi, :exchange) RETURNING id"""
        ),
        {
            "name": f"{inst.currency} cash" if is_cash else inst.name,
            "symbol": inst.currency if is_cash else inst.symbol,
            "ac": str(inst.asset_class),
            "ccy": inst.currency,
            "isin": inst.isin,
            "cusip": inst.cusip,
            "figi": inst.figi,
            "exchange": None if is_cash else inst.exchange,
        },
    ).one()
    gid: uuid.UUID = row[0]
    return gid


def set_manual_mapping(conn: Connection, instrument_id: uuid.UUID, global_instrument_id: uuid.UUID) -> None:
    """Map a broker instrument to a global instrument by hand (``manual``, confidence 1).

    A manual mapping wins over any other: capture never touches an existing mapping. Raises ``ValueError``
    naming the missing row when either id is unknown. The caller commits.
    """
    found = conn.execute(
        text(
            """SELECT (SELECT count(*) FROM instruments WHERE id = :i),
                      (SELECT count(*) FROM global_instruments WHERE id = :g)"""
        ),
        {"i": instrument_id, "g": global_instrument_id},
    ).one()
    if not found[0]:
        raise ValueError(f"no broker instrument with id {instrument_id}")
    if not found[1]:
        raise ValueError(f"no global instrument with id {global_instrument_id}")
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:n))"), {"n": MAPPING_LOCK})
    conn.execute(
        text(
            """INSERT INTO instrument_mapping (global_instrument_id, instrument_id, mapping_source, confidence,
                                              updated_at)
               VALUES (:g, :i, 'manual', 1, now())
               ON CONFLICT (instrument_id) DO UPDATE
               SET global_instrument_id = EXCLUDED.global_instrument_id, mapping_source = 'manual',
                   confidence = 1, updated_at = now()"""
        ),
        {"g": global_instrument_id, "i": instrument_id},
    )

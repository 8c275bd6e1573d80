"""Writes for capital gains: the user's opening Section 104 pools and losses brought forward.

Each is keyed (a global instrument; a tax year), so stating a figure again replaces it: idempotent.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

from sqlalchemy import Connection, text


def upsert_opening_pool(
    conn: Connection,
    global_instrument_id: uuid.UUID,
    *,
    quantity: Decimal,
    cost_gbp: Decimal,
    as_of: date,
    note: str | None = None,
) -> bool:
    """Set the opening pool of a global instrument; True when a row was written or changed."""
    result = conn.execute(
        text(
            """INSERT INTO cgt_opening_pools (global_instrument_id, quantity, cost_gbp, as_of, note)
               VALUES (:g, :q, :c, :d, :n)
               ON CONFLICT (global_instrument_id) DO UPDATE
                   SET quantity = EXCLUDED.quantity, cost_gbp = EXCLUDED.cost_gbp, as_of = EXCLUDED.as_of,
                       note = EXCLUDED.note, updated_at = now()
               WHERE (cgt_opening_pools.quantity, cgt_opening_pools.cost_gbp, cgt_opening_pools.as_of)
                     IS DISTINCT FROM (EXCLUDED.quantity, EXCLUDED.cost_gbp, EXCLUDED.as_of)
                  OR cgt_opening_pools.note IS DISTINCT FROM EXCLUDED.note"""
        ),
        {"g": global_instrument_id, "q": quantity, "c": cost_gbp, "d": as_of, "n": note},
    )
    return bool(result.rowcount)


def delete_opening_pool(conn: Connection, global_instrument_id: uuid.UUID) -> bool:
    result = conn.execute(
        text("DELETE FROM cgt_opening_pools WHERE global_instrument_id = :g"), {"g": global_instrument_id}
    )
    return bool(result.rowcount)


def upsert_losses(conn: Connection, tax_year: str, amount_gbp: Decimal) -> bool:
    """Set the losses brought forward into ``tax_year`` (``2023-24``); True when written or changed."""
    result = conn.execute(
        text(
            """INSERT INTO cgt_losses (tax_year, losses_brought_forward_gbp) VALUES (:y, :a)
               ON CONFLICT (tax_year) DO UPDATE
                   SET losses_brought_forward_gbp = EXCLUDED.losses_brought_forward_gbp, updated_at = now()
               WHERE cgt_losses.losses_brought_forward_gbp IS DISTINCT FROM EXCLUDED.losses_brought_forward_gbp"""
        ),
        {"y": tax_year, "a": amount_gbp},
    )
    return bool(result.rowcount)

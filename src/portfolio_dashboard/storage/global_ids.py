"""Ids of global instruments: one derived from the broker instrument it was created for."""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, text

from portfolio_dashboard.domain import Instrument

# Namespace of the ids of global instruments created for one broker instrument (uuid5 of "broker:id").
IDENTITY_NAMESPACE = uuid.UUID("5b0f6a52-2f0e-4d1c-9a7e-6f1d2b8c4e10")


def identity_id(inst: Instrument) -> uuid.UUID:
    """The id a global instrument created for ``inst`` gets: derived from the broker instrument, so that when
    an instrument that was its own identity is mapped away by hand and reset, its identity comes back with
    the same id (bookmarks, exports and notes that name it stay right)."""
    return uuid.uuid5(IDENTITY_NAMESPACE, f"{inst.broker}:{inst.broker_instrument_id}")


def global_exists(conn: Connection, global_id: uuid.UUID) -> bool:
    return conn.execute(text("SELECT 1 FROM global_instruments WHERE id = :g"), {"g": global_id}).first() is not None

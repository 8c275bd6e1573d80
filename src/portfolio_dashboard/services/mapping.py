"""Instrument mapping use cases: list and review mappings, map an instrument by hand, undo it. Each change is
one unit of work; the CLI's ``mapping`` commands and the dashboard's Instruments page both call these."""

from __future__ import annotations

import uuid
from decimal import Decimal

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.domain.matching import Decision
from portfolio_dashboard.storage.mapping import (
    clear_manual_mapping,
    find_instrument,
    global_of,
    resolve_global,
    set_manual_mapping,
    split_to_new_global,
)
from portfolio_dashboard.storage.reads.mappings import MappingRow, list_mappings, review_mappings
from portfolio_dashboard.storage.unit_of_work import UnitOfWork


def mappings(app: App, *, broker: str | None = None, source: str | None = None) -> list[MappingRow]:
    app.migrate()
    with app.engine.connect() as conn:
        return list_mappings(conn, broker=broker, source=source)


def mappings_to_review(app: App, below: Decimal) -> list[MappingRow]:
    app.migrate()
    with app.engine.connect() as conn:
        return review_mappings(conn, below=below)


def map_by_hand(app: App, broker: str, broker_instrument_id: str, target: str | None) -> uuid.UUID:
    """Map an instrument to ``target`` (a global id or unique prefix, or ``<broker>:<id>`` of another
    instrument); ``None`` gives it a global identity of its own. Returns the global instrument id."""
    app.migrate()
    with UnitOfWork(app.engine) as uow:
        conn = uow.connection
        instrument_id = find_instrument(conn, broker, broker_instrument_id)
        if target is None:
            global_id = split_to_new_global(conn, instrument_id)
        else:
            other_broker, sep, other_id = target.partition(":")
            if sep:
                global_id = global_of(conn, find_instrument(conn, other_broker, other_id))
            else:
                global_id = resolve_global(conn, target)
            set_manual_mapping(conn, instrument_id, global_id)
        uow.commit()
    return global_id


def map_instrument(app: App, instrument_id: uuid.UUID, global_instrument_id: uuid.UUID) -> None:
    """Map a stored instrument (by its id) to a global instrument by hand."""
    with UnitOfWork(app.engine) as uow:
        set_manual_mapping(uow.connection, instrument_id, global_instrument_id)
        uow.commit()


def reset_mapping(app: App, broker: str, broker_instrument_id: str) -> tuple[uuid.UUID, Decision | None]:
    """Drop a manual mapping and let the automatic rules decide again; the global id it ends with and why."""
    app.migrate()
    with UnitOfWork(app.engine) as uow:
        instrument_id = find_instrument(uow.connection, broker, broker_instrument_id)
        decision = clear_manual_mapping(uow.connection, instrument_id)
        global_id = global_of(uow.connection, instrument_id)
        uow.commit()
    return global_id, decision

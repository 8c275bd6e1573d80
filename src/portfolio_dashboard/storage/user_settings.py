"""Writes of what the user decides about their accounts and instruments (wrapper, name, asset class).

These rows carry ``*_source = 'user'``; the capture's upserts leave such values alone, so a user's choice
survives every later capture and reprocess.
"""

from __future__ import annotations

import uuid

from sqlalchemy import Connection, text

from portfolio_dashboard.errors import PortfolioError


def set_account(conn: Connection, broker: str, account_id: str, *, wrapper: str | None = None,
                clear_wrapper: bool = False, display_name: str | None = None, clear_name: bool = False) -> None:
    """Set (or clear) the wrapper and the display name of one account; unknown account: ValidationError."""
    row = conn.execute(
        text(
            """UPDATE broker_accounts SET
                   wrapper = CASE WHEN :clear THEN NULL WHEN CAST(:w AS text) IS NULL THEN wrapper ELSE :w END,
                   wrapper_source = CASE WHEN :clear THEN NULL WHEN CAST(:w AS text) IS NULL THEN wrapper_source
                                         ELSE 'user' END,
                   display_name = CASE WHEN :clear_name THEN NULL WHEN CAST(:n AS text) IS NULL THEN display_name
                                       ELSE :n END,
                   updated_at = now()
               WHERE broker = :b AND broker_account_id = :a
               RETURNING 1"""
        ),
        {"b": broker, "a": account_id, "w": wrapper, "clear": clear_wrapper, "n": display_name,
         "clear_name": clear_name},
    ).first()
    if row is None:
        raise PortfolioError(f"no account {broker}:{account_id}",
                              hint="`portfolio-dashboard accounts list` shows the accounts captured so far")


def find_global_instruments(conn: Connection, ident: str) -> list[uuid.UUID]:
    """Global instruments whose symbol, ISIN or id (prefix) is ``ident`` (case-insensitive)."""
    rows = conn.execute(
        text(
            """SELECT id FROM global_instruments
               WHERE upper(symbol) = upper(:x) OR upper(isin) = upper(:x)
                  OR (length(:x) >= 8 AND id::text LIKE lower(:x) || '%')
               ORDER BY symbol, id"""
        ),
        {"x": ident.strip()},
    )
    return [r[0] for r in rows]


def set_instrument_class(conn: Connection, global_id: uuid.UUID, user_class: str | None,
                         user_subclass: str | None) -> None:
    """Set the user's class and sub-class; both None returns the instrument to the broker-derived default."""
    source = None if user_class is None and user_subclass is None else "user"
    row = conn.execute(
        text(
            """UPDATE global_instruments SET user_class = :c, user_subclass = :s, class_source = :src
               WHERE id = :id RETURNING 1"""
        ),
        {"id": global_id, "c": user_class, "s": user_subclass, "src": source},
    ).first()
    if row is None:
        raise PortfolioError(f"no global instrument {global_id}")

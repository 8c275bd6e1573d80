"""Read queries behind the one-click views: the wrappers and brokers on offer, and the views the user saved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text


@dataclass(frozen=True, slots=True)
class SavedView:
    name: str
    query: str  # the URL query string the view stands for (``wrapper=ISA&ccy=USD``)
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AccountTag:
    broker: str
    broker_account_id: str
    wrapper: str | None  # ISA, GIA, SIPP ... (None until the broker or the user says)
    name: str | None


def saved_views(conn: Connection) -> list[SavedView]:
    """Every saved view, by name. The table may not exist yet on a database migrated before it: then none."""
    if conn.execute(text("SELECT to_regclass('saved_views')")).scalar() is None:
        return []
    rows = conn.execute(text("SELECT name, query, created_at FROM saved_views ORDER BY lower(name)"))
    return [SavedView(*r) for r in rows]


def account_tags(conn: Connection) -> list[AccountTag]:
    """Every account with its wrapper (for the view buttons and the Wrapper columns)."""
    rows = conn.execute(text(
        "SELECT broker, broker_account_id, wrapper, COALESCE(display_name, name) FROM broker_accounts "
        "ORDER BY broker, broker_account_id"))
    return [AccountTag(*r) for r in rows]

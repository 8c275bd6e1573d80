"""Writes for the views the user saves (``saved_views``): save (insert or replace) and delete by name."""

from __future__ import annotations

from sqlalchemy import Connection, text


def save_view(conn: Connection, name: str, query: str) -> None:
    """Store ``query`` under ``name``; saving an existing name replaces its filter (the user meant to update it)."""
    conn.execute(
        text("""INSERT INTO saved_views (name, query) VALUES (:n, :q)
                ON CONFLICT (name) DO UPDATE SET query = EXCLUDED.query, created_at = now()"""),
        {"n": name.strip(), "q": query},
    )


def delete_view(conn: Connection, name: str) -> bool:
    return bool(conn.execute(text("DELETE FROM saved_views WHERE name = :n"), {"n": name}).rowcount)

"""Saving and deleting the dashboard's named views (the filter a user wants one click away)."""

from __future__ import annotations

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.storage import saved_views

MAX_NAME = 60


class ViewNameError(ValueError):
    """The name cannot be used (empty or too long); the message says why."""


def save(app: App, name: str, query: str) -> str:
    """Store the view (replacing one of the same name); returns the name as stored."""
    clean = name.strip()
    if not clean:
        raise ViewNameError("Give the view a name.")
    if len(clean) > MAX_NAME:
        raise ViewNameError(f"Keep the name under {MAX_NAME} characters.")
    with app.engine.begin() as conn:
        saved_views.save_view(conn, clean, query)
    return clean


def delete(app: App, name: str) -> bool:
    with app.engine.begin() as conn:
        return saved_views.delete_view(conn, name)

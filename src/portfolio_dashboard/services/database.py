"""The database as the user sees it: bring the schema up or down, is it reachable, and why a call failed —
said in one line, without credentials. The CLI and the dashboard ask here rather than the storage layer."""

from __future__ import annotations

import psycopg
from sqlalchemy.exc import SQLAlchemyError

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.errors import DatabaseUnavailableError
from portfolio_dashboard.storage import migrate
from portfolio_dashboard.storage.engine import check_connection, db_error_reason, unavailable_error

__all__ = ["DRIVER_ERRORS", "check_connection", "error_reason", "migrate_schema", "unavailable"]

# what a database call can raise besides our own errors (the writer COPYs through psycopg directly)
DRIVER_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, psycopg.Error)


def migrate_schema(app: App, revision: str = "head", *, downgrade: bool = False) -> tuple[str | None, str | None]:
    """Upgrade (or downgrade) to ``revision``; the revisions before and after."""
    engine = app.engine
    before = migrate.current_revision(engine)
    if downgrade:
        migrate.downgrade(engine, revision)
    else:
        migrate.upgrade(engine, revision)
    return before, migrate.current_revision(engine)


def error_reason(exc: BaseException) -> str:
    """Why a database call failed, in one line, without credentials."""
    return db_error_reason(exc)


def unavailable(app: App, exc: BaseException) -> DatabaseUnavailableError:
    """The error to show when the server went away: where it was and why it cannot be reached."""
    return unavailable_error(app.engine, exc)

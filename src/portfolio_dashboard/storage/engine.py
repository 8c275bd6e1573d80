"""Engines: one per process, pointed at ``DATABASE_URL`` or the embedded server."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from portfolio_dashboard.config import Settings, mask_url_password
from portfolio_dashboard.errors import DatabaseUnavailableError


def resolve_database_url(settings: Settings) -> str:
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    from portfolio_dashboard.storage.embedded import start_embedded

    return start_embedded(settings.pgdata_dir)


def describe_url(url: str) -> str:
    """Where a URL points, for messages: ``host:port/db`` or ``embedded (socket)``; never the password."""
    parts = urlsplit(url)
    if not parts.hostname:
        return f"embedded PostgreSQL (local socket), database {parts.path.lstrip('/')}"
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


def make_engine(url: str, *, timezone: str = "Europe/London", pool_size: int = 5) -> Engine:
    """A pooled engine whose sessions know the portfolio time zone (used by the daily views)."""
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=10,
        connect_args={"options": f"-c portfolio.timezone={timezone}", "connect_timeout": 10},
    )

    @event.listens_for(engine, "connect")
    def _name_session(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.execute("SET application_name = 'portfolio-dashboard'")
        dbapi_conn.commit()

    return engine


def check_connection(engine: Engine) -> None:
    """Raise ``DatabaseUnavailableError`` naming the host (never the password) when we cannot connect."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError as exc:
        where = describe_url(engine.url.render_as_string(hide_password=True))
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise DatabaseUnavailableError(
            f"cannot connect to PostgreSQL at {where}: {mask_url_password(reason)}",
            hint="check that the server is running and DATABASE_URL is right",
        ) from None

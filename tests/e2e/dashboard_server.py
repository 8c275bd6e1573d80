"""Run the real ``portfolio-dashboard serve`` on a free port against an embedded database, and stop it cleanly.

Shared by the browser tests and ``bench/ui_first_render.py``. Stopping sends SIGTERM to the serve process, as
a service manager does (the CLI then stops Streamlit and, on exit, releases the embedded PostgreSQL it
started); only when that does not end it within the grace period is the process group we started killed. Not
SIGINT: a process started from a pytest-xdist worker or a script's background job inherits SIGINT ignored, so
SIGINT waited out the whole grace period (30 s per browser module) and then killed. A PostgreSQL left behind by a
killed serve (found by its ``postmaster.pid`` in our own data folder) is shut down too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# Settings a developer's shell might carry: the served dashboard must see only what we give it.
_ENV_PREFIXES = ("DATABASE_URL", "PORTFOLIO_", "BROKERS", "IB_", "SCHWAB_", "ECB_", "ALERT_", "BASE_CURRENCY",
                 "DASHBOARD_", "LOG_FORMAT", "FX_", "CAPTURE_", "RECONCILE_")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def clean_env(data_dir: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(_ENV_PREFIXES)}
    env["PORTFOLIO_DATA_DIR"] = str(data_dir)
    env.update(extra or {})
    return env


def embedded_url(data_dir: Path, database: str = "portfolio") -> str:
    """libpq URL of the embedded server in ``data_dir`` (it listens on a socket in its pgdata folder)."""
    return f"postgresql://postgres@/{database}?host={(data_dir / 'pgdata').resolve()}"


class DashboardServer:
    def __init__(self, data_dir: Path, *, env: dict[str, str] | None = None, log_path: Path | None = None,
                 owns_database: bool = True) -> None:
        self.data_dir = data_dir
        self.owns_database = owns_database  # False when another process of ours also holds the embedded server
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = clean_env(data_dir, env)
        self.log_path = log_path or data_dir.parent / f"serve-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.up_at: float | None = None  # time.monotonic() when the health check first answered

    def start(self, timeout_s: float = 240.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "portfolio_dashboard", "serve", "--port", str(self.port)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self._healthy():
                self.up_at = time.monotonic()
                return self.url
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"serve did not answer within {timeout_s:.0f} s:\n{self.log_tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, grace_s: float = 30.0) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # serve stops Streamlit, then releases the embedded server
            try:
                proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # the group we started, nothing else
                proc.wait(10)
        if self.owns_database:
            self._stop_orphan_postgres()

    def _stop_orphan_postgres(self) -> None:
        pid_file = self.data_dir / "pgdata" / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return
        for _ in range(100):
            try:
                os.kill(pid, signal.SIGINT if _ == 0 else 0)  # fast shutdown, then wait for it to go
            except ProcessLookupError:
                return
            time.sleep(0.1)

    def __enter__(self) -> DashboardServer:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

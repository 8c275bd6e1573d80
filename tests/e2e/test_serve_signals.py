"""`serve` stopped the way systemd, Docker or a closed terminal stop it (SIGTERM, SIGHUP) stops its Streamlit
child (the port closes) and releases the embedded PostgreSQL (the server stops)."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.e2e.dashboard_server import clean_env, free_port
from tests.integration.test_embedded_server import servers_of

pytestmark = pytest.mark.slow


@pytest.fixture
def work() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pd-serve-"))  # not pytest's tmp_path: see tests/conftest.py
    yield path
    shutil.rmtree(path, ignore_errors=True)


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_for(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.25)
    return False


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_stops_the_dashboard_and_the_embedded_server(work: Path, stop_signal: signal.Signals) -> None:
    data = work / "data"
    port = free_port()
    serve = subprocess.Popen([sys.executable, "-m", "portfolio_dashboard", "serve", "--port", str(port)],
                             env=clean_env(data), cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    children: list[psutil.Process] = []
    try:
        assert wait_for(lambda: port_open(port) or serve.poll() is not None, 180), "the dashboard never listened"
        assert serve.poll() is None, serve.stderr.read() if serve.stderr else ""
        pgdata = (data / "pgdata").resolve()
        server_pids = servers_of(pgdata)
        assert server_pids, "serve started the embedded server"
        children = psutil.Process(serve.pid).children(recursive=True)
        assert children

        serve.send_signal(stop_signal)  # to the serve process only, as `kill PID` or systemd's main-PID stop
        assert serve.wait(timeout=60) == 0
        assert wait_for(lambda: not port_open(port), 10), "the dashboard child still serves the port"
        assert all(not c.is_running() or c.status() == psutil.STATUS_ZOMBIE for c in children)
        assert servers_of(pgdata) == []  # released: it was the last holder, so the server stopped
        assert not (pgdata / "postmaster.pid").exists()
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
        for child in children:
            if child.is_running():
                child.kill()

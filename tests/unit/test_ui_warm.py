"""The dashboard's background imports: which health check they wait for, and that they wait for it."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest

from portfolio_dashboard.ui import warm


def test_the_health_check_is_the_servers_own_on_loopback_when_it_binds_everywhere() -> None:
    args = ["run", "app.py", "--server.address", "0.0.0.0", "--server.port", "8611", "--server.headless", "true"]
    assert warm.health_url(args) == "http://127.0.0.1:8611/_stcore/health"
    assert warm.health_url(["run", "app.py", "--server.address", "192.0.2.7", "--server.port", "9000"]) == (
        "http://192.0.2.7:9000/_stcore/health")
    assert warm.health_url(["run", "app.py", "--server.address", "::1"]) == "http://[::1]:8501/_stcore/health"


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/_stcore/health" else 404)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/_stcore/health"
    server.shutdown()
    server.server_close()


def test_the_modules_are_imported_once_the_server_answers(health: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "tests.fakes.holdings", raising=False)
    assert warm.import_when_up(health, ("tests.fakes.holdings",))
    assert "tests.fakes.holdings" in sys.modules


def test_nothing_is_imported_when_the_server_never_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.delitem(sys.modules, "tests.fakes.holdings", raising=False)
    assert not warm.import_when_up(f"http://127.0.0.1:{port}/_stcore/health", ("tests.fakes.holdings",), wait_s=0.3)
    assert "tests.fakes.holdings" not in sys.modules

"""A broker that answers at once and then trickles its body one byte at a time (a real socket on 127.0.0.1).

Per-request read timeouts never fire against it (every read gets a byte), which is what the capture's overall
deadline is for.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

BODY = b'<FlexStatementResponse timestamp="04 December, 2026 10:00 AM EST"><Status>Success</Status>' + b" " * 4000


class _Trickle(BaseHTTPRequestHandler):
    interval: ClassVar[float] = 0.2
    server_state: ClassVar[dict[int, TrickleServer]] = {}

    def do_GET(self) -> None:
        owner = self.server_state[id(self.server)]
        owner.requests.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        for i in range(len(BODY)):
            if owner.stopped.is_set():
                return
            try:
                self.wfile.write(BODY[i:i + 1])
                self.wfile.flush()
            except OSError:
                return  # the client gave up: that is the point
            time.sleep(self.interval)

    def log_message(self, *args: object) -> None:
        return


class TrickleServer:
    """``with TrickleServer() as server:`` serves on ``server.base_url``; ``server.requests`` lists the paths."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.stopped = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Trickle)
        self._server.daemon_threads = True
        _Trickle.server_state[id(self._server)] = self
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> TrickleServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self._server.shutdown()
        self._server.server_close()
        _Trickle.server_state.pop(id(self._server), None)

"""A real HTTP(S) server on 127.0.0.1 for fake brokers: routes are plain functions, faults are scripted.

    server = FakeServer(tls=True)                        # self-signed cert made by trustme
    server.route("GET", "/v1/api/tickle", lambda req: Reply.json({"session": "x"}))
    server.fail_next("GET", "/v1/api/portfolio/accounts", Reply(status=429, headers={"Retry-After": "0"}))
    server.mutate_next("GET", "/v1/api/portfolio/accounts", lambda reply: ...)   # alter the routed answer
    with server:                                         # serving on server.base_url
        ...
    server.requests                                       # what was asked, in order

Why stdlib ``http.server``: it speaks real HTTP/1.1 over a real socket with no dependency, and a fake broker
needs nothing more. ``Reply.drop()`` closes the connection without answering (a reset), and
``Reply(delay=...)`` sleeps before answering (a timeout when longer than the client's).
"""

from __future__ import annotations

import contextlib
import json
import re
import ssl
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    match: re.Match[str] | None = None
    at: float = 0.0  # time.monotonic() when the request arrived (end-to-end benchmarks)
    done: float | None = None  # time.monotonic() when its answer was sent; None for a dropped connection
    reply: Any = None  # the Reply it got (after faults and mutators)

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop_connection: bool = False

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
        return cls(status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})})

    @classmethod
    def text(cls, body: str, status: int = 200, content_type: str = "text/plain") -> Reply:
        return cls(status, body.encode(), {"Content-Type": content_type})

    @classmethod
    def drop(cls) -> Reply:
        return cls(drop_connection=True)


Handler = Callable[[Request], Reply]


class _QuietServer(ThreadingHTTPServer):
    """A client hanging up (a timeout, a reset the test asked for) is not an error of the fake; anything
    else (a bug in a route or a mutator) is still printed."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], OSError):
            return
        super().handle_error(request, client_address)


class FakeServer:
    def __init__(self, *, tls: bool = False, latency: float = 0.0) -> None:
        self.tls = tls
        self.latency = latency  # added to every request (for end-to-end speed benchmarks)
        # The broker's clock as its Date header tells it (epoch seconds); None: the real time. A simulated
        # calendar (the soak's year) moves it, since some brokers' as-ofs are their Date header.
        self.date_clock: Callable[[], float] | None = None
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._faults: dict[tuple[str, str], deque[Reply]] = defaultdict(deque)
        self._mutators: dict[tuple[str, str], deque[Callable[[Reply], Reply]]] = defaultdict(deque)
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.ca_path: str | None = None  # PEM of the CA that signed the server certificate (tls=True)
        self._tmp: Any = None

    # --- configuration -------------------------------------------------------------------------------------
    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """``pattern`` is a regex matched against the whole path (query excluded)."""
        self._routes.append((method.upper(), re.compile(pattern + r"\Z"), handler))

    def fail_next(self, method: str, path: str, *replies: Reply) -> None:
        """Answer the next requests to exactly ``path`` with ``replies`` (in order) before the route."""
        with self._lock:
            self._faults[(method.upper(), path)].extend(replies)

    def mutate_next(self, method: str, path: str, *mutators: Callable[[Reply], Reply]) -> None:
        """Pass the routed answers to the next requests to exactly ``path`` through ``mutators`` (in order):
        payload faults (a field removed, a wrong type, a truncated body) on the fake's documented answer."""
        with self._lock:
            self._mutators[(method.upper(), path)].extend(mutators)

    def clear_faults(self) -> None:
        """Forget scripted faults and mutators that were never used."""
        with self._lock:
            self._faults.clear()
            self._mutators.clear()

    def count(self, method: str, path_regex: str) -> int:
        rx = re.compile(path_regex + r"\Z")
        return sum(1 for r in self.requests if r.method == method.upper() and rx.match(r.path))

    # --- lifecycle -----------------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        _host, port = self._httpd.server_address[:2]
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{port}"

    def start(self) -> FakeServer:
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def date_time_string(self, timestamp: float | None = None) -> str:
                clock = server.date_clock
                return super().date_time_string(clock() if clock is not None and timestamp is None else timestamp)

            def _serve(self) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Request(self.command, split.path, parse_qs(split.query), dict(self.headers.items()), body,
                              at=time.monotonic())
                with server._lock:
                    server.requests.append(req)
                    queue = server._faults.get((self.command, split.path))
                    reply = queue.popleft() if queue else None
                    mutators = server._mutators.get((self.command, split.path)) if reply is None else None
                    mutate = mutators.popleft() if mutators else None
                if reply is None:
                    reply = server._dispatch(req)
                    if mutate is not None:
                        reply = mutate(reply)
                req.reply = reply
                if server.latency:
                    time.sleep(server.latency)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop_connection:
                    self.close_connection = True
                    with contextlib.suppress(OSError):
                        self.connection.shutdown(2)
                    return
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
                req.done = time.monotonic()

            do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815

        httpd = _QuietServer(("127.0.0.1", 0), _Handler)
        httpd.daemon_threads = True
        if self.tls:
            import tempfile

            import trustme

            ca = trustme.CA()
            cert = ca.issue_cert("127.0.0.1", "localhost")
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            cert.configure_cert(ctx)
            httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
            self._tmp = tempfile.NamedTemporaryFile(suffix=".pem", delete=False)  # noqa: SIM115
            self._tmp.write(ca.cert_pem.bytes())
            self._tmp.flush()
            self.ca_path = self._tmp.name
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="fake-broker", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._tmp is not None:
            import os

            self._tmp.close()
            os.unlink(self._tmp.name)
            self._tmp = None

    def __enter__(self) -> FakeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _dispatch(self, req: Request) -> Reply:
        for method, rx, handler in self._routes:
            if method == req.method:
                m = rx.match(req.path)
                if m:
                    req.match = m
                    return handler(req)
        return Reply.json({"error": f"no route for {req.method} {req.path}"}, status=404)

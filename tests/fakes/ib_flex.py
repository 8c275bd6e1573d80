"""A fake IBKR Flex Web Service over real HTTP on 127.0.0.1.

It speaks the documented two-step protocol under ``/AccountManagement/FlexWebService``:
``SendRequest?t&q&v`` -> ``FlexStatementResponse`` with ``ReferenceCode`` and ``Url``; ``GetStatement?t&q&v``
-> the statement, or ``Status Warn/Fail`` with ``ErrorCode``/``ErrorMessage`` — always HTTP 200, as IBKR does.

    flex = FakeFlex(token="tok", query_id="123", statement=sample())
    flex.in_progress = 2                       # two "1019 generation in progress" before the statement
    flex.send_errors.append("1018")            # next SendRequest is throttled
    with flex:
        IbFlexSource("tok", "123", flex.base_url, ...)
"""

from __future__ import annotations

import itertools
from collections import deque

from tests.fakes.server import FakeServer, Reply, Request

PREFIX = "/AccountManagement/FlexWebService"

# IBKR's documented messages for the codes the fake answers with.
MESSAGES = {
    "1003": "Statement is not available.",
    "1009": "The server is under heavy load. Statement could not be generated at this time. Please try again shortly.",
    "1012": "Token has expired.",
    "1014": "Query is invalid.",
    "1015": "Token is invalid.",
    "1017": "Reference code is invalid.",
    "1018": "Too many requests have been made from this token. Please try again shortly.",
    "1019": "Statement generation in progress. Please try again shortly.",
    "1020": "Invalid request or unable to validate request.",
}
TIMESTAMP = "21 November, 2026 04:12 AM EST"


def status_xml(code: str, message: str | None = None, status: str = "Fail") -> bytes:
    text = message if message is not None else MESSAGES.get(code, "Unknown error.")
    return (
        f"<FlexStatementResponse timestamp='{TIMESTAMP}'>\n<Status>{status}</Status>\n"
        f"<ErrorCode>{code}</ErrorCode>\n<ErrorMessage>{text}</ErrorMessage>\n</FlexStatementResponse>"
    ).encode()


def _xml(body: bytes) -> Reply:
    return Reply(200, body, {"Content-Type": "text/xml;charset=UTF-8"})


class FakeFlex:
    def __init__(self, *, token: str, query_id: str, statement: bytes, tls: bool = False) -> None:
        self.server = FakeServer(tls=tls)
        self.token = token
        self.query_id = query_id
        self.statement = statement
        self.in_progress = 0  # "1019" answers before each statement is served
        self.send_errors: deque[str] = deque()  # codes for the next SendRequests
        self.get_errors: deque[str] = deque()  # codes for the next GetStatements
        self.echo_token = False  # error messages quote the token back (IBKR has done similar)
        self.url_override: str | None = None  # the Url SendRequest hands out
        self._codes = itertools.count(7015551001)
        self._pending: dict[str, int] = {}
        self.server.route("GET", PREFIX + "/SendRequest", self._send)
        self.server.route("GET", PREFIX + "/GetStatement", self._get)

    @property
    def base_url(self) -> str:
        return self.server.base_url + PREFIX

    @property
    def requests(self) -> list[Request]:
        return self.server.requests

    def __enter__(self) -> FakeFlex:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def _fail(self, code: str, req: Request) -> Reply:
        message = MESSAGES.get(code, "Unknown error.")
        if self.echo_token:
            message = f"{message} (token {req.param('t')})"
        status = "Warn" if code == "1019" else "Fail"
        return _xml(status_xml(code, message, status))

    def _send(self, req: Request) -> Reply:
        if not (req.headers.get("User-Agent") or "").strip():
            return Reply.text("User-Agent header required", status=403)
        if self.send_errors:
            return self._fail(self.send_errors.popleft(), req)
        if req.param("t") != self.token:
            return self._fail("1015", req)
        if req.param("q") != self.query_id:
            return self._fail("1014", req)
        code = str(next(self._codes))
        self._pending[code] = self.in_progress
        url = self.url_override or self.base_url + "/GetStatement"
        return _xml(
            (
                f"<FlexStatementResponse timestamp='{TIMESTAMP}'>\n<Status>Success</Status>\n"
                f"<ReferenceCode>{code}</ReferenceCode>\n<Url>{url}</Url>\n</FlexStatementResponse>"
            ).encode()
        )

    def _get(self, req: Request) -> Reply:
        if self.get_errors:
            return self._fail(self.get_errors.popleft(), req)
        if req.param("t") != self.token:
            return self._fail("1015", req)
        code = req.param("q") or ""
        if code not in self._pending:
            return self._fail("1017", req)
        if self._pending[code] > 0:
            self._pending[code] -= 1
            return self._fail("1019", req)
        return _xml(self.statement)

"""Answer every browser request at once: TCP_NODELAY on the socket the dashboard's server listens on.

Why: Streamlit's server (uvicorn, since Streamlit moved off Tornado) creates its listening socket as
``socket.socket(family)``, whose ``proto`` is 0, and asyncio turns Nagle's algorithm off only for sockets whose
``proto`` says TCP. So on a kept-alive connection each response's body waited for the browser's delayed ACK of
its headers: 40-44 ms per file, measured with curl-like keep-alive requests for any of Streamlit's static files
(1-2 ms on a fresh connection). A fresh browser fetches about 75 script chunks for the Overview over six
connections, so about half a second of the first visit was that wait (docs/benchmarks.md).

How, without touching Streamlit or asyncio: Python's audit hook for ``socket.bind`` (PEP 578, a public API)
sets TCP_NODELAY on each TCP socket this process binds; Linux and the BSDs (macOS) copy the option to every
connection the socket accepts. The hook only ever sets that one option, and never lets a failure stop a bind.
"""

from __future__ import annotations

import contextlib
import socket
import sys
from typing import Any

_installed = False


def on_bind(event: str, args: tuple[Any, ...]) -> None:
    """The audit hook: on ``socket.bind`` of a TCP socket, turn Nagle's algorithm off (nothing else)."""
    if event != "socket.bind" or not args:
        return
    sock = args[0]
    if not isinstance(sock, socket.socket) or sock.type != socket.SOCK_STREAM:
        return
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def install() -> None:
    """Add the hook to this process (once: audit hooks cannot be removed, so a second would only repeat it)."""
    global _installed
    if not _installed:
        sys.addaudithook(on_bind)
        _installed = True

"""Nagle's algorithm off on the dashboard's listening socket (``ui/no_delay.py``): the hook sets TCP_NODELAY on
a TCP socket as it binds, leaves other sockets alone, and connections the socket accepts carry the option."""

from __future__ import annotations

import socket
import subprocess
import sys

from portfolio_dashboard.ui import no_delay


def _nodelay(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_the_hook_turns_nagle_off_on_a_tcp_socket_as_it_binds() -> None:
    with socket.socket(socket.AF_INET) as sock:  # proto 0, as Streamlit creates its socket: asyncio skips it
        assert sock.proto == 0 and _nodelay(sock) == 0
        no_delay.on_bind("socket.bind", (sock, ("127.0.0.1", 0)))
        assert _nodelay(sock) == 1


def test_the_hook_ignores_other_events_and_sockets() -> None:
    with socket.socket(socket.AF_INET) as tcp, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        no_delay.on_bind("socket.connect", (tcp, ("127.0.0.1", 9)))
        assert _nodelay(tcp) == 0
        no_delay.on_bind("socket.bind", (udp, ("127.0.0.1", 0)))  # no TCP option on UDP, and no error either
        no_delay.on_bind("socket.bind", ("not a socket", ("127.0.0.1", 0)))
        no_delay.on_bind("socket.bind", ())


# In a child process, because an audit hook cannot be removed from the process that adds it.
ACCEPTED = """
import socket
from portfolio_dashboard.ui import no_delay
no_delay.install()
no_delay.install()  # once is enough; a second call adds nothing
listener = socket.socket(socket.AF_INET)
listener.bind(("127.0.0.1", 0))
listener.listen()
client = socket.create_connection(listener.getsockname())
accepted, _ = listener.accept()
print(accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
"""


def test_installed_connections_the_listening_socket_accepts_have_nagle_off() -> None:
    out = subprocess.run([sys.executable, "-c", ACCEPTED], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() not in ("", "0")

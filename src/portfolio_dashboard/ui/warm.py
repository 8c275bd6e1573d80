"""The dashboard's imports, done in the background once ``serve`` answers HTTP, so a visitor who arrives a few
seconds later does not wait for them.

Measured (``bench/serve_start.py``, docs/benchmarks.md), the first Overview of a process spends most of its time
importing pandas, Plotly, SQLAlchemy and the dashboard's modules. Doing that *before* Streamlit listened (the
former warm start, which also ran the Overview's reads and built a throwaway chart) delayed the health check by
as much as it saved, and made Streamlit's caches outside its runtime: 22 "No runtime found" warnings at every
start. So only the imports are kept, and only after the server answers: its runtime exists by then, nothing
is cached early, and the health check is not delayed. A visitor who comes at once simply waits on the same
imports (Python's import lock), no longer than without this.
"""

from __future__ import annotations

import importlib
import itertools
import logging
import threading
import time
import urllib.request
from collections.abc import Sequence

log = logging.getLogger("portfolio_dashboard.ui")

# What the Overview's first run imports that costs time; its pages themselves are scripts, never imported.
MODULES = ("pandas", "plotly.graph_objects", "plotly.io", "sqlalchemy",
           "portfolio_dashboard.ui.shell", "portfolio_dashboard.ui.data", "portfolio_dashboard.ui.charts",
           "portfolio_dashboard.ui.tables", "portfolio_dashboard.ui.sidebar")
WAIT_S = 120.0  # give up if the server never answers (it failed to start: its own error says why)


def health_url(argv: Sequence[str]) -> str:
    """The health check of the server ``streamlit run`` is about to start, from its own options."""
    options = dict(itertools.pairwise(argv))
    host = options.get("--server.address", "127.0.0.1")
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - reading the bind address, not binding
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{options.get('--server.port', '8501')}/_stcore/health"


def import_when_up(url: str, modules: Sequence[str] = MODULES, wait_s: float = WAIT_S) -> bool:
    """Wait until ``url`` answers, then import ``modules``; whether it did (logged either way)."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 - our own server's health check
                if reply.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            log.warning("background imports skipped: the server did not answer within %.0f s", wait_s)
            return False
        time.sleep(0.1)
    started = time.perf_counter()
    for name in modules:
        importlib.import_module(name)
    log.info("background imports done in %.1f s", time.perf_counter() - started)
    return True


def start(argv: Sequence[str]) -> threading.Thread:
    """Run ``import_when_up`` for the server ``argv`` describes, in a daemon thread (it never holds up exit)."""
    thread = threading.Thread(target=import_when_up, args=(health_url(argv),), name="dashboard-imports",
                              daemon=True)
    thread.start()
    return thread

"""Speed a person feels (issue 19): a fresh browser on a warm server, on the 10-year benchmark history.

    uv run python bench/ui_warm_render.py --data-dir /tmp/hist   # reuses (or generates) the history there

1. The history of ``bench/ui_first_render.py`` (about 2.2M position rows), generated once into ``--data-dir``.
2. One ``portfolio-dashboard serve``, visited once so it is warm (what a running dashboard is).
3. ``--rounds`` times, a fresh browser context (no cache, no session) opens ``/overview``: the moment the
   total and the value chart become visible is stamped in the page (a mutation observer, no sleeps),
   measured from the navigation's start.
4. The floor: a one-line Streamlit page served warm, on the same kind of socket as ``serve`` (Nagle's algorithm
   off, ``ui/no_delay.py``), and opened the same way, in the same run, its visits taking turns with the
   Overview's (the machine's load drifts); plain ``streamlit run`` is shown beside it.
5. Page switches: in one session, a click on each page in the sidebar until its title and first table or
   chart show.

Target: total and chart within floor + 1.0 s; each page switch under 0.5 s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.dashboard_server import CHROMIUM, CHROMIUM_ARGS, DashboardServer, free_port  # noqa: E402

from bench.generate_history import Spec  # noqa: E402
from bench.ui_first_render import CHART, TOTAL, ensure_history, stamp  # noqa: E402
from portfolio_dashboard.bootstrap import get_app  # noqa: E402
from portfolio_dashboard.config import load_settings  # noqa: E402
from portfolio_dashboard.storage.embedded import stop_embedded  # noqa: E402

IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
SWITCHES = [("Positions", '[data-testid="stDataFrame"]'), ("Allocation", ".js-plotly-plot"),
            ("Runs", '[data-testid="stDataFrame"]'), ("Overview", CHART)]


def _since_start(page: object, selector: str) -> float:
    """Seconds from the navigation's start to the moment ``selector`` first showed (stamped in the page)."""
    return float(page.evaluate(  # type: ignore[attr-defined]
        "(s) => (window.__shownAt[s] - performance.timeOrigin) / 1000", selector))


def fresh_visits(browser: object, url: str, selectors: tuple[str, ...], rounds: int) -> list[tuple[float, ...]]:
    out = []
    for _ in range(rounds):
        context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
        page = context.new_page()
        stamp(page, *selectors)
        page.goto(url)
        for s in selectors:
            page.wait_for_selector(s, timeout=120_000)
        out.append(tuple(_since_start(page, s) for s in selectors))
        context.close()
    return out


def page_switches(browser: object, url: str) -> list[tuple[str, float]]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})  # type: ignore[attr-defined]
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector(CHART, timeout=120_000)
    page.wait_for_selector(IDLE, timeout=120_000)
    out = []
    for title, ready in SWITCHES * 2:  # the second lap is what a user clicking around sees
        t0 = time.monotonic()
        page.locator('[data-testid="stSidebarNav"] a', has_text=title).click()
        page.locator("h1", has_text=title).wait_for(timeout=120_000)
        page.locator(ready).first.wait_for(timeout=120_000)
        out.append((title, time.monotonic() - t0))
        page.wait_for_selector(IDLE, timeout=120_000)
    context.close()
    return out[len(SWITCHES):]


# Streamlit's CLI as ``serve`` runs it (``launch.run_streamlit``: Nagle's algorithm off on the listening socket),
# less ``launch.main``'s background imports of the dashboard's modules (they would compete with the floor's visits
# for the CPU).
SAME_SOCKET = "import sys; from portfolio_dashboard.ui.launch import run_streamlit; run_streamlit(sys.argv[1:])"


FLOOR = 'import streamlit as st\nst.title("Hello")\n'


def floor_page(*, as_served: bool = True) -> contextlib.AbstractContextManager[str]:
    """The one-line page served warm (its URL); ``as_served``: on the socket ``serve`` uses, else plain
    ``streamlit run``."""
    return served_page(FLOOR, as_served=as_served)


@contextlib.contextmanager
def served_page(source: str, *, as_served: bool = True) -> Iterator[str]:
    """``source`` as a one-file Streamlit page, served until the block ends (its URL, once its health check
    answers); ``as_served``: on the socket ``serve`` uses, else plain ``streamlit run``."""
    with tempfile.TemporaryDirectory(prefix="pd-page-") as tmp:
        script = Path(tmp) / "page.py"
        script.write_text(source, encoding="utf-8")
        port = free_port()
        start = [sys.executable, "-c", SAME_SOCKET] if as_served else [sys.executable, "-m", "streamlit"]
        proc = subprocess.Popen(
            [*start, "run", str(script), "--server.port", str(port),
             "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                with contextlib.suppress(OSError), urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                    break
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}/"
        finally:
            os.killpg(proc.pid, signal.SIGTERM)  # the group we started
            proc.wait(30)


def interleaved(browser: object, overview: str, hello: str, plain: str,
                rounds: int) -> tuple[list[tuple[float, ...]], list[float], list[float]]:
    """Each round visits the floor, the Overview and the stock page in turn (the order rotating), so a change in
    the machine's load during the run weighs on the floor and the Overview alike."""
    pages = [(overview, (TOTAL, CHART)), (hello, ("h1",)), (plain, ("h1",))]
    for url, selectors in pages:
        fresh_visits(browser, url, selectors, 1)  # every server warm from here on
    out: dict[str, list[tuple[float, ...]]] = {url: [] for url, _ in pages}
    for i in range(rounds):
        for url, selectors in pages[i % 3:] + pages[:i % 3]:
            out[url] += fresh_visits(browser, url, selectors, 1)
    return out[overview], [r[0] for r in out[hello]], [r[0] for r in out[plain]]


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    app = get_app(load_settings(portfolio_data_dir=args.data_dir, _env_file=None))
    app.migrate()
    url = app.engine.url.render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://")
    rows = ensure_history(url, Spec(days=3650, accounts=3, positions=200))
    print(f"history: {rows:,} position rows")
    app.dispose()
    server = DashboardServer(args.data_dir, owns_database=False)
    server.start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            overview = f"{server.url}/overview"
            with floor_page() as hello_url, floor_page(as_served=False) as plain_url:
                visits, hello, plain = interleaved(browser, overview, hello_url, plain_url, args.rounds)
            switches = page_switches(browser, overview)
            browser.close()
    finally:
        server.stop()
        stop_embedded(app.settings.pgdata_dir)
    f = statistics.median(hello)
    total, chart = statistics.median(v[0] for v in visits), statistics.median(v[1] for v in visits)
    print(f"floor (one-line page, fresh browser, warm server): median {f:.2f} s, worst {max(hello):.2f} s "
          f"(plain `streamlit run`, Nagle on: median {statistics.median(plain):.2f} s)")
    print(f"Overview total: median {total:.2f} s, worst {max(v[0] for v in visits):.2f} s; "
          f"chart: median {chart:.2f} s, worst {max(v[1] for v in visits):.2f} s "
          f"(target floor + 1.0 = {f + 1.0:.2f} s)")
    for title, seconds in switches:
        print(f"switch to {title}: {seconds:.2f} s")
    print(f"page switch: median {statistics.median(s for _t, s in switches):.2f} s, "
          f"worst {max(s for _t, s in switches):.2f} s (target < 0.5 s)")
    with open("/proc/loadavg") as load:
        print(f"load average: {load.read().split(' ')[:3]}")


if __name__ == "__main__":
    main()

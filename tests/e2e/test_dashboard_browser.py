"""The dashboard in a real browser: Playwright driving Debian's Chromium against `portfolio-dashboard serve`.

One server on an embedded database for the module. The tests follow a newcomer: an empty database, Save
Snapshot with the demo source, the demo history, every page, a filter, the CSV download; screenshots of every
page at desktop and phone width go to ``test-artifacts/screenshots/`` (or ``$TEST_ARTIFACTS``).
"""

from __future__ import annotations

import csv
import http.client
import io
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from portfolio_dashboard.ui.jobs import MIN_INTERVAL_S
from tests.e2e.dashboard_server import CHROMIUM, CHROMIUM_ARGS, DashboardServer, embedded_url

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", ROOT / "test-artifacts")) / "screenshots"
PAGES = {"overview": "", "positions": "positions", "allocation": "allocation", "runs": "runs",
         "connections": "connections", "instruments": "instruments", "capital-gains": "capital-gains"}
CHARTED = {"overview": ".st-key-value_chart .pdc svg", "allocation": ".js-plotly-plot .main-svg"}
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
TOTAL = '.st-key-total-value [data-testid="stMetricValue"]'
TIMEOUT_MS = 90_000  # generous: CI machines can be slow; a pass is usually a few seconds

if not Path(CHROMIUM).exists():
    pytest.skip(f"no browser: {CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dashboard") / "data"


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[DashboardServer]:
    with DashboardServer(data_dir) as srv:
        yield srv


@pytest.fixture(scope="module")
def history(server: DashboardServer) -> None:
    """A year of demo history (idempotent: days already stored are skipped), for tests that need charts."""
    subprocess.run([sys.executable, "-m", "portfolio_dashboard", "demo", "seed", "--days", "365"], env=server.env,
                   check=True, capture_output=True, timeout=300)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=VIEWPORTS["desktop"], accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    yield pg
    context.close()


def run_count(data_dir: Path) -> int:
    with psycopg.connect(embedded_url(data_dir)) as conn:
        row = conn.execute("SELECT count(*) FROM snapshot_runs WHERE triggered_by = 'dashboard'").fetchone()
    return int(row[0]) if row else 0


def idle(page) -> None:  # type: ignore[no-untyped-def]
    """Wait until Streamlit has finished the current script run."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=TIMEOUT_MS)


def total_value(page) -> str:  # type: ignore[no-untyped-def]
    return str(page.locator(TOTAL).inner_text()).strip()


def test_serve_starts_without_streamlit_warnings(server):
    """Nothing makes a cache outside Streamlit's runtime at start ("No runtime found" warnings)."""
    log = server.log_path.read_text(errors="replace")
    assert "You can now view your Streamlit app" in log, server.log_tail()
    assert "No runtime found" not in log, server.log_tail()


def test_kept_alive_connections_answer_as_fast_as_fresh_ones(server):
    """No response waits for the browser's delayed ACK (Nagle's algorithm, ``ui/no_delay.py``): a browser fetches
    the page's script chunks over a few kept-alive connections, where each waited about 40 ms before."""
    index = urllib.request.urlopen(server.url, timeout=30).read().decode()  # our own local server
    assets = re.findall(r'(?:src|href)="\./(static/js/[^"]+\.js)"', index)[:6]
    assert assets, index[:500]
    host, port = server.url.removeprefix("http://").split(":")

    def fetch(conn: http.client.HTTPConnection, path: str) -> float:
        started = time.perf_counter()
        conn.request("GET", f"/{path}")
        reply = conn.getresponse()
        assert reply.status == 200 and reply.read()
        return time.perf_counter() - started

    fresh = []
    for path in assets:
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        fresh.append(fetch(conn, path))
        conn.close()
    kept = http.client.HTTPConnection(host, int(port), timeout=30)
    fetch(kept, assets[0])  # opens the connection
    kept_alive = [fetch(kept, path) for path in assets]
    kept.close()
    ratio = statistics.median(kept_alive) / statistics.median(fresh)
    assert ratio < 4, f"kept-alive {kept_alive} vs fresh {fresh}"  # with Nagle on: 40 ms against 2 ms, ~20x


def test_newcomer_saves_a_snapshot_with_the_demo_source(server, data_dir, page):
    page.goto(server.url)
    page.get_by_text("No snapshots yet").wait_for()
    page.get_by_text("Demo mode").wait_for()
    idle(page)
    page.locator(".st-key-save_snapshot button:visible").click()
    page.get_by_text("Snapshot saved").wait_for()
    value = total_value(page)
    assert re.fullmatch(r"£[\d,]+\.\d\d", value), value
    assert run_count(data_dir) == 1
    # a double click starts one capture, not two (past the guard against a click right after a start)
    page.wait_for_timeout((MIN_INTERVAL_S + 0.5) * 1000)
    page.locator(".st-key-save_snapshot button:visible").dblclick()
    deadline = time.monotonic() + 60
    while run_count(data_dir) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    idle(page)
    page.wait_for_timeout(2000)  # a second capture, had one started, would be recorded by now
    assert run_count(data_dir) == 2


def test_demo_history_fills_the_chart(server, page):
    page.goto(server.url)
    page.locator(TOTAL).wait_for()
    idle(page)
    page.locator(".st-key-load_demo_history button:visible").click()
    page.get_by_text("Demo history loaded").wait_for()
    page.locator(".st-key-value_chart .pdc svg").wait_for()
    assert page.get_by_text("Since previous day", exact=True).count() == 1  # the card, drawn once


def _chart_box(page, url):  # type: ignore[no-untyped-def]
    """Open the Overview, wait for the value chart and the app to settle, and return the chart's box on screen."""
    page.goto(f"{url}/overview")
    chart = page.locator(".st-key-value_chart .pdc svg")
    chart.wait_for()
    idle(page)
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    assert box is not None
    return box


def test_hovering_the_value_chart_shows_that_days_amounts(server, history, page):
    """Anywhere over the chart is one drawn day: its box lists the day and every line in the number style."""
    box = _chart_box(page, server.url)
    seen = []
    for fraction in (0.3, 0.7):  # two places: two different days
        page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2, steps=4)
        # the box is the hovered band's ::after, shown by CSS alone: read what the browser draws
        shown = page.evaluate("""() => {
            const band = document.querySelector('.st-key-value_chart .pdc-b span:hover');
            if (!band) return null;
            const tip = getComputedStyle(band, '::after');
            const rule = getComputedStyle(band, '::before');
            return {text: band.dataset.tip, content: tip.content, display: tip.display,
                    background: tip.backgroundColor, rule: rule.borderLeftWidth};
        }""")
        assert shown is not None, "no day under the pointer"
        assert shown["content"] not in ("none", "normal", "") and shown["display"] != "none", shown
        assert shown["background"] == "rgb(255, 255, 255)" and shown["rule"] == "1px", shown
        text = shown["text"]
        assert re.match(r"\d\d \w{3} \d{4}\n", text) and "Portfolio: £" in text and "Net money in: £" in text, text
        assert re.search(r"£[\d,]+\.\d\d", text), text
        seen.append(text)
    assert seen[0] != seen[1]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "overview-chart-hover.png"))


BOX_EDGES_JS = """() => {
    const band = document.querySelector('.st-key-value_chart .pdc-b span:hover');
    if (!band) return null;
    const b = band.getBoundingClientRect(), st = getComputedStyle(band, '::after');
    const px = (v) => parseFloat(v) || 0;
    const outer = px(st.width) + px(st.paddingLeft) + px(st.paddingRight) + px(st.borderLeftWidth)
        + px(st.borderRightWidth);
    let left = band.classList.contains('r') ? b.right - px(st.right) - outer : b.left + px(st.left);
    if (band.classList.contains('m')) left -= outer / 2;
    return {left, right: left + outer, screen: window.innerWidth, text: band.dataset.tip};
}"""


def test_a_tapped_day_on_a_phone_shows_its_box_on_screen(server, history, browser):
    """On a 390 px phone a tap is the hover: each day's box opens away from the nearer edge, or centred on the
    middle of the chart, and never runs off the screen."""
    context = browser.new_context(viewport=VIEWPORTS["phone"], has_touch=True, is_mobile=True)
    page = context.new_page()
    try:
        box = _chart_box(page, server.url)
        days = set()
        for fraction in (0.01, 0.2, 0.39, 0.41, 0.45, 0.5, 0.59, 0.61, 0.8, 0.99):
            page.touchscreen.tap(box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2)
            edges = page.evaluate(BOX_EDGES_JS)
            assert edges is not None, f"no day under a tap at {fraction}"
            assert 0 <= edges["left"] < edges["right"] <= edges["screen"], (fraction, edges)
            days.add(edges["text"].splitlines()[0])
        assert len(days) == 10
    finally:
        context.close()


def test_pages_filter_and_csv(server, history, page, tmp_path):
    page.goto(server.url)
    page.locator(TOTAL).wait_for()
    idle(page)
    all_accounts = total_value(page)
    for title in ("Positions", "Allocation", "Capital gains", "Runs", "Connections", "Instruments", "Overview"):
        page.locator('[data-testid="stSidebarNav"] a', has_text=title).click()
        page.locator("h1", has_text=title).wait_for()
        idle(page)
    # filter: one account only, in the sidebar's filter popover (its button says what the filter holds)
    popover = page.locator(".st-key-filter_popover button").first
    assert "Filter: all accounts" in popover.inner_text()
    popover.click()
    page.locator(".st-key-filter_accounts input").click()
    page.keyboard.type("Stocks")  # the combobox filters as one types
    page.get_by_role("option", name=re.compile("Demo Stocks & Shares ISA")).click()
    page.keyboard.press("Escape")
    page.get_by_text("Filtered:").first.wait_for()
    idle(page)
    assert total_value(page) != all_accounts
    assert "Filter: 1 account" in popover.inner_text()
    # the filter holds on the positions page, and the CSV has exactly its rows
    page.locator('[data-testid="stSidebarNav"] a', has_text="Positions").click()
    page.locator("h1", has_text="Positions").wait_for()
    with page.expect_download() as info:
        page.locator(".st-key-positions_csv button:visible").click()
    path = tmp_path / "positions.csv"
    info.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert {r["Account ID"] for r in rows} == {"DEMO-ISA-01"}  # the user's own file: real account ids
    assert len(rows) == 5  # four ETFs and GBP cash
    assert {"Symbol", "Quantity", "Value (GBP)", "Value (USD)", "Weight (%)"} <= set(rows[0])


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_screenshots_of_every_page(server, history, browser, viewport):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=VIEWPORTS[viewport])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        for name, path in PAGES.items():
            page.goto(f"{server.url}/{path}")
            page.locator("h1").first.wait_for()
            idle(page)
            if name in CHARTED:
                page.locator(CHARTED[name]).first.wait_for()
            page.wait_for_timeout(1000)  # let charts finish their transitions
            assert page.locator('[data-testid="stException"]').count() == 0
            shot = ARTIFACTS / f"{viewport}-{name}.png"
            page.screenshot(path=str(shot))
            assert shot.stat().st_size > 5000
    finally:
        context.close()

"""Issue 19 in a real browser (Debian's Chromium): an "ISA only" view reached from its address, the filter kept
across pages, and the Positions table's key columns on screen at 1280×800 and 390×844.

The table is drawn on a canvas, so its headers have no boxes of their own. When the grid does not scroll
sideways, every column is inside the grid's box; when it does, each key column's box is the grid's box plus
the widths of the columns before it, after checking that the widths the page asks for are the ones the
browser laid out (the grid's scroll width equals their sum).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from portfolio_dashboard.ui import positions_table
from tests.e2e.dashboard_server import CHROMIUM, CHROMIUM_ARGS, DashboardServer, embedded_url

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", ROOT / "test-artifacts")) / "screenshots"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
TOTAL = '.st-key-total-value [data-testid="stMetricValue"]'
TIMEOUT_MS = 90_000

if not Path(CHROMIUM).exists():
    pytest.skip(f"no browser: {CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardServer]:
    data_dir = tmp_path_factory.mktemp("views") / "data"
    with DashboardServer(data_dir) as srv:
        for args in (["demo", "seed", "--days", "30"], ["capture"]):
            subprocess.run([sys.executable, "-m", "portfolio_dashboard", *args], env=srv.env, check=True,
                           capture_output=True, timeout=300)
        with psycopg.connect(embedded_url(data_dir)) as conn:  # the user marks their ISA (as `accounts set` does)
            conn.execute("UPDATE broker_accounts SET wrapper = 'ISA', wrapper_source = 'user' "
                         "WHERE broker_account_id = 'DEMO-ISA-01'")
        yield srv


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def idle(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=TIMEOUT_MS)


def _open(browser, viewport: str, url: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=VIEWPORTS[viewport])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.locator("h1").first.wait_for()
    idle(page)
    return context, page


def test_isa_only_from_its_address(server, browser):
    context, page = _open(browser, "desktop", f"{server.url}/overview")
    try:
        page.locator(TOTAL).wait_for()
        everything = page.locator(TOTAL).inner_text()
    finally:
        context.close()
    context, page = _open(browser, "desktop", f"{server.url}/overview?wrapper=ISA")
    try:
        page.locator(TOTAL).wait_for()
        page.get_by_text("ISA only — change it in the sidebar").wait_for()
        isa = page.locator(TOTAL).inner_text()
        assert isa != everything
        with psycopg.connect(embedded_url(server.data_dir)) as conn:
            row = conn.execute("SELECT total_value_gbp FROM snapshots WHERE broker_account_id = 'DEMO-ISA-01' "
                               "ORDER BY asof_ts DESC LIMIT 1").fetchone()
        assert row is not None
        assert isa.strip() == f"£{row[0]:,.2f}"
        assert page.url.endswith("/overview?wrapper=ISA")
        page.locator('[data-testid="stSidebarNav"] a', has_text="Positions").click()
        page.locator("h1", has_text="Positions").wait_for()
        idle(page)
        page.wait_for_url("**/positions?wrapper=ISA")  # the view follows the user from page to page
        page.screenshot(path=str(_shot("desktop-isa-positions")))
    finally:
        context.close()


def test_the_root_address_opens_the_overview_with_its_query(server, browser):
    context, page = _open(browser, "desktop", f"{server.url}/?ccy=USD")
    try:
        page.locator(TOTAL).wait_for()
        assert page.locator(TOTAL).inner_text().strip().startswith("$")
        page.wait_for_url("**/overview?ccy=USD")
    finally:
        context.close()


def test_the_pages_ask_nothing_of_the_internet(server, browser):
    """A dashboard on a Pi without internet loses nothing: every request the browser makes, on every page, goes
    to the dashboard itself (a Material favicon once made it ask Google's font CDN on each page)."""
    context = browser.new_context(viewport=VIEWPORTS["desktop"])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith((server.url, "data:", "blob:"))
            else None)
    try:
        for path in ("overview", "positions", "allocation", "income", "returns", "runs", "connections"):
            page.goto(f"{server.url}/{path}")
            page.locator("h1").first.wait_for()
            idle(page)
        page.wait_for_load_state("networkidle")
    finally:
        context.close()
    assert outside == []


def _shot(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"


@pytest.mark.parametrize(("viewport", "key"), [("desktop", positions_table.key_columns("GBP")),
                                              ("phone", positions_table.PHONE_KEY)])
def test_no_key_column_off_screen(server, browser, viewport, key):
    context, page = _open(browser, viewport, f"{server.url}/positions")
    try:
        grid = page.locator('[data-testid="stDataFrame"]').first
        grid.wait_for()
        page.wait_for_timeout(500)  # the grid sizes its columns after its first paint
        page.screenshot(path=str(_shot(f"{viewport}-positions-columns")))
        headers = positions_table.key_columns("GBP")  # nothing else is shown by default
        # the grid keeps header cells (for screen readers) only for the columns it draws: those in view
        drawn = [str(t) for t in page.locator('[data-testid="stDataFrame"] th').all_inner_texts()]
        assert drawn == headers[:len(drawn)] and set(key) <= set(drawn), drawn
        layout = grid.evaluate("""g => { const s = g.querySelector('.dvn-scroller');
                                         return {content: s.scrollWidth, visible: s.clientWidth}; }""")
        box = grid.bounding_box()
        assert box is not None
        screen = VIEWPORTS[viewport]["width"]
        assert box["x"] >= 0 and box["x"] + layout["visible"] <= screen + 1, (box, layout)  # the grid is on screen
        if layout["content"] <= layout["visible"] + 1:
            return  # no horizontal scroll: every column, the key ones included, is inside the grid's box
        # it scrolls: the columns have the widths asked for, so each header's box is known
        widths = positions_table.WIDTHS
        assert abs(layout["content"] - sum(widths[h] for h in headers)) <= 2, layout
        right_edge = box["x"] + layout["visible"]
        x = box["x"]
        for header in headers:
            left, right = x, x + widths[header]
            if header in key:
                assert left >= 0 and right <= right_edge + 1, (viewport, header, left, right, right_edge)
            x = right
    finally:
        context.close()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_screenshots_of_the_views(server, browser, viewport):
    for name, path in (("overview", "overview"), ("positions", "positions"), ("runs", "runs")):
        context, page = _open(browser, viewport, f"{server.url}/{path}")
        try:
            if name == "overview":
                page.locator(".st-key-value_chart .pdc svg").first.wait_for()
            page.wait_for_timeout(800)
            assert page.locator('[data-testid="stException"]').count() == 0
            page.screenshot(path=str(_shot(f"{viewport}-19-{name}")), full_page=True)
        finally:
            context.close()

"""The time machine in a real browser: pick a past date in the sidebar and every page shows that day's stored
snapshots, with a badge for an account whose snapshot is older than a day at that date.

Demo history is seeded, then one account's snapshots for the last days up to the chosen date are deleted, so
at that date it holds an older snapshot. Expected figures are read straight from the database with plain SQL
(each account's newest snapshot at or before the end of the day), independently of the read models.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from portfolio_dashboard.ui import fmt
from tests.e2e.dashboard_server import CHROMIUM, CHROMIUM_ARGS, DashboardServer, embedded_url

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", ROOT / "test-artifacts")) / "screenshots"
TOTAL = '.st-key-total-value [data-testid="stMetricValue"]'
TIMEOUT_MS = 90_000
LONDON = ZoneInfo("Europe/London")
DAYS_BACK = 10  # the date picked
STALE_DAYS = 3  # how many days before it the stale account's snapshots are removed

if not Path(CHROMIUM).exists():
    pytest.skip(f"no browser: {CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

LATEST_SQL = """
SELECT s.broker, s.broker_account_id, s.id, s.asof_ts, s.total_value_gbp
FROM broker_accounts a CROSS JOIN LATERAL (
    SELECT * FROM snapshots s WHERE s.broker = a.broker AND s.broker_account_id = a.broker_account_id
      AND s.asof_ts <= %(at)s ORDER BY s.asof_ts DESC LIMIT 1) s
"""

INCOME_SQL = """
SELECT sum(amount_gbp) FILTER (WHERE flow_ts <= %(at)s), sum(amount_gbp) FROM cash_flows
WHERE kind IN ('dividend', 'payment_in_lieu', 'interest', 'withholding_tax')
"""
METRIC = '[data-testid="stMetric"]'


def metric(page, label: str) -> str:  # type: ignore[no-untyped-def]
    return str(page.locator(METRIC, has_text=label).first.locator('[data-testid="stMetricValue"]').inner_text())


@pytest.fixture(scope="module")
def server() -> Iterator[DashboardServer]:
    # Not under pytest's basetemp: it is private to root (0700), and the embedded server runs as its own user,
    # which must reach the data directory.
    parent = Path(tempfile.mkdtemp(prefix="pd-e2e-asof-"))
    parent.chmod(0o755)
    try:
        yield from _serve(parent / "data")
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def _serve(data_dir: Path) -> Iterator[DashboardServer]:
    with DashboardServer(data_dir) as srv:
        subprocess.run([sys.executable, "-m", "portfolio_dashboard", "demo", "seed", "--days", "40"],
                       env=srv.env, check=True, capture_output=True, timeout=300)
        yield srv


@pytest.fixture(scope="module")
def picked(server: DashboardServer) -> dict[str, object]:
    """The date picked, the stale account, and what each page must show at that date (from the database)."""
    day = datetime.now(LONDON).date() - timedelta(days=DAYS_BACK)
    at = datetime.combine(day, time.max, tzinfo=LONDON)
    url = embedded_url(server.data_dir)
    with psycopg.connect(url) as conn:
        broker, account = conn.execute(
            "SELECT broker, broker_account_id FROM broker_accounts ORDER BY broker_account_id LIMIT 1").fetchone()
        cut = datetime.combine(day - timedelta(days=STALE_DAYS), time.max, tzinfo=LONDON)
        conn.execute("DELETE FROM snapshots WHERE broker = %s AND broker_account_id = %s AND asof_ts > %s "
                     "AND asof_ts <= %s", (broker, account, cut, at))
        conn.commit()
        latest = conn.execute(LATEST_SQL, {"at": at}).fetchall()
        ids = [r[2] for r in latest]
        positions = conn.execute("SELECT count(*), sum(market_value_gbp) FROM positions WHERE snapshot_id = ANY(%s)",
                                 (ids,)).fetchone()
        # Income: every dividend, interest and withholding flow received by the end of that day, and in all
        income_by_then, income_all = conn.execute(INCOME_SQL, {"at": at}).fetchone()
    stale = [r for r in latest if at - r[3] > timedelta(days=1)]
    assert [(r[0], r[1]) for r in stale] == [(broker, account)]
    assert income_by_then is not None and income_by_then != income_all, "the demo pays income after the date"
    return {
        "day": day, "total": sum((Decimal(r[4]) for r in latest), Decimal(0)), "positions": positions[0],
        "positions_total": Decimal(positions[1]), "stale_label": fmt.account_label(broker, account),
        "income": Decimal(income_by_then), "income_all": Decimal(income_all),
    }


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    yield pg
    context.close()


def idle(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=TIMEOUT_MS)


def open_time_machine(page) -> None:  # type: ignore[no-untyped-def]
    """The sidebar's time machine is a popover: its fields are in the page once its button is clicked."""
    if not page.locator(".st-key-asof_pick").is_visible():
        page.locator(".st-key-asof_popover button").first.click()
    page.locator(".st-key-asof_pick").wait_for()


def choose(page, key: str, option: str) -> None:  # type: ignore[no-untyped-def]
    """Open the time machine and a select box in it, and pick an option. A click that lands while a rerun
    replaces the sidebar opens nothing, so the box is opened again until its list shows (a person would click
    again too)."""
    box = page.locator(f'.st-key-{key} button[aria-haspopup="listbox"]')  # the box's "Open" button
    wanted = page.get_by_role("option", name=option)
    for _ in range(5):
        idle(page)
        open_time_machine(page)
        box.click()
        try:
            wanted.wait_for(timeout=15_000)
        except sync_api.TimeoutError:
            page.keyboard.press("Escape")
            continue
        wanted.click()
        return
    raise AssertionError(f"the {key} list never opened to show {option!r}")


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / f"asof-{name}.png"), full_page=True)


def test_pick_a_past_date_and_every_page_shows_that_days_snapshots(server, picked, page):
    day: date = picked["day"]  # type: ignore[assignment]
    page.goto(server.url)
    page.locator(TOTAL).wait_for()
    idle(page)
    latest_total = page.locator(TOTAL).inner_text().strip()
    machine = page.locator(".st-key-asof_popover button").first  # says the moment shown while closed
    assert "Time machine: latest" in machine.inner_text()
    # the date field is a segmented field (year, month, day): type into it as a person would
    open_time_machine(page)
    segment = page.locator('.st-key-asof_date [role="spinbutton"]').first
    segment.scroll_into_view_if_needed()
    segment.click()
    page.keyboard.type(day.strftime("%Y%m%d"))
    # a click outside closes the popover and sets the date (Escape would close it and set nothing)
    page.locator("h1").first.click()
    page.get_by_text(f"As of {day:%d %b %Y} 23:59").first.wait_for()
    idle(page)
    assert page.locator(TOTAL).inner_text().strip() == fmt.money(picked["total"], "GBP")  # type: ignore[arg-type]
    assert fmt.money(picked["total"], "GBP") != latest_total  # type: ignore[arg-type]
    assert f"Time machine: {day.isoformat()}" in machine.inner_text()
    badge = page.get_by_text(f"{picked['stale_label']}: snapshot")
    badge.first.wait_for()
    assert f"snapshot {STALE_DAYS}d " in badge.first.inner_text()  # the one age style: "3d 7h ago"
    assert f"asof={day.isoformat()}" in page.url
    shot(page, "overview")

    page.locator('[data-testid="stSidebarNav"] a', has_text="Positions").click()
    page.locator("h1", has_text="Positions").wait_for()
    idle(page)
    page.get_by_text(f"{picked['positions']} position(s) · "
                     f"{fmt.money(picked['positions_total'], 'GBP')}").wait_for()  # type: ignore[arg-type]
    page.get_by_text(f"{picked['stale_label']}: snapshot").first.wait_for()
    assert f"asof={day.isoformat()}" in page.url
    shot(page, "positions")

    page.locator('[data-testid="stSidebarNav"] a', has_text="Allocation").click()
    page.locator("h1", has_text="Allocation").wait_for()
    idle(page)
    page.get_by_text(f"Total {fmt.money(picked['positions_total'], 'GBP')}").wait_for()  # type: ignore[arg-type]
    page.get_by_text(f"{picked['stale_label']}: snapshot").first.wait_for()
    shot(page, "allocation")

    # Income: only what had been received by the end of that day (a later payment is left out)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Income").click()
    page.locator("h1", has_text="Income").wait_for()
    idle(page)
    page.locator(".st-key-income_period button", has_text="All time").click()
    page.locator('.st-key-income_period button[aria-checked="true"]', has_text="All time").wait_for()  # rerun began
    idle(page)
    page.get_by_text(f"As of {day:%d %b %Y} 23:59").first.wait_for()
    # the period's rerun may still be on its way: the figure must settle on that day's income
    sync_api.expect(page.locator(METRIC, has_text="Net income").first.locator('[data-testid="stMetricValue"]')
                    ).to_have_text(fmt.money(picked["income"]), timeout=TIMEOUT_MS)  # type: ignore[arg-type]
    assert metric(page, "Net income") == fmt.money(picked["income"])  # type: ignore[arg-type]
    assert metric(page, "Net income") != fmt.money(picked["income_all"])  # type: ignore[arg-type]
    assert f"asof={day.isoformat()}" in page.url
    shot(page, "income")

    # Returns: the period ends on that day, at that day's stored total (the stale account's older snapshot in it)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Returns").click()
    page.locator("h1", has_text="Returns").wait_for()
    idle(page)
    page.locator(".st-key-returns_period button", has_text=re.compile(r"^All$")).click()
    page.locator('.st-key-returns_period button[aria-checked="true"]', has_text=re.compile(r"^All$")).wait_for()  # rerun began
    idle(page)
    page.get_by_text(f"{picked['stale_label']}: snapshot").first.wait_for()
    caption = page.get_by_text(re.compile(rf"– {day:%d %b %Y} · from .* to ")).first
    caption.wait_for()
    assert caption.inner_text().rstrip().endswith(
        f"to {fmt.money(picked['total'], 'GBP')} · in GBP")  # type: ignore[arg-type]
    assert page.locator('[data-testid="stException"]').count() == 0
    assert f"asof={day.isoformat()}" in page.url
    shot(page, "returns")


def test_a_shared_link_opens_at_its_date(server, picked, page):
    day: date = picked["day"]  # type: ignore[assignment]
    page.goto(f"{server.url}/?asof={day.isoformat()}")
    page.wait_for_url("**/overview?*")  # `/` forwards to `/overview` with its query: interact after that run
    page.get_by_text(f"As of {day:%d %b %Y} 23:59").first.wait_for()
    idle(page)
    assert page.locator(TOTAL).inner_text().strip() == fmt.money(picked["total"], "GBP")  # type: ignore[arg-type]
    # a quick pick back to the latest view clears the date and the URL
    choose(page, "asof_pick", "Latest")
    idle(page)
    page.wait_for_timeout(500)
    assert "asof=" not in page.url
    assert page.get_by_text(f"As of {day:%d %b %Y} 23:59").count() == 0


def test_a_headline_figure_links_to_its_snapshot_and_raw_response(server, picked, page):
    day: date = picked["day"]  # type: ignore[assignment]
    page.goto(f"{server.url}/?asof={day.isoformat()}")
    page.locator(TOTAL).wait_for()
    idle(page)
    href = page.get_by_role("link", name=str(picked["stale_label"])).first.get_attribute("href")
    assert href and href.startswith("/runs?snapshot=")
    page.goto(server.url + href)  # Streamlit opens markdown links in a new tab: follow it here
    page.get_by_text("Source snapshot").wait_for()
    idle(page)
    page.get_by_text("SHA-256").first.wait_for()
    assert "/runs?snapshot=" in page.url
    assert page.get_by_text(str(picked["stale_label"])).count() >= 1
    shot(page, "runs-trace")



@pytest.mark.parametrize("path", ["reconciliation", "realised"])
def test_reconciliation_and_realised_pages_render(server, picked, page, path):
    page.goto(f"{server.url}/{path}")
    page.locator("h1").first.wait_for()
    idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    shot(page, path)

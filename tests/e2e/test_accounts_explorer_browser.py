"""Setting an account's wrapper and reading the data explorer in a real browser (Playwright + Chromium)
against `portfolio-dashboard serve`; screenshots of the new pages at desktop and phone width."""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.e2e.dashboard_server import CHROMIUM, CHROMIUM_ARGS, DashboardServer, embedded_url
from tests.e2e.test_dashboard_browser import ARTIFACTS, TIMEOUT_MS, VIEWPORTS, idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not Path(CHROMIUM).exists():
    pytest.skip(f"no browser: {CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

NEW_PAGES = ("accounts", "explorer", "help")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dashboard19") / "data"


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[DashboardServer]:
    with DashboardServer(data_dir) as srv:
        subprocess.run([sys.executable, "-m", "portfolio_dashboard", "capture", "--source", "demo"], env=srv.env,
                       check=True, capture_output=True, timeout=300)
        yield srv


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


def account_row(data_dir: Path, account: str) -> tuple[str | None, str | None, str | None]:
    with psycopg.connect(embedded_url(data_dir)) as conn:
        row = conn.execute("SELECT wrapper, wrapper_source, display_name FROM broker_accounts "
                           "WHERE broker_account_id = %s", (account,)).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def choose(page, key: str, typed: str, option: re.Pattern[str]) -> None:  # type: ignore[no-untyped-def]
    page.locator(f".st-key-{key} input").click()
    page.keyboard.type(typed)  # the combobox filters as one types
    page.get_by_role("option", name=option).first.click()


def test_set_an_accounts_wrapper_in_the_browser(server, data_dir, page):
    assert account_row(data_dir, "DEMO-EU-01") == ("GIA", "broker", None)
    page.goto(f"{server.url}/accounts")
    page.locator("h1", has_text="Accounts").wait_for()
    idle(page)
    choose(page, "account_pick", "Euro", re.compile("Demo Euro Account"))
    idle(page)
    choose(page, "wrapper_demo_DEMO-EU-01", "SIPP", re.compile("^SIPP$"))
    page.locator(".st-key-name_demo_DEMO-EU-01 input").fill("Euro pension")
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("Saved: Euro pension is SIPP").wait_for()
    idle(page)
    assert account_row(data_dir, "DEMO-EU-01") == ("SIPP", "user", "Euro pension")
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.get_by_text("set by you").wait_for(state="attached")  # the grid draws on a canvas; its cells are hidden
    # a capture afterwards keeps the user's wrapper
    subprocess.run([sys.executable, "-m", "portfolio_dashboard", "capture", "--source", "demo"], env=server.env,
                   check=True, capture_output=True, timeout=300)
    assert account_row(data_dir, "DEMO-EU-01") == ("SIPP", "user", "Euro pension")


def test_explorer_in_the_browser(server, page, tmp_path):
    page.goto(f"{server.url}/explorer")
    page.locator("h1", has_text="Data explorer").wait_for()
    idle(page)
    page.get_by_text(re.compile(r"row\(s\) of snapshot_runs, newest first")).wait_for()
    choose(page, "explorer_relation", "raw_pay", re.compile("^raw_payloads"))
    page.get_by_text(re.compile(r"hidden: payload_json, .*body_text")).wait_for()
    idle(page)
    with page.expect_download() as info:
        page.locator(".st-key-explorer_csv button:visible").click()
    path = tmp_path / "raw_payloads.csv"
    info.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows
    assert "endpoint" in rows[0]
    assert not {"payload_json", "body_text", "body_bytes", "headers"} & set(rows[0])
    assert page.locator('[data-testid="stException"]').count() == 0


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_screenshots_of_the_new_pages(server, browser, viewport):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=VIEWPORTS[viewport])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        for name in NEW_PAGES:
            page.goto(f"{server.url}/{name}")
            page.locator("h1").first.wait_for()
            idle(page)
            page.wait_for_timeout(800)
            assert page.locator('[data-testid="stException"]').count() == 0
            shot = ARTIFACTS / f"{viewport}-{name}.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 5000
    finally:
        context.close()

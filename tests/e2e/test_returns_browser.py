"""The Returns page in a real browser (Playwright, Debian's Chromium) on a year of demo history: the figures,
the table, the cumulative chart and the monthly heat-map render, a benchmark can be picked, and the Overview
shows "Return (TWR)". Screenshots go to test-artifacts/screenshots/ (or $TEST_ARTIFACTS)."""

from __future__ import annotations

import re

import pytest

from tests.e2e.test_dashboard_browser import (  # noqa: F401 - pytest fixtures, shared
    ARTIFACTS,
    VIEWPORTS,
    browser,
    data_dir,
    history,
    idle,
    page,
    server,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

METRIC = '[data-testid="stMetric"]'


def test_returns_page_in_a_browser(server, history, page):  # noqa: F811
    page.goto(f"{server.url}/returns")
    page.locator("h1", has_text="Returns").wait_for()
    idle(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "desktop-returns-first.png"), full_page=True)
    page.locator(".st-key-returns_period button", has_text=re.compile(r"^1Y$")).click()
    page.locator('.st-key-returns_period button[aria-checked="true"]', has_text=re.compile(r"^1Y$")).wait_for()  # rerun began
    idle(page)
    page.locator(".st-key-returns_chart .js-plotly-plot .main-svg").first.wait_for()
    page.locator(".st-key-returns_heatmap .js-plotly-plot .main-svg").first.wait_for()
    twr = page.locator(METRIC, has_text="TWR").first.locator('[data-testid="stMetricValue"]').inner_text()
    assert re.fullmatch(r"[+−]?\d+\.\d\d%", twr.strip()), twr
    assert page.locator('[data-testid="stException"]').count() == 0
    page.wait_for_timeout(800)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "desktop-returns.png"), full_page=True)
    page.locator(".st-key-returns_heatmap").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "desktop-returns-heatmap.png"))
    page.set_viewport_size(VIEWPORTS["phone"])
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / "phone-returns.png"), full_page=True)
    page.set_viewport_size(VIEWPORTS["desktop"])
    # the Overview's headline follows the period chosen here
    page.locator('[data-testid="stSidebarNav"] a', has_text="Overview").click()
    page.locator(METRIC, has_text="Return (TWR, 1Y)").wait_for()
    idle(page)
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / "desktop-overview-return.png"))

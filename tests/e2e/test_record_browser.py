"""The coverage account and the reconciliation residual in a real browser (issue 16): a Flex statement whose
payload holds restating rows is captured against the fake Flex service into the served database; the Runs
page's Coverage tab lists every section with its skips and reasons. Screenshots go to the artifacts folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from portfolio_dashboard.bootstrap import App
from portfolio_dashboard.config import Settings
from portfolio_dashboard.domain import RunStatus, TriggerContext
from portfolio_dashboard.services.capture import capture
from tests.e2e.dashboard_server import CHROMIUM, CHROMIUM_ARGS, DashboardServer, embedded_url
from tests.e2e.test_dashboard_browser import ARTIFACTS, TIMEOUT_MS, idle
from tests.fakes.ib_flex import FakeFlex
from tests.integration.test_capture_ib_flex import QUERY, TOKEN, flex_source

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "flex"

if not Path(CHROMIUM).exists():
    pytest.skip(f"no browser: {CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashboardServer]:
    with DashboardServer(tmp_path_factory.mktemp("record") / "data") as srv:
        yield srv


def test_the_runs_page_shows_the_coverage_account(server: DashboardServer) -> None:
    settings = Settings(database_url=embedded_url(server.data_dir), portfolio_data_dir=server.data_dir)
    app = App(settings)
    app.reference_factory = lambda s: None
    try:
        with FakeFlex(token=TOKEN, query_id=QUERY, statement=(CORPUS / "cash_dash_account.xml").read_bytes()) as flex:
            result = capture(TriggerContext(sources=("ib_flex",)), app=app, sources={"ib_flex": flex_source(flex)})
    finally:
        app.dispose()
    assert result.status == RunStatus.SUCCESS, result.error_summary
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(f"{server.url}/runs")
            page.locator("h1", has_text="Runs").wait_for()
            idle(page)
            page.get_by_role("tab", name="Coverage").click()
            page.get_by_text("row(s) seen").first.wait_for()
            page.wait_for_timeout(1000)
            assert page.locator('[data-testid="stException"]').count() == 0
            page.get_by_text("Why rows were skipped").scroll_into_view_if_needed()
            assert page.get_by_text("no loss: BASE_SUMMARY sums the per-currency rows").count() >= 1
            shot = ARTIFACTS / "desktop-runs-coverage.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 5000
        finally:
            browser.close()

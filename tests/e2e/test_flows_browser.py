"""Money in and out in a real browser: the demo's deposits (stored by `demo seed` with the cash they brought)
show on the Overview as money in, never as gain, and the Income page draws. Screenshots go to
``test-artifacts/screenshots/`` like the main browser test's."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from datetime import datetime, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from sqlalchemy import create_engine

from portfolio_dashboard.domain.returns.periods import resolve_period
from portfolio_dashboard.storage.embedded import sqlalchemy_url
from portfolio_dashboard.storage.reads import portfolio as read_portfolio
from portfolio_dashboard.storage.reads.scope import Scope
from portfolio_dashboard.ui import fmt
from tests.e2e.dashboard_server import CHROMIUM, CHROMIUM_ARGS, DashboardServer, embedded_url
from tests.e2e.test_dashboard_browser import ARTIFACTS, TIMEOUT_MS, TOTAL, VIEWPORTS, idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not Path(CHROMIUM).exists():
    pytest.skip(f"no browser: {CHROMIUM} is missing (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

LONDON = ZoneInfo("Europe/London")
MONEY = r"([−+]?£[\d,]+\.\d\d)"


def _amount(text: str) -> Decimal:
    negative = text.startswith("−")
    value = Decimal(text.lstrip("−+").lstrip("£").replace(",", ""))
    return -value if negative else value


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    # not under pytest's tmp_path: another pytest session resets it to 0700, locking out the server's user
    parent = Path(tempfile.mkdtemp(prefix="pd-flows-browser-"))
    yield parent / "data"
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[DashboardServer]:
    with DashboardServer(data_dir) as srv:
        subprocess.run([sys.executable, "-m", "portfolio_dashboard", "demo", "seed", "--days", "75"], env=srv.env,
                       check=True, capture_output=True, timeout=300)
        yield srv


@pytest.fixture
def page(server: DashboardServer):  # type: ignore[no-untyped-def]
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        context = chromium.new_context(viewport=VIEWPORTS["desktop"], accept_downloads=True)
        pg = context.new_page()
        pg.set_default_timeout(TIMEOUT_MS)
        yield pg
        context.close()
        chromium.close()


def _deposits_since(data_dir: Path, start: datetime) -> tuple[Decimal, Decimal]:
    """Net deposits/withdrawals in GBP after ``start`` up to the newest snapshot, and how many deposits."""
    with psycopg.connect(embedded_url(data_dir)) as conn:
        row = conn.execute(
            """SELECT COALESCE(sum(amount_gbp), 0), count(*) FILTER (WHERE kind = 'deposit') FROM cash_flows
               WHERE kind IN ('deposit', 'withdrawal', 'transfer_in', 'transfer_out') AND flow_ts > %s
                 AND flow_ts <= (SELECT max(asof_ts) FROM snapshots)""", (start,)).fetchone()
    assert row is not None
    return Decimal(row[0]), Decimal(row[1])


def test_a_deposit_shows_as_money_in_not_as_gain(server, data_dir, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(server.url)
    page.locator(TOTAL).wait_for()
    idle(page)
    value, start_value, money_in, gain = _bridge(page, "1M")
    first, _ = resolve_period("1m", datetime.now(LONDON).date())
    expected, deposits = _deposits_since(data_dir, datetime.combine(first, time(), LONDON))
    assert deposits >= 2  # the month's deposit into each of two accounts
    assert money_in == round(expected, 2) and money_in > 0
    assert start_value > 0
    assert value == start_value + money_in + gain  # to the penny: the deposits are not in the gain
    page.locator(".st-key-value_chart .pdc svg").wait_for()  # with the invested line
    assert page.get_by_text("Something went wrong").count() == 0
    page.screenshot(path=str(_shot("overview-bridge")), full_page=True)
    # 3M reaches back before the 75 days recorded: it starts at the first snapshot, whose holdings are
    # neither money in nor gain
    value, start_value, money_in, gain = _bridge(page, "3M")
    assert start_value > 0 and abs(gain) < value / 5
    assert page.get_by_text("The records begin after the period's start").count() == 1


def test_the_daily_values_csv_is_made_on_click_with_every_day_exact(server, data_dir, page, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The Overview's download is generated when clicked (not on every visit) and holds every charted day, not
    only the ~250 the chart draws, with the stored values' exact decimals."""
    media: list[str] = []
    page.on("request", lambda request: media.append(request.url) if "/media/" in request.url else None)
    page.goto(f"{server.url}/overview")
    page.locator(TOTAL).wait_for()
    page.locator(".st-key-value_chart .pdc svg").wait_for()
    idle(page)
    assert not [url for url in media if url.endswith(".csv")]  # nothing made or fetched before the click
    with page.expect_download() as info:
        page.get_by_role("button", name="Download daily values (CSV)").click()
    assert info.value.suggested_filename == "daily-values.csv"
    path = tmp_path / "daily-values.csv"
    info.value.save_as(path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    engine = create_engine(sqlalchemy_url(embedded_url(data_dir), "portfolio"))
    try:
        with engine.connect() as conn:
            expected = read_portfolio.portfolio_series(conn, Scope(), "GBP")
    finally:
        engine.dispose()
    assert len(rows) == len(expected) >= 75
    assert [r["day"] for r in rows] == [p.day.isoformat() for p in expected]
    assert [Decimal(r["value_gbp"]) if r["value_gbp"] else None for r in rows] == [p.value_gbp for p in expected]
    assert page.get_by_text("Something went wrong").count() == 0


def _bridge(page, label: str) -> tuple[Decimal, ...]:  # type: ignore[no-untyped-def]
    bridge = page.locator(".st-key-bridge")
    before = str(bridge.inner_text())
    page.locator(".st-key-bridge_period button", has_text=label).click()
    page.locator('.st-key-bridge_period button[aria-checked="true"]', has_text=label).wait_for()
    # the click's rerun may not have begun when the page next looks idle: wait for the sentence to change
    for _ in range(300):
        idle(page)
        if str(bridge.inner_text()) != before:
            break
        page.wait_for_timeout(100)
    text = str(bridge.inner_text()).replace("\n", " ")
    match = re.search(rf"Value {MONEY} = start {MONEY} \+ money in {MONEY} \+ gain {MONEY}", text)
    assert match, text
    return tuple(_amount(g) for g in match.groups())


def test_income_page_draws_the_monthly_chart(server, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{server.url}/income")
    page.locator("h1", has_text="Income").wait_for()
    idle(page)
    page.locator(".st-key-income_period button", has_text="All time").click()
    page.locator('.st-key-income_period button[aria-checked="true"]', has_text="All time").wait_for()  # rerun began
    idle(page)
    page.locator(".st-key-income_chart .js-plotly-plot").wait_for()
    assert page.get_by_text("Withholding tax").count() >= 1
    assert page.get_by_text("Something went wrong").count() == 0
    net = page.locator('[data-testid="stMetric"]', has_text="Net income").locator('[data-testid="stMetricValue"]')
    assert re.fullmatch(r"£[\d,]+\.\d\d", str(net.inner_text()).strip())
    page.screenshot(path=str(_shot("income")), full_page=True)


def _shot(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"flows-{name}-desktop.png"


def test_money_formatting_matches_the_bridge_pattern() -> None:
    assert re.fullmatch(MONEY, fmt.money(Decimal("-1234.5"), signed=True))
    assert re.fullmatch(MONEY, fmt.money(Decimal("99"), signed=True))
